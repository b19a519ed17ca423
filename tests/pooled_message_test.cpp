// pooled_message: a message from a router's pool reaches the actor like any
// other, and its memory comes back to the pool however CAF lets go of it
// (handled, dropped at a dead actor, turned into a `message`). Leaks and
// double frees show in the sanitizer build.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/fwd.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "detail/frame_pool.hpp"
#include "detail/pooled_message.hpp"
#include "test_support.hpp"

using caf::rtm::detail::frame_pool;
using caf::rtm::detail::frame_pool_owner;
using caf::rtm::detail::pooled_element;
using caf::rtm::detail::send_pooled;
using caf::rtm::test::spawn_fn;

namespace {

// Blocks of the element's size class free in the owner's lists, after
// taking back what other threads freed (an allocation does that).
size_t free_blocks(frame_pool* pool) {
  uint8_t c = 0;
  auto* probe =
      frame_pool::allocate(pool, sizeof(pooled_element<std::string>), c);
  auto result = pool->cached_blocks() + 1; // the probe was one of them
  frame_pool::deallocate(pool, probe, c);
  return result;
}

// An actor system, a pool and a blocking actor to send and receive with.
struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  frame_pool_owner pool;
  caf::scoped_actor self{sys};
};

} // namespace

TEST_CASE_METHOD(fixture,
                 "pooled messages arrive in order and their memory comes back",
                 "[pooled_message]") {
  constexpr size_t n = 500;
  // A blocking receiver holds all of them until it receives: the pool makes
  // n blocks, and gets all n back.
  for (size_t i = 0; i < n; ++i)
    send_pooled(pool.get(), caf::actor{self}, std::to_string(i));
  size_t i = 0;
  self->receive_for(i, n)(
      [&i](const std::string& x) { CHECK(x == std::to_string(i)); });
  CHECK(i == n);
  CHECK(free_blocks(pool.get()) == n);
}

TEST_CASE_METHOD(fixture, "an event-based actor gets pooled messages in order",
                 "[pooled_message]") {
  constexpr int n = 2000;
  auto sink = spawn_fn(sys, [](caf::event_based_actor*) -> caf::behavior {
    auto next = std::make_shared<int>(0);
    return caf::behavior{
        [next](int x) {
          if (x == *next)
            ++*next;
        },
        [next](caf::get_atom) { return *next; },
    };
  });
  for (int i = 0; i < n; ++i)
    send_pooled(pool.get(), sink, i);
  int in_order = -1;
  std::string failure;
  self->request(sink, caf::infinite, caf::get_atom_v)
      .receive([&](int x) { in_order = x; },
               [&](caf::error& err) { failure = caf::to_string(err); });
  CHECK(failure.empty());
  CHECK(in_order == n);
  self->send_exit(sink, caf::exit_reason::user_shutdown);
  self->wait_for(sink);
}

TEST_CASE_METHOD(fixture,
                 "a pooled message to a dead actor comes back to the pool",
                 "[pooled_message]") {
  auto sink = spawn_fn(sys, [](caf::event_based_actor*) -> caf::behavior {
    return {[](const std::string&) {
    }};
  });
  self->send_exit(sink, caf::exit_reason::user_shutdown);
  self->wait_for(sink);
  // The pool's one block of the class, at a known address.
  uint8_t c = 0;
  auto* block =
      frame_pool::allocate(pool.get(), sizeof(pooled_element<std::string>), c);
  frame_pool::deallocate(pool.get(), block, c);
  // Each message is dropped at once, so the same block serves all of them.
  for (int i = 0; i < 10; ++i)
    send_pooled(pool.get(), sink, std::string(100, 'x'));
  // A null handle: nothing sent, nothing taken.
  send_pooled(pool.get(), caf::actor{}, std::string("nobody"));
  auto* again =
      frame_pool::allocate(pool.get(), sizeof(pooled_element<std::string>), c);
  CHECK(again == block);
  CHECK(pool.get()->cached_blocks() == 0);
  frame_pool::deallocate(pool.get(), again, c);
}

TEST_CASE("a pooled element turns into a message by copy or by move",
          "[pooled_message]") {
  frame_pool_owner pool;
  uint8_t c = 0;
  auto* mem =
      frame_pool::allocate(pool.get(), sizeof(pooled_element<std::string>), c);
  caf::mailbox_element_ptr element{
      ::new (mem) pooled_element<std::string>(pool.get(), c, "payload")};
  CHECK(element->content().match_elements<std::string>());
  auto copy = element->copy_content_to_message();
  REQUIRE(copy.match_elements<std::string>());
  CHECK(copy.get_as<std::string>(0) == "payload");
  auto moved = element->move_content_to_message();
  REQUIRE(moved.match_elements<std::string>());
  CHECK(moved.get_as<std::string>(0) == "payload");
  element.reset();
  CHECK(free_blocks(pool.get()) == 1);
}

TEST_CASE_METHOD(
    fixture, "elements still out keep the pool alive after its owner is gone",
    "[pooled_message]") {
  {
    frame_pool_owner own;
    for (int i = 0; i < 3; ++i)
      send_pooled(own.get(), caf::actor{self}, std::string("late"));
  }
  // The owner is gone; receiving and dropping the elements frees the pool
  // (the sanitizer build sees a leak or a use after free otherwise).
  int got = 0;
  self->receive_for(got, 3)([](const std::string& x) { CHECK(x == "late"); });
  CHECK(got == 3);
}
