// Callback forms of the lifecycle: the raw-message listeners, `on_error` and
// `on_close` of Python's RTMClient, for code that prefers callbacks to a
// lifecycle subscriber actor.
//
//   caf::rtm::hook_listener hooks;
//   hooks.on_frame = [](std::string_view text) { log_wire(text); };
//   hooks.on_error = [](const caf::error& err, bool fatal) { ... };
//   self->request(client, 5s, caf::rtm::subscribe_atom_v, hooks);
//
// Hooks run on a listener worker of their own (not one of the `concurrency`
// workers that run callbacks), in the order things happened, never on the
// client's own actors: a hook that blocks slows only the hooks (and, for
// `on_frame`, reading: frames wait for it like events wait for callbacks).

#pragma once

#include <functional>
#include <string_view>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>

#include "caf/rtm/messages.hpp"

namespace caf::rtm {

/// Any member may be empty. Subscribing replies with an id for
/// `unsubscribe_atom`.
struct hook_listener {
  /// Every text frame as received, in order: events, acks, frames dropped
  /// as malformed, and control frames the client handles itself (hello,
  /// goodbye, disconnect, pongs).
  std::function<void(std::string_view frame)> on_frame;
  /// Errors the client recovers from (`fatal` false), and the one that stops
  /// it (`fatal` true); the same as `error_event` and `fatal_event`.
  std::function<void(const caf::error& reason, bool fatal)> on_error;
  /// A session ended (the same as `disconnected`).
  std::function<void(const disconnected& info)> on_close;
};

} // namespace caf::rtm

// Callbacks are local by nature: they never cross the network.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::hook_listener)
