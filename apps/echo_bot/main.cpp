// echo_bot: a small Slack bot written the way README.md tells users to write
// one. It spawns the RTM client, subscribes its own listener actor to message
// events, and answers every message that mentions it by echoing the text.
//
//   echo_bot --token xoxb-... [--replies N] [connection options, see --help]

#include <cstdio>
#include <future>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "common/cli.hpp"

namespace cli = caf::rtm::cli;
namespace rtm = caf::rtm;

namespace {

class bot_config : public cli::config {
public:
  bot_config() {
    add_value(replies, "replies", "exit after answering N mentions");
  }

  int64_t replies = 0;
};

struct echo_bot_state {
  static inline const char* name = "echo_bot";

  rtm::rtm_client_actor client;
  std::string mention; // "<@U...>", known once connected
  int64_t max_replies = 0;
  int64_t replies = 0;
  bool stopping = false;
  std::function<void(int)> on_exit;
};

// The listener: reacts to message events, answers mentions through the
// client's send API, and reports every typed error instead of losing it.
caf::behavior echo_bot(caf::stateful_actor<echo_bot_state>* self,
                       rtm::rtm_client_actor client, int64_t max_replies,
                       std::function<void(int)> on_exit) {
  auto& st = self->state;
  st.client = client;
  st.max_replies = max_replies;
  st.on_exit = std::move(on_exit);
  auto stop = [self](int code) {
    if (self->state.stopping)
      return;
    self->state.stopping = true;
    self->request(self->state.client, std::chrono::seconds{2},
                  rtm::close_atom_v)
        .then([self, code](caf::ok_atom) { self->state.on_exit(code); },
              [self, code](caf::error&) { self->state.on_exit(code); });
  };
  self->request(client, caf::infinite, rtm::connect_atom_v)
      .then(
          [self](rtm::connected& info) {
            self->state.mention = "<@" + info.endpoint.self_id + ">";
            std::fprintf(stderr, "echo_bot: connected as %s (%s)\n",
                         info.endpoint.self_name.c_str(),
                         info.endpoint.self_id.c_str());
          },
          [stop](caf::error& err) {
            std::fprintf(stderr, "echo_bot: cannot connect: %s\n",
                         rtm::render(err).c_str());
            stop(cli::exit_code_for(err, true));
          });
  return {
      [self, stop](const rtm::event& ev) {
        auto& st = self->state;
        auto* text = ev.json().if_contains("text");
        if (st.mention.empty() || text == nullptr || !text->is_string())
          return;
        std::string said{text->get_string()};
        auto pos = said.find(st.mention);
        if (pos == std::string::npos)
          return;
        said.erase(pos, st.mention.size());
        rtm::json_object reply;
        reply.value["type"] = "message";
        reply.value["channel"] = std::string{ev.channel()};
        reply.value["text"] = "echo:" + said;
        self->request(st.client, std::chrono::seconds{30}, rtm::send_atom_v,
                      std::move(reply))
            .then(
                [self, stop](rtm::send_ack& ack) {
                  std::fprintf(stderr, "echo_bot: replied (ts %s)\n",
                               ack.ts.c_str());
                  auto& st = self->state;
                  if (st.max_replies > 0 && ++st.replies >= st.max_replies)
                    stop(cli::exit_ok);
                },
                [](caf::error& err) {
                  // e.g. send_rejected, ack_timeout, delivery_unknown, rate
                  // limits.
                  std::fprintf(stderr, "echo_bot: reply failed: %s\n",
                               rtm::render(err).c_str());
                });
      },
      [stop](const rtm::fatal_event& x) {
        std::fprintf(stderr, "echo_bot: giving up: %s\n",
                     rtm::render(x.reason).c_str());
        stop(cli::exit_code_for(x.reason, true));
      },
      [](const rtm::disconnected& x) {
        std::fprintf(stderr, "echo_bot: session %llu ended\n",
                     static_cast<unsigned long long>(x.session));
      },
      [stop](rtm::close_atom) { stop(cli::exit_ok); },
  };
}

} // namespace

int main(int argc, char** argv) {
  cli::block_termination_signals();
  bot_config cfg;
  rtm::add_message_types(cfg);
  auto parsed = cfg.parse_command_line(argc, argv);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "echo_bot: %s (see --help)\n", parsed.error.c_str());
    return parsed.exit;
  }
  if (cfg.cli_helptext_printed)
    return cli::exit_ok;
  rtm::client_config rtm_cfg;
  if (auto res = cli::to_client_config(cfg, rtm_cfg); res.exit != 0) {
    std::fprintf(stderr, "echo_bot: %s (see --help)\n", res.error.c_str());
    return res.exit;
  }
  std::promise<int> exit_promise;
  auto exit_code = exit_promise.get_future();
  caf::actor_system sys{cfg};
  auto client = sys.spawn(rtm::rtm_client, rtm_cfg);
  auto bot =
      sys.spawn(echo_bot, client, cfg.replies,
                [&exit_promise](int code) { exit_promise.set_value(code); });
  caf::scoped_actor self{sys, true};
  // Events of type "message" go to the bot; lifecycle messages too.
  self->request(client, std::chrono::seconds{5}, rtm::subscribe_atom_v, bot,
                std::vector<std::string>{"message"})
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  self->request(client, std::chrono::seconds{5}, rtm::subscribe_atom_v,
                rtm::lifecycle_atom_v, bot)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  int code = 0;
  {
    cli::signal_watcher signals{[bot] {
      caf::anon_send(bot, rtm::close_atom_v);
    }};
    code = exit_code.get();
  }
  caf::anon_send_exit(bot, caf::exit_reason::user_shutdown);
  return code;
}
