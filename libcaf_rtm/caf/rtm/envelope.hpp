// A Socket Mode envelope as subscribers receive it, and callback
// subscriptions for envelopes.

#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/intrusive_ptr.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/result.hpp>

#include "caf/rtm/json_object.hpp"
#include "caf/rtm/type_ids.hpp"

namespace caf::rtm {

namespace detail {
class frame_parser;
} // namespace detail

/// One Socket Mode envelope (`events_api`, `slash_commands`, `interactive`,
/// or a type this library does not know), parsed once and shared immutably:
/// copying an envelope copies a pointer. The client has acknowledged it to
/// Slack already, unless it accepts a response payload (then the first
/// subscriber's answer, or an empty ack at `ack_deadline`, does) or the
/// client acks after delivery (`ack_after_delivery`). A copy of its JSON
/// (`boost::json::value v = env.payload().at("view")`) is the copier's own,
/// on the heap, and may outlive the envelope.
class envelope {
public:
  envelope() = default;

  /// Parses a frame that arrived on connection `connection`. Returns an empty
  /// envelope for malformed JSON or JSON that is not an object; `why` then
  /// says which.
  static envelope parse(std::string_view raw, uint64_t connection = 0,
                        std::string* why = nullptr);

  /// False for a default-constructed or unparsable envelope.
  bool valid() const noexcept {
    return data_ != nullptr;
  }

  explicit operator bool() const noexcept {
    return valid();
  }

  /// `envelope_id` ("" for frames that are no envelope, e.g. hello).
  std::string_view id() const noexcept;
  /// The envelope type: `events_api`, `slash_commands`, `interactive`, ...
  std::string_view type() const noexcept;
  /// What happened inside: `payload.event.type` for events_api (e.g.
  /// `app_mention`), `payload.type` for interactive (e.g. `block_actions`),
  /// `payload.command` for slash_commands (e.g. `/echo`).
  std::string_view event_type() const noexcept;
  /// `payload.event.subtype` (events_api), e.g. `bot_message`; for an
  /// interaction its `action_id()`, else its `callback_id()`. Patterns
  /// `type::subtype` route by it: `block_actions::approve`,
  /// `view_submission::deploy_form`, `shortcut::new_ticket`.
  std::string_view event_subtype() const noexcept;
  /// `payload.event_id` (events_api): the same for every redelivery.
  std::string_view event_id() const noexcept;
  /// The channel of the inner event, command or interaction.
  std::string_view channel() const noexcept;
  /// The user of the inner event, command or interaction.
  std::string_view user() const noexcept;
  /// `payload.event.bot_id`, if the event was caused by a bot.
  std::string_view bot_id() const noexcept;
  /// `payload.event.ts`, else `payload.event.event_ts` (events_api). For an
  /// event about an item (a reaction, a pin, a star) that is the event's own
  /// time, which names no message: `reply_thread` and `reply_call` find the
  /// message to answer.
  std::string_view ts() const noexcept;
  /// `payload.event.text` (events_api), or what followed a slash command
  /// (`payload.text`), JSON escapes decoded.
  std::string_view text() const noexcept;
  /// `payload.event.thread_ts` (events_api), for messages in a thread.
  std::string_view thread_ts() const noexcept;
  /// The workspace the app acts in, to choose its token: for an event, the
  /// first of `payload.authorizations` (in a channel shared with another
  /// organisation, `payload.team_id` may be the other one's), else
  /// `payload.team_id`; for a command, `payload.team_id`; for an
  /// interaction, `view.app_installed_team_id`, else `payload.team` (its
  /// `id`), `payload.team_id`, `payload.user.team_id`, `view.team_id` (an
  /// install for a whole organisation may send `team: null`).
  std::string_view team_id() const noexcept;
  /// `payload.trigger_id` of a command or interaction: opens a modal
  /// (`views.open`) within three seconds of the user's action.
  std::string_view trigger_id() const noexcept;
  /// `payload.response_url` of a command or interaction, else the first of a
  /// view submission's `response_urls` (see `respond`).
  std::string_view response_url() const noexcept;
  /// The `action_id` of an interaction: of its first action
  /// (`block_actions`), or its own (`block_suggestion`).
  std::string_view action_id() const noexcept;
  /// The `callback_id` of an interaction: its own (`shortcut`,
  /// `message_action`), else its view's (`view_submission`, `view_closed`,
  /// and clicks in a modal).
  std::string_view callback_id() const noexcept;
  /// `payload.view.private_metadata`: what the app stored in its modal.
  std::string_view private_metadata() const noexcept;
  /// `payload.view` of an interaction (the modal with its `state.values`),
  /// else an empty object.
  const boost::json::object& view() const noexcept;
  /// The first of `payload.actions` (`block_actions`: its `value`,
  /// `selected_option`, ...), else an empty object.
  const boost::json::object& action() const noexcept;
  /// `retry_attempt` (0 for a first delivery) and `retry_reason`.
  uint32_t retry_attempt() const noexcept;
  std::string_view retry_reason() const noexcept;
  /// Whether Slack takes a response payload with the ack (slash commands,
  /// some interactions).
  bool accepts_response_payload() const noexcept;
  /// The whole envelope.
  const boost::json::object& json() const noexcept;
  /// `payload` (an empty object if absent).
  const boost::json::object& payload() const noexcept;
  /// `payload.event` of an events_api envelope: the event as the Events API
  /// (or an RTM client) would get it; an empty object for other envelopes.
  const boost::json::object& event() const noexcept;
  /// The frame as received.
  std::string_view raw() const noexcept;
  /// Compact JSON of the envelope (every field, in the received order).
  std::string to_json() const;
  /// The client-local number of the connection it arrived on.
  uint64_t connection() const noexcept;

  struct data;

private:
  friend class detail::frame_parser;

  explicit envelope(caf::intrusive_ptr<const data> ptr)
      : data_(std::move(ptr)) {}

  caf::intrusive_ptr<const data> data_;
};

void intrusive_ptr_add_ref(const envelope::data* ptr) noexcept;
void intrusive_ptr_release(const envelope::data* ptr) noexcept;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, envelope& x) {
  std::string raw;
  uint64_t connection = 0;
  if constexpr (Inspector::reads_state) {
    if (x.valid()) {
      raw = std::string{x.raw()};
      connection = x.connection();
    }
  }
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x = raw.empty() ? envelope{} : envelope::parse(raw, connection);
    return caf::none;
  });
  return f(caf::meta::type_name("caf::rtm::envelope"), connection, raw, load);
}

/// The envelopes of one batch the client read, for an actor subscribed with
/// `batch_atom`: one message instead of one per envelope. Batches arrive in
/// order, and the envelopes of a batch in the order they were received; a
/// batch holds only the envelopes the actor subscribed to, already acked, and
/// is never empty. Envelopes the client acks only once its subscribers
/// answered (those that accept a response payload, or every one with
/// `ack_after_delivery`) are not in a batch: they arrive one by one as
/// requests, as for any subscriber.
struct envelope_batch {
  std::vector<envelope> envelopes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, envelope_batch& x) {
  return f(caf::meta::type_name("caf::rtm::envelope_batch"), x.envelopes);
}

/// Does a subscription to `types` cover `x`? A pattern matches the envelope
/// type or the inner event type (`message` every message, whatever its
/// subtype), `type::subtype` only that `event_subtype()`
/// (`message::bot_message`, `block_actions::approve`); `"*"` matches all.
/// See `check_pattern`.
bool matches(const std::vector<std::string>& types, const envelope& x);

/// What a subscribed actor answers an envelope with: a `json_object` becomes
/// the ack's payload (for envelopes that accept one); `no_payload()` lets the
/// client ack it empty right away.
using response = caf::result<json_object>;

/// The answer without a response payload.
response no_payload();

/// What an envelope callback looks like. Callbacks run on the client's pool
/// of listener actors, concurrently for envelopes of different channels.
using envelope_callback = std::function<void(const envelope&)>;

/// Subscribes a callback to envelope or inner event types ("*" for all).
struct envelope_listener {
  std::vector<std::string> types;
  envelope_callback fn;
};

} // namespace caf::rtm

// Callbacks are local by nature: they never cross the network.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::envelope_listener)
