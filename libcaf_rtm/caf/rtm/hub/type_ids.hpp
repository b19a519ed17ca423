// The atoms and type IDs of the hub's messages: a second block after caf-rtm's
// own (type_ids.hpp), in the same style. Everything in here crosses CAF's
// network layer between a hub and its bot nodes, so every type has an
// `inspect` overload and is registered by `hub::add_message_types`.

#pragma once

#include <vector>

#include <caf/type_id.hpp>

#include "caf/rtm/type_ids.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace caf::rtm::hub {

struct workspace_info;
struct workspace_status;
struct missed_events;
struct hub_up;
struct hub_down;
struct hub_gap;
struct hub_link_status;
struct remote_subscription_status;

} // namespace caf::rtm::hub

// After caf-rtm's block (first_custom_type_id + 1000, a few dozen IDs).
CAF_BEGIN_TYPE_ID_BLOCK(caf_rtm_hub, caf::first_custom_type_id + 1100)

CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::workspace_info))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::workspace_status))
CAF_ADD_TYPE_ID(caf_rtm_hub, (std::vector<caf::rtm::hub::workspace_status>))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::missed_events))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::hub_up))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::hub_down))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::hub_gap))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::hub_link_status))
CAF_ADD_TYPE_ID(caf_rtm_hub, (caf::rtm::hub::remote_subscription_status))

// What bot nodes ask a hub's registry (CAF 0.17 atoms: at most 10
// characters).
CAF_ADD_ATOM(caf_rtm_hub, caf::rtm::hub, lookup_atom, "lookup")
CAF_ADD_ATOM(caf_rtm_hub, caf::rtm::hub, list_atom, "list")

CAF_END_TYPE_ID_BLOCK(caf_rtm_hub)

namespace caf::rtm::hub {

/// Registers caf-rtm's message types (`caf::rtm::add_message_types`), the
/// hub's, and the handle types of the hub's actors with `cfg`.
void add_message_types(caf::actor_system_config& cfg);

} // namespace caf::rtm::hub
