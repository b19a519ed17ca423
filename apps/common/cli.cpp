#include "common/cli.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::cli {

config::config() {
  // Latency over throughput for an interactive tool: CAF 0.17's default
  // work-stealing workers sleep up to 10 ms when idle, sharing workers wake at
  // once. `--scheduler.policy=stealing` restores the default.
  set("scheduler.policy", caf::atom("sharing"));
  add_value(conn.token, "token", "Slack token (default: $SLACK_BOT_TOKEN)");
  add_value(conn.base_url, "base-url", "Web API base URL");
  add_value(conn.ca_file, "ca-file", "extra trusted CA certificates (PEM)");
  add_value(conn.proxy, "proxy",
            "HTTP CONNECT proxy (default: $HTTPS_PROXY, $HTTP_PROXY)");
  add_value(conn.ping_interval, "ping-interval", "seconds between pings");
  add_value(conn.pong_timeout, "pong-timeout",
            "seconds a pong may take (default: ping interval)");
  add_flag(conn.no_reconnect, "no-reconnect", "do not reconnect");
  add_value(conn.max_attempts, "max-attempts",
            "connection attempts in a row before giving up (0: no cap)");
  add_value(conn.log_level, "log-level", "quiet|error|warn|info|debug");
}

namespace {

bool starts_with(const std::string& x, const std::string& prefix) {
  return x.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

parse_result parse(config& cfg, int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i)
        args.emplace_back(argv[i]);
      break;
    }
    if (arg == "-h" || arg == "-?" || arg == "--help") {
      args.push_back("--help");
      continue;
    }
    if (!starts_with(arg, "--") || starts_with(arg, "--caf#")) {
      if (!starts_with(arg, "--"))
        return {exit_usage, "unexpected argument: " + arg};
      args.push_back(std::move(arg));
      continue;
    }
    auto eq = arg.find('=');
    auto name =
        arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    bool takes_value =
        contains(cfg.value_options, name) || name == "config-file";
    if (!takes_value && !contains(cfg.flag_options, name))
      return {exit_usage, "unknown option: --" + name};
    if (!takes_value && eq != std::string::npos)
      return {exit_usage, "--" + name + " takes no value"};
    if (takes_value && eq == std::string::npos) {
      if (i + 1 >= argc)
        return {exit_usage, "--" + name + " needs a value"};
      arg += '=';
      arg += argv[++i];
    }
    args.push_back(std::move(arg));
  }
  if (auto err = cfg.parse(std::move(args))) {
    // CAF's message quotes the argument, which could hold the token.
    std::string msg = "invalid command line: " + caf::to_string(err);
    if (!cfg.conn.token.empty())
      for (auto pos = msg.find(cfg.conn.token); pos != std::string::npos;
           pos = msg.find(cfg.conn.token))
        msg.replace(pos, cfg.conn.token.size(), "<redacted>");
    return {exit_usage, msg};
  }
  if (cfg.cli_helptext_printed)
    return {exit_ok, ""};
  return {};
}

namespace {

bool to_timespan(double seconds, caf::timespan& out) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 86400)
    return false;
  out = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>{seconds});
  return true;
}

} // namespace

parse_result to_client_config(const config& cfg, client_config& out) {
  const auto& c = cfg.conn;
  out.token = c.token;
  if (out.token.empty())
    if (auto* env = std::getenv("SLACK_BOT_TOKEN"))
      out.token = env;
  if (out.token.empty())
    return {exit_usage, "no token: use --token or set SLACK_BOT_TOKEN"};
  out.base_url = c.base_url;
  out.ca_file = c.ca_file;
  out.proxy = c.proxy;
  if (!to_timespan(c.ping_interval, out.ping_interval) ||
      out.ping_interval.count() == 0)
    return {exit_usage, "--ping-interval must be a positive number of seconds"};
  if (!to_timespan(c.pong_timeout, out.pong_timeout))
    return {exit_usage, "--pong-timeout must be a number of seconds >= 0"};
  out.auto_reconnect = !c.no_reconnect;
  if (c.max_attempts < 0)
    return {exit_usage, "--max-attempts must be >= 0"};
  out.reconnect.max_attempts = static_cast<uint32_t>(c.max_attempts);
  auto level = parse_log_level(c.log_level);
  if (!level)
    return {exit_usage,
            "--log-level must be quiet, error, warn, info or debug"};
  out.log = std::make_shared<logger>(*level);
  if (auto err = out.validate())
    return {exit_usage, "invalid configuration: " + render(err)};
  return {};
}

int exit_code_for(const caf::error& err, bool reconnect_on) {
  if (is(err, errc::slack_error) && is_fatal(err))
    return exit_fatal_slack;
  // An option whose value cannot work (say, an unreadable --ca-file).
  if (is(err, errc::invalid_config) || is(err, errc::invalid_url))
    return exit_usage;
  if (is(err, errc::gave_up) || !reconnect_on || is_fatal(err))
    return exit_no_connection;
  return exit_other;
}

namespace {

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

} // namespace

void block_termination_signals() {
  auto set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

signal_watcher::signal_watcher(std::function<void()> on_signal)
    : thread_([this, f = std::move(on_signal)] {
        auto set = termination_signals();
        timespec tick{0, 100'000'000};
        // A timed wait, so the destructor can stop the thread.
        while (!done_) {
          if (sigtimedwait(&set, nullptr, &tick) > 0) {
            f();
            return;
          }
        }
      }) {}

signal_watcher::~signal_watcher() {
  done_ = true;
  thread_.join();
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> result;
  size_t pos = 0;
  while (pos <= list.size()) {
    auto end = list.find(',', pos);
    if (end == std::string::npos)
      end = list.size();
    if (end > pos)
      result.push_back(list.substr(pos, end - pos));
    pos = end + 1;
  }
  return result;
}

} // namespace caf::rtm::cli
