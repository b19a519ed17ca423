// Posts to URLs Slack hands out instead of a Web API method: the
// `response_url` of a slash command or an interaction, and incoming
// webhooks. One request of the web-API caller, with its rate-limit waits and
// retries, but without the token (the URL is the credential) and with
// answers of their own kind: "ok", or an error code as plain text.

#pragma once

#include <string_view>

#include "detail/web_api_caller.hpp"

namespace caf::rtm::detail {

/// Checks `x` and posts it; `deliver` gets an empty object once Slack took
/// the message, or the error.
void start_webhook_post(web_api_self self, webhook_post x,
                        web_api_state::deliver_fn deliver);

/// Reads the answer of a response_url or webhook (429 and 5xx are the
/// caller's, as for every request): a 2xx is success unless its body is
/// JSON with `ok:false`; Slack's code is that JSON's `error`, or a body that
/// is one bare code (`no_text`, `expired_url`); anything else is an
/// `http_error` with the status.
caf::expected<json_object> read_webhook_answer(unsigned status,
                                               std::string_view body);

} // namespace caf::rtm::detail
