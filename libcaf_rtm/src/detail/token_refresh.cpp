#include "detail/token_refresh.hpp"

#include <algorithm>
#include <cstdint>

#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"
#include "net/url.hpp"

namespace caf::rtm::detail {

namespace {

using system_clock = std::chrono::system_clock;

// Slack's tokens live 12 hours; a claim of more than a year is no expiry
// worth planning by (and would overflow nothing below).
constexpr int64_t max_expires_in = int64_t{366} * 24 * 3600;

// `expires_in` in seconds, if it is a positive whole number in range.
int64_t seconds_of(const boost::json::value* x) {
  if (x == nullptr)
    return 0;
  int64_t n = 0;
  if (x->is_int64())
    n = x->get_int64();
  else if (x->is_uint64() && x->get_uint64() <= uint64_t{max_expires_in})
    n = static_cast<int64_t>(x->get_uint64());
  return n > 0 && n <= max_expires_in ? n : 0;
}

} // namespace

std::string refresh_request_body(const token_rotation& cfg,
                                 const std::string& refresh_token) {
  return net::form_encode({{"grant_type", "refresh_token"},
                           {"refresh_token", refresh_token},
                           {"client_id", cfg.client_id},
                           {"client_secret", cfg.client_secret}});
}

caf::expected<token_rotated> read_refresh_answer(const json_object& answer,
                                                 system_clock::time_point now) {
  const auto& obj = answer.value;
  token_rotated result;
  result.access_token = std::string{string_field(obj, "access_token")};
  // It goes into every request's header: a token with a line break in it
  // would split the header.
  if (result.access_token.empty() ||
      check_token(result.access_token, "the rotated token"))
    return make_error(errc::malformed_response,
                      "oauth.v2.access answered no usable access_token");
  result.refresh_token = std::string{string_field(obj, "refresh_token")};
  if (!result.refresh_token.empty() &&
      check_token(result.refresh_token, "the rotated refresh token"))
    return make_error(errc::malformed_response,
                      "oauth.v2.access answered an unusable refresh_token");
  if (auto secs = seconds_of(obj.if_contains("expires_in")); secs > 0)
    result.expires_at =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch())
            .count() +
        secs;
  if (const auto* team = object_field(obj, "team"))
    result.team_id = std::string{string_field(*team, "id")};
  return result;
}

std::optional<token_rotated> tokens_of_refresh(unsigned status,
                                               const std::string& body,
                                               system_clock::time_point now) {
  if (status < 200 || status >= 300)
    return std::nullopt;
  boost::json::error_code ec;
  auto answer = parse_json(body, ec);
  if (ec || !answer.is_object())
    return std::nullopt;
  auto* ok = answer.get_object().if_contains("ok");
  if (ok == nullptr || !ok->is_bool() || !ok->get_bool())
    return std::nullopt;
  auto tokens =
      read_refresh_answer(json_object{std::move(answer.get_object())}, now);
  if (!tokens)
    return std::nullopt;
  return std::move(*tokens);
}

system_clock::time_point next_refresh(int64_t expires_at,
                                      system_clock::time_point now,
                                      caf::timespan refresh_before) {
  if (expires_at <= 0)
    return system_clock::time_point::max();
  auto expiry = unix_time(expires_at);
  if (expiry <= now)
    return now;
  auto lifetime = expiry - now;
  auto before =
      std::chrono::duration_cast<system_clock::duration>(refresh_before);
  return now + std::max(lifetime - std::min(before, lifetime), lifetime / 2);
}

} // namespace caf::rtm::detail
