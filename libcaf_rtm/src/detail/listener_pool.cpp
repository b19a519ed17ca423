#include "detail/listener_pool.hpp"

#include <algorithm>
#include <exception>
#include <functional>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"

namespace caf::rtm::detail {

namespace {

using self_ptr = listener_worker_actor::stateful_pointer<listener_worker_state>;

void run_callbacks(self_ptr self, const event& ev) {
  for (auto& [id, listener] : self->state.callbacks) {
    if (!matches(listener.types, ev.type()))
      continue;
    // A throwing callback must not cost the other callbacks this event, nor
    // the worker its later events.
    std::string what;
    try {
      listener.fn(ev);
      continue;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    self->send(self->state.router,
               callback_failure{make_error(errc::listener_failed, what),
                                "callback " + std::to_string(id) +
                                    " threw on a " + std::string{ev.type()} +
                                    " event"});
  }
}

} // namespace

listener_worker_actor::behavior_type listener_worker(
    listener_worker_actor::stateful_pointer<listener_worker_state> self,
    worker_sink_actor router) {
  self->state.router = std::move(router);
  return {
      [self](const std::vector<event>& events) {
        for (const auto& ev : events)
          run_callbacks(self, ev);
        // Done means done: the router holds the socket while too many events
        // wait here, so it must learn exactly when they are through.
        self->send(self->state.router, progress_atom_v,
                   static_cast<uint64_t>(events.size()));
      },
      [self](subscribe_atom, uint64_t id, callback_listener& listener) {
        self->state.callbacks.push_back({id, std::move(listener)});
      },
      [self](unsubscribe_atom, uint64_t id) {
        auto& xs = self->state.callbacks;
        xs.erase(std::remove_if(xs.begin(), xs.end(),
                                [id](const auto& x) { return x.id == id; }),
                 xs.end());
      },
  };
}

size_t listener_pool::pick(std::string_view channel) const {
  return std::hash<std::string_view>{}(channel) % workers_.size();
}

} // namespace caf::rtm::detail
