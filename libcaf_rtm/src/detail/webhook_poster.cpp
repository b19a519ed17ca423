#include "detail/webhook_poster.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include <boost/json/value.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"
#include "detail/slack_answers.hpp"
#include "detail/wait_deadline.hpp"
#include "net/url.hpp"

namespace caf::rtm::detail {

namespace {

// Names the request in logs and errors (the URL is never shown).
constexpr const char* webhook_name = "webhook";

// Slack's codes are short words of lower-case letters, digits and '_'.
bool is_bare_code(std::string_view text) {
  return !text.empty() && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

} // namespace

caf::expected<json_object> read_webhook_answer(unsigned status,
                                               std::string_view body) {
  auto success = status >= 200 && status < 300;
  boost::json::error_code ec;
  auto value = parse_json(body, ec);
  if (!ec && value.is_object()) {
    const auto& obj = value.get_object();
    const auto* ok = obj.if_contains("ok");
    auto code = string_field(obj, "error");
    // An error code without `ok` refuses too (`{"error":"expired_url"}`).
    auto refused =
        ok != nullptr ? ok->is_bool() && !ok->get_bool() : !code.empty();
    if ((refused || !success) && !code.empty())
      return slack_refusal(obj, code);
    if (success && !refused)
      return json_object{};
  } else {
    // "ok", or a code such as "no_text" (Slack's webhooks answer in text).
    if (success)
      return json_object{};
    if (auto code = trim_token(body); is_bare_code(code))
      return make_error(errc::slack_error, std::move(code), std::string{});
  }
  // The status as errc.hpp says: a uint16_t (HTTP's are three digits).
  return make_error(
      errc::http_error, static_cast<uint16_t>(std::min(status, 65535u)),
      success ? "answer with ok:false and no error" : "unexpected HTTP status");
}

void start_webhook_post(web_api_self self, webhook_post x,
                        web_api_state::deliver_fn deliver) {
  auto& st = self->state;
  if (st.setup_error)
    return deliver(st.setup_error);
  if (x.message.value.empty())
    return deliver(
        make_error(errc::invalid_argument, "webhook_post without a message"));
  if (auto err = check_max_wait(x.max_wait, "webhook_post"))
    return deliver(std::move(err));
  auto checked = net::check_post_url(st.cfg, x.url, "webhook URL");
  if (!checked)
    return deliver(std::move(checked.error()));
  web_api_state::pending_call call;
  call.method = webhook_name;
  call.url = std::move(x.url);
  call.body = std::make_shared<const std::string>(to_json(x.message));
  call.content_type = "application/json; charset=utf-8";
  // A post: repeated after a failure that may have reached Slack only when
  // the caller says it is harmless.
  call.repeatable = x.retry == api_retry::always;
  call.answer = web_api_state::pending_call::answer_kind::webhook;
  call.deliver = std::move(deliver);
  call.deadline = wait_deadline(web_api_state::clock_type::now(), x.max_wait);
  start_request(self, std::move(call));
}

} // namespace caf::rtm::detail
