// Spawns a client from the installed package, connects it to the installed
// fake Slack and waits for hello. Exit status 0 on success.

#include <iostream>

#include <caf/all.hpp>

#include "caf/rtm/all.hpp"
#include "caf/rtm/testing/fake_slack.hpp"

int main() {
  caf::rtm::testing::fake_slack srv;
  caf::actor_system_config cfg;
  caf::rtm::add_message_types(cfg);
  caf::actor_system sys{cfg};
  caf::rtm::client_config rtm_cfg;
  rtm_cfg.token = srv.options().token;
  rtm_cfg.base_url = srv.base_url();
  rtm_cfg.proxy_from_environment = false;
  auto rtm = sys.spawn(caf::rtm::rtm_client, rtm_cfg);
  caf::scoped_actor self{sys, true};
  int rc = 1;
  self->request(rtm, std::chrono::seconds{10}, caf::rtm::connect_atom_v)
      .receive(
          [&](caf::rtm::connected& info) {
            std::cout << "connected: session " << info.session << "\n";
            rc = 0;
          },
          [&](caf::error& err) {
            std::cerr << "connect failed: " << caf::rtm::render(err) << "\n";
          });
  self->request(rtm, std::chrono::seconds{10}, caf::rtm::close_atom_v)
      .receive([](caf::ok_atom) {}, [&](caf::error&) { rc = 1; });
  return rc;
}
