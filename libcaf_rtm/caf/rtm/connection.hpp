// The connection actor: one RTM WebSocket session.
//
// It opens the socket (TLS for wss://, whatever the port), turns frames into
// events (parsed once), hands them to the client in batches, tells the
// supervisor about hello, goodbye and team migrations, and starts a ping
// monitor once the handshake is done. It terminates when the session ends,
// with the reason as exit reason: connection_closed (close frame, with its
// code), connection_lost (EOF, reset), dead_link, message_too_big,
// server_error (an `error` event), timeout (no hello), or normally when the
// supervisor closed it.

#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/actors.hpp"
#include "caf/rtm/client_config.hpp"

namespace caf::rtm {

namespace net {
struct net_context;
class ws_client;
} // namespace net

class event_parser;

struct connection_args {
  uint64_t session = 0;
  /// The single-use WebSocket URL from rtm.connect.
  std::string url;
  std::shared_ptr<const client_config> cfg;
  client_actor client;
  supervisor_actor supervisor;
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
  /// Event batches the client has not taken yet (reading pauses meanwhile).
  size_t held_batches = 0;
  /// The monitor gave up while a batch was held; restart it.
  bool monitor_stopped = false;
  bool hello = false;
  /// Set once this side decided to end the session; becomes the exit reason
  /// (none: closed on request, a normal exit).
  bool ending = false;
  caf::error end_reason;
  /// Ids of RTM-level pings of the ping monitor, far above the client's ids.
  int64_t next_rtm_ping_id = int64_t{1} << 40;
};

connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self,
           connection_args args);

} // namespace caf::rtm
