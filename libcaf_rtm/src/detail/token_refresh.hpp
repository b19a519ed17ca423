// The parts of token rotation that need no actor: the refresh request
// (`oauth.v2.access` with `grant_type=refresh_token`), reading Slack's answer
// to it, and when the next refresh is due. The web-API caller does the rest.

#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/json_object.hpp"
#include "caf/rtm/web_api_actor.hpp"

namespace caf::rtm::detail {

/// `seconds` since the Unix epoch as a time of the system clock (callers
/// keep it below 2100, where nanoseconds overflow later).
inline std::chrono::system_clock::time_point unix_time(int64_t seconds) {
  return std::chrono::system_clock::time_point{std::chrono::seconds{seconds}};
}

/// The form body of a refresh with `refresh_token` (the newest one).
std::string refresh_request_body(const token_rotation& cfg,
                                 const std::string& refresh_token);

/// Slack's answer to a refresh (`ok:true`), read at `now`: an access token
/// that can go in a header, else `malformed_response`. A missing, zero or
/// unreadable `expires_in` leaves `expires_at` 0 (no expiry).
caf::expected<token_rotated>
read_refresh_answer(const json_object& answer,
                    std::chrono::system_clock::time_point now);

/// The tokens of an HTTP answer to a refresh (status, body), if it is
/// Slack's success; read on the I/O thread, so that the tokens reach the
/// listener even when the caller that asked is gone by then.
std::optional<token_rotated>
tokens_of_refresh(unsigned status, const std::string& body,
                  std::chrono::system_clock::time_point now);

/// When a token that expires at `expires_at` (Unix seconds; 0: never) and
/// was refreshed at `now` is due again: `refresh_before` ahead of its
/// expiry, but not before half its lifetime passed (a short-lived token must
/// not be refreshed before every call).
std::chrono::system_clock::time_point
next_refresh(int64_t expires_at, std::chrono::system_clock::time_point now,
             caf::timespan refresh_before);

} // namespace caf::rtm::detail
