#include "caf/rtm/client_config.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include <boost/url/parse.hpp>

#include "caf/rtm/actors.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/messages.hpp"

namespace caf::rtm {

namespace {

constexpr const char* category = "caf-rtm";

std::string key(const char* name) {
  std::string result = category;
  result += '.';
  result += name;
  return result;
}

// Overwrites `x` only if the option is present and has the right type.
template <class T>
void read(const caf::settings& xs, const char* name, T& x) {
  if (auto value = caf::get_if<T>(&xs, key(name)))
    x = *value;
}

template <class T>
void read_count(const caf::settings& xs, const char* name, T& x) {
  if (auto value = caf::get_if<int64_t>(&xs, key(name)); value && *value >= 0)
    x = static_cast<T>(*value);
}

caf::error invalid(std::string what) {
  return make_error(errc::invalid_config, std::move(what));
}

} // namespace

caf::error client_config::validate() const {
  if (token.empty())
    return invalid("token is empty");
  auto url = boost::urls::parse_uri(base_url);
  if (!url || (url->scheme() != "https" && url->scheme() != "http") ||
      url->host().empty())
    return make_error(errc::invalid_url,
                      "base_url must be an http:// or https:// URL");
  if (ping_interval.count() <= 0)
    return invalid("ping_interval must be positive");
  if (pong_timeout.count() < 0)
    return invalid("pong_timeout must not be negative");
  if (connect_timeout.count() <= 0 || request_timeout.count() <= 0 ||
      hello_timeout.count() <= 0 || ack_timeout.count() <= 0 ||
      close_timeout.count() <= 0)
    return invalid("timeouts must be positive");
  if (max_message_size < 1024)
    return invalid("max_message_size must be at least 1024");
  if (concurrency == 0)
    return invalid("concurrency must be at least 1");
  if (io_threads == 0)
    return invalid("io_threads must be at least 1");
  if (!(send_rate > 0.0) || send_burst == 0)
    return invalid("send_rate and send_burst must be positive");
  if (send_queue_size == 0)
    return invalid("send_queue_size must be at least 1");
  for (auto* policy : {&api_retry, &reconnect})
    if (policy->initial_delay.count() <= 0 ||
        policy->max_delay < policy->initial_delay)
      return invalid("retry delays must be positive, max >= initial");
  return caf::none;
}

client_config client_config::from(const caf::actor_system_config& cfg) {
  const auto& xs = caf::content(cfg);
  client_config result;
  read(xs, "token", result.token);
  read(xs, "base-url", result.base_url);
  read(xs, "batch-presence-aware", result.batch_presence_aware);
  read(xs, "presence-sub", result.presence_sub);
  read(xs, "proxy", result.proxy);
  read(xs, "no-proxy", result.no_proxy);
  read(xs, "proxy-from-environment", result.proxy_from_environment);
  read(xs, "ca-file", result.ca_file);
  read(xs, "connect-timeout", result.connect_timeout);
  read(xs, "request-timeout", result.request_timeout);
  read_count(xs, "io-threads", result.io_threads);
  read(xs, "api-retry-initial-delay", result.api_retry.initial_delay);
  read(xs, "api-retry-max-delay", result.api_retry.max_delay);
  read_count(xs, "api-retry-max-attempts", result.api_retry.max_attempts);
  read_count(xs, "max-rate-limit-waits", result.max_rate_limit_waits);
  read(xs, "ping-interval", result.ping_interval);
  read(xs, "pong-timeout", result.pong_timeout);
  bool rtm_pings = false;
  read(xs, "rtm-pings", rtm_pings);
  result.pings = rtm_pings ? ping_mode::rtm : ping_mode::websocket;
  read_count(xs, "max-message-size", result.max_message_size);
  read(xs, "hello-timeout", result.hello_timeout);
  read(xs, "close-timeout", result.close_timeout);
  read(xs, "auto-reconnect", result.auto_reconnect);
  read(xs, "reconnect-initial-delay", result.reconnect.initial_delay);
  read(xs, "reconnect-max-delay", result.reconnect.max_delay);
  read_count(xs, "reconnect-max-attempts", result.reconnect.max_attempts);
  read_count(xs, "concurrency", result.concurrency);
  read(xs, "skip-own-events", result.skip_own_events);
  read_count(xs, "send-queue-size", result.send_queue_size);
  read(xs, "send-rate", result.send_rate);
  read_count(xs, "send-burst", result.send_burst);
  read(xs, "ack-timeout", result.ack_timeout);
  std::string level;
  read(xs, "log-level", level);
  if (auto lvl = parse_log_level(level))
    result.log = std::make_shared<logger>(*lvl);
  return result;
}

void add_options(caf::config_option_set& opts) {
  caf::config_option_adder{opts, category}
      .add<std::string>("token", "Slack token (bot xoxb- or user xoxp-)")
      .add<std::string>("base-url", "Web API base URL")
      .add<bool>("batch-presence-aware", "rtm.connect batch_presence_aware")
      .add<bool>("presence-sub", "rtm.connect presence_sub")
      .add<std::string>("proxy", "HTTP CONNECT proxy URL")
      .add<std::string>("no-proxy", "hosts that bypass the proxy")
      .add<bool>("proxy-from-environment", "read HTTPS_PROXY/NO_PROXY & co.")
      .add<std::string>("ca-file", "extra trusted CA certificates (PEM)")
      .add<caf::timespan>("connect-timeout", "connect + proxy + TLS limit")
      .add<caf::timespan>("request-timeout", "limit for one Web API request")
      .add<int64_t>("io-threads", "threads of the shared I/O pool")
      .add<caf::timespan>("api-retry-initial-delay",
                          "first Web API retry delay")
      .add<caf::timespan>("api-retry-max-delay", "largest Web API retry delay")
      .add<int64_t>("api-retry-max-attempts", "Web API attempts per call")
      .add<int64_t>("max-rate-limit-waits", "Retry-After waits per call")
      .add<caf::timespan>("ping-interval", "time between pings")
      .add<caf::timespan>("pong-timeout", "time a pong may take")
      .add<bool>("rtm-pings", "RTM JSON pings instead of WebSocket pings")
      .add<int64_t>("max-message-size", "largest incoming message (bytes)")
      .add<caf::timespan>("hello-timeout", "handshake + hello limit")
      .add<caf::timespan>("close-timeout", "wait for the server's close frame")
      .add<bool>("auto-reconnect", "start a new session when one ends")
      .add<caf::timespan>("reconnect-initial-delay", "first reconnect backoff")
      .add<caf::timespan>("reconnect-max-delay", "largest reconnect backoff")
      .add<int64_t>("reconnect-max-attempts", "attempts in a row (0: no cap)")
      .add<int64_t>("concurrency", "listener actors running callbacks")
      .add<bool>("skip-own-events", "skip events of the client's own bot")
      .add<int64_t>("send-queue-size", "messages waiting to be sent")
      .add<double>("send-rate", "sustained messages per second")
      .add<int64_t>("send-burst", "messages sent back to back at most")
      .add<caf::timespan>("ack-timeout", "time an ack may take")
      .add<std::string>("log-level", "quiet, error, warn, info or debug");
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<json_object>("caf::rtm::json_object")
      .add_message_type<api_args>("caf::rtm::api_args")
      .add_message_type<identity>("caf::rtm::identity")
      .add_message_type<rtm_endpoint>("caf::rtm::rtm_endpoint")
      .add_message_type<event>("caf::rtm::event")
      .add_message_type<send_ack>("caf::rtm::send_ack")
      .add_message_type<connecting>("caf::rtm::connecting")
      .add_message_type<connected>("caf::rtm::connected")
      .add_message_type<disconnected>("caf::rtm::disconnected")
      .add_message_type<reconnecting>("caf::rtm::reconnecting")
      .add_message_type<error_event>("caf::rtm::error_event")
      .add_message_type<fatal_event>("caf::rtm::fatal_event")
      .add_message_type<client_status>("caf::rtm::client_status")
      .add_message_type<frame_batch>("caf::rtm::frame_batch")
      .add_message_type<event_batch>("caf::rtm::event_batch")
      .add_message_type<http_result>("caf::rtm::http_result")
      .add_message_type<web_api_actor>("caf::rtm::web_api_actor")
      .add_message_type<connection_actor>("caf::rtm::connection_actor")
      .add_message_type<ping_monitor_actor>("caf::rtm::ping_monitor_actor")
      .add_message_type<supervisor_actor>("caf::rtm::supervisor_actor")
      .add_message_type<listener_worker_actor>(
          "caf::rtm::listener_worker_actor")
      .add_message_type<client_actor>("caf::rtm::client_actor");
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    return render(caf::error{code, error_category, ctx});
  });
}

} // namespace caf::rtm
