#include "net/io_pool.hpp"

#include <mutex>

namespace caf::rtm::net {

io_pool::io_pool(size_t threads)
    : ioc_(
          std::make_shared<boost::asio::io_context>(static_cast<int>(threads))),
      work_(boost::asio::make_work_guard(*ioc_)) {
  threads_.reserve(threads);
  try {
    for (size_t i = 0; i < threads; ++i)
      threads_.emplace_back([ctx = ioc_] { run(*ctx); });
  } catch (...) {
    // No destructor runs for a half-built pool: end the threads started.
    work_.reset();
    ioc_->stop();
    for (auto& t : threads_)
      t.join();
    throw;
  }
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

io_pool::~io_pool() {
  work_.reset();
  // Sockets still open belong to actors that are gone: abandon their handlers.
  ioc_->stop();
  for (auto& t : threads_) {
    if (t.get_id() == std::this_thread::get_id())
      t.detach();
    else
      t.join();
  }
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
