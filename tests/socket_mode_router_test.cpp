// The Socket Mode router under CAF's deterministic test scheduler: the order
// of messages that real sockets make rare is made here on purpose. Stand-ins
// play a connection (it hands over batches and records the acks it is told
// to write) and a subscriber (it answers envelopes that take a response).

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/json_object.hpp"
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
};

using world_ptr = std::shared_ptr<world>;

// A connection that hands `batch` to the router as its first act, as a real
// one does with the frames it read, and then writes what it is told to.
frame_writer_actor::behavior_type
fake_connection(frame_writer_actor::pointer self, world_ptr w,
                socket_mode_router_actor router, inbound_batch batch) {
  self->request(router, caf::infinite, std::move(batch))
      .then([w](caf::ok_atom) { ++w->batches_done; });
  return {
      [](send_atom, int64_t, std::string&) {
        // Socket Mode writes acks only.
      },
      [w](ack_atom, std::string& text) { w->acks.push_back(std::move(text)); },
  };
}

caf::behavior answering_subscriber(caf::event_based_actor*, world_ptr w) {
  return {
      [w](const envelope& env) -> response {
        w->answered.emplace_back(env.id());
        return json_object_from(R"({"text":"pong"})");
      },
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

struct router_fixture {
  router_fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    w = std::make_shared<world>();
    client_config client;
    client.app_token = "xapp-1-A1-test";
    client.base_url = "http://127.0.0.1:1/api/";
    router = sys->spawn(socket_mode_router, client);
    sched->run();
  }

  ~router_fixture() {
    for (auto& x : actors)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    sched->run();
  }

  void subscribe(const caf::actor& listener) {
    auto ok = std::make_shared<bool>(false);
    actors.push_back(sys->spawn(
        [ok, listener](caf::event_based_actor* self,
                       socket_mode_router_actor dest) {
          self->request(dest, caf::infinite, subscribe_atom_v, listener,
                        std::vector<std::string>{"*"})
              .then([ok](caf::ok_atom) { *ok = true; });
        },
        router));
    sched->run();
    REQUIRE(*ok);
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
  auto listener = sys->spawn(answering_subscriber, w);
  actors.push_back(listener);
  subscribe(listener);
  inbound_batch batch;
  batch.session = 1;
  batch.envelopes.push_back(slash_command("E1", 1));
  auto conn = sys->spawn(fake_connection, w, router, std::move(batch));
  actors.push_back(caf::actor_cast<caf::actor>(conn));
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
  auto listener = sys->spawn(answering_subscriber, w);
  actors.push_back(listener);
  subscribe(listener);
  auto other = std::make_shared<world>();
  inbound_batch first;
  first.session = 1;
  first.envelopes.push_back(slash_command("E1", 1));
  inbound_batch second;
  second.session = 2;
  second.envelopes.push_back(slash_command("E2", 2));
  auto conn1 = sys->spawn(fake_connection, w, router, std::move(first));
  auto conn2 = sys->spawn(fake_connection, other, router, std::move(second));
  actors.push_back(caf::actor_cast<caf::actor>(conn1));
  actors.push_back(caf::actor_cast<caf::actor>(conn2));
  sched->run();
  REQUIRE(w->acks.size() == 1);
  CHECK(w->acks[0].find(R"("envelope_id":"E1")") != std::string::npos);
  REQUIRE(other->acks.size() == 1);
  CHECK(other->acks[0].find(R"("envelope_id":"E2")") != std::string::npos);
}
