// caf-rtm: a command-line Slack client (RTM or Socket Mode). Events or
// envelopes go to stdout as JSON lines, diagnostics to stderr. See --help and
// README.md.

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "caf-rtm/demo.hpp"
#include "caf-rtm/driver.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/pattern.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/testing/fake_slack.hpp"
#include "common/cli.hpp"

namespace cli = caf::rtm::cli;

namespace {

class tool_config : public cli::config {
public:
  tool_config() {
    add_value(events, "events", "event types to print, comma-separated");
    add_value(count, "count", "exit after printing N events");
    add_value(duration, "duration", "exit after SECONDS");
    add_flag(send, "send", "RTM: send each stdin line (a JSON object)");
    add_flag(respond, "respond",
             "Socket Mode: answer envelopes that accept a response payload "
             "with stdin lines {\"envelope_id\":...,\"payload\":{...}}");
    add_flag(stats, "stats", "print statistics on stderr at exit");
    add_flag(demo, "demo", "run against an embedded fake Slack");
  }

  std::string events = "*";
  int64_t count = 0;
  double duration = 0;
  bool send = false;
  bool respond = false;
  bool stats = false;
  bool demo = false;
};

// Reads stdin line by line without blocking forever, so the thread can be
// joined when the program ends first.
void read_stdin(caf::actor driver, const std::atomic<bool>& stop) {
  std::string pending;
  uint64_t lines = 0;
  char buf[4096];
  auto send_line = [&](std::string line) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      return;
    caf::anon_send(driver, cli::line_atom_v, ++lines, std::move(line));
  };
  while (!stop) {
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    auto ready = poll(&pfd, 1, 100);
    if (ready <= 0)
      continue;
    auto n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n <= 0)
      break;
    pending.append(buf, static_cast<size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos;
         nl = pending.find('\n')) {
      send_line(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  if (!stop) {
    send_line(std::move(pending));
    caf::anon_send(driver, cli::eof_atom_v, lines);
  }
}

} // namespace

int main(int argc, char** argv) {
  cli::block_termination_signals();
  // A closed stdout is an error to report (exit 1), not a reason to die.
  std::signal(SIGPIPE, SIG_IGN);
  tool_config cfg;
  caf::rtm::add_message_types(cfg);
  auto parsed = cfg.parse_command_line(argc, argv);
  if (parsed.exit != 0 || !parsed.error.empty()) {
    if (!parsed.error.empty())
      std::fprintf(stderr, "caf-rtm: %s (see --help)\n", parsed.error.c_str());
    return parsed.exit;
  }
  if (cfg.cli_helptext_printed)
    return cli::exit_ok;
  const char* usage_error = nullptr;
  auto socket_mode = cfg.conn.socket_mode;
  if (cfg.count < 0)
    usage_error = "--count must be >= 0";
  else if (cfg.duration < 0 || cfg.duration > 1e8)
    usage_error = "--duration must be 0 to 100,000,000 seconds";
  else if ((cfg.send || cfg.respond) && cfg.demo)
    usage_error = "--send and --respond do not mix with --demo";
  else if (cfg.send && socket_mode)
    usage_error = "--send is RTM only (Socket Mode sends through the Web API)";
  else if (cfg.respond && !socket_mode)
    usage_error = "--respond needs --socket-mode";
  if (usage_error != nullptr) {
    std::fprintf(stderr, "caf-rtm: %s (see --help)\n", usage_error);
    return cli::exit_usage;
  }
  if (auto err = caf::rtm::check_patterns(cli::split_list(cfg.events))) {
    std::fprintf(stderr, "caf-rtm: --events: %s (see --help)\n",
                 caf::rtm::render(err).c_str());
    return cli::exit_usage;
  }
  // The demo brings its own Slack.
  std::optional<caf::rtm::testing::fake_slack> fake;
  if (cfg.demo) {
    fake.emplace();
    cfg.conn.token = fake->options().token;
    cfg.conn.app_token = fake->options().app_token;
    cfg.conn.base_url = fake->base_url();
    // Narrated by default; a log level given still wins.
    if (cfg.conn.log_level.empty() &&
        !caf::get_if(&caf::content(cfg), "caf-rtm.log-level"))
      cfg.conn.log_level = "info";
  }
  caf::rtm::client_config rtm_cfg;
  auto kind = socket_mode ? caf::rtm::client_kind::socket_mode
                          : caf::rtm::client_kind::rtm;
  if (auto res = cli::to_client_config(cfg, rtm_cfg, kind); res.exit != 0) {
    std::fprintf(stderr, "caf-rtm: %s (see --help)\n", res.error.c_str());
    return res.exit;
  }
  if (cfg.demo)
    rtm_cfg.proxy_from_environment = false; // the fake is on loopback
  std::promise<int> exit_promise;
  auto exit_code = exit_promise.get_future();
  int code = cli::exit_other;
  {
    caf::actor_system sys{cfg};
    // The driver talks to either client through an untyped handle: both
    // answer connect, subscribe, status and close alike.
    auto rtm = socket_mode ? caf::actor_cast<caf::actor>(sys.spawn(
                                 caf::rtm::socket_mode_client, rtm_cfg))
                           : caf::actor_cast<caf::actor>(
                                 sys.spawn(caf::rtm::rtm_client, rtm_cfg));
    cli::driver_options opts;
    opts.events = cli::split_list(cfg.events);
    opts.count = static_cast<uint64_t>(cfg.count);
    opts.duration = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>{cfg.duration});
    opts.stats = cfg.stats;
    opts.reconnect_on = rtm_cfg.auto_reconnect;
    opts.log = rtm_cfg.log;
    opts.answer_mentions = cfg.demo;
    opts.socket_mode = socket_mode;
    opts.respond = cfg.respond;
    opts.on_exit = [&exit_promise](int x) {
      exit_promise.set_value(x);
    };
    auto drv = sys.spawn(cli::driver, rtm, opts);
    caf::scoped_actor self{sys, true};
    auto subscribed = [&](auto&&... xs) {
      bool ok = false;
      self->request(rtm, std::chrono::seconds{5}, xs...)
          .receive([&](caf::ok_atom) { ok = true; }, [](caf::error&) {});
      return ok;
    };
    // The demo's bot answers mentions (and /echo), whatever is printed.
    auto types = opts.events;
    if (opts.answer_mentions) {
      types.emplace_back(socket_mode ? "app_mention" : "message");
      if (socket_mode)
        types.emplace_back("/echo");
    }
    if (!subscribed(caf::rtm::subscribe_atom_v, drv, types) ||
        !subscribed(caf::rtm::subscribe_atom_v, caf::rtm::lifecycle_atom_v,
                    drv)) {
      std::fprintf(stderr, "caf-rtm: internal error: subscribe failed\n");
      caf::anon_send_exit(drv, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(rtm, caf::exit_reason::user_shutdown);
      return cli::exit_other;
    }
    std::atomic<bool> stop{false};
    std::thread input;
    if (cfg.send || cfg.respond)
      input = std::thread{read_stdin, drv, std::cref(stop)};
    cli::signal_watcher signals{[drv] {
      caf::anon_send(drv, caf::rtm::close_atom_v);
    }};
    std::thread demo;
    std::atomic<bool> demo_failed{false};
    if (cfg.demo)
      demo = std::thread{[&] {
        // The script knows when it is done: then the program ends (unless
        // --count or --duration ended it first).
        auto play = socket_mode ? cli::play_socket_mode_demo : cli::play_demo;
        play(*fake, stop, [&](bool ok) {
          if (!ok && !stop)
            demo_failed = true;
          caf::anon_send(drv, caf::rtm::close_atom_v);
        });
      }};
    code = exit_code.get();
    if (demo_failed && code == cli::exit_ok)
      code = cli::exit_other;
    stop = true;
    if (input.joinable())
      input.join();
    if (demo.joinable())
      demo.join();
  }
  return code;
}
