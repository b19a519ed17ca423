#include "net/net_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <map>
#include <mutex>

#include "caf/rtm/errc.hpp"

namespace ssl = boost::asio::ssl;

namespace caf::rtm::net {

namespace {

caf::expected<std::shared_ptr<ssl::context>>
make_tls_context(const std::string& ca_file, const logger_ptr& log) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  tls->set_default_verify_paths(ec);
  if (ec)
    CAF_RTM_LOG(log, warn, "tls", "no system CA store: ", ec.message());
  if (!ca_file.empty()) {
    tls->load_verify_file(ca_file, ec);
    if (ec)
      return make_error(errc::invalid_config,
                        "ca_file " + ca_file + ": " + ec.message());
  }
  tls->set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  // An idle connection (most of a client's life) then holds no read and
  // write buffers (about 34 KB each): they come back with the next record.
  SSL_CTX_set_mode(tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  return tls;
}

// A TLS context holds the parsed CA store (hundreds of KB): clients with the
// same CA file share one, for as long as any of them uses it.
caf::expected<std::shared_ptr<ssl::context>>
shared_tls_context(const std::string& ca_file, const logger_ptr& log) {
  static std::mutex mtx;
  static std::map<std::string, std::weak_ptr<ssl::context>> cache;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto ptr = cache[ca_file].lock())
    return ptr;
  auto ptr = make_tls_context(ca_file, log);
  if (ptr)
    cache[ca_file] = *ptr;
  return ptr;
}

// The version comes from CMake's project(); a build without it still says
// who it is.
#ifndef CAF_RTM_VERSION
#  define CAF_RTM_VERSION "0"
#endif

std::string user_agent(const client_config& cfg) {
  std::string result = "caf-rtm/" CAF_RTM_VERSION;
  if (!cfg.user_agent_suffix.empty()) {
    result += ' ';
    result += cfg.user_agent_suffix;
  }
  return result;
}

} // namespace

caf::expected<net_context_ptr> make_net_context(const client_config& cfg,
                                                logger_ptr log) {
  auto proxy = make_proxy_settings(cfg, true);
  if (!proxy)
    return std::move(proxy.error());
  auto plain_proxy = make_proxy_settings(cfg, false);
  if (!plain_proxy)
    return std::move(plain_proxy.error());
  auto tls = shared_tls_context(cfg.ca_file, log);
  if (!tls)
    return std::move(tls.error());
  auto result = std::make_shared<net_context>();
  try {
    result->pool = io_pool::shared(cfg.io_threads);
  } catch (const std::exception& e) {
    // E.g. a thread limit: an error for the caller, not std::terminate.
    return make_error(errc::connect_failed,
                      std::string{"cannot start the I/O threads: "} + e.what());
  }
  result->tls = std::move(*tls);
  result->proxy = std::move(*proxy);
  result->plain_proxy = std::move(*plain_proxy);
  result->connect_timeout = cfg.connect_timeout;
  result->log = std::move(log);
  result->user_agent = user_agent(cfg);
  result->extra_headers = cfg.extra_headers;
  return net_context_ptr{std::move(result)};
}

} // namespace caf::rtm::net
