// The typed interfaces of the client's internal actors. Each actor's full
// interface is put together from narrow role handles: what one actor may send
// to another, and nothing more.
//
//   user ─► rtm_client ─► router ─► supervisor ─► web_api (auth.test,
//           (public        │  ▲        │             rtm.connect, ...)
//            handle)       │  │        └─spawns─► connection ◄─► ping_monitor
//                          │  │                     │  ▲
//                          │  └── inbound_batch ────┘  └── I/O layer
//                          └─► listener workers (callbacks, hooks)
//
// The public handle (`rtm_client_actor`) belongs to a small actor that only
// forwards what users may send; everything else reaches the router through
// the handles below, which never leave the client.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/web_api.hpp"
#include "detail/internal_messages.hpp"

namespace caf::rtm::detail {

// -- the connection -----------------------------------------------------------

/// What the router may send a connection: RTM message N as one text frame
/// (a message that cannot be written any more comes back as (unsent, N)); the
/// Socket Mode ack of envelope `id` with this text, written ahead of anything
/// queued (one that cannot be written any more comes back as (unsent, id)).
using frame_writer_actor = caf::typed_actor<
    caf::reacts_to<send_atom, int64_t, std::string>,
    caf::reacts_to<ack_atom, std::string /* id */, std::string /* text */>>;

/// What a ping monitor may send its connection: ping with this payload; no
/// pong came in time for the ping with this payload.
using ping_target_actor =
    caf::typed_actor<caf::reacts_to<ping_atom, std::string>,
                     caf::reacts_to<dead_link_atom, std::string>>;

/// What the I/O layer reports: handshake done; frames; a pong; message N
/// written to the socket; messages it never wrote; how many acks (frames
/// written first) it never wrote; the session is over (exactly once, after
/// everything but messages that were on their way to the I/O thread as it
/// ended); every call before drain() was handled (messages among them came
/// back unsent).
using io_sink_actor =
    caf::typed_actor<caf::reacts_to<opened_atom>, caf::reacts_to<frame_batch>,
                     caf::reacts_to<pong_atom, std::string>,
                     caf::reacts_to<written_atom, int64_t>,
                     caf::reacts_to<unsent_atom, std::vector<int64_t>>,
                     caf::reacts_to<unsent_atom, uint32_t>,
                     caf::reacts_to<closed_atom, caf::error>,
                     caf::reacts_to<drained_atom>>;

/// What may close a connection: the supervisor, with this code; the Socket
/// Mode router, with this code once it has the connection's batch N and all
/// before it (`inbound_batch::seq`): a later batch may hold envelopes whose
/// acks the router owes, so the connection then stops reading and waits for
/// the router to ask again.
using session_closer_actor =
    caf::typed_actor<caf::reacts_to<close_atom, uint16_t>,
                     caf::reacts_to<close_atom, uint16_t, uint64_t>>;

/// An actor's own timer: the time came to trim its frame pool (see
/// pool_trim.hpp).
using pool_trim_actor =
    caf::typed_actor<caf::reacts_to<timeout_atom, trim_atom>>;

/// One WebSocket session: the roles above plus its hello deadline.
using connection_actor = frame_writer_actor::extend_with<
    ping_target_actor, io_sink_actor, session_closer_actor,
    pool_trim_actor>::extend<caf::reacts_to<timeout_atom>>;

// -- the ping monitor ---------------------------------------------------------

/// What a connection tells its ping monitor: a pong with this payload.
using pong_sink_actor =
    caf::typed_actor<caf::reacts_to<pong_atom, std::string>>;

/// Pings one connection and declares the link dead when pongs stop: the pong
/// role plus its own timers (next ping; the deadline of ping N).
using ping_monitor_actor =
    pong_sink_actor::extend<caf::reacts_to<tick_atom>,
                            caf::reacts_to<timeout_atom, uint64_t>>;

// -- the supervisor -----------------------------------------------------------

/// What the router asks the supervisor.
using session_control_actor =
    caf::typed_actor<caf::replies_to<connect_atom>::with<connected>,
                     caf::replies_to<disconnect_atom>::with<caf::ok_atom>,
                     caf::replies_to<reconnect_atom, bool>::with<caf::ok_atom>,
                     caf::replies_to<close_atom>::with<caf::ok_atom>,
                     caf::replies_to<status_atom>::with<supervisor_status>>;

/// What a connection tells the supervisor: hello; the server announced the
/// end of the session.
using session_observer_actor =
    caf::typed_actor<caf::reacts_to<session_hello>,
                     caf::reacts_to<session_goodbye>>;

/// What a ping monitor tells the supervisor: a round-trip time of a session.
using rtt_sink_actor =
    caf::typed_actor<caf::reacts_to<rtt_atom, uint64_t, caf::timespan>>;

/// Owns the connection state machine: the roles above plus its backoff timer
/// (the number identifies the attempt).
using supervisor_actor =
    session_control_actor::extend_with<session_observer_actor, rtt_sink_actor>::
        extend<caf::reacts_to<retry_atom, uint64_t>>;

// -- the listener workers -----------------------------------------------------

/// A callback threw; reported to the router.
struct callback_failure {
  caf::error reason;
  std::string what;
  /// A hook threw, and the hook worker ran the `on_error` hooks on it
  /// already (or it was one of them, which must not be fed its own
  /// failure): logged, counted and told lifecycle actors, not the hooks.
  bool hooks_told = false;
};

/// One actor of the listener pool: runs callback listeners on the events (or
/// envelopes) of one batch that fall to it.
using listener_worker_actor = caf::typed_actor<
    caf::reacts_to<std::vector<event>>, caf::reacts_to<std::vector<envelope>>,
    caf::reacts_to<subscribe_atom, uint64_t, callback_listener>,
    caf::reacts_to<subscribe_atom, uint64_t, envelope_listener>,
    caf::reacts_to<subscribe_atom, uint64_t, hook_listener>,
    caf::reacts_to<raw_frames>, caf::reacts_to<error_event>,
    caf::reacts_to<fatal_event>, caf::reacts_to<disconnected>,
    caf::reacts_to<unsubscribe_atom, uint64_t>>;

// -- the router ---------------------------------------------------------------

/// What a connection hands the router: events or envelopes (the reply lets
/// the connection read on; late while callbacks lag behind: backpressure);
/// message N written to the socket; a message it could not write any more;
/// the ack of an envelope it could not write any more; how many acks of
/// session N its I/O layer dropped (queued when the socket ended); as its
/// last word, which messages never reached its I/O layer.
using batch_sink_actor =
    caf::typed_actor<caf::replies_to<inbound_batch>::with<caf::ok_atom>,
                     caf::reacts_to<written_atom, int64_t>,
                     caf::reacts_to<unsent_atom, int64_t>,
                     caf::reacts_to<unsent_atom, std::string>,
                     caf::reacts_to<unsent_atom, uint64_t, uint32_t>,
                     caf::reacts_to<session_drained>>;

/// What the supervisor tells the router: the token's identity; a session is
/// up (and the connection to send on); a session was replaced: close its
/// connection with 1000 once nothing of it is owed (Socket Mode: the acks of
/// envelopes that wait for their subscribers); no session is coming;
/// lifecycle messages.
using session_listener_actor =
    caf::typed_actor<caf::reacts_to<identity>,
                     caf::reacts_to<connected, frame_writer_actor>,
                     caf::reacts_to<close_atom, uint64_t, session_closer_actor>,
                     caf::reacts_to<sessions_idle>, caf::reacts_to<connecting>,
                     caf::reacts_to<disconnected>, caf::reacts_to<reconnecting>,
                     caf::reacts_to<error_event>, caf::reacts_to<fatal_event>>;

/// What listener workers tell the router: events done; a callback threw.
/// And the router's own check of their progress (`listener_stall_timeout`).
using worker_sink_actor =
    caf::typed_actor<caf::reacts_to<progress_atom, uint64_t>,
                     caf::reacts_to<callback_failure>,
                     caf::reacts_to<timeout_atom, progress_atom>>;

/// The RTM client's router: everything users may send (forwarded by the
/// public handle), the roles above, and its send timer.
using rtm_router_actor = rtm_client_actor::extend_with<
    batch_sink_actor, session_listener_actor, worker_sink_actor,
    pool_trim_actor>::extend<caf::reacts_to<tick_atom>>;

/// The Socket Mode client's router: everything users may send (forwarded by
/// the public handle), the roles above, the ack deadline of an envelope
/// that waits for its subscribers (its id and which wait it is) and the end
/// of `close`'s wait for them.
using socket_mode_router_actor =
    socket_mode_client_actor::extend_with<batch_sink_actor,
                                          session_listener_actor,
                                          worker_sink_actor, pool_trim_actor>::
        extend<caf::reacts_to<timeout_atom, std::string, uint64_t>,
               caf::reacts_to<timeout_atom, close_atom>>;

// -- the web-API caller -------------------------------------------------------

/// The web-API caller's full interface: the public one plus its I/O results,
/// retry timers (per call, and per method for the end of a rate limit),
/// `max_wait` deadlines and the end of its idle connections.
using web_api_core_actor = web_api_actor::extend<
    caf::reacts_to<http_result>, caf::reacts_to<retry_atom, uint64_t>,
    caf::reacts_to<retry_atom, std::string>,
    caf::reacts_to<timeout_atom, uint64_t>, caf::reacts_to<closed_atom>,
    caf::reacts_to<unstored_tokens>, caf::reacts_to<store_atom, uint64_t>>;

} // namespace caf::rtm::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::callback_failure)
