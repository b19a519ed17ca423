// The supervisor's state machine under CAF's deterministic test scheduler.
// Stand-ins play the web-API caller (scripted answers), the connections (the
// test says hello for them or ends them) and the router (records lifecycle
// messages); time moves only when the test says so.

#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/backoff.hpp"
#include "detail/supervisor.hpp"

using namespace caf::rtm;
using namespace caf::rtm::detail;
using namespace std::chrono_literals;

namespace {

// What the stand-ins saw and what they answer.
struct world {
  // Web API: calls in order; scripted answers per method (default: ok).
  std::vector<std::string> calls;
  std::map<std::string, std::deque<caf::error>> failures;
  // Calls of these methods are held, never answered (a caller busy with
  // them when it is killed).
  std::set<std::string> held_methods;
  std::vector<caf::typed_response_promise<json_object>> held_calls;
  // The URL rtm.connect hands out.
  std::string url = "ws://127.0.0.1:1/ws/x";
  // Connections by session, and the close codes each one was told.
  std::map<uint64_t, connection_actor> conns;
  std::map<uint64_t, std::vector<uint16_t>> closes;
  // Router: set, sessions it is asked to close stay open in `held` (a close
  // handshake still running) instead of closing at once.
  bool hold_closes = false;
  std::vector<session_closer_actor> held;
  // Router: lifecycle messages as text, and sessions handed over.
  std::vector<std::string> lifecycle;
  std::vector<uint64_t> sessions_up;
  // Replies to the test's requests.
  std::vector<std::string> replies;

  size_t count(const std::string& prefix) const {
    size_t n = 0;
    for (auto& x : lifecycle)
      if (x.rfind(prefix, 0) == 0)
        ++n;
    return n;
  }

  size_t calls_of(const std::string& method) const {
    return static_cast<size_t>(std::count(calls.begin(), calls.end(), method));
  }
};

using world_ptr = std::shared_ptr<world>;

std::string code(const caf::error& err) {
  return err ? to_string(static_cast<errc>(err.code())) : "none";
}

web_api_actor::behavior_type fake_api(web_api_actor::pointer self,
                                      const world_ptr& w) {
  return {
      [self, w](call_atom, std::string& method,
                api_args&) -> caf::result<json_object> {
        w->calls.push_back(method);
        if (w->held_methods.count(method) > 0) {
          w->held_calls.push_back(self->make_response_promise<json_object>());
          return w->held_calls.back();
        }
        if (auto& q = w->failures[method]; !q.empty()) {
          auto err = q.front();
          q.pop_front();
          return err;
        }
        if (method == "auth.test")
          return json_object_from(
              R"({"ok":true,"user_id":"U1","user":"bot","bot_id":"B1"})");
        auto answer = json_object_from(R"({"ok":true,)"
                                       R"("self":{"id":"U1","name":"bot"},)"
                                       R"("team":{"id":"T1","name":"Team"}})");
        answer.value["url"] = w->url;
        return answer;
      },
      [](call_atom, api_call&) -> caf::result<json_object> {
        return make_error(errc::invalid_argument, "not used here");
      },
      [](call_atom, api_call&,
         all_pages_atom) -> caf::result<std::vector<json_object>> {
        return make_error(errc::invalid_argument, "not used here");
      },
      [](call_atom, api_call&, caf::actor&) -> caf::result<uint64_t> {
        return make_error(errc::invalid_argument, "not used here");
      },
      [](upload_atom, file_upload&) -> caf::result<json_object> {
        return make_error(errc::invalid_argument, "not used here");
      },
      [](webhook_atom, webhook_post&) -> caf::result<caf::ok_atom> {
        return make_error(errc::invalid_argument, "not used here");
      },
      [](status_atom, call_atom) { return api_status{}; },
      [](close_atom) { return caf::ok_atom_v; },
  };
}

connection_actor::behavior_type fake_connection(connection_actor::pointer self,
                                                const world_ptr& w,
                                                uint64_t session) {
  return {
      [](send_atom, int64_t, std::string&) {},
      [](ack_atom, std::string&, std::string&) {},
      [](ping_atom, std::string&) {},
      [](dead_link_atom, std::string&) {},
      [](opened_atom) {},
      [](frame_batch&) {},
      [](pong_atom, std::string&) {},
      [](written_atom, int64_t) {},
      [](unsent_atom, std::vector<int64_t>&) {},
      [](unsent_atom, uint32_t) {},
      [self](closed_atom, caf::error& reason) {
        self->quit(std::move(reason));
      },
      [](drained_atom) {},
      [self, w, session](close_atom, uint16_t code) {
        w->closes[session].push_back(code);
        self->quit();
      },
      [](close_atom, uint16_t, uint64_t) {
        // The Socket Mode router's; this router is the RTM one's kind.
      },
      [](timeout_atom, trim_atom) {},
      [](timeout_atom) {},
  };
}

session_listener_actor::behavior_type fake_router(const world_ptr& w) {
  return {
      [w](identity& me) { w->lifecycle.push_back("identity:" + me.bot_id); },
      [w](connected& x, frame_writer_actor&) {
        w->sessions_up.push_back(x.session);
        w->lifecycle.push_back("connected:" + std::to_string(x.session));
      },
      // As the RTM router: a replaced session is closed at once.
      [w](close_atom, uint64_t, session_closer_actor& conn) {
        if (w->hold_closes)
          w->held.push_back(std::move(conn));
        else
          caf::anon_send(conn, close_atom_v, uint16_t{1000});
      },
      [w](sessions_idle& x) {
        w->lifecycle.push_back("idle:" + code(x.reason));
      },
      [w](connecting& x) {
        w->lifecycle.push_back("connecting:" + std::to_string(x.attempt));
      },
      [w](disconnected& x) {
        w->lifecycle.push_back("disconnected:" + std::to_string(x.session) +
                               ":" + code(x.cause));
      },
      [w](reconnecting& x) {
        w->lifecycle.push_back("reconnecting:" + std::to_string(x.attempt));
      },
      [w](error_event& x) {
        w->lifecycle.push_back("error:" + code(x.reason));
      },
      [w](fatal_event& x) {
        w->lifecycle.push_back("fatal:" + code(x.reason));
      },
  };
}

struct supervisor_fixture {
  supervisor_fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    w = std::make_shared<world>();
    api = sys->spawn(fake_api, w);
    router = sys->spawn(fake_router, w);
    client.token = "xoxb-test";
    client.base_url = "http://127.0.0.1:1/api/";
    client.reconnect = {1s, 8s, 0};
    client.healthy_session = 10s;
  }

  ~supervisor_fixture() {
    for (auto& [id, conn] : w->conns)
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    sched->run();
  }

  void start() {
    supervisor_args args;
    args.cfg = std::make_shared<const client_config>(client);
    args.proto = make_rtm_protocol(client);
    args.router = router;
    args.api = api;
    args.endpoint_api = endpoint_api;
    args.seed = 42;
    args.target = target;
    args.spawn_connection = [wp = w](caf::actor_system& sys,
                                     connection_args x) -> connection_actor {
      auto conn = sys.spawn(fake_connection, wp, x.session);
      wp->conns[x.session] = conn;
      return conn;
    };
    sup = sys->spawn(supervisor, std::move(args));
    sched->run();
  }

  // Sends a request to the supervisor; its reply lands in w->replies as
  // text, made by `show`.
  template <class Result, class Atom>
  void ask(Atom x, std::function<std::string(Result&)> show) {
    ask_with<Result>(show, x);
  }

  template <class Result, class... Ts>
  void ask_with(std::function<std::string(Result&)> show, Ts... xs) {
    auto wp = w;
    sys->spawn(
        [wp, xs..., show](caf::event_based_actor* self, supervisor_actor dest) {
          self->request(dest, caf::infinite, xs...)
              .then(
                  [wp, show](Result& res) { wp->replies.push_back(show(res)); },
                  [wp](caf::error& err) {
                    wp->replies.push_back("error:" + code(err));
                  });
        },
        sup);
    sched->run();
  }

  void ask_connect() {
    ask<connected>(connect_atom_v, [](connected& x) {
      return "connected:" + std::to_string(x.session);
    });
  }

  void ask_status() {
    ask<supervisor_status>(status_atom_v, [](supervisor_status& x) {
      return "status:" + x.state;
    });
  }

  void ask_close() {
    ask<caf::ok_atom>(close_atom_v,
                      [](caf::ok_atom&) { return std::string{"ok"}; });
  }

  void hello(uint64_t session) {
    caf::anon_send(sup, session_hello{session, {}});
    sched->run();
  }

  // The next `n` rtm.connect calls fail as a server in trouble does.
  void fail_next_connects(int n = 1) {
    for (int i = 0; i < n; ++i)
      w->failures["rtm.connect"].push_back(
          make_error(errc::http_error, uint16_t{503}, "server error"));
  }

  void goodbye(uint64_t session) {
    caf::anon_send(sup, session_goodbye{session, "goodbye"});
    sched->run();
  }

  // The connection of `session` ends with `reason`, as when its I/O side
  // reports the end.
  void drop(uint64_t session, caf::error reason) {
    caf::anon_send(w->conns.at(session), closed_atom_v, std::move(reason));
    sched->run();
  }

  void advance(caf::timespan d) {
    sched->advance_time(d);
    sched->run();
  }

  // Session 1 came up and lived a minute: healthy.
  void start_with_healthy_session() {
    start();
    ask_connect();
    hello(1);
    advance(1min);
  }

  // Reconnecting off: session 1 came up, lived a minute and said goodbye.
  void goodbye_with_reconnecting_off() {
    client.auto_reconnect = false;
    start_with_healthy_session();
    goodbye(1);
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  world_ptr w;
  web_api_actor api;
  /// Set: the URL method's own caller (as Socket Mode's app-token caller).
  web_api_actor endpoint_api;
  session_listener_actor router;
  supervisor_actor sup;
  client_config client;
  /// Sessions to keep live (Socket Mode's `connections`).
  size_t target = 1;
};

} // namespace

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: connect is auth.test, rtm.connect and hello",
                 "[supervisor]") {
  start();
  ask_connect();
  CHECK(w->calls == std::vector<std::string>{"auth.test", "rtm.connect"});
  REQUIRE(w->conns.size() == 1);
  CHECK(w->replies.empty()); // not before hello
  ask_status();
  CHECK(w->replies.back() == "status:connecting");
  hello(1);
  CHECK(w->replies.back() == "connected:1");
  CHECK(w->sessions_up == std::vector<uint64_t>{1});
  CHECK(w->lifecycle ==
        std::vector<std::string>{"connecting:1", "identity:B1", "connected:1"});
  ask_status();
  CHECK(w->replies.back() == "status:connected");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: goodbye makes the next session before breaking "
                 "the old one",
                 "[supervisor]") {
  start();
  ask_connect();
  hello(1);
  advance(1min); // a healthy session
  goodbye(1);
  CHECK(w->calls_of("rtm.connect") == 2);
  CHECK(w->calls_of("auth.test") == 1); // identity is known
  REQUIRE(w->conns.size() == 2);
  CHECK(w->closes[1].empty()); // the old session still delivers
  hello(2);
  CHECK(w->closes[1] == std::vector<uint16_t>{1000});
  CHECK(w->sessions_up == std::vector<uint64_t>{1, 2});
  CHECK(w->count("reconnecting") == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a healthy session that drops is replaced at once",
                 "[supervisor]") {
  start_with_healthy_session();
  drop(1, make_error(errc::connection_lost));
  CHECK(w->count("disconnected:1:connection_lost") == 1);
  CHECK(w->calls_of("rtm.connect") == 2); // no backoff
  hello(2);
  ask_status();
  CHECK(w->replies.back() == "status:connected");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: sessions that die right after hello back off "
                 "with growing delays",
                 "[supervisor]") {
  start();
  ask_connect();
  hello(1);
  drop(1, make_error(errc::connection_lost));
  // The first early death is followed by an immediate attempt...
  CHECK(w->calls_of("rtm.connect") == 2);
  hello(2);
  drop(2, make_error(errc::connection_lost));
  // ... the second one waits (up to 1 s, the first backoff step) ...
  CHECK(w->calls_of("rtm.connect") == 2);
  CHECK(w->count("reconnecting:3") == 1);
  advance(1s);
  CHECK(w->calls_of("rtm.connect") == 3);
  hello(3);
  drop(3, make_error(errc::connection_lost));
  // ... and the third up to 2 s: nothing after 0 s, an attempt by 2 s.
  CHECK(w->calls_of("rtm.connect") == 3);
  advance(2s);
  CHECK(w->calls_of("rtm.connect") == 4);
  // A session that lives long enough resets the count.
  hello(4);
  advance(10s);
  drop(4, make_error(errc::connection_lost));
  CHECK(w->calls_of("rtm.connect") == 5);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: max_attempts applies to sessions that die young",
                 "[supervisor]") {
  client.reconnect.max_attempts = 3;
  start();
  ask_connect();
  for (uint64_t id = 1; id <= 3; ++id) {
    REQUIRE(w->conns.count(id) == 1);
    hello(id);
    drop(id, make_error(errc::connection_lost));
    advance(8s);
  }
  CHECK(w->count("fatal:gave_up") == 1);
  CHECK(w->calls_of("rtm.connect") == 3);
  ask_connect();
  CHECK(w->replies.back() == "error:gave_up");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a caller killed while it holds the attempt's "
                 "call ends the attempt",
                 "[supervisor]") {
  for (auto method : {"auth.test", "rtm.connect"}) {
    DYNAMIC_SECTION(method) {
      w->held_methods.insert(method);
      start();
      ask_connect();
      REQUIRE(w->calls_of(method) == 1);
      CHECK(w->replies.empty());
      // CAF answers no request a killed actor held: without its down
      // message, the connect would wait for ever.
      caf::anon_send_exit(api, caf::exit_reason::kill);
      sched->run();
      CHECK(w->count("fatal:closed") == 1);
      REQUIRE(w->replies.size() == 1);
      CHECK(w->replies.back() == "error:closed");
      advance(1min);
      CHECK(w->calls.size() == (std::string{method} == "auth.test" ? 1 : 2));
    }
  }
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a caller killed while another holds the "
                 "attempt's call ends nothing",
                 "[supervisor]") {
  // Socket Mode: the URL comes from the app-token caller, the identity from
  // a shared one, which its owner may end meanwhile.
  endpoint_api = sys->spawn(fake_api, w);
  w->held_methods.insert("rtm.connect");
  start();
  ask_connect();
  REQUIRE(w->held_calls.size() == 1);
  caf::anon_send_exit(api, caf::exit_reason::kill);
  sched->run();
  // Still waiting for the URL, which the other caller may yet give.
  CHECK(w->count("fatal:") == 0);
  CHECK(w->replies.empty());
  ask_status();
  CHECK(w->replies.back() == "status:connecting");
  caf::anon_send_exit(endpoint_api, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a supervisor that ended leaves no monitor on "
                 "its callers",
                 "[supervisor]") {
  // A monitor lives on the watched actor and keeps the watcher's memory: a
  // shared caller outlives many clients.
  start();
  ask_connect();
  hello(1);
  SECTION("closed") {
    ask_close();
    REQUIRE(w->replies.back() == "ok");
  }
  SECTION("killed") {
    caf::anon_send_exit(sup, caf::exit_reason::kill);
    sched->run();
  }
  auto ctrl = caf::actor_cast<caf::strong_actor_ptr>(sup);
  auto weak_after_close = ctrl->weak_refs.load();
  caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
  sched->run();
  CHECK(ctrl->weak_refs.load() == weak_after_close);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: failed attempts back off, fatal errors stop",
                 "[supervisor]") {
  fail_next_connects();
  w->failures["rtm.connect"].push_back(
      make_error(errc::slack_error, "invalid_auth"));
  start();
  ask_connect();
  CHECK(w->count("error:http_error") == 1);
  CHECK(w->count("reconnecting:2") == 1);
  CHECK(w->calls_of("rtm.connect") == 1);
  advance(1s); // the first delay is at most initial_delay
  CHECK(w->calls_of("rtm.connect") == 2);
  CHECK(w->count("fatal:slack_error") == 1);
  CHECK(w->replies.back() == "error:slack_error");
  advance(1min);
  CHECK(w->calls_of("rtm.connect") == 2); // no more attempts
  ask_status();
  CHECK(w->replies.back() == "status:failed");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: without auto_reconnect a failed connect fails",
                 "[supervisor]") {
  client.auto_reconnect = false;
  w->failures["auth.test"].push_back(make_error(errc::connect_failed));
  start();
  ask_connect();
  CHECK(w->replies.back() == "error:connect_failed");
  CHECK(w->calls_of("rtm.connect") == 0);
  ask_status();
  CHECK(w->replies.back() == "status:idle");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: close closes every session with 1000, then "
                 "replies",
                 "[supervisor]") {
  start_with_healthy_session();
  goodbye(1); // two sessions alive: 1 and the pending 2
  REQUIRE(w->conns.size() == 2);
  ask_close();
  CHECK(w->closes[1] == std::vector<uint16_t>{1000});
  CHECK(w->closes[2] == std::vector<uint16_t>{1000});
  CHECK(w->replies.back() == "ok");
  ask_connect();
  CHECK(w->replies.back().rfind("error:", 0) == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a WebSocket URL elsewhere or in clear is a "
                 "failed attempt, retried",
                 "[supervisor]") {
  client.base_url = "https://slack.com/api/";
  start();
  for (auto url : {"ws://wss-primary.slack.com/link", // a downgrade
                   "wss://evil.example.com/link",     // another domain
                   "wss://slack.com.evil.example/x"}) {
    INFO(url);
    w->url = url;
    w->lifecycle.clear();
    if (w->calls.empty())
      ask_connect();
    else
      advance(8s);
    CHECK(w->count("error:untrusted_url") == 1);
    CHECK(w->conns.empty());
  }
  // Slack's own hosts are fine.
  w->url = "wss://wss-primary.slack.com/link/?ticket=x";
  advance(8s);
  REQUIRE(w->conns.size() == 1);
  CHECK(w->count("fatal") == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: reconnecting switched off and on at run time",
                 "[supervisor]") {
  start_with_healthy_session();
  ask_with<caf::ok_atom>([](caf::ok_atom&) { return std::string{"ok"}; },
                         reconnect_atom_v, false);
  ask<supervisor_status>(status_atom_v, [](supervisor_status& x) {
    return std::string{x.auto_reconnect ? "on" : "off"};
  });
  CHECK(w->replies.back() == "off");
  drop(1, make_error(errc::connection_lost));
  advance(1min);
  CHECK(w->calls_of("rtm.connect") == 1); // nothing replaces session 1
  ask_status();
  CHECK(w->replies.back() == "status:idle");
  // Switched back on, the client connects again by itself.
  ask_with<caf::ok_atom>([](caf::ok_atom&) { return std::string{"ok"}; },
                         reconnect_atom_v, true);
  advance(8s);
  CHECK(w->calls_of("rtm.connect") == 2);
  hello(2);
  ask_status();
  CHECK(w->replies.back() == "status:connected");
}

namespace {

std::string show_ok(caf::ok_atom&) {
  return "ok";
}

} // namespace

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with every session on its way out, the state "
                 "says so, connect waits for the next hello and close answers",
                 "[supervisor]") {
  target = 2;
  start();
  ask_connect();
  hello(1);
  hello(2);
  advance(1min);
  // Both replaced: one attempt at a time, so one waits for the other.
  ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  ask_status();
  CHECK(w->replies.back() == "status:reconnecting");
  auto replies = w->replies.size();
  ask_connect();
  CHECK(w->replies.size() == replies); // no session to name yet
  REQUIRE(w->conns.count(3) == 1);
  hello(3);
  CHECK(w->replies.back() == "connected:3");
  ask_close();
  CHECK(w->replies.back() == "ok");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a disconnect before any connect leaves the "
                 "client idle, and reconnecting switched on starts nothing",
                 "[supervisor]") {
  start();
  ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  ask_status();
  CHECK(w->replies.back() == "status:idle");
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, true);
  CHECK(w->calls.empty()); // only a connect starts a client
  ask_status();
  CHECK(w->replies.back() == "status:idle");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: max_attempts applies to sessions that say "
                 "goodbye soon after hello",
                 "[supervisor]") {
  client.reconnect.max_attempts = 3;
  start();
  ask_connect();
  for (uint64_t id = 1; id <= 5 && w->conns.count(id) == 1; ++id) {
    hello(id);
    goodbye(id);
    advance(8s);
  }
  CHECK(w->count("fatal:gave_up") == 1);
  CHECK(w->calls_of("rtm.connect") == 3);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a disconnect after a healthy session replaces "
                 "it at once, whatever failed before it",
                 "[supervisor]") {
  fail_next_connects(2);
  start();
  ask_connect();
  advance(1s);
  advance(2s);
  REQUIRE(w->conns.count(1) == 1);
  hello(1);
  advance(1min);
  w->lifecycle.clear();
  ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  CHECK(w->calls_of("rtm.connect") == 4);
  CHECK(w->count("reconnecting") == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: max_attempts applies to goodbyes soon after "
                 "hello with two connections too",
                 "[supervisor]") {
  client.reconnect.max_attempts = 3;
  target = 2;
  start();
  ask_connect();
  hello(1);
  hello(2);
  advance(1min);
  goodbye(1);
  goodbye(2);
  // From here on every session says goodbye right after hello: an older one
  // still winding down must not make the failures of the new ones count for
  // nothing.
  for (uint64_t id = 3; id <= 20 && w->count("fatal") == 0; ++id) {
    if (w->conns.count(id) == 0)
      advance(8s); // the backoff's ceiling
    if (w->conns.count(id) == 0)
      break;
    hello(id);
    goodbye(id);
  }
  CHECK(w->count("fatal:gave_up") == 1);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: max_attempts does not end a client whose "
                 "session a disconnect or a goodbye ended still delivers",
                 "[supervisor]") {
  client.reconnect.max_attempts = 3;
  start_with_healthy_session();
  // Slack's Web API is down while the session is to be replaced: the old
  // one stays until a successor says hello (or its server ends it).
  fail_next_connects(5);
  auto by_goodbye = GENERATE(false, true);
  INFO((by_goodbye ? "goodbye" : "disconnect"));
  if (by_goodbye)
    goodbye(1);
  else
    ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  for (int i = 0; i < 4; ++i)
    advance(8s);
  CHECK(w->calls_of("rtm.connect") == 6); // 1 + 5 failed
  CHECK(w->count("fatal") == 0);
  CHECK(w->closes[1].empty());
  SECTION("the successor comes") {
    advance(8s);
    REQUIRE(w->conns.count(2) == 1);
    hello(2);
    CHECK(w->closes[1] == std::vector<uint16_t>{1000});
    CHECK(w->count("fatal") == 0);
  }
  SECTION("the old session ends first: the cap counts from there") {
    fail_next_connects(3);
    drop(1, make_error(errc::connection_lost));
    // The attempt already armed, and the next one, fail.
    for (int i = 0; i < 2; ++i) {
      advance(1min);
      CHECK(w->count("fatal") == 0);
    }
    CHECK(w->calls_of("rtm.connect") == 8);
    advance(1min); // the third failure since nothing delivers
    CHECK(w->calls_of("rtm.connect") == 9);
    CHECK(w->count("fatal:gave_up") == 1);
    CHECK(w->conns.count(2) == 0);
  }
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: an attempt that failed while reconnecting was "
                 "off counts toward max_attempts once it is back on",
                 "[supervisor]") {
  client.reconnect.max_attempts = 3;
  start_with_healthy_session();
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
  drop(1, make_error(errc::connection_lost));
  fail_next_connects(3);
  ask_connect(); // its attempt fails: idle again
  CHECK(w->replies.back() == "error:http_error");
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, true);
  for (int i = 0; i < 3; ++i)
    advance(1min);
  CHECK(w->calls_of("rtm.connect") == 4); // 1 + 3 failed in a row
  CHECK(w->count("fatal:gave_up") == 1);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: failing to add a connection beside one that "
                 "works does not count toward max_attempts",
                 "[supervisor]") {
  target = 2;
  client.reconnect.max_attempts = 3;
  client.healthy_session = 1h; // session 1 ends young below
  start();
  ask_connect();
  hello(1);
  REQUIRE(w->conns.count(2) == 1);
  // Three attempts to add the second connection fail while the first works.
  drop(2, make_error(errc::connection_lost)); // before its hello
  fail_next_connects(2);
  for (int i = 0; i < 20 && w->calls_of("rtm.connect") < 4; ++i)
    advance(1s);
  REQUIRE(w->calls_of("rtm.connect") == 4);
  CHECK(w->count("fatal") == 0);
  // The working one drops: the client tries as often as if it had been the
  // only one, instead of giving up at once.
  fail_next_connects(3);
  drop(1, make_error(errc::connection_lost));
  CHECK(w->count("fatal") == 0);
  advance(1min);
  CHECK(w->count("fatal") == 0);
  advance(1min);
  CHECK(w->count("fatal:gave_up") == 1);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: no attempt starts inside the wait a handshake "
                 "refused with 429 asked for",
                 "[supervisor]") {
  target = 2;
  start();
  ask_connect();
  hello(1);
  advance(1min); // session 1 is healthy
  REQUIRE(w->conns.count(2) == 1);
  // The second connection's handshake is refused: come back in 30 s.
  drop(2, rate_limited_error("handshake rejected with HTTP status 429", 30s));
  auto asked = w->calls_of("rtm.connect");
  advance(10s);
  CHECK(w->calls_of("rtm.connect") == asked);
  // The healthy one drops: its replacement waits for the rest of the 30 s
  // too (before, a healthy session's end wiped the slate and started one).
  drop(1, make_error(errc::connection_lost));
  CHECK(w->calls_of("rtm.connect") == asked);
  advance(19s);
  CHECK(w->calls_of("rtm.connect") == asked);
  advance(2s);
  CHECK(w->calls_of("rtm.connect") == asked + 1);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: after a healthy session's end the wait a "
                 "handshake refused with 429 asked for is not stretched to a "
                 "longer backoff",
                 "[supervisor]") {
  target = 2;
  client.reconnect = retry_policy{40s, 40s, 0};
  start();
  ask_connect();
  hello(1);
  advance(1min); // session 1 is healthy
  REQUIRE(w->conns.count(2) == 1);
  // A first failure to add the second connection (its backoff, drawn with
  // the fixture's seed, is 1.2 s), then a refusal with a wait of 2 s (and up
  // to a second of jitter) whose backoff is drawn at 9.6 s.
  drop(2, make_error(errc::connection_lost));
  advance(2s);
  REQUIRE(w->conns.count(3) == 1);
  drop(3, rate_limited_error("handshake rejected with HTTP status 429", 2s));
  auto asked = w->calls_of("rtm.connect");
  advance(1s);
  // The healthy one drops: the failure no longer counts, the server's wait
  // does.
  drop(1, make_error(errc::connection_lost));
  CHECK(w->calls_of("rtm.connect") == asked);
  advance(2s);
  CHECK(w->calls_of("rtm.connect") == asked + 1);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a session a disconnect ended is closed when "
                 "reconnecting is switched off before its successor came",
                 "[supervisor]") {
  start_with_healthy_session();
  // The successor's attempt fails: the old session delivers meanwhile.
  fail_next_connects();
  ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  REQUIRE(w->count("reconnecting") == 1);
  CHECK(w->closes[1].empty());
  // No successor is coming now: nothing else would ever close it.
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
  CHECK(w->closes[1] == std::vector<uint16_t>{1000});
  ask_status();
  CHECK(w->replies.back() == "status:idle");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a successor refused for one socket too many "
                 "closes the session it replaces first",
                 "[supervisor]") {
  target = 1;
  start_with_healthy_session();
  goodbye(1);
  REQUIRE(w->conns.count(2) == 1);
  w->lifecycle.clear();
  drop(2, make_error(errc::slack_error, "too_many_websockets"));
  CHECK(w->closes[1] == std::vector<uint16_t>{1000});
  CHECK(w->count("error") == 0); // to be expected at an app's limit
  // Its end starts the next attempt at once.
  REQUIRE(w->conns.count(3) == 1);
  SECTION("room now") {
    hello(3);
    ask_status();
    CHECK(w->replies.back() == "status:connected");
  }
  SECTION("refused again: an error, counted and backed off") {
    drop(3, make_error(errc::slack_error, "too_many_websockets"));
    CHECK(w->count("error:slack_error") == 1);
    CHECK(w->count("reconnecting") == 1);
    CHECK(w->conns.count(4) == 0);
  }
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with reconnecting off a refused successor "
                 "leaves the session it would have replaced to Slack",
                 "[supervisor]") {
  start_with_healthy_session();
  goodbye(1);
  REQUIRE(w->conns.count(2) == 1);
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
  drop(2, make_error(errc::slack_error, "too_many_websockets"));
  // No room to make: it delivers until Slack ends it.
  CHECK(w->closes[1].empty());
  CHECK(w->count("error:slack_error") == 1);
  CHECK(w->conns.count(3) == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a disconnect with reconnecting off is idle at "
                 "once while its session still closes",
                 "[supervisor]") {
  client.auto_reconnect = false;
  start_with_healthy_session();
  w->hold_closes = true;
  ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  REQUIRE(w->held.size() == 1);
  ask_status();
  CHECK(w->replies.back() == "status:idle");
  SECTION("the session's close ends") {
    caf::anon_send(w->held.front(), close_atom_v, uint16_t{1000});
    sched->run();
    ask_status();
    CHECK(w->replies.back() == "status:idle");
    CHECK(w->count("idle:not_connected") == 1);
    CHECK(w->calls_of("rtm.connect") == 1);
  }
  SECTION("a connect meanwhile opens a new session") {
    ask_connect();
    CHECK(w->calls_of("rtm.connect") == 2);
    caf::anon_send(w->held.front(), close_atom_v, uint16_t{1000});
    sched->run();
    hello(2);
    CHECK(w->replies.back() == "connected:2");
    ask_status();
    CHECK(w->replies.back() == "status:connected");
  }
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with two connections disconnected and "
                 "reconnecting switched off, the one no attempt replaces is "
                 "closed at once, the other when its successor's attempt "
                 "ends",
                 "[supervisor]") {
  target = 2;
  start();
  ask_connect();
  hello(1);
  hello(2);
  advance(1min);
  ask_with<caf::ok_atom>(show_ok, disconnect_atom_v);
  REQUIRE(w->conns.count(3) == 1); // one attempt at a time
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
  CHECK(w->closes[1].empty()); // the running attempt's hello closes it
  CHECK(w->closes[2] == std::vector<uint16_t>{1000});
  SECTION("the attempt's session says hello") {
    hello(3);
  }
  SECTION("the attempt fails") {
    drop(3, make_error(errc::connection_lost)); // before its hello
  }
  CHECK(w->closes[1] == std::vector<uint16_t>{1000});
  CHECK(w->conns.count(4) == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: the end of a session being replaced does not "
                 "cut short the backoff of its failed successor",
                 "[supervisor]") {
  start_with_healthy_session();
  fail_next_connects();
  goodbye(1);
  CHECK(w->calls_of("rtm.connect") == 2);
  CHECK(w->count("reconnecting:2") == 1);
  drop(1, make_error(errc::connection_lost));
  CHECK(w->calls_of("rtm.connect") == 2);
  CHECK(w->count("reconnecting") == 1); // not drawn again
  advance(1s);
  CHECK(w->calls_of("rtm.connect") == 3);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: reconnecting switched back on restores the "
                 "connections lost while it was off",
                 "[supervisor]") {
  target = 2;
  start();
  ask_connect();
  hello(1);
  hello(2);
  advance(1min);
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
  drop(2, make_error(errc::connection_lost));
  advance(1min);
  CHECK(w->calls_of("rtm.connect") == 2);
  ask_status();
  CHECK(w->replies.back() == "status:connected"); // session 1 runs
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, true);
  advance(8s);
  CHECK(w->calls_of("rtm.connect") == 3);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: an attempt running when reconnecting is switched "
                 "off opens its session, but no further one follows",
                 "[supervisor]") {
  target = 2;
  start();
  ask_connect();
  hello(1);
  hello(2);
  advance(1min);
  SECTION("the attempt succeeds") {
    drop(1, make_error(errc::connection_lost));
    drop(2, make_error(errc::connection_lost));
    REQUIRE(w->calls_of("rtm.connect") == 3); // one attempt at a time
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    hello(3);
    advance(1min);
    CHECK(w->calls_of("rtm.connect") == 3);
    ask_status();
    CHECK(w->replies.back() == "status:connected");
  }
  SECTION("the attempt fails") {
    drop(2, make_error(errc::connection_lost));
    REQUIRE(w->conns.count(3) == 1);
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    drop(3, make_error(errc::connection_lost)); // before its hello
    advance(1min);
    CHECK(w->calls_of("rtm.connect") == 3);
    CHECK(w->count("reconnecting") == 0);
    ask_status();
    CHECK(w->replies.back() == "status:connected"); // session 1 runs
  }
  // Switched back on, the client makes up for what it let go.
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, true);
  advance(8s);
  CHECK(w->calls_of("rtm.connect") == 4);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with reconnecting off, the first connect still "
                 "opens every connection",
                 "[supervisor]") {
  target = 2;
  client.auto_reconnect = false;
  start();
  ask_connect();
  hello(1);
  CHECK(w->calls_of("rtm.connect") == 2);
  hello(2);
  ask_status();
  CHECK(w->replies.back() == "status:connected");
  drop(2, make_error(errc::connection_lost));
  advance(1min);
  CHECK(w->calls_of("rtm.connect") == 2);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with reconnecting off, opening the connections "
                 "stops at the first failure or lost session",
                 "[supervisor]") {
  target = 2;
  SECTION("switched off while the second attempt runs, which fails") {
    start();
    ask_connect();
    hello(1);
    REQUIRE(w->conns.count(2) == 1);
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    drop(2, make_error(errc::connection_lost)); // before its hello
  }
  SECTION("off from the start: the second attempt fails") {
    client.auto_reconnect = false;
    start();
    ask_connect();
    hello(1);
    REQUIRE(w->conns.count(2) == 1);
    drop(2, make_error(errc::connection_lost));
  }
  SECTION("off from the start: the first session ends first") {
    client.auto_reconnect = false;
    start();
    ask_connect();
    hello(1);
    REQUIRE(w->conns.count(2) == 1);
    drop(1, make_error(errc::connection_lost));
    hello(2); // opens its session, but replaces nothing
  }
  advance(1min);
  CHECK(w->calls_of("rtm.connect") == 2);
  CHECK(w->count("reconnecting") == 0);
  ask_status();
  CHECK(w->replies.back() == "status:connected");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: the router hears when no session is coming, and "
                 "a waiting connect is answered",
                 "[supervisor]") {
  start_with_healthy_session();
  SECTION("the last session ends while reconnecting is off") {
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    drop(1, make_error(errc::connection_lost));
    CHECK(w->count("idle:not_connected") == 1);
  }
  SECTION("reconnecting is switched off while a retry waits") {
    fail_next_connects();
    drop(1, make_error(errc::connection_lost)); // its successor fails
    REQUIRE(w->count("reconnecting") == 1);
    ask_connect(); // waits for the next session
    auto replies = w->replies.size();
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    CHECK(w->count("idle:not_connected") == 1);
    REQUIRE(w->replies.size() == replies + 2); // the connect and the switch
    CHECK(w->replies[replies] == "error:not_connected");
  }
  SECTION("an attempt running when reconnecting is switched off fails") {
    drop(1, make_error(errc::connection_lost));
    REQUIRE(w->conns.count(2) == 1);
    ask_connect(); // waits for the next session
    auto replies = w->replies.size();
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    drop(2, make_error(errc::connection_lost)); // before its hello
    CHECK(w->count("idle:connection_lost") == 1);
    REQUIRE(w->replies.size() == replies + 2);
    CHECK(w->replies[replies + 1] == "error:connection_lost");
  }
  ask_status();
  CHECK(w->replies.back() == "status:idle");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with reconnecting off, neither a goodbye nor a "
                 "backoff timer armed before opens a session",
                 "[supervisor]") {
  SECTION("a goodbye") {
    goodbye_with_reconnecting_off();
    CHECK(w->calls_of("rtm.connect") == 1);
    drop(1, make_error(errc::connection_closed));
    ask_status();
    CHECK(w->replies.back() == "status:idle");
  }
  SECTION("an armed timer") {
    start();
    ask_connect();
    hello(1);
    drop(1, make_error(errc::connection_lost));
    hello(2);
    drop(2, make_error(errc::connection_lost));
    REQUIRE(w->count("reconnecting:3") == 1); // the timer runs
    ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
    advance(8s);
    CHECK(w->calls_of("rtm.connect") == 2);
    ask_status();
    CHECK(w->replies.back() == "status:idle");
  }
}

TEST_CASE_METHOD(
    supervisor_fixture,
    "supervisor: with reconnecting off, a connect after the newest "
    "of two sessions said goodbye answers with the one that stays",
    "[supervisor]") {
  target = 2;
  client.auto_reconnect = false;
  start();
  ask_connect();
  hello(1);
  hello(2);
  advance(1min);
  goodbye(2);
  auto replies = w->replies.size();
  ask_connect(); // no hello comes with reconnecting off: answered at once
  REQUIRE(w->replies.size() == replies + 1);
  CHECK(w->replies.back() == "connected:1");
  CHECK(w->calls_of("rtm.connect") == 2);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with reconnecting off, a connect after a goodbye "
                 "whose attempt fails is answered with the error",
                 "[supervisor]") {
  // The session that said goodbye still delivers until the server ends it,
  // but no hello will answer the connect: it must not wait for that end.
  goodbye_with_reconnecting_off();
  fail_next_connects();
  auto replies = w->replies.size();
  ask_connect();
  CHECK(w->calls_of("rtm.connect") == 2);
  REQUIRE(w->replies.size() == replies + 1);
  CHECK(w->replies.back() == "error:http_error");
  ask_connect(); // a new try starts a new attempt
  CHECK(w->calls_of("rtm.connect") == 3);
  ask_status();
  CHECK(w->replies.back() == "status:reconnecting");
  ask_connect(); // waits for the same attempt
  CHECK(w->calls_of("rtm.connect") == 3);
  hello(2);
  CHECK(w->replies.back() == "connected:2");
  CHECK(w->replies[w->replies.size() - 2] == "connected:2");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a goodbye while reconnecting is off is replaced "
                 "before the break once reconnecting is back on",
                 "[supervisor]") {
  goodbye_with_reconnecting_off();
  REQUIRE(w->calls_of("rtm.connect") == 1);
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, true);
  CHECK(w->calls_of("rtm.connect") == 2);
  REQUIRE(w->conns.size() == 2);
  CHECK(w->closes[1].empty()); // the old session still delivers
  hello(2);
  CHECK(w->closes[1] == std::vector<uint16_t>{1000});
  CHECK(w->sessions_up == std::vector<uint64_t>{1, 2});
  CHECK(w->count("reconnecting") == 0);
  ask_status();
  CHECK(w->replies.back() == "status:connected");
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: with reconnecting switched off during a "
                 "replacement, the old session's end leaves the client idle",
                 "[supervisor]") {
  start();
  ask_connect();
  hello(1);
  fail_next_connects();
  goodbye(1); // its successor fails, a timer is armed
  REQUIRE(w->count("reconnecting") == 1);
  ask_with<caf::ok_atom>(show_ok, reconnect_atom_v, false);
  drop(1, make_error(errc::connection_closed));
  ask_status();
  CHECK(w->replies.back() == "status:idle");
  ask_connect(); // starts again
  CHECK(w->calls_of("rtm.connect") == 3);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor: a healthy connection's goodbye is replaced at "
                 "once while attempts to add another one back off",
                 "[supervisor]") {
  target = 2;
  client.healthy_session = 1s;
  start();
  ask_connect();
  fail_next_connects(2);
  hello(1);    // the attempt for the second connection fails ...
  advance(1s); // ... and again: a timer is armed
  REQUIRE(w->calls_of("rtm.connect") == 3);
  goodbye(1);
  CHECK(w->calls_of("rtm.connect") == 4);
}
