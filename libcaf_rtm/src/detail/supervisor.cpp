#include "detail/supervisor.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/backoff.hpp"
#include "detail/slack_answers.hpp"
#include "detail/stray_errors.hpp"
#include "net/url.hpp"

namespace caf::rtm::detail {

std::string to_string(supervisor_state::phase x) {
  using phase = supervisor_state::phase;
  switch (x) {
  case phase::idle:
    return "idle";
  case phase::connecting:
    return "connecting";
  case phase::connected:
    return "connected";
  case phase::reconnecting:
    return "reconnecting";
  case phase::closing:
    return "closing";
  case phase::closed:
    return "closed";
  case phase::failed:
    return "failed";
  }
  return "?";
}

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;
using phase = supervisor_state::phase;

bool stopping(self_ptr self) {
  auto s = self->state.state;
  return s == phase::closing || s == phase::closed || s == phase::failed;
}

bool live(const supervisor_state::session_entry& x) {
  return x.up_since && !x.ending;
}

// Sessions that said hello and did not announce their end; with
// `staying_only`, those that did not say goodbye while reconnecting was off
// either (they stay, and `connect` answers with them).
size_t live_count(self_ptr self, bool staying_only = false) {
  size_t n = 0;
  for (auto& [id, x] : self->state.sessions)
    if (live(x) && !(staying_only && x.goodbye_unanswered))
      ++n;
  return n;
}

// Whether a session still delivers: a live one, or one on its way out that
// is still up (a user's `disconnect` ended it, or it said goodbye): it stays
// until its successor says hello or its server ends it, so the attempts for
// that successor must not end the client meanwhile. Not one that said
// goodbye soon after hello: that was a failure itself (else a server that
// does so to every session, with several connections, would always leave
// one such session up, and the cap would never apply).
bool one_delivers(self_ptr self) {
  for (auto& [id, x] : self->state.sessions)
    if (x.up_since && !x.ended_young)
      return true;
  return false;
}

// The newest live session (0: none): the one RTM sends on.
uint64_t newest_live(self_ptr self) {
  auto& xs = self->state.sessions;
  for (auto i = xs.rbegin(); i != xs.rend(); ++i)
    if (live(i->second))
      return i->first;
  return 0;
}

// Whether the client may start another attempt: while reconnecting is on,
// or to open the connections a `connect` asked for (see `filling`). An
// attempt that was running when reconnecting was switched off opens its
// session, but no further one follows it.
bool may_add(self_ptr self) {
  auto& st = self->state;
  return st.auto_reconnect || st.filling;
}

// Fewer sessions live (or on their way) than the client should run.
bool wants_more(self_ptr self) {
  auto& st = self->state;
  return live_count(self) + (st.attempt_running ? 1 : 0) < st.args.target;
}

// The phase after sessions came or went.
void update_phase(self_ptr self) {
  auto& st = self->state;
  if (stopping(self))
    return;
  if (live_count(self) > 0)
    st.state = phase::connected;
  else
    st.state = st.sessions_up == 0 ? phase::connecting : phase::reconnecting;
}

connected make_connected(self_ptr self, uint64_t session, rtm_endpoint ep,
                         const hello_info& hello) {
  ep.url.clear(); // a used single-use URL; nobody needs it
  connected result{session,
                   std::move(ep),
                   hello.num_connections,
                   hello.approximate_connection_time,
                   hello.app_id,
                   identity{}};
  if (self->state.me)
    result.self = *self->state.me;
  return result;
}

void close_sessions(self_ptr self) {
  for (auto& [id, entry] : self->state.sessions)
    self->send(entry.conn, close_atom_v, uint16_t{1000});
}

// A session `disconnect` ended waits for its successor's hello to close.
// Session `id` closes through the router, which first writes the acks owed
// on it (a slash command's answer is never redelivered). From here on it is
// neither live nor closed again.
void close_session(self_ptr self, uint64_t id,
                   supervisor_state::session_entry& entry) {
  entry.up_since.reset();
  entry.closing_via_router = true;
  self->send(self->state.args.router, close_atom_v, id,
             session_closer_actor{entry.conn});
}

void maybe_finish_close(self_ptr self) {
  auto& st = self->state;
  if (st.state != phase::closing || !st.sessions.empty())
    return;
  st.state = phase::closed;
  for (auto& rp : st.close_promises)
    rp.deliver(caf::ok_atom_v);
  st.close_promises.clear();
  self->quit();
}

// Answers every waiting `connect` with `x` (the session, or why none).
template <class T>
void answer_connects(self_ptr self, const T& x) {
  auto& st = self->state;
  for (auto& rp : st.connect_promises)
    rp.deliver(x);
  st.connect_promises.clear();
}

void enter_failed(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  st.state = phase::failed;
  st.fatal = err;
  ++st.retry_token;
  CAF_RTM_LOG(st.log, error, "supervisor", "giving up: ", render(err));
  self->send(st.args.router, fatal_event{err});
  answer_connects(self, err);
  // Sessions that are up close through the router, which first writes the
  // acks owed on them: Slack refusing a successor for good (a revoked
  // token) must not cost the answer to a slash command on the old one.
  // Those the router closes already are left to it.
  for (auto& [id, entry] : st.sessions) {
    if (entry.up_since)
      close_session(self, id, entry);
    else if (!entry.closing_via_router)
      self->send(entry.conn, close_atom_v, uint16_t{1000});
  }
}

void start_attempt(self_ptr self);

// Closes the oldest session that announced its end and is still up; returns
// its id (0: there is none).
uint64_t close_oldest_leaving(self_ptr self) {
  for (auto& [id, entry] : self->state.sessions) {
    if (entry.ending && entry.up_since) {
      close_session(self, id, entry);
      return id;
    }
  }
  return 0;
}

// With reconnecting switched off meanwhile, no successor comes but the one
// of the attempt that runs (its hello closes the oldest session that is
// ending): the others are closed now, as `disconnect` does with reconnecting
// off. Through the router, which first writes the acks owed on them.
void close_unreplaced(self_ptr self) {
  auto& st = self->state;
  if (may_add(self))
    return;
  auto spared = !st.attempt_running;
  for (auto& [id, entry] : st.sessions) {
    if (!entry.ending || !entry.up_since)
      continue;
    if (!spared) {
      spared = true;
      continue;
    }
    if (entry.disconnected)
      close_session(self, id, entry);
  }
}

// Slack refused an attempt for one socket too many (`too_many_websockets`)
// while a session it replaces still delivers: an app at its limit (10) has
// no room to make the next connection before breaking the old one. The
// oldest such session goes first, through the router (it writes the acks
// owed on it, then closes); its end starts the next attempt. Returns whether
// there was one.
bool break_before_make(self_ptr self, const caf::error& err) {
  if (slack_error_code(err) != "too_many_websockets" || !may_add(self))
    return false;
  auto id = close_oldest_leaving(self);
  if (id == 0)
    return false;
  auto& st = self->state;
  CAF_RTM_LOG(st.log, info, "supervisor", "no room for the successor of ",
              st.args.proto->name(), " session ", id, ": closed it first");
  return true;
}

// No session is live and none is coming (reconnecting is off): a waiting
// `connect` and the router's queued sends fail with `why`.
void enter_idle(self_ptr self, const caf::error& why) {
  auto& st = self->state;
  close_unreplaced(self);
  st.state = phase::idle;
  answer_connects(self, why);
  self->send(st.args.router, sessions_idle{why});
}

// Adds a failure; one while no session delivers counts toward the cap too.
// Returns whether it did.
bool add_failure(self_ptr self) {
  auto& st = self->state;
  ++st.failures;
  if (one_delivers(self))
    return false;
  ++st.failures_down;
  return true;
}

// Counts a failed attempt (or a session that died young). Returns false if
// the client gave up. The cap ends only a client that has no live session:
// failing to add a further Socket Mode connection must not close the ones
// that work (the attempts go on at the backoff's ceiling).
bool count_failure(self_ptr self, const caf::error& err) {
  if (!add_failure(self)) // something delivers
    return true;
  auto& st = self->state;
  auto cap = st.args.cfg->reconnect.max_attempts;
  if (cap > 0 && st.failures_down >= cap) {
    enter_failed(
        self, make_error(errc::gave_up, std::to_string(st.failures_down) +
                                            " attempts, last: " + render(err)));
    return false;
  }
  return true;
}

// A session proved healthy, or the user started anew: the next failure is
// the first in a row.
void reset_failures(self_ptr self) {
  self->state.failures = 0;
  self->state.failures_down = 0;
}

// The next attempt starts after `delay`; the router hears of it.
void arm_retry(self_ptr self, caf::timespan delay) {
  auto& st = self->state;
  st.retry_armed = true;
  st.retry_due = self->clock().now() + delay;
  self->send(st.args.router, reconnecting{st.failures + 1, delay});
  self->delayed_send(self, delay, retry_atom_v, ++st.retry_token);
}

// Replaces a session that went (or goes) away: at once after the first
// failure in a row, then after a growing, jittered delay.
void schedule_replacement(self_ptr self) {
  auto& st = self->state;
  if (st.attempt_running || !wants_more(self))
    return;
  // An armed timer keeps its delay, unless a healthy session wiped the slate
  // since (a refresh of a connection that worked while attempts to add
  // another one back off).
  if (st.retry_armed && st.failures > 0)
    return;
  if (auto now = self->clock().now(); st.not_before && now < *st.not_before) {
    // An armed backoff longer than the server's wait was drawn for failures
    // that no longer count.
    if (!st.retry_armed || st.retry_due > *st.not_before)
      arm_retry(self, *st.not_before - now);
    return;
  }
  if (st.failures <= 1)
    return start_attempt(self);
  arm_retry(self,
            backoff_delay(st.args.cfg->reconnect, st.failures - 1, st.rng));
}

void attempt_failed(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  st.attempt_running = false;
  st.pending = 0;
  // A fatal error is reported once, as such.
  if (is_fatal(err))
    return enter_failed(self, err);
  // Neither an error nor counted: the refusal was to be expected, and the
  // next attempt has room once the old session is gone.
  if (break_before_make(self, err)) {
    update_phase(self);
    return;
  }
  CAF_RTM_LOG(st.log, warn, "supervisor", "connection attempt ",
              st.failures + 1, " failed: ", render(err));
  self->send(st.args.router,
             error_event{err, "connection attempt " +
                                  std::to_string(st.failures + 1) + " failed"});
  st.filling = false;
  close_unreplaced(self);
  // With reconnecting off, a session that said goodbye counts as gone: the
  // `connect` that started this attempt must not wait for its end.
  if (live_count(self, true) == 0 && !st.auto_reconnect) {
    add_failure(self);
    enter_idle(self, err);
    return;
  }
  if (!count_failure(self, err))
    return;
  update_phase(self);
  if (!may_add(self))
    return;
  // Unlike a session that died young, a failed attempt always waits; at
  // least as long as a server that refused it for too many connects asked.
  auto delay = backoff_delay(st.args.cfg->reconnect, st.failures, st.rng);
  if (auto wait = retry_after_of(err)) {
    auto asked =
        std::min(*wait, max_reconnect_retry_after) + retry_after_jitter(st.rng);
    delay = std::max(delay, asked);
    st.not_before = self->clock().now() + asked;
  }
  arm_retry(self, delay);
}

void open_session(self_ptr self, rtm_endpoint ep) {
  auto& st = self->state;
  auto id = st.next_session++;
  connection_args args;
  args.session = id;
  args.url = ep.url;
  args.cfg = st.args.cfg;
  args.proto = st.args.proto;
  args.router = st.args.batch_sink;
  args.observer = caf::actor_cast<session_observer_actor>(self);
  args.rtt_sink = caf::actor_cast<rtt_sink_actor>(self);
  auto conn = st.args.spawn_connection(self->system(), std::move(args));
  self->monitor(conn);
  st.sessions.emplace(id, supervisor_state::session_entry{conn, std::move(ep),
                                                          std::nullopt, false});
  st.pending = id;
}

// A Web API caller that has ended answers nothing again. The client's own
// end with it (linked); a shared one (`client_config::api`) its owner ended
// is as final as one that is closing (`closed`): no retry can help.
caf::error from_caller(caf::error err) {
  if (err == caf::sec::request_receiver_down)
    return make_error(errc::closed, "the Web API caller has ended");
  return err;
}

void request_url(self_ptr self) {
  auto& st = self->state;
  st.call_open = st.args.endpoint_api.address();
  self->request(st.args.endpoint_api, caf::infinite, call_atom_v,
                st.args.proto->endpoint_method(),
                st.args.proto->endpoint_args())
      .then(
          [self](json_object& answer) {
            self->state.call_open = nullptr;
            if (stopping(self))
              return;
            auto ep = self->state.args.proto->to_endpoint(answer.value);
            if (!ep)
              return attempt_failed(self, ep.error());
            if (auto err = net::check_ws_url(*self->state.args.cfg, ep->url))
              return attempt_failed(self, err);
            open_session(self, std::move(*ep));
          },
          [self](caf::error& err) {
            self->state.call_open = nullptr;
            if (!stopping(self))
              attempt_failed(self, from_caller(std::move(err)));
          });
}

void start_attempt(self_ptr self) {
  auto& st = self->state;
  st.attempt_running = true;
  // Whatever started this attempt, a backoff timer armed earlier is stale.
  ++st.retry_token;
  st.retry_armed = false;
  // Sessions that said goodbye with reconnecting off do not count: an idle
  // client with one of them left is idle no more.
  if (live_count(self, true) == 0)
    st.state = st.sessions_up == 0 ? phase::connecting : phase::reconnecting;
  self->send(st.args.router, connecting{st.failures + 1});
  if (st.me || !st.args.proto->wants_identity())
    return request_url(self);
  st.call_open = st.args.api.address();
  self->request(st.args.api, caf::infinite, call_atom_v, "auth.test",
                api_args{})
      .then(
          [self](json_object& answer) {
            self->state.call_open = nullptr;
            if (stopping(self))
              return;
            auto me = to_identity(answer.value);
            if (!me)
              return attempt_failed(self, me.error());
            auto& st = self->state;
            CAF_RTM_LOG(st.log, info, "supervisor", "authenticated as ",
                        me->user, " (", me->user_id, ")",
                        me->bot_id.empty() ? "" : ", bot ", me->bot_id);
            st.me = *me;
            self->send(st.args.router, std::move(*me));
            request_url(self);
          },
          [self](caf::error& err) {
            self->state.call_open = nullptr;
            if (!stopping(self))
              attempt_failed(self, from_caller(std::move(err)));
          });
}

// A session that lived long enough wipes the slate: its end is followed by
// an immediate replacement.
bool healthy(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i == st.sessions.end() || !i->second.up_since)
    return false;
  return self->clock().now() - *i->second.up_since >=
         st.args.cfg->healthy_session;
}

void on_hello(self_ptr self, uint64_t id, const hello_info& info) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  // A session that says hello while the client closes is closing already.
  if (i == st.sessions.end() || i->second.up_since || id != st.pending ||
      stopping(self))
    return;
  i->second.up_since = self->clock().now();
  st.pending = 0;
  st.attempt_running = false;
  ++st.sessions_up;
  st.state = phase::connected;
  st.last_hello = info;
  auto msg = make_connected(self, id, i->second.endpoint, info);
  CAF_RTM_LOG(st.log, info, "supervisor", st.args.proto->name(), " session ",
              id, " is up");
  self->send(st.args.router, msg, frame_writer_actor{i->second.conn});
  answer_connects(self, msg);
  // Slack counts every socket it still believes open, of every process of
  // the app; more than they hold means stale ones eat the app's limit. This
  // client's sessions beyond its own count (one being replaced, as now at a
  // refresh) come on top of the app's.
  auto own = st.sessions.size();
  auto extra = own > st.args.target ? own - st.args.target : size_t{0};
  auto held = std::max(own, st.args.cfg->app_connections + extra);
  if (info.num_connections > held) {
    auto what =
        "Slack counts " + std::to_string(info.num_connections) +
        " connections, " +
        (held > st.sessions.size() ? "the app holds " : "this client holds ") +
        std::to_string(held);
    CAF_RTM_LOG(st.log, warn, "supervisor", what);
    self->send(st.args.router,
               error_event{make_error(errc::stale_connections, what), what});
  }
  // Make-before-break: the oldest session that announced its end goes only
  // now that its successor is up.
  close_oldest_leaving(self);
  if (live_count(self) >= st.args.target)
    st.filling = false;
  // More to run (Socket Mode with several connections)?
  if (may_add(self))
    schedule_replacement(self);
  else
    close_unreplaced(self);
}

// Session `id` goes away soon (goodbye, refresh, user's disconnect): the
// next one is made first.
void replace_session(self_ptr self, uint64_t id, bool count_as_failure) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i == st.sessions.end() || !live(i->second) || stopping(self))
    return;
  // Reconnecting switched off: no next session; the server ends this one,
  // unless reconnecting comes back on first (then it is replaced as now).
  if (!st.auto_reconnect) {
    i->second.goodbye_unanswered = true;
    // It delivers until the server ends it, but sends must not wait for a
    // session that is not coming (with the id: the router stops writing on
    // it even if this overtakes the connection's own word).
    if (live_count(self, true) == 0 && !st.attempt_running && !st.retry_armed)
      self->send(st.args.router,
                 sessions_idle{make_error(errc::not_connected,
                                          "the session said goodbye and "
                                          "reconnecting is off"),
                               id});
    return;
  }
  // No longer live from here: a goodbye soon after hello counts towards
  // `max_attempts` like a drop would (a server that says goodbye to every
  // session must not keep the client trying for ever), and the phase says
  // what runs.
  i->second.ending = true;
  update_phase(self);
  if (healthy(self, id)) {
    reset_failures(self);
  } else if (count_as_failure) {
    i->second.ended_young = true;
    if (!count_failure(self, make_error(errc::connection_closed,
                                        "goodbye soon after hello")))
      return;
  }
  // The old session keeps delivering until the next one is up.
  schedule_replacement(self);
}

void on_session_down(self_ptr self, uint64_t id, bool was_live,
                     bool was_healthy, caf::error cause) {
  auto& st = self->state;
  if (id == st.pending) {
    st.pending = 0;
    if (stopping(self))
      return maybe_finish_close(self);
    if (!cause)
      cause = make_error(errc::connection_lost, "session ended before hello");
    return attempt_failed(self, cause);
  }
  self->send(st.args.router, disconnected{id, cause, close_code(cause)});
  if (stopping(self))
    return maybe_finish_close(self);
  CAF_RTM_LOG(st.log, info, "supervisor", "session ", id,
              " ended: ", cause ? render(cause) : std::string{"closed"});
  if (is_fatal(cause))
    return enter_failed(self, cause);
  update_phase(self);
  st.filling = false;
  if (!st.auto_reconnect) {
    if (live_count(self) == 0 && !st.attempt_running && !st.retry_armed)
      enter_idle(self, make_error(errc::not_connected,
                                  "session ended and reconnecting is off"));
    return;
  }
  if (!was_live) {
    // Replaced already (or being replaced): its successor is arranged, unless
    // that attempt ended (fatal errors aside) with nothing armed after it.
    schedule_replacement(self);
    return;
  }
  if (was_healthy) {
    reset_failures(self);
  } else {
    if (!cause)
      cause = make_error(errc::connection_closed, uint16_t{1000},
                         std::string{"closed by the client"});
    if (!count_failure(self, cause))
      return;
  }
  schedule_replacement(self);
}

supervisor_status status_of(self_ptr self) {
  auto& st = self->state;
  supervisor_status result;
  result.state = to_string(st.state);
  result.session = newest_live(self);
  result.sessions_up = st.sessions_up;
  result.live = live_count(self);
  result.auto_reconnect = st.auto_reconnect;
  result.last_rtt = st.last_rtt;
  result.hello = st.last_hello;
  return result;
}

} // namespace

supervisor_state::~supervisor_state() {
  for (auto& [id, entry] : sessions)
    caf::anon_send_exit(entry.conn, caf::exit_reason::user_shutdown);
}

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           supervisor_args args) {
  auto& st = self->state;
  st.args = std::move(args);
  st.log = st.args.cfg->log;
  st.auto_reconnect = st.args.cfg->auto_reconnect;
  if (!st.args.endpoint_api)
    st.args.endpoint_api = st.args.api;
  if (!st.args.spawn_connection)
    st.args.spawn_connection = [](caf::actor_system& sys,
                                  connection_args x) -> connection_actor {
      return sys.spawn(connection, std::move(x));
    };
  st.rng.seed(st.args.seed != 0 ? st.args.seed : std::random_device{}());
  ignore_stray_errors(self);
  // A shared caller (`client_config::api`) may be killed by its owner while
  // it holds an attempt's request.
  if (st.args.api)
    self->monitor(st.args.api);
  if (st.args.endpoint_api && st.args.endpoint_api != st.args.api)
    self->monitor(st.args.endpoint_api);
  // A monitor lives on the actor it watches and keeps the watcher's memory
  // until that actor ends: a shared caller outlives many clients. Dropped
  // however the supervisor ends (a kill skips every handler).
  self->attach_functor([self, api = st.args.api.address(),
                        endpoint_api = st.args.endpoint_api.address()] {
    if (api)
      self->demonitor(api);
    if (endpoint_api)
      self->demonitor(endpoint_api);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.args.api.address() ||
        dm.source == st.args.endpoint_api.address()) {
      // Only the caller the attempt waits for matters now: a later
      // attempt's call to one that is gone fails at once.
      if (dm.source == st.call_open && !stopping(self)) {
        st.call_open = nullptr;
        attempt_failed(self, from_caller(caf::sec::request_receiver_down));
      }
      return;
    }
    for (auto& [id, entry] : st.sessions) {
      if (entry.conn.address() == dm.source) {
        auto session = id;
        auto was_live = live(entry);
        auto was_healthy = healthy(self, session);
        st.sessions.erase(session);
        on_session_down(self, session, was_live, was_healthy,
                        std::move(dm.reason));
        return;
      }
    }
  });
  return {
      [self](connect_atom) -> caf::result<connected> {
        auto& st = self->state;
        switch (st.state) {
        case phase::failed:
          return st.fatal;
        case phase::closing:
        case phase::closed:
          return make_error(errc::closed, "client is closed");
        case phase::connected: {
          // The newest session that stays: with reconnecting off, one that
          // said goodbye does not, but an older one may.
          auto i = std::find_if(
              st.sessions.rbegin(), st.sessions.rend(), [](const auto& x) {
                return live(x.second) && !x.second.goodbye_unanswered;
              });
          if (i != st.sessions.rend())
            return make_connected(self, i->first, i->second.endpoint,
                                  st.last_hello);
          break; // none staying after all: answered by the next hello
        }
        case phase::idle:
          reset_failures(self);
          break;
        default:
          break;
        }
        // Idle, or with reconnecting off the sessions a `disconnect` closed
        // are still ending or the one left said goodbye: no hello would come
        // to answer this otherwise.
        if ((st.state == phase::idle && !st.attempt_running) ||
            (live_count(self, true) == 0 && !st.attempt_running &&
             !st.retry_armed)) {
          st.filling = true;
          start_attempt(self);
        }
        auto rp = self->make_response_promise<connected>();
        st.connect_promises.push_back(rp);
        return rp;
      },
      [self](disconnect_atom) -> caf::ok_atom {
        auto& st = self->state;
        std::vector<uint64_t> ids;
        for (auto& [id, entry] : st.sessions)
          if (live(entry))
            ids.push_back(id);
        for (auto id : ids) {
          if (st.auto_reconnect) {
            // A fresh session replaces each one, made before the old breaks.
            st.sessions[id].disconnected = true;
            replace_session(self, id, false);
          } else {
            // Closing: neither live (a `connect` now opens a new session)
            // nor to be closed again by a later hello.
            auto& entry = st.sessions[id];
            entry.ending = true;
            close_session(self, id, entry);
          }
        }
        // An idle client has nothing to disconnect, and stays idle: only a
        // `connect` starts it.
        if (st.state == phase::idle)
          return caf::ok_atom_v;
        update_phase(self);
        // With reconnecting off and nothing live or on its way, the client
        // is idle now, not reconnecting: the closing sessions' ends only
        // confirm it.
        if (!stopping(self) && !st.auto_reconnect && live_count(self) == 0 &&
            !st.attempt_running && !st.retry_armed)
          st.state = phase::idle;
        return caf::ok_atom_v;
      },
      [self](reconnect_atom, bool on) -> caf::ok_atom {
        auto& st = self->state;
        st.auto_reconnect = on;
        if (stopping(self))
          return caf::ok_atom_v;
        if (!on) {
          // No attempt follows the one that may be running.
          st.filling = false;
          // A backoff timer no longer starts anything.
          if (st.retry_armed) {
            ++st.retry_token;
            st.retry_armed = false;
            if (live_count(self) == 0 && !st.attempt_running)
              enter_idle(self, make_error(errc::not_connected,
                                          "reconnecting was switched off"));
          }
          close_unreplaced(self);
          return caf::ok_atom_v;
        }
        // Switched back on: sessions that said goodbye meanwhile get their
        // successor before they break, and the client makes up for the
        // sessions it let go (all of them, or some of several connections).
        std::vector<uint64_t> leaving;
        for (auto& [id, entry] : st.sessions)
          if (live(entry) && entry.goodbye_unanswered)
            leaving.push_back(id);
        for (auto id : leaving)
          replace_session(self, id, false);
        if (st.state != phase::idle || st.sessions_up > 0)
          schedule_replacement(self);
        return caf::ok_atom_v;
      },
      [self](close_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.state == phase::closed)
          return caf::ok_atom_v;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.close_promises.push_back(rp);
        if (st.state != phase::closing) {
          st.state = phase::closing;
          ++st.retry_token;
          answer_connects(self, make_error(errc::closed, "client closed"));
          close_sessions(self);
        }
        maybe_finish_close(self);
        return rp;
      },
      [self](status_atom) -> supervisor_status { return status_of(self); },
      [self](session_hello& msg) { on_hello(self, msg.session, msg.info); },
      [self](const session_goodbye& msg) {
        CAF_RTM_LOG(self->state.log, info, "supervisor", "session ",
                    msg.session, ": ", msg.reason,
                    ", opening the next session");
        replace_session(self, msg.session, true);
      },
      [self](rtt_atom, uint64_t id, caf::timespan rtt) {
        if (id == newest_live(self))
          self->state.last_rtt = rtt;
      },
      [self](retry_atom, uint64_t token) {
        auto& st = self->state;
        if (token != st.retry_token)
          return;
        st.retry_armed = false;
        if (!stopping(self) && !st.attempt_running && wants_more(self))
          start_attempt(self);
      },
  };
}

} // namespace caf::rtm::detail
