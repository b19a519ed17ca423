// Typed views of the Web API answers the client itself relies on.

#pragma once

#include <string_view>

#include <boost/json/object.hpp>

#include <caf/expected.hpp>

#include "caf/rtm/messages.hpp"

namespace caf::rtm::detail {

/// Converts an `auth.test` answer (fails without `user_id`).
caf::expected<identity> to_identity(const boost::json::object& x);

/// Slack's refusal `code` in the answer `obj`, as a `slack_error`: the code,
/// and what Slack says beyond it (see `slack_error_detail`). Every
/// `slack_error` of a call or a webhook post is made here or has the same
/// two strings: `slack_error_detail` reads the second, and callers add
/// their context after it.
caf::error slack_refusal(const boost::json::object& obj, std::string_view code);

/// Converts an `rtm.connect` answer (fails without `url`).
caf::expected<rtm_endpoint> to_rtm_endpoint(const boost::json::object& x);

} // namespace caf::rtm::detail
