// The message vocabulary of caf-rtm: atoms, events, commands and lifecycle
// messages. Every type here has an `inspect` overload and is registered by
// `caf::rtm::add_message_types`, so it can cross CAF's network layer.

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/intrusive_ptr.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace caf::rtm {

// -- atoms (at most 10 characters each) ---------------------------------------

using auth_test_atom = caf::atom_constant<caf::atom("auth_test")>;
using call_atom = caf::atom_constant<caf::atom("call")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using dead_link_atom = caf::atom_constant<caf::atom("dead_link")>;
using disconnect_atom = caf::atom_constant<caf::atom("disconnect")>;
using goodbye_atom = caf::atom_constant<caf::atom("goodbye")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using lifecycle_atom = caf::atom_constant<caf::atom("lifecycle")>;
using opened_atom = caf::atom_constant<caf::atom("opened")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using rtm_connect_atom = caf::atom_constant<caf::atom("rtm_conn")>;
using rtt_atom = caf::atom_constant<caf::atom("rtt")>;
using send_atom = caf::atom_constant<caf::atom("send")>;
using session_atom = caf::atom_constant<caf::atom("session")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using typing_atom = caf::atom_constant<caf::atom("typing")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using unsent_atom = caf::atom_constant<caf::atom("unsent")>;

// The `_v` constants as in later CAF versions: `caf::rtm::connect_atom_v`.
constexpr auth_test_atom auth_test_atom_v = auth_test_atom{};
constexpr call_atom call_atom_v = call_atom{};
constexpr close_atom close_atom_v = close_atom{};
constexpr closed_atom closed_atom_v = closed_atom{};
constexpr connect_atom connect_atom_v = connect_atom{};
constexpr dead_link_atom dead_link_atom_v = dead_link_atom{};
constexpr disconnect_atom disconnect_atom_v = disconnect_atom{};
constexpr goodbye_atom goodbye_atom_v = goodbye_atom{};
constexpr hello_atom hello_atom_v = hello_atom{};
constexpr lifecycle_atom lifecycle_atom_v = lifecycle_atom{};
constexpr opened_atom opened_atom_v = opened_atom{};
constexpr ping_atom ping_atom_v = ping_atom{};
constexpr pong_atom pong_atom_v = pong_atom{};
constexpr progress_atom progress_atom_v = progress_atom{};
constexpr retry_atom retry_atom_v = retry_atom{};
constexpr rtm_connect_atom rtm_connect_atom_v = rtm_connect_atom{};
constexpr rtt_atom rtt_atom_v = rtt_atom{};
constexpr send_atom send_atom_v = send_atom{};
constexpr session_atom session_atom_v = session_atom{};
constexpr status_atom status_atom_v = status_atom{};
constexpr subscribe_atom subscribe_atom_v = subscribe_atom{};
constexpr tick_atom tick_atom_v = tick_atom{};
constexpr timeout_atom timeout_atom_v = timeout_atom{};
constexpr typing_atom typing_atom_v = typing_atom{};
constexpr unsubscribe_atom unsubscribe_atom_v = unsubscribe_atom{};
constexpr unsent_atom unsent_atom_v = unsent_atom{};

// -- JSON ---------------------------------------------------------------------

/// A JSON object as a message: outgoing RTM messages, Web API results.
/// Serialized as its compact JSON text.
struct json_object {
  boost::json::object value;
};

/// Compact JSON text of `x`.
std::string to_json(const json_object& x);

/// Parses `text`; an empty object if `text` is no JSON object.
json_object json_object_from(std::string_view text);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json_object& x) {
  std::string text;
  if constexpr (Inspector::reads_state)
    text = to_json(x);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x = json_object_from(text);
    return caf::none;
  });
  return f(caf::meta::type_name("caf::rtm::json_object"), text, load);
}

/// Arguments of a Web API call, sent form-encoded.
using api_args = std::map<std::string, std::string>;

// -- Web API results ----------------------------------------------------------

/// Who the token belongs to (`auth.test`). `bot_id` is empty for user tokens.
struct identity {
  std::string user_id;
  std::string user;
  std::string team_id;
  std::string team;
  std::string bot_id;
  std::string url;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, identity& x) {
  return f(caf::meta::type_name("caf::rtm::identity"), x.user_id, x.user,
           x.team_id, x.team, x.bot_id, x.url);
}

/// A fresh, single-use WebSocket URL and who it is for (`rtm.connect`).
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

class event_parser;

// -- events -------------------------------------------------------------------

/// One RTM event, parsed once and shared immutably: copying an event copies a
/// pointer, so every subscriber sees the same parsed JSON. The frame, its
/// parsed JSON and the field views live in a single allocation.
class event {
public:
  event() = default;

  /// Parses a frame of session `session`. Returns an empty event for malformed
  /// JSON or JSON that is not an object; `why` then says which.
  static event parse(std::string raw, uint64_t session = 0,
                     std::string* why = nullptr);

  /// False for a default-constructed or unparsable event.
  bool valid() const noexcept {
    return data_ != nullptr;
  }

  explicit operator bool() const noexcept {
    return valid();
  }

  /// The `type` field ("" if absent, e.g. for acks).
  std::string_view type() const noexcept;
  std::string_view subtype() const noexcept;
  /// `channel` (or `channel.id`, or `item.channel` for reactions).
  std::string_view channel() const noexcept;
  /// `user` (or `user.id`).
  std::string_view user() const noexcept;
  std::string_view bot_id() const noexcept;
  /// `ts`, or `event_ts` when there is no `ts`.
  std::string_view ts() const noexcept;
  /// `reply_to`, if present and an integer.
  std::optional<int64_t> reply_to() const noexcept;
  /// `ok`, if present and a boolean (acks carry it, echoed messages do not).
  std::optional<bool> ok() const noexcept;
  /// The whole payload.
  const boost::json::object& json() const noexcept;
  /// The frame as received.
  std::string_view raw() const noexcept;
  /// Compact JSON of the payload (every field, in the received order).
  std::string to_json() const;
  /// The client-local number of the session that received this event.
  uint64_t session() const noexcept;

  struct data;

private:
  friend class event_parser;

  explicit event(caf::intrusive_ptr<const data> ptr) : data_(std::move(ptr)) {}

  caf::intrusive_ptr<const data> data_;
};

void intrusive_ptr_add_ref(const event::data* ptr) noexcept;
void intrusive_ptr_release(const event::data* ptr) noexcept;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  std::string raw;
  uint64_t session = 0;
  if constexpr (Inspector::reads_state) {
    if (x.valid()) {
      raw = std::string{x.raw()};
      session = x.session();
    }
  }
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x = raw.empty() ? event{} : event::parse(std::move(raw), session);
    return caf::none;
  });
  return f(caf::meta::type_name("caf::rtm::event"), session, raw, load);
}

/// What a listener callback looks like. Callbacks run on the client's pool of
/// listener actors, concurrently for events of different channels.
using event_callback = std::function<void(const event&)>;

/// Subscribes a callback to event types ("*" for all).
struct callback_listener {
  std::vector<std::string> types;
  event_callback fn;
};

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

// -- lifecycle (for subscribers that ask for it)
// -------------------------------

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
  std::string self_id;
  std::string self_name;
  std::string team_id;
  std::string team_name;
  std::string team_domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connected& x) {
  return f(caf::meta::type_name("caf::rtm::connected"), x.session, x.self_id,
           x.self_name, x.team_id, x.team_name, x.team_domain);
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
/// frame, a listener that threw).
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

/// A snapshot of the client's state and counters.
struct client_status {
  /// idle, connecting, connected, reconnecting, closing, closed or failed.
  std::string state;
  /// Number of the current session (0: none).
  uint64_t session = 0;
  /// Sessions that reached hello.
  uint64_t sessions = 0;
  uint64_t events_received = 0;
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
  /// Round-trip time of the latest ping (0 before the first pong).
  caf::timespan last_rtt{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_status& x) {
  return f(caf::meta::type_name("caf::rtm::client_status"), x.state, x.session,
           x.sessions, x.events_received, x.events_delivered,
           x.events_own_skipped, x.events_duplicate, x.frames_malformed,
           x.frames_not_object, x.frames_binary, x.messages_sent,
           x.messages_acked, x.messages_failed, x.send_queue, x.awaiting_ack,
           x.listener_errors, x.last_rtt);
}

// -- internal messages between the client's actors
// -----------------------------

/// Text frames read by the I/O layer, handed to the connection actor: the
/// frames back to back in one buffer (one allocation per batch, not per
/// frame) and the size of each.
struct frame_batch {
  std::string bytes;
  std::vector<uint32_t> sizes;
  uint32_t binary = 0;

  bool empty() const noexcept {
    return sizes.empty() && binary == 0;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, frame_batch& x) {
  return f(caf::meta::type_name("caf::rtm::frame_batch"), x.bytes, x.sizes,
           x.binary);
}

/// Parsed events of one session, handed to the client actor, plus the frames
/// the connection dropped since its previous batch.
struct event_batch {
  uint64_t session = 0;
  std::vector<event> events;
  uint32_t malformed = 0;
  uint32_t not_object = 0;
  uint32_t binary = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  return f(caf::meta::type_name("caf::rtm::event_batch"), x.session, x.events,
           x.malformed, x.not_object, x.binary);
}

/// The outcome of one HTTP exchange of the Web API caller.
struct http_result {
  uint64_t request_id = 0;
  /// Set when no HTTP response arrived (connect, TLS, timeout, ...).
  caf::error error;
  uint16_t status = 0;
  std::string retry_after;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_result& x) {
  return f(caf::meta::type_name("caf::rtm::http_result"), x.request_id, x.error,
           x.status, x.retry_after, x.body);
}

} // namespace caf::rtm

// Callbacks are local by nature: they never cross the network.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::callback_listener)
