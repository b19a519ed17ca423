#include "caf/rtm/logger.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "detail/printable.hpp"

namespace caf::rtm {

std::string_view to_string(log_level x) {
  switch (x) {
  case log_level::quiet:
    return "quiet";
  case log_level::error:
    return "error";
  case log_level::warn:
    return "warn";
  case log_level::info:
    return "info";
  case log_level::debug:
    return "debug";
  case log_level::trace:
    return "trace";
  }
  return "?";
}

std::optional<log_level> parse_log_level(std::string_view x) {
  for (auto lvl : {log_level::quiet, log_level::error, log_level::warn,
                   log_level::info, log_level::debug, log_level::trace})
    if (x == to_string(lvl))
      return lvl;
  return std::nullopt;
}

namespace {

void write_to_stderr(log_level lvl, const std::string& line) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  std::fprintf(stderr, "%s.%03d %-5s %s\n", stamp, static_cast<int>(ms),
               std::string{to_string(lvl)}.c_str(), line.c_str());
}

} // namespace

logger::logger(log_level level) : logger(level, write_to_stderr) {}

logger::logger(log_level level, sink_type sink)
    : level_(level), sink_(std::move(sink)) {}

void logger::add_secret(std::string secret) {
  if (secret.size() < 4)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  // Every session of a client registers its token again: keep one copy.
  if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end())
    secrets_.push_back(std::move(secret));
}

std::string logger::redact(std::string text) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return redact_locked(std::move(text));
}

std::string logger::redact_locked(std::string text) const {
  constexpr std::string_view redacted = "<redacted>";
  for (const auto& secret : secrets_) {
    // Searching on after the replacement: a secret that is part of
    // "<redacted>" would otherwise be found in it again and again.
    for (auto pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + redacted.size()))
      text.replace(pos, secret.size(), redacted);
  }
  // WebSocket URLs carry a single-use ticket: worthless once used, but not
  // for anyone reading a log of a live session.
  constexpr std::string_view ticket = "ticket=";
  for (auto pos = text.find(ticket); pos != std::string::npos;
       pos = text.find(ticket, pos)) {
    pos += ticket.size();
    auto end = text.find_first_of("&\"' \\", pos);
    if (end == std::string::npos)
      end = text.size();
    text.replace(pos, end - pos, redacted);
  }
  return text;
}

void logger::log(log_level x, std::string_view component,
                 std::string_view text) {
  if (!enabled(x) || !sink_)
    return;
  std::string line{component};
  line += ": ";
  line += detail::printable(text);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    line = redact_locked(std::move(line));
  }
  // Outside the lock: a slow sink must not hold up the other threads
  // (I/O threads log too), only the caller.
  sink_(x, line);
}

logger_ptr make_logger(const logger_ptr& configured,
                       const std::vector<std::string>& secrets) {
  auto log =
      configured ? configured : std::make_shared<logger>(log_level::warn);
  for (const auto& secret : secrets)
    log->add_secret(secret);
  return log;
}

} // namespace caf::rtm
