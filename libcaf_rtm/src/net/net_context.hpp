// What every network operation of one client needs: the I/O pool, the TLS
// settings, the proxy and the logger. Actors own it; operations copy the parts
// they use, so an operation never keeps the pool alive.

#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/logger.hpp"
#include "net/io_pool.hpp"
#include "net/url.hpp"

namespace caf::rtm::net {

struct net_context {
  std::shared_ptr<io_pool> pool;
  std::shared_ptr<boost::asio::ssl::context> tls;
  /// For TLS targets (https, wss) and for plain ones (http, ws).
  proxy_settings proxy;
  proxy_settings plain_proxy;
  caf::timespan connect_timeout;
  logger_ptr log;
  /// "caf-rtm/<version>", plus the configured suffix.
  std::string user_agent = "caf-rtm";
  /// Sent with every Web API request (not with WebSocket handshakes).
  std::vector<std::pair<std::string, std::string>> extra_headers;
  /// Set: answers every name lookup (host, port) in place of the system's
  /// resolver, addresses in the order to try. For tests: the system's
  /// answers cannot be chosen (an address that drops packets first, say).
  std::function<std::vector<boost::asio::ip::tcp::endpoint>(const std::string&,
                                                            const std::string&)>
      resolve;
};

using net_context_ptr = std::shared_ptr<const net_context>;

/// Builds the context of a client; fails on an unreadable CA file or a bad
/// proxy URL.
caf::expected<net_context_ptr> make_net_context(const client_config& cfg,
                                                logger_ptr log);

} // namespace caf::rtm::net
