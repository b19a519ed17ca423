// Shared pieces of the test suite: an actor system per test, a client config
// pointing at a fake Slack, a logger that captures every line, and a blocking
// request helper.

#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/errc.hpp"
#include "caf/rtm/logger.hpp"
#include "caf/rtm/rtm_client.hpp"
#include "caf/rtm/socket_mode_client.hpp"
#include "caf/rtm/testing/fake_slack.hpp"
#include "caf/rtm/testing/process_stats.hpp"

namespace caf::rtm::test {

using namespace std::chrono_literals;

/// Collects every log line (all levels) for later inspection. The lines live
/// as long as the logger: a test that fails early leaves its client running
/// past the fixture member that holds this, and the client logs on.
class log_capture {
public:
  explicit log_capture(log_level level = log_level::debug)
      : state_(std::make_shared<state>()) {
    log_ = std::make_shared<logger>(
        level, [st = state_](log_level, const std::string& line) {
          std::lock_guard<std::mutex> guard{st->mtx};
          // CAF_RTM_TEST_LOG=1 shows the client's log while a test runs.
          if (std::getenv("CAF_RTM_TEST_LOG") != nullptr)
            std::fprintf(stderr, "[log] %s\n", line.c_str());
          st->lines.push_back(line);
        });
  }

  logger_ptr get() const {
    return log_;
  }

  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> guard{state_->mtx};
    return state_->lines;
  }

  bool contains(const std::string& needle) const {
    return count(needle) > 0;
  }

  size_t count(const std::string& needle) const {
    size_t result = 0;
    for (auto& line : lines())
      if (line.find(needle) != std::string::npos)
        ++result;
    return result;
  }

private:
  struct state {
    std::mutex mtx;
    std::vector<std::string> lines;
  };
  std::shared_ptr<state> state_;
  logger_ptr log_;
};

/// An actor system with caf-rtm's types and two scheduler threads.
struct system_fixture {
  system_fixture();
  ~system_fixture();

  /// Ends `hdl` with the fixture, should the test fail before closing it.
  template <class Handle>
  Handle track(Handle hdl) {
    tracked.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  std::vector<caf::actor> tracked;
};

/// A config for `srv`: its base URL and CA, no proxy from the environment,
/// fast retries, and the given logger.
client_config config_for(const testing::fake_slack& srv, logger_ptr log);

/// A Socket Mode config for `srv`: its app token, base URL and CA, no proxy
/// from the environment, fast retries, and the given logger.
client_config socket_mode_config_for(const testing::fake_slack& srv,
                                     logger_ptr log);

/// Waits up to `timeout` for `pred` to hold, polling.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Sends a request and waits for the answer.
template <class T, class Handle, class... Ts>
caf::expected<T> request(caf::scoped_actor& self, const Handle& dest,
                         caf::timespan timeout, Ts&&... xs) {
  caf::expected<T> result{caf::error{}};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
  return result;
}

/// Spawns an event-based actor running `f(self)`. The function travels as a
/// spawn argument: CAF 0.17 dereferences a null argument tuple when a function
/// is spawned without arguments (undefined behaviour, flagged by UBSan).
template <class F>
caf::actor spawn_fn(caf::actor_system& sys, F f) {
  return sys.spawn([](caf::event_based_actor* self, F fn) { return fn(self); },
                   std::move(f));
}

/// errc of a caf-rtm error, for readable assertions.
std::string code_of(const caf::error& err);

/// What a listener actor received: events, envelopes and lifecycle messages,
/// in order.
class recorder {
public:
  void add_event(const event& ev);
  void add_envelope(const envelope& env);
  void add_lifecycle(std::string what);

  std::vector<envelope> envelopes() const;
  size_t envelope_count() const;
  bool wait_envelopes(size_t n, std::chrono::milliseconds timeout = 10s) const;

  std::vector<event> events() const;
  std::vector<std::string> lifecycle() const;
  size_t event_count() const;
  /// Lifecycle entries that start with `prefix`.
  size_t lifecycle_count(const std::string& prefix) const;

  bool wait_events(size_t n, std::chrono::milliseconds timeout = 10s) const;
  bool wait_lifecycle(const std::string& prefix, size_t n,
                      std::chrono::milliseconds timeout = 10s) const;

private:
  mutable std::mutex mtx_;
  std::vector<event> events_;
  std::vector<envelope> envelopes_;
  std::vector<std::string> lifecycle_;
};

using recorder_ptr = std::shared_ptr<recorder>;

/// Spawns an actor that records into `rec` every event, envelope (answered
/// without a payload) and lifecycle message
/// ("connecting:N", "connected:S", "disconnected:S:<errc>:<close code>",
/// "reconnecting:N", "error:<errc>", "fatal:<errc>").
caf::actor spawn_recorder(caf::actor_system& sys, const recorder_ptr& rec);

/// Spawns a client for `srv`, subscribes a recorder to `types` and to the
/// lifecycle, and connects. Fails the test if the connect fails.
struct connected_client {
  rtm_client_actor hdl;
  recorder_ptr rec;
  caf::actor listener;
};

connected_client connect_client(system_fixture& fx, const client_config& cfg,
                                std::vector<std::string> types = {"*"},
                                bool expect_success = true);

/// Closes a client and waits for the reply.
void close_client(system_fixture& fx, const rtm_client_actor& hdl);

/// A directory of its own under /tmp (configuration files, certificates,
/// token files), removed with what is in it at the end.
struct temp_dir {
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Writes `content` to the file `name` in it; returns the file's path.
  std::string write(const std::string& name, const std::string& content) const;

  std::string path;
};

using testing::resident_bytes;
using testing::thread_count;

} // namespace caf::rtm::test
