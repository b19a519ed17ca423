// Idle keep-alive connections of one web-API caller, so that its next request
// to the same host skips TCP, proxy and TLS set-up. Every member runs on the
// cache's executor (one I/O thread), which is also the executor of every
// exchange using the cache: no lock, and a stream never changes threads.

#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "net/transport.hpp"

namespace caf::rtm::net {

class connection_cache : public std::enable_shared_from_this<connection_cache> {
public:
  using clock_type = std::chrono::steady_clock;

  /// Keeps at most `max_idle` streams, each for at most `idle_timeout`.
  connection_cache(const executor_type& ex, caf::timespan idle_timeout,
                   size_t max_idle);
  ~connection_cache();

  executor_type executor() const noexcept {
    return ex_;
  }

  /// The cache key of an endpoint: scheme, host and port.
  static std::string key_of(const endpoint_url& url);

  /// The most recently used idle stream to `key` that the peer has not closed
  /// since; an empty result when there is none.
  opened_stream take(const std::string& key);

  /// Keeps `stream` (after a complete keep-alive response, no operation
  /// pending on it) for the next request to `key`.
  void put(const std::string& key, opened_stream stream);

  /// Closes every idle stream now and every stream put later, then runs
  /// `done` (on the executor).
  void shutdown(const std::function<void()>& done);

private:
  struct entry {
    std::string key;
    opened_stream stream;
    clock_type::time_point expires;
  };

  void arm_timer();
  void on_timer(const boost::system::error_code& ec);

  executor_type ex_;
  caf::timespan idle_timeout_;
  size_t max_idle_;
  // Oldest first.
  std::deque<entry> idle_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool down_ = false;
};

} // namespace caf::rtm::net
