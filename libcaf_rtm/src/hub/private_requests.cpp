#include "hub/private_requests.hpp"

namespace caf::rtm::hub::detail {

caf::behavior requester(caf::event_based_actor* self) {
  return {
      [self](request_job& job) {
        if (job.run)
          job.run(self);
      },
  };
}

} // namespace caf::rtm::hub::detail
