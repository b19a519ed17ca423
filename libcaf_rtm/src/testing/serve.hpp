// Entry points from the acceptor into the connection code, one per stream
// type, each compiled in its own translation unit (serve_plain.cpp,
// serve_tls.cpp) because the Beast instantiations are heavy.

#pragma once

#include "server_state.hpp"

#include <boost/asio/ip/tcp.hpp> // tcp::socket

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace caf::rtm::testing::detail {

/// Serves an accepted plain TCP connection.
void serve_plain(std::shared_ptr<server_state> state,
                 boost::asio::ip::tcp::socket socket);

/// Serves an accepted connection over TLS, handshake first.
void serve_tls(std::shared_ptr<server_state> state,
               boost::asio::ip::tcp::socket socket,
               boost::asio::ssl::context& ctx);

} // namespace caf::rtm::testing::detail
