// What a hub's registry answers and what a remote subscription reports to
// its bot: the messages that cross between a hub and its bot nodes, besides
// the clients' own (messages.hpp, event.hpp, envelope.hpp). None of them
// carries a token: a hub never sends one to a remote node.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/hub/type_ids.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"

namespace caf::rtm::hub {

/// What a hub knows of the events a node missed: set when every subscriber
/// of that node went away at once (the node was lost) and the node looks the
/// workspace up again on the same hub process.
struct missed_events {
  /// False when the hub has no record for the node (a hub restarted since,
  /// or a node it never saw go away): the count is then unknown.
  bool known = false;
  /// Events (Socket Mode: envelopes) the client received from Slack between
  /// the moment the hub noticed the node was gone and the lookup, of every
  /// type. Events between the link's break and the hub noticing it (up to
  /// the heartbeat timeout) are not counted: not a bound, an indication.
  /// Added: what the hub had dropped for the node's subscribers because the
  /// node fell behind, and could not report before it went away (the largest
  /// count of its subscribers).
  uint64_t count = 0;
  /// When the hub noticed the node was gone, or when it began dropping for
  /// it, if earlier.
  caf::timestamp since;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, missed_events& x) {
  return f(caf::meta::type_name("caf::rtm::hub::missed_events"), x.known,
           x.count, x.since);
}

/// One workspace of a hub, as its registry hands it out: the name, the kind
/// of client, and the client's public handle (the field of that kind; the
/// other one is null). The handle accepts the client's usual messages
/// (subscribe, send, call, status, ...), except those only the hub's owner
/// may send: close, disconnect, reconnect and uploads of files by path are
/// refused with `not_permitted`.
struct workspace_info {
  std::string name;
  client_kind kind = client_kind::rtm;
  rtm_client_actor rtm;
  socket_mode_client_actor socket_mode;
  /// What the asking node missed since it was last seen (lookups only).
  missed_events missed;

  /// The handle of either kind, untyped (both clients answer connect,
  /// subscribe, call, status alike).
  caf::actor handle() const {
    return kind == client_kind::rtm ? caf::actor_cast<caf::actor>(rtm)
                                    : caf::actor_cast<caf::actor>(socket_mode);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_info& x) {
  return f(caf::meta::type_name("caf::rtm::hub::workspace_info"), x.name,
           x.kind, x.rtm, x.socket_mode, x.missed);
}

/// One line of a hub's listing.
struct workspace_status {
  std::string name;
  client_kind kind = client_kind::rtm;
  /// The client's status (subscriber counts included); state "closed" for a
  /// client that does not answer.
  client_status status;
  /// Nodes the hub saw go away and keeps a missed-events record for.
  uint64_t nodes_away = 0;
  /// Events (or envelopes) the hub dropped for remote subscribers whose
  /// nodes did not take them in time, since the registry started (see
  /// `registry_options`).
  uint64_t dropped_for_nodes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, workspace_status& x) {
  return f(caf::meta::type_name("caf::rtm::hub::workspace_status"), x.name,
           x.kind, x.status, x.nodes_away, x.dropped_for_nodes);
}

// -- what a remote subscription reports (lifecycle subscribers) ---------------

/// Subscribed on a hub: events of the workspace flow from it (again). `info`
/// holds the client handle for sends and calls; it changes when a hub
/// restarts, so keep the latest per hub (`hub`), and drop a hub's handle at
/// its `hub_down`: with two Socket Mode hubs, the other hub's handle is the
/// one that works then, and its `hub_up` does not come again.
struct hub_up {
  std::string workspace;
  /// host:port as configured.
  std::string hub;
  workspace_info info;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hub_up& x) {
  return f(caf::meta::type_name("caf::rtm::hub::hub_up"), x.workspace, x.hub,
           x.info);
}

/// A hub was lost, or an attempt to reach it failed; the next attempt
/// follows after `retry_in` (none when `final`: fatal errors and a reached
/// attempt limit).
struct hub_down {
  std::string workspace;
  std::string hub;
  caf::error reason;
  caf::timespan retry_in{0};
  bool final = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hub_down& x) {
  return f(caf::meta::type_name("caf::rtm::hub::hub_down"), x.workspace, x.hub,
           x.reason, x.retry_in, x.final);
}

/// No hub delivered events of the workspace from `since` until `until`:
/// events of that time are lost for this bot, unless Slack delivered them
/// again (Socket Mode redelivers envelopes no connection acked). `missed`
/// is what the hub the subscription came back on knows (see
/// missed_events).
///
/// A gap without `dropped` reaches the lifecycle actor before the `hub_up`
/// of the hub the subscription came back on.
///
/// With `dropped`, the hub delivered but dropped events for one of the bot's
/// actors because the bot's node did not take them in time (see
/// `registry_options`): `hub` is that hub (empty if the link to it failed
/// meanwhile), `since` and `until` are when it dropped the first and the last
/// of them, and `missed.count` is exact. They are one stretch: the hub sends
/// that actor nothing more until the node has caught up. Socket Mode
/// envelopes among them whose ack waited for the bot (`ack-after-delivery`,
/// a hub's default) are left to Slack with `redeliver-unclaimed` (also a
/// hub's default), which sends them again: they may still arrive, through
/// this hub or another. Without that option, and for envelopes acked on
/// arrival, they are lost for the bot. The report goes through the remote
/// subscription to the lifecycle actor, so it may reach the bot after some
/// later events. If the node goes away before the report, the count joins
/// `missed` of the next gap.
struct hub_gap {
  std::string workspace;
  /// The hub the subscription came back on (with `dropped`: that dropped).
  std::string hub;
  caf::timestamp since;
  caf::timestamp until;
  missed_events missed;
  /// The hub dropped what its window of unconfirmed events did not hold.
  bool dropped = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hub_gap& x) {
  return f(caf::meta::type_name("caf::rtm::hub::hub_gap"), x.workspace, x.hub,
           x.since, x.until, x.missed, x.dropped);
}

// -- status of a remote subscription ------------------------------------------

struct hub_link_status {
  /// host:port as configured.
  std::string hub;
  /// connecting, looking_up, subscribing, up, standby (RTM: looked up, not
  /// subscribed while another hub delivers), waiting (for the next attempt)
  /// or failed (fatal, or the attempt limit reached).
  std::string state;
  /// Failed attempts in a row.
  uint32_t failures = 0;
  caf::error last_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hub_link_status& x) {
  return f(caf::meta::type_name("caf::rtm::hub::hub_link_status"), x.hub,
           x.state, x.failures, x.last_error);
}

struct remote_subscription_status {
  std::string workspace;
  std::vector<hub_link_status> hubs;
  /// Hubs subscribed right now.
  uint64_t up = 0;
  /// Gaps reported so far.
  uint64_t gaps = 0;
  /// Envelopes dropped as already delivered through another hub.
  uint64_t duplicates = 0;
  /// Events (or envelopes) a hub dropped for this node's actors because the
  /// node did not take them in time (each drop also comes as a `hub_gap`).
  uint64_t dropped = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        remote_subscription_status& x) {
  return f(caf::meta::type_name("caf::rtm::hub::remote_subscription_status"),
           x.workspace, x.hubs, x.up, x.gaps, x.duplicates, x.dropped);
}

} // namespace caf::rtm::hub
