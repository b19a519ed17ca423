// The executor of a WebSocket session's stream: handlers that the session's
// own handlers post run right after them, on the same thread, in bursts.
//
// Why: Beast completes a read whose frame is already buffered with a post,
// and an io_context runs its reactor (an epoll_wait, a system call) between
// every two posted handlers. Under a flood of small frames that meant one
// epoll_wait per frame: on a virtual machine, where a system call is dear,
// about half of the I/O thread. Here a handler posted from a handler of this
// executor goes into a queue of the thread's current burst instead, which runs
// once that handler returned, up to `max_burst` handlers; the rest go back to
// the io_context in one post, so timers, other sockets and other sessions on
// the thread still get their turn.
//
// Posted handlers still never run inside the call that posts them
// (blocking.never); a handler that may run at once (blocking.possibly, e.g.
// a completion from the reactor) runs at once on the context's thread, as with
// the io_context's own executor.

#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

namespace caf::rtm::net {

/// The handlers waiting in the burst that runs on this thread.
class burst_queue {
public:
  class task {
  public:
    virtual ~task() = default;
    virtual void run() = 0;
    task* next = nullptr;
  };

  template <class F>
  class task_for final : public task {
  public:
    explicit task_for(F f) : f_(std::move(f)) {
      // nop
    }

    void run() override {
      f_();
    }

  private:
    F f_;
  };

  burst_queue() = default;

  burst_queue(burst_queue&& other) noexcept
      : head_(other.head_), tail_(other.tail_) {
    other.head_ = other.tail_ = nullptr;
  }

  burst_queue(const burst_queue&) = delete;
  burst_queue& operator=(const burst_queue&) = delete;
  burst_queue& operator=(burst_queue&&) = delete;

  ~burst_queue() {
    while (auto* t = pop())
      delete t;
  }

  bool empty() const noexcept {
    return head_ == nullptr;
  }

  void push(task* t) noexcept {
    if (tail_)
      tail_->next = t;
    else
      head_ = t;
    tail_ = t;
  }

  task* pop() noexcept {
    auto* t = head_;
    if (t) {
      head_ = t->next;
      if (!head_)
        tail_ = nullptr;
      t->next = nullptr;
    }
    return t;
  }

private:
  task* head_ = nullptr;
  task* tail_ = nullptr;
};

/// The burst running on this thread, if any.
struct burst_state {
  /// The execution context whose thread runs the burst.
  const boost::asio::execution_context* context;
  burst_queue queue;
};

inline thread_local burst_state* current_burst = nullptr;

template <class Inner>
class burst_executor {
public:
  /// Handlers a burst runs before it yields to the io_context.
  static constexpr size_t max_burst = 128;

  explicit burst_executor(Inner inner, bool never = false) noexcept
      : inner_(std::move(inner)), never_(never) {
    // nop
  }

  // -- properties -------------------------------------------------------------

  auto& query(boost::asio::execution::context_t) const noexcept {
    return boost::asio::query(inner_, boost::asio::execution::context);
  }

  boost::asio::execution::blocking_t
  query(boost::asio::execution::blocking_t) const noexcept {
    using boost::asio::execution::blocking;
    return never_ ? boost::asio::execution::blocking_t{blocking.never}
                  : boost::asio::execution::blocking_t{blocking.possibly};
  }

  // No outstanding_work.tracked: asking for it (Beast's operations prefer it)
  // yields this executor. The operations of a stream wait where the
  // io_context counts them anyway (a socket, a timer, a post), and the pool
  // keeps its contexts running. A tracked copy was an atomic add and subtract
  // on the io_context's shared counter per copy, several per frame: a fifth
  // of the I/O thread.
  static constexpr boost::asio::execution::outstanding_work_t
  query(boost::asio::execution::outstanding_work_t) noexcept {
    return boost::asio::execution::outstanding_work.untracked;
  }

  burst_executor
  require(boost::asio::execution::blocking_t::never_t) const noexcept {
    return burst_executor{inner_, true};
  }

  burst_executor
  require(boost::asio::execution::blocking_t::possibly_t) const noexcept {
    return burst_executor{inner_, false};
  }

  friend bool operator==(const burst_executor& x,
                         const burst_executor& y) noexcept {
    return x.inner_ == y.inner_ && x.never_ == y.never_;
  }

  friend bool operator!=(const burst_executor& x,
                         const burst_executor& y) noexcept {
    return !(x == y);
  }

  // -- execution --------------------------------------------------------------

  template <class F>
  void execute(F&& f) const {
    using fn = std::decay_t<F>;
    auto* burst = current_burst;
    if (burst != nullptr && burst->context == &context()) {
      if (never_)
        burst->queue.push(new burst_queue::task_for<fn>(std::forward<F>(f)));
      else
        fn{std::forward<F>(f)}();
      return;
    }
    if (!never_ && inner_.running_in_this_thread()) {
      fn g{std::forward<F>(f)};
      run_burst(inner_, &g, burst_queue{});
      return;
    }
    using boost::asio::execution::blocking;
    boost::asio::require(inner_, blocking.never)
        .execute([inner = inner_, g = fn{std::forward<F>(f)}]() mutable {
          run_burst(inner, &g, burst_queue{});
        });
  }

private:
  const boost::asio::execution_context& context() const noexcept {
    return boost::asio::query(inner_, boost::asio::execution::context);
  }

  // Runs `first` (if any), then the queue with what those post, up to
  // `max_burst` handlers. The rest goes back to the io_context in one post,
  // also when a handler throws.
  template <class G>
  static void run_burst(const Inner& inner, G* first, burst_queue queue) {
    burst_state state{
        &boost::asio::query(inner, boost::asio::execution::context),
        std::move(queue)};
    struct finish {
      const Inner& inner;
      burst_state& state;
      burst_state* previous;
      ~finish() {
        current_burst = previous;
        if (!state.queue.empty())
          resume_later(inner, std::move(state.queue));
      }
    };
    finish guard{inner, state, current_burst};
    current_burst = &state;
    if (first)
      (*first)();
    for (size_t i = 0; i < max_burst; ++i) {
      std::unique_ptr<burst_queue::task> t{state.queue.pop()};
      if (!t)
        return;
      t->run();
    }
  }

  static void resume_later(const Inner& inner, burst_queue&& queue) {
    using boost::asio::execution::blocking;
    boost::asio::require(inner, blocking.never)
        .execute([inner, rest = std::move(queue)]() mutable {
          run_burst(inner, static_cast<void (*)()>(nullptr), std::move(rest));
        });
  }

  Inner inner_;
  bool never_;
};

} // namespace caf::rtm::net
