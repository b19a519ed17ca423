#include "hub/forwarder.hpp"

#include <caf/send.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/event.hpp"
#include "caf/rtm/hub/messages.hpp"
#include "caf/rtm/messages.hpp"
#include "detail/frame_parser.hpp"
#include "detail/stray_errors.hpp"
#include "hub/relay.hpp"

namespace caf::rtm::hub::detail {

namespace {

// Ends the forwarder with its target: the hubs then drop its subscriptions.
// Nothing else ends it: every hub it subscribes on knows its address, and
// an error message or an exit a node sends it must not end the bot actor's
// subscription on all of them. (Its subscription ends it with `kill`, which
// CAF delivers whatever the actor says.)
template <class Self>
void follow(Self* self, const caf::actor& target) {
  self->monitor(target);
  self->set_down_handler([self, addr = target.address()](caf::down_msg& dm) {
    if (dm.source == addr)
      self->quit();
  });
  self->set_exit_handler([](caf::exit_msg&) {});
  caf::rtm::detail::ignore_stray_errors(self);
  self->set_default_handler(caf::drop);
}

// True (and counted) if another hub delivered `env` already.
template <class Self>
bool seen_before(Self* self, const envelope& env,
                 std::chrono::steady_clock::time_point now) {
  auto& st = self->state;
  if (!st.filter.seen(env.id(), env.event_id(), now))
    return false;
  ++*st.duplicates;
  return true;
}

} // namespace

caf::behavior forwarder(caf::stateful_actor<forwarder_state>* self,
                        const caf::actor& target, caf::actor_addr subscription,
                        std::chrono::milliseconds window, size_t capacity,
                        std::shared_ptr<std::atomic<uint64_t>> duplicates) {
  auto& st = self->state;
  st.target = target;
  st.subscription = std::move(subscription);
  st.filter = rtm::detail::envelope_filter{window, capacity};
  st.duplicates = std::move(duplicates);
  follow(self, target);
  // The hub's relay sends events as requests: the handlers below answer
  // (empty) once they handed them on, which gives the relay room again.
  return {
      // Anonymously, as the client itself sends them: a bot's handler may
      // answer an envelope with `no_payload()`, an error that would come
      // back to a sender and end it.
      [self](const event& ev) { caf::anon_send(self->state.target, ev); },
      [self](const event_batch& batch) {
        auto& st = self->state;
        st.messages_trim.note_use(self);
        const auto& evs = batch.events;
        for (size_t i = 0; i < evs.size(); ++i)
          rtm::detail::send_pooled(st.messages.get(), st.target, evs[i],
                                   rtm::detail::next_block(evs, i));
      },
      [self](const envelope_batch& batch) {
        auto& st = self->state;
        st.messages_trim.note_use(self);
        auto now = std::chrono::steady_clock::now();
        const auto& envs = batch.envelopes;
        for (size_t i = 0; i < envs.size(); ++i)
          if (!seen_before(self, envs[i], now))
            rtm::detail::send_pooled(st.messages.get(), st.target, envs[i],
                                     rtm::detail::next_block(envs, i));
      },
      [self](rtm::detail::timeout_atom, rtm::detail::trim_atom) {
        // Its own timer only: nodes reach this actor too.
        if (caf::actor_cast<caf::actor_addr>(self->current_sender()) !=
            self->address())
          return;
        auto& st = self->state;
        st.messages_trim.run(self, st.messages.get());
      },
      // A hub's relay asks behind what it sent: the answer shows that all
      // of it arrived.
      [](probe_atom) {},
      [self](hub_gap& gap) {
        // What a hub's relay dropped for this actor while this node did not
        // take it in time.
        auto sender = self->current_sender();
        auto dest = caf::actor_cast<caf::actor>(self->state.subscription);
        if (sender != nullptr && dest)
          caf::anon_send(dest, std::move(gap), sender->node());
      },
      [self](const envelope& env) -> caf::result<json_object> {
        auto& st = self->state;
        if (seen_before(self, env, std::chrono::steady_clock::now()))
          return no_payload();
        if (env.accepts_response_payload() &&
            self->current_message_id().is_request()) {
          self->delegate(st.target, env);
          return caf::delegated<json_object>{};
        }
        caf::anon_send(st.target, env);
        return no_payload();
      },
  };
}

caf::behavior lifecycle_forwarder(caf::event_based_actor* self,
                                  const caf::actor& target) {
  follow(self, target);
  return {
      [=](const connecting& x) { caf::anon_send(target, x); },
      [=](const connected& x) { caf::anon_send(target, x); },
      [=](const disconnected& x) { caf::anon_send(target, x); },
      [=](const reconnecting& x) { caf::anon_send(target, x); },
      [=](const error_event& x) { caf::anon_send(target, x); },
      [=](const fatal_event& x) { caf::anon_send(target, x); },
  };
}

} // namespace caf::rtm::hub::detail
