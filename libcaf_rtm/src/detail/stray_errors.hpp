// Keeps an actor that answers users alive when a reply of its comes back as
// an error. A user's actor that sends with `send` rather than `request` gets
// the reply as a plain message; without a handler for it, CAF 0.17's default
// (`print_and_drop`) answers with `unexpected_message`, and the default error
// handler would end this actor, and with it the whole client. Errors this
// actor asked for go to the handlers of its own requests, never here.

#pragma once

#include <caf/error.hpp>

namespace caf::rtm::detail {

template <class Self>
void ignore_stray_errors(Self* self) {
  self->set_error_handler([](caf::error&) {});
}

} // namespace caf::rtm::detail
