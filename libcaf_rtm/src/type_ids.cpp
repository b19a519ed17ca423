#include "caf/rtm/type_ids.hpp"

#include <caf/actor_system_config.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/web_api.hpp"

namespace caf::rtm {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::caf_rtm>();
  // Handles of the public actors, so they can travel in messages (e.g. from a
  // registry to a remote node).
  cfg.add_message_type<rtm_client_actor>("caf::rtm::rtm_client_actor")
      .add_message_type<socket_mode_client_actor>(
          "caf::rtm::socket_mode_client_actor")
      .add_message_type<web_api_actor>("caf::rtm::web_api_actor");
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    return render(caf::error{code, error_category, ctx});
  });
}

} // namespace caf::rtm
