// One HTTP POST to the Web API: open a stream (transport) or take an idle one
// from a connection cache, send the request, read the response, then keep the
// stream in the cache or close it. Behind a non-template interface so that only
// plain_streams.cpp and tls_streams.cpp instantiate Beast's HTTP code.

#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "net/net_context.hpp"
#include "net/url.hpp"

namespace caf::rtm::net {

class connection_cache;

struct http_request_data {
  endpoint_url url;
  /// Shared with the call, which keeps it for its retries: not copied per
  /// attempt (an upload's bytes can be 100 MB). Null: an empty body.
  std::shared_ptr<const std::string> body;
  std::string content_type = "application/x-www-form-urlencoded";
  /// Value of the Authorization header (never logged).
  std::string authorization;
  /// Limit for the whole exchange, connect included.
  caf::timespan timeout;
  /// Largest response body accepted (`client_config::max_response_size`).
  size_t body_limit = size_t{4} * 1024 * 1024;
  /// A kept-alive connection that fails after the request went out may have
  /// delivered it: send it once more on a new connection only if repeating
  /// it is harmless.
  bool replay_safe = false;
  /// Idle keep-alive connections to reuse and to return this one to; null:
  /// one connection for this request only. The exchange runs on the cache's
  /// executor.
  std::shared_ptr<connection_cache> cache;
  /// With a cache: return the connection to it after the answer. Not set:
  /// an idle connection may serve this request, but none is kept after it.
  bool keep_connection = true;
  /// Set: the body goes out in slices of `progress_slice` bytes, and this
  /// runs (on the I/O thread) with 0 as each attempt starts writing, then
  /// after each slice with the body bytes written so far in this attempt.
  /// Null: the request is written in one go.
  std::function<void(uint64_t)> body_progress;
};

/// Body bytes written at most between two `body_progress` reports.
constexpr size_t progress_slice = size_t{64} * 1024;

struct http_response_data {
  /// Set when no complete response arrived.
  caf::error error;
  /// The whole request went out: a failure after that may have reached the
  /// server.
  bool sent = false;
  unsigned status = 0;
  std::string retry_after;
  std::string body;
};

/// An HTTP exchange in progress.
class http_call {
public:
  using handler_type = std::function<void(http_response_data)>;

  virtual ~http_call();

  /// Aborts the exchange; the handler then receives an error. Thread-safe.
  virtual void cancel() = 0;
};

using http_call_ptr = std::shared_ptr<http_call>;

/// A cache of idle keep-alive connections on one thread of `ctx`'s pool,
/// keeping at most `max_idle` connections for `idle_timeout` each.
std::shared_ptr<connection_cache>
make_connection_cache(const net_context& ctx, caf::timespan idle_timeout,
                      size_t max_idle);

/// Closes the idle connections of `cache` and every connection returned to it
/// later, then runs `done` (on an I/O thread). Thread-safe.
void shutdown_connection_cache(const std::shared_ptr<connection_cache>& cache,
                               std::function<void()> done);

/// Starts an exchange; `handler` runs once, on an I/O thread (or, for an
/// exchange whose operations were dropped without an answer, where its last
/// reference goes).
http_call_ptr start_http_post(const net_context& ctx, http_request_data req,
                              http_call::handler_type handler);

// Defined in plain_streams.cpp and tls_streams.cpp.
http_call_ptr start_plain_http_post(const net_context& ctx,
                                    http_request_data req,
                                    http_call::handler_type handler);
http_call_ptr start_tls_http_post(const net_context& ctx, http_request_data req,
                                  http_call::handler_type handler);

} // namespace caf::rtm::net
