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
//
// On top of single calls: paged lists (`response_metadata.next_cursor`),
// collected or streamed page by page, and file uploads in Slack's three steps
// (files.getUploadURLExternal, the bytes, files.completeUploadExternal). Each
// page and each step is one call of the above, retried and rate limited alike.

#pragma once

#include <caf/typed_event_based_actor.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/web_api_actor.hpp"

namespace caf::rtm {

/// Spawn with `sys.spawn(caf::rtm::web_api, cfg)`; uses `cfg.token` and the
/// network and retry options of `cfg`.
web_api_actor::behavior_type web_api(web_api_actor::pointer self,
                                     client_config cfg);

} // namespace caf::rtm
