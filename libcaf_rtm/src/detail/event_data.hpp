// The single allocation behind an `event`: this struct, the frame right behind
// it, and the arena of the parsed JSON behind the frame. Freed when the last
// event referring to it goes away, on whichever thread that happens.

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include "caf/rtm/event.hpp"

namespace caf::rtm {

struct event::data {
  data(std::string_view frame, unsigned char* arena_mem, size_t arena_size,
       uint64_t session_nr)
      : raw(frame), arena(arena_mem, arena_size),
        value(boost::json::storage_ptr{&arena}), session(session_nr) {
    // nop
  }

  static data* make(std::string_view frame, uint64_t session) {
    constexpr size_t align = alignof(std::max_align_t);
    auto arena_offset =
        (sizeof(data) + frame.size() + align - 1) / align * align;
    // Enough for the DOM of a typical event; bigger ones spill to the heap.
    auto arena_size = frame.size() * 2 + 256;
    auto* mem =
        static_cast<unsigned char*>(::operator new(arena_offset + arena_size));
    auto* text = mem + sizeof(data);
    std::memcpy(text, frame.data(), frame.size());
    return new (mem)
        data(std::string_view{reinterpret_cast<char*>(text), frame.size()},
             mem + arena_offset, arena_size, session);
  }

  static void destroy(const data* ptr) noexcept {
    ptr->~data();
    ::operator delete(const_cast<data*>(ptr));
  }

  mutable std::atomic<size_t> refs{1};
  std::string_view raw;
  // Declared before `value`: the arena must outlive the value it holds.
  boost::json::monotonic_resource arena;
  boost::json::value value;
  std::string_view type;
  std::string_view subtype;
  std::string_view channel;
  std::string_view user;
  std::string_view bot_id;
  std::string_view ts;
  std::optional<int64_t> reply_to;
  std::optional<bool> ok;
  uint64_t session;
};

} // namespace caf::rtm
