// Hub -> remote bot on loopback: a caf-rtm-hub process holds an RTM client of
// the fake Slack in this process; a bot node (a second actor system here,
// with CAF's middleman) subscribes a counting actor through a remote
// subscription. The same floods and paced runs as the local rows, so the
// figures sit next to client -> actor of the same run. The fake stamps each
// frame with steady_clock, which every process on the machine shares, so
// latencies are end to end: fake -> hub's client -> BASP -> bot's actor.

#include "bench/bench.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <fstream>
#include <future>
#include <stdexcept>

#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/node.hpp"
#include "caf/rtm/hub/remote_subscription.hpp"

namespace caf::rtm::bench {

namespace {

// A caf-rtm-hub process for one workspace ("bench") of the fake; stops it
// (SIGTERM: it closes its client) when it goes away.
class hub_process {
public:
  hub_process(const std::string& exe, const testing::fake_slack& srv) {
    char dir[] = "/tmp/caf-rtm-bench-hub-XXXXXX";
    if (::mkdtemp(dir) == nullptr)
      throw std::runtime_error("hub: cannot make a temporary directory");
    dir_ = dir;
    config_ = dir_ + "/hub.conf";
    std::ofstream{config_}
        << "[scheduler]\npolicy = 'sharing'\n"
        << "[caf-rtm]\nproxy-from-environment = false\nlog-level = \"error\"\n"
        << "[workspaces]\nbench = {\n  token = \"" << srv.options().token
        << "\"\n  base-url = \"" << srv.base_url() << "\"\n}\n";
    // The flood (200,000 events at the client's full rate, far above what
    // Slack sends) runs ahead of the bot by more than the default window of
    // unconfirmed events: a window that holds it measures the path, not the
    // drops.
    auto child = spawn_with_stdout({exe, "--config", config_, "--port", "0",
                                    "--remote-window-kb", "1048576"});
    pid_ = child.pid;
    // "listening on 127.0.0.1:PORT" once it is ready.
    auto* in = ::fdopen(child.out, "r");
    char line[256] = {0};
    auto got = std::fgets(line, sizeof(line), in) != nullptr;
    std::fclose(in);
    std::string text = got ? line : "";
    auto colon = text.rfind(':');
    if (text.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
      stop();
      throw std::runtime_error("hub: did not start");
    }
    port_ = static_cast<uint16_t>(std::stoi(text.substr(colon + 1)));
  }

  ~hub_process() {
    stop();
  }

  hub_process(const hub_process&) = delete;
  hub_process& operator=(const hub_process&) = delete;

  uint16_t port() const noexcept {
    return port_;
  }

private:
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        // again
      }
      pid_ = -1;
    }
    if (!config_.empty())
      std::remove(config_.c_str());
    if (!dir_.empty())
      ::rmdir(dir_.c_str());
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_;
  std::string config_;
};

struct hub_run {
  bool ok = false;
  double events_per_s = 0;
  std::vector<int64_t> latencies;
};

// One run: a fresh fake and hub, a bot node subscribing a counter, then
// `events` flooded (rate 0) or paced.
hub_run run_through_hub(env& e, const std::string& exe, size_t events,
                        double rate, const std::string& what) {
  hub_run result;
  testing::fake_slack srv;
  hub_process hub{exe, srv};
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", e.opts.scheduler_threads);
  if (auto err = hub::configure_node(cfg))
    throw std::runtime_error(what + ": " + render(err));
  caf::actor_system sys{cfg};
  auto counts = std::make_shared<sink>(events, true, 1);
  auto counter = spawn_counter(sys, counts);
  std::promise<void> up;
  auto up_future = up.get_future();
  auto lifecycle = spawn_fn(sys, [&up](caf::event_based_actor* self) {
    // The hub's client's own lifecycle messages are not measured here.
    self->set_default_handler(caf::drop);
    auto told = std::make_shared<bool>(false);
    return caf::behavior{
        [&up, told](const hub::hub_up&) {
          if (!*told) {
            *told = true;
            up.set_value();
          }
        },
    };
  });
  hub::remote_subscription_config sub;
  sub.hubs = {{"127.0.0.1", hub.port()}};
  sub.workspace = "bench";
  sub.subscribers = {{counter, {"*"}}};
  sub.lifecycle = lifecycle;
  auto subscription = sys.spawn(hub::remote_subscription, sub);
  auto stop_all = [&] {
    caf::scoped_actor self{sys};
    self->request(subscription, std::chrono::seconds{5}, close_atom_v)
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
    for (auto& hdl :
         {caf::actor_cast<caf::actor>(subscription), counter, lifecycle})
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  if (up_future.wait_for(std::chrono::seconds{20}) !=
      std::future_status::ready) {
    stop_all();
    e.out.fail(what + ": the bot never subscribed on the hub");
    return result;
  }
  auto s = session_of(srv, 0);
  auto maker = payload_set::maker(payload_set::small_events());
  auto t0 = clock_type::now();
  if (rate > 0)
    s->pace(events, rate, maker);
  else
    s->flood(events, maker);
  auto complete = counts->wait(std::chrono::seconds{15});
  stop_all();
  if (!complete || !counts->exact()) {
    e.out.fail(what + ": " + counts->describe());
    return result;
  }
  result.ok = true;
  result.events_per_s =
      static_cast<double>(events) / seconds_between(t0, counts->done_at());
  result.latencies = counts->latencies();
  std::sort(result.latencies.begin(), result.latencies.end());
  return result;
}

double row_value(const report& out, const std::string& id) {
  for (auto& r : out.rows())
    if (r.id == id)
      return r.value;
  return 0;
}

} // namespace

void run_hub(env& e) {
  const std::string section = "hub";
  auto exe = sibling_program("caf-rtm-hub");
  if (exe.empty()) {
    e.out.note("hub", "not run: no caf-rtm-hub next to caf-rtm-bench");
    return;
  }
  auto n = e.opts.events;
  std::vector<double> rates;
  std::vector<hub_run> runs;
  for (size_t round = 0; round < e.opts.throughput_rounds; ++round) {
    auto res = run_through_hub(e, exe, n, 0, "hub -> remote bot, flood");
    if (!res.ok)
      return;
    rates.push_back(res.events_per_s);
    runs.push_back(std::move(res));
  }
  auto rate = median(rates);
  e.out
      .add("hub.flood", section, "200 B: hub -> remote bot's actor", rate,
           "ev/s", 0)
      .samples = rates;
  if (auto local = row_value(e.out, "throughput.small.actor"); local > 0)
    e.out.add("hub.flood_vs_local", section,
              "200 B: hub -> remote bot / client -> actor",
              100.0 * rate / local, "%", 1);
  auto mid = std::min_element(runs.begin(), runs.end(),
                              [&](const auto& a, const auto& b) {
                                return std::abs(a.events_per_s - rate) <
                                       std::abs(b.events_per_s - rate);
                              });
  add_latency_rows(e, "hub.latency.flood",
                   "hub -> remote bot, flood (queueing included)",
                   mid->latencies, false);
  auto paced_rate = e.opts.paced_rate;
  auto paced_n = static_cast<size_t>(paced_rate * e.opts.paced_seconds);
  auto label = "hub -> remote bot, paced " +
               std::to_string(static_cast<int>(paced_rate)) + "/s, 200 B";
  auto paced = run_through_hub(e, exe, paced_n, paced_rate, label);
  if (!paced.ok)
    return;
  add_latency_rows(e, "hub.latency.paced", label, paced.latencies, false);
  e.out.distribution(label, std::move(paced.latencies));
}

} // namespace caf::rtm::bench
