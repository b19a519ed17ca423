// Typed views of the Web API answers the client itself relies on.

#pragma once

#include <boost/json/object.hpp>

#include <caf/expected.hpp>

#include "caf/rtm/messages.hpp"

namespace caf::rtm::detail {

/// Converts an `auth.test` answer (fails without `user_id`).
caf::expected<identity> to_identity(const boost::json::object& x);

/// Converts an `rtm.connect` answer (fails without `url`).
caf::expected<rtm_endpoint> to_rtm_endpoint(const boost::json::object& x);

} // namespace caf::rtm::detail
