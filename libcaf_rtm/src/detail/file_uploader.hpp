// File uploads on top of the web-API caller, in Slack's three steps:
// files.getUploadURLExternal (a file id and a single-use upload URL), the
// bytes POSTed to that URL, files.completeUploadExternal (shares the file).
// Each step is one request of the caller, with its retries and rate-limit
// waits; a step that may have had its effect is repeated only as `retry`
// allows.

#pragma once

#include "detail/web_api_caller.hpp"

namespace caf::rtm::detail {

/// Uploads `x`; `deliver` gets files.completeUploadExternal's answer, or the
/// error of the step that failed (named in its last context element, as
/// "step: <name>").
void start_upload(web_api_self self, file_upload x,
                  web_api_state::deliver_fn deliver);

} // namespace caf::rtm::detail
