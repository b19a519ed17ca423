// A workaround for CAF 0.17's TLS sessions (CAF::openssl) with OpenSSL 3.
//
// OpenSSL keeps a queue of errors per thread, and `SSL_get_error` answers
// "SSL error" for a read that would merely block whenever that queue holds
// anything: the queue must be empty before each TLS I/O call. CAF 0.17
// empties it only inside its log statements, and Debian's CAF is built with
// logging off. So after one failed TLS connection (a peer with a wrong
// certificate, a peer that closed without close_notify, which OpenSSL 3
// reports as an error) the next read of any other TLS connection on the
// same thread fails: a hub stops reading from every bot node, a bot with
// two hubs from the other one.
//
// These definitions take the place of OpenSSL's for the calls CAF makes
// (the dynamic linker binds an executable's symbols first), empty the queue
// and call OpenSSL's own. Emptying the queue before a TLS I/O call is what
// OpenSSL's documentation asks of every caller, so other users (Asio, in
// the client library) are not affected.

#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace caf::rtm::hub::detail {

namespace {

template <class F>
F next_definition(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

} // namespace

// Referenced by configure_node, so that the linker keeps this file.
void clear_openssl_errors_before_io() {
  ERR_clear_error();
}

} // namespace caf::rtm::hub::detail

using caf::rtm::hub::detail::next_definition;

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next_definition<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real =
      next_definition<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static auto real = next_definition<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_accept(SSL* ssl) {
  static auto real = next_definition<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

} // extern "C"
