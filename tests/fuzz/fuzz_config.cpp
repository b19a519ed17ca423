// Fuzz target: arbitrary text as a CAF config file (caf-application.ini)
// with the library's `caf-rtm.*` options, read into a client_config and
// validated for both kinds of client. Reading must never crash; what
// validate() accepts must then be usable by the parts that consume it (no
// overflowing backoff, no absurd send pacing, no crashing proxy setup), and
// no error message may show a token.

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/settings.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "detail/backoff.hpp"
#include "detail/protocol.hpp"
#include "detail/token_bucket.hpp"
#include "fuzz_check.hpp"
#include "net/url.hpp"

using namespace caf::rtm;

namespace {

// The config of a program that uses the library: CAF's own options plus the
// `caf-rtm.*` ones. Built once (that is the expensive part); each input
// starts again from the content right after construction.
class program_config : public caf::actor_system_config {
public:
  program_config() {
    add_options(custom_options_);
    initial_content = content;
  }

  void reset() {
    content = initial_content;
    remainder.clear();
    cli_helptext_printed = false;
  }

  caf::settings initial_content;
};

program_config& shared_config() {
  static program_config cfg;
  return cfg;
}

// A message shows a token if it contains it, unless the message made with
// the tokens disguised contains it too (then it is other text that looks
// like the token).
template <class MakeMessage>
void check_no_token_in(const client_config& cfg, const std::string& msg,
                       MakeMessage make_message) {
  for (const auto* token : {&cfg.token, &cfg.app_token, &cfg.bot_token}) {
    // Short values match ordinary words of a message by chance.
    if (token->size() < 4 || msg.find(*token) == std::string::npos)
      continue;
    auto other = cfg;
    for (auto* x : {&other.token, &other.app_token, &other.bot_token})
      *x = fuzz::disguise(*x);
    CAF_RTM_FUZZ_CHECK_MSG(
        make_message(other).find(*token) != std::string::npos, msg);
  }
}

void check_policy(const retry_policy& policy) {
  for (uint32_t attempt : {1u, 2u, 3u, 10u, 31u, 32u, 33u, 62u, 63u, 64u, 65u,
                           1000u, std::numeric_limits<uint32_t>::max()}) {
    auto ceiling = detail::backoff_ceiling(policy, attempt);
    CAF_RTM_FUZZ_CHECK(ceiling >= policy.initial_delay);
    CAF_RTM_FUZZ_CHECK(ceiling <= policy.max_delay);
  }
}

// What the outbox does with send_rate and send_burst: drain the bucket, then
// ask how long until the next message may go.
void check_send_pacing(const client_config& cfg) {
  using clock = detail::token_bucket::clock_type;
  auto t0 = clock::time_point{std::chrono::hours{1}};
  detail::token_bucket bucket{cfg.send_rate, cfg.send_burst, t0};
  // Bounded: the burst may be huge.
  for (int i = 0; i < 16 && bucket.try_take(t0); ++i)
    ; // nop
  auto wait = bucket.time_to_next(t0);
  CAF_RTM_FUZZ_CHECK(wait.count() >= 0);
  // The next token comes within one token's time (a millisecond of slack),
  // and after the wait it is there: an outbox woken too early would only ask
  // again, and again.
  auto token_time = std::chrono::duration<double>{1.0 / cfg.send_rate};
  CAF_RTM_FUZZ_CHECK(std::chrono::duration<double>{wait} <=
                     token_time + std::chrono::milliseconds{1});
  CAF_RTM_FUZZ_CHECK(bucket.try_take(t0 + wait));
}

// What validate() promises of base_url, read without the library's URL
// code: http or https, TLS unless the caller allowed otherwise or the host
// is loopback (that one is the library's check), and nothing a method name
// appended to it would end up in (a query, a fragment) or that would be
// dropped (user info).
void check_base_url(const client_config& cfg) {
  const auto& url = cfg.base_url;
  CAF_RTM_FUZZ_CHECK_MSG(url.find_first_of("?#") == std::string::npos, url);
  auto scheme_end = url.find("://");
  CAF_RTM_FUZZ_CHECK_MSG(scheme_end != std::string::npos, url);
  std::string scheme;
  for (auto c : url.substr(0, scheme_end))
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CAF_RTM_FUZZ_CHECK_MSG(scheme == "http" || scheme == "https", url);
  auto authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find('/'));
  CAF_RTM_FUZZ_CHECK_MSG(!authority.empty(), url);
  CAF_RTM_FUZZ_CHECK_MSG(authority.find('@') == std::string::npos, url);
  auto parsed = net::parse_endpoint(url);
  CAF_RTM_FUZZ_CHECK_MSG(parsed && !parsed->websocket, url);
  CAF_RTM_FUZZ_CHECK_MSG(parsed->tls == (scheme == "https"), url);
  CAF_RTM_FUZZ_CHECK_MSG(parsed->tls || cfg.allow_insecure ||
                             net::is_loopback_host(parsed->host),
                         url);
  CAF_RTM_FUZZ_CHECK_MSG(
      parsed->host_header().find_first_of("\r\n") == std::string::npos, url);
}

void check_usable(const client_config& cfg, client_kind kind) {
  CAF_RTM_FUZZ_CHECK(cfg.effective_pong_timeout().count() > 0);
  check_policy(cfg.api_retry);
  check_policy(cfg.reconnect);
  check_send_pacing(cfg);
  check_base_url(cfg);
  // The documented bounds.
  CAF_RTM_FUZZ_CHECK(cfg.max_message_size >= 1024 &&
                     cfg.max_message_size <= (size_t{1} << 30));
  CAF_RTM_FUZZ_CHECK(cfg.send_burst >= 1);
  // A Web API caller that could take no request would refuse every post.
  CAF_RTM_FUZZ_CHECK(cfg.api_queue_size >= 1);
  // A listener worker's progress comes every quarter of it (at least 25 ms,
  // above a kernel tick of the coarse clock).
  CAF_RTM_FUZZ_CHECK(cfg.listener_stall_timeout >=
                         std::chrono::milliseconds{100} &&
                     cfg.listener_stall_timeout <= std::chrono::hours{24});
  auto proxy_error = [](const client_config& x) {
    auto proxy = net::make_proxy_settings(x);
    return proxy ? std::string{} : render(proxy.error());
  };
  check_no_token_in(cfg, proxy_error(cfg), proxy_error);
  auto proto = kind == client_kind::rtm
                   ? detail::make_rtm_protocol(cfg)
                   : detail::make_socket_mode_protocol(cfg);
  for (const auto& [key, value] : proto->endpoint_args())
    fuzz::touch(key + value);
  boost::json::object answer;
  answer["ok"] = true;
  answer["url"] = "wss://wss-primary.slack.com/link/?ticket=1";
  if (auto ep = proto->to_endpoint(answer))
    fuzz::touch(ep->url);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // make_proxy_settings falls back to these when the config names no proxy:
  // runs must not depend on the environment.
  for (auto name : {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                    "NO_PROXY", "no_proxy"})
    unsetenv(name);
  shared_config();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& sys_cfg = shared_config();
  sys_cfg.reset();
  std::istringstream ini{
      std::string{reinterpret_cast<const char*>(data), size}};
  if (auto err = sys_cfg.parse(caf::actor_system_config::string_list{}, ini))
    fuzz::touch(caf::to_string(err));
  auto cfg = client_config::from(sys_cfg);
  // Tokens come trimmed: a token pasted with a line break still works.
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  };
  for (const auto* token : {&cfg.token, &cfg.app_token, &cfg.bot_token})
    CAF_RTM_FUZZ_CHECK_MSG(
        token->empty() || (!blank(token->front()) && !blank(token->back())),
        *token);
  for (auto kind : {client_kind::rtm, client_kind::socket_mode}) {
    auto validation_error = [kind](const client_config& x) {
      auto err = x.validate(kind);
      return err ? render(err) : std::string{};
    };
    if (auto msg = validation_error(cfg); !msg.empty()) {
      check_no_token_in(cfg, msg, validation_error);
      continue;
    }
    check_usable(cfg, kind);
  }
  return 0;
}
