// caf-rtm: a command-line Slack client (RTM or Socket Mode). Events or
// envelopes go to stdout as JSON lines, diagnostics to stderr. See --help and
// README.md.

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
#include "caf-rtm/printer.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/node.hpp"
#include "caf/rtm/hub/remote_subscription.hpp"
#include "caf/rtm/pattern.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/testing/fake_slack.hpp"
#include "common/cli.hpp"
#include "common/exit_saying.hpp"

namespace cli = caf::rtm::cli;
namespace hub = caf::rtm::hub;

namespace {

class tool_config : public cli::config {
public:
  tool_config() {
    add_value(events, "events", "event types to print, comma-separated");
    add_value(count, "count", "exit after printing N events");
    add_value(duration, "duration", "exit after SECONDS");
    add_flag(send, "send", "RTM: send each stdin line (a JSON object)");
    add_value(max_wait, "max-wait",
              "with --send: SECONDS a line may wait to be written (for a "
              "session or the rate limiter); then it fails, never sent");
    add_flag(respond, "respond",
             "Socket Mode: answer envelopes that accept a response payload "
             "with stdin lines {\"envelope_id\":...,\"payload\":{...}}");
    add_flag(stats, "stats", "print statistics on stderr at exit");
    add_flag(demo, "demo", "run against an embedded fake Slack");
    add_value(hub, "hub",
              "HOST:PORT of a caf-rtm-hub: print a workspace's events from "
              "it instead of connecting to Slack (with --workspace)");
    add_value(workspace, "workspace", "with --hub: the workspace's name");
    add_value(hub_cert, "cert", "with --hub: TLS, this node's certificate");
    add_value(hub_key, "key", "with --hub: TLS, this node's private key");
    add_value(hub_ca, "tls-ca",
              "with --hub: TLS (also --ca), the CA of the hub's certificate");
  }

  std::string events = "*";
  int64_t count = 0;
  double duration = 0;
  bool send = false;
  double max_wait = 0;
  bool respond = false;
  bool stats = false;
  bool demo = false;
  std::string hub;
  std::string workspace;
  std::string hub_cert;
  std::string hub_key;
  std::string hub_ca;
};

// A limit in seconds: 0 for none, else one that neither reads as 0 (none)
// nor overflows; NaN fails both comparisons.
bool seconds_or_none(double x) {
  return x == 0 || (x >= 1e-6 && x <= 1e8);
}

// The usage mistakes of --hub and its options, or nullptr.
const char* hub_usage_error(const tool_config& cfg) {
  if (cfg.hub.empty()) {
    if (!cfg.workspace.empty() || !cfg.hub_cert.empty() ||
        !cfg.hub_key.empty() || !cfg.hub_ca.empty())
      return "--workspace, --cert, --key and --ca go with --hub";
    return nullptr;
  }
  if (cfg.workspace.empty())
    return "--hub needs --workspace NAME";
  if (cfg.demo)
    return "--hub and --demo do not mix";
  if (cfg.conn.socket_mode)
    return "--hub: the hub's configuration says RTM or Socket Mode";
  if (!cfg.conn.token.empty() || !cfg.conn.app_token.empty())
    return "--hub: the hub holds the tokens (no --token or --app-token)";
  // Only how to reach the hub is set here (--no-reconnect, --max-attempts).
  const auto& c = cfg.conn;
  if (c.connections != c.not_given || !c.base_url.empty() ||
      !c.ca_file.empty() || !c.proxy.empty() ||
      c.ping_interval != c.not_given_s || c.pong_timeout != c.not_given_s)
    return "--hub: the hub's configuration sets how it connects to Slack (no "
           "--connections, --base-url, --ca-file, --proxy, --ping-interval or "
           "--pong-timeout)";
  return nullptr;
}

// `--ca` is `--tls-ca`: CAF 0.17 cannot look up an option named "c", "ca"
// or "caf" (it takes them for its "caf#" prefix).
std::vector<std::string> rename_ca(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && (arg == "--ca" || arg.rfind("--ca=", 0) == 0))
      arg = "--tls-ca" + arg.substr(4);
    args.push_back(std::move(arg));
  }
  return args;
}

// --hub: the remote subscription (its subscribers come later) and what the
// driver takes from a client configuration; sets the node up for CAF::io
// (and TLS) before the actor system starts.
cli::parse_result hub_subscription(tool_config& cfg,
                                   hub::remote_subscription_config& sub,
                                   caf::rtm::client_config& rtm_cfg) {
  auto where = hub::parse_endpoint(cfg.hub);
  if (!where)
    return {cli::exit_usage, "--hub: " + caf::rtm::render(where.error())};
  sub.hubs = {*where};
  sub.workspace = cfg.workspace;
  hub::node_options node;
  node.tls = {cfg.hub_cert, cfg.hub_key, cfg.hub_ca, cfg.openssl_passphrase};
  sub.tls = node.tls.enabled();
  if (auto err = hub::configure_node(cfg, node))
    return {cli::exit_usage, caf::rtm::render(err)};
  const auto& c = cfg.conn;
  std::optional<uint32_t> max_attempts;
  if (c.max_attempts != c.not_given)
    if (max_attempts = cli::max_attempts_of(c.max_attempts); !max_attempts)
      return {cli::exit_usage, cli::max_attempts_range};
  // As for Slack itself: --no-reconnect gives up after the first failure,
  // --max-attempts after that many in a row.
  if (c.no_reconnect)
    sub.reconnect.max_attempts = 1;
  else if (max_attempts && *max_attempts > 0)
    sub.reconnect.max_attempts = *max_attempts;
  rtm_cfg.auto_reconnect = !c.no_reconnect;
  auto level = caf::rtm::log_level::warn;
  auto name = c.log_level;
  if (name.empty())
    if (auto x =
            caf::get_if<std::string>(&caf::content(cfg), "caf-rtm.log-level"))
      name = *x;
  if (!name.empty()) {
    auto parsed = caf::rtm::parse_log_level(name);
    if (!parsed)
      return {cli::exit_usage,
              "--log-level must be quiet, error, warn, info, debug or trace"};
    level = *parsed;
  }
  rtm_cfg.log = std::make_shared<caf::rtm::logger>(level);
  return {};
}

// Subscribes the printer's callbacks to `types`.
bool subscribed_printer(caf::scoped_actor& self, const caf::actor& client,
                        bool socket_mode, const std::vector<std::string>& types,
                        const std::shared_ptr<cli::printer>& lines) {
  bool ok = false;
  auto done = [&](uint64_t) {
    ok = true;
  };
  auto failed = [](caf::error&) {
  };
  if (socket_mode)
    self->request(
            client, std::chrono::seconds{5}, caf::rtm::subscribe_atom_v,
            caf::rtm::envelope_listener{types,
                                        [lines](const caf::rtm::envelope& x) {
                                          lines->print(x);
                                        }})
        .receive(done, failed);
  else
    self->request(
            client, std::chrono::seconds{5}, caf::rtm::subscribe_atom_v,
            caf::rtm::callback_listener{types,
                                        [lines](const caf::rtm::event& x) {
                                          lines->print(x);
                                        }})
        .receive(done, failed);
  return ok;
}

// --respond: lines read ahead of the driver. Each answers one envelope, and
// the driver takes it at once unless a blocked stdout holds the driver up.
constexpr uint64_t respond_window = 256;

// Reads stdin line by line without blocking forever, so the thread can be
// joined when the program ends first, and hands the lines to the driver. It
// reads on while fewer than `window` lines are not `done`: a long input to
// --send waits for the rate limiter instead of overflowing the client's send
// queue, and one to --respond waits for a driver that stdout holds up.
void read_stdin(caf::actor driver, const std::atomic<bool>& stop,
                std::shared_ptr<std::atomic<uint64_t>> done, uint64_t window) {
  std::string pending;
  size_t scanned = 0;    // pending[0, scanned) holds no newline
  bool too_long = false; // the current line is over max_line_size: dropped
  uint64_t lines = 0;
  char buf[4096];
  auto wait_for_room = [&] {
    while (done && !stop && lines - done->load() >= window)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
  };
  auto send_line = [&](std::string line) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      return;
    wait_for_room();
    caf::anon_send(driver, cli::line_atom_v, ++lines, std::move(line));
  };
  while (!stop) {
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    auto ready = poll(&pfd, 1, 100);
    if (ready <= 0)
      continue;
    auto n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n < 0) {
      // Not the end of the input: what follows was never read.
      caf::anon_send(driver, cli::eof_atom_v, lines,
                     std::string{"stdin: "} + std::strerror(errno));
      return;
    }
    if (n == 0)
      break;
    pending.append(buf, static_cast<size_t>(n));
    for (auto nl = pending.find('\n', scanned); nl != std::string::npos;
         nl = pending.find('\n')) {
      if (too_long) {
        too_long = false; // its end
      } else if (nl > cli::max_line_size) {
        // Its newline came in the read that took it over the limit.
        wait_for_room();
        caf::anon_send(driver, cli::long_line_atom_v, ++lines);
      } else {
        send_line(pending.substr(0, nl));
      }
      pending.erase(0, nl + 1);
    }
    scanned = pending.size();
    if (scanned > cli::max_line_size) {
      if (!too_long) {
        too_long = true;
        wait_for_room();
        caf::anon_send(driver, cli::long_line_atom_v, ++lines);
      }
      pending.clear();
      scanned = 0;
    }
  }
  if (!stop) {
    if (!too_long)
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
  auto args = rename_ca(argc, argv);
  std::vector<char*> arg_ptrs;
  arg_ptrs.reserve(args.size());
  for (auto& arg : args)
    arg_ptrs.push_back(arg.data());
  auto parsed = cfg.parse_command_line(static_cast<int>(arg_ptrs.size()),
                                       arg_ptrs.data());
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
  else if (!seconds_or_none(cfg.duration))
    usage_error = "--duration must be 0 (no limit) or 0.000001 to "
                  "100,000,000 seconds";
  else if (!seconds_or_none(cfg.max_wait))
    usage_error = "--max-wait must be 0 (no limit) or 0.000001 to "
                  "100,000,000 seconds";
  else if (cfg.max_wait > 0 && !cfg.send)
    usage_error = "--max-wait goes with --send";
  else if ((cfg.send || cfg.respond) && cfg.demo)
    usage_error = "--send and --respond do not mix with --demo";
  else if (cfg.send && cfg.respond)
    usage_error = "--send and --respond do not mix";
  else if (cfg.send && socket_mode)
    usage_error = "--send is RTM only (Socket Mode sends through the Web API)";
  else if (cfg.respond && !socket_mode && cfg.hub.empty())
    usage_error = "--respond needs --socket-mode";
  if (usage_error == nullptr)
    usage_error = hub_usage_error(cfg);
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
    if (socket_mode)
      cfg.conn.app_token = fake->options().app_token;
    cfg.conn.base_url = fake->base_url();
    // Narrated by default; a log level given still wins.
    if (cfg.conn.log_level.empty() &&
        !caf::get_if(&caf::content(cfg), "caf-rtm.log-level"))
      cfg.conn.log_level = "info";
  }
  caf::rtm::client_config rtm_cfg;
  auto from_hub = !cfg.hub.empty();
  std::optional<hub::remote_subscription_config> sub;
  if (from_hub) {
    // The hub holds the client: only where it is, how to reach it and how
    // long to keep trying matter here.
    sub.emplace();
    if (auto res = hub_subscription(cfg, *sub, rtm_cfg); res.exit != 0) {
      std::fprintf(stderr, "caf-rtm: %s (see --help)\n", res.error.c_str());
      return res.exit;
    }
  } else {
    auto kind = socket_mode ? caf::rtm::client_kind::socket_mode
                            : caf::rtm::client_kind::rtm;
    if (auto res = cli::to_client_config(cfg, rtm_cfg, kind); res.exit != 0) {
      std::fprintf(stderr, "caf-rtm: %s (see --help)\n", res.error.c_str());
      return res.exit;
    }
  }
  if (cfg.demo) {
    // The fake is on loopback, with a certificate of its own: a proxy or CA
    // file given for Slack has no part in the demo.
    rtm_cfg.proxy_from_environment = false;
    rtm_cfg.proxy.clear();
    rtm_cfg.ca_file.clear();
  }
  // Events are printed from the client's listener pool (backpressure on a
  // slow pipe), unless the driver needs them itself: the demo answers
  // mentions, --respond answers envelopes, and a hub's client is remote.
  std::shared_ptr<cli::printer> lines;
  if (!from_hub && !cfg.demo && !cfg.respond) {
    lines = std::make_shared<cli::printer>(cli::split_list(cfg.events),
                                           static_cast<uint64_t>(cfg.count));
    // The tool runs no callbacks of its own but the printer's: one listener
    // worker keeps the lines in wire order.
    rtm_cfg.concurrency = 1;
    // Events parsed ahead of the pipe cost memory and buy nothing: the pipe
    // sets the pace.
    rtm_cfg.callback_backlog = std::min<size_t>(rtm_cfg.callback_backlog, 1000);
  }
  std::promise<int> exit_promise;
  auto exit_code = exit_promise.get_future();
  int code = cli::exit_other;
  {
    caf::actor_system sys{cfg};
    // The driver talks to either client through an untyped handle: both
    // answer connect, subscribe, status and close alike. A hub's client
    // arrives later, with the subscription's hub_up.
    caf::actor rtm;
    if (!from_hub)
      rtm = socket_mode ? caf::actor_cast<caf::actor>(
                              sys.spawn(caf::rtm::socket_mode_client, rtm_cfg))
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
    if (socket_mode && !from_hub)
      opts.connections = rtm_cfg.connections;
    opts.respond = cfg.respond;
    opts.ack_deadline = rtm_cfg.ack_deadline;
    opts.sends = cfg.send;
    if (cfg.send || cfg.respond)
      opts.lines_done = std::make_shared<std::atomic<uint64_t>>(0);
    opts.max_wait = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>{cfg.max_wait});
    opts.from_hub = from_hub;
    opts.lines = lines;
    opts.on_exit = [&exit_promise](int x) {
      exit_promise.set_value(x);
    };
    auto drv = sys.spawn(cli::driver, rtm, opts);
    if (lines)
      lines->notify(drv);
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
    hub::remote_subscription_actor hub_sub;
    if (from_hub) {
      sub->subscribers = {{drv, types}};
      sub->lifecycle = drv;
      hub_sub = sys.spawn(hub::remote_subscription, *sub);
    } else if (!(lines
                     ? subscribed_printer(self, rtm, socket_mode, types, lines)
                     : subscribed(caf::rtm::subscribe_atom_v, drv, types)) ||
               !subscribed(caf::rtm::subscribe_atom_v,
                           caf::rtm::lifecycle_atom_v, drv)) {
      std::fprintf(stderr, "caf-rtm: internal error: subscribe failed\n");
      caf::anon_send_exit(drv, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(rtm, caf::exit_reason::user_shutdown);
      return cli::exit_other;
    }
    std::atomic<bool> stop{false};
    std::thread input;
    if (cfg.send || cfg.respond)
      input = std::thread{read_stdin, drv, std::cref(stop), opts.lines_done,
                          cfg.send ? uint64_t{rtm_cfg.send_queue_size}
                                   : respond_window};
    // When the program must end: at a signal, or after --duration.
    using clock = std::chrono::steady_clock;
    std::atomic<clock::rep> end_due{
        cfg.duration > 0
            ? (clock::now() + opts.duration).time_since_epoch().count()
            : clock::rep{0}};
    cli::signal_watcher signals{[drv, &end_due] {
      end_due = clock::now().time_since_epoch().count();
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
    // The driver ends the program, but not while a stdout nobody reads (a
    // full pipe) blocks its writes: then it ends here, a grace period after
    // it was due, after closing the client (close frame sent, bounded).
    constexpr auto grace = std::chrono::seconds{5};
    while (exit_code.wait_for(std::chrono::milliseconds{100}) !=
           std::future_status::ready) {
      auto due = end_due.load();
      if (due == 0 || clock::now().time_since_epoch().count() <
                          due + clock::duration{grace}.count())
        continue;
      // A Socket Mode close waits up to the ack deadline for answers the
      // blocked driver will not give.
      if (rtm)
        self->request(rtm,
                      std::chrono::milliseconds{800} +
                          (socket_mode ? opts.ack_deadline : caf::timespan{0}),
                      caf::rtm::close_atom_v)
            .receive([](caf::ok_atom) {}, [](caf::error&) {});
      // The actor system would wait for the listener blocked on stdout; a
      // line through stdio could wait for a log line blocked on stderr.
      cli::exit_saying("caf-rtm: stdout is not being read; exiting without "
                       "the lines still to write\n",
                       cli::exit_other);
    }
    code = exit_code.get();
    if (demo_failed && code == cli::exit_ok)
      code = cli::exit_other;
    // From here on the program only winds down, with signals no longer
    // watched: the joins, the hub's unsubscribe (bounded) and the actor
    // system's end, which waits for the printer. A printer with lines left
    // for a reader that stopped reading would hold that end for good.
    std::thread{[code] {
      std::this_thread::sleep_for(std::chrono::seconds{10});
      cli::exit_saying("caf-rtm: shutting down took too long (stdout not "
                       "read?); exiting\n",
                       code == cli::exit_ok ? cli::exit_other : code);
    }}.detach();
    stop = true;
    if (input.joinable())
      input.join();
    if (demo.joinable())
      demo.join();
    // Unsubscribes on the hub (bounded), or ends the subscription anyway.
    if (hub_sub) {
      self->request(hub_sub, std::chrono::seconds{2}, caf::rtm::close_atom_v)
          .receive([](caf::ok_atom) {}, [](caf::error&) {});
      caf::anon_send_exit(hub_sub, caf::exit_reason::user_shutdown);
    }
  }
  return code;
}
