#include "caf/rtm/logger.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <utility>
#include <vector>

#include <pthread.h>
#include <signal.h>

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

// Writes under SIGPIPE blocked on this thread, and takes back the SIGPIPE
// the write raised: stderr may be a pipe whose reader went (`bot 2>&1 |
// tee`), and a log line must not kill a program that did not ignore it.
template <class F>
void without_sigpipe(F write) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t old;
  if (pthread_sigmask(SIG_BLOCK, &pipe_only, &old) != 0) {
    write();
    return;
  }
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  auto was_pending = sigismember(&pending, SIGPIPE) == 1;
  write();
  if (!was_pending) {
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      timespec no_wait{0, 0};
      sigtimedwait(&pipe_only, nullptr, &no_wait);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void write_to_stderr(log_level lvl, const std::string& line) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  without_sigpipe([&] {
    std::fprintf(stderr, "%s.%03d %-5s %s\n", stamp, static_cast<int>(ms),
                 std::string{to_string(lvl)}.c_str(), line.c_str());
  });
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}

// The length of the Slack token prefix at the start of `x` ("xoxb-",
// "xoxe.xoxp-", "xapp-", ...), dash included; 0 if there is none.
size_t token_prefix(std::string_view x) {
  if (x.substr(0, 5) == "xapp-")
    return 5;
  if (x.size() < 5 || x.substr(0, 3) != "xox" || !is_lower(x[3]))
    return 0;
  if (x[4] == '-')
    return 5;
  // A rotating token: "xoxe." and the token it refreshes.
  if (x[4] == '.' && x.size() >= 10 && x.substr(5, 3) == "xox" &&
      is_lower(x[8]) && x[9] == '-')
    return 10;
  return 0;
}

// Where the Slack token that starts at `pos` ends, or `pos` if none does:
// its prefix and at least one character more. Wherever it starts: glued to
// other text ("id_xoxb-...") it is a token all the same.
size_t token_end(std::string_view text, size_t pos) {
  auto prefix = token_prefix(text.substr(pos));
  if (prefix == 0)
    return pos;
  auto end = pos + prefix;
  while (end < text.size() && is_token_char(text[end]))
    ++end;
  return end > pos + prefix ? end : pos;
}

// Adds where Slack's tokens (bot, user, app-level, refresh) are in `text`,
// found by their shape, whether registered or not: a bot serving many
// workspaces passes a token with each call, and keeping each for an exact
// search would grow without end.
void find_slack_tokens(std::string_view text,
                       std::vector<std::pair<size_t, size_t>>& out) {
  for (auto pos = text.find('x'); pos != std::string_view::npos;
       pos = text.find('x', pos + 1)) {
    if (auto end = token_end(text, pos); end != pos) {
      out.emplace_back(pos, end);
      pos = end - 1;
    }
  }
}

// Masks the string values of `"<key>":` in JSON text (a frame logged at
// trace): an envelope's `response_url` is a credential as it stands, and an
// Events API payload carries the app's verification `token`.
void redact_json_values(std::string& text, std::string_view key,
                        std::string_view mask) {
  for (auto pos = text.find(key); pos != std::string::npos;
       pos = text.find(key, pos)) {
    pos += key.size();
    auto colon = text.find_first_not_of(" \t\r\n", pos);
    if (colon == std::string::npos || text[colon] != ':')
      continue;
    auto quote = text.find_first_not_of(" \t\r\n", colon + 1);
    if (quote == std::string::npos || text[quote] != '"')
      continue;
    auto begin = quote + 1;
    auto end = begin;
    while (end < text.size() && text[end] != '"')
      end += text[end] == '\\' ? 2 : 1;
    end = std::min(end, text.size());
    text.replace(begin, end - begin, mask);
    pos = begin + mask.size();
  }
}

// Where a ticket in a URL ends: at the URL's next parameter, its quote, a
// space or a control character.
bool ends_ticket(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f ||
         std::string_view{"&\"' \\"}.find(c) != std::string_view::npos;
}

bool is_slack_token(std::string_view x) {
  return !x.empty() && token_end(x, 0) == x.size();
}

} // namespace

logger::logger(log_level level) : logger(level, write_to_stderr) {}

logger::logger(log_level level, sink_type sink)
    : level_(level), sink_(std::move(sink)) {}

void logger::add_secret(std::string secret) {
  // Slack's tokens are masked by their shape anyway.
  if (secret.size() < 4 || is_slack_token(secret))
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  // Every session of a client registers its token again: keep one copy.
  if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end())
    secrets_.push_back(std::move(secret));
}

void logger::add_transient_secret(std::string secret) {
  if (secret.size() < 4 || is_slack_token(secret))
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end())
    return;
  if (auto i = std::find(transient_.begin(), transient_.end(), secret);
      i != transient_.end())
    transient_.erase(i); // the newest again
  else if (transient_.size() == max_transient_secrets)
    transient_.pop_front();
  transient_.push_back(std::move(secret));
}

std::string logger::redact(std::string text) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return redact_locked(std::move(text));
}

std::string logger::redact_locked(std::string text) const {
  constexpr std::string_view redacted = "<redacted>";
  // Every match in the original text, then each run of overlapping ones
  // replaced once: masking one kind first could cut a match of the other
  // in two and leave its rest readable.
  std::vector<std::pair<size_t, size_t>> found;
  auto find_all = [&](const std::string& secret) {
    for (auto pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + 1))
      found.emplace_back(pos, pos + secret.size());
  };
  for (const auto& secret : secrets_)
    find_all(secret);
  for (const auto& secret : transient_)
    find_all(secret);
  find_slack_tokens(text, found);
  if (!found.empty()) {
    std::sort(found.begin(), found.end());
    std::string out;
    out.reserve(text.size());
    size_t done = 0;
    for (size_t i = 0; i < found.size();) {
      auto [begin, end] = found[i];
      for (++i; i < found.size() && found[i].first <= end; ++i)
        end = std::max(end, found[i].second);
      out.append(text, done, begin - done);
      out += redacted;
      done = end;
    }
    out.append(text, done, std::string::npos);
    text = std::move(out);
  }
  // WebSocket URLs carry a single-use ticket: worthless once used, but not
  // for anyone reading a log of a live session.
  constexpr std::string_view ticket = "ticket=";
  for (auto pos = text.find(ticket); pos != std::string::npos;
       pos = text.find(ticket, pos)) {
    pos += ticket.size();
    auto end = pos;
    while (end < text.size() && !ends_ticket(text[end]))
      ++end;
    text.replace(pos, end - pos, redacted);
  }
  for (auto key : {R"("response_url")", R"("token")"})
    redact_json_values(text, key, redacted);
  return text;
}

void logger::log(log_level x, std::string_view component,
                 std::string_view text) {
  if (!enabled(x) || !sink_)
    return;
  // Masked before control characters are escaped: a JSON value after a tab
  // or a newline is found as such.
  std::string masked;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    masked = redact_locked(std::string{text});
  }
  std::string line{component};
  line += ": ";
  line += detail::printable(masked);
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
