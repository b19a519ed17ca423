// Fuzz target: a `Retry-After` header value as a server (or anything between
// it and the client) sends it, and the backoff ceiling of arbitrary retry
// policies. The Web API caller sleeps for what parse_retry_after returns, so
// a negative, wrapped or absurd delay is a defect even without a crash.
//
// The input is the header value; the same bytes, read from the end, also
// make the retry policy and the attempt number.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <iomanip>
#include <limits>
#include <locale>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include "caf/rtm/client_config.hpp"
#include "detail/backoff.hpp"
#include "fuzz_check.hpp"

using namespace std::chrono_literals;

using caf::timespan;
using caf::rtm::retry_policy;
using caf::rtm::detail::backoff_ceiling;
using caf::rtm::detail::backoff_delay;
using caf::rtm::detail::parse_retry_after;

namespace {

// A fixed "now" keeps runs reproducible: 2024-06-01 12:00:00 UTC.
const auto now = std::chrono::system_clock::time_point{1717243200s};
constexpr int64_t now_s = 1717243200;

// The largest value parse_retry_after returns: 9 digits of delta-seconds
// (more is refused). A date must not wait longer than that either.
constexpr timespan longest = std::chrono::seconds{999'999'999};

// Below this, a date gives the exact distance; above it the library may cap.
constexpr timespan no_cap_below = std::chrono::minutes{1};

constexpr const char* imf_fixdate = "%a, %d %b %Y %H:%M:%S GMT";

std::string_view trim(std::string_view x) {
  auto space = [](char c) {
    return std::isspace(static_cast<unsigned char>(c));
  };
  while (!x.empty() && space(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && space(x.back()))
    x.remove_suffix(1);
  return x;
}

bool all_digits(std::string_view x) {
  return std::all_of(x.begin(), x.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// The date as seconds since the epoch if `x` reads as an IMF-fixdate, with
// the arithmetic in 128 bits so that no date can overflow it.
bool date_seconds(std::string_view x, __int128& out) {
  std::tm tm{};
  std::istringstream in{std::string{x}};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, imf_fixdate);
  if (in.fail())
    return false;
  out = static_cast<__int128>(timegm(&tm));
  return true;
}

// Formats `secs` since the epoch as an IMF-fixdate.
std::string format_date(time_t secs) {
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::put_time(&tm, imf_fixdate);
  return out.str();
}

// The delay in nanoseconds, in 128 bits: a wrapped value shows as such.
__int128 ns(timespan x) {
  return x.count();
}

void check_date(std::string_view text, std::string_view value, timespan got) {
  __int128 at = 0;
  CAF_RTM_FUZZ_CHECK_MSG(date_seconds(value, at), text);
  __int128 exact = std::max<__int128>(at - now_s, 0) * 1'000'000'000;
  // Never longer than asked, but the exact distance unless it is long
  // enough for the library to cap it.
  CAF_RTM_FUZZ_CHECK_MSG(ns(got) <= exact, text);
  CAF_RTM_FUZZ_CHECK_MSG(ns(got) == exact || got >= no_cap_below, text);
  // A later date never means a shorter wait (a wrapped-around value does).
  if (at + 86400 < 253402300800) { // before the year 10000
    auto later_text = format_date(static_cast<time_t>(at + 86400));
    auto later = parse_retry_after(later_text, now);
    CAF_RTM_FUZZ_CHECK_MSG(later.has_value(), later_text);
    CAF_RTM_FUZZ_CHECK_MSG(*later >= got, later_text);
  }
}

void check_retry_after(std::string_view text) {
  auto result = parse_retry_after(text, now);
  auto value = trim(text);
  if (!result) {
    // Refused: empty, garbage, or more than 9 digits. A plain small number
    // must not be refused.
    CAF_RTM_FUZZ_CHECK_MSG(
        value.empty() || !all_digits(value) || value.size() > 9, text);
    return;
  }
  CAF_RTM_FUZZ_CHECK_MSG(result->count() >= 0, text);
  CAF_RTM_FUZZ_CHECK_MSG(*result <= longest, text);
  if (all_digits(value)) {
    CAF_RTM_FUZZ_CHECK_MSG(
        *result == std::chrono::seconds{std::stoll(std::string{value})}, text);
    return;
  }
  check_date(text, value, *result);
}

// min(max_delay, initial_delay * 2^(attempt - 1)), in 128 bits.
__int128 exact_ceiling(const retry_policy& p, uint32_t attempt) {
  __int128 delay = p.initial_delay.count();
  for (uint32_t i = 1; i < attempt && delay < p.max_delay.count(); ++i)
    delay *= 2;
  return std::min<__int128>(delay, p.max_delay.count());
}

void check_backoff(FuzzedDataProvider& in) {
  retry_policy p;
  p.initial_delay = timespan{in.ConsumeIntegral<int64_t>()};
  p.max_delay = timespan{in.ConsumeIntegral<int64_t>()};
  auto attempt = in.ConsumeIntegral<uint32_t>();
  auto ceiling = backoff_ceiling(p, attempt);
  CAF_RTM_FUZZ_CHECK(ceiling <= p.max_delay);
  // What validate() lets through: positive delays, max >= initial.
  if (p.initial_delay.count() <= 0 || p.max_delay < p.initial_delay)
    return;
  CAF_RTM_FUZZ_CHECK(ceiling >= p.initial_delay);
  CAF_RTM_FUZZ_CHECK(ceiling.count() == exact_ceiling(p, attempt));
  if (attempt < std::numeric_limits<uint32_t>::max())
    CAF_RTM_FUZZ_CHECK(backoff_ceiling(p, attempt + 1) >= ceiling);
  std::minstd_rand rng{attempt};
  auto delay = backoff_delay(p, attempt, rng);
  CAF_RTM_FUZZ_CHECK(delay.count() >= 0 && delay <= ceiling);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_retry_after({reinterpret_cast<const char*>(data), size});
  FuzzedDataProvider in{data, size};
  check_backoff(in);
  return 0;
}
