#include "detail/frame_pool.hpp"

#include <new>

namespace caf::rtm::detail {

namespace {

// References the owner takes ahead at a time.
constexpr size_t credit_step = 64;

// Bytes of reused blocks the owner subtracts from the bound at a time.
constexpr size_t reuse_batch_bytes = size_t{64} * 1024;

} // namespace

frame_pool* frame_pool::make() {
  return new frame_pool;
}

frame_pool::~frame_pool() {
  auto free_list = [](node* n) {
    while (n != nullptr) {
      auto* next = n->next;
      ::operator delete(n);
      n = next;
    }
  };
  for (uint8_t c = 0; c < classes; ++c) {
    free_list(local_[c]);
    free_list(remote_[c].load(std::memory_order_acquire));
  }
}

void frame_pool::release_owner() noexcept {
  unref(1 + credit_);
}

void frame_pool::unref(size_t n) noexcept {
  if (refs_.fetch_sub(n, std::memory_order_acq_rel) == n)
    delete this;
}

void* frame_pool::allocate(frame_pool* pool, size_t n, uint8_t& size_class) {
  if (pool == nullptr || n == 0 || n > max_pooled) {
    size_class = no_class;
    return ::operator new(n);
  }
  return pool->allocate_pooled(n, size_class);
}

void* frame_pool::allocate_pooled(size_t n, uint8_t& size_class) {
  auto c = static_cast<uint8_t>((n - 1) / granularity);
  if (credit_ == 0) {
    refs_.fetch_add(credit_step, std::memory_order_relaxed);
    credit_ = credit_step;
  }
  if (local_[c] == nullptr)
    take_back(c);
  void* result;
  if (auto* head = local_[c]) {
    local_[c] = head->next;
    // The next block was last written by the thread that freed it: start
    // fetching it now rather than when the next frame waits for it.
    if (local_[c] != nullptr)
      __builtin_prefetch(local_[c], 1);
    // The block is no longer cached: tell the bound, a batch at a time.
    reused_bytes_ += block_size(c);
    if (reused_bytes_ >= reuse_batch_bytes) {
      cached_bytes_.fetch_sub(reused_bytes_, std::memory_order_relaxed);
      reused_bytes_ = 0;
    }
    result = head;
  } else {
    result = ::operator new(block_size(c)); // may throw: no credit used yet
  }
  --credit_;
  size_class = c;
  return result;
}

void frame_pool::take_back(uint8_t c) noexcept {
  // The whole list at once, without walking it: its nodes were last touched
  // by the threads that freed them (a cache miss each), and allocate touches
  // each one when it hands it out anyway.
  local_[c] = remote_[c].exchange(nullptr, std::memory_order_acquire);
}

void frame_pool::deallocate(frame_pool* pool, void* ptr,
                            uint8_t size_class) noexcept {
  if (pool == nullptr || size_class == no_class) {
    ::operator delete(ptr);
    return;
  }
  auto size = block_size(size_class);
  // Over the bound (a flood's worth freed while the owner is quiet): back to
  // the heap.
  if (pool->cached_bytes_.fetch_add(size, std::memory_order_relaxed) + size >
      max_cached_bytes) {
    pool->cached_bytes_.fetch_sub(size, std::memory_order_relaxed);
    ::operator delete(ptr);
  } else {
    auto* n = ::new (ptr) node{nullptr};
    auto& head = pool->remote_[size_class];
    auto* top = head.load(std::memory_order_relaxed);
    do {
      n->next = top;
    } while (!head.compare_exchange_weak(top, n, std::memory_order_release,
                                         std::memory_order_relaxed));
  }
  pool->unref(1);
}

void frame_pool::trim() noexcept {
  size_t freed = 0;
  auto free_list = [&freed](node* n, size_t size) {
    while (n != nullptr) {
      auto* next = n->next;
      ::operator delete(n);
      freed += size;
      n = next;
    }
  };
  for (uint8_t c = 0; c < classes; ++c) {
    free_list(local_[c], block_size(c));
    local_[c] = nullptr;
    free_list(remote_[c].exchange(nullptr, std::memory_order_acquire),
              block_size(c));
  }
  // The blocks reused since the bound was last told are no longer cached
  // either.
  cached_bytes_.fetch_sub(freed + reused_bytes_, std::memory_order_relaxed);
  reused_bytes_ = 0;
}

size_t frame_pool::cached_bytes() const noexcept {
  return cached_bytes_.load(std::memory_order_relaxed) - reused_bytes_;
}

size_t frame_pool::blocks_out() const noexcept {
  // One reference for the owner, its credit, and one per block out.
  return refs_.load(std::memory_order_acquire) - 1 - credit_;
}

size_t frame_pool::cached_blocks() const noexcept {
  size_t result = 0;
  for (auto* head : local_)
    for (auto* n = head; n != nullptr; n = n->next)
      ++result;
  return result;
}

} // namespace caf::rtm::detail
