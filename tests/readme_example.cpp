// The usage example of README.md, compiled by the test suite and run against
// the fake Slack (cli_test) so that the README stays true. Keep the two in
// sync.

#include <csignal>
#include <cstdlib>
#include <iostream>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "caf/rtm/all.hpp"
#include <caf/all.hpp>

namespace rtm = caf::rtm;

// Your bot: an ordinary actor that receives rtm::event messages and, if it
// subscribes to them, every lifecycle message.
caf::behavior bot(caf::event_based_actor* self,
                  const rtm::rtm_client_actor& client) {
  return {
      [=](const rtm::event& ev) {
        // type(), subtype(), channel(), user(), bot_id(), ts(), text() are
        // views into the JSON parsed once and shared by every subscriber;
        // json() is all of it.
        if (ev.text() != "ping")
          return;
        // The reply goes where "ping" was said (its thread, if any). The
        // client sets the id and replies with Slack's ack.
        self->request(client, caf::infinite, rtm::send_atom_v,
                      rtm::reply_message(ev, "pong"))
            .then(
                [](const rtm::send_ack& ack) {
                  std::cout << "answered, ts " << ack.ts << std::endl;
                },
                [](const caf::error& err) {
                  // send_rejected, ack_timeout, delivery_unknown,
                  // send_queue_full, message_too_large, ... never silent.
                  std::cerr << rtm::render(err) << std::endl;
                });
      },
      [](const rtm::connecting& x) {
        std::cerr << "connecting (attempt " << x.attempt << ")" << std::endl;
      },
      [](const rtm::connected& x) {
        std::cerr << "session " << x.session << " up as " << x.self.user
                  << std::endl;
      },
      [](const rtm::disconnected& x) {
        std::cerr << "session " << x.session
                  << " ended: " << (x.cause ? rtm::render(x.cause) : "closed")
                  << std::endl;
      },
      [](const rtm::reconnecting& x) {
        std::cerr << "reconnecting in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                         x.delay)
                         .count()
                  << " ms" << std::endl;
      },
      [](const rtm::error_event& x) {
        std::cerr << x.what << ": " << rtm::render(x.reason) << std::endl;
      },
      [](const rtm::fatal_event& x) {
        // invalid_auth, gave_up, ...: the client stopped for good. Wake up
        // main(), which closes everything and exits.
        std::cerr << "stopped: " << rtm::render(x.reason) << std::endl;
        kill(getpid(), SIGTERM);
      },
  };
}

struct config : caf::actor_system_config {
  config() {
    // Message types, error category, and the caf-rtm.* options
    // (caf-application.ini and the command line).
    rtm::configure(*this, custom_options_);
  }
};

int main(int argc, char** argv) {
  // SIGINT and SIGTERM wait for sigwait below, in every thread: blocked
  // before the actor system starts its threads, which inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << caf::to_string(err) << std::endl;
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  auto opts = rtm::client_config::from(cfg); // or fill the struct yourself
  if (auto* token = std::getenv("SLACK_BOT_TOKEN"))
    opts.token = token;
  caf::actor_system sys{cfg};
  // The guard closes the client whenever main() returns: a client never
  // closed would keep the actor system (and the program) running.
  rtm::client_guard client{sys, sys.spawn(rtm::rtm_client, opts)};
  auto listener = sys.spawn(bot, *client);
  caf::scoped_actor self{sys};
  auto ok = true;
  auto fail = [&ok](const caf::error& err) {
    std::cerr << rtm::render(err) << std::endl;
    ok = false;
  };
  // Events of these types go to the listener as rtm::event: "*" for all,
  // "message" for every message, "message::bot_message" for one subtype.
  self->request(*client, caf::infinite, rtm::subscribe_atom_v, listener,
                std::vector<std::string>{"message"})
      .receive([](caf::ok_atom) {}, fail);
  // Lifecycle messages go only to actors that ask for them.
  self->request(*client, caf::infinite, rtm::subscribe_atom_v,
                rtm::lifecycle_atom_v, listener)
      .receive([](caf::ok_atom) {}, fail);
  // A callback, run on the client's listener pool (the seed's on(type)).
  rtm::callback_listener cb{{"reaction_added"}, [](const rtm::event& ev) {
                              std::cout << ev.to_json() << std::endl;
                            }};
  self->request(*client, caf::infinite, rtm::subscribe_atom_v, cb)
      .receive([](uint64_t /*subscription id*/) {}, fail);
  // Connect: replies once the first session said hello, or with an error.
  self->request(*client, std::chrono::seconds{60}, rtm::connect_atom_v)
      .receive(
          [](const rtm::connected& c) {
            std::cout << "connected to " << c.endpoint.team_name << std::endl;
          },
          fail);
  if (ok) {
    // Runs until SIGINT or SIGTERM (or a fatal error, see above).
    int signal = 0;
    sigwait(&stop_signals, &signal);
  }
  // Leaving main() closes the client (close frames, sockets, threads),
  // then the actor system ends.
  caf::anon_send_exit(listener, caf::exit_reason::user_shutdown);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
