// caf-rtm-hub's bound on the steps of its stop, with the process exit
// replaced by a record of what expired.

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

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
