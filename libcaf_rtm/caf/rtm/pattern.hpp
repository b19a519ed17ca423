// Subscription patterns: what a subscriber names to receive events.
//
//   "*"                     everything
//   "message"               every message event, whatever its subtype
//   "message::bot_message"  only message events with subtype bot_message
//   "events_api"            (Socket Mode) every envelope of that type
//   "/deploy"               (Socket Mode) that slash command
//   "block_actions::approve"       (Socket Mode) clicks on action_id approve
//   "view_submission::deploy_form" (Socket Mode) submissions of that modal
//
// A subscription with a pattern that cannot match anything (empty, spaces,
// a ':' in a type or first in a subtype) is refused with `invalid_argument`
// instead of never matching. So is one over `max_patterns` patterns or a
// pattern over `max_pattern_size` bytes: every event is matched against every
// pattern.

#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

namespace caf::rtm {

/// Patterns one subscription holds at most (an actor's, counted over every
/// `subscribe` that adds to it, or a callback's).
constexpr size_t max_patterns = 1024;

/// The longest pattern (Slack's types, subtypes and commands are tens of
/// bytes).
constexpr size_t max_pattern_size = 255;

/// Whether `pattern` is well-formed: `*`, a type, or `type::subtype`, at
/// most `max_pattern_size` bytes. A type is printable ASCII without spaces,
/// ':' or '*'; a subtype (an interaction's `action_id` or `callback_id`, too)
/// may hold ':' (not first) and UTF-8, no spaces, control characters or
/// '*'. An id longer than `max_pattern_size` less its type and "::" cannot
/// be named: subscribe to its type.
caf::error check_pattern(std::string_view pattern);

/// `check_pattern` for each of `patterns` (at least one, at most
/// `max_patterns`).
caf::error check_patterns(const std::vector<std::string>& patterns);

/// Whether `pattern` matches an event of `type` and `subtype` ("" if none).
bool pattern_matches(std::string_view pattern, std::string_view type,
                     std::string_view subtype) noexcept;

} // namespace caf::rtm
