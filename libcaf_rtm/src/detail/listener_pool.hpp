// The pool of listener actors that run callback listeners (the seed's
// `concurrency` worker threads, as actors). Events of one channel always go to
// the same worker, so each channel's events run in wire order while different
// channels run in parallel. The router hands each worker the events of one
// batch in one message; the worker runs them and reports them done, exactly,
// so the router's count of events waiting for callbacks is never stale. A
// callback that throws is reported to the router; the worker goes on.

#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/send.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "detail/interfaces.hpp"

namespace caf::rtm::detail {

struct listener_worker_state {
  static inline const char* name = "caf.rtm.listener";

  /// One callback subscription (of events or of envelopes).
  struct entry {
    uint64_t id;
    std::vector<std::string> types;
    event_callback on_event;
    envelope_callback on_envelope;

    bool wants(const event& ev) const;
    bool wants(const envelope& env) const;
    void run(const event& ev) const;
    void run(const envelope& env) const;
  };

  worker_sink_actor router;
  /// Within a long message, progress goes to the router at least this often
  /// (its watch takes a worker silent for `listener_stall_timeout` for
  /// stuck).
  caf::timespan progress_interval{std::chrono::seconds{1}};
  std::vector<entry> callbacks;
  /// Hooks (on the hook worker only), by subscription id.
  std::vector<std::pair<uint64_t, hook_listener>> hooks;
};

listener_worker_actor::behavior_type listener_worker(
    listener_worker_actor::stateful_pointer<listener_worker_state> self,
    worker_sink_actor router, caf::timespan progress_interval);

/// The router's pool: callback workers are spawned when the first callback
/// subscribes, the hook worker when the first hooks do.
class listener_pool {
public:
  /// The callback workers run.
  bool started() const noexcept {
    return !workers_.empty();
  }

  /// The callback workers.
  const std::vector<listener_worker_actor>& workers() const noexcept {
    return workers_;
  }

  /// Spawns `size` workers linked to `self`, each on a thread of its own: a
  /// callback that blocks (a database call, a sleep) must not take a thread
  /// of CAF's scheduler from the client's own actors, or pings, reads and
  /// status would stall with it.
  template <class Self>
  void start(Self* self, size_t size) {
    for (size_t i = 0; i < size; ++i)
      workers_.push_back(spawn_worker(self));
  }

  /// The index of the worker for events of `channel`.
  size_t pick(std::string_view channel) const;

  /// The worker that runs the hooks (in order, so always the same one), if
  /// any hooks subscribed yet.
  const listener_worker_actor& hook_worker() const noexcept {
    return hook_worker_;
  }

  /// The hook worker, spawned on first use: a worker of its own, so that a
  /// hook that blocks (a slow log sink) holds up no callback, and no
  /// callback the hooks.
  template <class Self>
  const listener_worker_actor& hook_worker(Self* self) {
    if (!hook_worker_)
      hook_worker_ = spawn_worker(self);
    return hook_worker_;
  }

  /// Every worker: the callback workers and the hook worker.
  std::vector<listener_worker_actor> all() const {
    auto result = workers_;
    if (hook_worker_)
      result.push_back(hook_worker_);
    return result;
  }

  /// Ends the callback workers, if any run, after the events already sent
  /// to them; else the hook worker, if any. Returns the workers it ends so
  /// the caller can wait for their termination before the next call: the
  /// hook worker stays until the callbacks are through, for the `on_error`
  /// hooks of their failures.
  template <class Self>
  std::vector<listener_worker_actor> stop_next(Self* self) {
    std::vector<listener_worker_actor> result;
    if (!workers_.empty())
      result.swap(workers_);
    else if (hook_worker_)
      result.push_back(std::exchange(hook_worker_, listener_worker_actor{}));
    for (auto& w : result) {
      // Unlinked first: the worker's exit must not take the owner along.
      self->unlink_from(w);
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    }
    return result;
  }

private:
  template <class Self>
  static listener_worker_actor spawn_worker(Self* self) {
    worker_sink_actor router = caf::actor_cast<worker_sink_actor>(self);
    // A quarter of the stall timeout, at most a second: a worker busy with
    // slow calls is never silent for long.
    auto interval = std::min(caf::timespan{std::chrono::seconds{1}},
                             self->state.cfg->listener_stall_timeout / 4);
    return self->template spawn<caf::linked + caf::detached>(listener_worker,
                                                             router, interval);
  }

  std::vector<listener_worker_actor> workers_;
  listener_worker_actor hook_worker_;
};

} // namespace caf::rtm::detail
