// Subscription patterns: what a subscriber names to receive events.
//
//   "*"                     everything
//   "message"               every message event, whatever its subtype
//   "message::bot_message"  only message events with subtype bot_message
//   "events_api"            (Socket Mode) every envelope of that type
//   "/deploy"               (Socket Mode) that slash command
//
// A subscription with a pattern that cannot match anything (empty, spaces,
// a stray ':') is refused with `invalid_argument` instead of never matching.

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

namespace caf::rtm {

/// Whether `pattern` is well-formed: `*`, a type, or `type::subtype`, each
/// part printable ASCII without spaces or ':'.
caf::error check_pattern(std::string_view pattern);

/// `check_pattern` for each of `patterns` (and at least one).
caf::error check_patterns(const std::vector<std::string>& patterns);

/// Whether `pattern` matches an event of `type` and `subtype` ("" if none).
bool pattern_matches(std::string_view pattern, std::string_view type,
                     std::string_view subtype) noexcept;

} // namespace caf::rtm
