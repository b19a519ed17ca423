#include "caf/rtm/errc.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include <caf/deep_to_string.hpp>

#include "detail/printable.hpp"

namespace caf::rtm {

std::string to_string(errc x) {
  switch (x) {
  case errc::none:
    return "none";
  case errc::slack_error:
    return "slack_error";
  case errc::http_error:
    return "http_error";
  case errc::rate_limited:
    return "rate_limited";
  case errc::malformed_response:
    return "malformed_response";
  case errc::response_too_large:
    return "response_too_large";
  case errc::connect_failed:
    return "connect_failed";
  case errc::timeout:
    return "timeout";
  case errc::tls_error:
    return "tls_error";
  case errc::proxy_error:
    return "proxy_error";
  case errc::invalid_url:
    return "invalid_url";
  case errc::untrusted_url:
    return "untrusted_url";
  case errc::invalid_config:
    return "invalid_config";
  case errc::websocket_error:
    return "websocket_error";
  case errc::connection_closed:
    return "connection_closed";
  case errc::connection_lost:
    return "connection_lost";
  case errc::dead_link:
    return "dead_link";
  case errc::incoming_too_large:
    return "incoming_too_large";
  case errc::server_error:
    return "server_error";
  case errc::not_connected:
    return "not_connected";
  case errc::closed:
    return "closed";
  case errc::message_too_large:
    return "message_too_large";
  case errc::text_too_long:
    return "text_too_long";
  case errc::send_queue_full:
    return "send_queue_full";
  case errc::send_expired:
    return "send_expired";
  case errc::ack_timeout:
    return "ack_timeout";
  case errc::delivery_unknown:
    return "delivery_unknown";
  case errc::send_rejected:
    return "send_rejected";
  case errc::gave_up:
    return "gave_up";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::listener_failed:
    return "listener_failed";
  case errc::stale_connections:
    return "stale_connections";
  case errc::no_response:
    return "no_response";
  case errc::no_payload:
    return "no_payload";
  case errc::not_waiting:
    return "not_waiting";
  case errc::cursor_loop:
    return "cursor_loop";
  case errc::too_many_pages:
    return "too_many_pages";
  case errc::unknown_workspace:
    return "unknown_workspace";
  case errc::not_permitted:
    return "not_permitted";
  case errc::not_taken:
    return "not_taken";
  case errc::listener_stalled:
    return "listener_stalled";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), error_category};
}

bool is(const caf::error& err, errc code) {
  // A default-constructed caf::error has no category to look at.
  return err && err.category() == error_category &&
         err.code() == static_cast<uint8_t>(code);
}

std::string context_string(const caf::error& err, size_t index) {
  if (!err || err.category() != error_category)
    return {};
  const auto& ctx = err.context();
  if (index >= ctx.size() || !ctx.match_element<std::string>(index))
    return {};
  return ctx.get_as<std::string>(index);
}

std::string slack_error_code(const caf::error& err) {
  if (!is(err, errc::slack_error) && !is(err, errc::send_rejected))
    return {};
  return context_string(err);
}

std::string slack_error_detail(const caf::error& err) {
  if (!is(err, errc::slack_error))
    return {};
  return context_string(err, 1);
}

uint16_t close_code(const caf::error& err) {
  if (!is(err, errc::connection_closed))
    return 0;
  const auto& ctx = err.context();
  if (ctx.empty() || !ctx.match_element<uint16_t>(0))
    return 0;
  return ctx.get_as<uint16_t>(0);
}

namespace {

// From Slack's documentation of rtm.connect, apps.connections.open and the
// Web API's common errors; link_disabled is Socket Mode switched off for the
// app (a disconnect reason). The last four refuse a token rotation's refresh
// for good (a spent refresh token, wrong app credentials).
constexpr std::array<std::string_view, 19> fatal_slack_errors = {
    "invalid_auth",           "not_authed",        "account_inactive",
    "token_revoked",          "token_expired",     "no_permission",
    "not_allowed_token_type", "missing_scope",     "team_disabled",
    "user_removed_from_team", "invalid_arg_name",  "invalid_arguments",
    "org_login_required",     "ekm_access_denied", "link_disabled",
    "invalid_refresh_token",  "bad_client_secret", "invalid_client_id",
    "invalid_grant_type",
};

constexpr std::array<std::string_view, 7> transient_slack_errors = {
    "ratelimited",         "fatal_error",     "internal_error",
    "service_unavailable", "request_timeout", "migration_in_progress",
    "team_added_to_org",
};

template <class Array>
bool contains(const Array& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), std::string_view{x}) != xs.end();
}

} // namespace

bool is_fatal_slack_error(const std::string& code) {
  return contains(fatal_slack_errors, code);
}

bool is_transient_slack_error(const std::string& code) {
  return contains(transient_slack_errors, code);
}

bool is_fatal(const caf::error& err) {
  if (!err || err.category() != error_category)
    return false;
  switch (static_cast<errc>(err.code())) {
  case errc::slack_error:
    return is_fatal_slack_error(slack_error_code(err));
  case errc::tls_error: {
    // A certificate that fails the client's own verification stays invalid;
    // a handshake cut short by the network, or ended by an alert of the
    // server or of a box on the way (whose text may name a certificate:
    // "alert bad certificate"), is worth another try.
    auto what = context_string(err);
    return what.rfind("certificate verify failed", 0) == 0 ||
           what.rfind("cannot check the certificate", 0) == 0;
  }
  case errc::invalid_url:
  case errc::invalid_config:
  case errc::closed:
  case errc::unknown_workspace:
    return true;
  default:
    return false;
  }
}

std::string render(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() != error_category)
    return caf::to_string(err);
  std::string result = "caf_rtm: ";
  result += to_string(static_cast<errc>(err.code()));
  const auto& ctx = err.context();
  if (!ctx.empty()) {
    result += " (";
    bool first = true;
    for (size_t i = 0; i < ctx.size(); ++i) {
      // A Slack error's empty detail (Slack said nothing beyond the code).
      if (i == 1 && is(err, errc::slack_error) &&
          ctx.match_element<std::string>(i) &&
          ctx.get_as<std::string>(i).empty())
        continue;
      if (!first)
        result += ", ";
      first = false;
      if (ctx.match_element<std::string>(i))
        result += detail::printable(ctx.get_as<std::string>(i));
      else
        result += ctx.stringify(i);
    }
    result += ")";
  }
  return result;
}

} // namespace caf::rtm
