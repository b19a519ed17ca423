// Bounds the steps of caf-rtm-hub's stop. CAF waits for its actors and its
// network layer without a limit, and a hub told to stop (a service manager's
// SIGTERM) must stop: a step that outlasts its limit ends the process with a
// line on stderr that names the step.

#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace caf::rtm::hub_app {

class stop_watchdog {
public:
  /// What happens when a step outlasts its limit; by default `exit_process`.
  using expiry =
      std::function<void(const std::string& step, std::chrono::seconds limit)>;

  explicit stop_watchdog(expiry on_expiry = exit_process);
  ~stop_watchdog();

  stop_watchdog(const stop_watchdog&) = delete;
  stop_watchdog& operator=(const stop_watchdog&) = delete;

  /// Watches `step` from now on, for at most `limit` (replaces the step
  /// watched before).
  void watch(std::string step, std::chrono::seconds limit);
  /// Watches nothing until the next `watch`.
  void stop_watching();

  /// Says on stderr which step outlasted its limit and exits with code 1,
  /// without running destructors or exit handlers (they may be what hangs).
  static void exit_process(const std::string& step, std::chrono::seconds limit);

private:
  void run();

  expiry on_expiry_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::string step_;
  std::chrono::seconds limit_{0};
  std::chrono::steady_clock::time_point deadline_;
  bool watching_ = false;
  bool done_ = false;
  std::thread thread_;
};

} // namespace caf::rtm::hub_app
