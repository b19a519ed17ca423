// The connection actor: one RTM WebSocket session.
//
// It opens the socket (TLS for wss://, whatever the port), turns frames into
// events (parsed once) and classifies the control frames once: hello and
// goodbye (or team migration) go to the supervisor, an `error` event ends the
// session, pongs of RTM pings go to the ping monitor. Everything else reaches
// the router in batches. It starts a ping monitor once the handshake is done
// and terminates when the session ends, with the reason as exit reason:
// connection_closed (close frame, with its code), connection_lost (EOF,
// reset), dead_link, incoming_too_large, server_error (an `error` event),
// timeout (no hello), or normally when the supervisor closed it.

#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/interfaces.hpp"

namespace caf::rtm::net {
struct net_context;
class ws_client;
} // namespace caf::rtm::net

namespace caf::rtm::detail {

class event_parser;

struct connection_args {
  uint64_t session = 0;
  /// The single-use WebSocket URL from rtm.connect.
  std::string url;
  std::shared_ptr<const client_config> cfg;
  /// Gets the events.
  batch_sink_actor router;
  /// Gets hello and goodbye.
  session_observer_actor observer;
  /// Gets the ping monitor's round-trip times.
  rtt_sink_actor rtt_sink;
};

struct connection_state {
  static inline const char* name = "caf.rtm.connection";

  /// However the actor ends, the socket ends with it.
  ~connection_state();

  connection_args args;
  logger_ptr log;
  std::shared_ptr<const net::net_context> net;
  std::shared_ptr<net::ws_client> ws;
  std::shared_ptr<event_parser> parser;
  ping_monitor_actor monitor;
  /// Event batches the router has not taken yet (reading pauses meanwhile).
  size_t held_batches = 0;
  /// The monitor gave up while a batch was held; restart it.
  bool monitor_stopped = false;
  bool hello = false;
  /// Set once this side decided to end the session; becomes the exit reason
  /// (none: closed on request, a normal exit).
  bool ending = false;
  caf::error end_reason;
  /// Ids of the ping monitor's RTM pings.
  int64_t next_monitor_ping_id;
};

connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self,
           connection_args args);

} // namespace caf::rtm::detail
