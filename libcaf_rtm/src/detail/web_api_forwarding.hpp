// The Web API requests a public actor forwards to whoever makes the calls:
// `web_api` to its caller, both clients to their routers. Delegation keeps
// the original sender, so the answer goes straight to the user.

#pragma once

#include <string>
#include <tuple>
#include <utility>

#include <caf/actor.hpp>

#include "caf/rtm/messages.hpp"
#include "caf/rtm/web_api.hpp"

namespace caf::rtm::detail {

/// Calls (single, paged, streamed), uploads, webhook posts and the caller's
/// status, delegated to
/// `target`; to be combined with the actor's other handlers (see
/// behavior_with.hpp).
template <class Self, class Target>
auto web_api_forwarding(Self* self, const Target& target) {
  return std::make_tuple(
      [=](call_atom x, std::string& method, api_args& args) {
        return self->delegate(target, x, std::move(method), std::move(args));
      },
      [=](call_atom x, api_call& call) {
        return self->delegate(target, x, std::move(call));
      },
      [=](call_atom x, api_call& call, all_pages_atom y) {
        return self->delegate(target, x, std::move(call), y);
      },
      [=](call_atom x, api_call& call, caf::actor& sink) {
        return self->delegate(target, x, std::move(call), std::move(sink));
      },
      [=](upload_atom x, file_upload& file) {
        return self->delegate(target, x, std::move(file));
      },
      [=](webhook_atom x, webhook_post& post) {
        return self->delegate(target, x, std::move(post));
      },
      [=](status_atom x, call_atom y) { return self->delegate(target, x, y); });
}

} // namespace caf::rtm::detail
