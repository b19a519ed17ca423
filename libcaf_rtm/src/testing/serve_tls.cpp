#include "serve.hpp"

#include "http_session.hpp"

#include <boost/asio/ssl/context.hpp> // ssl::context

namespace caf::rtm::testing::detail {

void serve_tls(std::shared_ptr<server_state> state, tcp::socket socket,
               ssl::context& ctx) {
  using stream = ssl::stream<tcp::socket>;
  std::make_shared<http_session<stream>>(connection_slot{std::move(state)},
                                         std::move(socket), ctx)
      ->start();
}

} // namespace caf::rtm::testing::detail
