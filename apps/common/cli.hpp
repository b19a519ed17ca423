// Command-line options shared by the caf-rtm tool and the echo bot, on top of
// CAF's own option system (so a caf-application.ini works too). CAF 0.17 only
// accepts `--name=value`; argv is normalised first so that GNU-style
// `--name value` works as well.

#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/logger.hpp"

namespace caf::rtm::cli {

/// Exit codes of the command-line programs.
enum exit_code : int {
  exit_ok = 0,
  exit_other = 1,
  exit_usage = 2,
  exit_fatal_slack = 3,
  exit_no_connection = 4,
};

/// Connection options every program takes.
struct connection_options {
  std::string token;
  std::string base_url = "https://slack.com/api/";
  std::string ca_file;
  std::string proxy;
  double ping_interval = 5.0;
  double pong_timeout = 0.0;
  bool no_reconnect = false;
  int64_t max_attempts = 0;
  std::string log_level = "warn";
};

/// An actor_system_config with the connection options; programs add theirs
/// in their constructor with `opt_group{custom_options_, "global"}`.
class config : public caf::actor_system_config {
public:
  config();

  connection_options conn;

  /// Long names of options that take a value (for argv normalisation).
  std::vector<std::string> value_options;
  /// Long names of flags.
  std::vector<std::string> flag_options;

protected:
  template <class T>
  void add_value(T& ref, const char* name, const char* help) {
    opt_group{custom_options_, "global"}.add(ref, name, help);
    value_options.emplace_back(name);
  }

  void add_flag(bool& ref, const char* name, const char* help) {
    opt_group{custom_options_, "global"}.add(ref, name, help);
    flag_options.emplace_back(name);
  }
};

/// The result of parsing a command line.
struct parse_result {
  /// 0: go on; otherwise exit with this code (help printed: exit_ok).
  int exit = 0;
  std::string error;
};

/// Normalises argv and lets CAF parse it. Unknown options and bad values give
/// exit_usage with a message that names the option (never its value).
parse_result parse(config& cfg, int argc, char** argv);

/// Turns the connection options (plus SLACK_BOT_TOKEN when --token is absent)
/// into a client configuration; exit_usage on bad values.
parse_result to_client_config(const config& cfg, client_config& out);

/// Splits a comma-separated list, skipping empty items ("a,,b" -> a, b).
std::vector<std::string> split_list(const std::string& list);

/// Maps how a connection attempt failed to an exit code.
int exit_code_for(const caf::error& err, bool reconnect_on);

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts later: call first thing in main, before the actor system exists.
void block_termination_signals();

/// Calls `on_signal` from a thread of its own when SIGINT or SIGTERM arrives
/// (once). The destructor stops and joins the thread.
class signal_watcher {
public:
  explicit signal_watcher(std::function<void()> on_signal);
  ~signal_watcher();

  signal_watcher(const signal_watcher&) = delete;
  signal_watcher& operator=(const signal_watcher&) = delete;

private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

} // namespace caf::rtm::cli
