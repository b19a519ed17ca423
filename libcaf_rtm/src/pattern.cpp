#include "caf/rtm/pattern.hpp"

#include <algorithm>

#include "caf/rtm/errc.hpp"
#include "detail/printable.hpp"
#include "detail/subscription_table.hpp"

namespace caf::rtm {

namespace {

constexpr std::string_view separator = "::";

bool valid_part(std::string_view x) noexcept {
  return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) {
    return c > ' ' && c < 127 && c != ':' && c != '*';
  });
}

// A subtype may also be an interaction's `action_id` or `callback_id`, which
// the app chose: ':' and UTF-8 are allowed there ("block_actions::vote:yes"),
// but not first: "message:::bot_message" is a typo, not an id.
bool valid_subtype(std::string_view x) noexcept {
  return !x.empty() && x.front() != ':' &&
         std::all_of(x.begin(), x.end(), [](char c) {
           auto b = static_cast<unsigned char>(c);
           return b > ' ' && b != 127 && c != '*';
         });
}

} // namespace

caf::error check_pattern(std::string_view pattern) {
  if (pattern == "*")
    return caf::none;
  auto bad = [&](const char* why) {
    return make_error(errc::invalid_argument, "subscription pattern \"" +
                                                  detail::printable(pattern) +
                                                  "\": " + why);
  };
  if (pattern.empty())
    return bad("empty");
  if (pattern.size() > max_pattern_size)
    return make_error(errc::invalid_argument,
                      "subscription pattern over " +
                          std::to_string(max_pattern_size) + " bytes");
  auto sep = pattern.find(separator);
  if (sep == std::string_view::npos)
    return valid_part(pattern)
               ? caf::none
               : bad("expected a type (no spaces, ':' or '*') or \"*\"");
  if (!valid_part(pattern.substr(0, sep)) ||
      !valid_subtype(pattern.substr(sep + separator.size())))
    return bad("expected type::subtype, both parts non-empty, no spaces or "
               "'*', no ':' in the type or first in the subtype");
  return caf::none;
}

caf::error check_patterns(const std::vector<std::string>& patterns) {
  if (patterns.empty())
    return make_error(errc::invalid_argument,
                      "a subscription needs at least one pattern");
  if (patterns.size() > max_patterns)
    return detail::too_many_patterns();
  for (const auto& x : patterns)
    if (auto err = check_pattern(x))
      return err;
  return caf::none;
}

bool pattern_matches(std::string_view pattern, std::string_view type,
                     std::string_view subtype) noexcept {
  if (pattern == "*" || pattern == type)
    return true;
  // type::subtype, compared in place.
  return !subtype.empty() &&
         pattern.size() == type.size() + separator.size() + subtype.size() &&
         pattern.substr(0, type.size()) == type &&
         pattern.substr(type.size(), separator.size()) == separator &&
         pattern.substr(type.size() + separator.size()) == subtype;
}

} // namespace caf::rtm
