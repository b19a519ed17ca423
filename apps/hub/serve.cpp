#include "hub/serve.hpp"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/publish.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/endpoint.hpp"
#include "caf/rtm/hub/registry.hpp"

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
caf::behavior starter(caf::event_based_actor* self, caf::actor client,
                      logger_ptr log) {
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

// Closes every client (close frames, sockets, threads), one after the
// other, each bounded; one that does not answer in time is killed.
void close_all(caf::actor_system& sys,
               const std::vector<hub::workspace_info>& clients,
               const logger_ptr& log) {
  caf::scoped_actor self{sys, true};
  for (auto& ws : clients)
    self->request(ws.handle(), std::chrono::seconds{10}, close_atom_v)
        .receive([](caf::ok_atom) {},
                 [&](caf::error& err) {
                   CAF_RTM_LOG(log, warn, "hub", ws.name,
                               ": close failed: ", render(err));
                   caf::anon_send_exit(ws.handle(),
                                       caf::exit_reason::user_shutdown);
                 });
}

} // namespace

int serve(caf::actor_system& sys, serve_options opts) {
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
  auto registry = sys.spawn(hub::registry, clients);
  auto* bind = opts.bind.c_str();
  // SO_REUSEADDR: a hub restarted at once gets its port back although the
  // old connections linger in TIME_WAIT.
  auto port = opts.tls ? caf::openssl::publish(registry, opts.port, bind, true)
                       : caf::io::publish(registry, opts.port, bind, true);
  auto stop = [&] {
    close_all(sys, clients, log);
    caf::anon_send_exit(registry, caf::exit_reason::kill);
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
  wait_for_signal();
  CAF_RTM_LOG(log, info, "hub", "stopping: closing every client");
  stop();
  return 0;
}

} // namespace caf::rtm::hub_app
