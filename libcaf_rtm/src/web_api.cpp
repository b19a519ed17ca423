#include "caf/rtm/web_api.hpp"

#include <caf/event_based_actor.hpp>

#include "detail/web_api_caller.hpp"

namespace caf::rtm {

// The public handle belongs to this actor: it accepts exactly what users may
// send and forwards it to the caller, which also takes the results of its
// HTTP exchanges and its own timers. It ends with the caller.
web_api_actor::behavior_type web_api(web_api_actor::pointer self,
                                     client_config cfg) {
  auto caller =
      self->spawn<caf::linked>(detail::web_api_caller, std::move(cfg));
  self->set_exit_handler(
      [self](caf::exit_msg& msg) { self->quit(msg.reason); });
  return {
      [=](call_atom x, std::string& method, api_args& args) {
        return self->delegate(caller, x, std::move(method), std::move(args));
      },
      [=](close_atom x) { return self->delegate(caller, x); },
  };
}

} // namespace caf::rtm
