// Drops events that arrive twice while two sessions overlap. After a goodbye
// the next session is up before the old one closes, and Slack may deliver an
// event on both sockets. From the goodbye until a grace period after the old
// session ended, the filter remembers which session delivered each event (by a
// hash of its frame) and drops a copy that comes from the other session.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>

#include "caf/rtm/event.hpp"

namespace caf::rtm::detail {

class overlap_filter {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit overlap_filter(
      std::chrono::milliseconds grace = std::chrono::seconds{3},
      size_t capacity = 65536)
      : grace_(grace), capacity_(capacity) {
    // nop
  }

  /// Session `old_session` said goodbye: a second session is coming.
  void begin(uint64_t old_session) {
    // The old session of an earlier overlap ended: what it delivered says
    // nothing about this one. (Only an event that came after the grace
    // clears it otherwise, and a quiet workspace may send none.)
    if (ends_at_) {
      seen_.clear();
      order_.clear();
    }
    active_ = true;
    old_session_ = old_session;
    ends_at_.reset();
  }

  /// A session ended; if it is the old one, the overlap ends after the grace.
  void session_ended(uint64_t session, time_point now) {
    if (active_ && session == old_session_)
      ends_at_ = now + grace_;
  }

  bool active() const noexcept {
    return active_;
  }

  /// True if `ev` was already delivered by another session.
  bool duplicate(const event& ev, time_point now);

private:
  bool active_ = false;
  uint64_t old_session_ = 0;
  std::optional<time_point> ends_at_;
  std::chrono::milliseconds grace_;
  size_t capacity_;
  std::unordered_map<size_t, uint64_t> seen_;
  std::deque<size_t> order_;
};

} // namespace caf::rtm::detail
