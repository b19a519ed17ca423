// Down messages can be forged by any node that reaches a hub's actors: before
// acting on one, a hub actor asks the actor it names. One that answers at all
// (even if only that it does not know the question) is alive. The question
// goes through the asking actor's requester (private_requests.hpp): a node
// could forge the answer to a question the hub actor asked itself.

#pragma once

#include <chrono>
#include <utility>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "hub/private_requests.hpp"

namespace caf::rtm::hub::detail {

/// Calls `gone` once `hdl` is known to be gone, `alive` once it answered or
/// did not within the time (a busy actor is alive).
template <class Self, class Alive, class Gone>
void check_alive(Self* self, const caf::actor& requester, const caf::actor& hdl,
                 Alive alive, Gone gone) {
  request_privately<caf::message>(
      self, requester, hdl, std::chrono::seconds{5},
      [alive](caf::message&) mutable { alive(); },
      [alive, gone](caf::error& err) mutable {
        if (err == caf::sec::request_receiver_down)
          gone();
        else
          alive();
      },
      caf::atom("alive"));
}

/// Calls `f` once `hdl` is known to be gone; never if it is alive.
template <class Self, class F>
void when_gone(Self* self, const caf::actor& requester, const caf::actor& hdl,
               F f) {
  check_alive(
      self, requester, hdl, [] {}, std::move(f));
}

} // namespace caf::rtm::hub::detail
