// Setting up an actor system as a hub or as a bot node: CAF's middleman
// (CAF::io), heartbeats so that a silent peer counts as gone, and optionally
// TLS with mutual authentication through CAF::openssl.
//
//   struct config : caf::actor_system_config {
//     config() { caf::rtm::add_options(custom_options_); }
//   };
//   config cfg;
//   caf::rtm::hub::node_options opts;
//   opts.tls = {"bot.pem", "bot.key", "ca.pem", ""}; // empty: no TLS
//   if (auto err = caf::rtm::hub::configure_node(cfg, opts)) ...
//   caf::actor_system sys{cfg};

#pragma once

#include <chrono>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace caf::rtm::hub {

/// TLS through CAF::openssl: this node's certificate (chain) and private key
/// in PEM files, and the CA that every peer's certificate must chain to. A
/// node with TLS accepts and reaches only peers with such a certificate (both
/// sides check: mutual authentication). All three, or none for no TLS.
struct tls_files {
  std::string cert;
  std::string key;
  std::string ca;
  /// The key's passphrase, if it is encrypted (CAF's option
  /// `openssl.passphrase`); OpenSSL never asks on a terminal.
  std::string passphrase;

  bool enabled() const noexcept {
    return !cert.empty() || !key.empty() || !ca.empty();
  }
};

/// Checks TLS files before CAF::openssl uses them (it aborts the program on
/// a file it cannot load): all three given, readable, the key matching the
/// certificate, the CA loadable. `invalid_config` naming the file and
/// OpenSSL's reason otherwise.
caf::error check(const tls_files& files);

struct node_options {
  /// Empty: plain TCP (loopback only, for a hub).
  tls_files tls;
  /// BASP heartbeats between nodes, and how long a peer may stay silent
  /// before it counts as gone (CAF's default: never, so a peer behind a
  /// broken link would stay "connected" until TCP gives up).
  caf::timespan heartbeat_interval = std::chrono::seconds{1};
  caf::timespan connection_timeout = std::chrono::seconds{10};
};

/// Prepares `cfg` before the actor system starts: caf-rtm's and the hub's
/// message types, CAF's middleman, the heartbeats, and with TLS the OpenSSL
/// manager with `openssl.certificate`, `.key`, `.cafile` and `.passphrase`
/// set from `opts.tls`. Do not load the middleman yourself as well. Fails (and
/// changes nothing) when the TLS files are unusable, or when `openssl.capath`
/// is set (it would add every CA of a directory to the one CA file).
caf::error configure_node(caf::actor_system_config& cfg,
                          const node_options& opts = {});

} // namespace caf::rtm::hub
