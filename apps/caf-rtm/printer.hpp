// Prints the events (RTM) or envelopes (Socket Mode) that the caf-rtm tool
// shows, from the client's listener pool instead of an actor's mailbox. When
// stdout is a pipe whose reader falls behind, the write blocks; that holds the
// pool, and a pool with a full backlog makes the client stop reading the
// socket. So a slow reader slows the socket down, and memory stays bounded by
// the client's callback backlog instead of growing with the flood.

#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/event.hpp"

namespace caf::rtm::cli {

/// One JSON line of an event or envelope: the frame as received when it is one
/// line already (Slack sends compact JSON), else serialized again.
std::string line_of(const event& x);
std::string line_of(const envelope& x);

class printer {
public:
  /// Prints what matches `events`; after `count` lines (0: no limit) no more.
  printer(std::vector<std::string> events, uint64_t count);

  /// The actor that flushes (`flush_atom`) and ends the program once `count`
  /// lines are out (`enough_atom`). Set before the first `print`.
  void notify(caf::actor driver);

  /// Runs on a listener worker (one at a time: the tool runs one worker, so
  /// lines keep the wire order).
  void print(const event& x);
  void print(const envelope& x);

  /// Writes what stdout buffers; false once a write failed (the reader went
  /// away).
  bool flush();

  /// Lines printed so far.
  uint64_t printed() const noexcept;

private:
  template <class T>
  void print_matching(const T& x);

  void print_line(std::string_view line);

  std::vector<std::string> events_;
  uint64_t count_;
  caf::actor driver_;
  std::atomic<uint64_t> printed_{0};
  std::atomic<bool> flush_pending_{false};
  std::atomic<bool> failed_{false};
};

} // namespace caf::rtm::cli
