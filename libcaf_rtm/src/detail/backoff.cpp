#include "detail/backoff.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>
#include <string>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::detail {

caf::timespan backoff_ceiling(const retry_policy& policy, uint32_t attempt) {
  // In ticks, without a loop: attempt may be anything up to 2^32 - 1.
  // Delays validate() refuses (zero, negative) give 0 or max_delay, never an
  // overflow.
  auto initial = std::max<int64_t>(policy.initial_delay.count(), 0);
  auto max = policy.max_delay.count();
  if (max <= initial)
    return policy.max_delay;
  if (initial == 0)
    return caf::timespan{0};
  auto doublings = attempt > 1 ? attempt - 1 : 0u;
  // initial * 2^doublings > max exactly when initial > max / 2^doublings:
  // saturates at max_delay before the shift could overflow.
  if (doublings >= 63 || initial > (max >> doublings))
    return policy.max_delay;
  return caf::timespan{initial << doublings};
}

caf::error rate_limited_error(std::string what,
                              std::optional<caf::timespan> wait) {
  if (wait)
    return make_error(errc::rate_limited, std::move(what), *wait);
  return make_error(errc::rate_limited, std::move(what));
}

std::optional<caf::timespan> retry_after_of(const caf::error& err) {
  if (!is(err, errc::rate_limited))
    return std::nullopt;
  const auto& ctx = err.context();
  if (ctx.empty() || !ctx.match_element<caf::timespan>(ctx.size() - 1))
    return std::nullopt;
  return ctx.get_as<caf::timespan>(ctx.size() - 1);
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
  constexpr time_t year = time_t{365} * 24 * 3600;
  auto secs = std::min<time_t>(at - from, year);
  return std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{secs});
}

} // namespace caf::rtm::detail
