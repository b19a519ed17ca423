// Diagnostics of caf-rtm. A logger filters by level and hands each line to a
// sink; it masks every registered secret (the token), and anything shaped as
// a Slack token, in every line, so no log line can carry one even by
// accident, and shows control characters as \xNN. Thread-safe; the sink is
// called from actors and from I/O threads, possibly at the same time, without
// the logger's lock held (a slow sink of your own delays only the line's own
// thread): it must be thread-safe itself.
//
// The default sink writes to stderr. Stdio writes one line at a time, so a
// stderr nobody reads (a full pipe) holds up every thread that logs; a pipe
// whose reader went raises no SIGPIPE (the line is lost, the program goes
// on).

#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace caf::rtm {

/// `trace` adds every frame in and out, pings and pongs (tokens and
/// WebSocket tickets masked).
enum class log_level { quiet = 0, error, warn, info, debug, trace };

std::string_view to_string(log_level x);

/// Parses quiet|error|warn|info|debug|trace.
std::optional<log_level> parse_log_level(std::string_view x);

class logger {
public:
  using sink_type = std::function<void(log_level, const std::string&)>;

  /// Writes lines at `level` and above to stderr (see above).
  explicit logger(log_level level = log_level::warn);

  logger(log_level level, sink_type sink);

  log_level level() const noexcept {
    return level_;
  }

  bool enabled(log_level x) const noexcept {
    return x != log_level::quiet && x <= level_;
  }

  /// Masks `secret` in every later line (ignored when shorter than 4; a
  /// Slack token is masked by its shape, registered or not).
  void add_secret(std::string secret);

  /// Secrets of `add_transient_secret` kept at most: every line is searched
  /// for each of them.
  static constexpr size_t max_transient_secrets = 256;

  /// `add_secret` for a secret that comes with a request (a Web API call's
  /// own token): among the last `max_transient_secrets` of them, the oldest
  /// forgotten first. A peer that sends calls with ever new tokens of no
  /// Slack shape must not make every line slower without a bound, nor push
  /// out the configured ones.
  void add_transient_secret(std::string secret);

  /// Writes one line (the sink adds the newline, if any).
  void log(log_level x, std::string_view component, std::string_view text);

  /// Returns `text` with every secret replaced by `<redacted>`.
  std::string redact(std::string text) const;

private:
  std::string redact_locked(std::string text) const;

  log_level level_;
  sink_type sink_;
  mutable std::mutex mtx_;
  std::vector<std::string> secrets_;
  /// Oldest first.
  std::deque<std::string> transient_;
};

using logger_ptr = std::shared_ptr<logger>;

/// The logger a client uses: `configured`, or a new one writing warnings and
/// errors to stderr; either way `secrets` (tokens) are masked in every line.
logger_ptr make_logger(const logger_ptr& configured,
                       const std::vector<std::string>& secrets);

/// The text of a log line made of `xs` (each written with `<<`).
template <class... Ts>
std::string log_text(const Ts&... xs) {
  std::ostringstream out;
  (out << ... << xs);
  return out.str();
}

} // namespace caf::rtm

// Logs through a logger_ptr, formatting only when the level is enabled:
// `CAF_RTM_LOG(log, info, "my_bot", "x=", x)`. For a program's own lines in
// the same log, masked the same way.
#define CAF_RTM_LOG(log_ptr, lvl, component, ...)                              \
  do {                                                                         \
    if ((log_ptr) && (log_ptr)->enabled(::caf::rtm::log_level::lvl))           \
      (log_ptr)->log(::caf::rtm::log_level::lvl, component,                    \
                     ::caf::rtm::log_text(__VA_ARGS__));                       \
  } while (false)
