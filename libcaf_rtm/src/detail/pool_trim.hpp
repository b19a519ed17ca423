// When the frame pool of an actor gives its cached blocks back to the heap.
// A pool keeps what a burst left in it (up to 4 MB) for its owner's whole
// life otherwise: a connection that lives for days, a router that lives as
// long as its client, in a process that may hold a thousand clients.
//
// The pool is trimmed `interval` after its first use since the last trim, and
// again every interval while events keep coming or blocks are still out (a
// subscriber that works through a burst for longer frees them later).
// Refilling it costs at most 16,000 allocations an interval (4 MB of the
// smallest blocks), against the millions of a burst.

#pragma once

#include <chrono>

#include <caf/timespan.hpp>

#include "detail/frame_pool.hpp"
#include "detail/internal_messages.hpp"

namespace caf::rtm::detail {

class pool_trim {
public:
  static constexpr caf::timespan interval = std::chrono::seconds{10};

  /// The pool handed out blocks: arms the trim unless it is armed.
  template <class Self>
  void note_use(Self* self) {
    if (armed_)
      return;
    armed_ = true;
    self->delayed_send(self, interval, timeout_atom_v, trim_atom_v);
  }

  /// The time came (`timeout_atom, trim_atom`): trims `pool` (by its owner,
  /// `self`), and arms the next trim while blocks are out.
  template <class Self>
  void run(Self* self, frame_pool* pool) {
    armed_ = false;
    if (pool == nullptr)
      return;
    pool->trim();
    if (pool->blocks_out() > 0)
      note_use(self);
  }

private:
  bool armed_ = false;
};

} // namespace caf::rtm::detail
