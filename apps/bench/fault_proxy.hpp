// A fault-injecting TCP proxy on 127.0.0.1 for the soak run, in one of two
// modes:
//
// - forwarder: every accepted connection is relayed to one upstream port on
//   127.0.0.1 (the fake Slack); clients use the proxy's port in their base
//   URL, and the fake's WebSocket URLs are rewritten to it;
// - HTTP CONNECT proxy: clients reach the fake with their `proxy` option and
//   each connection starts with a CONNECT request (loopback targets only).
//
// Either way Web API calls and WebSockets cross it, plain or TLS (the TLS
// bytes pass through untouched). Once a tunnel is up (a forwarded connection
// at once, a CONNECT one after its 200), bytes are relayed both ways, and now
// and then, per tunnel, a fault is injected:
//
// - drop: both sockets are closed at once (RST or FIN, chosen at random);
// - stall: nothing is read or written either way for 0.1 to 3 s;
// - partial writes: for a while, forwarded data is written in chunks of 1 to
//   64 bytes with short pauses between them (frames cut at the TCP level);
// - slow reads: for a while, each side is read in small pieces with short
//   pauses (the sender's data piles up in its buffers).
//
// Faults on a tunnel come at exponentially distributed intervals whose kinds
// and parameters are drawn from a generator seeded by the proxy's seed and the
// tunnel's number, so the same seed gives each tunnel the same fault plan
// (when the faults hit depends on timing, as on any network).

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace caf::rtm::bench {

struct fault_options {
  /// Forwarder mode: where every connection goes. 0: CONNECT proxy mode.
  uint16_t upstream_port = 0;
  uint32_t seed = 1;
  /// Mean time between two faults on one tunnel.
  std::chrono::milliseconds mean_interval{3000};
  /// Relative weights of the fault kinds.
  double drop_weight = 0.15;
  double stall_weight = 0.35;
  double partial_weight = 0.25;
  double slow_weight = 0.25;
};

/// What the proxy did so far.
struct fault_counts {
  /// Tunnels established (CONNECT answered with 200).
  size_t tunnels = 0;
  /// Tunnels that still exist (open sockets or pending operations).
  size_t open_tunnels = 0;
  size_t drops = 0;
  size_t stalls = 0;
  size_t partial_writes = 0;
  size_t slow_reads = 0;
  /// CONNECT requests refused (not CONNECT, or a target off loopback), and
  /// forwarded connections whose upstream refused.
  size_t refused = 0;

  size_t faults() const noexcept {
    return drops + stalls + partial_writes + slow_reads;
  }
};

class fault_proxy {
public:
  explicit fault_proxy(fault_options opts);
  ~fault_proxy();

  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  uint16_t port() const;

  /// `http://127.0.0.1:<port>`, for `client_config::proxy` (CONNECT mode).
  std::string url() const;

  /// Turns fault injection on or off (initially off). Off: no new faults;
  /// the ones in progress run out (within a few seconds).
  void inject(bool on);

  fault_counts counts() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace caf::rtm::bench
