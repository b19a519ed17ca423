#include "hub/private_requests.hpp"

namespace caf::rtm::hub::detail {

caf::behavior requester(caf::event_based_actor* self, caf::actor_addr owner) {
  if (auto hdl = caf::actor_cast<caf::actor>(owner))
    self->monitor(hdl);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  return {
      [self](request_job& job) {
        if (job.run)
          job.run(self);
      },
  };
}

} // namespace caf::rtm::hub::detail
