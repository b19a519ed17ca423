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

// Whether `x` is well-formed UTF-8: no stray or missing continuation bytes,
// overlong forms, surrogates or code points past U+10FFFF. Slack's ids are,
// so a subtype that is not (Latin-1 text, say) could never match.
bool valid_utf8(std::string_view x) noexcept {
  size_t i = 0;
  while (i < x.size()) {
    auto lead = static_cast<unsigned char>(x[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // The continuation bytes that follow, and the range of the first one
    // (narrower where a wider range would be overlong, a surrogate or past
    // U+10FFFF).
    size_t n = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      n = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      n = 2;
      lo = lead == 0xE0 ? 0xA0 : lo;
      hi = lead == 0xED ? 0x9F : hi;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      n = 3;
      lo = lead == 0xF0 ? 0x90 : lo;
      hi = lead == 0xF4 ? 0x8F : hi;
    } else {
      return false;
    }
    if (x.size() - i <= n)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      auto c = static_cast<unsigned char>(x[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
        return false;
    }
    i += n + 1;
  }
  return true;
}

// A subtype may also be an interaction's `action_id` or `callback_id`, which
// the app chose: ':' and UTF-8 are allowed there ("block_actions::vote:yes"),
// but not first: "message:::bot_message" is a typo, not an id.
bool valid_subtype(std::string_view x) noexcept {
  return !x.empty() && x.front() != ':' &&
         std::all_of(x.begin(), x.end(),
                     [](char c) {
                       auto b = static_cast<unsigned char>(c);
                       return b > ' ' && b != 127 && c != '*';
                     }) &&
         valid_utf8(x);
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
               "'*', no ':' in the type or first in the subtype, the subtype "
               "UTF-8");
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
