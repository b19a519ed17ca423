// The supervisor: the client's connection state machine, for either
// protocol. It keeps `target` sessions live (RTM: 1; Socket Mode: the
// configured number of connections), starting one attempt at a time.
//
//   idle ──connect──► connecting ──hello──► connected
//                        ▲   │                 │ close frame, EOF, dead link,
//                        │   │ failure         │ error event, goodbye/refresh
//                        │   ▼                 ▼
//                    reconnecting ◄─────── (first retry immediate)
//
// An attempt is auth.test (once per client, if the protocol wants the
// identity) + the protocol's URL method (a fresh single-use URL each time) + a
// new connection actor that must say hello. On goodbye or a refresh request
// the next session is made before the old one is broken. A session that ended
// after living at least `healthy_session` is replaced at once; one that died
// sooner counts as a failed attempt, so a server that says hello and drops at
// once meets a growing backoff and `max_attempts`. Fatal errors (invalid_auth,
// certificate failures, link_disabled, ...) stop everything and are reported
// once. Nothing here blocks: all waiting is timers and replies.

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/connection.hpp"
#include "detail/interfaces.hpp"
#include "detail/protocol.hpp"

namespace caf::rtm::detail {

/// Starts the actor of one session; tests replace it with a stand-in.
using connection_factory =
    std::function<connection_actor(caf::actor_system&, connection_args)>;

struct supervisor_args {
  std::shared_ptr<const client_config> cfg;
  /// How URLs are obtained and what frames mean.
  protocol_ptr proto;
  /// Sessions kept live at once.
  size_t target = 1;
  /// Gets identity, sessions and lifecycle messages.
  session_listener_actor router;
  /// Where connections hand their events.
  batch_sink_actor batch_sink;
  /// Answers auth.test (the client's identity).
  web_api_actor api;
  /// Answers the protocol's URL method (Socket Mode: with the app token).
  web_api_actor endpoint_api;
  /// Null: the real connection actor.
  connection_factory spawn_connection;
  /// Seeds the backoff jitter (0: random).
  uint32_t seed = 0;
};

struct supervisor_state {
  static inline const char* name = "caf.rtm.supervisor";

  using time_point = caf::actor_clock::time_point;

  /// Whatever ends the supervisor, no connection outlives it.
  ~supervisor_state();

  enum class phase {
    idle,
    connecting,
    connected,
    reconnecting,
    closing,
    closed,
    failed,
  };

  struct session_entry {
    connection_actor conn;
    rtm_endpoint endpoint;
    /// When the server said hello (none: not yet).
    std::optional<time_point> up_since;
    /// Announced its end (goodbye, refresh) or being replaced: no longer
    /// counts as live; closed once its successor said hello.
    bool ending = false;
    /// Announced its end while reconnecting was off: replaced, made before
    /// the break, once reconnecting is switched back on.
    bool goodbye_unanswered = false;
    /// Ended by `disconnect`: no server ends it, the client closes it (once
    /// its successor said hello, or when none is coming).
    bool disconnected = false;
    /// Said goodbye soon after hello: a failed attempt, however long it
    /// goes on delivering until its successor comes.
    bool ended_young = false;
    /// Handed to the router to close (after the acks owed on it).
    bool closing_via_router = false;
  };

  supervisor_args args;
  logger_ptr log;

  phase state = phase::idle;
  /// `auto_reconnect`, switchable at run time.
  bool auto_reconnect = true;
  /// Known after the first successful auth.test.
  std::optional<identity> me;
  /// Every connection actor alive, by session number.
  std::map<uint64_t, session_entry> sessions;
  /// The session of the attempt in progress, once its actor exists (0: none).
  uint64_t pending = 0;
  bool attempt_running = false;
  /// The Web API caller whose answer the attempt waits for (auth.test or
  /// the URL), if any. A killed caller answers no request it holds: its down
  /// message ends the wait instead.
  caf::actor_addr call_open;
  /// Failed attempts in a row, sessions that died young included: what the
  /// backoff grows with.
  uint32_t failures = 0;
  /// Those of them that came while no session delivered: what
  /// `reconnect.max_attempts` caps (failing to add a connection, or to
  /// replace one a `disconnect` ended, beside one that works is not an
  /// outage).
  uint32_t failures_down = 0;
  /// Identifies the backoff timer that may start the next attempt.
  uint64_t retry_token = 0;
  /// That timer is running: the next attempt is arranged, and whoever would
  /// arrange it again must not cut its delay short or draw a new one.
  bool retry_armed = false;
  /// When that timer fires.
  time_point retry_due;
  /// A server refused an attempt for too many connects and asked for a wait
  /// (`Retry-After`): no attempt starts before this, whatever wiped the
  /// slate since.
  std::optional<time_point> not_before;
  uint64_t next_session = 1;
  uint64_t sessions_up = 0;
  /// Since `connect`, every attempt succeeded, no session ended, and the
  /// client does not run all its connections yet: it opens the next one
  /// even with reconnecting off. Anything else is reconnecting, which
  /// `auto_reconnect` may switch off.
  bool filling = false;
  caf::timespan last_rtt{0};
  /// The latest hello's details (Socket Mode).
  hello_info last_hello;
  caf::error fatal;
  std::minstd_rand rng;
  std::vector<caf::typed_response_promise<connected>> connect_promises;
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
};

std::string to_string(supervisor_state::phase x);

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           supervisor_args args);

} // namespace caf::rtm::detail
