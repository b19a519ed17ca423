#include "detail/token_file.hpp"

#include <cerrno>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace caf::rtm::detail {

namespace {

// A token file is a few hundred bytes: anything much larger is not one.
constexpr size_t max_file_size = 64 * 1024;

caf::error invalid_file(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_config,
                    "rotation.file " + path + ": " + what);
}

std::string errno_text(int code) {
  return std::strerror(code);
}

// The directory a rename in `path`'s place needs to write to.
std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

// Writes all of `data` to `fd`.
bool write_all(int fd, const std::string& data) {
  const char* pos = data.data();
  auto left = data.size();
  while (left > 0) {
    auto n = ::write(fd, pos, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    pos += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

// Up to `max_file_size` + 1 bytes of `fd` (one more tells a file too large).
std::optional<std::string> read_all(int fd) {
  std::string result;
  char buf[4096];
  while (result.size() <= max_file_size) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return std::nullopt;
    if (n == 0)
      break;
    result.append(buf, static_cast<size_t>(n));
  }
  return result;
}

caf::error save_error(const std::string& path, const char* step, int code) {
  return make_error(errc::invalid_config, "rotation.file " + path + ": " +
                                              step + ": " + errno_text(code));
}

} // namespace

caf::error load_token_file(token_rotation& rotation, std::string& token) {
  const auto& path = rotation.file;
  if (path.empty())
    return caf::none;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    auto code = errno;
    if (code != ENOENT)
      return invalid_file(path, "cannot be read: " + errno_text(code));
    // The first start: the configured tokens, and a place for the next ones
    // (found out now, not when the first refresh has spent the old token).
    if (rotation.refresh_token.empty())
      return invalid_file(path, "does not exist, and there is no "
                                "rotation.refresh_token to start with");
    auto dir = directory_of(path);
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      return invalid_file(path,
                          "does not exist, and its directory " + dir +
                              " cannot be written to: " + errno_text(errno));
    return caf::none;
  }
  auto text = read_all(fd);
  ::close(fd);
  if (!text)
    return invalid_file(path, "cannot be read");
  if (text->size() > max_file_size)
    return invalid_file(path, "is too large for a token file");
  boost::json::error_code ec;
  auto doc = parse_json(*text, ec);
  if (ec || !doc.is_object())
    return invalid_file(path, "is not a JSON object");
  const auto& obj = doc.get_object();
  auto access = std::string{string_field(obj, "access_token")};
  auto refresh = std::string{string_field(obj, "refresh_token")};
  if (access.empty() || check_token(access) || refresh.empty() ||
      check_token(refresh))
    return invalid_file(path, "wants an access_token and a refresh_token "
                              "without whitespace");
  int64_t expires_at = 0;
  if (const auto* x = obj.if_contains("expires_at")) {
    if (x->is_int64())
      expires_at = x->get_int64();
    if (!x->is_int64() || expires_at < 0 ||
        expires_at > token_rotation::max_expires_at)
      return invalid_file(path, "expires_at must be Unix seconds (0 to the "
                                "year 2100)");
  }
  token = std::move(access);
  rotation.refresh_token = std::move(refresh);
  rotation.expires_at = expires_at;
  return caf::none;
}

caf::error save_token_file(const std::string& path,
                           const token_rotated& tokens) {
  boost::json::object obj;
  obj["access_token"] = tokens.access_token;
  obj["refresh_token"] = tokens.refresh_token;
  obj["expires_at"] = tokens.expires_at;
  obj["team_id"] = tokens.team_id;
  auto text = boost::json::serialize(obj);
  text += '\n';
  auto tmp = path + ".new";
  // Created for its owner only: it holds live credentials.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return save_error(path, "cannot create its new version", errno);
  auto written = write_all(fd, text) && ::fsync(fd) == 0;
  auto code = errno;
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return save_error(path, "cannot write its new version", code);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    code = errno;
    ::unlink(tmp.c_str());
    return save_error(path, "cannot rename its new version", code);
  }
  // The rename itself reaches the disk with its directory.
  auto dir = directory_of(path);
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return caf::none;
}

} // namespace caf::rtm::detail
