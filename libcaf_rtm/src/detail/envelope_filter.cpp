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
  key = key == 0 ? 1 : key;
  if (!insert(key))
    return true;
  order_.push_back({now, key});
  if (order_.size() > capacity_) {
    erase(order_.front().key);
    order_.pop_front();
  }
  return false;
}

void envelope_filter::expire(time_point now) {
  while (!order_.empty() && now - order_.front().at >= window_) {
    erase(order_.front().key);
    order_.pop_front();
  }
}

size_t envelope_filter::home_of(uint64_t key) const noexcept {
  // Fibonacci hashing: the top bits of the product spread any key.
  return static_cast<size_t>((key * 11400714819323198485ull) >> shift_);
}

size_t envelope_filter::find(uint64_t key) const noexcept {
  auto mask = slots_.size() - 1;
  auto i = home_of(key);
  while (slots_[i] != 0 && slots_[i] != key)
    i = (i + 1) & mask;
  return i;
}

bool envelope_filter::insert(uint64_t key) {
  if ((size_ + 1) * 2 > slots_.size())
    grow();
  auto i = find(key);
  if (slots_[i] == key)
    return false;
  slots_[i] = key;
  ++size_;
  return true;
}

void envelope_filter::erase(uint64_t key) {
  auto mask = slots_.size() - 1;
  auto hole = find(key);
  if (slots_[hole] != key)
    return;
  // Backward shift: a key further along the run moves into the hole unless
  // its probe starts after the hole (then it must stay where it is found).
  for (auto j = (hole + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    auto home = home_of(slots_[j]);
    auto stays =
        hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  --size_;
}

void envelope_filter::grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  auto size = old.empty() ? size_t{1024} : old.size() * 2;
  slots_.assign(size, 0);
  shift_ = 64;
  for (auto n = size; n > 1; n >>= 1)
    --shift_;
  for (auto key : old)
    if (key != 0)
      slots_[find(key)] = key;
}

} // namespace caf::rtm::detail
