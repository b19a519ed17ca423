// The router of a Socket Mode client: it delivers each envelope once
// (envelope_filter) to the subscribed actors and the listener pool, collects
// response payloads for envelopes that accept one and acks those on the
// connection they came on (every other envelope was acked by its connection
// on receipt). The connections live in the supervisor, which keeps
// `connections` of them live.

#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "caf/rtm/client_config.hpp"
#include "detail/envelope_filter.hpp"
#include "detail/interfaces.hpp"
#include "detail/router_base.hpp"

namespace caf::rtm::detail {

struct socket_mode_router_state : router_base {
  static inline const char* name = "caf.rtm.socket_mode_client";

  /// An envelope whose ack waits for its subscribers: one that accepts a
  /// response payload, or any with `ack_after_delivery`.
  struct awaiting_response {
    /// The connection it came on: the ack goes there.
    uint64_t session = 0;
    /// Subscribed actors that have not answered yet.
    size_t pending_replies = 0;
    /// False: the ack carries no payload, whatever the answer.
    bool accepts_payload = true;
    /// Left unacked unless a subscriber takes it (`redeliver_unclaimed`).
    bool redeliverable = false;
    /// A subscribed actor answered (an actor that ended did not).
    bool taken = false;
    /// Its ids in the filter: forgotten when it is left to Slack.
    envelope_filter::keys keys;
    /// Left to Slack when its wait ends: nobody took it, and Slack sends
    /// it again.
    bool unclaimed() const {
      return redeliverable && !taken;
    }
    /// The filter keys of copies that came meanwhile and were not acked:
    /// they share its fate.
    std::vector<envelope_filter::keys> copies;
    /// Other connections a copy with the same envelope id came on (Slack
    /// sends it again elsewhere when its connection goes): the ack goes to
    /// one of them if `session` ends first.
    std::vector<uint64_t> copy_sessions;
    /// Which wait this is: a copy that Slack sent again after the first wait
    /// was left to it waits under the same id, and the late answers to the
    /// first wait's requests and its deadline timer must not settle it.
    uint64_t generation = 0;
  };

  /// Web API calls with the bot token (null without one).
  web_api_actor api;
  /// apps.connections.open with the app-level token (and, without `api`,
  /// the calls with a token of their own or of `team_tokens`).
  web_api_actor endpoint_api;
  /// The bots of `team_tokens` (auth.test): their events are the client's
  /// own too.
  std::unordered_set<std::string> team_bot_ids;
  /// Workspaces of `team_tokens` whose bot is not known yet (with
  /// `skip_own_events`): asked for at the first connect and again with each
  /// new connection until they answer or refuse the token for good.
  std::set<std::string> teams_to_learn;
  /// auth.test requests for `teams_to_learn` that have not answered yet.
  size_t bots_asked = 0;
  /// Connects that wait for the first lookup of the workspaces' bots.
  std::vector<caf::typed_response_promise<connected>> connects_waiting;
  envelope_filter filter;
  /// The next `awaiting_response::generation`.
  uint64_t next_generation = 1;
  /// A session the supervisor replaced: closed once no envelope of it awaits
  /// its ack.
  struct replaced_session {
    session_closer_actor conn;
    /// The close went out with this `seen` (its batches up to there); the
    /// connection waits if it handed over more.
    std::optional<uint64_t> asked;
  };

  /// The patterns of an actor subscription that ended because the actor's
  /// node went away, remembered until `until`.
  struct departed_subscription {
    std::vector<std::string> types;
    caf::actor_clock::time_point until;
  };

  /// Subscriptions whose node went away lately, oldest first
  /// (`redeliver_unclaimed`): an envelope only they wanted is left to Slack
  /// even while others are subscribed to other types.
  std::deque<departed_subscription> departed;

  /// Where to write acks, by live session.
  std::map<uint64_t, frame_writer_actor> writers;
  /// Acks sent to each live session's connection: those it did not take
  /// before it ended were lost with it.
  std::map<uint64_t, uint64_t> acks_sent;
  /// The latest batch (`inbound_batch::seq`) of each live session.
  std::map<uint64_t, uint64_t> seen;
  using awaiting_map = std::unordered_map<std::string, awaiting_response>;
  awaiting_map awaiting;
  /// The envelopes in `awaiting` that are left to Slack unless taken, by
  /// event id (filter key): a copy of one that comes meanwhile is not acked,
  /// which would end Slack's retries of an envelope nobody may take.
  std::unordered_map<uint64_t, std::string> awaiting_events;
  std::map<uint64_t, replaced_session> replaced;
  /// `close` waits for the subscribers' answers to the envelopes in
  /// `awaiting` (at most `ack_deadline`) before it closes the connections.
  bool close_waits = false;
  /// Acks on receipt (from the connections' batches).
  uint64_t acks_timed = 0;
  caf::timespan ack_latency_sum{0};
};

socket_mode_router_actor::behavior_type socket_mode_router(
    socket_mode_router_actor::stateful_pointer<socket_mode_router_state> self,
    client_config cfg);

} // namespace caf::rtm::detail
