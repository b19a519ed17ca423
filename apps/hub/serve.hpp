// What caf-rtm-hub does once its configuration is checked: runs one client
// per workspace, publishes the registry, says where it listens, and on SIGINT
// or SIGTERM closes every client.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "caf/rtm/hub/registry.hpp"
#include "caf/rtm/hub/workspaces.hpp"
#include "caf/rtm/logger.hpp"
#include "hub/stop_watchdog.hpp"

namespace caf::rtm::hub_app {

struct serve_options {
  std::vector<hub::workspace_config> workspaces;
  /// Where to listen; TLS (CAF::openssl, set up by configure_node) or not.
  std::string bind;
  uint16_t port = 0;
  bool tls = false;
  /// The hub's own lines (and each client's, unless its entry sets one).
  log_level level = log_level::info;
  /// Bytes a remote subscriber may leave unconfirmed (registry_options).
  size_t remote_window = hub::default_remote_window;
};

/// Runs the hub in `sys` until SIGINT or SIGTERM (blocked by the caller
/// before the actor system started); returns the exit code: 0 after an
/// orderly stop, 1 when the hub cannot listen. `watchdog` bounds closing the
/// port and the clients; a stop whose actors do not all end in time ends the
/// process with exit code 1 and says how many were left. What comes after
/// `serve` (CAF's network layer and scheduler end with the actor system) is
/// the caller's to bound.
int serve(caf::actor_system& sys, serve_options opts, stop_watchdog& watchdog);

} // namespace caf::rtm::hub_app
