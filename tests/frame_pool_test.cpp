// frame_pool: blocks of events come back to the pool of the parser that made
// them, from any thread, bounded; the pool outlives its owner while blocks
// are out. Leaks and races show in the sanitizer build.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <malloc.h>
#include <set>
#include <thread>
#include <vector>

#include "detail/frame_parser.hpp"
#include "detail/frame_pool.hpp"
#include "detail/pool_trim.hpp"

using caf::rtm::detail::frame_parser;
using caf::rtm::detail::frame_pool;
using caf::rtm::detail::frame_pool_owner;
using caf::rtm::detail::pool_trim;

namespace {

struct block {
  void* ptr;
  uint8_t size_class;
};

std::vector<block> allocate_n(frame_pool* pool, size_t n, size_t bytes) {
  std::vector<block> out;
  for (size_t i = 0; i < n; ++i) {
    block b{nullptr, 0};
    b.ptr = frame_pool::allocate(pool, bytes, b.size_class);
    out.push_back(b);
  }
  return out;
}

void free_all(frame_pool* pool, const std::vector<block>& blocks) {
  for (auto& b : blocks)
    frame_pool::deallocate(pool, b.ptr, b.size_class);
}

} // namespace

TEST_CASE("a freed block comes back for the next frame of its size class",
          "[frame_pool]") {
  frame_pool_owner p;
  uint8_t c1 = 0;
  auto* first = frame_pool::allocate(p.get(), 700, c1);
  CHECK(c1 == 2); // 513..768 bytes
  CHECK(frame_pool::block_size(c1) == 768);
  frame_pool::deallocate(p.get(), first, c1);
  uint8_t c2 = 0;
  auto* second = frame_pool::allocate(p.get(), 600, c2);
  CHECK(c2 == c1);
  CHECK(second == first);
  // Another class does not take it.
  frame_pool::deallocate(p.get(), second, c2);
  uint8_t c3 = 0;
  auto* other = frame_pool::allocate(p.get(), 1500, c3);
  CHECK(c3 != c1);
  CHECK(other != first);
  frame_pool::deallocate(p.get(), other, c3);
}

TEST_CASE("blocks over the largest class come from the heap", "[frame_pool]") {
  frame_pool_owner p;
  uint8_t c = 0;
  auto* big = frame_pool::allocate(p.get(), frame_pool::max_pooled + 1, c);
  CHECK(c == frame_pool::no_class);
  frame_pool::deallocate(p.get(), big, c);
  CHECK(p.get()->cached_blocks() == 0);
}

TEST_CASE("blocks freed on other threads come back to the owner",
          "[frame_pool]") {
  frame_pool_owner p;
  auto blocks = allocate_n(p.get(), 1000, 1100);
  std::set<void*> first;
  for (auto& b : blocks)
    first.insert(b.ptr);
  // Two threads free half each, as subscribers on two workers would.
  std::vector<block> a(blocks.begin(), blocks.begin() + 500);
  std::vector<block> b(blocks.begin() + 500, blocks.end());
  std::thread t1{[&] {
    free_all(p.get(), a);
  }};
  std::thread t2{[&] {
    free_all(p.get(), b);
  }};
  t1.join();
  t2.join();
  auto again = allocate_n(p.get(), 1000, 1100);
  for (auto& x : again)
    CHECK(first.count(x.ptr) == 1);
  free_all(p.get(), again);
}

TEST_CASE("a pool keeps a bounded amount of freed blocks", "[frame_pool]") {
  frame_pool_owner p;
  constexpr size_t size = 4096;
  auto n = 2 * frame_pool::max_cached_bytes / size;
  auto blocks = allocate_n(p.get(), n, size);
  free_all(p.get(), blocks);
  // The next allocation takes back what was freed: the bound holds.
  uint8_t c = 0;
  auto* x = frame_pool::allocate(p.get(), size, c);
  CHECK(p.get()->cached_blocks() > 0);
  CHECK(p.get()->cached_blocks() * size <= frame_pool::max_cached_bytes);
  frame_pool::deallocate(p.get(), x, c);
}

TEST_CASE("a trimmed pool gives every cached block back to the heap",
          "[frame_pool]") {
  frame_pool_owner p;
  // A burst: blocks of two classes, freed here and on another thread.
  auto small = allocate_n(p.get(), 400, 200);
  auto large = allocate_n(p.get(), 300, 3000);
  free_all(p.get(), small);
  std::thread{[&] {
    free_all(p.get(), large);
  }}.join();
  // Some come back to the owner's lists, some are reused.
  auto again = allocate_n(p.get(), 100, 200);
  CHECK(p.get()->cached_blocks() > 0);
  auto expected = (400 - 100) * frame_pool::block_size(0) +
                  300 * frame_pool::block_size(11);
  CHECK(p.get()->cached_bytes() == expected);
  p.get()->trim();
  CHECK(p.get()->cached_blocks() == 0);
  CHECK(p.get()->cached_bytes() == 0);
  // The pool goes on as before: freed blocks are cached again, and taken
  // back for the next frames.
  free_all(p.get(), again);
  CHECK(p.get()->cached_bytes() == 100 * frame_pool::block_size(0));
  auto more = allocate_n(p.get(), 100, 200);
  std::set<void*> reused;
  for (auto& x : again)
    reused.insert(x.ptr);
  for (auto& x : more)
    CHECK(reused.count(x.ptr) == 1);
  free_all(p.get(), more);
}

namespace {

// Stands in for the actor that owns a pool: counts the trims it arms.
struct trim_owner {
  int armed = 0;

  template <class... Ts>
  void delayed_send(trim_owner*, caf::timespan, Ts&&...) {
    ++armed;
  }
};

} // namespace

TEST_CASE("a pool is trimmed after its use, and again while blocks are out",
          "[frame_pool]") {
  frame_pool_owner p;
  trim_owner self;
  pool_trim trim;
  auto blocks = allocate_n(p.get(), 200, 200);
  trim.note_use(&self);
  trim.note_use(&self);
  CHECK(self.armed == 1); // one timer at a time
  // Half came back by the time: trimmed, and the next trim armed for the
  // rest.
  std::vector<block> first(blocks.begin(), blocks.begin() + 100);
  std::vector<block> rest(blocks.begin() + 100, blocks.end());
  free_all(p.get(), first);
  CHECK(p.get()->blocks_out() == 100);
  trim.run(&self, p.get());
  CHECK(p.get()->cached_bytes() == 0);
  CHECK(self.armed == 2);
  // The rest came back later, with no use of the pool since: the next trim
  // takes it, and arms none.
  free_all(p.get(), rest);
  CHECK(p.get()->blocks_out() == 0);
  CHECK(p.get()->cached_bytes() > 0);
  trim.run(&self, p.get());
  CHECK(p.get()->cached_bytes() == 0);
  CHECK(self.armed == 2);
  // The next use arms it again.
  trim.note_use(&self);
  CHECK(self.armed == 3);
  // An owner without a pool (blocks from the heap) has nothing to trim.
  trim.run(&self, nullptr);
  CHECK(self.armed == 3);
}

TEST_CASE("blocks may outlive the pool's owner", "[frame_pool]") {
  auto* pool = frame_pool::make();
  auto blocks = allocate_n(pool, 300, 900);
  frame_pool::deallocate(pool, blocks.back().ptr, blocks.back().size_class);
  blocks.pop_back();
  pool->release_owner();
  // The last block freed, on another thread, takes the pool with it.
  std::thread t{[&] {
    free_all(pool, blocks);
  }};
  t.join();
}

TEST_CASE("an owner allocates while other threads free", "[frame_pool]") {
  frame_pool_owner p;
  constexpr size_t rounds = 200;
  constexpr size_t per_round = 64;
  std::vector<std::vector<block>> handed(rounds);
  std::atomic<size_t> ready{0};
  std::thread freer{[&] {
    for (size_t i = 0; i < rounds; ++i) {
      while (ready.load(std::memory_order_acquire) <= i)
        std::this_thread::yield();
      free_all(p.get(), handed[i]);
    }
  }};
  for (size_t i = 0; i < rounds; ++i) {
    handed[i] = allocate_n(p.get(), per_round, 200 + (i % 7) * 300);
    for (auto& b : handed[i])
      std::memset(b.ptr, static_cast<int>(i), 200);
    ready.store(i + 1, std::memory_order_release);
  }
  freer.join();
}

TEST_CASE("events outlive the parser that made them", "[frame_pool]") {
  // A connection's parser (pooled) and a parser of one frame (heap).
  auto mem = GENERATE(frame_parser::memory::pooled, frame_parser::memory::heap);
  std::vector<caf::rtm::event> kept;
  {
    frame_parser parser{frame_parser::default_max_depth, mem};
    for (int i = 0; i < 100; ++i)
      kept.push_back(parser.parse_event(
          R"({"type":"message","channel":"C1","text":"hello )" +
              std::to_string(i) + R"("})",
          1));
  }
  REQUIRE(kept.size() == 100);
  CHECK(kept.front().type() == "message");
  CHECK(kept.back().json().at("text").as_string() == "hello 99");
  std::thread t{[&] {
    kept.clear();
  }};
  t.join();
}

TEST_CASE("an item's block spans its frame and parsed JSON, for prefetching",
          "[frame_pool]") {
  using caf::rtm::detail::memory_span;
  using caf::rtm::detail::next_block;
  auto mem = GENERATE(frame_parser::memory::pooled, frame_parser::memory::heap);
  frame_parser parser{frame_parser::default_max_depth, mem};
  std::vector<caf::rtm::event> events;
  events.reserve(3);
  for (int i = 0; i < 3; ++i)
    events.push_back(parser.parse_event(
        R"({"type":"message","channel":"C1","text":"hello )" +
            std::to_string(i) + R"("})",
        1));
  auto within = [](memory_span block, const void* ptr, size_t size) {
    auto* p = static_cast<const char*>(ptr);
    return block.data <= p && p + size <= block.data + block.size;
  };
  for (auto& ev : events) {
    auto block = frame_parser::block_of(ev);
    REQUIRE(block.data != nullptr);
    // The frame lies in the block; the parsed JSON does too, in a pool's
    // block (a heap block's span ends with the frame).
    CHECK(within(block, ev.raw().data(), ev.raw().size()));
    if (mem == frame_parser::memory::pooled)
      CHECK(within(block, &ev.json(), sizeof(ev.json())));
  }
  // The next item's block, none after the last, none for an invalid one.
  CHECK(next_block(events, 0).data == frame_parser::block_of(events[1]).data);
  CHECK(next_block(events, 2).data == nullptr);
  CHECK(next_block(events, 2).size == 0);
  CHECK(frame_parser::block_of(caf::rtm::event{}).data == nullptr);
}

// AddressSanitizer's allocator keeps freed memory in quarantine and does
// not report to mallinfo2: the heap is measured without it only.
#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define CAF_RTM_TEST_UNDER_ASAN
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define CAF_RTM_TEST_UNDER_ASAN
#endif

#ifndef CAF_RTM_TEST_UNDER_ASAN

// Bytes the C heap hands out now (small blocks and mmapped ones).
size_t heap_in_use() {
  auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

TEST_CASE("a large frame leaves no scratch memory behind in its parser",
          "[frame_pool]") {
  frame_parser parser;
  // Warm up: the parser's first small frame, with its pool.
  auto small = parser.parse_event(R"({"type":"message","text":"hi"})", 1);
  REQUIRE(small.valid());
  // 4 MiB of JSON with 2 million values: parsing keeps them all on the
  // parser's scratch stack (tens of MB) until the array closes.
  std::string frame = R"({"type":"message","xs":[0)";
  while (frame.size() < (size_t{4} << 20))
    frame += ",0";
  frame += "]}";
  auto before = heap_in_use();
  {
    auto big = parser.parse_event(frame, 1);
    REQUIRE(big.valid());
  }
  auto after = heap_in_use();
  auto kept = after > before ? after - before : 0;
  CAPTURE(before, after);
  // The frame and its parsed JSON are gone with the event; what is left is
  // what the parser holds on to.
  CHECK(kept < (size_t{4} << 20));
  auto next = parser.parse_event(R"({"type":"message","text":"again"})", 1);
  CHECK(next.valid());
}

#endif // CAF_RTM_TEST_UNDER_ASAN
