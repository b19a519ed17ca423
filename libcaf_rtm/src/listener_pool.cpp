#include "caf/rtm/listener_pool.hpp"

#include <algorithm>
#include <exception>
#include <functional>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"

namespace caf::rtm {

bool subscribed_to(const std::vector<std::string>& types,
                   std::string_view type) {
  for (const auto& x : types)
    if (x == "*" || x == type)
      return true;
  return false;
}

listener_worker_actor::behavior_type listener_worker(
    listener_worker_actor::stateful_pointer<listener_worker_state> self,
    client_actor client) {
  self->state.client = std::move(client);
  return {
      [self](const event& ev) {
        // Progress goes to the client in chunks: it holds the socket while
        // too many events wait here.
        if (++self->state.unreported >= listener_worker_state::report_every) {
          caf::anon_send(self->state.client, progress_atom_v,
                         self->state.unreported);
          self->state.unreported = 0;
        }
        for (auto& [id, listener] : self->state.callbacks) {
          if (!subscribed_to(listener.types, ev.type()))
            continue;
          // A throwing callback must not cost the other callbacks this event,
          // nor the worker its later events.
          try {
            listener.fn(ev);
          } catch (const std::exception& e) {
            caf::anon_send(
                self->state.client,
                error_event{make_error(errc::listener_failed, e.what()),
                            "callback " + std::to_string(id) + " threw on a " +
                                std::string{ev.type()} + " event"});
          } catch (...) {
            caf::anon_send(
                self->state.client,
                error_event{
                    make_error(errc::listener_failed, "unknown exception"),
                    "callback " + std::to_string(id) + " threw on a " +
                        std::string{ev.type()} + " event"});
          }
        }
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

const listener_worker_actor&
listener_pool::pick(std::string_view channel) const {
  auto h = std::hash<std::string_view>{}(channel);
  return workers_[h % workers_.size()];
}

} // namespace caf::rtm
