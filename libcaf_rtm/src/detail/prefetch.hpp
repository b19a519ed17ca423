// Asking the CPU for memory ahead of its use, without waiting for it.
//
// Why: an event reaches its subscriber on another core than the one that
// parsed it, so the subscriber's first read of each event waits for memory
// (a cache miss per line). Told one event ahead, the core fetches the next
// event's lines while it still works on the current one.

#pragma once

#include <cstddef>

namespace caf::rtm::detail {

/// A range of memory to prefetch (empty: nothing).
struct memory_span {
  const char* data = nullptr;
  size_t size = 0;
};

/// Starts loading the cache lines of `x`, up to `max_bytes` of it, into this
/// core's cache. Never faults, whatever `x` points to: a prefetch of memory
/// that went away meanwhile costs a useless load and nothing else.
inline void prefetch(memory_span x, size_t max_bytes) noexcept {
  constexpr size_t line = 64;
  auto n = x.size < max_bytes ? x.size : max_bytes;
  for (size_t offset = 0; offset < n; offset += line)
    __builtin_prefetch(x.data + offset);
}

} // namespace caf::rtm::detail
