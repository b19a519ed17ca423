// The connection actor: one WebSocket session, RTM or Socket Mode.
//
// It opens the socket (TLS for wss://, whatever the port) and hands each
// batch of frames to its protocol part, which parses them once, acts on the
// control frames through the connection (hello and goodbye go to the
// supervisor, a fatal frame ends the session, Socket Mode acks go out first)
// and leaves the rest for the router, which gets them in batches. It starts a
// ping monitor once the handshake is done and terminates when the session
// ends, with the reason as exit reason: connection_closed (close frame, with
// its code), connection_lost (EOF, reset), dead_link, incoming_too_large,
// server_error (an RTM `error` event), slack_error (a Socket Mode disconnect
// such as link_disabled), timeout (no hello), or normally when the supervisor
// closed it.

#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/frame_parser.hpp"
#include "detail/interfaces.hpp"
#include "detail/pool_trim.hpp"
#include "detail/protocol.hpp"
#include "net/text_frames.hpp"

namespace caf::rtm::net {
struct net_context;
class ws_client;
} // namespace caf::rtm::net

namespace caf::rtm::detail {

struct connection_args {
  uint64_t session = 0;
  /// The single-use WebSocket URL from rtm.connect.
  std::string url;
  std::shared_ptr<const client_config> cfg;
  /// What the frames mean.
  protocol_ptr proto;
  /// Gets the events or envelopes.
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
  std::unique_ptr<frame_parser> parser;
  /// How the protocol part acts on the session.
  std::unique_ptr<session_context> context;
  ping_monitor_actor monitor;
  /// The number after the highest of the session's pings so far: where a
  /// new monitor starts (no two pings of the session share a payload).
  uint64_t next_ping_number = 1;
  /// The number of the newest ping of the session whose pong came: a
  /// monitor's verdict on an older ping crossed it (its pong waited in this
  /// actor's mailbox while the monitor's timer fired).
  uint64_t newest_pong = 0;
  /// Bytes of the batches the router has not taken yet.
  size_t held_bytes = 0;
  /// Batches sent to the router and not answered yet.
  size_t held_batches = 0;
  /// The I/O layer waits for the credit of its latest batch: reading is
  /// paused (backpressure from the router).
  bool io_paused = false;
  /// The monitor gave up while a batch was held; restart it.
  bool monitor_stopped = false;
  /// Since when reading is paused (while `io_paused` lasts beyond the
  /// arrival of a batch), and how long it was paused before in all.
  std::optional<caf::actor_clock::time_point> paused_since;
  caf::timespan paused_total{0};
  /// For each of the current monitor's latest pings: its payload, and the
  /// time reading had been paused in all when it went out. A pong
  /// read late because reading was paused for much of its wait tells of a
  /// slow consumer, not of a dead link.
  struct ping_mark {
    std::string payload;
    caf::timespan paused_before;
  };
  std::deque<ping_mark> ping_marks;
  bool hello = false;
  /// While a batch is parsed: the frames the protocol writes first (acks),
  /// handed to the I/O layer together once the batch is done.
  std::optional<net::text_frames> first_frames;
  /// Set once this side decided to end the session; becomes the exit reason
  /// (none: closed on request, a normal exit).
  bool ending = false;
  caf::error end_reason;
  /// The I/O layer reported closed; the actor ends once it is drained.
  bool io_closed = false;
  caf::error closed_reason;
  /// Batches handed to the router so far (the latest one's `seq`).
  uint64_t batches_sent = 0;
  /// When the parser's pool gives back what a burst left in it.
  pool_trim trim;
  /// The router asked to close before it had every batch: reading stopped,
  /// it asks again.
  bool close_deferred = false;
  /// The id of the latest message handed to the I/O layer.
  int64_t last_handed = 0;
  /// Socket Mode acks taken from the router.
  uint64_t acks_taken = 0;
  /// Ids of the ping monitor's JSON pings (RTM).
  int64_t next_monitor_ping_id;
};

connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self,
           connection_args args);

} // namespace caf::rtm::detail
