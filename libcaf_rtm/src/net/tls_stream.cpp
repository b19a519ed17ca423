#include "net/tls_stream.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>

namespace caf::rtm::net {

namespace asio = boost::asio;

namespace {

// OpenSSL's own socket BIO writes with write(2): a peer gone away would raise
// SIGPIPE in a process that did not ignore it. This one sends with
// MSG_NOSIGNAL and otherwise behaves alike.
using socket_state = tls_stream::socket_state;

socket_state& state_of(BIO* bio) {
  return *static_cast<socket_state*>(BIO_get_data(bio));
}

bool would_block(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

int bio_write(BIO* bio, const char* data, size_t size, size_t* written) {
  BIO_clear_retry_flags(bio);
  auto n = ::send(state_of(bio).fd, data, size, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<size_t>(n);
    return 1;
  }
  if (would_block(errno))
    BIO_set_retry_write(bio);
  return 0;
}

int bio_read(BIO* bio, char* data, size_t size, size_t* got) {
  BIO_clear_retry_flags(bio);
  auto& st = state_of(bio);
  auto n = ::recv(st.fd, data, size, 0);
  if (n > 0) {
    *got = static_cast<size_t>(n);
    return 1;
  }
  if (n == 0)
    st.eof = true; // OpenSSL tells a truncated stream by BIO_eof
  else if (would_block(errno))
    BIO_set_retry_read(bio);
  return 0;
}

long bio_ctrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_EOF:
    return state_of(bio).eof ? 1 : 0;
  default:
    return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy(BIO*) {
  return 1;
}

BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    auto* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                           "caf-rtm socket");
    if (m != nullptr) {
      BIO_meth_set_write_ex(m, bio_write);
      BIO_meth_set_read_ex(m, bio_read);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
      BIO_meth_set_destroy(m, bio_destroy);
    }
    return m;
  }();
  return method;
}

} // namespace

tls_stream::tls_stream(tcp_stream&& next, asio::ssl::context& ctx)
    : next_(std::move(next)), st_(std::make_unique<state>()) {
  auto*& ssl = st_->ssl;
  ssl = SSL_new(ctx.native_handle());
  if (ssl == nullptr)
    return; // try_handshake reports it
  // Whole socket buffers at once instead of each record header first.
  SSL_set_read_ahead(ssl, 1);
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                        SSL_MODE_RELEASE_BUFFERS);
  SSL_set_connect_state(ssl);
  error_code ec;
  next_.non_blocking(true, ec);
  auto* method = socket_method();
  auto* bio = method != nullptr && !ec ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    SSL_free(ssl);
    ssl = nullptr;
    return;
  }
  // The BIO does not close the descriptor: the socket object does.
  st_->sock.fd = static_cast<int>(next_.native_handle());
  BIO_set_data(bio, &st_->sock);
  SSL_set_bio(ssl, bio, bio); // one reference, now the SSL object's
}

tls_stream::state::~state() {
  if (ssl != nullptr)
    SSL_free(ssl);
}

bool tls_stream::closed(error_code& ec) {
  if (next_.is_open())
    return false;
  ec = asio::error::bad_descriptor;
  return true;
}

bool tls_stream::has_buffered_input() const noexcept {
  return st_ && st_->ssl != nullptr && SSL_has_pending(st_->ssl) == 1;
}

void tls_stream::send_close_notify() noexcept {
  // OpenSSL forbids a shutdown after a fatal error.
  if (!st_ || st_->ssl == nullptr || st_->failed ||
      SSL_is_init_finished(st_->ssl) != 1 || !next_.is_open())
    return;
  ERR_clear_error();
  SSL_shutdown(st_->ssl);
  ERR_clear_error();
}

tls_stream::step tls_stream::try_handshake(error_code& ec) {
  if (st_->ssl == nullptr) {
    ec = asio::error::no_memory;
    return step::done;
  }
  if (closed(ec))
    return step::done;
  ERR_clear_error();
  auto ret = SSL_do_handshake(st_->ssl);
  if (ret == 1)
    return step::done;
  return classify(ret, ec);
}

template <class Call>
tls_stream::step tls_stream::try_transfer(size_t size, size_t& n,
                                          error_code& ec, Call call) {
  n = 0;
  if (size == 0 || closed(ec))
    return step::done;
  ERR_clear_error();
  if (call(st_->ssl, &n) == 1)
    return step::done;
  n = 0;
  return classify(0, ec);
}

tls_stream::step tls_stream::try_read(void* data, size_t size, size_t& n,
                                      error_code& ec) {
  return try_transfer(size, n, ec, [data, size](SSL* ssl, size_t* got) {
    return SSL_read_ex(ssl, data, size, got);
  });
}

tls_stream::step tls_stream::try_write(const void* data, size_t size, size_t& n,
                                       error_code& ec) {
  return try_transfer(size, n, ec, [data, size](SSL* ssl, size_t* written) {
    return SSL_write_ex(ssl, data, size, written);
  });
}

tls_stream::step tls_stream::classify(int ret, error_code& ec) {
  auto sys_errno = errno;
  switch (SSL_get_error(st_->ssl, ret)) {
  case SSL_ERROR_WANT_READ:
    return step::want_read;
  case SSL_ERROR_WANT_WRITE:
    return step::want_write;
  case SSL_ERROR_ZERO_RETURN: // the peer's close_notify
    ec = asio::error::eof;
    return step::done;
  case SSL_ERROR_SYSCALL:
    st_->failed = true;
    if (ERR_peek_error() == 0 && sys_errno != 0)
      ec = error_code{sys_errno, boost::system::system_category()};
    else // the socket ended without a close_notify
      ec = asio::ssl::error::stream_truncated;
    return step::done;
  default: {
    st_->failed = true;
    auto code = ERR_get_error();
    if (code == 0) // a result this stream never asks for
      ec = asio::ssl::error::unexpected_result;
    else if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      ec = asio::ssl::error::stream_truncated;
    else
      ec = error_code{static_cast<int>(code), asio::error::get_ssl_category()};
    return step::done;
  }
  }
}

} // namespace caf::rtm::net
