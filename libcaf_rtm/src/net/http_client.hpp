// One HTTP POST to the Web API: open a stream (transport), send the request,
// read the response, close. Behind a non-template interface so that only
// plain_streams.cpp and tls_streams.cpp instantiate Beast's HTTP code.

#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "net/net_context.hpp"
#include "net/url.hpp"

namespace caf::rtm::net {

struct http_request_data {
  endpoint_url url;
  std::string body;
  std::string content_type = "application/x-www-form-urlencoded";
  /// Value of the Authorization header (never logged).
  std::string authorization;
  /// Limit for the whole exchange, connect included.
  caf::timespan timeout;
  /// Largest response body accepted.
  size_t body_limit = size_t{64} * 1024 * 1024;
};

struct http_response_data {
  /// Set when no complete response arrived.
  caf::error error;
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

/// Starts an exchange; `handler` runs once, on an I/O thread.
http_call_ptr start_http_post(const net_context& ctx, http_request_data req,
                              http_call::handler_type handler);

// Defined in plain_streams.cpp and tls_streams.cpp.
http_call_ptr start_plain_http_post(const net_context& ctx,
                                    http_request_data req,
                                    http_call::handler_type handler);
http_call_ptr start_tls_http_post(const net_context& ctx, http_request_data req,
                                  http_call::handler_type handler);

} // namespace caf::rtm::net
