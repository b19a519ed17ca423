// The typed interfaces of caf-rtm's actors. Users talk to `client_actor` (and
// may use `web_api_actor` on its own); the other interfaces are how the
// client's actors talk to each other.
//
//   user ──► client ──► supervisor ──► web_api (auth.test, rtm.connect)
//              ▲  │          │
//              │  │          └──spawns──► connection ◄──► ping_monitor
//              │  └──► listener workers      │
//              └───────── event_batch ───────┘

#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "caf/rtm/messages.hpp"

namespace caf::rtm {

/// Performs Slack Web API calls; retries transient failures and honours rate
/// limits without blocking other calls.
using web_api_actor = caf::typed_actor<
    caf::replies_to<auth_test_atom>::with<identity>,
    caf::replies_to<rtm_connect_atom, api_args>::with<rtm_endpoint>,
    caf::replies_to<call_atom, std::string, api_args>::with<json_object>,
    // Cancels every call in flight; replies once their sockets are closed.
    caf::replies_to<close_atom>::with<caf::ok_atom>,
    // Internal: an HTTP exchange finished; a delayed retry is due; the idle
    // keep-alive connections are closed.
    caf::reacts_to<http_result>, caf::reacts_to<retry_atom, uint64_t>,
    caf::reacts_to<closed_atom>>;

/// One WebSocket session.
using connection_actor = caf::typed_actor<
    // From the client: write message N as one text frame. A message that
    // cannot be written any more comes back as (unsent, N).
    caf::reacts_to<send_atom, int64_t, std::string>,
    // From the ping monitor: send a ping carrying this payload.
    caf::reacts_to<ping_atom, std::string>,
    // From the ping monitor: no pong in time.
    caf::reacts_to<dead_link_atom>,
    // From the supervisor: close with this code, then terminate.
    caf::reacts_to<close_atom, uint16_t>,
    // From the I/O layer: handshake done; frames; pong; session over.
    caf::reacts_to<opened_atom>, caf::reacts_to<frame_batch>,
    caf::reacts_to<pong_atom, std::string>,
    caf::reacts_to<closed_atom, caf::error>,
    // Hello did not arrive in time.
    caf::reacts_to<timeout_atom>>;

/// Pings one connection and declares the link dead when pongs stop.
using ping_monitor_actor = caf::typed_actor<
    // Time for the next ping.
    caf::reacts_to<tick_atom>,
    // The pong deadline of ping number N.
    caf::reacts_to<timeout_atom, uint64_t>,
    // A pong arrived with this payload.
    caf::reacts_to<pong_atom, std::string>>;

/// Owns the connection state machine: connects, reconnects with backoff,
/// switches sessions on goodbye, stops on fatal errors.
using supervisor_actor = caf::typed_actor<
    caf::replies_to<connect_atom>::with<connected>,
    caf::replies_to<disconnect_atom>::with<caf::ok_atom>,
    caf::replies_to<close_atom>::with<caf::ok_atom>,
    caf::replies_to<status_atom>::with<client_status>,
    // From connections: hello; goodbye or team migration (with the reason).
    caf::reacts_to<hello_atom, uint64_t>,
    caf::reacts_to<goodbye_atom, uint64_t, std::string>,
    // From ping monitors: a round-trip time of a session.
    caf::reacts_to<rtt_atom, uint64_t, caf::timespan>,
    // A backoff delay ended (the number identifies the attempt).
    caf::reacts_to<retry_atom, uint64_t>>;

/// One actor of the listener pool: runs callback listeners.
using listener_worker_actor = caf::typed_actor<
    caf::reacts_to<event>,
    caf::reacts_to<subscribe_atom, uint64_t, callback_listener>,
    caf::reacts_to<unsubscribe_atom, uint64_t>>;

/// The RTM client, as users see it.
using client_actor = caf::typed_actor<
    // Starts the client; replies once the first session said hello, or with an
    // error (fatal, or gave up, or reconnecting is off).
    caf::replies_to<connect_atom>::with<connected>,
    // Delivers events of these types ("*" = all) to the actor as `event`.
    caf::replies_to<subscribe_atom, caf::actor,
                    std::vector<std::string>>::with<caf::ok_atom>,
    // Delivers lifecycle messages (connecting, connected, ...) to the actor.
    caf::replies_to<subscribe_atom, lifecycle_atom,
                    caf::actor>::with<caf::ok_atom>,
    // Runs a callback on the listener pool; replies with a subscription id.
    caf::replies_to<subscribe_atom, callback_listener>::with<uint64_t>,
    caf::replies_to<unsubscribe_atom, caf::actor>::with<caf::ok_atom>,
    caf::replies_to<unsubscribe_atom, uint64_t>::with<caf::ok_atom>,
    // Sends a message (the client sets `id`); replies with Slack's ack.
    caf::replies_to<send_atom, json_object>::with<send_ack>,
    // Sends a typing indicator for a channel; false if one went out < 3 s ago.
    caf::replies_to<typing_atom, std::string>::with<bool>,
    // RTM-level ping; replies with the round-trip time.
    caf::replies_to<ping_atom>::with<caf::timespan>,
    // Any Web API method through the client's web-API caller.
    caf::replies_to<call_atom, std::string, api_args>::with<json_object>,
    // Ends the current session (a new one follows with auto-reconnect).
    caf::replies_to<disconnect_atom>::with<caf::ok_atom>,
    // Stops for good; replies when every actor and socket is gone.
    caf::replies_to<close_atom>::with<caf::ok_atom>,
    caf::replies_to<status_atom>::with<client_status>,
    // Internal: events from connections; the reply lets the connection read
    // on (late while callbacks lag behind: backpressure).
    caf::replies_to<event_batch>::with<caf::ok_atom>,
    // Internal: a message the connection could not write any more; events
    // the listener workers are done with.
    caf::reacts_to<unsent_atom, int64_t>,
    caf::reacts_to<progress_atom, uint64_t>,
    // Internal, from the supervisor: own identity; the session to send on.
    caf::reacts_to<identity>,
    caf::reacts_to<session_atom, connected, connection_actor>,
    // Internal: lifecycle from the supervisor, errors from listener workers.
    caf::reacts_to<connecting>, caf::reacts_to<disconnected>,
    caf::reacts_to<reconnecting>, caf::reacts_to<error_event>,
    caf::reacts_to<fatal_event>,
    // Internal: the send rate limiter; the ack timeout of message N.
    caf::reacts_to<tick_atom>, caf::reacts_to<timeout_atom, int64_t>>;

} // namespace caf::rtm
