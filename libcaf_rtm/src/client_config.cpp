#include "caf/rtm/client_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "detail/printable.hpp"
#include "net/url.hpp"

#include "caf/rtm/errc.hpp"

namespace caf::rtm {

namespace {

constexpr const char* category = "caf-rtm";

// CAF 0.17's string_view converts from `const char*` only when CAF is built
// as CAF_GCC (under clang it takes char arrays only); the names and help
// texts here are pointers.
caf::string_view sv(const char* x) {
  return {x, std::strlen(x)};
}

std::string key(const char* name) {
  std::string result = category;
  result += '.';
  result += name;
  return result;
}

caf::error invalid(std::string what);

// Stores an option's value in its field. Counts (sizes, attempts) come as
// int64_t: a negative value or one too large for the field is an error, not
// a silent clamp (2^32 attempts must not wrap to "no cap").
template <class Field, class Value>
void assign(Field& field, const Value& value, const char* name,
            client_config& cfg) {
  if constexpr (std::is_integral_v<Field> && !std::is_same_v<Field, bool>) {
    if (value < 0 ||
        static_cast<uint64_t>(value) > std::numeric_limits<Field>::max()) {
      if (!cfg.option_error)
        cfg.option_error = invalid(std::string{"caf-rtm."} + name + " = " +
                                   std::to_string(value) + " is out of range");
      return;
    }
    field = static_cast<Field>(value);
  } else {
    field = value;
  }
}

// Splits each entry of a list option at `sep` and hands both sides to
// `add`; an entry without it is an option error, named by its place, not
// its text (a value may be a credential).
template <class Add>
void read_pairs(const std::vector<std::string>& entries, char sep,
                const char* option, const char* form, client_config& cfg,
                Add add) {
  size_t n = 0;
  for (const auto& entry : entries) {
    ++n;
    auto pos = entry.find(sep);
    if (pos == std::string::npos) {
      if (!cfg.option_error)
        cfg.option_error =
            invalid(std::string{"caf-rtm."} + option + ": entry " +
                    std::to_string(n) + " is not \"" + form + "\"");
      return;
    }
    add(std::string_view{entry}.substr(0, pos),
        std::string_view{entry}.substr(pos + 1));
  }
}

// "Name: value" lines into `extra_headers` (checking names and values is
// validate()'s job).
void read_headers(const std::vector<std::string>& lines, client_config& cfg) {
  read_pairs(lines, ':', "extra-headers", "Name: value", cfg,
             [&cfg](std::string_view name, std::string_view value) {
               value.remove_prefix(
                   std::min(value.find_first_not_of(" \t"), value.size()));
               cfg.extra_headers.emplace_back(std::string{name},
                                              std::string{value});
             });
}

// `caf-rtm.team-tokens`: "T0123=xoxb-..." entries.
void read_team_tokens(const std::vector<std::string>& entries,
                      client_config& cfg) {
  read_pairs(entries, '=', "team-tokens", "TEAM_ID=xoxb-...", cfg,
             [&cfg](std::string_view team, std::string_view token) {
               cfg.team_tokens[trim_token(team)] = trim_token(token);
             });
}

// One option: how CAF declares it and how client_config reads it. The table
// below is the single list of options, so the two cannot drift apart.
struct option {
  const char* name;
  const char* help;
  void (*declare)(caf::config_option_adder&, const char*, const char*);
  std::function<void(const caf::settings&, const char*, client_config&)> read;
};

// An option of CAF type T stored in the field that `field` selects.
template <class T, class Select>
option opt(const char* name, const char* help, Select field) {
  return {name, help,
          [](caf::config_option_adder& adder, const char* n, const char* h) {
            adder.add<T>(sv(n), sv(h));
          },
          [field](const caf::settings& xs, const char* n, client_config& cfg) {
            if (auto value = caf::get_if<T>(&xs, key(n)))
              assign(field(cfg), *value, n, cfg);
          }};
}

// Expands to a lambda: its parameter's type cannot be in parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CAF_RTM_FIELD(member)                                                  \
  [](client_config & c) -> auto& {                                             \
    return c.member;                                                           \
  }
// NOLINTEND(bugprone-macro-parentheses)

const std::vector<option>& options() {
  using caf::timespan;
  static const std::vector<option> result = {
      opt<std::string>("token", "Slack token (bot xoxb- or user xoxp-)",
                       CAF_RTM_FIELD(token)),
      opt<std::string>("base-url", "Web API base URL", CAF_RTM_FIELD(base_url)),
      opt<std::string>("client-id", "token rotation: the app's client ID",
                       CAF_RTM_FIELD(rotation.client_id)),
      opt<std::string>("client-secret",
                       "token rotation: the app's client secret",
                       CAF_RTM_FIELD(rotation.client_secret)),
      opt<std::string>("refresh-token",
                       "token rotation: the refresh token (xoxe-) to start "
                       "with",
                       CAF_RTM_FIELD(rotation.refresh_token)),
      opt<int64_t>("token-expires-at",
                   "token rotation: when the token expires, Unix seconds "
                   "(0: unknown)",
                   CAF_RTM_FIELD(rotation.expires_at)),
      opt<timespan>("refresh-before",
                    "token rotation: refresh this long before the expiry",
                    CAF_RTM_FIELD(rotation.refresh_before)),
      opt<std::string>("token-file",
                       "token rotation: file that keeps the newest tokens "
                       "across restarts",
                       CAF_RTM_FIELD(rotation.file)),
      opt<bool>("allow-insecure",
                "allow http:// and ws:// to hosts that are not loopback",
                CAF_RTM_FIELD(allow_insecure)),
      opt<std::string>("ws-hosts",
                       "WebSocket and upload hosts accepted besides the "
                       "base URL's domain",
                       CAF_RTM_FIELD(ws_hosts)),
      opt<std::string>("app-token", "Socket Mode app-level token (xapp-)",
                       CAF_RTM_FIELD(app_token)),
      opt<std::string>("bot-token", "Socket Mode: bot token for Web API calls",
                       CAF_RTM_FIELD(bot_token)),
      {"team-tokens",
       "Socket Mode: a bot token per workspace, [\"T0123=xoxb-...\", ...]",
       [](caf::config_option_adder& adder, const char* n, const char* h) {
         adder.add<std::vector<std::string>>(sv(n), sv(h));
       },
       [](const caf::settings& xs, const char* n, client_config& cfg) {
         if (auto value = caf::get_if<std::vector<std::string>>(&xs, key(n)))
           read_team_tokens(*value, cfg);
       }},
      opt<int64_t>("connections", "Socket Mode connections (1-10)",
                   CAF_RTM_FIELD(connections)),
      opt<int64_t>("app-connections",
                   "Socket Mode: connections of all the app's processes "
                   "(0: this client's own)",
                   CAF_RTM_FIELD(app_connections)),
      opt<timespan>("ack-deadline",
                    "Socket Mode: time to answer an envelope (< 3 s)",
                    CAF_RTM_FIELD(ack_deadline)),
      opt<bool>("debug-reconnects", "Socket Mode: refresh every 360 s",
                CAF_RTM_FIELD(debug_reconnects)),
      opt<bool>("ack-after-delivery",
                "Socket Mode: ack events once subscribers answered them",
                CAF_RTM_FIELD(ack_after_delivery)),
      opt<bool>("redeliver-unclaimed",
                "Socket Mode: leave events no subscriber took to Slack's "
                "retries (with ack-after-delivery)",
                CAF_RTM_FIELD(redeliver_unclaimed)),
      opt<bool>("batch-presence-aware", "rtm.connect batch_presence_aware",
                CAF_RTM_FIELD(batch_presence_aware)),
      opt<bool>("presence-sub", "rtm.connect presence_sub",
                CAF_RTM_FIELD(presence_sub)),
      opt<std::string>("proxy", "HTTP CONNECT proxy URL", CAF_RTM_FIELD(proxy)),
      opt<std::string>("no-proxy", "hosts that bypass the proxy",
                       CAF_RTM_FIELD(no_proxy)),
      opt<bool>("proxy-from-environment", "read HTTPS_PROXY/NO_PROXY & co.",
                CAF_RTM_FIELD(proxy_from_environment)),
      opt<std::string>("ca-file", "extra trusted CA certificates (PEM)",
                       CAF_RTM_FIELD(ca_file)),
      opt<timespan>("connect-timeout", "connect + proxy + TLS limit",
                    CAF_RTM_FIELD(connect_timeout)),
      opt<timespan>("request-timeout", "limit for one Web API request",
                    CAF_RTM_FIELD(request_timeout)),
      opt<timespan>("api-keep-alive",
                    "idle Web API connections kept this long (0: off)",
                    CAF_RTM_FIELD(api_keep_alive)),
      opt<int64_t>("io-threads", "threads of the shared I/O pool",
                   CAF_RTM_FIELD(io_threads)),
      opt<std::string>("user-agent",
                       "appended to the user agent (caf-rtm/<version> ...)",
                       CAF_RTM_FIELD(user_agent_suffix)),
      {"extra-headers",
       "header fields for every Web API request, [\"Name: value\", ...]",
       [](caf::config_option_adder& adder, const char* n, const char* h) {
         adder.add<std::vector<std::string>>(sv(n), sv(h));
       },
       [](const caf::settings& xs, const char* n, client_config& cfg) {
         if (auto value = caf::get_if<std::vector<std::string>>(&xs, key(n)))
           read_headers(*value, cfg);
       }},
      opt<timespan>("api-retry-initial-delay", "first Web API retry delay",
                    CAF_RTM_FIELD(api_retry.initial_delay)),
      opt<timespan>("api-retry-max-delay", "largest Web API retry delay",
                    CAF_RTM_FIELD(api_retry.max_delay)),
      opt<int64_t>("api-retry-max-attempts", "Web API attempts per call",
                   CAF_RTM_FIELD(api_retry.max_attempts)),
      opt<int64_t>("max-rate-limit-waits", "Retry-After waits per call",
                   CAF_RTM_FIELD(max_rate_limit_waits)),
      opt<int64_t>("api-queue-size", "Web API requests open at once",
                   CAF_RTM_FIELD(api_queue_size)),
      opt<int64_t>("max-pages", "pages of one paged list at most",
                   CAF_RTM_FIELD(max_pages)),
      opt<int64_t>("max-upload-size", "largest upload, all its files (bytes)",
                   CAF_RTM_FIELD(max_upload_size)),
      opt<int64_t>("max-response-size", "largest Web API answer (bytes)",
                   CAF_RTM_FIELD(max_response_size)),
      opt<timespan>("ping-interval", "time between pings",
                    CAF_RTM_FIELD(ping_interval)),
      opt<timespan>("pong-timeout", "time a pong may take",
                    CAF_RTM_FIELD(pong_timeout)),
      {"rtm-pings", "RTM JSON pings instead of WebSocket pings",
       [](caf::config_option_adder& adder, const char* n, const char* h) {
         adder.add<bool>(sv(n), sv(h));
       },
       [](const caf::settings& xs, const char* n, client_config& cfg) {
         if (auto value = caf::get_if<bool>(&xs, key(n)))
           cfg.pings = *value ? ping_mode::rtm : ping_mode::websocket;
       }},
      opt<int64_t>("max-message-size", "largest incoming message (bytes)",
                   CAF_RTM_FIELD(max_message_size)),
      opt<timespan>("hello-timeout", "handshake + hello limit",
                    CAF_RTM_FIELD(hello_timeout)),
      opt<timespan>("close-timeout", "wait for the server's close frame",
                    CAF_RTM_FIELD(close_timeout)),
      opt<bool>("auto-reconnect", "start a new session when one ends",
                CAF_RTM_FIELD(auto_reconnect)),
      opt<timespan>("reconnect-initial-delay", "first reconnect backoff",
                    CAF_RTM_FIELD(reconnect.initial_delay)),
      opt<timespan>("reconnect-max-delay", "largest reconnect backoff",
                    CAF_RTM_FIELD(reconnect.max_delay)),
      opt<int64_t>(
          "reconnect-max-attempts",
          "failed attempts in a row while no connection is up (0: no cap)",
          CAF_RTM_FIELD(reconnect.max_attempts)),
      opt<timespan>("reconnect-healthy-session",
                    "sessions ending sooner count as failed attempts",
                    CAF_RTM_FIELD(healthy_session)),
      opt<int64_t>("concurrency", "listener actors running callbacks",
                   CAF_RTM_FIELD(concurrency)),
      opt<bool>("skip-own-events", "skip events of the client's own bot",
                CAF_RTM_FIELD(skip_own_events)),
      opt<int64_t>("callback-backlog",
                   "events waiting for callbacks before reading pauses",
                   CAF_RTM_FIELD(callback_backlog)),
      opt<timespan>("listener-stall-timeout",
                    "callbacks finishing nothing this long are reported",
                    CAF_RTM_FIELD(listener_stall_timeout)),
      opt<int64_t>("send-queue-size", "messages waiting to be sent",
                   CAF_RTM_FIELD(send_queue_size)),
      opt<double>("send-rate", "sustained messages per second",
                  CAF_RTM_FIELD(send_rate)),
      opt<int64_t>("send-burst", "messages sent back to back at most",
                   CAF_RTM_FIELD(send_burst)),
      opt<timespan>("ack-timeout", "time an ack may take",
                    CAF_RTM_FIELD(ack_timeout)),
      // Keep last: the tools' --log-level excuses a bad one only because no
      // option after it can have failed (the first bad option is kept).
      {"log-level", "quiet, error, warn, info, debug or trace",
       [](caf::config_option_adder& adder, const char* n, const char* h) {
         adder.add<std::string>(sv(n), sv(h));
       },
       [](const caf::settings& xs, const char* n, client_config& cfg) {
         if (auto value = caf::get_if<std::string>(&xs, key(n))) {
           if (auto lvl = parse_log_level(*value))
             cfg.log = std::make_shared<logger>(*lvl);
           else if (!cfg.option_error)
             cfg.option_error =
                 invalid("caf-rtm.log-level = \"" + *value +
                         "\": want quiet, error, warn, info, debug or trace");
         }
       }},
  };
  return result;
}

#undef CAF_RTM_FIELD

caf::error invalid(std::string what) {
  return make_error(errc::invalid_config, std::move(what));
}

bool has_control_chars(std::string_view x) {
  for (auto c : x)
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f)
      return true;
  return false;
}

// RFC 9110 token: what a header name may be made of.
bool is_token(std::string_view x) {
  if (x.empty())
    return false;
  for (auto c : x)
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view{"!#$%&'*+-.^_`|~"}.find(c) == std::string_view::npos)
      return false;
  return true;
}

// Fields the client sets itself, or that change how the message is framed
// or authorised: an extra header must not override or duplicate them.
bool is_reserved_header(std::string_view name) {
  std::string lower{name};
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto x : {"host", "authorization", "proxy-authorization", "content-type",
                 "content-length", "transfer-encoding", "te", "trailer",
                 "connection", "keep-alive", "upgrade", "expect", "user-agent",
                 "accept", "proxy-connection"})
    if (lower == x)
      return true;
  return false;
}

caf::error check_extra_headers(const client_config& cfg) {
  if (has_control_chars(cfg.user_agent_suffix))
    return invalid("user_agent_suffix contains control characters");
  size_t n = 0;
  for (const auto& [name, value] : cfg.extra_headers) {
    ++n;
    // Named by its place: a name that is no token may hold a value, and a
    // value a credential ("Authorization=Bearer xoxb-...:x").
    if (!is_token(name))
      return invalid("extra_headers: entry " + std::to_string(n) +
                     " has no header name");
    if (is_reserved_header(name))
      return invalid("extra_headers: " + name + " is set by the client itself");
    if (has_control_chars(value))
      return invalid("extra_headers: the value of " + name +
                     " contains control characters");
  }
  return caf::none;
}

} // namespace

caf::error check_token(std::string_view token, std::string_view what) {
  if (token.empty())
    return invalid(std::string{what} + " is empty");
  for (auto c : token)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return invalid(std::string{what} +
                     " contains whitespace or control characters");
  return caf::none;
}

std::string trim_token(std::string_view token) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  while (!token.empty() && space(token.front()))
    token.remove_prefix(1);
  while (!token.empty() && space(token.back()))
    token.remove_suffix(1);
  return std::string{token};
}

namespace {

// A rotation needs the app's credentials and a token of the client's own to
// rotate.
caf::error check_rotation(const client_config& cfg, client_kind kind) {
  const auto& rot = cfg.rotation;
  // With a file, the refresh token may be in it (read when the client
  // starts).
  if (rot.refresh_token.empty() && rot.file.empty())
    return caf::none;
  if (cfg.api)
    return invalid("rotation does not apply to a shared caller (api): set it "
                   "in the configuration the caller was spawned with");
  if (kind == client_kind::socket_mode && cfg.bot_token.empty())
    return invalid("rotation needs a bot_token to rotate");
  if (rot.client_id.empty() || rot.client_secret.empty())
    return invalid("rotation needs client_id and client_secret");
  // Slack spends the refresh token it was given: the new one exists nowhere
  // else, and a process that starts without it cannot refresh.
  if (!rot.listener && rot.file.empty())
    return invalid("rotation needs a listener or a file (token-file) to "
                   "store the new tokens");
  for (auto [value, name] :
       {std::pair{&rot.client_id, "rotation.client_id"},
        std::pair{&rot.client_secret, "rotation.client_secret"}})
    if (auto err = check_token(*value, name))
      return err;
  // Empty: it comes from the file.
  if (!rot.refresh_token.empty())
    if (auto err = check_token(rot.refresh_token, "rotation.refresh_token"))
      return err;
  // Beyond 2100 it is no time in seconds (milliseconds, say), and would
  // overflow the clock.
  if (rot.expires_at < 0 || rot.expires_at > token_rotation::max_expires_at)
    return invalid("rotation.expires_at must be Unix seconds (0 to the year "
                   "2100), not milliseconds");
  if (rot.refresh_before.count() < 0 ||
      rot.refresh_before > std::chrono::hours{12})
    return invalid("rotation.refresh_before must be 0 to 12 hours");
  return caf::none;
}

// Workspace ids as Slack writes them (`T0123ABC`: `envelope::team_id()` is
// always a workspace's, also in an organisation) and tokens that work for the
// client's whole life.
caf::error check_team_tokens(const client_config& cfg) {
  size_t n = 0;
  for (const auto& [team, token] : cfg.team_tokens) {
    ++n;
    auto upper_alnum = [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (team.size() < 2 || team[0] != 'T' ||
        !std::all_of(team.begin(), team.end(), upper_alnum)) {
      // Named by its place, not its text: a key may be a token put first.
      auto what = "team_tokens: the key of entry " + std::to_string(n) +
                  " (in team id order) is not a workspace id (T0123ABC)";
      if (team.rfind("xox", 0) == 0)
        what += "; it looks like a token";
      else if (!team.empty() && team[0] == 'E')
        what += "; an organisation's (E...) token goes in bot_token";
      return invalid(std::move(what));
    }
    auto what = "team_tokens[" + team + "]";
    if (auto err = check_token(token, what))
      return err;
    // A rotating token expires after 12 hours, and only `bot_token` rotates.
    if (token.rfind("xoxe.", 0) == 0)
      return invalid(what + " is a rotating token (xoxe.): only bot_token "
                            "rotates");
    if (token.rfind("xapp-", 0) == 0)
      return invalid(what + " is an app-level token: a bot token (xoxb-) "
                            "makes the calls");
  }
  return caf::none;
}

} // namespace

caf::error client_config::validate(client_kind kind) const {
  if (option_error)
    return option_error;
  if (kind != client_kind::socket_mode && !team_tokens.empty())
    return invalid("team_tokens is for socket_mode_client (RTM serves one "
                   "workspace)");
  if (kind == client_kind::rtm && token.empty() && !api)
    return invalid("token is empty");
  if (kind == client_kind::rtm && !token.empty())
    if (auto err = check_token(token))
      return err;
  if (kind == client_kind::socket_mode) {
    if (app_token.empty())
      return invalid("app_token is empty");
    if (auto err = check_token(app_token, "app_token"))
      return err;
    if (!bot_token.empty())
      if (auto err = check_token(bot_token, "bot_token"))
        return err;
    if (app_token.rfind("xapp-", 0) != 0)
      return invalid("app_token must be an app-level token (xapp-...)");
    if (auto err = check_team_tokens(*this))
      return err;
    if (connections < 1 || connections > 10)
      return invalid("connections must be 1 to 10");
    if (app_connections != 0 &&
        (app_connections < connections || app_connections > 10))
      return invalid("app_connections must be 0, or connections to 10");
    if (ack_deadline.count() <= 0 || ack_deadline >= std::chrono::seconds{3})
      return invalid("ack_deadline must be positive and under 3 s");
    if (redeliver_unclaimed && !ack_after_delivery)
      return invalid("redeliver_unclaimed needs ack_after_delivery");
  }
  auto url = net::parse_endpoint(base_url);
  if (!url || url->websocket)
    return make_error(errc::invalid_url,
                      "base_url must be an http:// or https:// URL" +
                          (url ? std::string{} : ": " + render(url.error())));
  // Method names are appended to it: after a query or a fragment they would
  // name no method, and user info would be dropped (and logged).
  if (auto problem = net::base_url_problem(base_url); !problem.empty())
    return make_error(errc::invalid_url,
                      "base_url must not carry " + problem +
                          ": method names are appended to it");
  if (!url->tls && !allow_insecure && !net::is_loopback_host(url->host))
    return invalid("base_url is http:// for a host that is not loopback: the "
                   "token would travel in clear (set allow_insecure to allow "
                   "it)");
  if (ping_interval.count() <= 0)
    return invalid("ping_interval must be positive");
  if (pong_timeout.count() < 0)
    return invalid("pong_timeout must not be negative");
  if (connect_timeout.count() <= 0 || request_timeout.count() <= 0 ||
      hello_timeout.count() <= 0 || ack_timeout.count() <= 0 ||
      close_timeout.count() <= 0 || listener_stall_timeout.count() <= 0)
    return invalid("timeouts must be positive");
  // Shorter ones are mistakes too (a unit off): a session that could not
  // pass its first pong or hello check, or pings without pause.
  for (auto x : {ping_interval, connect_timeout, request_timeout, hello_timeout,
                 ack_timeout, close_timeout, listener_stall_timeout})
    if (x < client_config::min_timeout)
      return invalid("timeouts and intervals must be at least 1 ms");
  if (pong_timeout.count() > 0 && pong_timeout < client_config::min_timeout)
    return invalid("pong_timeout must be 0 (the ping interval) or at least "
                   "1 ms");
  if (api_keep_alive.count() < 0)
    return invalid("api_keep_alive must not be negative");
  if (healthy_session.count() < 0)
    return invalid("healthy_session must not be negative");
  // Workers report progress every quarter of it, on a clock that moves in
  // steps of up to 10 ms: a shorter one would take busy workers for stuck.
  if (listener_stall_timeout < client_config::min_stall_timeout)
    return invalid("listener_stall_timeout must be at least 100 ms");
  // Longer ones are mistakes (a unit off), and deadlines computed from
  // them would overflow the clock.
  for (auto x : {ping_interval, pong_timeout, connect_timeout, request_timeout,
                 hello_timeout, ack_timeout, close_timeout, api_keep_alive,
                 healthy_session, listener_stall_timeout})
    if (x > client_config::max_timeout)
      return invalid("timeouts and intervals must be at most 1 day");
  // Frame sizes travel as 32 bits from the I/O thread to the parser.
  if (max_message_size < 1024 || max_message_size > (size_t{1} << 30))
    return invalid("max_message_size must be 1024 to 1 GiB");
  if (max_send_size < 1024)
    return invalid("max_send_size must be at least 1024");
  if (concurrency == 0 || concurrency > client_config::max_concurrency)
    return invalid("concurrency must be 1 to 1024");
  if (io_threads == 0 || io_threads > client_config::max_io_threads)
    return invalid("io_threads must be 1 to 256");
  // NaN fails both comparisons. Below the range, the wait for a token does
  // not fit a timespan; above it, there is no limit left to speak of.
  if (!(send_rate >= client_config::min_send_rate &&
        send_rate <= client_config::max_send_rate))
    return invalid("send_rate must be 0.01 to 1000000 messages per second");
  if (send_burst == 0)
    return invalid("send_burst must be at least 1");
  if (send_queue_size == 0)
    return invalid("send_queue_size must be at least 1");
  for (auto* policy : {&api_retry, &reconnect})
    if (policy->initial_delay.count() <= 0 ||
        policy->max_delay < policy->initial_delay)
      return invalid("retry delays must be positive, max >= initial");
  // Longer waits are mistakes (a unit off), not policies.
  if (api_retry.max_delay > max_api_retry_delay)
    return invalid("api_retry delays must be at most 1 hour");
  if (reconnect.max_delay > max_reconnect_delay)
    return invalid("reconnect delays must be at most 1 day");
  // The proxy is used only when a connection opens: a broken URL is a
  // configuration error now, not a connect failure later.
  if (!proxy.empty())
    if (auto settings = net::make_proxy_settings(*this); !settings)
      return std::move(settings.error());
  if (api_queue_size == 0)
    return invalid("api_queue_size must be at least 1");
  if (max_pages == 0)
    return invalid("max_pages must be at least 1");
  if (max_upload_size == 0)
    return invalid("max_upload_size must be at least 1");
  // Beast reserves what an answer's Content-Length announces (up to the
  // limit): a limit near SIZE_MAX lets a server make that allocation throw.
  if (max_response_size < 1024 ||
      max_response_size > client_config::max_response_size_limit)
    return invalid("max_response_size must be 1024 to 1 GiB");
  if (auto err = check_rotation(*this, kind))
    return err;
  return check_extra_headers(*this);
}

client_config client_config::from(const caf::actor_system_config& cfg) {
  const auto& xs = caf::content(cfg);
  client_config result;
  for (const auto& x : options())
    x.read(xs, x.name, result);
  for (auto* token :
       {&result.token, &result.app_token, &result.bot_token,
        &result.rotation.client_id, &result.rotation.client_secret,
        &result.rotation.refresh_token})
    *token = trim_token(*token);
  return result;
}

void add_options(caf::config_option_set& opts) {
  caf::config_option_adder adder{opts, sv(category)};
  for (const auto& x : options())
    x.declare(adder, x.name, x.help);
}

} // namespace caf::rtm
