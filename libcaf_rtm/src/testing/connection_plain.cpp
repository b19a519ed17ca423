#include "connection.hpp"
#include "listener.hpp"

namespace caf::rtm::testing::detail {

void serve_plain(std::shared_ptr<server_state> state, tcp::socket socket) {
  std::make_shared<connection<tcp::socket>>(std::move(state), std::move(socket))
      ->start();
}

} // namespace caf::rtm::testing::detail
