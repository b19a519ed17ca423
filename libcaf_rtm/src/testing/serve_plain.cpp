#include "serve.hpp"

#include "http_session.hpp"

namespace caf::rtm::testing::detail {

void serve_plain(std::shared_ptr<server_state> state, tcp::socket socket) {
  std::make_shared<http_session<tcp::socket>>(connection_slot{std::move(state)},
                                              std::move(socket))
      ->start();
}

} // namespace caf::rtm::testing::detail
