// TLS over a TCP socket with OpenSSL reading and writing the socket itself.
//
// Asio's ssl::stream runs OpenSSL against memory BIOs and keeps four buffers
// of 17 KB per stream for good (its own input and output buffers and the BIO
// pair), about 70 KB on every idle connection. Here OpenSSL does the socket
// I/O itself (through a small BIO of ours, see tls_stream.cpp):
// with SSL_MODE_RELEASE_BUFFERS an idle stream holds no record buffer at all,
// and waiting for data is an async_wait on the socket, not a pending read into
// a buffer. Each operation tries OpenSSL first and waits for the socket only
// when OpenSSL asks for it, so records OpenSSL read ahead are never missed.
//
// Client side only. Handlers of one stream must never run concurrently (all
// of caf-rtm's run on one I/O thread): OpenSSL's state is not guarded
// otherwise. The stream may move (into a WebSocket stream) only while no
// operation is pending.

#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

namespace caf::rtm::net {

/// Every stream of caf-rtm runs on one thread of the I/O pool (its context
/// has that thread alone), so handlers of one stream never run concurrently.
using executor_type = boost::asio::io_context::executor_type;

/// A plain socket on that executor. Beast's basic_stream would add timeouts,
/// which nothing here uses (each operation has a deadline timer of its own),
/// and a shared state copied into every read and write.
using tcp_stream =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;

class tls_stream {
public:
  using error_code = boost::system::error_code;
  using executor_type = net::executor_type;
  using next_layer_type = tcp_stream;

  /// What an attempt at an OpenSSL call needs before it can go on.
  enum class step { done, want_read, want_write };

  /// Takes over a connected socket. If OpenSSL cannot set up its state, the
  /// handshake fails.
  tls_stream(tcp_stream&& next, boost::asio::ssl::context& ctx);

  /// Moves only while no operation is pending (OpenSSL's state stays put).
  tls_stream(tls_stream&&) noexcept = default;
  tls_stream& operator=(tls_stream&&) noexcept = default;

  executor_type get_executor() {
    return next_.get_executor();
  }

  tcp_stream& next_layer() noexcept {
    return next_;
  }

  SSL* native_handle() noexcept {
    return st_->ssl;
  }

  /// Runs the client handshake; `handler(error_code)`.
  template <class Handler>
  auto async_handshake(Handler&& handler) {
    return run<void(error_code)>(
        [this](error_code& ec, size_t&) { return try_handshake(ec); },
        [](error_code ec, size_t) { return ec; },
        std::forward<Handler>(handler));
  }

  /// Reads some bytes into the first non-empty buffer of `buffers`.
  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    auto buf = first_non_empty<boost::asio::mutable_buffer>(buffers);
    return run<void(error_code, size_t)>(
        [this, buf](error_code& ec, size_t& n) {
          return try_read(buf.data(), buf.size(), n, ec);
        },
        [](error_code ec, size_t n) { return std::make_pair(ec, n); },
        std::forward<Handler>(handler));
  }

  /// Writes some bytes of `buffers`. Several small buffers (a WebSocket
  /// header and its payload) go out together, as one record.
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    auto buf = gather(buffers);
    return run<void(error_code, size_t)>(
        [this, buf](error_code& ec, size_t& n) {
          return try_write(buf.data(), buf.size(), n, ec);
        },
        [](error_code ec, size_t n) { return std::make_pair(ec, n); },
        std::forward<Handler>(handler));
  }

  /// Sends a close_notify if the socket takes it at once; never waits.
  void send_close_notify() noexcept;

  /// OpenSSL holds bytes read from the socket that no read took yet.
  bool has_buffered_input() const noexcept;

  /// What OpenSSL's I/O on the socket needs to know.
  struct socket_state {
    int fd = -1;
    /// The peer ended the TCP stream.
    bool eof = false;
  };

private:
  // The socket was closed under the stream (a timeout, an abort): its
  // descriptor number may belong to another connection by now, so OpenSSL
  // must not touch it again.
  bool closed(error_code& ec);

  step try_handshake(error_code& ec);
  step try_read(void* data, size_t size, size_t& n, error_code& ec);
  // What reads and writes share: `call(ssl, &n)` is SSL_read_ex or
  // SSL_write_ex on the caller's bytes.
  template <class Call>
  step try_transfer(size_t size, size_t& n, error_code& ec, Call call);
  step try_write(const void* data, size_t size, size_t& n, error_code& ec);

  // Maps the result of an OpenSSL call to a step or an error.
  step classify(int ret, error_code& ec);

  template <class Buffer, class Buffers>
  static Buffer first_non_empty(const Buffers& buffers) {
    auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto i = boost::asio::buffer_sequence_begin(buffers); i != end; ++i)
      if (Buffer buf{*i}; buf.size() > 0)
        return buf;
    return Buffer{};
  }

  // One buffer as it is; several are copied into `gathered_` up to the size
  // of one TLS record. A retried write passes OpenSSL the same bytes again:
  // the copy lives until the write completed.
  template <class Buffers>
  boost::asio::const_buffer gather(const Buffers& buffers) {
    auto begin = boost::asio::buffer_sequence_begin(buffers);
    auto end = boost::asio::buffer_sequence_end(buffers);
    size_t count = 0;
    for (auto i = begin; i != end; ++i)
      if (boost::asio::const_buffer{*i}.size() > 0)
        ++count;
    if (count <= 1)
      return first_non_empty<boost::asio::const_buffer>(buffers);
    auto& out = st_->gathered;
    out.clear();
    for (auto i = begin; i != end && out.size() < max_record; ++i) {
      boost::asio::const_buffer buf{*i};
      auto take = std::min(buf.size(), max_record - out.size());
      out.append(static_cast<const char*>(buf.data()), take);
    }
    return boost::asio::buffer(out);
  }

  // One operation: attempt, wait for the socket as OpenSSL asks, attempt
  // again. The handler never runs inside the initiating call.
  template <class Signature, class Attempt, class Result, class Handler>
  auto run(Attempt attempt, Result result, Handler&& handler) {
    return boost::asio::async_compose<Handler, Signature>(
        [this, attempt, result, started = false, finished = false,
         ec = error_code{},
         n = size_t{0}](auto& self, error_code wait_ec = {}) mutable {
          if (finished)
            return complete(self, result(ec, n));
          if (wait_ec) {
            ec = wait_ec;
            n = 0;
          } else {
            auto what = attempt(ec, n);
            if (what != step::done) {
              started = true;
              next_.async_wait(what == step::want_read
                                   ? boost::asio::socket_base::wait_read
                                   : boost::asio::socket_base::wait_write,
                               std::move(self));
              return;
            }
          }
          if (!started) {
            finished = true;
            boost::asio::post(get_executor(), std::move(self));
            return;
          }
          complete(self, result(ec, n));
        },
        handler, *this);
  }

  template <class Self>
  static void complete(Self& self, error_code ec) {
    self.complete(ec);
  }

  template <class Self>
  static void complete(Self& self, std::pair<error_code, size_t> x) {
    self.complete(x.first, x.second);
  }

  /// Bytes of application data in one TLS record.
  static constexpr size_t max_record = 16384;

  tcp_stream next_;
  // On the heap: OpenSSL's BIO points at `sock`, and the stream moves.
  struct state {
    state() = default;
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state();

    socket_state sock;
    SSL* ssl = nullptr;
    /// OpenSSL reported a fatal error: no close_notify may follow.
    bool failed = false;
    std::string gathered;
  };

  std::unique_ptr<state> st_;
};

/// Tears the stream down for a closing WebSocket: a close_notify if it can
/// go out at once, then the TCP teardown.
template <class Handler>
void async_teardown(boost::beast::role_type role, tls_stream& stream,
                    Handler&& handler) {
  stream.send_close_notify();
  boost::beast::websocket::async_teardown(role, stream.next_layer(),
                                          std::forward<Handler>(handler));
}

} // namespace caf::rtm::net
