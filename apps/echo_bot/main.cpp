// caf-rtm-echo-bot: a small Slack bot written the way README.md tells users to
// write one. It spawns a client (RTM, or Socket Mode with --socket-mode),
// subscribes its own listener actor, and echoes what it is told:
//
// - RTM: every message that mentions the bot, through the client's send API;
// - Socket Mode: every app_mention through chat.postMessage (Web API, bot
//   token), and the slash command /echo through the ack's response payload.
//
// Usage (connection options: see --help):
//
//   caf-rtm-echo-bot --token xoxb-... [--replies N] [...]
//
//   caf-rtm-echo-bot --socket-mode --app-token xapp-... --token xoxb-... [...]

#include <csignal>
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
#include "caf/rtm/socket_mode_client.hpp"
#include "common/cli.hpp"

namespace cli = caf::rtm::cli;
namespace rtm = caf::rtm;

namespace {

class bot_config : public cli::config {
public:
  bot_config() {
    add_value(replies, "replies", "exit after answering N times");
  }

  int64_t replies = 0;
};

struct echo_bot_state {
  static inline const char* name = "echo_bot";

  /// The client, rtm_client or socket_mode_client.
  caf::actor client;
  bool socket_mode = false;
  std::string mention; // "<@U...>", known once connected (RTM)
  int64_t max_replies = 0;
  int64_t replies = 0;
  /// Off (`--no-reconnect`): the end of a session ends the bot.
  bool reconnect_on = true;
  bool stopping = false;
  std::function<void(int)> on_exit;
};

using self_ptr = caf::stateful_actor<echo_bot_state>*;

// Closes the client, then reports the exit code (once).
void stop(self_ptr self, int code) {
  if (self->state.stopping)
    return;
  self->state.stopping = true;
  self->request(self->state.client, std::chrono::seconds{2}, rtm::close_atom_v)
      .then([self, code](caf::ok_atom) { self->state.on_exit(code); },
            [self, code](caf::error&) { self->state.on_exit(code); });
}

void replied(self_ptr self, const std::string& how) {
  std::fprintf(stderr, "caf-rtm-echo-bot: replied (%s)\n", how.c_str());
  auto& st = self->state;
  // Stops after the current message: an answer returned by this handler
  // (the /echo payload) must reach the client before the close does.
  if (st.max_replies > 0 && ++st.replies >= st.max_replies)
    self->send(self, rtm::close_atom_v);
}

// The text after the bot's mention, if `text` mentions it.
std::optional<std::string> after_mention(const std::string& mention,
                                         const boost::json::object& obj) {
  auto* text = obj.if_contains("text");
  if (mention.empty() || text == nullptr || !text->is_string())
    return std::nullopt;
  std::string said{text->get_string()};
  auto pos = said.find(mention);
  if (pos == std::string::npos)
    return std::nullopt;
  said.erase(pos, mention.size());
  return said;
}

// RTM: answers mentions through the client's send API.
void on_event(self_ptr self, const rtm::event& ev) {
  auto& st = self->state;
  auto said = after_mention(st.mention, ev.json());
  if (!said)
    return;
  rtm::json_object reply;
  reply.value["type"] = "message";
  reply.value["channel"] = std::string{ev.channel()};
  reply.value["text"] = "echo:" + *said;
  self->request(st.client, std::chrono::seconds{30}, rtm::send_atom_v,
                std::move(reply))
      .then([self](rtm::send_ack& ack) { replied(self, "ts " + ack.ts); },
            [](caf::error& err) {
              // e.g. send_rejected, ack_timeout, delivery_unknown, rate
              // limits: never silent.
              std::fprintf(stderr, "caf-rtm-echo-bot: reply failed: %s\n",
                           rtm::render(err).c_str());
            });
}

// Socket Mode: app mentions get a chat.postMessage, /echo its ack payload.
caf::result<rtm::json_object> on_envelope(self_ptr self,
                                          const rtm::envelope& env) {
  if (env.event_type() == "/echo") {
    rtm::json_object payload;
    payload.value["text"] = "echo: " + std::string{env.text()};
    replied(self, "/echo through the ack");
    return payload;
  }
  if (env.event_type() == "app_mention") {
    std::string said{env.text()};
    if (auto pos = said.find('>'); pos != std::string::npos)
      said.erase(0, pos + 1);
    rtm::api_call post;
    post.method = "chat.postMessage";
    post.args = {{"channel", std::string{env.channel()}},
                 {"text", "echo:" + said}};
    // A late echo is no echo: not sent after 20 s (a rate limit's wait). The
    // answer comes by then plus one request's time (`request_timeout`, 30 s
    // by default): the bot waits that long, rather than report a post as
    // failed that still goes out.
    post.max_wait = std::chrono::seconds{20};
    self->request(self->state.client, std::chrono::seconds{60},
                  rtm::call_atom_v, std::move(post))
        .then([self](rtm::json_object&) { replied(self, "chat.postMessage"); },
              [](caf::error& err) {
                std::fprintf(stderr,
                             "caf-rtm-echo-bot: chat.postMessage failed: %s\n",
                             rtm::render(err).c_str());
              });
  }
  // No response payload for anything else: the client acks it empty.
  return rtm::no_payload();
}

// The listener: events or envelopes, and every lifecycle message.
caf::behavior echo_bot(self_ptr self, const caf::actor& client,
                       bool socket_mode, int64_t max_replies, bool reconnect_on,
                       std::function<void(int)> on_exit) {
  auto& st = self->state;
  st.client = client;
  st.socket_mode = socket_mode;
  st.max_replies = max_replies;
  st.reconnect_on = reconnect_on;
  st.on_exit = std::move(on_exit);
  self->request(client, caf::infinite, rtm::connect_atom_v)
      .then(
          [self](rtm::connected& info) {
            if (self->state.socket_mode) {
              std::fprintf(stderr, "caf-rtm-echo-bot: connected as app %s\n",
                           info.app_id.c_str());
              return;
            }
            self->state.mention = "<@" + info.endpoint.self_id + ">";
            std::fprintf(stderr, "caf-rtm-echo-bot: connected as %s (%s)\n",
                         info.endpoint.self_name.c_str(),
                         info.endpoint.self_id.c_str());
          },
          [self](caf::error& err) {
            std::fprintf(stderr, "caf-rtm-echo-bot: cannot connect: %s\n",
                         rtm::render(err).c_str());
            stop(self, cli::exit_code_for(err, self->state.reconnect_on));
          });
  return {
      [self](const rtm::event& ev) { on_event(self, ev); },
      [self](const rtm::envelope& env) { return on_envelope(self, env); },
      [](const rtm::connecting&) {},
      [](const rtm::connected& x) {
        std::fprintf(stderr, "caf-rtm-echo-bot: session %llu up\n",
                     static_cast<unsigned long long>(x.session));
      },
      [self](const rtm::disconnected& x) {
        std::fprintf(stderr, "caf-rtm-echo-bot: session %llu ended%s%s\n",
                     static_cast<unsigned long long>(x.session),
                     x.cause ? ": " : "",
                     x.cause ? rtm::render(x.cause).c_str() : "");
        // As caf-rtm: without reconnecting, no session is coming.
        if (!self->state.reconnect_on)
          stop(self, cli::exit_no_connection);
      },
      [](const rtm::reconnecting& x) {
        std::fprintf(
            stderr, "caf-rtm-echo-bot: reconnecting in %lld ms\n",
            static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(x.delay)
                    .count()));
      },
      [](const rtm::error_event& x) {
        std::fprintf(stderr, "caf-rtm-echo-bot: %s: %s\n", x.what.c_str(),
                     rtm::render(x.reason).c_str());
      },
      [self](const rtm::fatal_event& x) {
        std::fprintf(stderr, "caf-rtm-echo-bot: giving up: %s\n",
                     rtm::render(x.reason).c_str());
        stop(self, cli::exit_code_for(x.reason, self->state.reconnect_on));
      },
      [self](rtm::close_atom) { stop(self, cli::exit_ok); },
  };
}

} // namespace

int main(int argc, char** argv) {
  cli::block_termination_signals();
  // A closed stderr is no reason to die without a close frame.
  std::signal(SIGPIPE, SIG_IGN);
  bot_config cfg;
  rtm::add_message_types(cfg);
  auto parsed = cfg.parse_command_line(argc, argv);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "caf-rtm-echo-bot: %s (see --help)\n",
                 parsed.error.c_str());
    return parsed.exit;
  }
  if (cfg.cli_helptext_printed)
    return cli::exit_ok;
  if (cfg.replies < 0) {
    std::fprintf(stderr,
                 "caf-rtm-echo-bot: --replies must be >= 0 (see --help)\n");
    return cli::exit_usage;
  }
  auto socket_mode = cfg.conn.socket_mode;
  rtm::client_config rtm_cfg;
  if (auto res = cli::to_client_config(
          cfg, rtm_cfg,
          socket_mode ? rtm::client_kind::socket_mode : rtm::client_kind::rtm);
      res.exit != 0) {
    std::fprintf(stderr, "caf-rtm-echo-bot: %s (see --help)\n",
                 res.error.c_str());
    return res.exit;
  }
  std::promise<int> exit_promise;
  auto exit_code = exit_promise.get_future();
  caf::actor_system sys{cfg};
  auto client =
      socket_mode
          ? caf::actor_cast<caf::actor>(
                sys.spawn(rtm::socket_mode_client, rtm_cfg))
          : caf::actor_cast<caf::actor>(sys.spawn(rtm::rtm_client, rtm_cfg));
  auto bot = sys.spawn(
      echo_bot, client, socket_mode, cfg.replies, rtm_cfg.auto_reconnect,
      [&exit_promise](int code) { exit_promise.set_value(code); });
  caf::scoped_actor self{sys, true};
  // What the bot answers goes to it; lifecycle messages too.
  auto types = socket_mode ? std::vector<std::string>{"app_mention", "/echo"}
                           : std::vector<std::string>{"message"};
  // A bot that is not subscribed would run without answering anything.
  bool subscribed = true;
  auto on_error = [&subscribed](caf::error& err) {
    std::fprintf(stderr, "caf-rtm-echo-bot: subscribing failed: %s\n",
                 rtm::render(err).c_str());
    subscribed = false;
  };
  self->request(client, std::chrono::seconds{5}, rtm::subscribe_atom_v, bot,
                types)
      .receive([](caf::ok_atom) {}, on_error);
  if (subscribed)
    self->request(client, std::chrono::seconds{5}, rtm::subscribe_atom_v,
                  rtm::lifecycle_atom_v, bot)
        .receive([](caf::ok_atom) {}, on_error);
  if (!subscribed)
    caf::anon_send(bot, rtm::close_atom_v);
  int code = 0;
  {
    cli::signal_watcher signals{[bot] {
      caf::anon_send(bot, rtm::close_atom_v);
    }};
    code = exit_code.get();
  }
  caf::anon_send_exit(bot, caf::exit_reason::user_shutdown);
  return subscribed ? code : cli::exit_other;
}
