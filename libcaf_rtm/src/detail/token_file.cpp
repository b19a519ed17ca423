#include "detail/token_file.hpp"

#include <cerrno>
#include <filesystem>
#include <optional>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/frame_parser.hpp"
#include "detail/json_views.hpp"

namespace caf::rtm::detail {

namespace {

// A token file is a few hundred bytes: anything much larger is not one.
constexpr size_t max_file_size = size_t{64} * 1024;

caf::error invalid_file(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_config,
                    "rotation.file " + path + ": " + what);
}

// Thread-safe, unlike strerror (a save runs on an I/O thread).
std::string errno_text(int code) {
  return std::generic_category().message(code);
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

// Writes all of `data` to `fd`; 0 or the error's code.
int write_all(int fd, const std::string& data) {
  const char* pos = data.data();
  auto left = data.size();
  while (left > 0) {
    auto n = ::write(fd, pos, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0)
      return EIO;
    pos += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

// Up to `max_file_size` + 1 bytes of `fd` (one more tells a file too large),
// or the error's code.
int read_all(int fd, std::string& out) {
  char buf[4096];
  while (out.size() <= max_file_size) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return 0;
}

// A new file next to `path`, for the owner only, with a name nobody else
// chose: an existing one (a symlink, another user's file, a leftover with
// wider permissions) is never written to. Its descriptor, or -1 with errno.
int create_temp(const std::string& path, std::string& name) {
  name = path + ".XXXXXX";
  int fd = ::mkstemp(name.data());
  if (fd < 0)
    return -1;
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

// Whether a new version of `path` can be made and renamed into place now:
// found out at the start, not after a refresh spent the old refresh token.
caf::error check_writable(const std::string& path) {
  std::string name;
  int fd = create_temp(path, name);
  if (fd < 0) {
    auto code = errno;
    return invalid_file(
        path, "its directory " + directory_of(path) +
                  " cannot take its new versions: " + errno_text(code));
  }
  ::close(fd);
  ::unlink(name.c_str());
  return caf::none;
}

caf::error save_error(const std::string& path, const char* step, int code) {
  return make_error(errc::invalid_config, "rotation.file " + path + ": " +
                                              step + ": " + errno_text(code));
}

} // namespace

caf::expected<bool> load_token_file(token_rotation& rotation,
                                    std::string& token) {
  const auto& path = rotation.file;
  if (path.empty())
    return false;
  if (auto err = check_writable(path))
    return err;
  // Non-blocking: a FIFO in its place must not hold the client's start.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    auto code = errno;
    if (code != ENOENT)
      return invalid_file(path, "cannot be read: " + errno_text(code));
    // The first start: the configured tokens.
    if (rotation.refresh_token.empty())
      return invalid_file(path, "does not exist, and there is no "
                                "rotation.refresh_token to start with");
    return false;
  }
  struct stat info {};
  std::string text;
  int code = 0;
  if (::fstat(fd, &info) != 0)
    code = errno;
  else if (!S_ISREG(info.st_mode))
    code = EINVAL;
  else
    code = read_all(fd, text);
  ::close(fd);
  if (code == EINVAL)
    return invalid_file(path, "is not a regular file");
  if (code != 0)
    return invalid_file(path, "cannot be read: " + errno_text(code));
  if (text.size() > max_file_size)
    return invalid_file(path, "is too large for a token file");
  boost::json::error_code ec;
  auto doc = parse_json(text, ec);
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
  return true;
}

token_file_lock::~token_file_lock() {
  ::close(fd_);
}

caf::expected<token_file_lock_ptr> lock_token_file(const std::string& path) {
  // In the real directory the saves rename into: two spellings of it (a
  // link, "./") share one lock. Not by the file's own target: a save
  // replaces a link there with a file.
  std::filesystem::path file{path};
  std::error_code ec;
  std::filesystem::path dir;
  if (file.has_parent_path())
    dir = std::filesystem::weakly_canonical(file.parent_path(), ec);
  auto name =
      (ec || dir.empty() ? path : (dir / file.filename()).string()) + ".lock";
  // O_NOFOLLOW: a link planted there does not make the lock create a file
  // elsewhere.
  int fd =
      ::open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    auto code = errno;
    return invalid_file(path, "its lock file " + name +
                                  " cannot be opened: " + errno_text(code));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto code = errno;
    ::close(fd);
    if (code == EWOULDBLOCK)
      return invalid_file(path, "is in use by another caller, in this "
                                "process or another (both would spend the "
                                "same refresh token)");
    return invalid_file(path, "its lock file " + name +
                                  " cannot be locked: " + errno_text(code));
  }
  return std::make_shared<token_file_lock>(fd);
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
  std::string tmp;
  int fd = create_temp(path, tmp);
  auto code = fd < 0 ? errno : 0;
  if (fd < 0)
    return save_error(path, "cannot create its new version", code);
  code = write_all(fd, text);
  if (code == 0 && ::fsync(fd) != 0)
    code = errno;
  if (::close(fd) != 0 && code == 0)
    code = errno;
  if (code != 0) {
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
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  code = dfd < 0 ? errno : 0;
  if (dfd >= 0) {
    if (::fsync(dfd) != 0)
      code = errno;
    ::close(dfd);
  }
  if (code != 0)
    return save_error(path, "saved, but its directory cannot be flushed", code);
  return caf::none;
}

} // namespace caf::rtm::detail
