// Down messages can be forged by any node that reaches a hub's actors: before
// acting on one, a hub actor asks the actor it names. One that answers at all
// (even if only that it does not know the question) is alive.

#pragma once

#include <chrono>
#include <utility>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace caf::rtm::hub::detail {

/// Calls `f` once `hdl` is known to be gone; never if it is alive.
template <class Self, class F>
void when_gone(Self* self, const caf::actor& hdl, F f) {
  self->request(hdl, std::chrono::seconds{5}, caf::atom("alive"))
      .then([](caf::message&) {},
            [f = std::move(f)](caf::error& err) mutable {
              if (err == caf::sec::request_receiver_down)
                f();
            });
}

} // namespace caf::rtm::hub::detail
