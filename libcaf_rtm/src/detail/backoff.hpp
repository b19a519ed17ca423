// Retry timing shared by the Web API caller and the supervisor.

#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include <caf/timespan.hpp>

#include "caf/rtm/client_config.hpp"

namespace caf::rtm::detail {

/// The ceiling of the backoff before attempt `attempt + 1` (attempt >= 1):
/// min(max_delay, initial_delay * 2^(attempt - 1)), without overflow and in
/// constant time for any attempt. A negative initial_delay counts as 0.
caf::timespan backoff_ceiling(const retry_policy& policy, uint32_t attempt);

/// Full jitter: a delay drawn uniformly from [0, backoff_ceiling]. Spreads the
/// reconnects of many clients instead of synchronising them.
template <class RandomEngine>
caf::timespan backoff_delay(const retry_policy& policy, uint32_t attempt,
                            RandomEngine& rng) {
  auto ceiling = backoff_ceiling(policy, attempt).count();
  // Only a negative max_delay (refused by validate()) gives a negative
  // ceiling; the distribution needs [0, ceiling] to be a range.
  if (ceiling <= 0)
    return caf::timespan{0};
  std::uniform_int_distribution<int64_t> dist{0, ceiling};
  return caf::timespan{dist(rng)};
}

/// The longest `Retry-After` a reconnect honours: a larger one is a server's
/// mistake, and the client would look dead.
constexpr caf::timespan max_reconnect_retry_after = std::chrono::minutes{5};

/// The most a `Retry-After` is lengthened by. Slack says it in whole seconds,
/// so clients refused in the same second (processes of one app, a hub's
/// workspaces) are told the same instant; each adds its own part of a second
/// and they come back spread over it instead of all at once.
constexpr caf::timespan retry_after_spread = std::chrono::seconds{1};

/// A delay drawn uniformly from [0, retry_after_spread], added to a wait a
/// server asked for.
template <class RandomEngine>
caf::timespan retry_after_jitter(RandomEngine& rng) {
  std::uniform_int_distribution<int64_t> dist{0, retry_after_spread.count()};
  return caf::timespan{dist(rng)};
}

/// A refusal that says when to come back (an HTTP 429 with `Retry-After`):
/// `errc::rate_limited` with `what` and, if there is one, the wait as its
/// last context element.
caf::error rate_limited_error(std::string what,
                              std::optional<caf::timespan> wait);

/// The wait a `rate_limited_error` asked for, if any.
std::optional<caf::timespan> retry_after_of(const caf::error& err);

/// Parses a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110).
/// Returns the delay from `now`, never negative; nullopt if unparsable.
std::optional<caf::timespan>
parse_retry_after(std::string_view value,
                  std::chrono::system_clock::time_point now =
                      std::chrono::system_clock::now());

} // namespace caf::rtm::detail
