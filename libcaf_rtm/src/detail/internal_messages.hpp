// The messages the client's own actors exchange. None of them is registered
// with CAF (they never cross the network), and users never see them: the
// public handles do not accept them.

#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/type_ids.hpp"
#include "caf/rtm/web_api_actor.hpp"

// Internal atoms (the public ones are in type_ids.hpp).
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, ack_atom, "ack")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, closed_atom, "closed")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, dead_link_atom, "dead_link")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, drained_atom, "drained")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, opened_atom, "opened")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, pong_atom, "pong")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, progress_atom, "progress")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, retry_atom, "retry")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, rtt_atom, "rtt")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, tick_atom, "tick")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, timeout_atom, "timeout")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, trim_atom, "trim")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, unsent_atom, "unsent")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, written_atom, "written")
CAF_ADD_ATOM(caf_rtm, caf::rtm::detail, store_atom, "store")

namespace caf::rtm::detail {

/// Text frames read by the I/O layer, handed to the connection actor: the
/// frames back to back in one buffer (one allocation per batch, not per
/// frame) and the size of each.
struct frame_batch {
  std::string bytes;
  std::vector<uint32_t> sizes;
  uint32_t binary = 0;
  /// When the I/O layer read each text frame (a batch may gather frames for
  /// seconds while the one before it waits): Socket Mode's ack deadlines and
  /// ack latencies count from there. Empty unless the protocol asked for it
  /// (`times_frames`).
  std::vector<std::chrono::steady_clock::time_point> read_at;

  bool empty() const noexcept {
    return sizes.empty() && binary == 0;
  }
};

/// What the connection made of the frames of one batch, for the router:
/// events (RTM) or envelopes (Socket Mode), plus the frames it dropped and
/// the acks it sent since its previous batch.
struct inbound_batch {
  uint64_t session = 0;
  /// The connection's count of batches, this one included (from 1).
  uint64_t seq = 0;
  std::vector<event> events;
  std::vector<envelope> envelopes;
  uint32_t malformed = 0;
  uint32_t not_object = 0;
  uint32_t binary = 0;
  /// JSON objects that are neither control frames nor envelopes.
  uint32_t unknown = 0;
  /// The text of frames that are no event or envelope of this batch
  /// (malformed, consumed as control frames, unknown), each with the number
  /// of events or envelopes before it: raw-frame hooks see every frame in
  /// order.
  std::vector<std::pair<uint32_t, std::string>> other_frames;
  /// Envelopes acked on receipt, and how long those acks took at most and in
  /// sum (from the I/O layer reading the frame to writing the ack).
  uint32_t acked = 0;
  caf::timespan ack_latency_max{0};
  caf::timespan ack_latency_sum{0};
  /// Envelopes whose ack on receipt could not be written: the connection had
  /// already begun to close (a WebSocket sends nothing after its close
  /// frame).
  uint32_t acks_unwritten = 0;
  /// The connection was closing when it handed this batch over: nothing can
  /// be written on it any more, acks included.
  bool closing = false;
  /// The server announced the end of this session (goodbye, team migration,
  /// refresh) in this batch: new sends wait for the next session, and events
  /// both sessions deliver are dropped once.
  bool session_ending = false;
};

/// What a hello says (Socket Mode fills it; RTM's hello has nothing).
struct hello_info {
  /// Connections Slack counts for the app, this one included.
  uint32_t num_connections = 0;
  /// When Slack will refresh the connection, from now.
  caf::timespan approximate_connection_time{0};
  std::string app_id;
};

/// The connection saw the server's hello: the session is live.
struct session_hello {
  uint64_t session = 0;
  hello_info info;
};

/// The server announced that a live session goes away (goodbye, team
/// migration, refresh): the supervisor makes the next session before breaking
/// this one.
struct session_goodbye {
  uint64_t session = 0;
  std::string reason;
};

/// No session is live and none is coming (reconnecting is off): what waits
/// for a session must fail now, with `reason`.
struct sessions_idle {
  caf::error reason;
  /// Set: this session said goodbye and nothing replaces it; it writes no
  /// more, though it still delivers until the server ends it.
  uint64_t goodbye_session = 0;
};

/// What the supervisor answers the router's status request with.
struct supervisor_status {
  /// idle, connecting, connected, reconnecting, closing, closed or failed.
  std::string state;
  /// The newest live session (0: none).
  uint64_t session = 0;
  /// Sessions that reached hello, and those live now.
  uint64_t sessions_up = 0;
  uint64_t live = 0;
  bool auto_reconnect = true;
  caf::timespan last_rtt{0};
  /// The latest hello's details (Socket Mode).
  hello_info hello;
};

/// A connection ended: the messages of its session up to id `last_handed`
/// reached its I/O layer (those never written came back as unsent before
/// this), any later one never did (it was still in the connection's mailbox,
/// or came after the I/O layer ended). The router sends those again.
struct session_drained {
  uint64_t session = 0;
  int64_t last_handed = 0;
  /// Socket Mode acks the connection took from the router (written, or
  /// handed back unsent): one sent to it later was lost with the actor.
  uint64_t acks_taken = 0;
};

/// Frame texts for the raw-frame hooks, in wire order.
struct raw_frames {
  std::vector<std::string> texts;
};

/// The outcome of one HTTP exchange of the Web API caller.
struct http_result {
  uint64_t request_id = 0;
  /// Set when no HTTP response arrived (connect, TLS, timeout, ...).
  caf::error error;
  /// The whole request went out before the failure (it may have reached
  /// Slack).
  bool sent = false;
  uint16_t status = 0;
  std::string retry_after;
  std::string body;
};

/// A refresh's tokens that the I/O thread could not write to the token file
/// (a full disk, say): the only copy of the new refresh token is in the
/// process now.
struct unstored_tokens {
  token_rotated tokens;
  caf::error reason;
};

} // namespace caf::rtm::detail

// Local messages only: never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::frame_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::inbound_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::session_hello)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::session_goodbye)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::sessions_idle)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::session_drained)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::supervisor_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::http_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::unstored_tokens)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::detail::raw_frames)
