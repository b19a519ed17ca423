// The router of an RTM client: it owns what outlives a session and maps the
// messages it gets onto plain classes: subscriptions (subscription_table),
// the send pipeline (outbox), events both sessions deliver during a goodbye
// (overlap_filter) and the listener pool. The connection state machine lives
// in the supervisor, the Web API in the web-API caller; both are linked to
// the router, which is linked to the public handle's actor.

#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/interfaces.hpp"
#include "detail/listener_pool.hpp"
#include "detail/outbox.hpp"
#include "detail/overlap_filter.hpp"
#include "detail/subscription_table.hpp"

namespace caf::rtm::detail {

struct rtm_router_state {
  static inline const char* name = "caf.rtm.rtm_client";

  std::shared_ptr<const client_config> cfg;
  logger_ptr log;
  /// Why the configuration cannot work; `connect` fails with it.
  caf::error setup_error;
  web_api_actor api;
  session_control_actor supervisor;

  // -- delivery ---------------------------------------------------------------

  subscription_table subs;
  listener_pool pool;
  /// Events handed to the listener workers and not yet done.
  uint64_t callback_backlog = 0;
  /// Event batches not yet acknowledged to their connection because the
  /// callbacks lag behind.
  std::vector<caf::typed_response_promise<caf::ok_atom>> held_batches;
  /// The client's own bot (from auth.test); empty for user tokens.
  std::string own_bot_id;
  overlap_filter overlap;

  // -- sending ----------------------------------------------------------------

  std::optional<outbox> out;
  /// When the outbox's timer fires next (none: no timer).
  std::optional<caf::actor_clock::time_point> wakeup_at;

  // -- lifecycle --------------------------------------------------------------

  bool started = false;
  bool closing = false;
  caf::error fatal;
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
  /// Listener workers still ending after a close.
  std::vector<caf::actor_addr> ending_workers;

  /// Event and frame counters (the outbox and the supervisor add theirs).
  client_status stats;
};

rtm_router_actor::behavior_type
rtm_router(rtm_router_actor::stateful_pointer<rtm_router_state> self,
           client_config cfg);

} // namespace caf::rtm::detail
