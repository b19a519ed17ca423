#include "caf/rtm/socket_mode_client.hpp"

#include <caf/event_based_actor.hpp>

#include "detail/behavior_with.hpp"
#include "detail/client_front.hpp"
#include "detail/socket_mode_router.hpp"

namespace caf::rtm {

// The public actor (see detail/client_front.hpp): everything a Socket Mode
// client takes is what both clients take.
socket_mode_client_actor::behavior_type
socket_mode_client(socket_mode_client_actor::pointer self, client_config cfg) {
  auto router =
      detail::start_front(self, detail::socket_mode_router, std::move(cfg));
  return detail::behavior_with<socket_mode_client_actor::behavior_type>(
      detail::forwarding_handlers<envelope_listener>(self, router));
}

} // namespace caf::rtm
