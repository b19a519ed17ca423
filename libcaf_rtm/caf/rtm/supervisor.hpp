// The supervisor: the client's connection state machine.
//
//   idle ──connect──► connecting ──hello──► connected
//                        ▲   │                 │ close frame, EOF, dead link,
//                        │   │ failure         │ error event, migration
//                        │   ▼                 ▼
//                    reconnecting ◄─────── (immediate first retry)
//
// An attempt is auth.test (once per client) + rtm.connect (a fresh URL each
// time) + a new connection actor that must say hello. The first reconnect
// after a healthy session is immediate; failed attempts back off with full
// jitter. On `goodbye` the next session is made before the old one is broken.
// Fatal errors (invalid_auth, certificate failures, ...) stop everything and
// are reported once. Nothing here blocks: all waiting is timers and replies.

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/actors.hpp"
#include "caf/rtm/client_config.hpp"

namespace caf::rtm {

struct supervisor_state {
  static inline const char* name = "caf.rtm.supervisor";

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
    bool hello = false;
  };

  std::shared_ptr<const client_config> cfg;
  logger_ptr log;
  client_actor client;
  web_api_actor api;

  phase state = phase::idle;
  /// Known after the first successful auth.test.
  std::optional<identity> me;
  /// Every connection actor alive, by session number.
  std::map<uint64_t, session_entry> sessions;
  /// The session users send on (0: none).
  uint64_t current = 0;
  /// The session of the attempt in progress, once its actor exists (0: none).
  uint64_t pending = 0;
  bool attempt_running = false;
  /// Failed attempts in a row.
  uint32_t failures = 0;
  /// Identifies the backoff timer that may start the next attempt.
  uint64_t retry_token = 0;
  uint64_t next_session = 1;
  uint64_t sessions_up = 0;
  caf::timespan last_rtt{0};
  /// When the latest immediate (no backoff) reconnect started.
  std::optional<caf::actor_clock::time_point> last_immediate;
  caf::error fatal;
  std::minstd_rand rng;
  std::vector<caf::typed_response_promise<connected>> connect_promises;
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
};

std::string to_string(supervisor_state::phase x);

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           std::shared_ptr<const client_config> cfg, client_actor client,
           web_api_actor api);

} // namespace caf::rtm
