// The web-API caller: performs Slack Web API calls for the client's actors and
// for users.
//
//   auto api = sys.spawn(caf::rtm::web_api, cfg);
//   self->request(api, 30s, caf::rtm::call_atom_v, "chat.postMessage",
//                 caf::rtm::api_args{{"channel", "C1"}, {"text", "hi"}});
//
// Every call is an HTTP POST to `{base_url}{method}` with the token as
// `Authorization: Bearer` and form-encoded arguments. Transient failures (5xx,
// network errors, timeouts, transient Slack errors) are retried with backoff;
// HTTP 429 and `ratelimited` wait out `Retry-After` with a timer, and hold back
// later calls of the same method meanwhile. Waiting calls never block others.

#pragma once

#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/messages.hpp"

namespace caf::rtm {

/// The web-API caller, as users see it.
using web_api_actor = caf::typed_actor<
    // Any Web API method; replies with Slack's answer (`ok:true`) or an error
    // (`errc::slack_error` with Slack's code, HTTP and network errors).
    caf::replies_to<call_atom, std::string, api_args>::with<json_object>,
    // Cancels every call in flight; replies once their sockets are closed.
    caf::replies_to<close_atom>::with<caf::ok_atom>>;

/// Spawn with `sys.spawn(caf::rtm::web_api, cfg)`; uses `cfg.token` and the
/// network and retry options of `cfg`.
web_api_actor::behavior_type web_api(web_api_actor::pointer self,
                                     client_config cfg);

} // namespace caf::rtm
