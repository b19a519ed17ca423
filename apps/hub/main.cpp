// caf-rtm-hub: holds the Slack connections of several workspaces or apps and
// serves them to bot nodes on other machines over CAF's network layer (see
// README.md, "Running across machines").
//
//   caf-rtm-hub --config FILE [--port P] [--bind ADDR]
//               [--cert FILE --key FILE --ca FILE] [--remote-window-kb N]

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "caf/rtm/errc.hpp"
#include "caf/rtm/hub/endpoint.hpp"
#include "caf/rtm/hub/node.hpp"
#include "caf/rtm/hub/registry.hpp"
#include "caf/rtm/hub/workspaces.hpp"
#include "common/cli.hpp"
#include "hub/serve.hpp"

namespace cli = caf::rtm::cli;
namespace hub = caf::rtm::hub;

namespace {

constexpr int64_t default_port = 4270;

class hub_config : public cli::base_config {
public:
  hub_config() {
    // Latency over throughput, as for the other programs.
    set("scheduler.policy", caf::atom("sharing"));
    add_value(port, "port",
              "port to listen on (default 4270; 0: any free port). The "
              "workspaces come from --config FILE (CAF's INI format, a "
              "[workspaces] section)");
    add_value(bind, "bind",
              "address to listen on (default 127.0.0.1); any other address "
              "needs TLS");
    add_value(cert, "cert",
              "TLS: this hub's certificate, PEM (or openssl.certificate)");
    add_value(key, "key", "TLS: this hub's private key (or openssl.key)");
    add_value(ca, "tls-ca",
              "TLS (also --ca): the CA bot nodes' certificates must chain to "
              "(or openssl.cafile)");
    add_value(remote_window_kb, "remote-window-kb",
              "KB of events sent to a remote subscriber and not yet "
              "confirmed by its node, at most (default 16384); what a node "
              "that falls further behind does not take is dropped and "
              "reported to it as a hub_gap");
  }

  int64_t port = default_port;
  std::string bind = "127.0.0.1";
  std::string cert;
  std::string key;
  std::string ca;
  int64_t remote_window_kb =
      static_cast<int64_t>(hub::default_remote_window / 1024);
};

// `--config FILE` is CAF's `--config-file=FILE`: CAF reads the file first
// and lets the command line override it. `--ca` is `--tls-ca`: CAF 0.17
// cannot look up an option named "c", "ca" or "caf" (it takes them for its
// "caf#" prefix).
std::vector<std::string> normalise(int argc, char** argv,
                                   std::optional<std::string>& path) {
  std::vector<std::string> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--ca" || arg.rfind("--ca=", 0) == 0) {
      args.push_back("--tls-ca" + arg.substr(4));
      continue;
    }
    if ((arg == "--config" || arg == "--config-file") && i + 1 < argc)
      path = argv[++i];
    else if (arg.rfind("--config=", 0) == 0)
      path = arg.substr(9);
    else if (arg.rfind("--config-file=", 0) == 0)
      path = arg.substr(14);
    else {
      args.push_back(std::move(arg));
      continue;
    }
    args.push_back("--config-file=" + *path);
  }
  return args;
}

// The reason of a configuration error without the category prefix.
std::string describe(const caf::error& err) {
  if (caf::rtm::is(err, caf::rtm::errc::invalid_config))
    if (auto reason = caf::rtm::context_string(err); !reason.empty())
      return reason;
  return caf::rtm::render(err);
}

int usage_error(const std::string& what) {
  std::fprintf(stderr, "caf-rtm-hub: %s (see --help)\n", what.c_str());
  return cli::exit_usage;
}

} // namespace

int main(int argc, char** argv) {
  cli::block_termination_signals();
  std::signal(SIGPIPE, SIG_IGN);
  hub_config cfg;
  std::optional<std::string> config_path;
  auto args = normalise(argc, argv, config_path);
  if (config_path && !std::ifstream{*config_path})
    return usage_error("cannot read the configuration file " + *config_path);
  std::vector<char*> argv2;
  argv2.reserve(args.size());
  for (auto& arg : args)
    argv2.push_back(arg.data());
  auto parsed =
      cfg.parse_command_line(static_cast<int>(argv2.size()), argv2.data());
  if (parsed.exit != 0 || !parsed.error.empty()) {
    if (!parsed.error.empty())
      return usage_error(parsed.error);
    return parsed.exit;
  }
  if (cfg.cli_helptext_printed)
    return cli::exit_ok;
  if (!config_path)
    return usage_error("a hub needs --config FILE with a [workspaces] section");
  const auto& content = caf::content(cfg);
  auto section = caf::get_if<caf::settings>(&content, "workspaces");
  if (!section)
    return usage_error("the configuration file has no [workspaces] section");
  // CAF drops a [caf-rtm] value whose type does not fit, silently: the
  // section as written is checked like an entry.
  auto file = caf::actor_system_config::parse_config_file(config_path->c_str());
  if (!file)
    return usage_error("cannot read the configuration file " + *config_path +
                       ": " + cfg.render(file.error()));
  auto written = caf::get_if<caf::settings>(&*file, "caf-rtm");
  auto kept = caf::get_if<caf::settings>(&content, "caf-rtm");
  auto defaults = hub::check_defaults(written ? *written : caf::settings{},
                                      kept ? *kept : caf::settings{});
  if (!defaults)
    return usage_error(describe(defaults.error()));
  auto workspaces = hub::read_workspaces(*defaults, *section);
  if (!workspaces)
    return usage_error(describe(workspaces.error()));
  if (cfg.port < 0 || cfg.port > 65535)
    return usage_error("--port must be 0 to 65535");
  // At most 1 TB: the byte count must fit size_t with room to add a batch.
  if (cfg.remote_window_kb < 1 || cfg.remote_window_kb > (int64_t{1} << 30))
    return usage_error("--remote-window-kb must be 1 to 1073741824");
  hub::node_options node;
  node.tls.cert = cfg.cert.empty() ? cfg.openssl_certificate : cfg.cert;
  node.tls.key = cfg.key.empty() ? cfg.openssl_key : cfg.key;
  node.tls.ca = cfg.ca.empty() ? cfg.openssl_cafile : cfg.ca;
  node.tls.passphrase = cfg.openssl_passphrase;
  // Plain CAF::io lets anyone who reaches the port use every workspace:
  // only this machine may, unless TLS checks who connects.
  if (!hub::is_loopback(cfg.bind) && !node.tls.enabled())
    return usage_error("listening on " + cfg.bind +
                       " needs TLS: --cert, --key and --ca (bot nodes must "
                       "then show a certificate of that CA); without TLS a "
                       "hub listens on loopback only (127.0.0.1, ::1)");
  if (auto err = hub::configure_node(cfg, node))
    return usage_error(describe(err));
  auto level = caf::rtm::log_level::info;
  if (auto name = caf::get_if<std::string>(&content, "caf-rtm.log-level"))
    if (auto lvl = caf::rtm::parse_log_level(*name))
      level = *lvl;
  caf::rtm::hub_app::serve_options opts;
  opts.workspaces = std::move(*workspaces);
  opts.bind = cfg.bind;
  opts.port = static_cast<uint16_t>(cfg.port);
  opts.tls = node.tls.enabled();
  opts.level = level;
  opts.remote_window = static_cast<size_t>(cfg.remote_window_kb) * 1024;
  caf::rtm::hub_app::stop_watchdog watchdog;
  int code = 0;
  {
    caf::actor_system sys{cfg};
    code = caf::rtm::hub_app::serve(sys, std::move(opts), watchdog);
    watchdog.watch("CAF's network layer and scheduler",
                   std::chrono::seconds{20});
  }
  watchdog.stop_watching();
  return code;
}
