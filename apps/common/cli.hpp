// Command-line options shared by the caf-rtm tool, the echo bot and the
// benchmark, on top of CAF's own option system: the library's `caf-rtm.*`
// options work everywhere (command line and caf-application.ini), plus short
// forms such as `--token`. CAF 0.17 only accepts `--name=value`; argv is
// normalised first so that GNU-style `--name value` works as well.

#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
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

/// The result of parsing a command line.
struct parse_result {
  /// 0: go on; otherwise exit with this code (help printed: exit_ok).
  int exit = 0;
  std::string error;
};

/// An actor_system_config that knows the library's `caf-rtm.*` options and
/// parses the command line GNU-style: `--name value` and `--name=value` both
/// work for every option that takes a value. Programs add their own options
/// in their constructor.
class base_config : public caf::actor_system_config {
public:
  base_config();

  /// Normalises argv and lets CAF parse it. Unknown options and bad values
  /// give exit_usage with a message that names the option and never shows a
  /// token given on the command line.
  parse_result parse_command_line(int argc, char** argv);

  /// What `--dump-config` prints: CAF's content with every token redacted.
  caf::settings dump_content() const override;

protected:
  template <class T>
  void add_value(T& ref, const char* name, const char* help) {
    opt_group{custom_options_, "global"}.add(ref, sv(name), sv(help));
  }

  void add_flag(bool& ref, const char* name, const char* help) {
    opt_group{custom_options_, "global"}.add(ref, sv(name), sv(help));
  }

private:
  // CAF 0.17's string_view converts from `const char*` only when CAF is
  // built as CAF_GCC (under clang it takes char arrays only).
  static caf::string_view sv(const char* x) {
    return {x, std::strlen(x)};
  }
};

/// Short forms of the connection options every client program takes. Each
/// one given overrides its `caf-rtm.*` counterpart; the defaults below mean
/// "not given" (values nobody types, so that a typed -1 is refused like any
/// other bad value).
struct connection_options {
  static constexpr int64_t not_given = std::numeric_limits<int64_t>::min();
  static constexpr double not_given_s = std::numeric_limits<double>::lowest();

  bool socket_mode = false;
  std::string token;
  std::string app_token;
  int64_t connections = not_given;
  std::string base_url;
  std::string ca_file;
  std::string proxy;
  double ping_interval = not_given_s;
  double pong_timeout = not_given_s;
  bool no_reconnect = false;
  int64_t max_attempts = not_given;
  std::string log_level;
};

/// The value of --max-attempts (0: never give up), if it fits.
std::optional<uint32_t> max_attempts_of(int64_t n);

constexpr const char* max_attempts_range =
    "--max-attempts must be 0 to 4294967295";

/// A base_config with the short connection options.
class config : public base_config {
public:
  config();

  connection_options conn;
};

/// The client configuration: the `caf-rtm.*` options (config file, command
/// line), then the short forms given, then SLACK_BOT_TOKEN (and for Socket
/// Mode SLACK_APP_TOKEN) when no token was given at all. For Socket Mode,
/// `--token` is the bot token (optional). Log level `warn` unless configured.
/// exit_usage on values that cannot work.
parse_result to_client_config(const config& cfg, client_config& out,
                              client_kind kind = client_kind::rtm);

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
