// A TCP forwarder on loopback for tests: what connects to it is tunnelled to
// a target port, the bytes of both directions are recorded (to inspect what
// crosses the wire), and connections can be cut or refused (a broken link
// between two live processes).

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace caf::rtm::test {

class tcp_tap {
public:
  explicit tcp_tap(uint16_t target_port);
  ~tcp_tap();

  tcp_tap(const tcp_tap&) = delete;
  tcp_tap& operator=(const tcp_tap&) = delete;

  uint16_t port() const {
    return port_;
  }

  /// Every byte the target sent, and every byte sent to it, over all
  /// connections so far.
  std::string from_target() const;
  std::string to_target() const;

  /// Ends every tunnelled connection (both ends see the TCP connection end).
  void cut();

  /// While refusing, new connections are closed right after accepting them.
  void refuse(bool on) {
    refusing_ = on;
  }

  /// While holding, nothing the target sends is passed on: it stays in the
  /// kernel's buffers, written as far as the target can tell (a link that
  /// hangs in one direction). Holding starts once this returns.
  void hold(bool on);

  /// Connections tunnelled so far.
  size_t connections() const;

private:
  struct pair {
    int client = -1;
    int target = -1;
    std::thread pump;
  };

  void accept_loop();
  void pump(pair* p);

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> refusing_{false};
  std::atomic<bool> holding_{false};
  mutable std::mutex mtx_;
  std::string from_target_;
  std::string to_target_;
  std::vector<std::unique_ptr<pair>> pairs_;
  std::thread acceptor_;
};

/// A loopback port whose TCP handshakes are never answered, as of a host that
/// is powered off or behind a firewall that drops packets: a listener that
/// never accepts, its backlog filled by one connection of its own, so that
/// the kernel drops every further SYN (a connect waits until its timeout).
class black_hole {
public:
  black_hole();
  ~black_hole();

  black_hole(const black_hole&) = delete;
  black_hole& operator=(const black_hole&) = delete;

  uint16_t port() const {
    return port_;
  }

private:
  int listener_ = -1;
  int filler_ = -1;
  uint16_t port_ = 0;
};

} // namespace caf::rtm::test
