// The router of an RTM client: it owns what outlives a session and maps the
// messages it gets onto plain classes: subscriptions (subscription_table),
// the send pipeline (outbox), events both sessions deliver during a goodbye
// (overlap_filter) and the listener pool. The connection state machine lives
// in the supervisor, the Web API in the web-API caller; both are linked to
// the router, which is linked to the public handle's actor.

#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/interfaces.hpp"
#include "detail/outbox.hpp"
#include "detail/overlap_filter.hpp"
#include "detail/router_base.hpp"

namespace caf::rtm::detail {

struct rtm_router_state : router_base {
  static inline const char* name = "caf.rtm.rtm_client";

  web_api_actor api;
  overlap_filter overlap;
  std::optional<outbox> out;
  /// When the outbox's timer fires next (none: no timer).
  std::optional<caf::actor_clock::time_point> wakeup_at;
  /// Users whose presence changes the client subscribed to; `presence_sub`
  /// goes out again after every hello.
  std::vector<std::string> presence_users;
  /// `connect` requests the supervisor has not answered yet: a
  /// `sessions_idle` it sent before it took them is stale.
  size_t connects_pending = 0;
  /// Sessions whose end (drained, or goodbye) reached the router before
  /// their `connected` from the supervisor (the connection tells the router
  /// directly, and nothing orders that against the supervisor's word): no
  /// send goes out on them. The newest few; older ones never come up.
  std::vector<uint64_t> ended_before_up;
  /// The newest session whose `connected` came.
  uint64_t newest_up = 0;
};

rtm_router_actor::behavior_type
rtm_router(rtm_router_actor::stateful_pointer<rtm_router_state> self,
           client_config cfg);

} // namespace caf::rtm::detail
