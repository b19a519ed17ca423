// Stands in for a remote subscriber of a Socket Mode client on the hub. The
// client asks its subscribers for the response payload of an envelope that
// accepts one with a request, and the sender of a request travels with it:
// a remote subscriber would learn the address of the client's router and
// could send it the router's internal messages. The relay makes that request
// itself instead, so only the relay's address reaches the remote node.

#pragma once

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/timespan.hpp>

namespace caf::rtm::hub::detail {

/// Hands envelopes to `target` (a remote subscriber): the others as they
/// come, those that accept a response payload as a request of its own whose
/// answer (or error) it passes back, waiting at most `answer_timeout`.
caf::behavior relay(caf::event_based_actor* self, const caf::actor& target,
                    caf::timespan answer_timeout);

} // namespace caf::rtm::hub::detail
