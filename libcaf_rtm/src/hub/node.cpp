#include "caf/rtm/hub/node.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/type_ids.hpp"

namespace caf::rtm::hub {

namespace detail {

// openssl_errors.cpp: keeps CAF::openssl's reads working after a failed TLS
// connection.
void clear_openssl_errors_before_io();

} // namespace detail

namespace {

caf::error invalid(std::string what) {
  return make_error(errc::invalid_config, std::move(what));
}

// OpenSSL's reasons for the latest failure, oldest first.
std::string openssl_reason() {
  std::string result;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!result.empty())
      result += "; ";
    result += buf;
  }
  return result.empty() ? "unknown reason" : result;
}

caf::error unreadable(const char* what, const std::string& path) {
  if (path.empty())
    return invalid(std::string{"TLS needs "} + what +
                   " (certificate, key and CA: all three or none)");
  if (!std::ifstream{path})
    return invalid(std::string{"TLS "} + what + " " + path + " cannot be read");
  return caf::none;
}

// Hands OpenSSL the key's passphrase; with none, an encrypted key fails at
// once instead of OpenSSL asking on the terminal (a service has none).
int give_passphrase(char* buf, int size, int, void* userdata) {
  const auto* pass = static_cast<const std::string*>(userdata);
  if (pass->empty() || pass->size() > static_cast<size_t>(size))
    return 0;
  // OpenSSL takes the length: no terminating NUL.
  std::copy_n(pass->data(), pass->size(), buf);
  return static_cast<int>(pass->size());
}

} // namespace

caf::error check(const tls_files& files) {
  if (auto err = unreadable("certificate", files.cert))
    return err;
  if (auto err = unreadable("key", files.key))
    return err;
  if (auto err = unreadable("CA", files.ca))
    return err;
  // The same calls CAF::openssl makes for each connection, once up front:
  // it aborts the program on a file it cannot use.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
      SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    return invalid("TLS: " + openssl_reason());
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx.get(), give_passphrase);
  SSL_CTX_set_default_passwd_cb_userdata(
      ctx.get(), const_cast<std::string*>(&files.passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1)
    return invalid("TLS certificate " + files.cert + ": " + openssl_reason());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key.c_str(),
                                  SSL_FILETYPE_PEM) != 1)
    return invalid("TLS key " + files.key + ": " + openssl_reason());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return invalid("TLS key " + files.key + " does not belong to " +
                   files.cert);
  if (SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1)
    return invalid("TLS CA " + files.ca + ": " + openssl_reason());
  return caf::none;
}

caf::error configure_node(caf::actor_system_config& cfg,
                          const node_options& opts) {
  // CAF::openssl would trust every CA of the directory as well as the CA
  // file: any certificate of a public CA would get in.
  if (!cfg.openssl_capath.empty())
    return invalid("openssl.capath is not supported: peers must chain to the "
                   "one CA file (openssl.cafile)");
  if (opts.tls.enabled())
    if (auto err = check(opts.tls))
      return err;
  if (opts.heartbeat_interval.count() < 0 ||
      opts.connection_timeout.count() < 0)
    return invalid("heartbeat_interval and connection_timeout must not be "
                   "negative");
  add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", opts.heartbeat_interval);
  cfg.set("middleman.connection-timeout", opts.connection_timeout);
  if (opts.tls.enabled()) {
    // CAF::openssl reads these members (caf.openssl.* in a config file);
    // with any of them set it requires certificates on both sides.
    cfg.openssl_certificate = opts.tls.cert;
    cfg.openssl_key = opts.tls.key;
    cfg.openssl_cafile = opts.tls.ca;
    cfg.openssl_passphrase = opts.tls.passphrase;
    cfg.load<caf::openssl::manager>();
    detail::clear_openssl_errors_before_io();
  }
  return caf::none;
}

} // namespace caf::rtm::hub
