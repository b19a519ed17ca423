// A hub's relay under CAF's deterministic test scheduler: the client hands it
// events, and a target that stands for a remote subscriber's node answers
// them when the test says so.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/hub/type_ids.hpp"
#include "caf/rtm/json_object.hpp"
#include "hub/drop_log.hpp"
#include "hub/forwarder.hpp"
#include "hub/relay.hpp"

using namespace caf::rtm;

namespace {

// What the target got, in order ("events N" or "gap N"), and the answers it
// holds back.
struct target_log {
  std::vector<std::string> got;
  std::vector<hub::hub_gap> gaps;
  std::deque<caf::response_promise> held;
  // The relay's probes, held apart.
  std::deque<caf::response_promise> probes;
};

caf::response_promise take_oldest(target_log& log) {
  auto rp = log.held.front();
  log.held.pop_front();
  return rp;
}

// Answers the oldest held request on `ok_atom` (empty, as the bot node's
// forwarder does), with an error on `delete_atom`, with a value on
// `get_atom`, with a response payload on `put_atom`; the oldest probe
// (empty) on `add_atom`.
caf::behavior holding_target(caf::event_based_actor* self,
                             const std::shared_ptr<target_log>& log) {
  auto hold = [self, log](size_t n) {
    log->got.push_back("events " + std::to_string(n));
    log->held.push_back(self->make_response_promise());
    return log->held.back();
  };
  return {
      [hold](const event_batch& batch) { return hold(batch.events.size()); },
      [hold](const event&) { return hold(1); },
      [hold](const envelope&) { return hold(1); },
      [log](hub::hub_gap& gap) {
        log->got.push_back("gap " + std::to_string(gap.missed.count));
        log->gaps.push_back(std::move(gap));
      },
      [self, log](hub::detail::probe_atom) {
        log->got.push_back("probe");
        log->probes.push_back(self->make_response_promise());
        return log->probes.back();
      },
      [log](caf::add_atom) {
        auto rp = log->probes.front();
        log->probes.pop_front();
        rp.deliver(caf::unit);
      },
      [log](caf::ok_atom) { take_oldest(*log).deliver(caf::unit); },
      [log](caf::delete_atom) {
        take_oldest(*log).deliver(
            caf::make_error(caf::sec::runtime_error, "refused"));
      },
      [log](caf::get_atom) {
        take_oldest(*log).deliver(
            std::string{"a value the relay does not expect"});
      },
      [log](caf::put_atom) {
        json_object payload;
        payload.value["text"] = "answered";
        take_oldest(*log).deliver(std::move(payload));
      },
  };
}

// 100 bytes of JSON each.
event make_event(int i) {
  auto text = R"({"type":"message","channel":"C1","text":"event )" +
              std::to_string(i) + "\"";
  text += std::string(99 - text.size(), ' ');
  text += '}';
  return event::parse(text);
}

// An envelope that accepts a response payload, as the client asks for its
// answer with a request.
envelope make_envelope(int i) {
  return envelope::parse(
      R"({"envelope_id":"e)" + std::to_string(i) +
      R"(","type":"slash_commands","accepts_response_payload":true,)"
      R"("payload":{"command":"/deploy","text":")" +
      std::string(80, 'x') + R"("}})");
}

event_batch make_batch(int first, int n) {
  event_batch batch;
  for (int i = 0; i < n; ++i)
    batch.events.push_back(make_event(first + i));
  return batch;
}

using strings = std::vector<std::string>;

struct relay_fixture {
  relay_fixture() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    hub::add_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    target = sys->spawn(holding_target, log);
    hub::detail::relay_args args;
    args.workspace = "acme";
    args.window = 300;         // three events
    args.message_overhead = 0; // counted in a test of its own
    args.dropped = dropped;
    args.log = std::make_shared<logger>(
        log_level::warn, [lines = lines](log_level, const std::string& line) {
          lines->push_back(line);
        });
    relay = sys->spawn(hub::detail::relay, target, args);
    sched->run();
  }

  ~relay_fixture() {
    caf::anon_send_exit(relay, caf::exit_reason::kill);
    caf::anon_send_exit(target, caf::exit_reason::kill);
    sched->run();
  }

  template <class T>
  void deliver(T msg) {
    caf::anon_send(relay, std::move(msg));
    sched->run();
  }

  // Asks the relay as the client does; the reply lands in `replies`.
  void ask(envelope env) {
    sys->spawn(
        [](caf::event_based_actor* self, const caf::actor& dest, envelope x,
           const std::shared_ptr<strings>& out) {
          self->request(dest, caf::infinite, std::move(x))
              .then(
                  [out](json_object& payload) {
                    out->push_back(
                        "payload " +
                        std::string{payload.value.at("text").as_string()});
                  },
                  [out](caf::error& err) {
                    if (err == errc::not_taken)
                      out->push_back("refused");
                    else if (err == caf::sec::request_receiver_down)
                      out->push_back("not taken");
                    else
                      out->push_back("error");
                  });
        },
        relay, std::move(env), replies);
    sched->run();
  }

  template <class T>
  void target_does(T what) {
    caf::anon_send(target, what);
    sched->run();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<target_log> log = std::make_shared<target_log>();
  std::shared_ptr<strings> replies = std::make_shared<strings>();
  /// The hub's log lines.
  std::shared_ptr<strings> lines = std::make_shared<strings>();
  std::shared_ptr<std::atomic<uint64_t>> dropped =
      std::make_shared<std::atomic<uint64_t>>(0);
  caf::actor target;
  caf::actor relay;
};

} // namespace

TEST_CASE_METHOD(relay_fixture,
                 "a relay keeps at most its window unanswered, drops the rest "
                 "counted and reports the drop first once the node answers",
                 "[hub]") {
  REQUIRE(make_event(1).raw().size() == 100);
  deliver(make_batch(1, 2)); // 200 bytes out
  deliver(make_event(3));    // 300: the window is full
  deliver(make_event(4));    // dropped
  deliver(make_batch(5, 2)); // dropped
  CHECK(log->got == strings{"events 2", "events 1"});
  CHECK(log->gaps.empty());
  CHECK(*dropped == 3); // the hub's count, at once
  // The node answers the first batch: room for 200 bytes, and the report of
  // the three dropped events goes out before anything else.
  target_does(caf::ok_atom_v);
  deliver(make_batch(7, 2));
  CHECK(log->got == strings{"events 2", "events 1", "gap 3", "events 2"});
  REQUIRE(log->gaps.size() == 1);
  auto& gap = log->gaps.front();
  CHECK(gap.workspace == "acme");
  CHECK(gap.dropped);
  CHECK(gap.missed.known);
  CHECK(gap.missed.count == 3);
  CHECK(gap.missed.since == gap.since);
  // Full again: dropped until half the window is free. An error answer
  // frees room as well, but 200 bytes are still out; the next answer leaves
  // none, and the report goes out.
  deliver(make_event(9));
  target_does(caf::delete_atom_v);
  deliver(make_event(10));
  CHECK(log->got.back() == "events 2");
  target_does(caf::ok_atom_v);
  CHECK(log->got.back() == "gap 2");
  REQUIRE(log->held.empty());
  // Nothing unanswered: a batch larger than the window still goes.
  deliver(make_batch(11, 5));
  CHECK(log->got.back() == "events 5");
  CHECK(log->gaps.size() == 2);
  // Answered without anything dropped meanwhile: no report.
  target_does(caf::ok_atom_v);
  deliver(make_event(16));
  CHECK(log->got.back() == "events 1");
  CHECK(log->gaps.size() == 2);
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay logs its reports at most every 10 s, and what the "
                 "limit held back once the 10 s are over",
                 "[hub]") {
  auto reported = [this] {
    return std::count_if(lines->begin(), lines->end(), [](auto& x) {
      return x.find("reported to it") != std::string::npos;
    });
  };
  deliver(make_batch(1, 3));
  deliver(make_event(4)); // dropped
  target_does(caf::ok_atom_v);
  REQUIRE(log->got.back() == "gap 1");
  CHECK(reported() == 1);
  // Another stretch, reported to the node at once, logged later.
  deliver(make_batch(5, 3));
  deliver(make_event(8)); // dropped
  target_does(caf::ok_atom_v);
  REQUIRE(log->got.back() == "gap 1");
  CHECK(reported() == 1);
  sched->advance_time(std::chrono::seconds{10});
  sched->run();
  REQUIRE(reported() == 2);
  CHECK(lines->back().find("dropped 1 events (1 stretches)") !=
        std::string::npos);
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay's window opens for every answer, whatever it is",
                 "[hub]") {
  deliver(make_batch(1, 3));
  deliver(make_event(4)); // dropped
  target_does(caf::get_atom_v);
  CHECK(log->got == strings{"events 3", "gap 1"});
  deliver(make_batch(5, 3));
  CHECK(log->got.back() == "events 3");
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay's window covers envelopes that wait for an answer: "
                 "one that does not fit is refused at once",
                 "[hub]") {
  auto size = make_envelope(1).raw().size();
  // One fits the window of 300 bytes, two do not.
  REQUIRE(size > 150);
  REQUIRE(size <= 300);
  ask(make_envelope(1));
  ask(make_envelope(2)); // 2 * size > 300, and one is unanswered
  CHECK(*replies == strings{"refused"});
  CHECK(log->got == strings{"events 1"});
  // The answer frees room: the report of the drop goes to the node, the
  // answer back to the client, and the window has room again.
  target_does(caf::put_atom_v);
  CHECK(*replies == strings{"refused", "payload answered"});
  CHECK(log->got == strings{"events 1", "gap 1"});
  ask(make_envelope(3));
  CHECK(log->got.back() == "events 1");
  target_does(caf::delete_atom_v);
  CHECK(replies->back() == "error");
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay tells the client when the node never took an "
                 "envelope, and passes on the node's own answers",
                 "[hub]") {
  // The client leaves an envelope the node never took to Slack; an error
  // of the subscriber is an answer all the same.
  ask(make_envelope(1));
  target_does(caf::delete_atom_v);
  CHECK(*replies == strings{"error"});
  ask(make_envelope(2)); // no answer in time
  sched->trigger_timeouts();
  sched->run();
  CHECK(*replies == strings{"error", "not taken"});
  caf::anon_send_exit(target, caf::exit_reason::kill);
  sched->run();
  // The room of envelope 2 comes back with the answer to the probe behind
  // it: the target took that probe with it, so after its timeout the next
  // probe is refused by CAF.
  sched->trigger_timeouts();
  sched->run();
  ask(make_envelope(3)); // to a subscriber that is gone
  CHECK(*replies == strings{"error", "not taken", "not taken"});
}

TEST_CASE_METHOD(relay_fixture,
                 "after a drop a relay drops everything until half its "
                 "window is free, so the node misses one stretch and hears "
                 "of it first",
                 "[hub]") {
  deliver(make_batch(1, 2)); // 200 bytes out
  deliver(make_batch(3, 2)); // 400 would not fit: dropped
  deliver(make_event(5));    // 300 would fit, but follows a drop: dropped
  CHECK(log->got == strings{"events 2"});
  target_does(caf::ok_atom_v);
  deliver(make_event(6));
  CHECK(log->got == strings{"events 2", "gap 3", "events 1"});
  // Three events fill the window; one more is dropped. One answer leaves
  // 200 bytes out, more than half: still dropping. The second leaves 100.
  deliver(make_event(7));
  deliver(make_event(8));
  deliver(make_event(9)); // dropped
  target_does(caf::ok_atom_v);
  deliver(make_event(10)); // dropped
  CHECK(log->got.back() == "events 1");
  target_does(caf::ok_atom_v);
  CHECK(log->got.back() == "gap 2");
  deliver(make_event(11));
  CHECK(log->got.back() == "events 1");
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay survives a node that knows neither its report nor "
                 "its probe",
                 "[hub]") {
  // A target that takes events and answers nothing else: the report comes
  // back as an error (unexpected message).
  auto taken = std::make_shared<size_t>(0);
  auto plain = sys->spawn(
      [](caf::event_based_actor* self, const std::shared_ptr<size_t>& n) {
        self->set_default_handler(caf::drop);
        return caf::behavior{
            [n](const event_batch& batch) { *n += batch.events.size(); },
        };
      },
      taken);
  hub::detail::relay_args args;
  args.window = 300;
  args.message_overhead = 0;
  auto other = sys->spawn(hub::detail::relay, plain, args);
  caf::anon_send(other, make_batch(1, 3));
  caf::anon_send(other, make_batch(4, 1)); // dropped: nothing answered yet
  sched->run();
  CHECK(*taken == 4 - 1);
  caf::anon_send(other, make_batch(5, 1));
  sched->run();
  CHECK(*taken == 4); // the report went out and was refused; the relay lives
  // A target that never answers events and does not know the probe: after
  // the confirm timeout, the error it answers the probe with shows that the
  // events arrived, and the window opens.
  auto held = std::make_shared<size_t>(0);
  auto never = sys->spawn(
      [](caf::event_based_actor* self, const std::shared_ptr<size_t>& n) {
        self->set_default_handler(caf::drop);
        return caf::behavior{
            [self, n](const event_batch& batch) {
              *n += batch.events.size();
              return self->make_response_promise();
            },
        };
      },
      held);
  auto silent = sys->spawn(hub::detail::relay, never, args);
  caf::anon_send(silent, make_batch(1, 3));
  caf::anon_send(silent, make_batch(4, 1)); // dropped
  sched->run();
  CHECK(*held == 3);
  sched->trigger_timeouts();
  sched->run();
  caf::anon_send(silent, make_batch(5, 1));
  sched->run();
  CHECK(*held == 4);
  for (auto& x : {other, silent, plain, never})
    caf::anon_send_exit(x, caf::exit_reason::kill);
}

TEST_CASE_METHOD(relay_fixture,
                 "a request that timed out keeps its room until the answer to "
                 "a later request shows that it left the hub",
                 "[hub]") {
  // A link slower than the workspace, which CAF never ends while anything
  // moves: what timed out may still wait in the hub's buffer for it.
  deliver(make_batch(1, 3)); // the window is full
  sched->trigger_timeouts();
  sched->run();
  CHECK(log->got == strings{"events 3", "probe"});
  deliver(make_event(4)); // still full: dropped
  CHECK(*dropped == 1);
  CHECK(log->got == strings{"events 3", "probe"});
  // The probe's answer: everything sent before it arrived.
  target_does(caf::add_atom_v);
  CHECK(log->got == strings{"events 3", "probe", "gap 1"});
  deliver(make_event(5));
  CHECK(log->got.back() == "events 1");
  target_does(caf::ok_atom_v); // the batch's request, answered too late
  target_does(caf::ok_atom_v); // event 5: nothing is unanswered now
  // The answer to any later request does as well as a probe's.
  deliver(make_batch(6, 2));
  sched->trigger_timeouts();
  sched->run();
  CHECK(log->got.back() == "probe");
  deliver(make_event(8)); // 300 bytes out, 200 of them timed out
  CHECK(log->got.back() == "events 1");
  target_does(caf::ok_atom_v); // batch 6, too late
  target_does(caf::ok_atom_v); // event 8: batch 6 arrived before it
  deliver(make_batch(9, 3));
  CHECK(log->got.back() == "events 3");
  target_does(caf::ok_atom_v);
  target_does(caf::add_atom_v); // the probe: nothing left to free
  // An envelope that waits for an answer: after `answer_timeout` the client
  // hears that the node did not take it, but its room stays taken.
  ask(make_envelope(1));
  sched->trigger_timeouts();
  sched->run();
  CHECK(*replies == strings{"not taken"});
  CHECK(log->got.back() == "probe");
  ask(make_envelope(2)); // does not fit beside the first
  CHECK(*replies == strings{"not taken", "refused"});
  // A probe that times out is sent again, without freeing anything.
  sched->trigger_timeouts();
  sched->run();
  CHECK(log->probes.size() == 2);
  ask(make_envelope(3));
  CHECK(replies->back() == "refused");
  target_does(caf::add_atom_v); // the first probe: its answer came too late
  ask(make_envelope(4));
  CHECK(replies->back() == "refused");
  target_does(caf::add_atom_v);
  CHECK(log->got.back() == "gap 3"); // envelopes 2, 3 and 4
  ask(make_envelope(5));
  CHECK(log->got.back() == "events 1");
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay counts what each message holds besides its text",
                 "[hub]") {
  hub::detail::relay_args args;
  args.window = 1000;
  args.message_overhead = 200; // a 100-byte event counts 300
  auto other = sys->spawn(hub::detail::relay, target, args);
  for (int i = 1; i <= 4; ++i)
    caf::anon_send(other, make_event(i));
  sched->run();
  // 900 bytes out; the fourth would make 1200.
  CHECK(log->got == strings{"events 1", "events 1", "events 1"});
  caf::anon_send_exit(other, caf::exit_reason::kill);
}

TEST_CASE_METHOD(relay_fixture,
                 "a bot's forwarders end with their target only, not with "
                 "an error or an exit a node sends them",
                 "[hub]") {
  // Every hub a forwarder subscribes on knows its address; its end drops the
  // bot actor's subscription on all of them.
  auto fwd = sys->spawn(hub::detail::forwarder, target, caf::actor_addr{},
                        std::chrono::milliseconds{1000}, size_t{16},
                        std::make_shared<std::atomic<uint64_t>>(0));
  auto lifecycle = sys->spawn(hub::detail::lifecycle_forwarder, target);
  auto downs = std::make_shared<strings>();
  auto watcher = sys->spawn(
      [downs](caf::event_based_actor* self, const caf::actor& a,
              const caf::actor& b) -> caf::behavior {
        self->monitor(a);
        self->monitor(b);
        self->set_down_handler([downs](caf::down_msg& dm) {
          downs->push_back(to_string(dm.reason));
        });
        return {[](int) {
        }};
      },
      fwd, lifecycle);
  sched->run();
  for (auto& x : {fwd, lifecycle}) {
    caf::anon_send(x, caf::make_error(caf::sec::runtime_error, "forged"));
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(x, caf::exit_reason::unhandled_exception);
  }
  sched->run();
  CHECK(downs->empty());
  // Still forwarding.
  caf::anon_send(fwd, make_event(1));
  sched->run();
  CHECK(log->got == strings{"events 1"});
  // Its target's end ends both.
  caf::anon_send_exit(target, caf::exit_reason::kill);
  sched->run();
  CHECK(downs->size() == 2);
  caf::anon_send_exit(watcher, caf::exit_reason::kill);
  sched->run();
}

namespace {

// A drop log and a node id, at `t0`.
struct drop_log_fixture {
  hub::detail::drop_log drops;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  const caf::node_id& node = sys.node();
  caf::timestamp t0 = caf::make_timestamp();
};

// The node goes away at t0 + 10s, with the client at 500 events, and comes
// back at t0 + 20s, with it at 510: what it missed counts from then.
void check_second_outage(hub::detail::drop_log& drops, const caf::node_id& node,
                         caf::timestamp t0) {
  using namespace std::chrono_literals;
  drops.record(node, t0 + 10s, 500);
  CHECK(drops.came_back(node, t0 + 20s));
  auto missed = drops.take(node, 510, t0 + 20s);
  CHECK(missed.known);
  CHECK(missed.since == t0 + 10s);
  CHECK(missed.count == 10);
}

} // namespace

TEST_CASE_METHOD(drop_log_fixture,
                 "a drop log adds what relays could not report to what a node "
                 "missed, for a node it saw go away",
                 "[hub]") {
  using namespace std::chrono_literals;
  // Two relays of the node: their stretches overlap, the larger counts.
  drops.add_unreported(node, t0 - 2s, 5);
  drops.add_unreported(node, t0 - 1s, 7);
  CHECK_FALSE(drops.contains(node, t0));
  drops.record(node, t0, 100);
  auto missed = drops.take(node, 110, t0 + 1s);
  CHECK(missed.known);
  CHECK(missed.count == 10 + 7);
  CHECK(missed.since == t0 - 2s);
  // Taken: nothing left, and unreported drops alone make no record.
  drops.add_unreported(node, t0, 3);
  CHECK_FALSE(drops.take(node, 200, t0 + 2s).known);
}

TEST_CASE_METHOD(
    drop_log_fixture,
    "a drop log drops a node's record that comes in after the node "
    "came back",
    "[hub]") {
  using namespace std::chrono_literals;
  // The node went away at t0 and looked the workspace up again at t0 + 1s,
  // before the gate's record of t0 (and a relay's report) came in.
  CHECK_FALSE(drops.came_back(node, t0 + 1s));
  drops.record(node, t0, 100);
  CHECK_FALSE(drops.contains(node, t0 + 2s));
  // Its next outage counts from its own record, nothing of the first.
  check_second_outage(drops, node, t0);
}

TEST_CASE_METHOD(
    drop_log_fixture,
    "a drop log replaces the record of an outage that is over when the "
    "node goes away again",
    "[hub]") {
  using namespace std::chrono_literals;
  // The node went away at t0 and came back at t0 + 1s, but its lookup took
  // nothing (the client's status did not answer in time).
  drops.record(node, t0, 100);
  CHECK(drops.came_back(node, t0 + 1s));
  // It goes away again: what it misses counts from then, not from t0.
  check_second_outage(drops, node, t0);
}

namespace {

// A relay with a window of three events and a drop log that drops two
// events, unreported, and then ends; `node_gone` is what the gate set before
// it ended the relay. What the drop log holds for the node afterwards.
hub::missed_events drops_left_by_a_relay_that_ends(relay_fixture& fx,
                                                   bool node_gone,
                                                   caf::timestamp& before) {
  auto drops = std::make_shared<hub::detail::drop_log>();
  hub::detail::relay_args args;
  args.window = 300;
  args.message_overhead = 0;
  args.drops = drops;
  args.node_gone = std::make_shared<std::atomic<bool>>(false);
  auto flag = args.node_gone;
  auto other = fx.sys->spawn(hub::detail::relay, fx.target, args);
  before = caf::make_timestamp();
  caf::anon_send(other, make_batch(1, 3));
  caf::anon_send(other, make_batch(4, 2)); // dropped, not yet reported
  fx.sched->run();
  // As the gate ends it.
  flag->store(node_gone);
  caf::anon_send_exit(other, node_gone
                                 ? caf::exit_reason::remote_link_unreachable
                                 : caf::exit_reason::kill);
  fx.sched->run();
  // The node goes away (later, if it did not before) with the client at 50
  // events, and looks the workspace up again with the client still there.
  const auto& node = fx.sys->node();
  drops->record(node, caf::make_timestamp(), 50);
  return drops->take(node, 50, caf::make_timestamp());
}

} // namespace

TEST_CASE_METHOD(relay_fixture,
                 "a relay that ends while it drops because its node went away "
                 "leaves the count to the drop log",
                 "[hub]") {
  caf::timestamp before;
  auto missed = drops_left_by_a_relay_that_ends(*this, true, before);
  CHECK(missed.known);
  CHECK(missed.count == 2);
  CHECK(missed.since >= before);
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay ends with its node's reason only once the gate set "
                 "its flag",
                 "[hub]") {
  // The client learns from that reason that the subscriber's node went away
  // (not that it stopped wanting events: the two-hub test with a second bot
  // checks that end to end); a remote node that sends the same exit message
  // ends nothing.
  hub::detail::relay_args args;
  args.node_gone = std::make_shared<std::atomic<bool>>(false);
  auto flag = args.node_gone;
  auto other = sys->spawn(hub::detail::relay, target, args);
  sched->run();
  caf::anon_send_exit(other, caf::exit_reason::remote_link_unreachable);
  sched->run();
  caf::anon_send(other, make_event(1));
  sched->run();
  CHECK(log->got == strings{"events 1"}); // still there
  flag->store(true);
  caf::anon_send_exit(other, caf::exit_reason::remote_link_unreachable);
  sched->run();
  caf::anon_send(other, make_event(2));
  sched->run();
  CHECK(log->got == strings{"events 1"}); // gone
}

TEST_CASE_METHOD(relay_fixture,
                 "a relay that ends while it drops after an unsubscribe "
                 "leaves nothing that would count against its node later",
                 "[hub]") {
  caf::timestamp before;
  auto missed = drops_left_by_a_relay_that_ends(*this, false, before);
  // The node's own record only: no events came since it went.
  CHECK(missed.known);
  CHECK(missed.count == 0);
  CHECK(missed.since >= before);
}
