#include "detail/envelope_filter.hpp"

namespace caf::rtm::detail {

namespace {

// FNV-1a, 64 bit, seeded with the kind of id: an envelope id and an event id
// that happen to be equal stay different keys.
uint64_t key_of(char kind, std::string_view id) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  mix(static_cast<unsigned char>(kind));
  for (auto c : id)
    mix(static_cast<unsigned char>(c));
  return h;
}

} // namespace

bool envelope_filter::seen(std::string_view envelope_id,
                           std::string_view event_id, time_point now) {
  expire(now);
  // Both are checked and both remembered: a retry with a new envelope id
  // must make the next copy of either id a duplicate too.
  auto dup = check_and_add(key_of('e', envelope_id), now);
  if (!event_id.empty())
    dup = check_and_add(key_of('v', event_id), now) || dup;
  return dup;
}

bool envelope_filter::check_and_add(uint64_t key, time_point now) {
  if (!keys_.insert(key).second)
    return true;
  order_.push_back({now, key});
  if (order_.size() > capacity_) {
    keys_.erase(order_.front().key);
    order_.pop_front();
  }
  return false;
}

void envelope_filter::expire(time_point now) {
  while (!order_.empty() && now - order_.front().at >= window_) {
    keys_.erase(order_.front().key);
    order_.pop_front();
  }
}

} // namespace caf::rtm::detail
