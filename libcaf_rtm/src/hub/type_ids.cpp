#include "caf/rtm/hub/type_ids.hpp"

#include <caf/actor_system_config.hpp>

#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/hub/registry.hpp"
#include "caf/rtm/hub/remote_subscription.hpp"

namespace caf::rtm::hub {

void add_message_types(caf::actor_system_config& cfg) {
  caf::rtm::add_message_types(cfg);
  cfg.add_message_types<caf::id_block::caf_rtm_hub>();
  // Handles of the hub's actors, so they can travel in messages.
  cfg.add_message_type<registry_actor>("caf::rtm::hub::registry_actor")
      .add_message_type<remote_subscription_actor>(
          "caf::rtm::hub::remote_subscription_actor");
}

} // namespace caf::rtm::hub
