// The token file of a rotation (`token_rotation::file`): the newest tokens,
// kept across restarts. Slack revokes a refresh token once it was used, so
// the only copy of the next one must reach the disk before the process can
// end with it.

#pragma once

#include <string>

#include <caf/error.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/web_api_actor.hpp"

namespace caf::rtm::detail {

/// Reads `rotation.file`, if set and there: its tokens replace `token`,
/// `rotation.refresh_token` and `rotation.expires_at`. A file that is not
/// there leaves them as they are, but needs a configured refresh token to
/// start with and a directory it can be written to. Errors are
/// `invalid_config` and name the file.
caf::error load_token_file(token_rotation& rotation, std::string& token);

/// Writes `tokens` to `path` as a new file (mode 0600), flushed to disk and
/// renamed over the old one, so that a crash leaves the old file or the new
/// one, never a part. Errors say what failed and why.
caf::error save_token_file(const std::string& path,
                           const token_rotated& tokens);

} // namespace caf::rtm::detail
