#include "connection.hpp"
#include "listener.hpp"

#include <boost/asio/ssl/context.hpp> // ssl::context

namespace caf::rtm::testing::detail {

void serve_tls(std::shared_ptr<server_state> state, tcp::socket socket,
               ssl::context& ctx) {
  std::make_shared<connection<ssl::stream<tcp::socket>>>(std::move(state),
                                                         std::move(socket), ctx)
      ->start();
}

} // namespace caf::rtm::testing::detail
