// The I/O threads that drive every socket of caf-rtm. Clients share one pool
// per process by default, so a thousand clients still use the same few
// threads; actors own the pool through shared pointers, I/O operations never
// do, so the pool is always destroyed by an actor, not by one of its threads.
//
// Each thread runs an io_context of its own, and each stream stays on the
// context it was made on: handlers of one stream never run concurrently
// without a strand, whose bookkeeping (a shared state copied into every
// handler, a lock per hand-over) cost about a fifth of the I/O thread per
// WebSocket frame.

#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace caf::rtm::net {

class io_pool {
public:
  explicit io_pool(size_t threads);
  ~io_pool();

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  /// The context of the next thread (round robin). Everything a stream does
  /// runs on the one thread of its context.
  boost::asio::io_context& context() noexcept;

  /// The process-wide pool: created by its first user with `threads` threads,
  /// destroyed with its last user.
  static std::shared_ptr<io_pool> shared(size_t threads);

  /// Keeps `ctx` (a context of any pool) alive past its pool, for work that
  /// posts to it from a thread of its own and cannot be stopped (a name
  /// lookup): the context then dies with that work, and with it what the
  /// work posted, instead of taking the post after its end. Null for a
  /// context of no pool, or of one that is gone.
  static std::shared_ptr<boost::asio::io_context>
  keep_alive(boost::asio::io_context& ctx);

private:
  using work_guard =
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  struct lane {
    // The thread holds the context too: should the pool ever die on one of
    // its own threads, that thread is detached and destroys the context on
    // exit.
    std::shared_ptr<boost::asio::io_context> ioc;
    work_guard work;
    std::thread thread;
  };

  /// Runs the context until it stops, surviving handlers that throw.
  static void run(boost::asio::io_context& ctx);

  /// Stops and joins (or detaches) every thread started.
  void stop() noexcept;

  std::vector<lane> lanes_;
  std::atomic<size_t> next_{0};
};

} // namespace caf::rtm::net
