// caf-rtm-hub's bound on the steps of its stop, with the process exit
// replaced by a record of what expired.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/exit_saying.hpp"
#include "hub/stop_watchdog.hpp"

using caf::rtm::hub_app::stop_watchdog;
using namespace std::chrono_literals;

namespace {

// What expired, in order, as "step after N s".
struct expiries {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> seen;

  stop_watchdog::expiry recorder() {
    return [this](const std::string& step, std::chrono::seconds limit) {
      std::lock_guard<std::mutex> guard{mtx};
      seen.push_back(step + " after " + std::to_string(limit.count()) + " s");
      cv.notify_all();
    };
  }

  // Waits (at most a minute) until `n` steps expired; what expired by then.
  std::vector<std::string> wait_for(size_t n) {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait_for(guard, 60s, [&] { return seen.size() >= n; });
    return seen;
  }
};

} // namespace

TEST_CASE("stop watchdog: a step that outlasts its limit expires, once",
          "[hub][stop]") {
  expiries log;
  stop_watchdog dog{log.recorder()};
  dog.watch("closing", 0s);
  auto seen = log.wait_for(1);
  REQUIRE(seen == std::vector<std::string>{"closing after 0 s"});
  // The next step is watched anew.
  dog.watch("teardown", 0s);
  seen = log.wait_for(2);
  CHECK(seen ==
        std::vector<std::string>{"closing after 0 s", "teardown after 0 s"});
}

TEST_CASE("stop watchdog: a step that ends in time, or a later step, "
          "replaces what was watched",
          "[hub][stop]") {
  expiries log;
  {
    stop_watchdog dog{log.recorder()};
    // An hour: only a watchdog that ignores stop_watching or a new watch
    // would report this one.
    dog.watch("closing", std::chrono::hours{1});
    dog.stop_watching();
    dog.watch("teardown", std::chrono::hours{1});
    dog.watch("last step", 0s);
    auto seen = log.wait_for(1);
    CHECK(seen == std::vector<std::string>{"last step after 0 s"});
    dog.watch("unfinished", std::chrono::hours{1});
  } // Destroyed while watching: it ends without reporting.
  CHECK(log.wait_for(1).size() == 1);
}

TEST_CASE("stop watchdog: its exit comes even while stderr blocks",
          "[hub][stop]") {
  // A logging thread blocked on a stderr nobody reads holds the stdio lock:
  // a last line written through stdio would wait for it for good.
  auto child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int fds[2];
    if (pipe(fds) != 0 || dup2(fds[1], 2) != 2)
      _exit(3);
    // Full, and never read.
    fcntl(2, F_SETFL, O_NONBLOCK);
    char block[4096] = {};
    while (write(2, block, sizeof(block)) > 0) {
      // fill
    }
    fcntl(2, F_SETFL, 0);
    flockfile(stderr);
    caf::rtm::cli::exit_saying("caf-rtm-hub: gone\n", 5);
  }
  // A child stuck on a lock some other thread held at the fork is killed
  // rather than waited for.
  int status = 0;
  auto waited = pid_t{0};
  for (int i = 0; i < 1000 && waited == 0; ++i) {
    waited = waitpid(child, &status, WNOHANG);
    if (waited == 0)
      std::this_thread::sleep_for(10ms);
  }
  if (waited == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL("the child did not end within 10 s");
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 5);
}
