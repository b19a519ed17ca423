#include "hub/stop_watchdog.hpp"

#include "common/exit_saying.hpp"

#include <string>
#include <utility>

namespace caf::rtm::hub_app {

stop_watchdog::stop_watchdog(expiry on_expiry)
    : on_expiry_(std::move(on_expiry)), thread_([this] { run(); }) {
  // nop
}

stop_watchdog::~stop_watchdog() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void stop_watchdog::watch(std::string step, std::chrono::seconds limit) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    step_ = std::move(step);
    limit_ = limit;
    deadline_ = std::chrono::steady_clock::now() + limit;
    watching_ = true;
  }
  cv_.notify_all();
}

void stop_watchdog::stop_watching() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    watching_ = false;
  }
  cv_.notify_all();
}

void stop_watchdog::exit_process(const std::string& step,
                                 std::chrono::seconds limit) {
  cli::exit_saying("caf-rtm-hub: stopping: " + step + " took more than " +
                       std::to_string(limit.count()) +
                       " s; exiting without waiting longer\n",
                   1);
}

void stop_watchdog::run() {
  std::unique_lock<std::mutex> guard{mtx_};
  for (;;) {
    if (done_)
      return;
    if (!watching_) {
      cv_.wait(guard);
      continue;
    }
    if (std::chrono::steady_clock::now() < deadline_) {
      cv_.wait_until(guard, deadline_);
      continue;
    }
    // Once per step: the default ends the process, a test's records it.
    watching_ = false;
    auto step = step_;
    auto limit = limit_;
    guard.unlock();
    on_expiry_(step, limit);
    guard.lock();
  }
}

} // namespace caf::rtm::hub_app
