// The RTM router under CAF's deterministic test scheduler, with the time of
// its clock in the test's hands: batches come as a connection hands them
// over, and a subscriber counts what it gets.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/messages.hpp"
#include "caf/rtm/web_api.hpp"
#include "detail/rtm_router.hpp"

using namespace caf::rtm;
using namespace caf::rtm::detail;
using namespace std::chrono_literals;

namespace {

caf::behavior counting_subscriber(caf::event_based_actor*,
                                  const std::shared_ptr<size_t>& count) {
  return {
      [count](const event&) { ++*count; },
  };
}

// A client that never reaches a server (nothing here connects).
client_config offline_client() {
  client_config client;
  client.token = "xoxb-test";
  client.base_url = "http://127.0.0.1:1/api/";
  return client;
}

// An actor system under CAF's deterministic test scheduler.
struct deterministic_system {
  deterministic_system()
      : sys(with_test_scheduler(cfg)),
        sched(
            dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    // nop
  }

  static caf::actor_system_config&
  with_test_scheduler(caf::actor_system_config& x) {
    x.set("scheduler.policy", caf::atom("testing"));
    return x;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
};

struct rtm_router_fixture : deterministic_system {
  rtm_router_fixture() {
    router = sys.spawn(rtm_router, offline_client());
    subscriber = sys.spawn(counting_subscriber, delivered);
    actors.push_back(subscriber);
    auto ok = std::make_shared<bool>(false);
    actors.push_back(sys.spawn(
        [ok](caf::event_based_actor* self, const rtm_router_actor& dest,
             const caf::actor& listener) {
          self->request(dest, caf::infinite, subscribe_atom_v, listener,
                        std::vector<std::string>{"message"})
              .then([ok](caf::ok_atom) { *ok = true; });
        },
        router, subscriber));
    sched.run();
    REQUIRE(*ok);
  }

  ~rtm_router_fixture() {
    for (auto& x : actors)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    sched.run();
  }

  // Session `session` hands over one frame, the same every time.
  void hand_over(uint64_t session, bool session_ending = false) {
    inbound_batch batch;
    batch.session = session;
    batch.session_ending = session_ending;
    batch.events.push_back(event::parse(
        R"({"type":"message","channel":"C1","user":"U1","text":"hi",)"
        R"("ts":"1.000001"})",
        session));
    caf::anon_send(router, std::move(batch));
    sched.run();
  }

  // The router's error and fatal events, as "error: <what>" and "fatal".
  std::shared_ptr<std::vector<std::string>> record_lifecycle() {
    auto lifecycle = std::make_shared<std::vector<std::string>>();
    actors.push_back(sys.spawn(
        [lifecycle](caf::event_based_actor* self,
                    const rtm_router_actor& dest) -> caf::behavior {
          self->request(dest, caf::infinite, subscribe_atom_v, lifecycle_atom_v,
                        caf::actor{self})
              .then([](caf::ok_atom) {});
          self->set_default_handler(caf::drop);
          return {
              [lifecycle](const error_event& x) {
                lifecycle->push_back("error: " + x.what);
              },
              [lifecycle](const fatal_event&) {
                lifecycle->push_back("fatal");
              },
              [](const connected&) {},
          };
        },
        router));
    sched.run();
    return lifecycle;
  }

  rtm_router_actor router;
  std::shared_ptr<size_t> delivered = std::make_shared<size_t>(0);
  caf::actor subscriber;
  std::vector<caf::actor> actors;
};

// A typing indicator in C1, which Slack never acks.
json_object typing_in_c1() {
  boost::json::object msg;
  msg["type"] = "typing";
  msg["channel"] = "C1";
  return json_object{std::move(msg)};
}

// An RTM message to send: "hi" in C1.
json_object hi_message() {
  boost::json::object msg;
  msg["type"] = "message";
  msg["channel"] = "C1";
  msg["text"] = "hi";
  return json_object{std::move(msg)};
}

// A stand-in connection: records the ids of the messages written on it.
frame_writer_actor::behavior_type
recording_writer(frame_writer_actor::pointer,
                 const std::shared_ptr<std::vector<int64_t>>& ids) {
  return {
      [ids](send_atom, int64_t id, const std::string&) { ids->push_back(id); },
      [](ack_atom, const std::string&, const std::string&) {},
  };
}

// A stand-in connection that ends with the fixture; `ids` records its writes.
frame_writer_actor
spawn_writer(rtm_router_fixture& f,
             const std::shared_ptr<std::vector<int64_t>>& ids) {
  auto w = f.sys.spawn(recording_writer, ids);
  f.actors.push_back(caf::actor_cast<caf::actor>(w));
  return w;
}

// Session `session` says hello with a stand-in connection; the ids written
// on it land in the result.
std::shared_ptr<std::vector<int64_t>> say_hello(rtm_router_fixture& f,
                                                uint64_t session) {
  auto ids = std::make_shared<std::vector<int64_t>>();
  connected up;
  up.session = session;
  caf::anon_send(f.router, up, spawn_writer(f, ids));
  f.sched.run();
  return ids;
}

// Asks the router `xs` from a test actor; the result turns true once an
// `Answer` came back.
template <class Answer, class... Ts>
std::shared_ptr<bool> ask(rtm_router_fixture& f, Ts... xs) {
  auto answered = std::make_shared<bool>(false);
  f.actors.push_back(f.sys.spawn(
      [answered, xs...](caf::event_based_actor* self,
                        const rtm_router_actor& dest) {
        self->request(dest, caf::infinite, xs...)
            .then([answered](const Answer&) { *answered = true; });
      },
      f.router));
  f.sched.run();
  return answered;
}

// A stand-in connection that records the frames written on it.
frame_writer_actor::behavior_type
frame_recorder(frame_writer_actor::pointer,
               const std::shared_ptr<std::vector<std::string>>& frames) {
  return {
      [frames](send_atom, int64_t, const std::string& frame) {
        frames->push_back(frame);
      },
      [](ack_atom, const std::string&, const std::string&) {},
  };
}

// The `presence_sub` frames of `frames` as their `ids` lists.
std::vector<std::string> presence_subs(const std::vector<std::string>& frames) {
  std::vector<std::string> result;
  for (auto& frame : frames) {
    auto msg = boost::json::parse(frame).as_object();
    if (msg.at("type") == "presence_sub")
      result.push_back(boost::json::serialize(msg.at("ids")));
  }
  return result;
}

} // namespace

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: a hello states the presence list once and as it "
                 "is then",
                 "[rtm_router][presence]") {
  auto on7 = std::make_shared<std::vector<std::string>>();
  auto on8 = std::make_shared<std::vector<std::string>>();
  auto w7 = sys.spawn(frame_recorder, on7);
  auto w8 = sys.spawn(frame_recorder, on8);
  actors.push_back(caf::actor_cast<caf::actor>(w7));
  actors.push_back(caf::actor_cast<caf::actor>(w8));
  connected up7;
  up7.session = 7;
  caf::anon_send(router, up7, w7);
  sched.run();
  auto presence = [this](std::vector<std::string> users) {
    auto ok = std::make_shared<bool>(false);
    actors.push_back(sys.spawn(
        [ok, users](caf::event_based_actor* self,
                    const rtm_router_actor& dest) {
          self->request(dest, caf::infinite, presence_atom_v, users)
              .then([ok](caf::ok_atom) { *ok = true; });
        },
        router));
    sched.run();
    return *ok;
  };
  // Five messages use up the rate limiter's burst: the list waits.
  actors.push_back(sys.spawn(
      [](caf::event_based_actor* self, const rtm_router_actor& dest) {
        for (int i = 0; i < 5; ++i) {
          self->request(dest, caf::infinite, send_atom_v, hi_message())
              .then([](send_ack&) {}, [](caf::error&) {});
        }
      },
      router));
  sched.run();
  REQUIRE(presence({"U1"}));
  REQUIRE(on7->size() == 5);
  caf::anon_send(router, disconnected{7, caf::error{}, 0});
  sched.run();
  std::vector<std::string> expected;
  SECTION("a list ended while no session is up stays ended") {
    REQUIRE(presence({}));
  }
  SECTION("a list kept goes out once") {
    expected.push_back(R"(["U1"])");
  }
  SECTION("a list changed goes out as it is now") {
    REQUIRE(presence({"U2"}));
    expected.push_back(R"(["U2"])");
  }
  // A reconnect takes a while: the rate limiter has tokens again by the
  // hello.
  sched.advance_time(std::chrono::seconds{2});
  sched.run();
  connected up8;
  up8.session = 8;
  caf::anon_send(router, up8, w8);
  sched.run();
  for (int i = 0; i < 5; ++i) {
    sched.advance_time(std::chrono::seconds{1});
    sched.run();
  }
  CHECK(presence_subs(*on8) == expected);
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: a session whose end came before its connected "
                 "gets no sends",
                 "[rtm_router]") {
  // The connection tells the router of its end directly, the supervisor
  // relays its hello: nothing orders the two. A server that says hello and
  // drops (or says goodbye) at once can make the end come first. A session
  // installed after that would take sends that no connection writes or hands
  // back.
  auto on7 = std::make_shared<std::vector<int64_t>>();
  auto on8 = std::make_shared<std::vector<int64_t>>();
  auto w7 = spawn_writer(*this, on7);
  auto w8 = spawn_writer(*this, on8);
  SECTION("drained") {
    caf::anon_send(router, session_drained{7, 0});
  }
  SECTION("goodbye") {
    hand_over(7, true);
  }
  sched.run();
  connected up7;
  up7.session = 7;
  caf::anon_send(router, up7, w7);
  sched.run();
  auto outcome = std::make_shared<std::optional<caf::expected<send_ack>>>();
  actors.push_back(sys.spawn(
      [outcome](caf::event_based_actor* self, const rtm_router_actor& dest) {
        self->request(dest, caf::infinite, send_atom_v, hi_message())
            .then([outcome](send_ack& x) { *outcome = x; },
                  [outcome](caf::error& err) { *outcome = err; });
      },
      router));
  sched.run();
  CHECK(on7->empty());
  CHECK_FALSE(outcome->has_value()); // waits for the next session
  caf::anon_send(router, disconnected{7, caf::error{}, 0});
  connected up8;
  up8.session = 8;
  caf::anon_send(router, up8, w8);
  sched.run();
  CHECK(on7->empty());
  CHECK(on8->size() == 1);
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: a message without an ack that comes back "
                 "unwritten after a fatal error is reported",
                 "[rtm_router]") {
  // The supervisor tells the router of the fatal error, then closes the
  // sessions: a connection still closing hands back what it never wrote.
  auto lifecycle = record_lifecycle();
  auto on6 = say_hello(*this, 6);
  boost::json::object msg;
  msg["type"] = "custom_signal";
  msg["ids"] = boost::json::array{"U1"};
  auto answered =
      ask<caf::ok_atom>(*this, send_atom_v, json_object{msg}, no_ack_atom_v);
  REQUIRE(*answered); // answered once its connection has it
  REQUIRE(on6->size() == 1);
  // Session 6 says goodbye and 7 takes the sends; 6 still closes when the
  // fatal error comes (the attempt after a disconnect of 7, say).
  hand_over(6, true);
  auto on7 = say_hello(*this, 7);
  caf::anon_send(router,
                 fatal_event{make_error(errc::slack_error, "invalid_auth")});
  sched.run();
  caf::anon_send(router, unsent_atom_v, on6->front());
  sched.run();
  CHECK(on7->empty()); // nothing goes out after the fatal error
  REQUIRE(lifecycle->size() == 2);
  CHECK(lifecycle->at(0) == "fatal");
  CHECK(lifecycle->at(1) ==
        "error: 1 message(s) sent without an ack came back unwritten and "
        "are not sent");
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: a typing indicator handed back unwritten and "
                 "dropped at its max_wait is reported",
                 "[rtm_router]") {
  auto lifecycle = record_lifecycle();
  auto on6 = say_hello(*this, 6);
  auto answered =
      ask<send_ack>(*this, send_atom_v, typing_in_c1(), caf::timespan{2s});
  REQUIRE(*answered); // Slack acks no typing: answered once handed over
  REQUIRE(on6->size() == 1);
  // The connection could not write it, and no session comes in time.
  caf::anon_send(router, unsent_atom_v, on6->front());
  sched.run();
  CHECK(lifecycle->empty());
  sched.advance_time(3s);
  sched.run();
  REQUIRE(lifecycle->size() == 1);
  CHECK(lifecycle->front() ==
        "error: 1 message(s) sent without an ack came back unwritten and "
        "were not sent within their max_wait");
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: a ping still queued at a fatal error fails with "
                 "its reason",
                 "[rtm_router]") {
  auto on7 = std::make_shared<std::vector<int64_t>>();
  auto w7 = spawn_writer(*this, on7);
  connected up7;
  up7.session = 7;
  caf::anon_send(router, up7, w7);
  sched.run();
  // Six messages: the rate limiter's burst of five goes out, and the ping
  // waits behind the sixth for a token.
  auto outcome = std::make_shared<std::string>("pending");
  actors.push_back(sys.spawn(
      [outcome](caf::event_based_actor* self, const rtm_router_actor& dest) {
        for (int i = 0; i < 6; ++i) {
          self->request(dest, caf::infinite, send_atom_v, hi_message())
              .then([](send_ack&) {}, [](caf::error&) {});
        }
        self->request(dest, caf::infinite, ping_atom_v)
            .then([outcome](caf::timespan) { *outcome = "pong"; },
                  [outcome](caf::error& err) {
                    *outcome = slack_error_code(err);
                    if (outcome->empty())
                      *outcome = to_string(static_cast<errc>(err.code()));
                  });
      },
      router));
  sched.run();
  REQUIRE(on7->size() == 5);
  CHECK(*outcome == "pending");
  caf::anon_send(router,
                 fatal_event{make_error(errc::slack_error, "invalid_auth")});
  sched.run();
  CHECK(*outcome == "invalid_auth");
  CHECK(on7->size() == 5);
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: an actor subscribed one by one and in batches "
                 "counts as one subscriber",
                 "[rtm_router]") {
  auto subscribers = std::make_shared<uint64_t>(0);
  auto ok = std::make_shared<bool>(false);
  actors.push_back(sys.spawn(
      [ok, subscribers](caf::event_based_actor* self,
                        const rtm_router_actor& dest,
                        const caf::actor& listener) {
        self->request(dest, caf::infinite, subscribe_atom_v, listener,
                      std::vector<std::string>{"reaction_added"}, batch_atom_v)
            .then([=](caf::ok_atom) {
              self->request(dest, caf::infinite, status_atom_v)
                  .then([=](client_status& st) {
                    *subscribers = st.subscribers;
                    *ok = true;
                  });
            });
      },
      router, subscriber));
  sched.run();
  REQUIRE(*ok);
  CHECK(*subscribers == 1);
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: the overlap after a goodbye drops what both "
                 "sessions deliver, and ends once the old session is drained",
                 "[rtm_router]") {
  // A session that says goodbye before its hello ends as a failed attempt:
  // the supervisor sends no `disconnected` for it, the connection's
  // `session_drained` is all the router hears of its end.
  hand_over(1, true);
  CHECK(*delivered == 1);
  hand_over(2);
  CHECK(*delivered == 1); // the same frame from the next session: a copy
  caf::anon_send(router, session_drained{1, 0});
  sched.run();
  sched.advance_time(4s); // past the overlap's grace of 3 s
  sched.run();
  hand_over(2);
  CHECK(*delivered == 2); // no overlap any more: delivered
}

TEST_CASE("rtm router: callbacks and hooks are refused when no listener "
          "could run them",
          "[rtm_router]") {
  deterministic_system world;
  auto& sys = world.sys;
  auto& sched = world.sched;
  auto client = offline_client();
  client.concurrency = 0; // `connect` refuses it; so do these
  auto router = sys.spawn(rtm_router, client);
  auto results = std::make_shared<std::vector<std::string>>();
  hook_listener hooks;
  hooks.on_error = [](const caf::error&, bool) {
  };
  callback_listener callback{{"message"}, [](const event&) {
                             }};
  auto asker = sys.spawn(
      [results, hooks, callback](caf::event_based_actor* self,
                                 const rtm_router_actor& dest) {
        auto show = [results](caf::error& err) {
          results->push_back(err.code() ==
                                     static_cast<uint8_t>(errc::invalid_config)
                                 ? "invalid_config"
                                 : caf::to_string(err));
        };
        auto took = [results](uint64_t) {
          results->push_back("id");
        };
        self->request(dest, caf::infinite, subscribe_atom_v, hooks)
            .then(took, show);
        self->request(dest, caf::infinite, subscribe_atom_v, callback)
            .then(took, show);
      },
      router);
  sched.run();
  CHECK(*results ==
        std::vector<std::string>{"invalid_config", "invalid_config"});
  caf::anon_send_exit(asker, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
  sched.run();
}

namespace {

// A router with a web-API caller of the user's (`client_config::api`): it
// has none of its own to close.
struct router_with_users_api : deterministic_system {
  router_with_users_api() {
    auto client = offline_client();
    api = sys.spawn(web_api, client);
    client.api = api;
    router = sys.spawn(rtm_router, client);
  }

  ~router_with_users_api() {
    caf::anon_send_exit(api, caf::exit_reason::user_shutdown);
    sched.run();
  }

  web_api_actor api;
  rtm_router_actor router;
};

} // namespace

TEST_CASE("rtm router: a status asked while the client closes is answered",
          "[rtm_router]") {
  // With a web-API caller of the user's, the router has none of its own to
  // close: it ends as soon as its supervisor answered the close. The
  // supervisor's answer to a status asked meanwhile (an error: it has quit)
  // would come after that end.
  router_with_users_api world;
  auto& sys = world.sys;
  auto& sched = world.sched;
  auto& router = world.router;
  sched.run();
  auto closed = std::make_shared<bool>(false);
  auto state = std::make_shared<std::string>();
  auto asker = sys.spawn(
      [closed, state](caf::event_based_actor* self,
                      const rtm_router_actor& dest) {
        self->request(dest, caf::infinite, close_atom_v)
            .then([closed](caf::ok_atom) { *closed = true; });
        self->request(dest, caf::infinite, status_atom_v)
            .then(
                [state](client_status& x) {
                  *state = x.state + (x.auto_reconnect ? "+reconnect" : "");
                },
                [state](caf::error& err) { *state = caf::to_string(err); });
      },
      router);
  sched.run();
  CHECK(*closed);
  CHECK(*state == "closing"); // asked before the supervisor answered
  caf::anon_send_exit(asker, caf::exit_reason::user_shutdown);
}

TEST_CASE("rtm router: a router that ended leaves no monitor on its "
          "subscribers",
          "[rtm_router]") {
  // A monitor lives on the watched actor and holds a weak reference to the
  // watcher, which keeps the watcher's memory: subscribers that outlive the
  // client must not keep the router's.
  router_with_users_api world;
  auto& sys = world.sys;
  auto& sched = world.sched;
  auto& router = world.router;
  auto count = std::make_shared<size_t>(0);
  auto subscriber = sys.spawn(counting_subscriber, count);
  auto closed = std::make_shared<bool>(false);
  auto asker = sys.spawn(
      [](caf::event_based_actor* self, const rtm_router_actor& dest,
         const caf::actor& sub) {
        self->request(dest, caf::infinite, subscribe_atom_v, sub,
                      std::vector<std::string>{"message"})
            .then([](caf::ok_atom) {});
        self->request(dest, caf::infinite, subscribe_atom_v, lifecycle_atom_v,
                      sub)
            .then([](caf::ok_atom) {});
      },
      router, subscriber);
  sched.run();
  SECTION("closed") {
    auto closer = sys.spawn(
        [closed](caf::event_based_actor* self, const rtm_router_actor& dest) {
          self->request(dest, caf::infinite, close_atom_v)
              .then([closed](caf::ok_atom) { *closed = true; });
        },
        router);
    sched.run();
    caf::anon_send_exit(closer, caf::exit_reason::user_shutdown);
    REQUIRE(*closed);
  }
  SECTION("killed") {
    caf::anon_send_exit(router, caf::exit_reason::kill);
    sched.run();
  }
  auto ctrl = caf::actor_cast<caf::strong_actor_ptr>(router);
  auto weak_after_close = ctrl->weak_refs.load();
  caf::anon_send_exit(subscriber, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(ctrl->weak_refs.load() == weak_after_close);
  caf::anon_send_exit(asker, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: Slack's refusal of a typing indicator, answered "
                 "already, is reported",
                 "[rtm_router]") {
  auto lifecycle = record_lifecycle();
  auto on6 = say_hello(*this, 6);
  auto answered = ask<send_ack>(*this, send_atom_v, typing_in_c1());
  REQUIRE(*answered); // Slack acks no typing: answered once handed over
  REQUIRE(on6->size() == 1);
  inbound_batch batch;
  batch.session = 6;
  batch.events.push_back(
      event::parse(R"({"ok":false,"reply_to":)" + std::to_string(on6->front()) +
                       R"(,"error":{"code":2,"msg":"too fast"}})",
                   6));
  caf::anon_send(router, std::move(batch));
  sched.run();
  REQUIRE(lifecycle->size() == 1);
  CHECK(lifecycle->front() ==
        "error: Slack refused 1 message(s) whose send was answered already "
        "(sent without an ack or as a typing indicator, or timed out)");
  CHECK(*delivered == 0); // the reply is no event
}

TEST_CASE_METHOD(rtm_router_fixture,
                 "rtm router: the memory of its messages goes back to the heap "
                 "once a burst is over",
                 "[rtm_router]") {
  auto* self = dynamic_cast<rtm_router_actor::stateful_base<rtm_router_state>*>(
      caf::actor_cast<caf::abstract_actor*>(router));
  REQUIRE(self != nullptr);
  auto& pool = *self->state.messages.get();
  // A burst: the subscriber's messages come back to the router's pool.
  for (uint64_t i = 0; i < 50; ++i)
    hand_over(1);
  CHECK(*delivered == 50);
  CHECK(pool.cached_bytes() > 0);
  // Within the interval it stays, for the next events.
  sched.advance_time(pool_trim::interval / 2);
  sched.run();
  CHECK(pool.cached_bytes() > 0);
  sched.advance_time(pool_trim::interval / 2);
  sched.run();
  CHECK(pool.cached_bytes() == 0);
  // Events after it fill it again, and it is trimmed again after them.
  hand_over(1);
  CHECK(*delivered == 51);
  CHECK(pool.cached_bytes() > 0);
  sched.advance_time(pool_trim::interval);
  sched.run();
  CHECK(pool.cached_bytes() == 0);
}
