// A client's own web-API caller: `web_api` whose caller also tells the
// client (its router) of rate limits and failed token refreshes, as
// `error_event`s for the client's lifecycle subscribers. A caller shared by
// several clients (`client_config::api`) tells nobody: it has no one client.

#pragma once

#include <caf/actor.hpp>

#include "caf/rtm/web_api.hpp"

namespace caf::rtm::detail {

web_api_actor::behavior_type client_web_api(web_api_actor::pointer self,
                                            client_config cfg,
                                            caf::actor client);

} // namespace caf::rtm::detail
