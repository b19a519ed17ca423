// Memory and scale: idle clients (RTM or Socket Mode) against a fake Slack in
// a child process (plain and TLS), then many busy clients in one actor system.

#include "bench/bench.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"

namespace caf::rtm::bench {

namespace {

// Connection attempts in flight while many clients start.
constexpr size_t parallel_connects = 50;

} // namespace

void measure_idle_clients(env& e, client_kind kind, bool tls) {
  auto rtm = kind == client_kind::rtm;
  // RTM rows keep their original ids and labels.
  const std::string key =
      std::string{rtm ? "" : "socket_mode_"} + (tls ? "tls" : "plain");
  const std::string name =
      std::string{rtm ? "" : "Socket Mode "} + (tls ? "TLS" : "plain ws");
  const std::string section = "memory";
  child_server child{tls};
  auto cfg = rtm ? config_for(e, child.where())
                 : socket_mode_config_for(e, child.where());
  if (!rtm) {
    // Each hello reports every connection of the fake's single app, so each
    // client would warn that Slack counts stale connections: not what this
    // run is about, and a thousand lines of noise.
    cfg.log = std::make_shared<logger>(log_level::error);
  }
  std::vector<size_t> steps{1, 100, e.opts.clients};
  steps.erase(std::remove_if(steps.begin(), steps.end(),
                             [&](size_t n) { return n > e.opts.clients; }),
              steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  cleanup guard{e.sys};
  auto rss_before = resident_bytes();
  auto threads_before = thread_count();
  e.out.add("memory." + key + ".rss_before", section,
            name + ": RSS before any client",
            static_cast<double>(rss_before) / 1048576.0, "MB", 1);
  e.out.add("memory." + key + ".threads_before", section,
            name + ": threads before any client",
            static_cast<double>(threads_before), "", 0);
  auto spawn_client = [&]() -> caf::actor {
    if (rtm)
      return caf::actor_cast<caf::actor>(
          guard.add(e.sys.spawn(rtm_client, cfg)));
    return caf::actor_cast<caf::actor>(
        guard.add(e.sys.spawn(socket_mode_client, cfg)));
  };
  size_t spawned = 0;
  std::vector<size_t> threads;
  std::vector<size_t> rss_at;
  for (auto step : steps) {
    std::vector<caf::actor> fresh;
    for (; spawned < step; ++spawned)
      fresh.push_back(spawn_client());
    if (auto failed = connect_all(e.sys, fresh, parallel_connects); failed > 0)
      throw std::runtime_error(name + ": " + std::to_string(failed) + " of " +
                               std::to_string(fresh.size()) +
                               " clients failed to connect");
    // Let the last handshakes and first pings settle.
    std::this_thread::sleep_for(500ms);
    auto rss = resident_bytes();
    rss_at.push_back(rss);
    threads.push_back(thread_count());
    auto per_client =
        (static_cast<double>(rss) - static_cast<double>(rss_before)) /
        static_cast<double>(step) / 1024.0;
    auto id = "memory." + key + "." + std::to_string(step);
    auto label = name + ": RSS per client, " +
                 grouped(static_cast<long long>(step)) + " idle";
    // The target is the RTM client's; Socket Mode has none of its own.
    if (rtm && !tls && step == steps.back())
      e.out.add_target(id + ".rss_per_client", section, label, per_client, "KB",
                       1, "< 64 KB", per_client < 64.0);
    else
      e.out.add(id + ".rss_per_client", section, label, per_client, "KB", 1);
    e.out.add(id + ".threads", section,
              name + ": threads, " + grouped(static_cast<long long>(step)) +
                  " idle",
              static_cast<double>(threads.back()), "", 0);
  }
  // Without the one-time costs of the first client (I/O thread, TLS
  // context, ...): what each further client adds.
  if (steps.size() > 1) {
    auto added = static_cast<double>(rss_at.back()) -
                 static_cast<double>(rss_at.front());
    auto per_client =
        added / static_cast<double>(steps.back() - steps.front()) / 1024.0;
    auto id = "memory." + key + ".marginal_rss_per_client";
    auto label = name + ": RSS per further client, 1 -> " +
                 grouped(static_cast<long long>(steps.back()));
    // Real Slack is always TLS: this figure decides how many workspaces
    // fit in a process.
    if (tls)
      e.out.add_target(id, section, label, per_client, "KB", 1, "<= 48 KB",
                       per_client <= 48.0);
    else
      e.out.add(id, section, label, per_client, "KB", 1);
  }
  // Threads added by going from the first to the last step.
  auto extra = static_cast<double>(threads.back()) -
               static_cast<double>(threads.front());
  auto flat = std::all_of(threads.begin(), threads.end(),
                          [&](size_t n) { return n == threads.front(); });
  e.out.add_target("memory." + key + ".extra_threads", section,
                   name + ": threads added from 1 to " +
                       grouped(static_cast<long long>(steps.back())) +
                       " clients",
                   extra, "", 0, "0 (independent)", flat);
  if (!guard.run())
    e.out.fail(name + ": not every idle client closed in time");
}

void run_idle_clients(env& e) {
  measure_idle_clients(e, client_kind::rtm, false);
  measure_idle_clients(e, client_kind::rtm, true);
}

void run_busy_clients(env& e) {
  auto n_clients = std::max<size_t>(e.opts.busy_clients, 1);
  auto share = std::max<size_t>(e.opts.events / n_clients, 1);
  auto payload = payload_set::small_events();
  auto maker = payload_set::maker(payload);
  testing::fake_slack srv;
  cleanup guard{e.sys};
  caf::scoped_actor self{e.sys, true};
  auto cfg = config_for(e, endpoint_of(srv));
  std::vector<rtm_client_actor> hdls;
  std::vector<std::shared_ptr<sink>> sinks;
  for (size_t i = 0; i < n_clients; ++i) {
    hdls.push_back(guard.add(e.sys.spawn(rtm_client, cfg)));
    sinks.push_back(std::make_shared<sink>(share, false, 1));
    if (!subscribe(self, hdls.back(),
                   guard.add(spawn_counter(e.sys, sinks.back()))))
      throw std::runtime_error("busy clients: subscribe failed");
  }
  if (auto failed = connect_all(e.sys, hdls, parallel_connects); failed > 0)
    throw std::runtime_error("busy clients: " + std::to_string(failed) +
                             " failed to connect");
  // Each session floods its share: every client expects seqs [0, share).
  std::vector<testing::ws_session_ptr> sessions;
  for (size_t i = 0; i < n_clients; ++i)
    sessions.push_back(session_of(srv, i));
  auto t0 = clock_type::now();
  for (auto& s : sessions)
    s->flood(share, maker);
  bool complete = true;
  for (auto& s : sinks)
    complete = s->wait(15s) && complete;
  guard.run();
  auto last = t0;
  for (size_t i = 0; i < sinks.size(); ++i) {
    if (!complete || !sinks[i]->exact()) {
      e.out.fail("busy clients: client " + std::to_string(i) + ": " +
                 sinks[i]->describe());
      return;
    }
    last = std::max(last, sinks[i]->done_at());
  }
  auto total = static_cast<double>(share * n_clients);
  auto rate = total / seconds_between(t0, last);
  const std::string section = "scale";
  e.out.add("scale.busy.events_per_s", section,
            std::to_string(n_clients) + " busy clients x " +
                grouped(static_cast<long long>(share)) +
                " events (200 B): aggregated",
            rate, "ev/s", 0);
  double single = 0;
  for (auto& r : e.out.rows())
    if (r.id == "throughput.small.actor")
      single = r.value;
  if (single > 0)
    e.out.add("scale.busy.vs_single", section,
              "aggregated / one client -> actor (200 B)", 100.0 * rate / single,
              "%", 1);
}

} // namespace caf::rtm::bench
