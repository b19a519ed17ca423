// The executor of the WebSocket sessions' streams: handlers posted from its
// handlers run right after them, in bursts, without a turn of the io_context
// (and its epoll_wait) between every two.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/burst_executor.hpp"

namespace asio = boost::asio;
using executor = caf::rtm::net::burst_executor<asio::io_context::executor_type>;

TEST_CASE("handlers posted from a burst run after their poster, in order, in "
          "one turn of the io_context") {
  asio::io_context io{1};
  executor ex{io.get_executor()};
  std::vector<int> order;
  bool in_poster = false;
  asio::post(ex, [&] {
    in_poster = true;
    for (int i = 1; i <= 3; ++i)
      asio::post(ex, [&, i] {
        CHECK(!in_poster);
        order.push_back(i);
        if (i == 3)
          asio::post(ex, [&] { order.push_back(4); });
      });
    in_poster = false;
  });
  // The io_context ran one handler: the rest ran in its burst.
  CHECK(io.run() == 1);
  CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("a long chain of handlers yields to the io_context after a burst") {
  asio::io_context io{1};
  executor ex{io.get_executor()};
  constexpr size_t chain = 3 * executor::max_burst;
  size_t steps = 0;
  size_t other_ran_after = 0;
  std::function<void()> step = [&] {
    if (steps == 0) {
      // Another session's handler, queued in the io_context meanwhile.
      asio::post(io.get_executor(), [&] { other_ran_after = steps; });
    }
    if (++steps < chain)
      asio::post(ex, step);
  };
  asio::post(ex, step);
  auto turns = io.run();
  CHECK(steps == chain);
  // The first handler and one burst of queued handlers ran first.
  CHECK(other_ran_after == executor::max_burst + 1);
  // A turn per burst (and one for the other handler), not one per handler.
  CHECK(turns >= 3);
  CHECK(turns <= 6);
}

TEST_CASE("a handler that throws loses none queued behind it") {
  asio::io_context io{1};
  executor ex{io.get_executor()};
  int ran = 0;
  asio::post(ex, [&] {
    asio::post(ex, [] { throw std::runtime_error("bug"); });
    asio::post(ex, [&] { ++ran; });
  });
  CHECK_THROWS_AS(io.run(), std::runtime_error);
  CHECK(ran == 0);
  io.restart();
  io.run();
  CHECK(ran == 1);
}

TEST_CASE("dispatch runs at once on the context's thread, posts from others") {
  asio::io_context io{1};
  executor ex{io.get_executor()};
  bool inline_ran = false;
  bool outside_ran = false;
  asio::post(ex, [&] {
    asio::dispatch(ex, [&] { inline_ran = true; });
    CHECK(inline_ran);
  });
  // Not on the context's thread: queued until the context runs.
  asio::dispatch(ex, [&] { outside_ran = true; });
  CHECK(!outside_ran);
  io.run();
  CHECK(inline_ran);
  CHECK(outside_ran);
}

TEST_CASE("timers work through the executor, whose copies count no work") {
  asio::io_context io{1};
  executor ex{io.get_executor()};
  // Beast's WebSocket stream makes its timer from the stream's executor.
  asio::steady_timer timer{ex};
  bool fired = false;
  timer.expires_after(std::chrono::milliseconds{1});
  timer.async_wait([&](boost::system::error_code ec) { fired = !ec; });
  io.run();
  CHECK(fired);
  // Copies count no work (the timer's wait above kept run() going): asking
  // for tracked work yields the executor itself.
  auto preferred = asio::prefer(ex, asio::execution::outstanding_work.tracked);
  static_assert(std::is_same_v<decltype(preferred), executor>);
  CHECK(asio::query(preferred, asio::execution::outstanding_work) ==
        asio::execution::outstanding_work.untracked);
}
