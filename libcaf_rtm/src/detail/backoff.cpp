#include "detail/backoff.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>
#include <string>

namespace caf::rtm::detail {

caf::timespan backoff_ceiling(const retry_policy& policy, uint32_t attempt) {
  auto delay = policy.initial_delay;
  // Doubling stops at max_delay, so the shift never overflows.
  for (uint32_t i = 1; i < attempt && delay < policy.max_delay; ++i)
    delay *= 2;
  return std::min(delay, policy.max_delay);
}

std::optional<caf::timespan>
parse_retry_after(std::string_view value,
                  std::chrono::system_clock::time_point now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value[0])))
    value.remove_prefix(1);
  while (!value.empty() &&
         std::isspace(static_cast<unsigned char>(value.back())))
    value.remove_suffix(1);
  if (value.empty())
    return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    if (value.size() > 9) // more than 31 years: treat as garbage
      return std::nullopt;
    return std::chrono::seconds{std::stoll(std::string{value})};
  }
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::istringstream in{std::string{value}};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail())
    return std::nullopt;
  // In seconds, before anything becomes nanoseconds: a date past 2262 does
  // not fit a timespan. Anything beyond a year is capped (callers cap far
  // lower anyway).
  auto at = timegm(&tm);
  auto from = std::chrono::system_clock::to_time_t(now);
  if (at == static_cast<time_t>(-1) || at <= from)
    return caf::timespan{0};
  constexpr time_t year = 365 * 24 * 3600;
  auto secs = std::min<time_t>(at - from, year);
  return std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{secs});
}

} // namespace caf::rtm::detail
