// The ping monitor under CAF's deterministic test scheduler: time moves only
// when the test says so, so detection times are checked exactly.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "detail/ping_monitor.hpp"

using namespace caf::rtm;
using namespace caf::rtm::detail;
using namespace std::chrono_literals;

namespace {

// What the stand-ins for the connection and the supervisor saw.
struct observed {
  std::vector<std::string> pings;
  int dead_links = 0;
  /// The payloads of the pings the monitor gave up on.
  std::vector<std::string> given_up;
  std::vector<caf::timespan> rtts;
};

// The monitor needs two messages of its connection and one of the
// supervisor: the stand-ins implement exactly those roles.
ping_target_actor::behavior_type
fake_connection(const std::shared_ptr<observed>& obs) {
  return {
      [obs](ping_atom, std::string& payload) { obs->pings.push_back(payload); },
      [obs](dead_link_atom, std::string& payload) {
        ++obs->dead_links;
        obs->given_up.push_back(std::move(payload));
      },
  };
}

rtt_sink_actor::behavior_type
fake_supervisor(const std::shared_ptr<observed>& obs) {
  return {
      [obs](rtt_atom, uint64_t, caf::timespan rtt) {
        obs->rtts.push_back(rtt);
      },
  };
}

struct deterministic_fixture {
  deterministic_fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    obs = std::make_shared<observed>();
    conn = sys->spawn(fake_connection, obs);
    sup = sys->spawn(fake_supervisor, obs);
  }

  ~deterministic_fixture() {
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    sched->run();
  }

  ping_monitor_actor start(caf::timespan interval, caf::timespan timeout) {
    ping_monitor_args args{7, interval, timeout, conn, sup};
    auto m = sys->spawn(ping_monitor, args);
    sched->run();
    return m;
  }

  void advance(caf::timespan d) {
    sched->advance_time(d);
    sched->run();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<observed> obs;
  ping_target_actor conn;
  rtt_sink_actor sup;
};

} // namespace

TEST_CASE_METHOD(deterministic_fixture,
                 "a peer that never answers is dead after pong_timeout",
                 "[ping]") {
  start(5s, 2s);
  REQUIRE(obs->pings.size() == 1); // the first ping goes out at once
  advance(1999ms);
  CHECK(obs->dead_links == 0);
  advance(1ms);
  CHECK(obs->dead_links == 1);
  // The connection learns which ping went unanswered.
  CHECK(obs->given_up == obs->pings);
  advance(20s); // reported once, no more pings after death
  CHECK(obs->dead_links == 1);
  CHECK(obs->pings.size() == 1);
}

TEST_CASE_METHOD(deterministic_fixture,
                 "answered pings keep the link alive and give the RTT",
                 "[ping]") {
  auto m = start(1s, 1s);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(obs->pings.size() == static_cast<size_t>(i + 1));
    advance(300ms);
    caf::anon_send(m, pong_atom_v, obs->pings.back());
    sched->run();
    advance(700ms);
  }
  CHECK(obs->dead_links == 0);
  REQUIRE(obs->rtts.size() == 5);
  CHECK(obs->rtts.front() == caf::timespan{300ms});
}

TEST_CASE_METHOD(
    deterministic_fixture,
    "a link dying after a pong is caught within interval + timeout", "[ping]") {
  auto m = start(5s, 3s);
  caf::anon_send(m, pong_atom_v, obs->pings.back());
  sched->run();
  // From here the peer is silent: ping 2 at 5 s, dead at 5 s + 3 s.
  advance(5s);
  REQUIRE(obs->pings.size() == 2);
  advance(2999ms);
  CHECK(obs->dead_links == 0);
  advance(1ms);
  CHECK(obs->dead_links == 1);
  // The ping given up on is the second, not the answered first.
  REQUIRE(obs->given_up.size() == 1);
  CHECK(obs->given_up.front() == obs->pings.at(1));
}

TEST_CASE_METHOD(deterministic_fixture,
                 "pongs of another session or unknown pings do not count",
                 "[ping]") {
  auto m = start(10s, 2s);
  caf::anon_send(m, pong_atom_v, ping_payload(8, 1));  // another session
  caf::anon_send(m, pong_atom_v, ping_payload(7, 99)); // no such ping
  caf::anon_send(m, pong_atom_v, std::string{"garbage"});
  sched->run();
  advance(2s);
  CHECK(obs->dead_links == 1);
  CHECK(obs->rtts.empty());
}

TEST_CASE_METHOD(deterministic_fixture,
                 "a monitor started again numbers on: a late pong to the last "
                 "monitor's ping does not count",
                 "[ping]") {
  // The connection starts a new monitor after a slow consumer's pause; the
  // old monitor's pongs may still be in the backlog read after it.
  ping_monitor_args args{7, 10s, 2s, conn, sup};
  args.first_ping = 4; // the last monitor sent pings 1 to 3
  auto m = sys->spawn(ping_monitor, args);
  sched->run();
  REQUIRE(obs->pings.size() == 1);
  CHECK(obs->pings.front() == ping_payload(7, 4));
  caf::anon_send(m, pong_atom_v, ping_payload(7, 1));
  sched->run();
  CHECK(obs->rtts.empty());
  advance(2s);
  CHECK(obs->dead_links == 1);
  CHECK(obs->given_up == obs->pings);
}

TEST_CASE_METHOD(deterministic_fixture, "the monitor ends with its connection",
                 "[ping]") {
  auto m = start(1s, 1s);
  auto before = sys->registry().running();
  caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
  sched->run();
  CHECK(sys->registry().running() == before - 2); // connection and monitor
  conn = sys->spawn(fake_connection, obs);        // for the destructor
}
