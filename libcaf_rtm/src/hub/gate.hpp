// The handle a hub hands out for a workspace: a gate in front of the client,
// with the client's own typed interface. It answers every request itself
// (request and promise, never delegation), so the replies that reach a remote
// node come from the gate and no address of the client's internal actors
// (router, web-API callers) ever leaves the hub: their internal messages
// cannot be sent from there. Its own requests go through a requester no node
// can address (private_requests.hpp): any node could answer the gate's
// requests otherwise. It refuses what only the hub's owner may do,
// notices when a remote subscriber's node goes away (for the missed events
// of that node, see drop_log), and puts a relay between the client and each
// remote subscriber (relay.hpp: what a node does not take in time is
// dropped and reported, not buffered without bound).

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "hub/drop_log.hpp"
#include "hub/private_requests.hpp"
#include "hub/relay.hpp"

namespace caf::rtm::hub::detail {

struct gate_args {
  /// What each relay of the gate gets: the workspace, the window, the hub's
  /// log and counters, and the drop log, which the gate also keeps the
  /// nodes it sees go away in.
  relay_args relay;
};

/// A relay of the gate and its flag that tells it, before it ends, that its
/// subscriber's node went away (see `relay_args::node_gone`).
struct relay_handle {
  caf::actor hdl;
  std::shared_ptr<std::atomic<bool>> node_gone;
};

struct gate_state {
  static inline const char* name = "caf-rtm.hub.gate";

  gate_args args;
  /// The gate's own address, as its monitors name it.
  caf::actor_addr me;
  /// The client, monitored: the gate ends with it.
  caf::actor_addr client;
  /// Remote subscribers, monitored to notice their node going away.
  std::set<caf::actor_addr> watched;
  /// The relay in front of each remote subscriber (see relay.hpp).
  std::map<caf::actor_addr, relay_handle> relays;
  /// Relays of subscriptions being undone: each ends once the client let it
  /// go, or with the gate, whichever comes first.
  std::vector<caf::actor> retiring;
  /// The requests forwarded to the client and not answered yet, each with
  /// the way to fail it: a gate that ends answers them (CAF 0.17 drops the
  /// promises of an actor that goes without a word, and a remote caller
  /// without a timeout would wait for good).
  std::map<uint64_t, std::function<void(const caf::error&)>> forwarding;
  uint64_t next_forwarding = 0;
  /// Makes the gate's requests (see private_requests.hpp).
  caf::actor requester;

  ~gate_state();
};

/// A gate: the client's interface, and the answers its requester hands back.
using rtm_gate_actor = rtm_client_actor::extend<caf::reacts_to<continuation>>;
using socket_mode_gate_actor =
    socket_mode_client_actor::extend<caf::reacts_to<continuation>>;

rtm_gate_actor::behavior_type
rtm_gate(rtm_gate_actor::stateful_pointer<gate_state> self,
         const rtm_client_actor& client, gate_args args);

socket_mode_gate_actor::behavior_type
socket_mode_gate(socket_mode_gate_actor::stateful_pointer<gate_state> self,
                 const socket_mode_client_actor& client, gate_args args);

} // namespace caf::rtm::hub::detail
