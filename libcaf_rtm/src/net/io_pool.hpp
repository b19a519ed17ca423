// The I/O threads that drive every socket of caf-rtm. Clients share one pool
// per process by default, so a thousand clients still use the same few
// threads; actors own the pool through shared pointers, I/O operations never
// do, so the pool is always destroyed by an actor, not by one of its threads.

#pragma once

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

  boost::asio::io_context& context() noexcept {
    return *ioc_;
  }

  /// The process-wide pool: created by its first user with `threads` threads,
  /// destroyed with its last user.
  static std::shared_ptr<io_pool> shared(size_t threads);

private:
  /// Runs the context until it stops, surviving handlers that throw.
  static void run(boost::asio::io_context& ctx);

  // Each thread holds the context too: should the pool ever die on one of its
  // own threads, that thread is detached and destroys the context on exit.
  std::shared_ptr<boost::asio::io_context> ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  std::vector<std::thread> threads_;
};

} // namespace caf::rtm::net
