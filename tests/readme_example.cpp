// The usage example of README.md, compiled (not run) by the test suite so
// that the README stays true. Keep the two in sync.

#include <cstdlib>
#include <iostream>

#include "caf/rtm/all.hpp"
#include <caf/all.hpp>

namespace rtm = caf::rtm;

// Your listener: an ordinary actor that receives rtm::event messages.
caf::behavior greeter(caf::event_based_actor* self,
                      rtm::rtm_client_actor client) {
  return {
      [=](const rtm::event& ev) {
        // type(), subtype(), channel(), user(), bot_id(), ts() are views into
        // the JSON parsed once and shared by every subscriber; json() is all.
        if (ev.json().contains("text") && ev.json().at("text") == "hi") {
          rtm::json_object reply;
          reply.value = {{"type", "message"},
                         {"channel", std::string{ev.channel()}},
                         {"text", "hello!"}};
          // The client sets the id and replies with Slack's ack.
          self->request(client, std::chrono::seconds{30}, rtm::send_atom_v,
                        std::move(reply))
              .then(
                  [](const rtm::send_ack& ack) {
                    std::cout << "posted " << ack.ts << "\n";
                  },
                  [](const caf::error& err) {
                    // send_rejected, ack_timeout, delivery_unknown,
                    // send_queue_full, message_too_large, ... never silent.
                    std::cerr << rtm::render(err) << "\n";
                  });
        }
      },
      [](const rtm::connected& x) {
        std::cerr << "session " << x.session << " up\n";
      },
      [](const rtm::disconnected& x) {
        std::cerr << rtm::render(x.cause) << "\n";
      },
      [](const rtm::fatal_event& x) {
        std::cerr << "stopped: " << rtm::render(x.reason) << "\n";
      },
  };
}

struct config : caf::actor_system_config {
  config() {
    // Message types, error category, and the caf-rtm.* options
    // (config file and command line).
    rtm::configure(*this, custom_options_);
  }
};

void caf_main(caf::actor_system& sys, const config& cfg) {
  auto opts = rtm::client_config::from(cfg); // or fill the struct yourself
  if (auto* token = std::getenv("SLACK_BOT_TOKEN"))
    opts.token = token;
  auto client = sys.spawn(rtm::rtm_client, opts);
  auto listener = sys.spawn(greeter, client);
  caf::scoped_actor self{sys};
  // Events of these types ("*" for all) go to the listener as rtm::event.
  self->request(client, caf::infinite, rtm::subscribe_atom_v, listener,
                std::vector<std::string>{"message"})
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  // Lifecycle messages (connecting, connected, disconnected, reconnecting,
  // error_event, fatal_event) go only to actors that ask for them.
  self->request(client, caf::infinite, rtm::subscribe_atom_v,
                rtm::lifecycle_atom_v, listener)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  // A callback, run on the client's listener pool (the seed's on(type)).
  rtm::callback_listener cb{{"reaction_added"}, [](const rtm::event& ev) {
                              std::cout << ev.to_json() << "\n";
                            }};
  self->request(client, caf::infinite, rtm::subscribe_atom_v, cb)
      .receive([](uint64_t /*subscription id*/) {}, [](caf::error&) {});
  // Connect: replies once the first session said hello, or with an error.
  self->request(client, std::chrono::seconds{60}, rtm::connect_atom_v)
      .receive(
          [](const rtm::connected& c) {
            std::cout << "hello from " << c.endpoint.team_name << "\n";
          },
          [](const caf::error& err) { std::cerr << rtm::render(err); });
  // ... later: stop for good; replies when every actor and socket is gone.
  self->request(client, caf::infinite, rtm::close_atom_v)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
}

CAF_MAIN()
