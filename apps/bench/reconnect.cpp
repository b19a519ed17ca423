// Reconnect times: goodbye, abrupt drop and silent peer, and sends queued
// while a new session is coming up. A probe actor subscribed to the client's
// events and lifecycle timestamps what it sees; the fake sends one marked
// event on each new session as soon as that session exists.

#include "bench/bench.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <utility>

#include <caf/event_based_actor.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/rtm_client.hpp"

namespace caf::rtm::bench {

namespace {

/// What the probe saw, with arrival times.
struct probe_log {
  struct change {
    bool up = false;
    uint64_t session = 0;
    caf::error cause;
    clock_type::time_point at;
  };

  std::mutex mtx;
  std::condition_variable cv;
  std::map<int64_t, clock_type::time_point> marks;
  std::vector<change> changes;
  /// Messages to send as soon as a session goes down (once).
  size_t sends_on_down = 0;
  std::optional<clock_type::time_point> sent_at;
  /// The client's send queue when it answered a status request sent right
  /// behind those messages (0 if that failed): at least their number if they
  /// waited there for the next session's hello (fewer if the hello came
  /// while the status was on its way).
  std::optional<uint64_t> queue_after_sends;
  std::vector<clock_type::time_point> acks;
  std::vector<std::string> send_errors;

  template <class F>
  void update(F f) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      f();
    }
    cv.notify_all();
  }

  /// Waits until `pred` holds (checked under the lock).
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, pred);
  }

  std::optional<change> find(bool up, uint64_t session) {
    for (auto& x : changes)
      if (x.up == up && x.session == session)
        return x;
    return std::nullopt;
  }
};

using probe_ptr = std::shared_ptr<probe_log>;

caf::actor spawn_probe(caf::actor_system& sys, const probe_ptr& log,
                       const rtm_client_actor& hdl) {
  return spawn_fn(
      sys, [log, hdl](caf::event_based_actor* self) -> caf::behavior {
        auto send_now = [self, log, hdl](size_t n) {
          for (size_t i = 0; i < n; ++i) {
            json_object msg;
            msg.value["type"] = "message";
            msg.value["channel"] = "C0BENCH01";
            msg.value["text"] =
                "queued while reconnecting " + std::to_string(i);
            self->request(hdl, caf::timespan{20s}, send_atom_v, std::move(msg))
                .then(
                    [log](send_ack&) {
                      auto now = clock_type::now();
                      log->update([&] { log->acks.push_back(now); });
                    },
                    [log](caf::error& err) {
                      log->update(
                          [&] { log->send_errors.push_back(render(err)); });
                    });
          }
          if (n == 0)
            return;
          // Asked behind the sends: the client answers once it took them.
          self->request(hdl, caf::timespan{20s}, status_atom_v)
              .then(
                  [log](client_status& x) {
                    log->update([&] { log->queue_after_sends = x.send_queue; });
                  },
                  [log](caf::error&) {
                    log->update([&] { log->queue_after_sends = 0; });
                  });
        };
        return {
            [log](const event& ev) {
              auto now = clock_type::now();
              if (auto* m = ev.json().if_contains("mark"); m && m->is_int64())
                log->update([&] { log->marks.emplace(m->get_int64(), now); });
            },
            [log](const connected& x) {
              auto now = clock_type::now();
              log->update([&] {
                log->changes.push_back({true, x.session, caf::error{}, now});
              });
            },
            [log, send_now](const disconnected& x) {
              auto now = clock_type::now();
              size_t n = 0;
              log->update([&] {
                log->changes.push_back({false, x.session, x.cause, now});
                n = std::exchange(log->sends_on_down, 0);
                if (n > 0)
                  log->sent_at = now;
              });
              send_now(n);
            },
            [](const connecting&) {},
            [](const reconnecting&) {},
            [](const error_event&) {},
            [](const fatal_event&) {},
        };
      });
}

struct probed_client {
  rtm_client_actor hdl;
  probe_ptr log;
  /// Index (on the fake) of the client's first session.
  size_t first_session = 0;
};

probed_client start_probed(env& e, cleanup& guard, caf::scoped_actor& self,
                           const testing::fake_slack& srv,
                           const client_config& cfg) {
  probed_client c;
  // The scenarios end sessions again and again within seconds: measured is
  // how fast a replacement is up, not the backoff that protects against a
  // server ending every session right after hello.
  auto quick_sessions = cfg;
  quick_sessions.healthy_session = caf::timespan{0};
  c.hdl = guard.add(e.sys.spawn(rtm_client, quick_sessions));
  c.log = std::make_shared<probe_log>();
  auto probe = guard.add(spawn_probe(e.sys, c.log, c.hdl));
  bool ok = subscribe(self, c.hdl, probe);
  self->request(c.hdl, caf::timespan{10s}, subscribe_atom_v, lifecycle_atom_v,
                probe)
      .receive([](caf::ok_atom) {}, [&](caf::error&) { ok = false; });
  if (!ok)
    throw std::runtime_error("subscribing the probe failed");
  if (auto up = connect(self, c.hdl); !up)
    throw std::runtime_error("connect failed: " + render(up.error()));
  // Earlier clients of this fake are closed: the newest session is ours.
  c.first_session = srv.session_count() - 1;
  return c;
}

// Sends a marked event on session `index` once it exists and returns when the
// probe received it.
clock_type::time_point marked_event_on(const testing::fake_slack& srv,
                                       size_t index, probe_log& log,
                                       int64_t mark) {
  session_of(srv, index)->send(mark_event(mark));
  if (!log.wait([&] { return log.marks.count(mark) > 0; }))
    throw std::runtime_error("the event on the new session never arrived");
  std::lock_guard<std::mutex> guard{log.mtx};
  return log.marks[mark];
}

// Goodbye on session k; the next session starts while k is still up. One
// client for all runs: goodbyes are not rate limited.
std::vector<double> goodbye_runs(env& e) {
  testing::fake_slack srv;
  cleanup guard{e.sys};
  caf::scoped_actor self{e.sys, true};
  auto c = start_probed(e, guard, self, srv, config_for(e, endpoint_of(srv)));
  std::vector<double> ms;
  for (size_t k = 0; k < e.opts.repetitions; ++k) {
    auto current = session_of(srv, c.first_session + k);
    auto t0 = clock_type::now();
    current->send_goodbye();
    auto at = marked_event_on(srv, c.first_session + k + 1, *c.log,
                              static_cast<int64_t>(k));
    ms.push_back(millis_between(t0, at));
    current->wait_ended(std::chrono::milliseconds{5000});
  }
  return ms;
}

// The runs below use a fresh client each: the supervisor treats a second drop
// within 10 s as a failed attempt and backs off, which is not what they
// measure.

double drop_run(env& e, testing::fake_slack& srv, int64_t mark) {
  cleanup guard{e.sys};
  caf::scoped_actor self{e.sys, true};
  auto c = start_probed(e, guard, self, srv, config_for(e, endpoint_of(srv)));
  auto t0 = clock_type::now();
  session_of(srv, c.first_session)->drop();
  auto at = marked_event_on(srv, c.first_session + 1, *c.log, mark);
  return millis_between(t0, at);
}

// The peer falls silent `phase` after the session came up: detection takes
// between pong_timeout and ping_interval + pong_timeout, depending on where in
// the ping cycle the silence starts.
double silent_run(env& e, testing::fake_slack& srv, const client_config& cfg,
                  caf::timespan phase) {
  cleanup guard{e.sys};
  caf::scoped_actor self{e.sys, true};
  auto c = start_probed(e, guard, self, srv, cfg);
  std::this_thread::sleep_for(phase);
  auto t0 = clock_type::now();
  session_of(srv, c.first_session)->go_silent();
  auto& log = *c.log;
  if (!log.wait([&] { return log.find(false, 1).has_value(); }))
    throw std::runtime_error("a silent peer was never detected");
  std::lock_guard<std::mutex> lock{log.mtx};
  auto down = *log.find(false, 1);
  if (!is(down.cause, errc::dead_link))
    throw std::runtime_error("silent peer: the session ended with " +
                             render(down.cause) + ", not dead_link");
  return millis_between(t0, down.at);
}

struct queued_result {
  double drop_to_acks = 0;
  double hello_to_acks = 0;
  /// The client held the sends in its queue when it took them: no session
  /// was up.
  bool queued = false;
};

queued_result queued_run(env& e, testing::fake_slack& srv, size_t sends) {
  cleanup guard{e.sys};
  caf::scoped_actor self{e.sys, true};
  auto c = start_probed(e, guard, self, srv, config_for(e, endpoint_of(srv)));
  auto& log = *c.log;
  log.update([&] { log.sends_on_down = sends; });
  auto t0 = clock_type::now();
  session_of(srv, c.first_session)->drop();
  if (!log.wait([&] {
        return log.acks.size() + log.send_errors.size() == sends &&
               log.queue_after_sends.has_value();
      }))
    throw std::runtime_error("queued sends: not every send was answered");
  std::lock_guard<std::mutex> lock{log.mtx};
  if (!log.send_errors.empty())
    throw std::runtime_error("queued sends failed: " + log.send_errors.front());
  auto hello = log.find(true, 2);
  if (!hello)
    throw std::runtime_error("queued sends: acked without a second session");
  auto last = *std::max_element(log.acks.begin(), log.acks.end());
  return {millis_between(t0, last), millis_between(hello->at, last),
          log.queue_after_sends && *log.queue_after_sends >= sends};
}

void add_median(env& e, const std::string& id, const std::string& label,
                std::vector<double> samples, const std::string& target = {},
                double limit = 0) {
  auto m = median(samples);
  auto& r = target.empty() ? e.out.add(id, "reconnect", label, m, "ms", 2)
                           : e.out.add_target(id, "reconnect", label, m, "ms",
                                              2, target, m < limit);
  r.samples = std::move(samples);
}

} // namespace

void run_reconnect(env& e) {
  auto reps = e.opts.repetitions;
  add_median(e, "reconnect.goodbye", "goodbye -> first event, new session",
             goodbye_runs(e), "< 5 ms", 5.0);
  testing::fake_slack srv;
  std::vector<double> drops;
  for (size_t i = 0; i < reps; ++i)
    drops.push_back(drop_run(e, srv, static_cast<int64_t>(1000 + i)));
  add_median(e, "reconnect.drop", "drop -> first event, new session",
             std::move(drops));
  auto cfg = config_for(e, endpoint_of(srv));
  cfg.ping_interval = 200ms;
  cfg.pong_timeout = 200ms;
  std::vector<double> silent;
  for (size_t i = 0; i < reps; ++i)
    silent.push_back(silent_run(e, srv, cfg,
                                cfg.ping_interval * static_cast<int>(i) /
                                    static_cast<int>(reps)));
  // Bounded by ping_interval + pong_timeout, plus a little scheduling.
  add_median(e, "reconnect.silent",
             "silent peer -> dead_link (ping 200 ms, pong timeout 200 ms)",
             std::move(silent), "< 450 ms", 450.0);
  e.out.note("silent peer",
             "silence starts at staggered points of the ping cycle; "
             "detection is bounded by ping_interval + pong_timeout = 400 ms");
  constexpr size_t sends = 5;
  std::vector<double> to_acks;
  std::vector<double> from_hello;
  size_t queued = 0;
  for (size_t i = 0; i < reps; ++i) {
    auto r = queued_run(e, srv, sends);
    to_acks.push_back(r.drop_to_acks);
    from_hello.push_back(r.hello_to_acks);
    queued += r.queued ? 1 : 0;
  }
  add_median(e, "reconnect.queued_sends",
             "drop -> 5 sends (made when the drop is seen) all acked",
             std::move(to_acks));
  add_median(e, "reconnect.queued_sends_after_hello",
             "new session's hello -> all 5 acked", std::move(from_hello));
  e.out.note("queued sends",
             std::to_string(queued) + " of " + std::to_string(reps) +
                 " runs still had all sends in the client's queue when it "
                 "answered a status asked right behind them (no session up)");
}

} // namespace caf::rtm::bench
