// The ping monitor of one connection. It pings every `interval` (the first
// ping at once) with a payload that names the session and the ping, and
// declares the link dead when a ping gets no matching pong within `timeout`,
// including when no pong ever came. A dead link is reported to the connection,
// which ends the session. Round-trip times go to the supervisor.
//
// Time comes from the actor clock, so tests can drive it deterministically.

#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "detail/interfaces.hpp"

namespace caf::rtm::detail {

struct ping_monitor_args {
  uint64_t session = 0;
  caf::timespan interval{0};
  caf::timespan timeout{0};
  /// Gets the pings to send and the verdict when pongs stop.
  ping_target_actor connection;
  /// Gets (rtt, session, round-trip time) for every matching pong.
  rtt_sink_actor rtt_sink;
  /// The number of the first ping. A monitor started again on a session
  /// numbers on from the last one's pings: a late pong to one of those must
  /// not count for a ping of its own.
  uint64_t first_ping = 1;
};

struct ping_monitor_state {
  static inline const char* name = "caf.rtm.ping_monitor";

  ping_monitor_args args;
  uint64_t next_ping = 1;
  /// Pings without a pong yet, by number.
  std::map<uint64_t, caf::actor_clock::time_point> outstanding;
  bool dead = false;
};

/// The payload of ping number `n` of session `session`.
std::string ping_payload(uint64_t session, uint64_t n);

/// Parses a ping payload; false if it is not one of ours.
bool parse_ping_payload(const std::string& payload, uint64_t& session,
                        uint64_t& n);

ping_monitor_actor::behavior_type
ping_monitor(ping_monitor_actor::stateful_pointer<ping_monitor_state> self,
             ping_monitor_args args);

} // namespace caf::rtm::detail
