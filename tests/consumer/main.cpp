// Spawns both clients from the installed package, connects each to the
// installed fake Slack and waits for hello; prepares a hub node's config.
// Exit status 0 on success.

#include <iostream>

#include <caf/all.hpp>

#include "caf/rtm/all.hpp"
#include "caf/rtm/hub/all.hpp"
#include "caf/rtm/testing/fake_slack.hpp"

namespace {

// Connects `client`, then closes it: true if both worked.
template <class Handle>
bool connect_and_close(caf::actor_system& sys, const Handle& client,
                       const char* name) {
  caf::scoped_actor self{sys, true};
  bool ok = false;
  self->request(client, std::chrono::seconds{10}, caf::rtm::connect_atom_v)
      .receive(
          [&](caf::rtm::connected& info) {
            std::cout << name << " connected: session " << info.session
                      << "\n";
            ok = true;
          },
          [&](caf::error& err) {
            std::cerr << name << " connect failed: " << caf::rtm::render(err)
                      << "\n";
          });
  self->request(client, std::chrono::seconds{10}, caf::rtm::close_atom_v)
      .receive([](caf::ok_atom) {}, [&](caf::error&) { ok = false; });
  return ok;
}

} // namespace

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
  caf::rtm::client_config sm_cfg;
  sm_cfg.app_token = srv.options().app_token;
  sm_cfg.base_url = srv.base_url();
  sm_cfg.proxy_from_environment = false;
  auto sm = sys.spawn(caf::rtm::socket_mode_client, sm_cfg);
  auto ok = connect_and_close(sys, rtm, "RTM");
  ok = connect_and_close(sys, sm, "Socket Mode") && ok;
  // A hub or bot node's config, made as the README shows (not started).
  caf::actor_system_config node_cfg;
  if (auto err = caf::rtm::hub::configure_node(node_cfg)) {
    std::cerr << "configure_node failed: " << caf::rtm::render(err) << "\n";
    ok = false;
  }
  return ok ? 0 : 1;
}
