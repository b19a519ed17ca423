// The messages users see besides events: Web API results, send acks,
// lifecycle messages and the status snapshot. Every type here has an `inspect`
// overload and a type ID (type_ids.hpp), so it can cross CAF's network layer.

#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/event.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/type_ids.hpp"

namespace caf::rtm {

// -- Web API results ----------------------------------------------------------

/// Who the token belongs to (`auth.test`). `bot_id` is empty for user
/// tokens, `enterprise_id` outside Enterprise Grid.
struct identity {
  std::string user_id;
  std::string user;
  std::string team_id;
  std::string team;
  std::string bot_id;
  std::string url;
  std::string enterprise_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, identity& x) {
  return f(caf::meta::type_name("caf::rtm::identity"), x.user_id, x.user,
           x.team_id, x.team, x.bot_id, x.url, x.enterprise_id);
}

/// What `rtm.connect` answers: a fresh, single-use WebSocket URL and who it is
/// for.
struct rtm_endpoint {
  std::string url;
  std::string self_id;
  std::string self_name;
  std::string team_id;
  std::string team_name;
  std::string team_domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rtm_endpoint& x) {
  return f(caf::meta::type_name("caf::rtm::rtm_endpoint"), x.url, x.self_id,
           x.self_name, x.team_id, x.team_name, x.team_domain);
}

// -- sending ------------------------------------------------------------------

/// Slack's answer to a message sent over RTM.
struct send_ack {
  /// The `id` the client gave the message.
  int64_t id = 0;
  /// Timestamp of the posted message.
  std::string ts;
  /// The text as Slack echoed it.
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_ack& x) {
  return f(caf::meta::type_name("caf::rtm::send_ack"), x.id, x.ts, x.text);
}

// -- lifecycle (for subscribers that ask for it) ------------------------------

/// A connection attempt starts (1 for the first attempt in a row).
struct connecting {
  uint32_t attempt = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connecting& x) {
  return f(caf::meta::type_name("caf::rtm::connecting"), x.attempt);
}

/// A session is up: the server said hello.
struct connected {
  uint64_t session = 0;
  /// Who the session is for, as `rtm.connect` said (Socket Mode: empty). The
  /// URL is left out: it was a single-use credential.
  rtm_endpoint endpoint;
  /// Socket Mode's hello: the connections Slack counts for the app (more than
  /// the client runs means stale sockets eat the limit of 10), when Slack
  /// will refresh this one, and the app. Zero and empty for RTM.
  uint32_t num_connections = 0;
  caf::timespan approximate_connection_time{0};
  std::string app_id;
  /// Who the client is (`auth.test`): user id, bot id, team, enterprise.
  /// Empty for Socket Mode without a bot token or a shared `api` caller.
  identity self;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connected& x) {
  return f(caf::meta::type_name("caf::rtm::connected"), x.session, x.endpoint,
           x.num_connections, x.approximate_connection_time, x.app_id, x.self);
}

/// A session ended. `close_code` is the WebSocket close code (0 if none).
struct disconnected {
  uint64_t session = 0;
  caf::error cause;
  uint16_t close_code = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, disconnected& x) {
  return f(caf::meta::type_name("caf::rtm::disconnected"), x.session, x.cause,
           x.close_code);
}

/// The next connection attempt starts after `delay`.
struct reconnecting {
  uint32_t attempt = 0;
  caf::timespan delay{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reconnecting& x) {
  return f(caf::meta::type_name("caf::rtm::reconnecting"), x.attempt, x.delay);
}

/// Something went wrong but the client goes on (a failed attempt, a dropped
/// frame, a listener that threw, a rate limit its Web API calls ran into, a
/// failed refresh of its rotated token).
struct error_event {
  caf::error reason;
  std::string what;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, error_event& x) {
  return f(caf::meta::type_name("caf::rtm::error_event"), x.reason, x.what);
}

/// The client stopped for good (e.g. `invalid_auth`); reported once.
struct fatal_event {
  caf::error reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fatal_event& x) {
  return f(caf::meta::type_name("caf::rtm::fatal_event"), x.reason);
}

// -- status -------------------------------------------------------------------

/// A snapshot of the client's state and counters. For a Socket Mode client
/// the event counters count envelopes.
struct client_status {
  /// idle, connecting, connected, reconnecting, closing, closed or failed.
  std::string state;
  /// A session is live right now (the seed's `is_connected()`).
  bool connected = false;
  /// Whether a session that ends is replaced (see `reconnect_atom`).
  bool auto_reconnect = true;
  /// Number of the newest live session (0: none).
  uint64_t session = 0;
  /// Sessions that reached hello.
  uint64_t sessions = 0;
  /// Sessions live right now (Socket Mode may run several).
  uint64_t connections = 0;
  uint64_t events_received = 0;
  /// Events that passed the duplicate and own-event filters and went to the
  /// subscribers (if any); Socket Mode: not those left to Slack
  /// (`envelopes_unclaimed`).
  uint64_t events_delivered = 0;
  uint64_t events_own_skipped = 0;
  uint64_t events_duplicate = 0;
  uint64_t frames_malformed = 0;
  uint64_t frames_not_object = 0;
  uint64_t frames_binary = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_acked = 0;
  uint64_t messages_failed = 0;
  uint64_t send_queue = 0;
  uint64_t awaiting_ack = 0;
  uint64_t listener_errors = 0;
  /// Events (and calls of hooks) handed to the listener workers and not yet
  /// done.
  uint64_t callback_backlog = 0;
  /// Batches of frames the client holds back until the callbacks catch up
  /// (more than `callback_backlog` wait): an RTM connection reads nothing
  /// meanwhile, a Socket Mode connection that acks on receipt reads on until
  /// 16 MB wait.
  uint64_t batches_held = 0;
  /// Listener workers found stuck (`listener_stall_timeout`), once per stall.
  uint64_t listener_stalls = 0;
  /// Round-trip time of the latest ping (0 before the first pong).
  caf::timespan last_rtt{0};
  // -- Socket Mode ------------------------------------------------------------
  /// JSON frames that are neither control frames nor envelopes.
  uint64_t frames_unknown = 0;
  /// Acks written, on receipt or with a response payload.
  uint64_t envelopes_acked = 0;
  /// Envelopes acked empty at `ack_deadline` because their subscribers had
  /// not answered: those that accept a response payload, and with
  /// `ack_after_delivery` those a subscriber took (not those left to Slack).
  uint64_t acks_late = 0;
  /// Acks that could not be written (their connection was gone).
  uint64_t acks_failed = 0;
  /// Envelopes no subscriber took, left unacked for Slack to send again
  /// (`redeliver_unclaimed`).
  uint64_t envelopes_unclaimed = 0;
  /// Ids the duplicate filter dropped at its capacity (200,000 envelope and
  /// event ids) before their 15 minutes were up: above about 330
  /// `events_api` envelopes/s sustained (two ids each), Slack's retry after
  /// 5 minutes may pass as a second delivery.
  uint64_t duplicate_ids_evicted = 0;
  /// Ack latency of the acks written on receipt, from reading the frame to
  /// writing the ack: mean and max (acks that wait for subscribers are not
  /// timed).
  caf::timespan ack_latency_mean{0};
  caf::timespan ack_latency_max{0};
  /// What Slack counted at the latest hello (more than `connections` means
  /// stale sockets), and the app.
  uint64_t num_connections = 0;
  std::string app_id;
  // -- subscriptions ----------------------------------------------------------
  /// Actors subscribed to events (envelopes), and to lifecycle messages. A
  /// subscriber that terminates, or whose node goes away, leaves both counts
  /// once its down message arrived.
  uint64_t subscribers = 0;
  uint64_t lifecycle_subscribers = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_status& x) {
  return f(caf::meta::type_name("caf::rtm::client_status"), x.state,
           x.connected, x.auto_reconnect, x.session, x.sessions,
           x.events_received, x.events_delivered, x.events_own_skipped,
           x.events_duplicate, x.frames_malformed, x.frames_not_object,
           x.frames_binary, x.messages_sent, x.messages_acked,
           x.messages_failed, x.send_queue, x.awaiting_ack, x.listener_errors,
           x.last_rtt, x.connections, x.frames_unknown, x.envelopes_acked,
           x.acks_late, x.acks_failed, x.envelopes_unclaimed,
           x.ack_latency_mean, x.ack_latency_max, x.num_connections, x.app_id,
           x.subscribers, x.lifecycle_subscribers, x.callback_backlog,
           x.batches_held, x.listener_stalls, x.duplicate_ids_evicted);
}

} // namespace caf::rtm
