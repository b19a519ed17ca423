#include "common/cli.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::cli {

base_config::base_config() {
  add_options(custom_options_);
}

namespace {

bool starts_with(const std::string& x, const char* prefix) {
  return x.rfind(prefix, 0) == 0;
}

// Anything shaped like a Slack token (xoxb-, xoxp-, xapp-, ...): an argument
// in the wrong place may be one.
std::string mask_token_like(std::string text) {
  for (auto prefix : {"xox", "xapp-"}) {
    for (auto pos = text.find(prefix); pos != std::string::npos;
         pos = text.find(prefix, pos + 1)) {
      auto end = text.find_first_of(" \t\r\n\"'\\,;)", pos);
      if (end == std::string::npos)
        end = text.size();
      text.replace(pos, end - pos, "<redacted>");
    }
  }
  return text;
}

// A secret as CAF quotes it in error messages (\ " \t \n escaped).
std::string caf_escaped(const std::string& x) {
  std::string result;
  for (auto c : x) {
    switch (c) {
    case '\\':
      result += "\\\\";
      break;
    case '"':
      result += "\\\"";
      break;
    case '\t':
      result += "\\t";
      break;
    case '\n':
      result += "\\n";
      break;
    default:
      result += c;
    }
  }
  return result;
}

// A proxy URL's user and password: `scheme://<redacted>@host:port`.
void redact_userinfo(std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto at = url.find('@', start);
  if (at == std::string::npos || url.find('/', start) < at)
    return;
  url.replace(start, at - start, "<redacted>");
}

// Keys whose values are credentials as a whole: tokens, the TLS key's
// passphrase (`openssl.passphrase`), and anything named like a password.
bool secret_key(const std::string& key) {
  // Where the tokens are kept, and when they expire, is no secret; the file
  // is (mode 0600).
  for (std::string_view open : {"token-file", "token-expires-at"})
    if (key.size() >= open.size() &&
        key.compare(key.size() - open.size(), open.size(), open) == 0)
      return false;
  for (auto word : {"token", "passphrase", "password", "secret"})
    if (key.find(word) != std::string::npos)
      return true;
  return false;
}

// Options whose values no message may show: the secret ones, and the header
// lines (whose values may be a gateway's key).
bool secret_option(const std::string& name) {
  return secret_key(name) || name.find("extra-headers") != std::string::npos;
}

// "Name: value" header lines keep their names only: a gateway's API key
// goes in a value.
void redact_header_values(caf::config_value::list& lines) {
  for (auto& line : lines) {
    auto* str = caf::get_if<std::string>(&line);
    if (str == nullptr)
      continue;
    auto colon = str->find(':');
    *str = colon == std::string::npos ? "<redacted>"
                                      : str->substr(0, colon) + ": <redacted>";
  }
}

void redact_tokens(caf::settings& xs) {
  for (auto& [key, value] : xs) {
    if (auto* dict = caf::get_if<caf::settings>(&value)) {
      redact_tokens(*dict);
      continue;
    }
    if (auto* list = caf::get_if<caf::config_value::list>(&value)) {
      if (key == "extra-headers")
        redact_header_values(*list);
      else if (secret_key(key))
        *list = caf::config_value::list{};
      continue;
    }
    auto* str = caf::get_if<std::string>(&value);
    if (str == nullptr || str->empty())
      continue;
    if (secret_key(key))
      *str = "<redacted>";
    else if (key.find("proxy") != std::string::npos)
      redact_userinfo(*str);
  }
}

} // namespace

caf::settings base_config::dump_content() const {
  auto result = actor_system_config::dump_content();
  redact_tokens(result);
  return result;
}

parse_result base_config::parse_command_line(int argc, char** argv) {
  // Tokens given on the command line, masked in any message.
  logger masker{log_level::quiet};
  auto secret = [&masker](const std::string& x) {
    masker.add_secret(x);
    masker.add_secret(caf_escaped(x));
  };
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--")
      return {exit_usage,
              i + 1 < argc ? "unexpected argument after --" : "unexpected --"};
    if (arg == "-h" || arg == "-?") {
      args.push_back("--help");
      continue;
    }
    if (!starts_with(arg, "--"))
      return {exit_usage, "unexpected argument: " + mask_token_like(arg)};
    if (starts_with(arg, "--caf#")) {
      // CAF's own spelling of any option (--caf#caf-rtm.token=...).
      if (auto eq = arg.find('=');
          eq != std::string::npos && secret_option(arg.substr(0, eq)))
        secret(arg.substr(eq + 1));
      args.push_back(std::move(arg));
      continue;
    }
    auto eq = arg.find('=');
    auto name =
        arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    // Every option CAF knows: the program's, `caf-rtm.*`, `scheduler.*`, ...
    auto opt = custom_options_.cli_long_name_lookup(name);
    if (opt == nullptr)
      return {exit_usage, "unknown option: --" + name};
    if (opt->is_flag() && eq != std::string::npos)
      return {exit_usage, "--" + name + " takes no value"};
    if (!opt->is_flag() && eq == std::string::npos) {
      // A forgotten value must not swallow the next option.
      if (i + 1 >= argc || starts_with(argv[i + 1], "--"))
        return {exit_usage, "--" + name + " needs a value"};
      arg += '=';
      arg += argv[++i];
    }
    if (secret_option(name))
      secret(arg.substr(arg.find('=') + 1));
    // A value of the wrong type gets a message that names option and type
    // (CAF's own is a parser_error tuple).
    if (!opt->is_flag()) {
      auto value = arg.substr(arg.find('=') + 1);
      if (!opt->parse(value)) {
        auto type = opt->type_name();
        auto msg =
            "--" + name + ": expected " + std::string{type.data(), type.size()};
        // A secret's value is never shown, not even a broken one.
        if (!secret_option(name))
          msg += ", got '" + value + "'";
        return {exit_usage, mask_token_like(masker.redact(std::move(msg)))};
      }
    }
    args.push_back(std::move(arg));
  }
  if (auto err = parse(std::move(args)))
    // CAF's message quotes the argument, which could hold a token.
    return {exit_usage, mask_token_like(masker.redact("invalid command line: " +
                                                      caf::to_string(err)))};
  if (cli_helptext_printed)
    return {exit_ok, ""};
  return {};
}

config::config() {
  // Latency over throughput for an interactive tool: CAF 0.17's default
  // work-stealing workers sleep up to 10 ms when idle, sharing workers wake at
  // once. `--scheduler.policy=stealing` restores the default.
  set("scheduler.policy", caf::atom("sharing"));
  add_flag(conn.socket_mode, "socket-mode",
           "Socket Mode (a Slack app) instead of RTM");
  add_value(conn.token, "token",
            "Slack token (default: caf-rtm.token or $SLACK_BOT_TOKEN); with "
            "--socket-mode the optional bot token (default: "
            "caf-rtm.bot-token or $SLACK_BOT_TOKEN)");
  add_value(conn.app_token, "app-token",
            "Socket Mode app-level token (default: caf-rtm.app-token or "
            "$SLACK_APP_TOKEN)");
  add_value(conn.connections, "connections",
            "Socket Mode connections, 1 to 10 (default 1)");
  add_value(conn.base_url, "base-url",
            "Web API base URL (default: https://slack.com/api/)");
  add_value(conn.ca_file, "ca-file", "extra trusted CA certificates (PEM)");
  add_value(
      conn.proxy, "proxy",
      "HTTP CONNECT proxy (default: $HTTPS_PROXY; $HTTP_PROXY for http://)");
  add_value(conn.ping_interval, "ping-interval",
            "seconds between pings (default 5)");
  add_value(conn.pong_timeout, "pong-timeout",
            "seconds a pong may take (default: the ping interval)");
  add_flag(conn.no_reconnect, "no-reconnect", "do not reconnect");
  add_value(conn.max_attempts, "max-attempts",
            "failed connection attempts in a row while no connection is up "
            "before giving up (default 0: no cap)");
  add_value(conn.log_level, "log-level",
            "quiet|error|warn|info|debug|trace (default warn)");
}

std::optional<uint32_t> max_attempts_of(int64_t n) {
  if (n < 0 || n > int64_t{std::numeric_limits<uint32_t>::max()})
    return std::nullopt;
  return static_cast<uint32_t>(n);
}

namespace {

// False for anything but 0 to 86,400 seconds, and for a positive value too
// small for a timespan (it would read as 0, which often means "no limit").
bool to_timespan(double seconds, caf::timespan& out) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 86400)
    return false;
  out = std::chrono::duration_cast<caf::timespan>(
      std::chrono::duration<double>{seconds});
  return seconds == 0 || out.count() > 0;
}

// The library's error for a bad `caf-rtm.log-level` (its text starts so; an
// error of another option may quote user text, which may say anything).
bool is_log_level_error(const caf::error& err) {
  return is(err, errc::invalid_config) &&
         context_string(err).rfind("caf-rtm.log-level = \"", 0) == 0;
}

} // namespace

parse_result to_client_config(const config& cfg, client_config& out,
                              client_kind kind) {
  const auto& c = cfg.conn;
  out = client_config::from(cfg);
  // --log-level overrides the config file's `caf-rtm.log-level`, a bad one
  // too. The library reads that option last and keeps the first bad option
  // only, so an error about it is the only one.
  if (!c.log_level.empty() && is_log_level_error(out.option_error))
    out.option_error = caf::error{};
  // Trimmed as the library trims a token in its own options: one read from
  // a file or a secret with a line break still works. Blank counts as not
  // set, as empty does.
  auto from_env = [](std::string& field, const char* name) {
    if (field.empty())
      if (auto* env = std::getenv(name); env != nullptr)
        field = trim_token(env);
  };
  if (kind == client_kind::rtm) {
    // Given and then ignored would be worse than refused.
    if (!c.app_token.empty())
      return {exit_usage, "--app-token goes with --socket-mode"};
    if (c.connections != c.not_given)
      return {exit_usage, "--connections goes with --socket-mode"};
    if (!c.token.empty())
      out.token = trim_token(c.token);
    from_env(out.token, "SLACK_BOT_TOKEN");
    if (out.token.empty())
      return {exit_usage, "no token: use --token or set SLACK_BOT_TOKEN"};
  } else {
    if (!c.app_token.empty())
      out.app_token = trim_token(c.app_token);
    from_env(out.app_token, "SLACK_APP_TOKEN");
    if (out.app_token.empty())
      return {exit_usage,
              "no app token: use --app-token or set SLACK_APP_TOKEN"};
    if (!c.token.empty())
      out.bot_token = trim_token(c.token);
    from_env(out.bot_token, "SLACK_BOT_TOKEN");
    if (c.connections != c.not_given) {
      if (c.connections < 1 || c.connections > 10)
        return {exit_usage, "--connections must be 1 to 10"};
      out.connections = static_cast<size_t>(c.connections);
    }
  }
  if (!c.base_url.empty())
    out.base_url = c.base_url;
  if (!c.ca_file.empty())
    out.ca_file = c.ca_file;
  if (!c.proxy.empty())
    out.proxy = c.proxy;
  if (c.ping_interval != c.not_given_s &&
      (!to_timespan(c.ping_interval, out.ping_interval) ||
       out.ping_interval.count() == 0))
    return {exit_usage, "--ping-interval must be a positive number of seconds"};
  if (c.pong_timeout != c.not_given_s &&
      !to_timespan(c.pong_timeout, out.pong_timeout))
    return {exit_usage, "--pong-timeout must be a number of seconds >= 0"};
  if (c.no_reconnect)
    out.auto_reconnect = false;
  if (c.max_attempts != c.not_given) {
    if (auto n = max_attempts_of(c.max_attempts))
      out.reconnect.max_attempts = *n;
    else
      return {exit_usage, max_attempts_range};
  }
  if (!c.log_level.empty()) {
    auto level = parse_log_level(c.log_level);
    if (!level)
      return {exit_usage,
              "--log-level must be quiet, error, warn, info, debug or trace"};
    out.log = std::make_shared<logger>(*level);
  } else if (!out.log) {
    out.log = std::make_shared<logger>(log_level::warn);
  }
  if (auto err = out.validate(kind))
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
