#include "net/io_pool.hpp"

#include <mutex>
#include <unordered_map>

namespace caf::rtm::net {

namespace {

// The contexts of every pool, for keep_alive (looked up once per name
// lookup, far from any hot path).
std::mutex contexts_mtx;
std::unordered_map<const boost::asio::io_context*,
                   std::weak_ptr<boost::asio::io_context>>
    contexts;

} // namespace

std::shared_ptr<boost::asio::io_context>
io_pool::keep_alive(boost::asio::io_context& ctx) {
  std::lock_guard<std::mutex> guard{contexts_mtx};
  auto i = contexts.find(&ctx);
  return i != contexts.end() ? i->second.lock() : nullptr;
}

io_pool::io_pool(size_t threads) {
  lanes_.reserve(threads);
  try {
    for (size_t i = 0; i < threads; ++i) {
      // Concurrency hint 1: one thread runs the context (others only post).
      auto ioc = std::make_shared<boost::asio::io_context>(1);
      {
        std::lock_guard<std::mutex> guard{contexts_mtx};
        contexts[ioc.get()] = ioc;
      }
      auto work = boost::asio::make_work_guard(*ioc);
      lanes_.push_back(lane{ioc, std::move(work), std::thread{}});
      lanes_.back().thread = std::thread{[ctx = std::move(ioc)] {
        run(*ctx);
      }};
    }
  } catch (...) {
    // No destructor runs for a half-built pool: end the threads started.
    stop();
    throw;
  }
}

boost::asio::io_context& io_pool::context() noexcept {
  auto i = next_.fetch_add(1, std::memory_order_relaxed);
  return *lanes_[i % lanes_.size()].ioc;
}

void io_pool::run(boost::asio::io_context& ctx) {
  // A handler that throws (bad_alloc, a bug) must not take the thread, and
  // with it every socket of the process, along: it is dropped, the loop goes
  // on.
  for (;;) {
    try {
      ctx.run();
      return;
    } catch (...) {
      // nothing to report to: the operation's owner times out or closes
    }
  }
}

void io_pool::stop() noexcept {
  {
    std::lock_guard<std::mutex> guard{contexts_mtx};
    for (auto& x : lanes_)
      contexts.erase(x.ioc.get());
  }
  // Sockets still open belong to actors that are gone: abandon their handlers.
  for (auto& x : lanes_) {
    x.work.reset();
    x.ioc->stop();
  }
  for (auto& x : lanes_) {
    if (!x.thread.joinable())
      continue;
    if (x.thread.get_id() == std::this_thread::get_id())
      x.thread.detach();
    else
      x.thread.join();
  }
}

io_pool::~io_pool() {
  stop();
}

std::shared_ptr<io_pool> io_pool::shared(size_t threads) {
  // The one piece of process-wide state: a weak reference, so the pool lives
  // exactly as long as some client uses it.
  static std::mutex mtx;
  static std::weak_ptr<io_pool> instance;
  std::lock_guard<std::mutex> guard{mtx};
  if (auto ptr = instance.lock())
    return ptr;
  // Throws std::system_error when no thread can be started; the caller
  // turns that into an error.
  auto ptr = std::make_shared<io_pool>(threads);
  instance = ptr;
  return ptr;
}

} // namespace caf::rtm::net
