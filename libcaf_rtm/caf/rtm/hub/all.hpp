// Everything of the hub (caf_rtm::hub): the registry a hub publishes, the
// remote subscription a bot node spawns, node setup (CAF::io, CAF::openssl)
// and the hub's configuration file.

#pragma once

#include "caf/rtm/hub/endpoint.hpp"
#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/hub/node.hpp"
#include "caf/rtm/hub/registry.hpp"
#include "caf/rtm/hub/remote_subscription.hpp"
#include "caf/rtm/hub/type_ids.hpp"
#include "caf/rtm/hub/workspaces.hpp"
