// The outbound rate limiter: a token bucket. Slack disconnects clients that
// send more than about one message per second for long; a small burst is
// tolerated.

#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>

#include <caf/timespan.hpp>

namespace caf::rtm::detail {

class token_bucket {
public:
  using clock_type = std::chrono::steady_clock;

  /// The longest time_to_next: what a tiny rate would make longer (1e-11
  /// per second: 3,000 years, past what a timespan holds) waits this long,
  /// then asks again.
  static constexpr caf::timespan max_wait = std::chrono::hours{24};

  /// `rate` tokens per second, at most `burst` stored; starts full. A rate
  /// that is not positive and finite (validate() refuses it) never refills.
  token_bucket(double rate, size_t burst, clock_type::time_point now)
      : rate_(std::isfinite(rate) && rate > 0.0 ? rate : 0.0),
        burst_(static_cast<double>(burst)), tokens_(burst_), last_(now) {
    // nop
  }

  /// Takes one token if there is one.
  bool try_take(clock_type::time_point now) {
    refill(now);
    if (tokens_ < 1.0)
      return false;
    tokens_ -= 1.0;
    return true;
  }

  /// Time until the next token is available (0 if one is).
  caf::timespan time_to_next(clock_type::time_point now) {
    refill(now);
    if (tokens_ >= 1.0)
      return caf::timespan{0};
    // Compared in double before any conversion: a double too large for a
    // timespan (or inf, for rate 0) converts with undefined behaviour.
    auto secs = (1.0 - tokens_) / rate_;
    constexpr auto max_secs = std::chrono::duration<double>{max_wait}.count();
    if (!(secs < max_secs))
      return max_wait;
    // Rounded up, and a nanosecond more: after the wait the token is there
    // (rounded down, a rate such as 1e9/1008 per second left 0.9999999999999999
    // tokens after it, and the sender woke again a nanosecond later).
    return std::chrono::ceil<caf::timespan>(
               std::chrono::duration<double>{secs}) +
           caf::timespan{1};
  }

  double tokens(clock_type::time_point now) {
    refill(now);
    return tokens_;
  }

private:
  void refill(clock_type::time_point now) {
    if (now <= last_)
      return;
    std::chrono::duration<double> elapsed = now - last_;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    last_ = now;
  }

  double rate_;
  double burst_;
  double tokens_;
  clock_type::time_point last_;
};

} // namespace caf::rtm::detail
