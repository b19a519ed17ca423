// The RTM client actor: what users spawn and talk to.
//
//   auto rtm = sys.spawn(caf::rtm::client, cfg);
//   self->request(rtm, 30s, caf::rtm::connect_atom_v).receive(...);
//
// It owns what outlives a session: subscriptions, the listener pool, the
// outgoing queue with its ids, acks and rate limiter, and the counters. The
// connection state machine lives in the supervisor, the Web API in the web-API
// caller; both are linked to the client.

#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/actors.hpp"
#include "caf/rtm/client_config.hpp"
#include "caf/rtm/listener_pool.hpp"
#include "caf/rtm/overlap_filter.hpp"
#include "caf/rtm/token_bucket.hpp"

namespace caf::rtm {

struct client_state {
  static inline const char* name = "caf.rtm.client";

  using time_point = caf::actor_clock::time_point;

  struct subscriber {
    caf::actor hdl;
    std::vector<std::string> types;
  };

  struct callback_entry {
    uint64_t id;
    std::vector<std::string> types;
  };

  /// A message waiting for its turn (session down or rate limited).
  struct queued_message {
    /// Compact JSON without "id"; the id is spliced in when it is sent.
    std::string body;
    caf::typed_response_promise<send_ack> rp;
  };

  /// A message sent and not acked yet.
  struct awaiting_ack {
    caf::typed_response_promise<send_ack> rp;
    uint64_t session = 0;
    /// Its session ended before the ack.
    bool orphaned = false;
    /// Kept until the ack: a message the connection could not write goes
    /// out again on the next session.
    std::string body;
  };

  struct awaiting_pong {
    caf::typed_response_promise<caf::timespan> rp;
    time_point sent;
  };

  std::shared_ptr<const client_config> cfg;
  logger_ptr log;
  caf::error setup_error;
  web_api_actor api;
  supervisor_actor supervisor;

  // -- delivery ---------------------------------------------------------------

  std::vector<subscriber> subscribers;
  std::vector<caf::actor> lifecycle_subscribers;
  std::vector<callback_entry> callbacks;
  uint64_t next_callback_id = 1;
  listener_pool pool;
  /// The client's own bot (from auth.test); empty for user tokens.
  std::string own_bot_id;
  overlap_filter overlap;

  // -- sessions and sending
  // ------------------------------------------------------

  bool started = false;
  bool closing = false;
  caf::error fatal;
  uint64_t session = 0;
  connection_actor conn;
  int64_t next_id = 1;
  std::deque<queued_message> queue;
  /// Messages sent to a connection that could not write them any more; they
  /// go out again before the queue.
  std::deque<queued_message> unsent;
  std::unordered_map<int64_t, awaiting_ack> acks;
  std::unordered_map<int64_t, awaiting_pong> pongs;
  std::unique_ptr<token_bucket> bucket;
  bool tick_scheduled = false;
  std::unordered_map<std::string, time_point> last_typing;
  std::vector<caf::typed_response_promise<caf::ok_atom>> close_promises;
  /// Events handed to the listener workers and not yet done.
  uint64_t callback_backlog = 0;
  /// Event batches not yet acknowledged to their connection because the
  /// callbacks lag behind.
  std::vector<caf::typed_response_promise<caf::ok_atom>> held_batches;
  /// Listener workers still ending after a close.
  std::vector<caf::actor_addr> ending_workers;

  client_status stats;
};

/// Spawn with `sys.spawn(caf::rtm::client, cfg)`; see client_actor for the
/// messages it understands.
client_actor::behavior_type
client(client_actor::stateful_pointer<client_state> self, client_config cfg);

/// Spawns a client configured from the `caf-rtm.*` options of the system's
/// configuration (see add_options).
client_actor spawn_client(caf::actor_system& sys);

} // namespace caf::rtm
