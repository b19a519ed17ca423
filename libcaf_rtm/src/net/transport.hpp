// Opens a byte stream to an endpoint: resolve, TCP connect, optional HTTP
// CONNECT through a proxy, optional TLS handshake with peer verification. Both
// the Web API calls and the WebSocket sessions start here.

#pragma once

#include <functional>
#include <memory>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/field.hpp>

#include <caf/error.hpp>

#include "net/net_context.hpp"
#include "net/tls_stream.hpp"
#include "net/url.hpp"

namespace caf::rtm::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;

/// The result of an open: nothing (it failed), a plain or a TLS stream.
using opened_stream = std::variant<std::monostate, std::unique_ptr<tcp_stream>,
                                   std::unique_ptr<tls_stream>>;

/// True if `x` holds no stream.
inline bool empty(const opened_stream& x) noexcept {
  return std::holds_alternative<std::monostate>(x);
}

/// True if the stream holds bytes read from its socket that no read took
/// yet (OpenSSL reads ahead; a plain stream never does).
inline bool has_buffered_input(const tcp_stream&) noexcept {
  return false;
}

inline bool has_buffered_input(const tls_stream& x) noexcept {
  return x.has_buffered_input();
}

/// Moves the stream of type `Stream` out of `x` (null if `x` holds another).
template <class Stream>
std::unique_ptr<Stream> take_stream(opened_stream& x) {
  if (auto* ptr = std::get_if<std::unique_ptr<Stream>>(&x))
    return std::move(*ptr);
  return nullptr;
}

/// One open operation in progress.
class transport_open {
public:
  using handler_type = std::function<void(caf::error, opened_stream)>;

  virtual ~transport_open();

  /// Aborts the operation; the handler then receives `aborted`. Call on the
  /// operation's executor.
  virtual void cancel(caf::error reason) = 0;

  /// Starts opening a stream to `url` within `ctx.connect_timeout`. The
  /// handler runs once, on `ex`.
  static std::shared_ptr<transport_open> start(const executor_type& ex,
                                               const net_context& ctx,
                                               const endpoint_url& url,
                                               handler_type handler);
};

/// Maps an error of a stream operation to a caf-rtm error; `step` names what
/// failed (e.g. "read") in the context.
caf::error to_error(const boost::system::error_code& ec, const char* step);

/// Closes the TCP socket under any stream at once (no TLS close_notify).
void close_socket(tcp_stream& stream);

} // namespace caf::rtm::net
