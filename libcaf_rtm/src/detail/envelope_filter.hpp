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
// about one chance in 10^9 even at the capacity. The hashes sit in one flat
// table (open addressing, linear probing): every envelope checks two ids, and
// a table of nodes cost a cache miss and an allocation per id, a quarter of
// the time of the actor that reads the envelopes.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

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

  /// How many envelopes ahead a caller checking a batch prefetches.
  static constexpr size_t prefetch_distance = 8;

  /// The two ids of an envelope as the filter remembers them.
  struct keys {
    uint64_t envelope = 0;
    /// 0: the envelope has no event id.
    uint64_t event = 0;
  };

  static keys keys_of(std::string_view envelope_id,
                      std::string_view event_id) noexcept;

  /// True if an envelope with `envelope_id` or with `event_id` (if not
  /// empty) arrived within the window; remembers both either way.
  bool seen(std::string_view envelope_id, std::string_view event_id,
            time_point now) {
    return seen(keys_of(envelope_id, event_id), now);
  }

  bool seen(const keys& k, time_point now);

  /// Forgets both ids of an envelope `seen` remembered, so that its next copy
  /// is new again: an envelope left unacked for Slack to send again. A copy
  /// that comes is remembered until the window of the first one ends, which
  /// still covers Slack's retries (they count from the first delivery).
  void forget(const keys& k);

  /// Starts loading the table slots where `k` will be looked for. The table
  /// is megabytes at the capacity: each lookup, and each eviction of the
  /// oldest id, waits for memory unless it was asked for a few envelopes
  /// earlier (`prefetch_distance`).
  void prefetch(const keys& k) const noexcept;

  /// Ids remembered right now.
  size_t size() const noexcept {
    return size_;
  }

  /// Ids dropped at the capacity before their window ended: a copy of such
  /// an envelope that Slack sends later passes as new.
  uint64_t evicted() const noexcept {
    return evicted_;
  }

private:
  struct entry {
    time_point at;
    uint64_t key;
  };

  bool check_and_add(uint64_t key, time_point now);

  void prefetch_slot(uint64_t key) const noexcept;

  void expire(time_point now);

  // -- the set of remembered keys
  // ----------------------------------------------

  /// Adds `key`; false if it was there already.
  bool insert(uint64_t key);

  /// Removes `key`, if it is there; whether it was.
  bool erase(uint64_t key);

  /// Where the probe for `key` starts.
  size_t home_of(uint64_t key) const noexcept;

  /// The slot holding `key`, or the empty slot where it would go.
  size_t find(uint64_t key) const noexcept;

  /// Doubles the table.
  void grow();

  std::chrono::milliseconds window_;
  size_t capacity_;
  /// Keys in the order they came, for expiry and the capacity.
  std::deque<entry> order_;
  /// 0 marks an empty slot (a key 0 is stored as 1). At most half full.
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
  uint64_t evicted_ = 0;
  /// 64 minus log2 of the table size.
  unsigned shift_ = 64;
};

} // namespace caf::rtm::detail
