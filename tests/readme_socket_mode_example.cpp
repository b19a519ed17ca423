// The Socket Mode example of README.md, compiled (not run) by the test suite
// so that the README stays true. Keep the two in sync.

#include <cstdlib>
#include <iostream>

#include "caf/rtm/all.hpp"
#include <caf/all.hpp>

namespace rtm = caf::rtm;

// Your app: an ordinary actor that receives rtm::envelope messages.
caf::behavior app(caf::event_based_actor* self,
                  const rtm::socket_mode_client_actor& client) {
  return {
      // The client acked the envelope already, unless it accepts a response
      // payload (slash commands, some interactions): then this handler's
      // answer becomes the ack; no answer within ack_deadline acks it empty.
      [=](const rtm::envelope& env) -> rtm::response {
        if (env.event_type() == "/hello") {
          rtm::json_object answer;
          answer.value = {
              {"text", "Hello, <@" + std::string{env.user()} + ">!"}};
          return answer;
        }
        if (env.event_type() == "app_mention") {
          // Web API calls go out with the bot token.
          rtm::api_args args{{"channel", std::string{env.channel()}},
                             {"text", "You called?"}};
          self->request(client, std::chrono::seconds{30}, rtm::call_atom_v,
                        std::string{"chat.postMessage"}, std::move(args))
              .then([](const rtm::json_object&) {},
                    [](const caf::error& err) {
                      std::cerr << rtm::render(err) << "\n";
                    });
        }
        return rtm::no_payload();
      },
      [](const rtm::connected& x) {
        std::cerr << "connection " << x.session << " up; Slack counts "
                  << x.num_connections << "\n";
      },
      [](const rtm::disconnected& x) {
        std::cerr << "connection " << x.session << " ended\n";
      },
      [](const rtm::connecting&) {},
      [](const rtm::reconnecting&) {},
      [](const rtm::error_event& x) {
        std::cerr << x.what << ": " << rtm::render(x.reason) << "\n";
      },
      [](const rtm::fatal_event& x) {
        std::cerr << "stopped: " << rtm::render(x.reason) << "\n";
      },
  };
}

struct config : caf::actor_system_config {
  config() {
    rtm::configure(*this, custom_options_);
  }
};

void caf_main(caf::actor_system& sys, const config& cfg) {
  auto opts = rtm::client_config::from(cfg);
  if (auto* token = std::getenv("SLACK_APP_TOKEN"))
    opts.app_token = token; // xapp-...: opens connections
  if (auto* token = std::getenv("SLACK_BOT_TOKEN"))
    opts.bot_token = token; // xoxb-...: Web API calls (optional)
  opts.connections = 2;     // redundancy and gapless refreshes
  auto client = sys.spawn(rtm::socket_mode_client, opts);
  auto listener = sys.spawn(app, client);
  caf::scoped_actor self{sys};
  // Envelope types (events_api, slash_commands, interactive) or inner types
  // (app_mention, /hello, block_actions, ...); "*" for all.
  self->request(client, caf::infinite, rtm::subscribe_atom_v, listener,
                std::vector<std::string>{"app_mention", "/hello"})
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->request(client, caf::infinite, rtm::subscribe_atom_v,
                rtm::lifecycle_atom_v, listener)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->request(client, std::chrono::seconds{60}, rtm::connect_atom_v)
      .receive(
          [](const rtm::connected& c) {
            std::cout << "app " << c.app_id << " is connected\n";
          },
          [](const caf::error& err) { std::cerr << rtm::render(err); });
  // ... later: stop for good; replies when every actor and socket is gone.
  self->request(client, caf::infinite, rtm::close_atom_v)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
}

CAF_MAIN()
