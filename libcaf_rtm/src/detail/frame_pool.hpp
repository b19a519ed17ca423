// The memory of the events and envelopes one parser makes: blocks in size
// classes that come back to the parser's pool from whichever thread frees
// them, for its next frames.
//
// Why: a connection allocates an event on the worker that parses, and the
// subscriber frees it on another one, a batch of a thousand at a time. For
// glibc's malloc that is its worst pattern: the blocks are too big for its
// per-thread cache, so every free takes the parsing thread's arena lock and
// every batch grows the heap again (page faults), about a third of the
// workers' time under a flood of small events. A pool hands the same warm
// blocks round: one atomic push per free, and the parser takes back all that
// was freed in one exchange.
//
// A router owns one too, for the messages it sends per-item subscribers
// (pooled_message.hpp): the same pattern with smaller blocks.
//
// Only the owner (one parser or router, used by one actor at a time)
// allocates; any thread frees. The pool lives while its owner or any of its
// blocks does.

#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace caf::rtm::detail {

class frame_pool {
public:
  /// Blocks come in multiples of this size.
  static constexpr size_t granularity = 256;

  /// Larger blocks come from the heap directly (large frames are rare, and
  /// malloc handles them as well).
  static constexpr size_t max_pooled = size_t{8} * 1024;

  static constexpr size_t classes = max_pooled / granularity;

  /// What a pool keeps of freed blocks at most, free in its lists and freed
  /// but not yet taken back; more goes back to the heap. About two batches
  /// of small events in flight.
  static constexpr size_t max_cached_bytes = size_t{4} * 1024 * 1024;

  /// The class of a block from the heap.
  static constexpr uint8_t no_class = 0xff;

  /// A pool whose owner holds the one reference.
  static frame_pool* make();

  /// The owner is done; the pool goes once its blocks are back, too.
  void release_owner() noexcept;

  frame_pool(const frame_pool&) = delete;
  frame_pool& operator=(const frame_pool&) = delete;

  /// A block of at least `n` bytes from `pool` (by its owner only), or from
  /// the heap if `pool` is null. `size_class` tells `deallocate` where it
  /// goes back to.
  static void* allocate(frame_pool* pool, size_t n, uint8_t& size_class);

  /// Gives a block back to the pool of its class (any thread). `pool` may be
  /// null for a block from the heap.
  static void deallocate(frame_pool* pool, void* ptr,
                         uint8_t size_class) noexcept;

  /// The size of the blocks of a class.
  static constexpr size_t block_size(uint8_t size_class) noexcept {
    return (size_t{size_class} + 1) * granularity;
  }

  /// Gives every cached block back to the heap (by the owner only). For an
  /// owner gone quiet: the cache a burst filled would stay for the owner's
  /// whole life otherwise, up to `max_cached_bytes` per pool.
  void trim() noexcept;

  /// Blocks free in the owner's lists (for tests).
  size_t cached_blocks() const noexcept;

  /// Bytes of freed blocks the pool keeps (by the owner; approximate while
  /// other threads free).
  size_t cached_bytes() const noexcept;

  /// Blocks handed out and not freed yet (by the owner).
  size_t blocks_out() const noexcept;

private:
  struct node {
    node* next;
  };

  frame_pool() = default;
  ~frame_pool();

  void* allocate_pooled(size_t n, uint8_t& size_class);

  // Takes the blocks of `size_class` freed since the last call as the owner's
  // list of that class (which is empty).
  void take_back(uint8_t size_class) noexcept;

  void unref(size_t n) noexcept;

  // -- owner's side -----------------------------------------------------------

  std::array<node*, classes> local_{};
  /// Bytes of cached blocks handed out since the owner last told
  /// `cached_bytes_`.
  size_t reused_bytes_ = 0;
  /// References the owner took ahead for blocks it hands out (one atomic add
  /// per many blocks instead of one per block).
  size_t credit_ = 0;

  // -- shared -----------------------------------------------------------------

  /// One for the owner, one per block out (plus the owner's credit). On a
  /// cache line of its own with what other threads change: the owner writes
  /// its fields above on every allocation.
  alignas(64) std::atomic<size_t> refs_{1};
  /// Bytes of freed blocks in the pool, in the owner's lists or not yet taken
  /// back (approximate: the owner subtracts what it reuses in batches).
  std::atomic<size_t> cached_bytes_{0};
  std::array<std::atomic<node*>, classes> remote_{};
};

/// The owner's handle of a pool: makes it, and releases it when it goes (the
/// pool itself goes once its blocks are back, too).
class frame_pool_owner {
public:
  /// A new pool.
  frame_pool_owner() : pool_(frame_pool::make()) {
    // nop
  }

  /// No pool: `get()` is null, so blocks come from the heap.
  explicit frame_pool_owner(std::nullptr_t) noexcept : pool_(nullptr) {
    // nop
  }

  ~frame_pool_owner() {
    if (pool_ != nullptr)
      pool_->release_owner();
  }

  frame_pool_owner(frame_pool_owner&& other) noexcept : pool_(other.pool_) {
    other.pool_ = nullptr;
  }

  frame_pool_owner(const frame_pool_owner&) = delete;
  frame_pool_owner& operator=(const frame_pool_owner&) = delete;
  frame_pool_owner& operator=(frame_pool_owner&&) = delete;

  frame_pool* get() const noexcept {
    return pool_;
  }

private:
  frame_pool* pool_;
};

} // namespace caf::rtm::detail
