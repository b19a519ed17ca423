#include "detail/supervisor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/backoff.hpp"
#include "detail/slack_answers.hpp"

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

connected make_connected(uint64_t session, rtm_endpoint ep) {
  ep.url.clear(); // a used single-use URL; nobody needs it
  return connected{session, std::move(ep)};
}

void close_sessions(self_ptr self) {
  for (auto& [id, entry] : self->state.sessions)
    self->send(entry.conn, close_atom_v, uint16_t{1000});
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

void enter_failed(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  st.state = phase::failed;
  st.fatal = err;
  ++st.retry_token;
  CAF_RTM_LOG(st.log, error, "supervisor", "giving up: ", render(err));
  self->send(st.args.router, fatal_event{err});
  for (auto& rp : st.connect_promises)
    rp.deliver(err);
  st.connect_promises.clear();
  close_sessions(self);
}

void start_attempt(self_ptr self);

// Counts a failed attempt (or a session that died young) and schedules the
// next attempt: at once after the first failure in a row, then after a
// growing, jittered delay. Returns false if the client gave up.
bool count_failure(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  ++st.failures;
  auto cap = st.args.cfg->reconnect.max_attempts;
  if (cap > 0 && st.failures >= cap) {
    enter_failed(
        self, make_error(errc::gave_up, std::to_string(st.failures) +
                                            " attempts, last: " + render(err)));
    return false;
  }
  return true;
}

void schedule_retry(self_ptr self) {
  auto& st = self->state;
  auto delay = st.failures <= 1 ? caf::timespan{0}
                                : backoff_delay(st.args.cfg->reconnect,
                                                st.failures - 1, st.rng);
  if (delay.count() == 0)
    return start_attempt(self);
  if (st.current == 0)
    st.state = st.sessions_up == 0 ? phase::connecting : phase::reconnecting;
  self->send(st.args.router, reconnecting{st.failures + 1, delay});
  self->delayed_send(self, delay, retry_atom_v, ++st.retry_token);
}

void attempt_failed(self_ptr self, caf::error err) {
  auto& st = self->state;
  st.attempt_running = false;
  st.pending = 0;
  CAF_RTM_LOG(st.log, warn, "supervisor", "connection attempt ",
              st.failures + 1, " failed: ", render(err));
  self->send(st.args.router,
             error_event{err, "connection attempt " +
                                  std::to_string(st.failures + 1) + " failed"});
  if (is_fatal(err))
    return enter_failed(self, err);
  if (st.current == 0 && !st.args.cfg->auto_reconnect) {
    ++st.failures;
    st.state = phase::idle;
    for (auto& rp : st.connect_promises)
      rp.deliver(err);
    st.connect_promises.clear();
    return;
  }
  if (!count_failure(self, err))
    return;
  // Unlike a session that died young, a failed attempt always waits.
  auto delay = backoff_delay(st.args.cfg->reconnect, st.failures, st.rng);
  if (st.current == 0)
    st.state = st.sessions_up == 0 ? phase::connecting : phase::reconnecting;
  self->send(st.args.router, reconnecting{st.failures + 1, delay});
  self->delayed_send(self, delay, retry_atom_v, ++st.retry_token);
}

void open_session(self_ptr self, rtm_endpoint ep) {
  auto& st = self->state;
  auto id = st.next_session++;
  connection_args args;
  args.session = id;
  args.url = ep.url;
  args.cfg = st.args.cfg;
  args.router = st.args.batch_sink;
  args.observer = caf::actor_cast<session_observer_actor>(self);
  args.rtt_sink = caf::actor_cast<rtt_sink_actor>(self);
  auto conn = st.args.spawn_connection(self->system(), std::move(args));
  self->monitor(conn);
  st.sessions.emplace(
      id, supervisor_state::session_entry{conn, std::move(ep), std::nullopt});
  st.pending = id;
}

void request_url(self_ptr self) {
  auto& st = self->state;
  api_args args;
  if (st.args.cfg->batch_presence_aware)
    args["batch_presence_aware"] = "true";
  if (st.args.cfg->presence_sub)
    args["presence_sub"] = "true";
  self->request(st.args.api, caf::infinite, call_atom_v, "rtm.connect",
                std::move(args))
      .then(
          [self](json_object& answer) {
            if (stopping(self))
              return;
            auto ep = to_rtm_endpoint(answer.value);
            if (!ep)
              return attempt_failed(self, std::move(ep.error()));
            open_session(self, std::move(*ep));
          },
          [self](caf::error& err) {
            if (!stopping(self))
              attempt_failed(self, std::move(err));
          });
}

void start_attempt(self_ptr self) {
  auto& st = self->state;
  st.attempt_running = true;
  // Whatever started this attempt, a backoff timer armed earlier is stale.
  ++st.retry_token;
  if (st.current == 0)
    st.state = st.sessions_up == 0 ? phase::connecting : phase::reconnecting;
  self->send(st.args.router, connecting{st.failures + 1});
  if (st.me)
    return request_url(self);
  self->request(st.args.api, caf::infinite, call_atom_v, "auth.test",
                api_args{})
      .then(
          [self](json_object& answer) {
            if (stopping(self))
              return;
            auto me = to_identity(answer.value);
            if (!me)
              return attempt_failed(self, std::move(me.error()));
            auto& st = self->state;
            CAF_RTM_LOG(st.log, info, "supervisor", "authenticated as ",
                        me->user, " (", me->user_id, ")",
                        me->bot_id.empty() ? "" : ", bot ", me->bot_id);
            st.me = *me;
            self->send(st.args.router, std::move(*me));
            request_url(self);
          },
          [self](caf::error& err) {
            if (!stopping(self))
              attempt_failed(self, std::move(err));
          });
}

// A session that lived long enough wipes the slate: the next drop of it is
// followed by an immediate reconnect.
bool healthy(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  if (i == st.sessions.end() || !i->second.up_since)
    return false;
  return self->clock().now() - *i->second.up_since >=
         st.args.cfg->healthy_session;
}

void on_hello(self_ptr self, uint64_t id) {
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
  auto old = st.current;
  st.current = id;
  st.state = phase::connected;
  auto info = make_connected(id, i->second.endpoint);
  CAF_RTM_LOG(st.log, info, "supervisor", "session ", id, " is up");
  self->send(st.args.router, info, frame_writer_actor{i->second.conn});
  for (auto& rp : st.connect_promises)
    rp.deliver(info);
  st.connect_promises.clear();
  // Make-before-break: the old session goes only now that the new one is up.
  if (auto j = st.sessions.find(old); j != st.sessions.end())
    self->send(j->second.conn, close_atom_v, uint16_t{1000});
}

void on_goodbye(self_ptr self, const session_goodbye& msg) {
  auto& st = self->state;
  if (msg.session != st.current || st.attempt_running ||
      st.state != phase::connected)
    return;
  CAF_RTM_LOG(st.log, info, "supervisor", "session ", msg.session, ": ",
              msg.reason, ", opening the next session");
  if (healthy(self, msg.session)) {
    st.failures = 0;
  } else if (!count_failure(self, make_error(errc::connection_closed,
                                             "goodbye soon after hello"))) {
    return;
  }
  // The old session keeps delivering until the next one is up.
  schedule_retry(self);
}

void on_session_down(self_ptr self, uint64_t id, bool was_healthy,
                     caf::error cause) {
  auto& st = self->state;
  if (id == st.pending) {
    st.pending = 0;
    if (stopping(self))
      return maybe_finish_close(self);
    if (!cause)
      cause = make_error(errc::connection_lost, "session ended before hello");
    return attempt_failed(self, std::move(cause));
  }
  self->send(st.args.router, disconnected{id, cause, close_code(cause)});
  if (id != st.current || stopping(self))
    return maybe_finish_close(self);
  CAF_RTM_LOG(st.log, info, "supervisor", "session ", id,
              " ended: ", cause ? render(cause) : std::string{"closed"});
  st.current = 0;
  if (st.attempt_running) {
    // A goodbye started the next session already.
    st.state = phase::reconnecting;
    return;
  }
  if (!st.args.cfg->auto_reconnect) {
    st.state = phase::idle;
    return;
  }
  st.state = phase::reconnecting;
  if (was_healthy) {
    st.failures = 0;
  } else {
    if (!cause)
      cause = make_error(errc::connection_closed, uint16_t{1000},
                         std::string{"closed by the client"});
    if (!count_failure(self, cause))
      return;
  }
  schedule_retry(self);
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
  if (!st.args.spawn_connection)
    st.args.spawn_connection = [](caf::actor_system& sys,
                                  connection_args x) -> connection_actor {
      return sys.spawn(connection, std::move(x));
    };
  st.rng.seed(st.args.seed != 0 ? st.args.seed : std::random_device{}());
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& [id, entry] : st.sessions) {
      if (entry.conn.address() == dm.source) {
        auto session = id;
        auto was_healthy = healthy(self, session);
        st.sessions.erase(session);
        on_session_down(self, session, was_healthy, std::move(dm.reason));
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
        case phase::connected:
          return make_connected(st.current, st.sessions[st.current].endpoint);
        case phase::idle:
          st.failures = 0;
          start_attempt(self);
          break;
        default:
          break;
        }
        auto rp = self->make_response_promise<connected>();
        st.connect_promises.push_back(rp);
        return rp;
      },
      [self](disconnect_atom) -> caf::ok_atom {
        auto& st = self->state;
        if (auto i = st.sessions.find(st.current); i != st.sessions.end())
          self->send(i->second.conn, close_atom_v, uint16_t{1000});
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
          for (auto& p : st.connect_promises)
            p.deliver(make_error(errc::closed, "client closed"));
          st.connect_promises.clear();
          close_sessions(self);
        }
        maybe_finish_close(self);
        return rp;
      },
      [self](status_atom) -> supervisor_status {
        auto& st = self->state;
        return {to_string(st.state), st.current, st.sessions_up, st.last_rtt};
      },
      [self](const session_hello& msg) { on_hello(self, msg.session); },
      [self](const session_goodbye& msg) { on_goodbye(self, msg); },
      [self](rtt_atom, uint64_t id, caf::timespan rtt) {
        if (id == self->state.current)
          self->state.last_rtt = rtt;
      },
      [self](retry_atom, uint64_t token) {
        auto& st = self->state;
        if (token == st.retry_token && !st.attempt_running && !stopping(self))
          start_attempt(self);
      },
  };
}

} // namespace caf::rtm::detail
