#include "detail/slack_answers.hpp"

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"

namespace json = boost::json;

namespace caf::rtm::detail {

namespace {

std::string string_at(const json::object& x, std::string_view key) {
  if (auto* v = x.if_contains(key); v && v->is_string())
    return std::string{v->get_string()};
  return {};
}

std::string nested_string(const json::object& x, std::string_view outer,
                          std::string_view key) {
  if (auto* v = x.if_contains(outer); v && v->is_object())
    return string_at(v->get_object(), key);
  return {};
}

} // namespace

caf::expected<identity> to_identity(const json::object& x) {
  identity result;
  result.user_id = string_at(x, "user_id");
  result.user = string_at(x, "user");
  result.team_id = string_at(x, "team_id");
  result.team = string_at(x, "team");
  result.bot_id = string_at(x, "bot_id");
  result.url = string_at(x, "url");
  result.enterprise_id = string_at(x, "enterprise_id");
  if (result.user_id.empty())
    return make_error(errc::malformed_response, "auth.test without user_id");
  return result;
}

caf::expected<rtm_endpoint> to_rtm_endpoint(const json::object& x) {
  rtm_endpoint result;
  result.url = string_at(x, "url");
  if (result.url.empty())
    return make_error(errc::malformed_response, "rtm.connect without url");
  result.self_id = nested_string(x, "self", "id");
  result.self_name = nested_string(x, "self", "name");
  result.team_id = nested_string(x, "team", "id");
  result.team_name = nested_string(x, "team", "name");
  result.team_domain = nested_string(x, "team", "domain");
  return result;
}

} // namespace caf::rtm::detail
