// The Socket Mode router under CAF's deterministic test scheduler: the order
// of messages that real sockets make rare is made here on purpose. Stand-ins
// play a connection (it hands over batches and records the acks it is told
// to write) and a subscriber (it answers envelopes that take a response).

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/json_object.hpp"
#include "detail/frame_parser.hpp"
#include "detail/socket_mode_router.hpp"

using namespace caf::rtm;
using namespace caf::rtm::detail;

namespace {

struct world {
  /// The texts the connection was told to write as acks.
  std::vector<std::string> acks;
  /// Envelope ids the subscriber answered.
  std::vector<std::string> answered;
  /// Batches the router confirmed.
  size_t batches_done = 0;
  /// Answers a subscriber holds back (see `holding_subscriber`).
  std::vector<caf::response_promise> held;
  /// What the errors told to lifecycle subscribers were about.
  std::vector<std::string> errors;
  /// What the connection was told, in order: acks and closes.
  std::vector<std::string> log;
};

using world_ptr = std::shared_ptr<world>;

/// A stand-in connection: it writes what the router tells it to, closes
/// when told, and hands over the batches the test gives it.
using fake_connection_actor = frame_writer_actor::extend_with<
    session_closer_actor>::extend<caf::reacts_to<inbound_batch>>;

// A connection that hands `batch` to the router as its first act, as a real
// one does with the frames it read; what it is told goes to `w->log`.
fake_connection_actor::behavior_type
fake_connection(fake_connection_actor::pointer self, const world_ptr& w,
                const socket_mode_router_actor& router, inbound_batch batch) {
  auto hand_over = [self, w, router](inbound_batch& x) {
    self->request(router, caf::infinite, std::move(x)).then([w](caf::ok_atom) {
      ++w->batches_done;
    });
  };
  hand_over(batch);
  return {
      [](send_atom, int64_t, std::string&) {
        // Socket Mode writes acks only.
      },
      [w](ack_atom, std::string&, std::string& text) {
        w->log.push_back("ack " + text);
        w->acks.push_back(std::move(text));
      },
      [w](close_atom, uint16_t code) {
        w->log.push_back("close " + std::to_string(code));
      },
      [w](close_atom, uint16_t code, uint64_t seen) {
        w->log.push_back("close " + std::to_string(code) + " after " +
                         std::to_string(seen));
      },
      [hand_over](inbound_batch& x) mutable { hand_over(x); },
  };
}

caf::behavior answering_subscriber(caf::event_based_actor*,
                                   const world_ptr& w) {
  return {
      [w](const envelope& env) -> response {
        w->answered.emplace_back(env.id());
        return json_object_from(R"({"text":"pong"})");
      },
  };
}

// A subscriber that answers every envelope with the error `err`.
caf::behavior answering_with(caf::event_based_actor*, caf::error err) {
  return {
      [err](const envelope&) -> caf::result<json_object> { return err; },
  };
}

// A subscriber whose answers wait until it is told `ok_atom`; then each is
// a payload. Told an index and an error, it answers that one with it.
caf::behavior holding_subscriber(caf::event_based_actor* self,
                                 const world_ptr& w) {
  return {
      [self, w](const envelope& env) {
        w->answered.emplace_back(env.id());
        auto rp = self->make_response_promise();
        w->held.push_back(rp);
        return rp;
      },
      [w](uint64_t i, const caf::error& err) { w->held.at(i).deliver(err); },
      [w](caf::ok_atom) {
        for (auto& rp : w->held)
          rp.deliver(json_object_from(R"({"text":"late"})"));
        w->held.clear();
      },
  };
}

caf::behavior lifecycle_recorder(caf::event_based_actor* self,
                                 const world_ptr& w) {
  // Other lifecycle messages do not matter here.
  self->set_default_handler(caf::drop);
  return {
      [w](const error_event& x) { w->errors.push_back(x.what); },
  };
}

envelope slash_command(const std::string& id, uint64_t session) {
  return envelope::parse(R"({"envelope_id":")" + id +
                             R"(","type":"slash_commands",)"
                             R"("accepts_response_payload":true,)"
                             R"("payload":{"command":"/ping",)"
                             R"("channel_id":"C1","user_id":"U1"}})",
                         session);
}

client_config test_config() {
  client_config client;
  client.app_token = "xapp-1-A1-test";
  client.base_url = "http://127.0.0.1:1/api/";
  return client;
}

struct router_fixture {
  explicit router_fixture(const client_config& client = test_config()) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    w = std::make_shared<world>();
    router = sys->spawn(socket_mode_router, client);
    sched->run();
  }

  ~router_fixture() {
    for (auto& x : actors)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    sched->run();
  }

  // Asks the router `xs` from an actor of its own, as a user would, runs
  // everything and hands the answer to `on_reply`.
  template <class OnReply, class... Ts>
  void ask(OnReply on_reply, Ts... xs) {
    actors.push_back(sys->spawn(
        [on_reply, xs...](caf::event_based_actor* self,
                          socket_mode_router_actor dest) {
          self->request(dest, caf::infinite, xs...).then(on_reply);
        },
        router));
    sched->run();
  }

  // Subscribes with `how`: the arguments of the request after subscribe_atom.
  template <class... Ts>
  void subscribe_with(Ts... how) {
    // Shared: the reply handler may outlive this call in a failing test.
    auto ok = std::make_shared<bool>(false);
    ask([ok](caf::ok_atom) { *ok = true; }, subscribe_atom_v, how...);
    REQUIRE(*ok);
  }

  void subscribe(const caf::actor& listener) {
    subscribe_with(listener, std::vector<std::string>{"*"});
  }

  void subscribe_lifecycle(const caf::actor& listener) {
    subscribe_with(lifecycle_atom_v, listener);
  }

  client_status status() {
    auto result = std::make_shared<client_status>();
    ask([result](client_status& x) { *result = std::move(x); }, status_atom_v);
    return *result;
  }

  // A subscriber to every envelope, made by `fn` with the world.
  template <class Fn>
  caf::actor add_subscriber(Fn fn) {
    auto hdl = sys->spawn(fn, w);
    actors.push_back(hdl);
    subscribe(hdl);
    return hdl;
  }

  // A connection of `session` that hands over the slash command `id` in its
  // first batch; what it is told goes to `into`.
  fake_connection_actor add_connection(const world_ptr& into, uint64_t session,
                                       const std::string& id) {
    return add_connection(into, first_batch(session, id));
  }

  // A connection that hands over `batch` first.
  fake_connection_actor add_connection(const world_ptr& into,
                                       inbound_batch batch) {
    auto conn = sys->spawn(fake_connection, into, router, std::move(batch));
    actors.push_back(caf::actor_cast<caf::actor>(conn));
    return conn;
  }

  // Batch `seq` of `session`, with a slash command for each id.
  static inbound_batch batch_of(uint64_t session, uint64_t seq,
                                const std::vector<std::string>& ids) {
    inbound_batch batch;
    batch.session = session;
    batch.seq = seq;
    for (auto& id : ids)
      batch.envelopes.push_back(slash_command(id, session));
    return batch;
  }

  static inbound_batch first_batch(uint64_t session, const std::string& id) {
    return batch_of(session, 1, {id});
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  world_ptr w;
  socket_mode_router_actor router;
  std::vector<caf::actor> actors;
};

} // namespace

TEST_CASE_METHOD(router_fixture,
                 "socket mode router: an envelope answered before the "
                 "supervisor says its session is up is acked on its "
                 "connection",
                 "[socket_mode_router]") {
  // The supervisor's `connected` never comes in this test: the connection's
  // first batch is all the router knows of session 1.
  add_subscriber(answering_subscriber);
  add_connection(w, 1, "E1");
  sched->run();
  CHECK(w->batches_done == 1);
  CHECK(w->answered == std::vector<std::string>{"E1"});
  REQUIRE(w->acks.size() == 1);
  CHECK(w->acks[0] == R"({"envelope_id":"E1","payload":{"text":"pong"}})");
}

TEST_CASE_METHOD(router_fixture,
                 "socket mode router: each connection's envelopes are acked "
                 "on that connection",
                 "[socket_mode_router]") {
  add_subscriber(answering_subscriber);
  auto other = std::make_shared<world>();
  add_connection(w, 1, "E1");
  add_connection(other, 2, "E2");
  sched->run();
  REQUIRE(w->acks.size() == 1);
  CHECK(w->acks[0].find(R"("envelope_id":"E1")") != std::string::npos);
  REQUIRE(other->acks.size() == 1);
  CHECK(other->acks[0].find(R"("envelope_id":"E2")") != std::string::npos);
}

namespace {

// A connection (session 1) handed over slash command E1, whose subscriber
// holds its answer back until `answer()`; a lifecycle subscriber records the
// errors.
struct held_envelope_fixture : router_fixture {
  held_envelope_fixture() {
    listener = add_subscriber(holding_subscriber);
    auto watcher = sys->spawn(lifecycle_recorder, w);
    actors.push_back(watcher);
    subscribe_lifecycle(watcher);
    conn = add_connection(w, 1, "E1");
    sched->run();
    REQUIRE(w->held.size() == 1);
  }

  void answer() {
    caf::anon_send(listener, caf::ok_atom_v);
    sched->run();
    CHECK(w->held.empty());
  }

  void end_connection() {
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    sched->run();
  }

  // E1 is answered: its ack goes to the connection and counts as acked.
  void answer_acked() {
    answer();
    REQUIRE(w->acks.size() == 1);
    CHECK(status().envelopes_acked == 1);
  }

  // The ack written for E1 turned out lost: it counts as failed, not as
  // acked, and `error` says why.
  void check_ack_failed(const std::string& error) {
    CHECK(w->errors == std::vector<std::string>{error});
    auto st = status();
    CHECK(st.envelopes_acked == 0);
    CHECK(st.acks_failed == 1);
  }

  // E1 was reported lost once, and its late answer writes no ack and counts
  // none as written.
  void check_lost_once() {
    CHECK(w->errors == std::vector<std::string>{
                           "cannot ack envelope E1: its connection is gone"});
    answer();
    CHECK(w->acks.empty());
    auto st = status();
    CHECK(st.acks_failed == 1);
    CHECK(st.envelopes_acked == 0);
  }

  caf::actor listener;
  fake_connection_actor conn;
};

} // namespace

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: a connection that dies before the "
                 "supervisor says its session is up takes its unanswered "
                 "envelopes' acks with it",
                 "[socket_mode_router]") {
  // A server may send envelopes before its hello. A connection that then
  // ends without a hello is a failed attempt to the supervisor: no
  // `disconnected` for its session ever comes. The router must still see
  // that the ack it owes cannot be written, and say so.
  end_connection();
  check_lost_once();
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: the supervisor's word that a session "
                 "ended fails its unanswered envelopes once",
                 "[socket_mode_router]") {
  // Both `disconnected` and the end of the connection's actor tell of one
  // loss, in either order; the envelope is reported and counted once.
  auto supervisor_says_so = [this] {
    disconnected gone;
    gone.session = 1;
    caf::anon_send(router, std::move(gone));
    sched->run();
  };
  SECTION("the supervisor's word first") {
    supervisor_says_so();
    end_connection();
  }
  SECTION("the connection's end first") {
    end_connection();
    supervisor_says_so();
  }
  check_lost_once();
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: a connected that comes after the "
                 "connection's first batch keeps its acks on that connection",
                 "[socket_mode_router]") {
  connected up;
  up.session = 1;
  caf::anon_send(router, std::move(up),
                 caf::actor_cast<frame_writer_actor>(conn));
  sched->run();
  SECTION("answered: acked there") {
    answer();
    REQUIRE(w->acks.size() == 1);
    CHECK(w->acks[0] == R"({"envelope_id":"E1","payload":{"text":"late"}})");
    CHECK(w->errors.empty());
    auto st = status();
    CHECK(st.envelopes_acked == 1);
    CHECK(st.acks_failed == 0);
  }
  SECTION("the connection ends first: still watched") {
    end_connection();
    check_lost_once();
  }
  SECTION("the connection drains first: its waits end with its notice") {
    // It says it drained, then quits: until the router sees it gone, an
    // answer would find its writer and count an ack that nothing writes
    // (here the stand-in stays, as if its down message were late).
    caf::anon_send(router, session_drained{1, 0});
    sched->run();
    check_lost_once();
  }
  SECTION("the connection drains, then the supervisor's word that it was "
          "replaced comes: nothing is asked of it any more") {
    caf::anon_send(router, session_drained{1, 0});
    sched->run();
    auto logged = w->log.size();
    caf::anon_send(router, close_atom_v, uint64_t{1},
                   caf::actor_cast<session_closer_actor>(conn));
    sched->run();
    CHECK(w->log.size() == logged);
  }
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: a copy of an envelope that waits for its "
                 "answer gets no ack of its own, and the answer acks it once",
                 "[socket_mode_router]") {
  // An empty ack for the copy would settle the slash command before its
  // answer: Slack would show the user nothing.
  auto other = std::make_shared<world>();
  SECTION("the copy on the same connection") {
    caf::anon_send(conn, batch_of(1, 2, {"E1"}));
  }
  SECTION("the copy on another connection") {
    add_connection(other, 2, "E1");
  }
  sched->run();
  CHECK(w->acks.empty());
  CHECK(other->acks.empty());
  CHECK(status().events_duplicate == 1);
  answer();
  REQUIRE(w->acks.size() == 1);
  CHECK(w->acks[0] == R"({"envelope_id":"E1","payload":{"text":"late"}})");
  CHECK(other->acks.empty());
  auto st = status();
  CHECK(st.envelopes_acked == 1);
  CHECK(st.acks_failed == 0);
  // Once answered, a further copy is acked as a duplicate again.
  caf::anon_send(conn, batch_of(1, 3, {"E1"}));
  sched->run();
  CHECK(w->acks.size() == 2);
  CHECK(w->acks.back() == R"({"envelope_id":"E1"})");
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: when the connection of an envelope that "
                 "waits for its answer ends, a copy's connection takes its ack",
                 "[socket_mode_router]") {
  // Slack sends an envelope again on another connection when the first one
  // goes away; the router may see the copy before the end.
  auto other = std::make_shared<world>();
  add_connection(other, 2, "E1");
  sched->run();
  CHECK(other->acks.empty());
  SECTION("the connection's actor ends") {
    end_connection();
  }
  SECTION("the supervisor says its session ended") {
    disconnected gone;
    gone.session = 1;
    caf::anon_send(router, std::move(gone));
    sched->run();
  }
  CHECK(w->errors.empty());
  answer();
  CHECK(w->acks.empty());
  REQUIRE(other->acks.size() == 1);
  CHECK(other->acks[0] == R"({"envelope_id":"E1","payload":{"text":"late"}})");
  auto st = status();
  CHECK(st.envelopes_acked == 1);
  CHECK(st.acks_failed == 0);
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: a replaced session is closed after the "
                 "acks it owes, and only with all of its batches in hand",
                 "[socket_mode_router]") {
  // The supervisor's word that session 1 was replaced and the connection's
  // next batch take different paths: the batch may come after the router
  // asked the connection to close. The connection then stays open (it has
  // handed over a batch the router had not seen) and the router asks again
  // once that batch's acks are written.
  auto replace = [this] {
    caf::anon_send(router, close_atom_v, uint64_t{1},
                   caf::actor_cast<session_closer_actor>(conn));
    sched->run();
  };
  replace();
  CHECK(w->log.empty()); // E1 waits for its answer
  answer();
  CHECK(w->log == std::vector<std::string>{
                      R"(ack {"envelope_id":"E1","payload":{"text":"late"}})",
                      "close 1000 after 1"});
  // Batch 2 was on its way: the close that went out names batch 1 only.
  caf::anon_send(conn, batch_of(1, 2, {"E2"}));
  sched->run();
  CHECK(w->log.size() == 2); // E2 waits for its answer
  answer();
  CHECK(w->log == std::vector<std::string>{
                      R"(ack {"envelope_id":"E1","payload":{"text":"late"}})",
                      "close 1000 after 1",
                      R"(ack {"envelope_id":"E2","payload":{"text":"late"}})",
                      "close 1000 after 2"});
  // A batch with nothing owed in it brings the next request at once.
  caf::anon_send(conn, batch_of(1, 3, {}));
  sched->run();
  CHECK(w->log.back() == "close 1000 after 3");
  CHECK(w->errors.empty());
  auto st = status();
  CHECK(st.envelopes_acked == 2);
  CHECK(st.acks_failed == 0);
  // The supervisor's word again (it only ever says it once per session)
  // asks nothing new.
  replace();
  CHECK(w->log.size() == 5);
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: close waits for the answers envelopes "
                 "wait for, at most ack_deadline",
                 "[socket_mode_router]") {
  // A restart (`close`) while a subscriber works on a slash command: its
  // reply must reach Slack, not an empty ack that closes the command.
  auto closed = std::make_shared<bool>(false);
  ask([closed](caf::ok_atom) { *closed = true; }, close_atom_v);
  CHECK(w->acks.empty());
  CHECK_FALSE(*closed);
  SECTION("the answer comes: acked with it, then the client closes") {
    answer();
    CHECK(w->acks == std::vector<std::string>{
                         R"({"envelope_id":"E1","payload":{"text":"late"}})"});
    CHECK(w->errors.empty());
    CHECK(*closed);
  }
  SECTION("no answer by ack_deadline: acked empty, reported, and the client "
          "closes") {
    sched->trigger_timeouts();
    sched->run();
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
    CHECK(w->errors ==
          std::vector<std::string>{"no response payload for envelope E1 by "
                                   "ack_deadline; acked empty"});
    CHECK(*closed);
  }
  SECTION("an envelope that came after the close began and has no answer "
          "when the wait ends is acked empty, and reported") {
    sched->advance_time(std::chrono::seconds{1});
    caf::anon_send(conn, batch_of(1, 2, {"E2"}));
    sched->run();
    CHECK(w->held.size() == 2);
    // The close's wait ends with E1's deadline, before E2's.
    sched->advance_time(std::chrono::milliseconds{1500});
    sched->run();
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})",
                                              R"({"envelope_id":"E2"})"});
    CHECK(w->errors ==
          std::vector<std::string>{
              "no response payload for envelope E1 by ack_deadline; acked "
              "empty",
              "1 envelope(s) still waited for their subscribers when the "
              "client closed: acked empty (or left to Slack if nobody took "
              "them)"});
    CHECK(*closed);
  }
}

TEST_CASE_METHOD(router_fixture,
                 "socket mode router: an envelope's ack deadline counts from "
                 "when its frame was read, not from when the router saw it",
                 "[socket_mode_router]") {
  // E1 waited 2 s in the client before the router took its batch (behind
  // subscribers or callbacks that lag): 0.5 s of its 2.5 s are left, and its
  // empty ack must go out then, inside Slack's 3 s, not 2.5 s later. E2 has
  // no read time (the scheduler's clock is not the real one): it keeps its
  // whole deadline.
  auto listener = add_subscriber(holding_subscriber);
  auto watcher = sys->spawn(lifecycle_recorder, w);
  actors.push_back(watcher);
  subscribe_lifecycle(watcher);
  auto command = [](const std::string& id,
                    std::chrono::steady_clock::time_point read_at) {
    frame_parser parser{frame_parser::default_max_depth,
                        frame_parser::memory::heap};
    return parser.parse_envelope(slash_command(id, 1).raw(), 1, read_at);
  };
  auto now = std::chrono::steady_clock::now();
  inbound_batch batch;
  batch.session = 1;
  batch.seq = 1;
  batch.envelopes.push_back(command("E1", now - std::chrono::seconds{2}));
  batch.envelopes.push_back(slash_command("E2", 1));
  REQUIRE(frame_parser::read_at(batch.envelopes[0]) ==
          now - std::chrono::seconds{2});
  add_connection(w, std::move(batch));
  sched->run();
  REQUIRE(w->held.size() == 2);
  sched->advance_time(std::chrono::milliseconds{600});
  sched->run();
  CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
  CHECK(w->errors ==
        std::vector<std::string>{"no response payload for envelope E1 by "
                                 "ack_deadline; acked empty"});
  // E2's answer comes in its time and is its ack (E1's late one is dropped).
  sched->advance_time(std::chrono::milliseconds{1000});
  caf::anon_send(listener, caf::ok_atom_v);
  sched->run();
  CHECK(w->acks == std::vector<std::string>{
                       R"({"envelope_id":"E1"})",
                       R"({"envelope_id":"E2","payload":{"text":"late"}})"});
  CHECK(w->errors.size() == 1);
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: envelopes read while their connection "
                 "was closing are delivered, their acks counted as failed",
                 "[socket_mode_router]") {
  // The connection had sent its close frame: two acks on receipt were not
  // written, and E2 can never be acked. E1, of the batch before, waits for
  // its answer on a connection that can no longer take it either.
  auto batch = batch_of(1, 2, {"E2"});
  batch.closing = true;
  batch.acks_unwritten = 2;
  caf::anon_send(conn, std::move(batch));
  sched->run();
  CHECK(w->answered == std::vector<std::string>{"E1", "E2"});
  answer();
  CHECK(w->acks.empty());
  CHECK(w->errors == std::vector<std::string>{
                         "cannot ack envelope E1: its connection is gone",
                         "cannot ack 2 envelope(s) of session 1: read while "
                         "its connection was closing",
                         "cannot ack envelope E2: its connection is gone"});
  auto st = status();
  CHECK(st.acks_failed == 4);
  CHECK(st.envelopes_acked == 0);
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: an ack its connection could not write "
                 "any more is counted as failed, not as acked",
                 "[socket_mode_router]") {
  // The connection began to close on its own (a dead link, say) while the
  // ack was on its way to it, and sent it back.
  answer_acked();
  caf::anon_send(router, unsent_atom_v, std::string{"E1"});
  sched->run();
  check_ack_failed("cannot ack envelope E1: its connection was closing");
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: acks its connection's I/O layer dropped "
                 "are counted as failed, not as acked",
                 "[socket_mode_router]") {
  answer_acked();
  caf::anon_send(router, unsent_atom_v, uint64_t{1}, uint32_t{1});
  sched->run();
  check_ack_failed("cannot ack 1 envelope(s) of session 1: the connection "
                   "ended before they were written");
}

TEST_CASE_METHOD(held_envelope_fixture,
                 "socket mode router: an ack that reached its connection after "
                 "the connection's last word is counted as failed",
                 "[socket_mode_router]") {
  answer_acked();
  auto late = "cannot ack 1 envelope(s) of session 1: they reached its "
              "connection after it ended";
  SECTION("the connection took it") {
    caf::anon_send(router, session_drained{1, 0, 1});
    sched->run();
    CHECK(w->errors.empty());
    CHECK(status().envelopes_acked == 1);
  }
  SECTION("it was still in the mailbox of the connection as that ended") {
    caf::anon_send(router, session_drained{1, 0, 0});
    sched->run();
    check_ack_failed(late);
  }
  SECTION("the same, after a batch read while the connection was closing") {
    // That batch makes the router forget the connection; the count of the
    // acks sent to it must outlive that until its drained notice.
    auto batch = batch_of(1, 2, {});
    batch.closing = true;
    caf::anon_send(conn, std::move(batch));
    sched->run();
    caf::anon_send(router, session_drained{1, 0, 0});
    sched->run();
    check_ack_failed(late);
  }
}

namespace {

// A batched subscriber that records the order in which envelopes reach it,
// batched or one by one (those that wait for its answer).
caf::behavior ordering_subscriber(caf::event_based_actor*, const world_ptr& w) {
  return {
      [w](const envelope_batch& batch) {
        for (auto& env : batch.envelopes)
          w->answered.emplace_back(env.id());
      },
      [w](const envelope& env) -> response {
        w->answered.emplace_back(env.id());
        return no_payload();
      },
  };
}

envelope events_api(const std::string& id, uint64_t session) {
  return envelope::parse(R"({"envelope_id":")" + id +
                             R"(","type":"events_api",)"
                             R"("accepts_response_payload":false,)"
                             R"("payload":{"event_id":"Ev)" +
                             id +
                             R"(","type":"event_callback",)"
                             R"("event":{"type":"app_mention",)"
                             R"("channel":"C1","text":"hi"}}})",
                         session);
}

} // namespace

TEST_CASE_METHOD(router_fixture,
                 "socket mode router: a batched subscriber gets an envelope "
                 "that waits for its answer after the envelopes before it",
                 "[socket_mode_router]") {
  auto hdl = sys->spawn(ordering_subscriber, w);
  actors.push_back(hdl);
  subscribe_with(hdl, std::vector<std::string>{"*"}, batch_atom_v);
  inbound_batch batch;
  batch.session = 1;
  batch.seq = 1;
  batch.envelopes.push_back(events_api("E1", 1));
  batch.envelopes.push_back(slash_command("S1", 1));
  batch.envelopes.push_back(events_api("E2", 1));
  add_connection(w, std::move(batch));
  sched->run();
  CHECK(w->answered == std::vector<std::string>{"E1", "S1", "E2"});
  CHECK(w->batches_done == 1);
}

namespace {

// An `events_api` envelope `id` of event `event_id`, delivery attempt
// `retry`.
envelope events_api_copy(const std::string& id, const std::string& event_id,
                         uint32_t retry, uint64_t session) {
  return envelope::parse(
      R"({"envelope_id":")" + id + R"(","type":"events_api",)" +
          R"("accepts_response_payload":false,"retry_attempt":)" +
          std::to_string(retry) +
          R"(,"retry_reason":"timeout","payload":{"event_id":")" + event_id +
          R"(","type":"event_callback","event":{"type":"app_mention",)"
          R"("channel":"C1","text":"hi"}}})",
      session);
}

// A subscriber that hands each envelope on to `target` (a relay does so to
// its remote node): if `target` has ended, the request bounces.
caf::behavior delegating_subscriber(caf::event_based_actor* self,
                                    caf::actor target) {
  return {
      [self, target](const envelope& env) {
        return self->delegate(target, env);
      },
  };
}

// A client that acks events once a subscriber took them, and leaves the
// ones nobody took to Slack (a hub's clients); a connection of session 1
// is up, and a lifecycle subscriber records the errors.
struct unclaimed_fixture : router_fixture {
  static client_config redelivering() {
    auto client = test_config();
    client.ack_after_delivery = true;
    client.redeliver_unclaimed = true;
    return client;
  }

  unclaimed_fixture() : router_fixture(redelivering()) {
    auto watcher = sys->spawn(lifecycle_recorder, w);
    actors.push_back(watcher);
    subscribe_lifecycle(watcher);
    conn = add_connection(w, batch(1, {}));
    sched->run();
  }

  // Batch `seq` of session 1 with `envs`.
  static inbound_batch batch(uint64_t seq, std::vector<envelope> envs) {
    inbound_batch result;
    result.session = 1;
    result.seq = seq;
    result.envelopes = std::move(envs);
    return result;
  }

  void hand_over(uint64_t seq, std::vector<envelope> envs) {
    caf::anon_send(conn, batch(seq, std::move(envs)));
    sched->run();
  }

  // The copy Slack sends of an envelope left to it is delivered, and acked
  // once the subscriber took it.
  void check_copy_delivered(uint64_t seq) {
    w->answered.clear();
    w->acks.clear();
    if (!copy_subscriber)
      copy_subscriber = add_subscriber(ordering_subscriber);
    hand_over(seq, {events_api_copy("E1b", "EvA", 1, 1)});
    CHECK(w->answered == std::vector<std::string>{"E1b"});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1b"})"});
    auto st = status();
    CHECK(st.events_duplicate == 0);
    CHECK(st.events_delivered == 1); // the copy; the one left is not counted
  }

  // E1, held by a subscriber: its connection ends, it is left to Slack, and
  // Slack sends it again with the same envelope id on the next connection.
  void resent_after_connection_ends() {
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    sched->run();
    CHECK(status().envelopes_unclaimed == 1);
    conn = add_connection(w, batch(1, {}));
    sched->run();
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    REQUIRE(w->held.size() == 2);
  }

  // Subscribes an actor that hands each envelope on to one that has ended.
  void subscribe_to_gone() {
    // With an argument: CAF 0.17 spawns a function without one through a
    // null pointer (UBSan's "reference binding to null pointer").
    auto gone = sys->spawn(
        [](caf::event_based_actor*, const world_ptr&) -> caf::behavior {
          return {[](int) {
          }};
        },
        w);
    caf::anon_send_exit(gone, caf::exit_reason::user_shutdown);
    sched->run();
    auto hdl = sys->spawn(delegating_subscriber, gone);
    actors.push_back(hdl);
    subscribe(hdl);
  }

  fake_connection_actor conn;
  caf::actor copy_subscriber;
};

} // namespace

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event no actor is subscribed to is "
                 "left to Slack, and the copy Slack sends is delivered",
                 "[socket_mode_router]") {
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  CHECK(w->acks.empty());
  auto st = status();
  CHECK(st.envelopes_unclaimed == 1);
  CHECK(st.events_delivered == 0);
  CHECK(st.envelopes_acked == 0);
  CHECK(w->errors.empty());
  check_copy_delivered(3);
  CHECK(status().envelopes_unclaimed == 1);
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event that may be left to Slack keeps "
                 "its whole deadline, however long it waited in the client",
                 "[socket_mode_router]") {
  // Read 3 s ago: Slack retries it whatever the client does now. What its
  // deadline decides is whether a subscriber took it: left to Slack while
  // the subscriber was still at it, it would be delivered twice.
  auto listener = add_subscriber(holding_subscriber);
  frame_parser parser{frame_parser::default_max_depth,
                      frame_parser::memory::heap};
  auto late = parser.parse_envelope(events_api_copy("E1", "EvA", 0, 1).raw(), 1,
                                    std::chrono::steady_clock::now() -
                                        std::chrono::seconds{3});
  hand_over(2, {late});
  REQUIRE(w->held.size() == 1);
  sched->advance_time(std::chrono::seconds{1});
  sched->run();
  CHECK(w->acks.empty());
  caf::anon_send(listener, caf::ok_atom_v);
  sched->run();
  CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
  CHECK(status().envelopes_unclaimed == 0);
  // Slack's retry is a duplicate.
  hand_over(3, {events_api_copy("E1b", "EvA", 1, 1)});
  CHECK(w->answered == std::vector<std::string>{"E1"});
  CHECK(status().events_duplicate == 1);
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an envelope id that comes again while "
                 "its first envelope waits is a copy, though the filter "
                 "forgot it",
                 "[socket_mode_router]") {
  // A faulty server reuses envelope ids for other events.
  add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("A", "E1", 0, 1)});
  sched->advance_time(std::chrono::milliseconds{100});
  sched->run();
  hand_over(3, {events_api_copy("B", "E2", 0, 1)});
  // B again, as a copy of E1: it waits with A.
  hand_over(4, {events_api_copy("B", "E1", 1, 1)});
  // A is left to Slack: the filter forgets A, E1 and B with it.
  sched->advance_time(std::chrono::milliseconds{2450});
  sched->run();
  CHECK(status().envelopes_unclaimed == 2);
  // B once more, with another event, while the first B still waits.
  hand_over(5, {events_api_copy("B", "E3", 0, 1)});
  CHECK(w->answered == std::vector<std::string>{"A", "B"});
  CHECK(status().events_duplicate == 2);
  // The first B is left to Slack in its turn, with E3: both counted.
  sched->advance_time(std::chrono::seconds{3});
  sched->run();
  CHECK(status().envelopes_unclaimed == 4);
  // Slack's copies of E2 and E3 are new again: delivered, not swallowed.
  hand_over(
      6, {events_api_copy("C", "E2", 1, 1), events_api_copy("D", "E3", 1, 1)});
  CHECK(w->answered == std::vector<std::string>{"A", "B", "C", "D"});
  CHECK(w->acks.empty());
  CHECK(w->errors.empty());
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: what Slack sends no more copies of is "
                 "acked even if nobody took it",
                 "[socket_mode_router]") {
  // Slack's last retry, and a slash command (never retried).
  hand_over(2, {events_api_copy("E3", "EvB", 3, 1), slash_command("S1", 1)});
  CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E3"})",
                                            R"({"envelope_id":"S1"})"});
  CHECK(status().envelopes_unclaimed == 0);
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event no subscriber answered by the "
                 "deadline is left to Slack",
                 "[socket_mode_router]") {
  auto listener = add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  REQUIRE(w->held.size() == 1);
  sched->advance_time(std::chrono::seconds{3});
  sched->run();
  CHECK(w->acks.empty());
  auto st = status();
  CHECK(st.envelopes_unclaimed == 1);
  CHECK(st.acks_late == 0);
  CHECK(w->errors.empty());
  // Its answer after the deadline acks nothing.
  caf::anon_send(listener, caf::ok_atom_v);
  sched->run();
  CHECK(w->acks.empty());
  caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
  sched->run();
  check_copy_delivered(3);
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event whose subscriber ended before "
                 "it took it is left to Slack",
                 "[socket_mode_router]") {
  subscribe_to_gone();
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  CHECK(w->acks.empty());
  CHECK(status().envelopes_unclaimed == 1);
  CHECK(w->errors.empty());
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event a subscriber took is acked, "
                 "also when another one ended first",
                 "[socket_mode_router]") {
  SECTION("in time") {
    add_subscriber(ordering_subscriber);
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
  }
  SECTION("one of two subscribers took it, the other ended") {
    add_subscriber(ordering_subscriber);
    subscribe_to_gone();
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
  }
  CHECK(status().envelopes_unclaimed == 0);
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event nobody took yet when its "
                 "connection ended is left to Slack, and its copy delivered",
                 "[socket_mode_router]") {
  add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  REQUIRE(w->held.size() == 1);
  caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched->run();
  CHECK(w->errors.empty()); // not a failed ack: nobody owed one
  auto st = status();
  CHECK(st.envelopes_unclaimed == 1);
  CHECK(st.acks_failed == 0);
  // Slack sends the copy on the connection that takes the old one's place.
  conn = add_connection(w, batch(1, {}));
  sched->run();
  w->held.clear();
  w->answered.clear();
  hand_over(2, {events_api_copy("E1b", "EvA", 1, 1)});
  CHECK(w->answered == std::vector<std::string>{"E1b"});
  CHECK(status().events_duplicate == 0);
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: a copy that comes while its event waits "
                 "for the subscribers shares its fate",
                 "[socket_mode_router]") {
  // Slack's retry came before the deadline (a router slow to read its
  // batches): acked, the copy would end the retries of an event that may
  // be left to Slack.
  auto listener = add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  hand_over(3, {events_api_copy("E1b", "EvA", 1, 1)});
  CHECK(w->acks.empty());
  CHECK(status().events_duplicate == 1);
  SECTION("taken: the event is acked, and its next copy as a duplicate") {
    caf::anon_send(listener, caf::ok_atom_v);
    sched->run();
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
    hand_over(4, {events_api_copy("E1c", "EvA", 2, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})",
                                              R"({"envelope_id":"E1c"})"});
    CHECK(status().envelopes_unclaimed == 0);
  }
  SECTION("nobody took it: both are left, and what comes next delivered") {
    sched->advance_time(std::chrono::seconds{3});
    sched->run();
    CHECK(w->acks.empty());
    CHECK(status().envelopes_unclaimed == 2);
    w->answered.clear();
    // Slack has been seen to send an envelope id again: the copy's too is
    // new.
    hand_over(4, {events_api_copy("E1b", "EvA", 1, 1)});
    CHECK(w->answered == std::vector<std::string>{"E1b"});
  }
  SECTION("Slack's last retry is acked all the same") {
    hand_over(4, {events_api_copy("E1d", "EvA", 3, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1d"})"});
  }
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: the deadline of an envelope left to "
                 "Slack does not cut short the wait for its copy with the "
                 "same id",
                 "[socket_mode_router]") {
  add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  sched->advance_time(std::chrono::seconds{1});
  // 1 s into E1's first deadline.
  resent_after_connection_ends();
  // The first deadline passes: not the copy's.
  sched->advance_time(std::chrono::milliseconds{1600});
  sched->run();
  CHECK(status().envelopes_unclaimed == 1);
  // Its own does.
  sched->advance_time(std::chrono::seconds{1});
  sched->run();
  CHECK(status().envelopes_unclaimed == 2);
  CHECK(w->acks.empty());
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: a late answer for an envelope left to "
                 "Slack does not settle its copy with the same id",
                 "[socket_mode_router]") {
  auto listener = add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  // While the first request is still open.
  resent_after_connection_ends();
  // The subscriber declines the first one, late: the copy waits on.
  caf::anon_send(listener, uint64_t{0}, make_error(errc::not_taken));
  sched->run();
  CHECK(status().envelopes_unclaimed == 1);
  CHECK(w->acks.empty());
  // It takes the copy: acked.
  caf::anon_send(listener, uint64_t{1}, make_error(errc::no_payload));
  sched->run();
  CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
  CHECK(status().envelopes_unclaimed == 1);
  w->held.clear();
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: an event nobody subscribed to while "
                 "others are is acked, one its subscriber refused is left",
                 "[socket_mode_router]") {
  SECTION("subscribers for other types only") {
    auto hdl = sys->spawn(ordering_subscriber, w);
    actors.push_back(hdl);
    subscribe_with(hdl, std::vector<std::string>{"reaction_added"});
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
    CHECK(status().envelopes_unclaimed == 0);
  }
  SECTION("declined: a hub's relay whose window is full") {
    auto hdl = sys->spawn(answering_with, make_error(errc::not_taken));
    actors.push_back(hdl);
    subscribe(hdl);
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks.empty());
    CHECK(status().envelopes_unclaimed == 1);
  }
  SECTION("a subscriber's own error: it took the envelope") {
    auto hdl =
        sys->spawn(answering_with, make_error(errc::send_queue_full, "full"));
    actors.push_back(hdl);
    subscribe(hdl);
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
    CHECK(status().envelopes_unclaimed == 0);
  }
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: what only a subscriber whose node went "
                 "away wanted is left to Slack for an hour, also while "
                 "others are subscribed",
                 "[socket_mode_router]") {
  auto other = sys->spawn(ordering_subscriber, w);
  actors.push_back(other);
  subscribe_with(other, std::vector<std::string>{"reaction_added"});
  auto gone = sys->spawn(ordering_subscriber, w);
  actors.push_back(gone);
  subscribe_with(gone, std::vector<std::string>{"app_mention"});
  SECTION("its node went away") {
    caf::anon_send_exit(gone, caf::exit_reason::remote_link_unreachable);
    sched->run();
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks.empty());
    CHECK(status().envelopes_unclaimed == 1);
    // An hour on, its bot subscribed again or went for good.
    sched->advance_time(std::chrono::minutes{61});
    sched->run();
    hand_over(3, {events_api_copy("E2", "EvB", 0, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E2"})"});
  }
  SECTION("it ended, its node did not: it wants nothing any more") {
    caf::anon_send_exit(gone, caf::exit_reason::user_shutdown);
    sched->run();
    hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
    CHECK(w->acks == std::vector<std::string>{R"({"envelope_id":"E1"})"});
    CHECK(status().envelopes_unclaimed == 0);
  }
}

TEST_CASE_METHOD(unclaimed_fixture,
                 "socket mode router: a copy with the id of a waiting envelope "
                 "that the filter lost is counted once when left to Slack",
                 "[socket_mode_router]") {
  add_subscriber(holding_subscriber);
  hand_over(2, {events_api_copy("E1", "EvA", 0, 1)});
  sched->advance_time(std::chrono::seconds{3});
  sched->run();
  CHECK(status().envelopes_unclaimed == 1);
  // Just under the filter's window (15 min) after E1 came first: Slack's
  // copy with the same id is new, and waits.
  sched->advance_time(std::chrono::seconds{896});
  sched->run();
  hand_over(3, {events_api_copy("E1", "EvA", 1, 1)});
  REQUIRE(w->held.size() == 2);
  // The window ends: the filter drops E1 and EvA, added again meanwhile,
  // with their first entries. The next copy is one of the waiting E1 all
  // the same, and is recorded once.
  sched->advance_time(std::chrono::seconds{2});
  sched->run();
  hand_over(4, {events_api_copy("E1", "EvA", 2, 1)});
  CHECK(w->answered == std::vector<std::string>{"E1", "E1"});
  CHECK(status().events_duplicate == 1);
  // Nobody took E1: left to Slack with its one copy.
  sched->advance_time(std::chrono::seconds{1});
  sched->run();
  CHECK(w->acks.empty());
  CHECK(w->errors.empty());
  CHECK(status().envelopes_unclaimed == 3); // 4 before 384f9d5
}
