// The bot side of a hub: a remote subscription subscribes a bot's actors to a
// workspace's client on one or more hubs, and keeps them subscribed.
//
//   caf::rtm::hub::remote_subscription_config cfg;
//   cfg.hubs = {{"hub1.example", 4270}, {"hub2.example", 4270}};
//   cfg.tls = true; // the system was set up with configure_node + TLS files
//   cfg.workspace = "acme";
//   cfg.subscribers = {{bot, {"app_mention", "/deploy"}}};
//   cfg.lifecycle = bot; // hub_up (with the client handle), hub_down,
//                        // hub_gap, and the client's lifecycle messages
//   auto sub = sys.spawn(caf::rtm::hub::remote_subscription, cfg);
//
// For each hub it resolves the hub's registry (CAF::io, or CAF::openssl
// with `tls`), looks the workspace up, monitors what it got and subscribes
// with the client's usual messages. When a hub goes away (its node, its
// registry or the workspace's gate) it tries again with jittered backoff
// and subscribes again. Whatever was missed while no hub delivered, and
// what a hub dropped because this node did not take it in time, is reported
// as `hub_gap`, never silently.
//
// Several hubs: for a Socket Mode app, the subscription runs on every hub
// at once (Slack spreads envelopes over all connections and redelivers
// unacked ones to the remaining ones) and each envelope is delivered once
// (deduped by event id and envelope id). For RTM, one hub delivers at a time
// (every RTM connection gets every event); the others stand by and take
// over when it goes away.
//
// Events reach the bot's actors as they would locally: `event` (RTM) or
// `envelope` (Socket Mode; one that accepts a response payload arrives as a
// request whose `json_object` answer becomes the ack's payload). Sends and
// Web API calls go to the client handle of `hub_up::info`.

#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/hub/endpoint.hpp"
#include "caf/rtm/hub/messages.hpp"

namespace caf::rtm::hub {

/// One of the bot's actors and the patterns it subscribes to (as for
/// `subscribe_atom`: "*", a type, "type::subtype", Socket Mode envelope
/// types and slash commands).
struct remote_subscriber {
  caf::actor hdl;
  std::vector<std::string> patterns;
};

struct remote_subscription_config {
  /// The hubs holding the workspace's client (at least one).
  std::vector<hub_endpoint> hubs;
  /// Reach the hubs through CAF::openssl (the system must have been set up
  /// with `configure_node` and TLS files); plain CAF::io otherwise.
  bool tls = false;
  std::string workspace;
  std::vector<remote_subscriber> subscribers;
  /// Receives hub_up, hub_down and hub_gap, and the client's lifecycle
  /// messages (connecting, connected, disconnected, reconnecting,
  /// error_event, fatal_event) from every hub subscribed; optional.
  caf::actor lifecycle;
  /// Delays between failed attempts per hub (full jitter). With
  /// `max_attempts` > 0 a hub is given up after that many failures in a row
  /// (hub_down with `final`).
  retry_policy reconnect{std::chrono::milliseconds{250},
                         std::chrono::seconds{10}, 0};
  /// Limit for each step of an attempt: connecting (TCP, TLS, CAF's
  /// handshake), the lookup, each subscription.
  caf::timespan step_timeout = std::chrono::seconds{10};
  /// How long and how many envelope ids are remembered to drop copies that
  /// come through a second hub (bounded memory whatever the rate).
  std::chrono::milliseconds dedupe_window = std::chrono::minutes{15};
  size_t dedupe_capacity = 200000;

  /// `invalid_config` when a remote subscription cannot work: no hub, no
  /// workspace, neither a subscriber nor a lifecycle subscriber, a
  /// subscriber without an actor, a bad retry policy; `invalid_argument`
  /// for a subscriber's pattern that is not valid.
  caf::error validate() const;
};

using remote_subscription_actor = caf::typed_actor<
    // Where each hub stands.
    caf::replies_to<status_atom>::with<remote_subscription_status>,
    // Unsubscribes on every hub (bounded by the step timeout), then ends.
    caf::replies_to<close_atom>::with<caf::ok_atom>>;

/// Spawn with `sys.spawn(caf::rtm::hub::remote_subscription, cfg)`. A
/// configuration that cannot work is reported once (hub_down with `final`
/// to the lifecycle subscriber, `last_error` in the status) and nothing is
/// attempted. An actor linked to the handle that ends, however it ends,
/// closes the subscription as `close_atom` does; an exit with an error sent
/// to the handle itself ends it at once (every `close` still answered), the
/// last resort after a close that did not finish.
remote_subscription_actor::behavior_type
remote_subscription(remote_subscription_actor::pointer self,
                    remote_subscription_config cfg);

} // namespace caf::rtm::hub
