#include "detail/socket_mode_router.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/behavior_with.hpp"
#include "detail/client_web_api.hpp"
#include "detail/frame_parser.hpp"
#include "detail/printable.hpp"
#include "detail/protocol.hpp"
#include "detail/slack_answers.hpp"
#include "detail/stray_errors.hpp"
#include "detail/supervisor.hpp"
#include "detail/token_file.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

using self_ptr =
    socket_mode_router_actor::stateful_pointer<socket_mode_router_state>;

// Slack silently drops acks above this size.
constexpr size_t max_ack_size = size_t{20} * 1024;

// Slack's last retry of an `events_api` envelope: it sends no copy after it.
constexpr uint32_t last_retry = 3;

// How long envelopes only a departed subscription wanted are left to Slack:
// as long as a hub keeps a node's record of what it missed. The node's bot
// subscribes again well before, or went for good.
constexpr caf::timespan departed_memory = std::chrono::hours{1};

// At most this many departed subscriptions are remembered, oldest dropped.
constexpr size_t max_departed = 256;

// The caller for a Web API call: the bot token's; without one, a call that
// brings its own token goes through the app token's caller (its token is
// replaced for the call); else none. A call for a workspace listed in
// `team_tokens` brings that workspace's token (unless it has its own).
caf::expected<web_api_actor> caller_for(self_ptr self, std::string& call_token,
                                        const std::string& team_id) {
  auto& st = self->state;
  if (call_token.empty() && !team_id.empty()) {
    const auto& tokens = st.cfg->team_tokens;
    if (auto i = tokens.find(team_id); i != tokens.end())
      call_token = i->second;
  }
  if (st.api)
    return st.api;
  if (!call_token.empty())
    return st.endpoint_api;
  if (st.cfg->team_tokens.empty())
    return make_error(errc::invalid_config, "Web API calls need a bot_token");
  return make_error(errc::invalid_config,
                    team_id.empty()
                        ? std::string{"a call names no team_id, and there is "
                                      "no bot_token for it"}
                        : "no token for team " + detail::printable(team_id) +
                              " (team_tokens) and no bot_token");
}

void report(self_ptr self, caf::error reason, std::string what) {
  CAF_RTM_LOG(self->state.log, warn, "client", what, ": ", render(reason));
  tell_lifecycle(self, error_event{std::move(reason), std::move(what)});
}

// The connects that waited for the bots of `team_tokens` go on to the
// supervisor, or fail if the client is closing.
void release_connects(self_ptr self, bool closing) {
  auto& st = self->state;
  auto waiting = std::move(st.connects_waiting);
  st.connects_waiting.clear();
  for (auto& rp : waiting) {
    if (closing)
      rp.deliver(make_error(errc::closed, "client is closed"));
    else
      rp.delegate(st.supervisor, connect_atom_v);
  }
}

// One answer of a lookup less out; the last lets the connects that wait go
// on.
void team_bot_answered(self_ptr self) {
  auto& st = self->state;
  if (--st.bots_asked == 0)
    release_connects(self, st.closing);
}

void on_team_bot(self_ptr self, const std::string& team, const identity& me) {
  auto& st = self->state;
  if (!me.team_id.empty() && me.team_id != team)
    CAF_RTM_LOG(st.log, warn, "client", "team_tokens[", team,
                "] is a token of team ", me.team_id);
  if (!me.bot_id.empty())
    st.team_bot_ids.insert(me.bot_id);
  st.teams_to_learn.erase(team);
  team_bot_answered(self);
}

// Only a passing failure is asked again (the network, a 5xx or 429 past the
// caller's retries, a transient Slack error): any other answer would be the
// same on the next connection.
void on_team_bot_failed(self_ptr self, const std::string& team,
                        caf::error err) {
  auto& st = self->state;
  // The client's own caller ends a call that was out when the client closed.
  if (st.closing)
    return team_bot_answered(self);
  auto passing = !is_fatal(err) && !is(err, errc::malformed_response) &&
                 (!is(err, errc::slack_error) ||
                  is_transient_slack_error(slack_error_code(err)));
  if (!passing)
    st.teams_to_learn.erase(team);
  report(self, std::move(err),
         "auth.test of team " + team +
             (passing ? " (asked again with the next connection)"
                      : ": its bot's own events are not recognised"));
  team_bot_answered(self);
}

// Asks auth.test which bot each workspace of `team_tokens` not known yet is,
// for `skip_own_events` (the supervisor asks for `bot_token`'s before it
// connects), then lets the connects that wait go on: the first connection
// waits for the answers, so that no own event slips through at the start.
// Failures are reported. A workspace that refuses the token for good (the
// app was uninstalled there) is not asked again; after a passing failure (the
// network, a 5xx or 429 past the caller's retries) it is asked again with the
// next connection.
void learn_team_bots(self_ptr self) {
  auto& st = self->state;
  if (st.bots_asked > 0) // the connects wait for the lookup under way
    return;
  if (st.teams_to_learn.empty())
    return release_connects(self, st.closing);
  auto api = st.api ? st.api : st.endpoint_api;
  for (const auto& team : st.teams_to_learn) {
    ++st.bots_asked;
    api_call call;
    call.method = "auth.test";
    call.token = st.cfg->team_tokens.at(team);
    self->request(api, caf::infinite, call_atom_v, std::move(call))
        .then(
            [self, team = team](json_object& answer) {
              auto me = to_identity(answer.value);
              if (me)
                on_team_bot(self, team, *me);
              else
                on_team_bot_failed(self, team, std::move(me.error()));
            },
            [self, team = team](caf::error& err) {
              on_team_bot_failed(self, team, std::move(err));
            });
  }
}

// Whether `bot_id` is the client's own bot, in its own workspace or in one
// of `team_tokens`.
bool own_bot(const socket_mode_router_state& st, std::string_view bot_id) {
  if (bot_id.empty())
    return false;
  return bot_id == st.own_bot_id ||
         (!st.team_bot_ids.empty() &&
          st.team_bot_ids.count(std::string{bot_id}) > 0);
}

// -- acks ---------------------------------------------------------------------

// Writes the ack of envelope `id` (with `payload`, if any) on the connection
// `session`.
void write_ack(self_ptr self, uint64_t session, const std::string& id,
               const std::optional<json::object>& payload) {
  auto& st = self->state;
  auto i = st.writers.find(session);
  if (i == st.writers.end()) {
    ++st.stats.acks_failed;
    report(self, make_error(errc::not_waiting, id),
           "cannot ack envelope " + id + ": its connection is gone");
    return;
  }
  json::object ack;
  ack["envelope_id"] = id;
  if (payload)
    ack["payload"] = *payload;
  caf::anon_send(i->second, ack_atom_v, id, json::serialize(ack));
  ++st.acks_sent[session];
  ++st.stats.envelopes_acked;
}

// `n` acks counted as written never were (their connection went first):
// they count as failed instead, and `what` says so.
void uncount_acks(self_ptr self, uint64_t n, caf::error reason,
                  std::string what) {
  auto& st = self->state;
  st.stats.envelopes_acked -= std::min(st.stats.envelopes_acked, n);
  st.stats.acks_failed += n;
  report(self, std::move(reason), std::move(what));
}

// Closes replaced session `session` unless an envelope of it still awaits
// its ack (sent after the acks written so far: they reach the socket first).
// The connection closes only if this router has all its batches by then;
// else it reads no more and the batch on its way here brings the next try.
void close_if_done(self_ptr self, uint64_t session) {
  auto& st = self->state;
  auto i = st.replaced.find(session);
  if (i == st.replaced.end())
    return;
  for (auto& [id, x] : st.awaiting)
    if (x.session == session)
      return;
  auto last = st.seen.find(session);
  auto seen = last != st.seen.end() ? last->second : uint64_t{0};
  auto& entry = i->second;
  if (entry.asked && *entry.asked >= seen)
    return; // asked with everything known; it closes or sends a batch
  entry.asked = seen;
  caf::anon_send(entry.conn, close_atom_v, uint16_t{1000}, seen);
}

// Leaves envelope `id`, which no subscriber took, unacked
// (`redeliver_unclaimed`): Slack sends it again, perhaps on a connection of
// another process of the app. The filter forgets it, so that a copy that
// comes here again is delivered.
void leave_to_slack(self_ptr self, const std::string& id,
                    const envelope_filter::keys& keys,
                    const std::vector<envelope_filter::keys>& copies = {}) {
  auto& st = self->state;
  st.filter.forget(keys);
  // Copies that came meanwhile were not acked either; should Slack send one
  // of them again, it is new too.
  for (const auto& key : copies)
    st.filter.forget(key);
  st.stats.envelopes_unclaimed += 1 + copies.size();
  // Counted as delivered when it went to the subscribers, which took nothing.
  --st.stats.events_delivered;
  CAF_RTM_LOG(st.log, debug, "client", "envelope ", id,
              " left unacked for Slack to send again: no subscriber took it");
}

// Whether `err`, a subscriber's answer to an envelope, says that it never
// took it: it ended first, or declined it (`errc::not_taken`, as a hub's
// relay whose window is full answers). Any other answer, an error included,
// is the subscriber's: a subscriber whose own queue is full
// (`send_queue_full`) took the envelope and failed with it.
bool not_taken(const caf::error& err) {
  return err == caf::sec::request_receiver_down || err == errc::not_taken;
}

// Takes the envelope at `i` out of `awaiting`, and its event out of
// `awaiting_events`.
socket_mode_router_state::awaiting_response
take_awaiting(self_ptr self,
              socket_mode_router_state::awaiting_map::iterator i) {
  auto& st = self->state;
  auto x = std::move(i->second);
  if (auto j = st.awaiting_events.find(x.keys.event);
      j != st.awaiting_events.end() && j->second == i->first)
    st.awaiting_events.erase(j);
  st.awaiting.erase(i);
  return x;
}

void close_if_answered(self_ptr self);

// Envelope `id` gets its ack now, or is left to Slack if nobody took it;
// `payload` is the first answer, if any.
void complete(self_ptr self, const std::string& id,
              const std::optional<json::object>& payload) {
  auto& st = self->state;
  auto i = st.awaiting.find(id);
  if (i == st.awaiting.end())
    return; // acked already (an answer after the deadline, say)
  auto x = take_awaiting(self, i);
  if (x.unclaimed())
    leave_to_slack(self, id, x.keys, x.copies);
  else
    write_ack(self, x.session, id, x.accepts_payload ? payload : std::nullopt);
  if (!st.replaced.empty())
    close_if_done(self, x.session);
  close_if_answered(self);
}

// Ends `close`'s wait: whatever still waits for an answer (what came after
// the close began) is acked empty, or left to Slack if nobody took it, and
// the connections close: the acks reach each connection's mailbox before
// its close does.
void close_now(self_ptr self) {
  auto& st = self->state;
  st.close_waits = false;
  std::vector<std::string> ids;
  for (auto& [id, x] : st.awaiting)
    ids.push_back(id);
  if (!ids.empty())
    report(self, make_error(errc::closed),
           std::to_string(ids.size()) +
               " envelope(s) still waited for their subscribers when the "
               "client closed: acked empty (or left to Slack if nobody took "
               "them)");
  for (auto& id : ids)
    complete(self, id, std::nullopt);
  close_sessions(self);
}

// `close` waits for the envelopes in `awaiting`: the last one answered ends
// its wait.
void close_if_answered(self_ptr self) {
  auto& st = self->state;
  if (st.close_waits && st.awaiting.empty())
    close_now(self);
}

// A subscriber answered envelope `id` without a payload (`taken`), or ended
// before it answered. `wait` is the wait it answered (see `generation`).
void on_no_payload(self_ptr self, const std::string& id, uint64_t wait,
                   bool taken);

// A subscriber answered envelope `id` with a payload.
void on_payload(self_ptr self, const std::string& id, uint64_t wait,
                json::object& payload) {
  auto i = self->state.awaiting.find(id);
  if (i == self->state.awaiting.end() || i->second.generation != wait)
    return;
  if (!i->second.accepts_payload)
    return on_no_payload(self, id, wait, true); // an answer all the same
  i->second.taken = true;
  auto size = json::serialize(payload).size();
  if (size + id.size() + 32 > max_ack_size) {
    report(self,
           make_error(errc::message_too_large,
                      std::to_string(size) + " bytes, limit " +
                          std::to_string(max_ack_size)),
           "response payload of envelope " + id + " refused");
    // As if that subscriber had no answer: another one may still have one.
    if (--i->second.pending_replies == 0)
      complete(self, id, std::nullopt);
    return;
  }
  complete(self, id, std::move(payload));
}

void on_no_payload(self_ptr self, const std::string& id, uint64_t wait,
                   bool taken) {
  auto& st = self->state;
  auto i = st.awaiting.find(id);
  if (i == st.awaiting.end() || i->second.generation != wait)
    return;
  if (taken)
    i->second.taken = true;
  if (--i->second.pending_replies == 0)
    complete(self, id, std::nullopt);
}

// -- delivery -----------------------------------------------------------------

// Whether a subscription whose node went away lately wanted `env`.
bool departed_wants(self_ptr self, const envelope& env) {
  auto& xs = self->state.departed;
  auto now = self->clock().now();
  while (!xs.empty() && xs.front().until <= now)
    xs.pop_front();
  return std::any_of(xs.begin(), xs.end(),
                     [&env](const auto& x) { return matches(x.types, env); });
}

// Subscriber `addr` ends because its node went away: what it wanted is left
// to Slack for a while (`redeliver_unclaimed`), as its bot may take it
// through another process of the app.
void remember_departed(self_ptr self, const caf::actor_addr& addr) {
  auto& st = self->state;
  for (auto& sub : st.subs.actors()) {
    if (sub.hdl.address() != addr)
      continue;
    // The same patterns again (a bot whose link flaps) take the place of
    // their earlier entry: they do not push out other bots' entries.
    auto& xs = st.departed;
    xs.erase(
        std::remove_if(xs.begin(), xs.end(),
                       [&sub](const auto& x) { return x.types == sub.types; }),
        xs.end());
    if (xs.size() == max_departed)
      xs.pop_front();
    xs.push_back({sub.types, self->clock().now() + departed_memory});
  }
}

// How long the subscribers of `env` have to answer. The ack deadline counts
// from when the I/O layer read the frame, so an envelope that waited in the
// client (its batch behind subscribers or callbacks that lag) has less of
// it, and is acked empty in time rather than answered after Slack gave up on
// it. One without a read time (parsed from text) has all of it, and so does
// one that may be left to Slack: what its deadline decides is whether a
// subscriber took it, not an ack in Slack's time (a late ack changes nothing
// Slack does, while leaving to Slack what a subscriber was still taking
// would deliver it twice).
caf::timespan answer_time(self_ptr self, const envelope& env,
                          bool redeliverable) {
  auto deadline = self->state.cfg->ack_deadline;
  auto read_at = frame_parser::read_at(env);
  if (redeliverable || read_at == std::chrono::steady_clock::time_point{})
    return deadline;
  auto waited = std::chrono::duration_cast<caf::timespan>(
      std::chrono::steady_clock::now() - read_at);
  return std::clamp(deadline - waited, caf::timespan{0}, deadline);
}

// Asks the subscribed actors of an envelope whose ack waits for them (one
// that accepts a response payload, or any with `ack_after_delivery`); acks it
// empty right away when nobody could answer, or leaves it to Slack
// (`redeliver_unclaimed`) when nobody took it: `claimed` tells whether a
// callback did. `keys` are its ids in the filter.
//
// With no actor for it, it is left only if nobody is subscribed to anything
// (the subscribers are gone: a hub that lost its bot, or restarted), or if a
// subscription whose node went away lately wanted it; with subscribers for
// other types only, nobody wants this one, and Slack's retries would only
// bring it back, four times in five minutes.
void request_payload(self_ptr self, const envelope& env,
                     const std::vector<caf::actor>& actors,
                     const envelope_filter::keys& keys, bool claimed) {
  auto& st = self->state;
  std::string id{env.id()};
  socket_mode_router_state::awaiting_response x;
  x.session = env.connection();
  x.pending_replies = actors.size();
  x.accepts_payload = env.accepts_response_payload();
  x.redeliverable = st.cfg->redeliver_unclaimed && env.type() == "events_api" &&
                    env.retry_attempt() < last_retry;
  x.taken = claimed;
  x.keys = keys;
  x.generation = st.next_generation++;
  auto wait = x.generation;
  if (actors.empty()) {
    if (x.unclaimed() &&
        ((st.subs.actors().empty() && st.subs.callbacks().empty()) ||
         departed_wants(self, env)))
      leave_to_slack(self, id, keys);
    else
      write_ack(self, x.session, id, std::nullopt);
    return;
  }
  if (x.redeliverable && x.keys.event != 0)
    st.awaiting_events[x.keys.event] = id;
  auto time_left = answer_time(self, env, x.redeliverable);
  st.awaiting[id] = std::move(x);
  for (auto& hdl : actors) {
    self->request(hdl, time_left, env)
        .then(
            [self, id, wait](json_object& payload) {
              on_payload(self, id, wait, payload.value);
            },
            [self, id, wait](caf::error& err) {
              // The deadline has its own timer; a subscriber that ended or
              // refused took nothing; anything else (no payload in the
              // reply, no handler) is an answer without payload.
              if (err != caf::sec::request_timeout)
                on_no_payload(self, id, wait, !not_taken(err));
            });
  }
  self->delayed_send(self, time_left, timeout_atom_v, id, wait);
}

void on_batch(self_ptr self, inbound_batch& batch) {
  auto& st = self->state;
  forward_frames(self, batch, batch.envelopes);
  st.stats.frames_malformed += batch.malformed;
  st.stats.frames_not_object += batch.not_object;
  st.stats.frames_binary += batch.binary;
  st.stats.frames_unknown += batch.unknown;
  st.stats.envelopes_acked += batch.acked;
  if (batch.acks_unwritten > 0) {
    // Read after its close frame went out: Slack redelivers the events it
    // retries (the filter drops the copy); slash commands it does not.
    st.stats.acks_failed += batch.acks_unwritten;
    report(self, make_error(errc::not_waiting),
           "cannot ack " + std::to_string(batch.acks_unwritten) +
               " envelope(s) of session " + std::to_string(batch.session) +
               ": read while its connection was closing");
  }
  st.acks_timed += batch.acked;
  st.ack_latency_sum += batch.ack_latency_sum;
  st.stats.ack_latency_max =
      std::max(st.stats.ack_latency_max, batch.ack_latency_max);
  auto now = self->clock().now();
  std::vector<std::vector<envelope>> runs;
  if (st.pool.started())
    runs.resize(st.pool.workers().size());
  actor_fanout<envelope_batch, envelope> to_actors{st.subs, st.messages.get()};
  st.messages_trim.note_use(self);
  // The filter's keys are taken a few envelopes ahead, so that their
  // lookups can be prefetched; a ring holds those taken and not yet checked.
  auto& envs = batch.envelopes;
  constexpr auto distance = envelope_filter::prefetch_distance;
  std::array<envelope_filter::keys, distance> ahead;
  auto take = [&](size_t i) {
    auto& k = ahead[i % distance];
    k = envelope_filter::keys_of(envs[i].id(), envs[i].event_id());
    st.filter.prefetch(k);
  };
  for (size_t i = 0; i < envs.size() && i < distance; ++i)
    take(i);
  for (size_t i = 0; i < envs.size(); ++i) {
    auto& env = envs[i];
    // A copy: taking the envelope `distance` ahead reuses its slot.
    auto ids = ahead[i % distance];
    if (i + distance < envs.size())
      take(i + distance);
    ++st.stats.events_received;
    // Acked on receipt by the connection, or here once its subscribers
    // answered.
    auto held = env.accepts_response_payload() || st.cfg->ack_after_delivery;
    // Recorded as a copy of the waiting envelope with its id (see below).
    auto same_id_copy = false;
    auto skip = [&] {
      if (!held)
        return;
      // A copy with the id of an envelope that still waits for its
      // subscribers' answer gets no ack of its own: an empty ack now would
      // settle the envelope before the answer (a slash command's reply
      // lost), and the original's ack answers for both, on the copy's
      // connection if the original's goes first.
      std::string id{env.id()};
      auto same = st.awaiting.find(id);
      if (same != st.awaiting.end()) {
        auto& xs = same->second.copy_sessions;
        if (env.connection() != same->second.session &&
            std::find(xs.begin(), xs.end(), env.connection()) == xs.end())
          xs.push_back(env.connection());
      }
      // Every copy gets its ack, except a copy of an envelope that still
      // waits for its subscribers and may be left to Slack: acked, it would
      // end Slack's retries. It shares that envelope's fate: left to Slack,
      // or, once that one is acked, Slack's next copy (if any) is acked as
      // a duplicate.
      if (!same_id_copy && ids.event != 0 && env.retry_attempt() < last_retry) {
        if (auto i = st.awaiting_events.find(ids.event);
            i != st.awaiting_events.end()) {
          if (auto w = st.awaiting.find(i->second); w != st.awaiting.end()) {
            // Its event is the one that waits: forgotten with it.
            w->second.copies.push_back({ids.envelope, 0});
            return;
          }
          st.awaiting_events.erase(i); // its envelope waits no more
        }
      }
      if (same == st.awaiting.end())
        write_ack(self, env.connection(), id, std::nullopt);
    };
    auto seen = st.filter.seen(ids, now);
    if (!seen && held && !st.awaiting.empty()) {
      // An id that still waits for its subscribers is a copy even if the
      // filter forgot it (a server reusing ids for other events): a second
      // entry under that id would replace the first one's books. What it
      // carries shares the first one's fate: forgotten and counted with it
      // if that one is left to Slack, so that Slack's next copy is new.
      if (auto i = st.awaiting.find(std::string{env.id()});
          i != st.awaiting.end()) {
        i->second.copies.push_back(ids);
        seen = same_id_copy = true;
      }
    }
    if (seen) {
      ++st.stats.events_duplicate;
      skip();
      continue;
    }
    if (st.cfg->skip_own_events && own_bot(st, env.bot_id())) {
      ++st.stats.events_own_skipped;
      skip();
      continue;
    }
    ++st.stats.events_delivered;
    if (held) {
      // Batched subscribers too: each answers for itself, once, and gets
      // this envelope after the ones before it in the batch.
      to_actors.flush();
      std::vector<caf::actor> actors;
      st.subs.for_each_actor(env, [&actors](const auto& sub, size_t) {
        if (std::find(actors.begin(), actors.end(), sub.hdl) == actors.end())
          actors.push_back(sub.hdl);
      });
      request_payload(self, env, actors, ids,
                      !runs.empty() && st.subs.callback_wants(env));
    } else {
      to_actors.deliver(env, i + 1 < envs.size() ? &envs[i + 1] : nullptr);
    }
    if (!runs.empty() && st.subs.callback_wants(env))
      runs[st.pool.pick(env.channel())].push_back(env);
  }
  to_actors.flush();
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].empty())
      continue;
    hand_to_worker(self, st.pool.workers()[i], runs[i].size());
    self->send(st.pool.workers()[i], std::move(runs[i]));
  }
}

// -- sessions -----------------------------------------------------------------

// Acks go to `conn` for `session` from now on. The router watches it: a
// connection that ends before its hello is a failed attempt to the
// supervisor, which then sends no `disconnected`, yet its batches (a server
// may send envelopes before the hello) came here all the same.
void add_writer(self_ptr self, uint64_t session, frame_writer_actor conn) {
  auto& writers = self->state.writers;
  if (auto i = writers.find(session); i != writers.end()) {
    if (i->second == conn)
      return;
    self->demonitor(i->second.address());
  }
  self->monitor(conn);
  writers[session] = std::move(conn);
}

// Connection `session` is gone: envelopes of it that waited for an answer
// cannot be acked any more; Slack redelivers what it retries.
void forget_connection(self_ptr self, uint64_t session) {
  auto& st = self->state;
  st.replaced.erase(session);
  st.seen.erase(session);
  if (auto i = st.writers.find(session); i != st.writers.end()) {
    self->demonitor(i->second.address());
    st.writers.erase(i);
  }
  for (auto i = st.awaiting.begin(); i != st.awaiting.end();) {
    if (i->second.session != session) {
      ++i;
      continue;
    }
    // A copy came on a connection that is still there: the ack goes there.
    auto& xs = i->second.copy_sessions;
    xs.erase(std::remove_if(xs.begin(), xs.end(),
                            [&st, session](uint64_t x) {
                              return x == session || st.writers.count(x) == 0;
                            }),
             xs.end());
    if (!xs.empty()) {
      i->second.session = xs.front();
      xs.erase(xs.begin());
      ++i;
      continue;
    }
    auto id = i->first;
    auto x = take_awaiting(self, i++);
    // Not acked either way; what nobody took yet may come again here.
    if (x.unclaimed()) {
      leave_to_slack(self, id, x.keys, x.copies);
      continue;
    }
    ++st.stats.acks_failed;
    report(self, make_error(errc::not_waiting, id),
           "cannot ack envelope " + id + ": its connection is gone");
  }
  close_if_answered(self);
}

void on_session_down(self_ptr self, disconnected& msg) {
  self->state.acks_sent.erase(msg.session); // drained before, if at all
  forget_connection(self, msg.session);
  tell_lifecycle(self, msg);
}

// A watched actor is gone: a connection (see add_writer) or a subscriber.
void on_actor_down(self_ptr self, caf::down_msg& dm) {
  for (auto& [session, conn] : self->state.writers)
    if (conn.address() == dm.source) {
      self->state.acks_sent.erase(session); // drained before, if at all
      return forget_connection(self, session);
    }
  if (self->state.cfg->redeliver_unclaimed &&
      dm.reason == caf::exit_reason::remote_link_unreachable)
    remember_departed(self, dm.source);
  on_down(self, dm);
}

caf::result<client_status> client_status_of(self_ptr self) {
  return status(self, [self](client_status& result) {
    auto& st = self->state;
    result.duplicate_ids_evicted = st.filter.evicted();
    if (st.acks_timed > 0)
      result.ack_latency_mean =
          st.ack_latency_sum / static_cast<int64_t>(st.acks_timed);
  });
}

} // namespace

socket_mode_router_actor::behavior_type socket_mode_router(
    socket_mode_router_actor::stateful_pointer<socket_mode_router_state> self,
    client_config cfg) {
  auto& st = self->state;
  cfg.app_token = trim_token(cfg.app_token);
  cfg.bot_token = trim_token(cfg.bot_token);
  // The file's tokens are newer than the configured ones.
  auto from_file = load_token_file(cfg.rotation, cfg.bot_token);
  std::vector<std::string> secrets{cfg.app_token, cfg.bot_token};
  for (auto& [team, token] : cfg.team_tokens) {
    token = trim_token(token);
    secrets.push_back(token);
  }
  cfg.log = make_logger(cfg.log, secrets);
  st.log = cfg.log;
  if (from_file && *from_file)
    CAF_RTM_LOG(st.log, info, "client", "the tokens of ", cfg.rotation.file,
                " replace the configured ones");
  st.setup_error = from_file ? cfg.validate(client_kind::socket_mode)
                             : std::move(from_file.error());
  if (st.setup_error)
    CAF_RTM_LOG(st.log, error, "client", render(st.setup_error));
  st.cfg = std::make_shared<const client_config>(cfg);
  if (cfg.skip_own_events)
    for (const auto& entry : cfg.team_tokens)
      st.teams_to_learn.insert(entry.first);
  // The app token opens connections, the bot token makes Web API calls; each
  // has its own caller.
  auto endpoint_cfg = cfg;
  endpoint_cfg.token = cfg.app_token;
  endpoint_cfg.team_tokens.clear();
  // It calls once per connection, hours apart: a connection kept alive for
  // the next call would only hold a TLS session's buffers (~80 KB) idle.
  // Unless it makes the workspaces' calls too, with no bot caller.
  if (cfg.bot_token.empty() && !cfg.api && !cfg.team_tokens.empty())
    endpoint_cfg.api_keep_alive = cfg.api_keep_alive;
  else
    endpoint_cfg.api_keep_alive = caf::timespan{0};
  // App-level tokens do not rotate; the bot token's caller does.
  endpoint_cfg.rotation = token_rotation{};
  st.endpoint_api = self->spawn<caf::linked>(client_web_api, endpoint_cfg,
                                             caf::actor_cast<caf::actor>(self));
  st.own_apis.push_back(st.endpoint_api);
  if (cfg.api) {
    st.api = cfg.api; // the user's, shared: never closed by the client
  } else if (!cfg.bot_token.empty()) {
    auto api_cfg = cfg;
    api_cfg.token = cfg.bot_token;
    api_cfg.team_tokens.clear(); // the client picks them per call
    st.api = self->spawn<caf::linked>(client_web_api, api_cfg,
                                      caf::actor_cast<caf::actor>(self));
    st.own_apis.push_back(st.api);
  }
  supervisor_args args;
  args.cfg = st.cfg;
  args.proto = make_socket_mode_protocol(*st.cfg);
  args.target = st.cfg->connections;
  args.router = caf::actor_cast<session_listener_actor>(self);
  args.batch_sink = caf::actor_cast<batch_sink_actor>(self);
  args.api = st.api;
  args.endpoint_api = st.endpoint_api;
  st.supervisor = self->spawn<caf::linked>(supervisor, std::move(args));
  st.sessions_closed = [self] {
    self->state.awaiting.clear();
    self->state.awaiting_events.clear();
  };
  self->set_down_handler(
      [self](caf::down_msg& dm) { on_actor_down(self, dm); });
  ignore_stray_errors(self);
  return behavior_with<socket_mode_router_actor::behavior_type>(
      shared_handlers<envelope_listener>(self),
      // -- what users send (through the public handle) ------------------------
      [self](disconnect_atom) -> caf::result<caf::ok_atom> {
        // Envelopes both connections deliver meanwhile: the filter.
        return self->delegate(self->state.supervisor, disconnect_atom_v);
      },
      [self](connect_atom) -> caf::result<connected> {
        auto& st = self->state;
        if (st.setup_error)
          return st.setup_error;
        if (st.closing)
          return make_error(errc::closed, "client is closed");
        auto first = !st.started;
        st.started = true;
        // While the first lookup of the workspaces' bots runs, every connect
        // waits for it.
        if ((first && !st.teams_to_learn.empty()) ||
            !st.connects_waiting.empty()) {
          st.connects_waiting.push_back(
              self->make_response_promise<connected>());
          auto rp = st.connects_waiting.back();
          if (first)
            learn_team_bots(self);
          return rp;
        }
        return self->delegate(st.supervisor, connect_atom_v);
      },
      [self](call_atom, std::string& method,
             api_args& args) -> caf::result<json_object> {
        auto& st = self->state;
        if (!st.api)
          return make_error(errc::invalid_config,
                            "Web API calls need a bot_token");
        return self->delegate(st.api, call_atom_v, std::move(method),
                              std::move(args));
      },
      [self](call_atom, api_call& call) -> caf::result<json_object> {
        auto api = caller_for(self, call.token, call.team_id);
        if (!api)
          return std::move(api.error());
        return self->delegate(*api, call_atom_v, std::move(call));
      },
      [self](call_atom, api_call& call,
             all_pages_atom) -> caf::result<std::vector<json_object>> {
        auto api = caller_for(self, call.token, call.team_id);
        if (!api)
          return std::move(api.error());
        return self->delegate(*api, call_atom_v, std::move(call),
                              all_pages_atom_v);
      },
      [self](call_atom, api_call& call,
             caf::actor& sink) -> caf::result<uint64_t> {
        auto api = caller_for(self, call.token, call.team_id);
        if (!api)
          return std::move(api.error());
        return self->delegate(*api, call_atom_v, std::move(call),
                              std::move(sink));
      },
      [self](upload_atom, file_upload& file) -> caf::result<json_object> {
        auto api = caller_for(self, file.token, file.team_id);
        if (!api)
          return std::move(api.error());
        return self->delegate(*api, upload_atom_v, std::move(file));
      },
      // Needs no token: the bot's caller if there is one, else the one that
      // opens connections.
      [self](webhook_atom, webhook_post& post) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        return self->delegate(st.api ? st.api : st.endpoint_api, webhook_atom_v,
                              std::move(post));
      },
      // The same caller: the one that makes the bot's calls if there is one.
      [self](status_atom x, call_atom y) -> caf::result<api_status> {
        auto& st = self->state;
        return self->delegate(st.api ? st.api : st.endpoint_api, x, y);
      },
      [self](close_atom) -> caf::result<caf::ok_atom> {
        // A connect that waits for the workspaces' bots gets its answer now:
        // the lookup may outlive the client (a shared caller's).
        release_connects(self, true);
        return start_close(self, [self] {
          auto& st = self->state;
          if (st.awaiting.empty())
            return true;
          // A slash command's reply on its way must not be lost to a
          // restart: the connections stay until the envelopes that wait
          // have their answers, or for `ack_deadline` (each one's own
          // deadline ends its wait within that time too).
          st.close_waits = true;
          self->delayed_send(self, st.cfg->ack_deadline, timeout_atom_v,
                             close_atom_v);
          return false;
        });
      },
      [self](status_atom) -> caf::result<client_status> {
        return client_status_of(self);
      },
      // -- from connections ---------------------------------------------------
      [self](inbound_batch& batch) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        auto session = batch.session;
        if (batch.closing) {
          // Nothing can be written on it any more: what waits for an answer
          // fails now, this batch's envelopes once answered.
          forget_connection(self, session);
        } else {
          // The connection's first batch may come before the supervisor's
          // word that its session is up (they take different paths), and an
          // envelope answered meanwhile needs the writer: the sender is it.
          if (st.writers.count(session) == 0)
            if (auto conn =
                    caf::actor_cast<frame_writer_actor>(self->current_sender()))
              add_writer(self, session, std::move(conn));
          st.seen[session] = batch.seq;
        }
        on_batch(self, batch);
        if (!batch.closing)
          close_if_done(self, session);
        return batch_done(self);
      },
      [](written_atom, int64_t) {
        // RTM only: Socket Mode sends nothing but acks.
      },
      [](unsent_atom, int64_t) {
        // Likewise.
      },
      [self](unsent_atom, const std::string& id) {
        // The connection had begun to close (not at this router's request)
        // before the ack reached it.
        uncount_acks(self, 1, make_error(errc::not_waiting, id),
                     "cannot ack envelope " + id +
                         ": its connection was closing");
      },
      [self](unsent_atom, uint64_t session, uint32_t n) {
        // Acks queued in the I/O layer when the socket ended.
        uncount_acks(self, n, make_error(errc::not_waiting),
                     "cannot ack " + std::to_string(n) +
                         " envelope(s) of session " + std::to_string(session) +
                         ": the connection ended before they were written");
      },
      [self](const session_drained& msg) {
        // The connection's last word (after all its batches): it writes
        // nothing more, though its down message may still be on its way.
        // Answers that come meanwhile must not count as acks, nor those
        // that reached it after its last word.
        // (A closing batch may have made the router forget the connection
        // already: the count of acks sent stays until here.)
        auto& st = self->state;
        if (auto i = st.acks_sent.find(msg.session); i != st.acks_sent.end()) {
          if (i->second > msg.acks_taken) {
            auto n = i->second - msg.acks_taken;
            uncount_acks(self, n, make_error(errc::not_waiting),
                         "cannot ack " + std::to_string(n) +
                             " envelope(s) of session " +
                             std::to_string(msg.session) +
                             ": they reached its connection after it ended");
          }
          st.acks_sent.erase(i);
        }
        forget_connection(self, msg.session);
      },
      // -- from the supervisor ------------------------------------------------
      [self](connected& info, frame_writer_actor& conn) {
        add_writer(self, info.session, std::move(conn));
        tell_lifecycle(self, info);
        // Workspaces whose bot a passing failure kept unknown.
        if (!self->state.closing)
          learn_team_bots(self);
      },
      [self](close_atom, uint64_t session, session_closer_actor& conn) {
        // Make-before-break: the envelopes that wait for an answer on the old
        // connection get their acks there first (a slash command is never
        // redelivered). A connection forgotten already is gone: nothing to
        // close, and an entry now would never be removed.
        if (self->state.writers.count(session) == 0)
          return;
        self->state.replaced.try_emplace(
            session, socket_mode_router_state::replaced_session{std::move(conn),
                                                                std::nullopt});
        close_if_done(self, session);
      },
      [self](disconnected& msg) { on_session_down(self, msg); },
      [](const sessions_idle&) {
        // Nothing waits for a session: Socket Mode sends nothing but acks.
      },
      [self](const fatal_event& msg) {
        self->state.fatal = msg.reason;
        tell_lifecycle(self, msg);
      },
      // -- its own timers -----------------------------------------------------
      [self](timeout_atom, close_atom) {
        if (self->state.close_waits)
          close_now(self);
      },
      [self](timeout_atom, const std::string& id, uint64_t wait) {
        auto& st = self->state;
        auto i = st.awaiting.find(id);
        // Not there: answered by now. Another wait: the timer of an earlier
        // envelope with this id, left to Slack and sent again.
        if (i == st.awaiting.end() || i->second.generation != wait)
          return;
        // Unless nobody took it: then it is left to Slack.
        if (!i->second.unclaimed()) {
          ++st.stats.acks_late;
          report(self, make_error(errc::no_response, id),
                 (i->second.accepts_payload
                      ? "no response payload for envelope "
                      : "no answer from the subscribers of envelope ") +
                     id + " by ack_deadline; acked empty");
        }
        complete(self, id, std::nullopt);
      });
}

} // namespace caf::rtm::detail
