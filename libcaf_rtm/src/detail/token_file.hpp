// The token file of a rotation (`token_rotation::file`): the newest tokens,
// kept across restarts. Slack revokes a refresh token once it was used, so
// the only copy of the next one must reach the disk before the process can
// end with it.

#pragma once

#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "caf/rtm/client_config.hpp"
#include "caf/rtm/web_api_actor.hpp"

namespace caf::rtm::detail {

/// Reads `rotation.file`, if set and there: its tokens replace `token`,
/// `rotation.refresh_token` and `rotation.expires_at`, and the result is
/// true. A file that is not there leaves them as they are (false), but needs
/// a configured refresh token to start with and a directory it can be
/// written to. Errors are `invalid_config` and name the file.
caf::expected<bool> load_token_file(token_rotation& rotation,
                                    std::string& token);

/// Holds `<file>.lock` locked (`flock`) while it lives.
class token_file_lock {
public:
  explicit token_file_lock(int fd) noexcept : fd_(fd) {}
  ~token_file_lock();
  token_file_lock(const token_file_lock&) = delete;
  token_file_lock& operator=(const token_file_lock&) = delete;

private:
  int fd_;
};

using token_file_lock_ptr = std::shared_ptr<token_file_lock>;

/// Locks `path` for the one caller that refreshes its tokens, in this
/// process or another: two would spend the same refresh token, and Slack
/// refuses the second. The lock is on a file of its own next to it, in the
/// directory's real path (`<path>.lock`, left there), since a save replaces
/// `path` itself.
/// Errors are `invalid_config` and name the file.
caf::expected<token_file_lock_ptr> lock_token_file(const std::string& path);

/// Writes `tokens` to `path` as a new file (mode 0600), flushed to disk and
/// renamed over the old one, so that a crash leaves the old file or the new
/// one, never a part. Errors say what failed and why.
caf::error save_token_file(const std::string& path,
                           const token_rotated& tokens);

} // namespace caf::rtm::detail
