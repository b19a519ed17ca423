// The registry a hub publishes: bot nodes look a workspace up by name and get
// a handle for its client, or list every workspace with its status.
//
//   auto reg = sys.spawn(caf::rtm::hub::registry, workspaces,
//                        caf::rtm::hub::registry_options{});
//   caf::io::publish(reg, port, "127.0.0.1");
//
// The handle a lookup hands out is never the client's own: it belongs to a
// gate in front of it (one per workspace), which answers every request
// itself. No address of the client's internal actors reaches a remote node
// that way, so none of their messages can be sent from there, and the gate
// refuses what only the hub's owner may do (close, disconnect, reconnect,
// uploads from the hub's disk). See README.md, "Running across machines".

#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/logger.hpp"

namespace caf::rtm::hub {

using registry_actor = caf::typed_actor<
    // The workspace's client (a gate's handle), and what the asking node
    // missed since the hub saw it go away; `unknown_workspace` if none.
    caf::replies_to<lookup_atom, std::string>::with<workspace_info>,
    // Every workspace with its client's status, in name order.
    caf::replies_to<list_atom>::with<std::vector<workspace_status>>>;

/// The default of `registry_options::remote_window`.
inline constexpr size_t default_remote_window = size_t{16} * 1024 * 1024;

/// How the hub serves remote nodes.
struct registry_options {
  /// Bytes of events (their JSON text and 256 per message) the hub sends a
  /// remote subscriber ahead of its node's confirmation that it took them.
  /// A node that falls further behind (it hangs, or its link stalls) gets
  /// what does not fit dropped, and a `hub_gap` with the count once it
  /// answers again, instead of the hub buffering for it without bound. The
  /// default holds some seconds of even a busy workspace's traffic (about
  /// 10 s at 1,000 events/s of 1.5 KB), not a benchmark's flood at full
  /// speed; 0 means the default.
  size_t remote_window = default_remote_window;
  /// Where the gates say that they drop events for a node that fell behind
  /// (and how many, once reported); none: they do so silently.
  logger_ptr log;
};

/// Spawn with `sys.spawn(caf::rtm::hub::registry, workspaces, options)`: one
/// entry per client the hub runs, with the client's own handle (the registry
/// never hands it out). The registry does not own the clients: closing them
/// is the hub's job. When the registry ends, so do its gates. It takes CAF's
/// `ConfigServ` and `SpawnServ` out of the actor system's registry: remote
/// nodes could look them up by name (the first stores what it is sent).
registry_actor::behavior_type registry(registry_actor::pointer self,
                                       std::vector<workspace_info> workspaces,
                                       registry_options options);

} // namespace caf::rtm::hub
