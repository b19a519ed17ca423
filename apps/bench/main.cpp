// caf-rtm-bench: measures the RTM and Socket Mode clients against the fake
// Slack on loopback and compares the results with the project's targets. Prints
// the machine, the command line and a table on stdout; `--json FILE` writes the
// same as one JSON document. Exits non-zero only when a run delivered wrong
// counts or broke; a missed target is reported, not fatal. `--soak` runs
// only the soak instead: minutes of injected faults, which fails the run on
// any lost or duplicated event, unanswered send, or growth of memory,
// threads or descriptors.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/defaults.hpp>

#include "bench/bench.hpp"
#include "bench/report.hpp"
#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "common/cli.hpp"

namespace bench = caf::rtm::bench;

namespace {

// Names of the scenarios `--only` may pick (and `--help` lists).
const std::vector<std::string> scenario_names{
    "memory", "latency",   "throughput", "cli",
    "hub",    "reconnect", "busy",       "socket_mode"};

std::string joined(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out;
}

// The client options too (from the base): `--caf-rtm.api-keep-alive 0s`
// applies to every client of the run.
class bench_config : public caf::rtm::cli::base_config {
public:
  bench_config() {
    add_flag(quick, "quick",
             "a run of a few seconds: small floods, few clients");
    add_value(json, "json", "also write the results as JSON to FILE");
    add_value(events, "events",
              "flood size of the throughput runs (default 200000, quick "
              "20000)");
    add_value(
        clients, "clients",
        "idle clients of the largest scale step (default 1000, quick 20)");
    add_value(plot, "plot",
              "render the latency distribution to FILE.png (needs gnuplot)");
    // CAF copies the help text: a temporary is fine.
    auto only_help =
        "run only these scenarios (comma-separated: " + joined(scenario_names) +
        "); for profiling one of them";
    add_value(only, "only", only_help.c_str());
    add_flag(soak, "soak",
             "run only the soak: one RTM client under injected faults, plain "
             "then TLS (30 minutes each; with --quick 5 s each)");
    add_value(soak_minutes, "soak-minutes",
              "minutes of faults per transport of the soak (decimals "
              "allowed)");
    add_value(soak_seed, "soak-seed",
              "seed of the soak's fault plans (default 1)");
    add_flag(soak_connect, "soak-connect",
             "the soak's client reaches the fake through the fault proxy as "
             "its HTTP CONNECT proxy (instead of as the server)");
  }

  bool quick = false;
  std::string json;
  // -1: not given (the mode's default applies).
  int64_t events = -1;
  int64_t clients = -1;
  std::string plot;
  std::string only;
  bool soak = false;
  // Negative: not given.
  double soak_minutes = -1;
  int64_t soak_seed = -1;
  bool soak_connect = false;
};

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    bool plain =
        !arg.empty() && arg.find_first_of(" \t\"'\\$`") == std::string::npos;
    if (i > 0)
      out += ' ';
    if (plain) {
      out += arg;
      continue;
    }
    out += '\'';
    for (auto c : arg)
      out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
    out += '\'';
  }
  return out;
}

// A thousand clients need a few thousand descriptors (here and in the fake).
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

bench::options resolve(const bench_config& cfg, size_t cores) {
  bench::options opts;
  opts.quick = cfg.quick;
  opts.json_file = cfg.json;
  opts.plot_file = cfg.plot;
  if (cfg.quick) {
    opts.events = 20000;
    opts.clients = 20;
    opts.busy_clients = 10;
    opts.paced_seconds = 0.5;
    opts.repetitions = 3;
    opts.throughput_rounds = 1;
  }
  if (cfg.events >= 0)
    opts.events = static_cast<size_t>(cfg.events);
  if (cfg.clients >= 0)
    opts.clients = static_cast<size_t>(cfg.clients);
  opts.soak = cfg.soak;
  opts.soak_connect = cfg.soak_connect;
  if (cfg.soak_minutes > 0)
    opts.soak_minutes = cfg.soak_minutes;
  if (cfg.soak_seed >= 0)
    opts.soak_seed = static_cast<uint32_t>(cfg.soak_seed);
  opts.scheduler_threads = caf::get_or(cfg, "scheduler.max-threads", cores);
  opts.client = caf::rtm::client_config::from(cfg);
  return opts;
}

// One scenario; an exception fails the run but not the scenarios after it.
template <class F>
void step(bench::env& e, const std::vector<std::string>& only, const char* key,
          const char* name, F f) {
  if (!only.empty() && !contains(only, key))
    return;
  std::fprintf(stderr, "caf-rtm-bench: %s ...\n", name);
  auto t0 = bench::clock_type::now();
  try {
    f(e);
  } catch (const std::exception& ex) {
    e.out.fail(std::string{name} + ": " + ex.what());
  }
  std::fprintf(stderr, "caf-rtm-bench: %s done in %.1f s\n", name,
               bench::seconds_between(t0, bench::clock_type::now()));
}

} // namespace

int main(int argc, char** argv) {
  raise_fd_limit();
  if (argc >= 2 && std::string_view{argv[1]} == "--serve")
    return bench::serve_main(argc >= 3 && std::string_view{argv[2]} == "--tls");
  bench_config cfg;
  caf::rtm::add_message_types(cfg);
  if (auto res = cfg.parse_command_line(argc, argv);
      res.exit != 0 || !res.error.empty() || cfg.cli_helptext_printed) {
    if (!res.error.empty())
      std::fprintf(stderr, "caf-rtm-bench: %s (see --help)\n",
                   res.error.c_str());
    return res.exit;
  }
  if (cfg.events == 0 || cfg.events < -1 || cfg.clients == 0 ||
      cfg.clients < -1) {
    std::fprintf(stderr, "caf-rtm-bench: --events and --clients must be "
                         "positive (see --help)\n");
    return 2;
  }
  bool soak_option =
      cfg.soak_minutes != -1 || cfg.soak_seed != -1 || cfg.soak_connect;
  if (!cfg.soak && soak_option) {
    std::fprintf(stderr, "caf-rtm-bench: --soak-minutes, --soak-seed and "
                         "--soak-connect need --soak (see --help)\n");
    return 2;
  }
  if (cfg.soak_minutes != -1 && !(cfg.soak_minutes > 0)) {
    std::fprintf(
        stderr,
        "caf-rtm-bench: --soak-minutes must be positive (see --help)\n");
    return 2;
  }
  if (cfg.soak_seed < -1 || cfg.soak_seed > int64_t{UINT32_MAX}) {
    std::fprintf(stderr, "caf-rtm-bench: --soak-seed must be between 0 and "
                         "4294967295 (see --help)\n");
    return 2;
  }
  if (cfg.soak && !cfg.only.empty()) {
    std::fprintf(stderr, "caf-rtm-bench: --soak runs only the soak; it does "
                         "not combine with --only (see --help)\n");
    return 2;
  }
  auto only = caf::rtm::cli::split_list(cfg.only);
  for (auto& name : only)
    if (!contains(scenario_names, name)) {
      std::fprintf(stderr,
                   "caf-rtm-bench: --only: unknown scenario '%s' (one of "
                   "%s)\n",
                   name.c_str(), joined(scenario_names).c_str());
      return 2;
    }
  if (cfg.soak)
    only = {"soak"};
  auto machine = bench::describe_machine();
  // Scheduler threads: the core count, unless configured otherwise.
  bool threads_given =
      caf::get_if(&caf::content(cfg), "scheduler.max-threads") != nullptr;
  if (!threads_given)
    cfg.set("scheduler.max-threads", static_cast<size_t>(machine.cores));
  // Scheduler policy: sharing, unless configured otherwise. CAF 0.17's
  // work-stealing workers poll and then sleep (50 us, later 10 ms) when idle,
  // which adds that much latency to a message arriving at a quiet actor;
  // sharing workers wait on a condition variable and wake at once.
  bool policy_given =
      caf::get_if(&caf::content(cfg), "scheduler.policy") != nullptr;
  if (!policy_given)
    cfg.set("scheduler.policy", caf::atom("sharing"));
  auto policy = caf::to_string(
      caf::get_or(cfg, "scheduler.policy", caf::atom("stealing")));
  auto opts = resolve(cfg, machine.cores);
  opts.command = command_line(argc, argv);
  {
    // Token and URL come from the fake; everything else must be valid.
    auto check = opts.client;
    check.token = "xoxb-bench";
    check.base_url = "http://127.0.0.1/api/";
    if (auto err = check.validate()) {
      std::fprintf(stderr, "caf-rtm-bench: %s (see --help)\n",
                   caf::rtm::render(err).c_str());
      return 2;
    }
  }
  // Which client options the command line or a config file changed.
  bool client_configured = false;
  if (auto group = caf::get_if<caf::settings>(&caf::content(cfg), "caf-rtm"))
    client_configured = !group->empty();
  auto keep_alive_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           opts.client.api_keep_alive)
                           .count();
  std::string runs;
  if (opts.soak) {
    runs = "soak only: ";
    if (opts.soak_minutes > 0) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%g", opts.soak_minutes);
      runs += std::string{buf} + " min";
    } else {
      runs += opts.quick ? "5 s" : "30 min";
    }
    runs += " of faults per transport (plain, TLS), seed " +
            std::to_string(opts.soak_seed) +
            (opts.soak_connect ? ", through a CONNECT proxy" : "");
  } else {
    runs = std::to_string(opts.events) + " events per flood (median of " +
           std::to_string(opts.throughput_rounds) +
           (opts.throughput_rounds == 1 ? " round), " : " rounds), ") +
           std::to_string(opts.clients) + " idle clients, " +
           std::to_string(opts.busy_clients) + " busy clients, " +
           std::to_string(opts.repetitions) +
           " runs per reconnect scenario (median)";
  }
  bench::settings_list settings{
      {"scheduler",
       "scheduler.max-threads = " + std::to_string(opts.scheduler_threads) +
           (threads_given ? " (configured)" : " (the core count)") +
           ", scheduler.policy = " + policy +
           (policy_given ? " (configured)" : " (for latency)")},
      {"client",
       std::string{client_configured ? "caf-rtm.* options as configured"
                                     : "library defaults"} +
           ": " + std::to_string(opts.client.io_threads) +
           " I/O thread(s), listener pool of " +
           std::to_string(opts.client.concurrency) +
           " actors, Web API keep-alive " + std::to_string(keep_alive_ms) +
           " ms; send_rate 100/s; log level warn"},
      {"runs", runs},
  };
  bench::print_header(stdout, machine, opts, settings);
  std::fflush(stdout);
  bench::report out;
  {
    caf::actor_system sys{cfg};
    bench::env e{sys, opts, out,
                 std::make_shared<caf::rtm::logger>(caf::rtm::log_level::warn)};
    // The soak is no scenario of a normal run: it runs alone (`only` names
    // nothing else, so every scenario below is skipped).
    if (opts.soak)
      step(e, only, "soak", "soak (faults injected)", bench::run_soak);
    // Memory first, while the heap holds nothing of the other runs; so the
    // Socket Mode scenario's idle clients run here too.
    step(e, only, "memory", "idle clients (memory)", bench::run_idle_clients);
    step(e, only, "socket_mode", "Socket Mode idle clients (memory)",
         bench::run_socket_mode_idle_clients);
    step(e, only, "latency", "latency (paced)", bench::run_latency);
    step(e, only, "throughput", "throughput", bench::run_throughput);
    step(e, only, "cli", "caf-rtm in a pipe", bench::run_cli_pipe);
    step(e, only, "hub", "hub -> remote bot", bench::run_hub);
    // After throughput: its RTM client -> actor row is what Socket Mode's
    // envelope rate is compared with.
    step(e, only, "socket_mode", "Socket Mode", bench::run_socket_mode);
    step(e, only, "reconnect", "reconnect", bench::run_reconnect);
    step(e, only, "busy", "busy clients", bench::run_busy_clients);
  }
  for (auto& [key, text] : out.notes())
    std::printf("  %s: %s\n", key.c_str(), text.c_str());
  bench::print_table(stdout, out);
  if (!opts.json_file.empty() &&
      !bench::write_json(opts.json_file, out, machine, opts, settings))
    out.fail("cannot write " + opts.json_file);
  if (!opts.plot_file.empty())
    std::printf("\n%s\n", bench::plot(opts.plot_file, out).c_str());
  if (!out.failures().empty()) {
    std::printf("\nFAILED (%zu):\n", out.failures().size());
    for (auto& f : out.failures())
      std::printf("  %s\n", f.c_str());
    return 1;
  }
  return 0;
}
