#include "hub/relay.hpp"

#include <caf/send.hpp>

#include "caf/rtm/envelope.hpp"
#include "caf/rtm/json_object.hpp"

namespace caf::rtm::hub::detail {

caf::behavior relay(caf::event_based_actor* self, const caf::actor& target,
                    caf::timespan answer_timeout) {
  // Reachable from remote nodes: anything but envelopes (one by one or in
  // batches) is dropped, and an exit message some node sends ends nothing
  // (the gate ends relays with `kill`).
  self->set_default_handler(caf::drop);
  self->set_exit_handler([](caf::exit_msg&) {});
  self->set_down_handler([](caf::down_msg&) {});
  return {
      [=](const envelope& env) -> caf::result<json_object> {
        // Sent without a request, the client acked it already.
        if (!self->current_message_id().is_request()) {
          caf::anon_send(target, env);
          return no_payload();
        }
        // A request: the client acks once the bot's node answered (for an
        // envelope without a payload, once it took it).
        auto rp = self->make_response_promise<json_object>();
        self->request(target, answer_timeout, env)
            .then(
                [rp](json_object& x) mutable { rp.deliver(std::move(x)); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [=](envelope_batch& batch) { caf::anon_send(target, std::move(batch)); },
  };
}

} // namespace caf::rtm::hub::detail
