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
// So is one over `max_patterns` patterns or a pattern over
// `max_pattern_size` bytes: every event is matched against every pattern.

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

/// Whether `pattern` is well-formed: `*`, a type, or `type::subtype`, each
/// part printable ASCII without spaces or ':', at most `max_pattern_size`
/// bytes.
caf::error check_pattern(std::string_view pattern);

/// `check_pattern` for each of `patterns` (at least one, at most
/// `max_patterns`).
caf::error check_patterns(const std::vector<std::string>& patterns);

/// Whether `pattern` matches an event of `type` and `subtype` ("" if none).
bool pattern_matches(std::string_view pattern, std::string_view type,
                     std::string_view subtype) noexcept;

} // namespace caf::rtm
