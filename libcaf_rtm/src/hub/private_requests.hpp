// Requests of an actor that remote nodes can reach (a gate). CAF 0.17
// matches a response to a pending request by its id alone, whoever sends it,
// and an actor's request ids count up: any node that reaches such an actor
// could answer its requests with made-up values (another node's Web API
// answer, say). So the actor asks nothing itself. Its requester, an actor
// whose address never leaves the process, makes each request and sends back
// what to do with the answer, which the owner runs only when it comes from
// its requester.

#pragma once

#include <functional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/behavior.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/timespan.hpp>

namespace caf::rtm::hub::detail {

/// What the owner does with an answer, run in the owner.
struct continuation {
  std::function<void()> run;
};

/// A request for the requester to make.
struct request_job {
  std::function<void(caf::event_based_actor*)> run;
};

/// The requester of `owner`: makes the requests it is handed, and ends with
/// its owner.
caf::behavior requester(caf::event_based_actor* self, caf::actor_addr owner);

/// Has `owner`'s requester ask `dest` for an `R` with `xs`; `on_value(R&)`
/// or `on_error(caf::error&)` then runs in `owner`, which hands each
/// `continuation` its requester sends to `run_continuation`.
template <class R, class Owner, class Dest, class Timeout, class OnValue,
          class OnError, class... Ts>
void request_privately(Owner* owner, const caf::actor& requester,
                       const Dest& dest, Timeout timeout, OnValue on_value,
                       OnError on_error, Ts... xs) {
  auto me = caf::actor_cast<caf::actor>(owner);
  auto job = [dest, timeout, me, on_value = std::move(on_value),
              on_error = std::move(on_error),
              xs...](caf::event_based_actor* self) mutable {
    self->request(dest, timeout, std::move(xs)...)
        .then(
            [self, me, on_value](R& x) mutable {
              self->send(me,
                         continuation{[on_value, x = std::move(x)]() mutable {
                           on_value(x);
                         }});
            },
            [self, me, on_error](caf::error& err) mutable {
              self->send(me, continuation{[on_error, err]() mutable {
                           on_error(err);
                         }});
            });
  };
  caf::anon_send(requester, request_job{std::move(job)});
}

/// Runs `k` if it comes from `requester` (any other sender could only be a
/// forgery).
template <class Owner>
void run_continuation(Owner* owner, const caf::actor& requester,
                      continuation& k) {
  if (caf::actor_cast<caf::actor_addr>(owner->current_sender()) ==
          requester.address() &&
      k.run)
    k.run();
}

} // namespace caf::rtm::hub::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::hub::detail::continuation)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(caf::rtm::hub::detail::request_job)
