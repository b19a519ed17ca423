#include "detail/slack_answers.hpp"

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/printable.hpp"

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

// What Slack says beyond the code tells the caller what to fix: the problems
// of an `invalid_blocks` in `response_metadata.messages`, the scopes `needed`
// and `provided` of a `missing_scope`. Always a second context string (empty
// if Slack said nothing more), so that what callers add (an upload's step, a
// list's page) comes after it. Control characters are escaped (it reaches
// logs and terminals).
caf::error slack_refusal(const boost::json::object& obj,
                         std::string_view code) {
  std::string detail;
  auto add = [&detail](std::string_view x) {
    if (x.empty())
      return;
    if (!detail.empty())
      detail += "; ";
    detail += x;
  };
  if (auto* meta = obj.if_contains("response_metadata");
      meta != nullptr && meta->is_object())
    if (auto* xs = meta->get_object().if_contains("messages");
        xs != nullptr && xs->is_array())
      for (auto& x : xs->get_array())
        if (x.is_string())
          add(printable(x.get_string()));
  for (auto key : {"needed", "provided"})
    if (auto* x = obj.if_contains(key); x != nullptr && x->is_string())
      add(std::string{key} + ": " + printable(x->get_string()));
  // Bounded (a log line, not a second answer), cut at a character's start.
  constexpr size_t max_detail = 2048;
  if (detail.size() > max_detail) {
    auto cut = max_detail - 3;
    while (cut > 0 && (static_cast<unsigned char>(detail[cut]) & 0xC0) == 0x80)
      --cut;
    detail.resize(cut);
    detail += "...";
  }
  return make_error(errc::slack_error, std::string{code}, std::move(detail));
}

} // namespace caf::rtm::detail
