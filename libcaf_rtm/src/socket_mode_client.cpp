#include "caf/rtm/socket_mode_client.hpp"

#include <caf/event_based_actor.hpp>

#include "detail/socket_mode_router.hpp"

namespace caf::rtm {

// The public handle belongs to this actor: it accepts exactly what users may
// send and forwards it to the router, which also takes the messages of the
// client's own actors. Delegation keeps the original sender, so the router
// answers users directly. When the router ends (close, or an error), so does
// this actor.
socket_mode_client_actor::behavior_type
socket_mode_client(socket_mode_client_actor::pointer self, client_config cfg) {
  auto router =
      self->spawn<caf::linked>(detail::socket_mode_router, std::move(cfg));
  self->set_exit_handler(
      [self](caf::exit_msg& msg) { self->quit(msg.reason); });
  // Anything else (a forged internal message, from this node or a remote
  // one) is refused: a request gets `unexpected_message`, nothing is
  // printed.
  self->set_default_handler(caf::drop);
  return {
      [=](connect_atom x) { return self->delegate(router, x); },
      [=](subscribe_atom x, caf::actor& hdl, std::vector<std::string>& types) {
        return self->delegate(router, x, std::move(hdl), std::move(types));
      },
      [=](subscribe_atom x, caf::actor& hdl, std::vector<std::string>& types,
          batch_atom y) {
        return self->delegate(router, x, std::move(hdl), std::move(types), y);
      },
      [=](subscribe_atom x, lifecycle_atom y, caf::actor& hdl) {
        return self->delegate(router, x, y, std::move(hdl));
      },
      [=](subscribe_atom x, envelope_listener& listener) {
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
      [=](call_atom x, std::string& method, api_args& args) {
        return self->delegate(router, x, std::move(method), std::move(args));
      },
      [=](call_atom x, api_call& call) {
        return self->delegate(router, x, std::move(call));
      },
      [=](call_atom x, api_call& call, all_pages_atom y) {
        return self->delegate(router, x, std::move(call), y);
      },
      [=](call_atom x, api_call& call, caf::actor& sink) {
        return self->delegate(router, x, std::move(call), std::move(sink));
      },
      [=](upload_atom x, file_upload& file) {
        return self->delegate(router, x, std::move(file));
      },
      [=](disconnect_atom x) { return self->delegate(router, x); },
      [=](reconnect_atom x, bool on) { return self->delegate(router, x, on); },
      [=](close_atom x) { return self->delegate(router, x); },
      [=](status_atom x) { return self->delegate(router, x); },
  };
}

} // namespace caf::rtm
