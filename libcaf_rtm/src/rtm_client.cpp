#include "caf/rtm/rtm_client.hpp"

#include <caf/event_based_actor.hpp>

#include "detail/behavior_with.hpp"
#include "detail/client_front.hpp"
#include "detail/rtm_router.hpp"

namespace caf::rtm {

// The public actor (see detail/client_front.hpp), with what only RTM takes:
// sending, presence, typing and pings.
rtm_client_actor::behavior_type rtm_client(rtm_client_actor::pointer self,
                                           client_config cfg) {
  auto router = detail::start_front(self, detail::rtm_router, std::move(cfg));
  return detail::behavior_with<rtm_client_actor::behavior_type>(
      detail::forwarding_handlers<callback_listener>(self, router),
      [=](send_atom x, json_object& msg) {
        return self->delegate(router, x, std::move(msg));
      },
      [=](send_atom x, json_object& msg, caf::timespan max_wait) {
        return self->delegate(router, x, std::move(msg), max_wait);
      },
      [=](send_atom x, json_object& msg, no_ack_atom y) {
        return self->delegate(router, x, std::move(msg), y);
      },
      [=](presence_atom x, std::vector<std::string>& users) {
        return self->delegate(router, x, std::move(users));
      },
      [=](typing_atom x, std::string& channel) {
        return self->delegate(router, x, std::move(channel));
      },
      [=](ping_atom x) { return self->delegate(router, x); });
}

} // namespace caf::rtm
