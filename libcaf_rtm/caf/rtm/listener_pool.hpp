// The pool of listener actors that run callback listeners (the seed's
// `concurrency` worker threads, as actors). Events of one channel always go to
// the same worker, so each channel's events run in wire order while different
// channels run in parallel. A callback that throws is reported to the client as
// an error_event; the worker goes on with the next event.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/actors.hpp"

namespace caf::rtm {

/// Does a subscription to `types` ("*" = all) cover events of `type`?
bool subscribed_to(const std::vector<std::string>& types,
                   std::string_view type);

struct listener_worker_state {
  static inline const char* name = "caf.rtm.listener";

  struct entry {
    uint64_t id;
    callback_listener listener;
  };

  /// Events are reported done in chunks of this many.
  static constexpr uint64_t report_every = 64;

  client_actor client;
  std::vector<entry> callbacks;
  uint64_t unreported = 0;
};

listener_worker_actor::behavior_type listener_worker(
    listener_worker_actor::stateful_pointer<listener_worker_state> self,
    client_actor client);

/// The client's pool: workers are spawned when the first callback subscribes.
class listener_pool {
public:
  bool started() const noexcept {
    return !workers_.empty();
  }

  const std::vector<listener_worker_actor>& workers() const noexcept {
    return workers_;
  }

  /// Spawns `size` workers linked to `self`.
  template <class Self>
  void start(Self* self, size_t size) {
    auto client = caf::actor_cast<client_actor>(self);
    for (size_t i = 0; i < size; ++i)
      workers_.push_back(
          self->template spawn<caf::linked>(listener_worker, client));
  }

  /// The worker for events of `channel`.
  const listener_worker_actor& pick(std::string_view channel) const;

  /// Ends every worker after the events already sent to it; returns them so
  /// the caller can wait for their termination.
  template <class Self>
  std::vector<listener_worker_actor> stop(Self* self) {
    auto result = std::move(workers_);
    workers_.clear();
    for (auto& w : result) {
      // Unlinked first: the worker's exit must not take the owner along.
      self->unlink_from(w);
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    }
    return result;
  }

private:
  std::vector<listener_worker_actor> workers_;
};

} // namespace caf::rtm
