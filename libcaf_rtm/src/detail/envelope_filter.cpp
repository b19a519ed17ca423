#include "detail/envelope_filter.hpp"

namespace caf::rtm::detail {

namespace {

// FNV-1a, 64 bit, seeded with the kind of id: an envelope id and an event id
// that happen to be equal stay different keys. Never 0 (an empty slot).
uint64_t key_of(char kind, std::string_view id) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  mix(static_cast<unsigned char>(kind));
  for (auto c : id)
    mix(static_cast<unsigned char>(c));
  return h == 0 ? 1 : h;
}

} // namespace

envelope_filter::keys
envelope_filter::keys_of(std::string_view envelope_id,
                         std::string_view event_id) noexcept {
  keys result;
  result.envelope = key_of('e', envelope_id);
  if (!event_id.empty())
    result.event = key_of('v', event_id);
  return result;
}

bool envelope_filter::seen(const keys& k, time_point now) {
  expire(now);
  // Both are checked and both remembered: a retry with a new envelope id
  // must make the next copy of either id a duplicate too.
  auto dup = check_and_add(k.envelope, now);
  if (k.event != 0)
    dup = check_and_add(k.event, now) || dup;
  return dup;
}

void envelope_filter::forget(const keys& k) {
  if (slots_.empty())
    return;
  // Their entries in `order_` stay: expiring a key that is gone (or that a
  // later copy added again) is harmless.
  erase(k.envelope);
  if (k.event != 0)
    erase(k.event);
}

void envelope_filter::prefetch(const keys& k) const noexcept {
  if (slots_.empty())
    return;
  prefetch_slot(k.envelope);
  if (k.event != 0)
    prefetch_slot(k.event);
  // At the capacity, each id added evicts the oldest: those evicted when the
  // envelope `prefetch_distance` ahead is checked (two ids per envelope).
  auto ahead = 2 * prefetch_distance;
  if (order_.size() + ahead >= capacity_ && order_.size() > ahead + 1) {
    prefetch_slot(order_[ahead].key);
    prefetch_slot(order_[ahead + 1].key);
  }
}

void envelope_filter::prefetch_slot(uint64_t key) const noexcept {
  __builtin_prefetch(slots_.data() + home_of(key));
}

bool envelope_filter::check_and_add(uint64_t key, time_point now) {
  if (!insert(key))
    return true;
  order_.push_back({now, key});
  if (order_.size() > capacity_) {
    // Not expired (expire ran first): dropped young. An entry whose key was
    // forgotten already drops nothing.
    if (erase(order_.front().key))
      ++evicted_;
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

bool envelope_filter::erase(uint64_t key) {
  auto mask = slots_.size() - 1;
  auto hole = find(key);
  if (slots_[hole] != key)
    return false;
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
  return true;
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
