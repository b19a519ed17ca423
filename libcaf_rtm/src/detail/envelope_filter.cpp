#include "detail/envelope_filter.hpp"

namespace caf::rtm::detail {

bool envelope_filter::seen(std::string_view envelope_id,
                           std::string_view event_id, time_point now) {
  expire(now);
  // Both are checked and both remembered: a retry with a new envelope id
  // must make the next copy of either id a duplicate too.
  std::string envelope_key{"e:"};
  envelope_key += envelope_id;
  auto dup = check_and_add(std::move(envelope_key), now);
  if (!event_id.empty()) {
    std::string event_key{"v:"};
    event_key += event_id;
    dup = check_and_add(std::move(event_key), now) || dup;
  }
  return dup;
}

bool envelope_filter::check_and_add(std::string key, time_point now) {
  if (keys_.count(key) > 0)
    return true;
  keys_.insert(key);
  order_.push_back({now, std::move(key)});
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
