// What the two halves of a fake Slack connection (http_session, ws_peer)
// share: namespace aliases, limits and the polite end of a connection.

#pragma once

#include <boost/asio/buffer.hpp>       // asio::buffer
#include <boost/asio/ip/tcp.hpp>       // tcp::socket
#include <boost/asio/ssl/stream.hpp>   // ssl::stream
#include <boost/asio/steady_timer.hpp> // asio::steady_timer

#include "wire.hpp"

#include <array>
#include <chrono>
#include <memory>
#include <type_traits>

namespace caf::rtm::testing::detail {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

/// Largest HTTP request body and WebSocket message the fake accepts.
constexpr std::size_t max_message_size = std::size_t{16} << 20;

template <class Stream>
constexpr bool is_tls_stream = !std::is_same_v<Stream, tcp::socket>;

/// Reads and discards until EOF or an error, then calls `done`.
template <class Done>
struct drain_op {
  tcp::socket& socket;
  std::shared_ptr<std::array<char, 4096>> buf;
  Done done;

  void operator()(error_code ec = {}, std::size_t = 0) {
    if (ec)
      return done(); // EOF expected
    socket.async_read_some(asio::buffer(*buf), std::move(*this));
  }
};

/// Ends a connection politely, then calls `done`: TLS close_notify, or a TCP
/// FIN after which what the client still sends is drained, so that closing
/// never resets a connection whose last bytes the client has not read yet.
/// `timer` bounds the wait to one second. `done` keeps the connection alive
/// and must tolerate a second call.
template <class Stream, class Done>
void graceful_shutdown(Stream& stream, asio::steady_timer& timer, Done done) {
  timer.expires_after(std::chrono::seconds(1));
  timer.async_wait([done](error_code ec) {
    if (!ec) // else cancelled: the connection ended otherwise
      done();
  });
  if constexpr (is_tls_stream<Stream>) {
    // Whatever the outcome (peer gone, no close_notify), we are done.
    stream.async_shutdown([done](error_code) { done(); });
  } else {
    error_code ec;
    stream.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      trace("shutdown", ec.message());
      return done();
    }
    drain_op<Done>{stream, std::make_shared<std::array<char, 4096>>(),
                   std::move(done)}();
  }
}

} // namespace caf::rtm::testing::detail
