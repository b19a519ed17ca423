#include "caf/rtm/supervisor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/backoff.hpp"
#include "caf/rtm/connection.hpp"
#include "caf/rtm/errc.hpp"
#include "net/net_context.hpp"

namespace caf::rtm {

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

// At most one immediate reconnect per window: a server that says hello and
// drops the socket at once must not cause a reconnect storm.
constexpr auto immediate_reconnect_window = std::chrono::seconds{10};

bool stopping(self_ptr self) {
  auto s = self->state.state;
  return s == phase::closing || s == phase::closed || s == phase::failed;
}

connected make_connected(uint64_t session, const rtm_endpoint& ep) {
  return connected{session,    ep.self_id,   ep.self_name,
                   ep.team_id, ep.team_name, ep.team_domain};
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
  self->send(st.client, fatal_event{err});
  for (auto& rp : st.connect_promises)
    rp.deliver(err);
  st.connect_promises.clear();
  close_sessions(self);
}

void start_attempt(self_ptr self);

void attempt_failed(self_ptr self, caf::error err) {
  auto& st = self->state;
  st.attempt_running = false;
  st.pending = 0;
  ++st.failures;
  CAF_RTM_LOG(st.log, warn, "supervisor", "connection attempt ", st.failures,
              " failed: ", render(err));
  self->send(st.client,
             error_event{err, "connection attempt " +
                                  std::to_string(st.failures) + " failed"});
  if (is_fatal(err))
    return enter_failed(self, err);
  if (st.current == 0 && !st.cfg->auto_reconnect) {
    st.state = phase::idle;
    for (auto& rp : st.connect_promises)
      rp.deliver(err);
    st.connect_promises.clear();
    return;
  }
  auto cap = st.cfg->reconnect.max_attempts;
  if (cap > 0 && st.failures >= cap)
    return enter_failed(
        self, make_error(errc::gave_up, std::to_string(st.failures) +
                                            " attempts, last: " + render(err)));
  auto delay = backoff_delay(st.cfg->reconnect, st.failures, st.rng);
  if (st.current == 0)
    st.state = st.sessions_up == 0 ? phase::connecting : phase::reconnecting;
  self->send(st.client, reconnecting{st.failures + 1, delay});
  self->delayed_send(self, delay, retry_atom_v, ++st.retry_token);
}

void open_session(self_ptr self, rtm_endpoint ep) {
  auto& st = self->state;
  auto id = st.next_session++;
  connection_args args;
  args.session = id;
  args.url = ep.url;
  args.cfg = st.cfg;
  args.client = st.client;
  args.supervisor = caf::actor_cast<supervisor_actor>(self);
  auto conn = self->spawn(connection, std::move(args));
  self->monitor(conn);
  st.sessions.emplace(id, supervisor_state::session_entry{conn, std::move(ep)});
  st.pending = id;
}

void request_url(self_ptr self) {
  auto& st = self->state;
  api_args args;
  if (st.cfg->batch_presence_aware)
    args["batch_presence_aware"] = "true";
  if (st.cfg->presence_sub)
    args["presence_sub"] = "true";
  self->request(st.api, caf::infinite, rtm_connect_atom_v, std::move(args))
      .then(
          [self](rtm_endpoint& ep) {
            if (!stopping(self))
              open_session(self, std::move(ep));
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
  self->send(st.client, connecting{st.failures + 1});
  if (st.me)
    return request_url(self);
  self->request(st.api, caf::infinite, auth_test_atom_v)
      .then(
          [self](identity& me) {
            if (stopping(self))
              return;
            auto& st = self->state;
            CAF_RTM_LOG(st.log, info, "supervisor", "authenticated as ",
                        me.user, " (", me.user_id, ")",
                        me.bot_id.empty() ? "" : ", bot ", me.bot_id);
            st.me = me;
            self->send(st.client, std::move(me));
            request_url(self);
          },
          [self](caf::error& err) {
            if (!stopping(self))
              attempt_failed(self, std::move(err));
          });
}

void on_hello(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.sessions.find(id);
  // A session that says hello while the client closes is closing already.
  if (i == st.sessions.end() || i->second.hello || id != st.pending ||
      stopping(self))
    return;
  i->second.hello = true;
  st.pending = 0;
  st.attempt_running = false;
  st.failures = 0;
  ++st.sessions_up;
  auto old = st.current;
  st.current = id;
  st.state = phase::connected;
  auto info = make_connected(id, i->second.endpoint);
  CAF_RTM_LOG(st.log, info, "supervisor", "session ", id, " is up");
  self->send(st.client, session_atom_v, info, i->second.conn);
  for (auto& rp : st.connect_promises)
    rp.deliver(info);
  st.connect_promises.clear();
  // Make-before-break: the old session goes only now that the new one is up.
  if (auto j = st.sessions.find(old); j != st.sessions.end())
    self->send(j->second.conn, close_atom_v, uint16_t{1000});
}

void on_session_down(self_ptr self, uint64_t id, caf::error cause) {
  auto& st = self->state;
  if (id == st.pending) {
    st.pending = 0;
    if (stopping(self))
      return maybe_finish_close(self);
    if (!cause)
      cause = make_error(errc::connection_lost, "session ended before hello");
    return attempt_failed(self, std::move(cause));
  }
  self->send(st.client, disconnected{id, cause, close_code(cause)});
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
  if (!st.cfg->auto_reconnect) {
    st.state = phase::idle;
    return;
  }
  st.state = phase::reconnecting;
  auto now = self->clock().now();
  if (st.last_immediate &&
      now - *st.last_immediate < immediate_reconnect_window) {
    // Two drops in quick succession: treat this one as a failure.
    if (!cause)
      cause = make_error(errc::connection_closed, uint16_t{1000},
                         std::string{"closed by the client"});
    attempt_failed(self, std::move(cause));
    return;
  }
  st.last_immediate = now;
  start_attempt(self);
}

} // namespace

supervisor_state::~supervisor_state() {
  for (auto& [id, entry] : sessions)
    caf::anon_send_exit(entry.conn, caf::exit_reason::user_shutdown);
}

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
           std::shared_ptr<const client_config> cfg, client_actor client,
           web_api_actor api) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.log = net::make_logger(*st.cfg);
  st.client = std::move(client);
  st.api = std::move(api);
  st.rng.seed(std::random_device{}());
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& [id, entry] : st.sessions) {
      if (entry.conn.address() == dm.source) {
        auto session = id;
        st.sessions.erase(session);
        on_session_down(self, session, std::move(dm.reason));
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
      [self](status_atom) -> client_status {
        auto& st = self->state;
        client_status result;
        result.state = to_string(st.state);
        result.session = st.current;
        result.sessions = st.sessions_up;
        result.last_rtt = st.last_rtt;
        return result;
      },
      [self](hello_atom, uint64_t id) { on_hello(self, id); },
      [self](goodbye_atom, uint64_t id, const std::string& reason) {
        auto& st = self->state;
        if (id != st.current || st.attempt_running ||
            st.state != phase::connected)
          return;
        CAF_RTM_LOG(st.log, info, "supervisor", "session ", id, ": ", reason,
                    ", opening the next session");
        start_attempt(self);
      },
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

} // namespace caf::rtm
