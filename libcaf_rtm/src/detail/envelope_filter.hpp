// Delivers each Socket Mode event once. Slack redelivers an envelope that was
// not acked in time (after about 3 s, 1 min and 5 min), possibly on another
// connection and with a new envelope id but the same event id; the same
// envelope id has been seen again too. The filter remembers both ids of every
// envelope for `window` (longer than Slack's last retry, so that one is caught
// too) and at most `capacity` of them, oldest dropped first; memory is
// bounded by the capacity whatever the rate.
//
// Ids are remembered as 64-bit hashes (with the kind of id): small, cheap to
// look up and to rehash, so a growing table never stalls the router. Two
// different ids with the same hash within the window would be taken for one:
// about one chance in 10^9 even at the capacity.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_set>

namespace caf::rtm::detail {

class envelope_filter {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Remembers envelopes for 15 minutes: Slack's last retry comes after
  /// about 5 minutes, and a 5-minute window was seen to let it through.
  static constexpr std::chrono::minutes default_window{15};

  /// At most this many ids (envelope and event ids count one each).
  static constexpr size_t default_capacity = 200000;

  explicit envelope_filter(std::chrono::milliseconds window = default_window,
                           size_t capacity = default_capacity)
      : window_(window), capacity_(capacity) {
    // nop
  }

  /// True if an envelope with `envelope_id` or with `event_id` (if not
  /// empty) arrived within the window; remembers both either way.
  bool seen(std::string_view envelope_id, std::string_view event_id,
            time_point now);

  /// Ids remembered right now.
  size_t size() const noexcept {
    return keys_.size();
  }

private:
  struct entry {
    time_point at;
    uint64_t key;
  };

  bool check_and_add(uint64_t key, time_point now);

  void expire(time_point now);

  std::chrono::milliseconds window_;
  size_t capacity_;
  std::deque<entry> order_;
  std::unordered_set<uint64_t> keys_;
};

} // namespace caf::rtm::detail
