// An RTM event as subscribers receive it, and callback subscriptions.

#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/intrusive_ptr.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "caf/rtm/type_ids.hpp"

namespace caf::rtm {

namespace detail {
class frame_parser;
} // namespace detail

/// One RTM event, parsed once and shared immutably: copying an event copies a
/// pointer, so every subscriber sees the same parsed JSON. The frame, its
/// parsed JSON and the field views live in a single allocation. A copy of
/// its JSON (`boost::json::value v = ev.json().at("text")`) is the copier's
/// own, on the heap, and may outlive the event.
class event {
public:
  event() = default;

  /// Parses a frame of session `session`. Returns an empty event for malformed
  /// JSON or JSON that is not an object; `why` then says which.
  static event parse(std::string_view raw, uint64_t session = 0,
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
  /// `channel` (or `channel.id`; or `channel_id`, as Events API events
  /// about files, pins and calls have it; or `item.channel` for reactions).
  std::string_view channel() const noexcept;
  /// `user` (or `user.id`).
  std::string_view user() const noexcept;
  std::string_view bot_id() const noexcept;
  /// `ts`, or `event_ts` when there is no `ts`.
  std::string_view ts() const noexcept;
  /// `text` of a message, its JSON escapes decoded ("" if absent).
  std::string_view text() const noexcept;
  /// `thread_ts` of a message in a thread ("" otherwise).
  std::string_view thread_ts() const noexcept;
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
  friend class detail::frame_parser;

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
    x = raw.empty() ? event{} : event::parse(raw, session);
    return caf::none;
  });
  return f(caf::meta::type_name("caf::rtm::event"), session, raw, load);
}

/// The events of one batch the client received, for an actor subscribed with
/// `batch_atom`: one message instead of one per event. Batches arrive in
/// order, and the events of a batch in the order they were received; a
/// batch holds only the events the actor subscribed to, and is never empty.
struct event_batch {
  std::vector<event> events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  return f(caf::meta::type_name("caf::rtm::event_batch"), x.events);
}

/// Does a subscription to `types` cover events of `type` and `subtype`?
/// `"*"` covers all, `message` every message whatever its subtype,
/// `message::bot_message` only that subtype. See `check_pattern`.
bool matches(const std::vector<std::string>& types, std::string_view type,
             std::string_view subtype = {});

/// The same for an event, by its `type` and `subtype` fields.
bool matches(const std::vector<std::string>& types, const event& ev);

/// What a listener callback looks like. Callbacks run on the client's pool of
/// listener actors, concurrently for events of different channels.
using event_callback = std::function<void(const event&)>;

/// Subscribes a callback to event types ("*" for all).
struct callback_listener {
  std::vector<std::string> types;
  event_callback fn;
};

} // namespace caf::rtm

// Callbacks are local by nature: they never cross the network.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::callback_listener)
