// The deadline a `max_wait` sets (a send's, a Web API call's, an upload's):
// one rule for all of them.

#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"

namespace caf::rtm::detail {

/// `max_wait` from `now`; none for 0 or a wait above
/// `client_config::max_wait_limit` (no limit: a year or more is a way to
/// say "forever", and the sum would overflow the clock).
template <class TimePoint>
std::optional<TimePoint> wait_deadline(TimePoint now, caf::timespan max_wait) {
  if (max_wait.count() <= 0 || max_wait > client_config::max_wait_limit)
    return std::nullopt;
  return now +
         std::chrono::duration_cast<typename TimePoint::duration>(max_wait);
}

/// `invalid_argument` for a negative `max_wait` of `what` ("send",
/// "file_upload", ...); none otherwise.
inline caf::error check_max_wait(caf::timespan max_wait, const char* what) {
  if (max_wait.count() < 0)
    return make_error(errc::invalid_argument,
                      std::string{what} + " with a negative max_wait");
  return {};
}

} // namespace caf::rtm::detail
