// The outbound rate limiter: a token bucket. Slack disconnects clients that
// send more than about one message per second for long; a small burst is
// tolerated.

#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

#include <caf/timespan.hpp>

namespace caf::rtm::detail {

class token_bucket {
public:
  using clock_type = std::chrono::steady_clock;

  /// `rate` tokens per second, at most `burst` stored; starts full.
  token_bucket(double rate, size_t burst, clock_type::time_point now)
      : rate_(rate), burst_(static_cast<double>(burst)), tokens_(burst_),
        last_(now) {
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
    auto secs = (1.0 - tokens_) / rate_;
    return std::chrono::duration_cast<caf::timespan>(
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
