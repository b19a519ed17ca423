#include "hub/serve.hpp"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/function_view.hpp>
#include <caf/io/publish.hpp>
#include <caf/io/unpublish.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/endpoint.hpp"
#include "caf/rtm/hub/registry.hpp"
#include "common/exit_saying.hpp"

namespace caf::rtm::hub_app {

namespace {

// Lines on stderr, each with the time, the level and whose it is ("[acme] "
// for a workspace's client, nothing for the hub itself).
logger_ptr make_logger(log_level level, std::string who) {
  if (!who.empty())
    who = "[" + who + "] ";
  return std::make_shared<logger>(
      level, [who = std::move(who)](log_level lvl, const std::string& line) {
        using namespace std::chrono;
        auto now = system_clock::now();
        auto secs = system_clock::to_time_t(now);
        auto ms =
            duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char stamp[32];
        std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
        std::fprintf(stderr, "%s.%03d %-5s %s%s\n", stamp, static_cast<int>(ms),
                     std::string{to_string(lvl)}.c_str(), who.c_str(),
                     line.c_str());
      });
}

// Starts a client and says how that went. The hub serves the others (and
// this one's status) whatever happens: a client reconnects on its own.
caf::behavior starter(caf::event_based_actor* self, const caf::actor& client,
                      const logger_ptr& log) {
  // A client killed while it connects drops the request unanswered (CAF
  // 0.17 sends no broken_promise): its down message ends the starter.
  self->monitor(client);
  self->set_down_handler([self, log](caf::down_msg& dm) {
    if (dm.reason && dm.reason != caf::exit_reason::user_shutdown)
      CAF_RTM_LOG(log, error, "hub",
                  "the client ended while connecting: ", render(dm.reason));
    self->quit();
  });
  self->request(client, caf::infinite, connect_atom_v)
      .then(
          [self, log](const connected& info) {
            if (!info.app_id.empty())
              CAF_RTM_LOG(log, info, "hub", "connected as app ", info.app_id);
            else
              CAF_RTM_LOG(log, info, "hub", "connected as ",
                          info.endpoint.self_name, " in ",
                          info.endpoint.team_name);
            self->quit();
          },
          [self, log](caf::error& err) {
            // A client closed by the hub's stop says nothing new.
            if (!is(err, errc::closed))
              CAF_RTM_LOG(log, error, "hub",
                          "could not connect: ", render(err));
            self->quit();
          });
  return {};
}

void wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
}

// How long each client may take to close.
constexpr auto close_limit = std::chrono::seconds{10};

// Closes every client (close frames, sockets, threads), all at once, each
// bounded; one that does not answer in time is killed.
void close_all(caf::actor_system& sys,
               const std::vector<hub::workspace_info>& clients,
               const logger_ptr& log) {
  caf::scoped_actor self{sys, true};
  using handle = decltype(self->request(clients.front().handle(), close_limit,
                                        close_atom_v));
  std::vector<handle> closing;
  closing.reserve(clients.size());
  for (auto& ws : clients)
    closing.push_back(self->request(ws.handle(), close_limit, close_atom_v));
  for (size_t i = 0; i < clients.size(); ++i) {
    auto& ws = clients[i];
    closing[i].receive([](caf::ok_atom) {},
                       [&](caf::error& err) {
                         CAF_RTM_LOG(log, warn, "hub", ws.name,
                                     ": close failed: ", render(err));
                         caf::anon_send_exit(ws.handle(),
                                             caf::exit_reason::user_shutdown);
                       });
  }
}

// Publishes the registry where the hub listens (SO_REUSEADDR: a hub
// restarted at once gets its port back although the old connections linger
// in TIME_WAIT).
caf::expected<uint16_t> publish(const hub::registry_actor& registry,
                                const serve_options& opts, uint16_t port) {
  auto* bind = opts.bind.c_str();
  return opts.tls ? caf::openssl::publish(registry, port, bind, true)
                  : caf::io::publish(registry, port, bind, true);
}

// Frees the port of a registry that went away. (CAF 0.17's
// caf::openssl::unpublish does not compile: it leaves out the address that
// the manager's interface asks for.)
void unpublish(caf::actor_system& sys, const hub::registry_actor& registry,
               const serve_options& opts, uint16_t port) {
  if (!opts.tls) {
    caf::io::unpublish(registry, port);
    return;
  }
  auto f = caf::make_function_view(sys.openssl_manager().actor_handle());
  f(caf::unpublish_atom_v, registry.address(), port);
}

// How long the actors may take to end once every client closed. CAF's actor
// system waits for them without a limit as it ends: a hub that must stop
// (a service manager's SIGTERM) would hang on one actor that never ends.
constexpr auto actors_limit = std::chrono::seconds{20};

// Waits until every actor ended, at most `limit`; the number still running.
size_t await_actors(caf::actor_system& sys, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto running = sys.registry().running();
  while (running > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    running = sys.registry().running();
  }
  return running;
}

} // namespace

int serve(caf::actor_system& sys, serve_options opts, stop_watchdog& watchdog) {
  auto log = make_logger(opts.level, "");
  std::vector<hub::workspace_info> clients;
  for (auto& ws : opts.workspaces) {
    auto& cfg = ws.cfg;
    cfg.log = make_logger(cfg.log ? cfg.log->level() : opts.level, ws.name);
    hub::workspace_info info;
    info.name = ws.name;
    info.kind = ws.kind;
    if (ws.kind == client_kind::rtm)
      info.rtm = sys.spawn(rtm_client, cfg);
    else
      info.socket_mode = sys.spawn(socket_mode_client, cfg);
    sys.spawn(starter, info.handle(), cfg.log);
    clients.push_back(std::move(info));
  }
  hub::registry_options reg_opts;
  reg_opts.remote_window = opts.remote_window;
  reg_opts.log = log;
  auto registry = sys.spawn(hub::registry, clients, reg_opts);
  auto port = publish(registry, opts, opts.port);
  // The port closes first: a bot node that reaches for this hub while it
  // stops is refused at once (and tries its other hubs) rather than let in.
  auto stop = [&] {
    watchdog.watch("closing the port and every client",
                   close_limit + std::chrono::seconds{5});
    if (port)
      unpublish(sys, registry, opts, *port);
    close_all(sys, clients, log);
    caf::anon_send_exit(registry, caf::exit_reason::kill);
    watchdog.stop_watching();
  };
  if (!port) {
    std::fprintf(
        stderr, "caf-rtm-hub: cannot listen on %s: %s\n",
        hub::to_string(hub::hub_endpoint{opts.bind, opts.port}).c_str(),
        sys.render(port.error()).c_str());
    stop();
    return 1;
  }
  std::printf("listening on %s\n",
              hub::to_string(hub::hub_endpoint{opts.bind, *port}).c_str());
  std::fflush(stdout);
  CAF_RTM_LOG(log, info, "hub", clients.size(), " workspaces, ",
              opts.tls ? "TLS with client certificates" : "plain TCP");
  int code = 0;
  std::thread signals;
  {
    // Hidden, yet CAF 0.17 counts a scoped actor among the running ones
    // until it is destroyed: it ends before the stop waits for the others.
    caf::scoped_actor self{sys, true};
    self->monitor(registry);
    signals = std::thread{[hdl = caf::actor_cast<caf::actor>(self)] {
      wait_for_signal();
      caf::anon_send(hdl, close_atom_v);
    }};
    // Any node that reaches the registry can end it: CAF 0.17 delivers an
    // exit message with reason `kill` whatever the actor says. A registry that
    // goes away while the hub runs is replaced on the same port; bot nodes see
    // theirs go and look the workspace up again on the new one.
    for (bool running = true; running;) {
      self->receive(
          [&](close_atom) { running = false; },
          [&](caf::down_msg& dm) {
            if (dm.source != registry.address())
              return;
            CAF_RTM_LOG(log, error, "hub", "the registry went away (",
                        sys.render(dm.reason), "): publishing a new one");
            unpublish(sys, registry, opts, *port);
            registry = sys.spawn(hub::registry, clients, reg_opts);
            self->monitor(registry);
            if (auto again = publish(registry, opts, *port); !again) {
              // Ends the hub with exit 1: said whatever the log level.
              std::fprintf(stderr, "caf-rtm-hub: cannot listen again: %s\n",
                           sys.render(again.error()).c_str());
              code = 1;
              running = false;
            }
          });
    }
  }
  if (code == 0)
    CAF_RTM_LOG(log, info, "hub", "stopping: closing every client");
  stop();
  if (auto left = await_actors(sys, actors_limit); left > 0) {
    // Said whatever the log level: the hub exits 1 for it.
    cli::exit_saying("caf-rtm-hub: " + std::to_string(left) +
                         " actors did not end within " +
                         std::to_string(actors_limit.count()) +
                         " s of the stop: exiting without them\n",
                     1);
  }
  if (code == 0)
    CAF_RTM_LOG(log, info, "hub", "every client closed and every actor ended");
  // The signal thread ends with the first SIGINT or SIGTERM; after a failed
  // publish it still waits for one.
  if (code == 0)
    signals.join();
  else
    signals.detach();
  return code;
}

} // namespace caf::rtm::hub_app
