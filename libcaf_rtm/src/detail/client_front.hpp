// The public actor of either client (and of a hub's remote subscription).
// The public handle belongs to it: it accepts exactly what users may send and
// forwards it to the router, which also takes the messages of the client's
// own actors. Delegation keeps the original sender, so the router answers
// users directly. When the router ends (close, or an error), so does this
// actor.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/messages.hpp"
#include "detail/web_api_forwarding.hpp"

namespace caf::rtm::detail {

/// Spawns the router, linked, and makes `self` end with it. An actor of the
/// user linked to the client that ends closes the client in order, however
/// it ends: close frames, and every request answered (CAF 0.17 drops the
/// promises of an actor that ends at once, and a requester without a timeout
/// would wait for good; CAF's router would ignore a normal exit and live on
/// with no handle left to close it). The client then ends with that actor's
/// reason, so that an error still reaches the actors linked to the client.
/// An exit with an error sent to the client itself ends it at once: the last
/// resort after a close that did not finish.
/// Anything outside the interface (a forged internal message, from this node
/// or a remote one) is refused: a request gets `unexpected_message`, nothing
/// is printed.
template <class Self, class Fun, class... Ts>
auto start_front(Self* self, Fun router_fun, Ts&&... xs) {
  auto router =
      self->template spawn<caf::linked>(router_fun, std::forward<Ts>(xs)...);
  auto linked_reason = std::make_shared<caf::error>();
  self->set_exit_handler([self, router, linked_reason](caf::exit_msg& msg) {
    // An exit with an error sent to the client itself (`anon_send_exit`,
    // whose source is the receiver: say, after a close that was not answered
    // in time) ends it at once.
    if (msg.source == self->address() && msg.reason)
      return self->quit(msg.reason);
    if (msg.source != router.address()) {
      // The router's exit, once it closed, ends this actor.
      if (!*linked_reason)
        *linked_reason = msg.reason;
      caf::anon_send(router, close_atom_v);
      return;
    }
    self->quit(*linked_reason && !msg.reason ? *linked_reason : msg.reason);
  });
  self->set_default_handler(caf::drop);
  return router;
}

/// What both public actors forward alike (`Listener` is the protocol's
/// callback listener), Web API requests included; each adds its own (see
/// behavior_with.hpp).
template <class Listener, class Self, class Router>
auto forwarding_handlers(Self* self, const Router& router) {
  return std::tuple_cat(
      web_api_forwarding(self, router),
      std::make_tuple(
          [=](connect_atom x) { return self->delegate(router, x); },
          [=](subscribe_atom x, caf::actor& hdl,
              std::vector<std::string>& types) {
            return self->delegate(router, x, std::move(hdl), std::move(types));
          },
          [=](subscribe_atom x, caf::actor& hdl,
              std::vector<std::string>& types, batch_atom y) {
            return self->delegate(router, x, std::move(hdl), std::move(types),
                                  y);
          },
          [=](subscribe_atom x, lifecycle_atom y, caf::actor& hdl) {
            return self->delegate(router, x, y, std::move(hdl));
          },
          [=](subscribe_atom x, Listener& listener) {
            return self->delegate(router, x, std::move(listener));
          },
          [=](subscribe_atom x, hook_listener& hooks) {
            return self->delegate(router, x, std::move(hooks));
          },
          [=](unsubscribe_atom x, caf::actor& hdl) {
            return self->delegate(router, x, std::move(hdl));
          },
          [=](unsubscribe_atom x, caf::actor& hdl,
              std::vector<std::string>& types) {
            return self->delegate(router, x, std::move(hdl), std::move(types));
          },
          [=](unsubscribe_atom x, uint64_t id) {
            return self->delegate(router, x, id);
          },
          [=](disconnect_atom x) { return self->delegate(router, x); },
          [=](reconnect_atom x, bool on) {
            return self->delegate(router, x, on);
          },
          [=](close_atom x) { return self->delegate(router, x); },
          [=](status_atom x) { return self->delegate(router, x); }));
}

} // namespace caf::rtm::detail
