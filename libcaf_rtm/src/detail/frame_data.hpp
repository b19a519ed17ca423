// The single allocation behind an event or an envelope: the data struct, the
// frame right behind it, and the arena of the parsed JSON behind the frame.
// Freed when the last handle referring to it goes away, on whichever thread
// that happens: back to the pool of the parser that made it (frame_pool).

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include "detail/frame_pool.hpp"

namespace caf::rtm::detail {

/// Where the JSON of a frame goes once it outgrew the frame's arena: the
/// heap, each such allocation counted on the thread that made it, so that a
/// parser learns how big to make its arenas (see frame_parser).
class arena_overflow final : public boost::json::memory_resource {
public:
  /// The one instance; never destroyed (events may outlive everything).
  static arena_overflow* instance();

  /// Allocations this thread made so far.
  static size_t count() noexcept;

private:
  void* do_allocate(size_t n, size_t align) override;
  void do_deallocate(void* p, size_t n, size_t align) override;
  bool do_is_equal(const memory_resource& other) const noexcept override;
};

/// The storage of every frame's parsed JSON, and so of every copy made from
/// it: Boost.JSON gives a copy the storage of its source. While a parser
/// fills a frame (`filling`), it serves that frame's arena on the parser's
/// thread; otherwise it is the heap. A copy of an event's JSON, made by any
/// of the threads that share the event, then neither races for the arena
/// nor dies with it.
class frame_storage final : public boost::json::memory_resource {
public:
  /// The one instance; never destroyed (copies may outlive everything).
  static frame_storage* instance();

  /// While alive, this thread's allocations through the frame storage come
  /// from `arena` and are never given back one by one.
  class filling {
  public:
    explicit filling(boost::json::memory_resource& arena) noexcept;
    ~filling();
    filling(const filling&) = delete;
    filling& operator=(const filling&) = delete;

  private:
    boost::json::memory_resource* previous_;
  };

private:
  void* do_allocate(size_t n, size_t align) override;
  void do_deallocate(void* p, size_t n, size_t align) override;
  bool do_is_equal(const memory_resource& other) const noexcept override;
};

/// What every parsed frame holds; event::data and envelope::data add the
/// fields they index.
struct frame_data {
  frame_data(std::string_view frame, unsigned char* arena_mem,
             size_t arena_size, uint64_t session_nr)
      : raw(frame), arena(arena_mem, arena_size,
                          boost::json::storage_ptr{arena_overflow::instance()}),
        value(boost::json::storage_ptr{frame_storage::instance()}),
        session(session_nr) {
    // nop
  }

  // `value` is not destroyed: everything it holds lies in the arena, which
  // goes as a whole (a destructor would hand its parts to the heap).
  ~frame_data() {} // NOLINT(modernize-use-equals-default): union member

  frame_data(const frame_data&) = delete;
  frame_data& operator=(const frame_data&) = delete;

  mutable std::atomic<size_t> refs{1};
  std::string_view raw;
  /// Where the parser puts `value` (see frame_storage); freed as a whole.
  boost::json::monotonic_resource arena;
  union {
    /// Filled from `arena` by the parser (see frame_storage), read-only
    /// afterwards.
    boost::json::value value;
  };
  /// The client-local number of the session that received the frame.
  uint64_t session;
  /// Where the block goes back to (null: the heap).
  frame_pool* pool = nullptr;
  uint8_t size_class = frame_pool::no_class;
};

/// Allocates a `T` (derived from frame_data) with a copy of `frame` and
/// `arena_size` bytes for its parsed JSON in one block, from `pool` (the heap
/// if null). The arena takes what the pool's size class adds.
template <class T>
T* make_frame(std::string_view frame, uint64_t session, size_t arena_size,
              frame_pool* pool = nullptr) {
  constexpr size_t align = alignof(std::max_align_t);
  auto arena_offset = (sizeof(T) + frame.size() + align - 1) / align * align;
  uint8_t size_class = frame_pool::no_class;
  auto* mem = static_cast<unsigned char*>(
      frame_pool::allocate(pool, arena_offset + arena_size, size_class));
  if (size_class != frame_pool::no_class)
    arena_size = frame_pool::block_size(size_class) - arena_offset;
  auto* text = mem + sizeof(T);
  std::memcpy(text, frame.data(), frame.size());
  auto* result =
      new (mem) T(std::string_view{reinterpret_cast<char*>(text), frame.size()},
                  mem + arena_offset, arena_size, session);
  result->pool = pool;
  result->size_class = size_class;
  return result;
}

template <class T>
void destroy_frame(const T* ptr) noexcept {
  auto* pool = ptr->pool;
  auto size_class = ptr->size_class;
  ptr->~T();
  frame_pool::deallocate(pool, const_cast<T*>(ptr), size_class);
}

template <class T>
void add_frame_ref(const T* ptr) noexcept {
  ptr->refs.fetch_add(1, std::memory_order_relaxed);
}

template <class T>
void release_frame(const T* ptr) noexcept {
  if (ptr->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
    destroy_frame(ptr);
}

} // namespace caf::rtm::detail
