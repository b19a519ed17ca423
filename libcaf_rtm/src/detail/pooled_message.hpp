// Asynchronous messages of one value whose memory comes from a frame_pool:
// what a router sends each per-item subscriber, one message per event or
// envelope.
//
// Why: CAF allocates each message with `new` on the router's worker and the
// subscriber frees it on the other one, a batch of a thousand at a time. For
// glibc's malloc that is the producer/consumer pattern that frame_pool
// exists for (per-thread caches of seven blocks, then the arena's bins, and a
// consolidation of all freed small blocks at the next larger request). A
// router's pool hands the same blocks round instead. CAF gives every message
// back through `request_deletion`, which this element overrides.
//
// Each element may also name the memory of the item the router sends next
// (`next`): when CAF first looks at this message, the receiving core starts
// fetching that item, which the parsing core wrote. Between two messages
// CAF's own dequeue runs, so the subscriber's first reads of each item
// waited for memory one item after another (a tenth of all samples of a
// flood of small events, one message each), where a loop over a batch
// overlaps them.

#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>

#include "detail/frame_pool.hpp"
#include "detail/prefetch.hpp"

namespace caf::rtm::detail {

/// A mailbox element like CAF's `mailbox_element_vals<T>`, but from a pool.
template <class T>
class pooled_element final
    : public caf::mailbox_element,
      public caf::detail::tuple_vals_impl<caf::type_erased_tuple, T> {
public:
  static_assert(std::is_nothrow_move_constructible_v<T>);

  /// Prefetches of the next item reach this far at most: the start of its
  /// block holds its fields, its frame and the top of its parsed JSON.
  static constexpr size_t max_prefetch = 2048;

  pooled_element(frame_pool* pool, uint8_t size_class, T&& x,
                 memory_span next = {}) noexcept
      : caf::mailbox_element(nullptr, caf::make_message_id(), {}),
        caf::detail::tuple_vals_impl<caf::type_erased_tuple, T>(std::move(x)),
        next_(next), pool_(pool), size_class_(size_class) {
    // nop
  }

  caf::type_erased_tuple& content() override {
    // CAF asks for the content first on the receiving core: once is enough.
    if (next_.data != nullptr) {
      prefetch(next_, max_prefetch);
      next_ = memory_span{};
    }
    return *this;
  }

  const caf::type_erased_tuple& content() const override {
    return *this;
  }

  caf::message move_content_to_message() override {
    return caf::make_message(std::move(std::get<0>(this->data())));
  }

  caf::message copy_content_to_message() const override {
    return caf::make_message(std::get<0>(this->data()));
  }

  void request_deletion(bool) const noexcept override {
    auto* self = const_cast<pooled_element*>(this);
    auto* pool = pool_;
    auto size_class = size_class_;
    self->~pooled_element();
    frame_pool::deallocate(pool, self, size_class);
  }

private:
  memory_span next_;
  frame_pool* pool_;
  uint8_t size_class_;
};

/// Sends `x` to `dest` as an anonymous asynchronous message, its memory from
/// `pool` (only the pool's owner may call this; null means the heap). `next`:
/// the memory of the item sent after it, if any, for the receiver to prefetch.
template <class T>
void send_pooled(frame_pool* pool, const caf::actor& dest, T x,
                 memory_span next = {}) {
  if (!dest)
    return;
  uint8_t size_class = 0;
  auto* mem = frame_pool::allocate(pool, sizeof(pooled_element<T>), size_class);
  caf::mailbox_element_ptr element{
      ::new (mem) pooled_element<T>(pool, size_class, std::move(x), next)};
  dest->enqueue(std::move(element), nullptr);
}

} // namespace caf::rtm::detail
