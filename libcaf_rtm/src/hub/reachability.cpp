#include "hub/reachability.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include <caf/expected.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace caf::rtm::hub::detail {

namespace {

using clock_type = std::chrono::steady_clock;

struct addrinfo_deleter {
  void operator()(addrinfo* x) const noexcept {
    freeaddrinfo(x);
  }
};

struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0)
      ::close(fd);
  }
};

// Looks at a cancelled probe this often while it waits.
constexpr int64_t poll_slice_ms = 100;

// The numeric form of `addr` ("10.0.0.1", "::1"); empty for a scoped IPv6
// address (link-local, "fe80::1%eth0"): CAF 0.17 parses the text without
// its scope, so the name is the better hint there.
std::string numeric_host(const addrinfo& addr) {
  if (addr.ai_family == AF_INET6 &&
      reinterpret_cast<const sockaddr_in6*>(addr.ai_addr)->sin6_scope_id != 0)
    return {};
  char host[NI_MAXHOST];
  if (::getnameinfo(addr.ai_addr, addr.ai_addrlen, host, sizeof(host), nullptr,
                    0, NI_NUMERICHOST) != 0)
    return {};
  return host;
}

// Opens and closes one TCP connection to `addr` by `deadline`; the reason
// if it did not.
std::string try_address(const addrinfo& addr, clock_type::time_point deadline,
                        const std::atomic<bool>& cancelled) {
  fd_closer sock{::socket(addr.ai_family,
                          addr.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          addr.ai_protocol)};
  if (sock.fd < 0)
    return std::strerror(errno);
  if (::connect(sock.fd, addr.ai_addr, addr.ai_addrlen) == 0)
    return {};
  if (errno != EINPROGRESS)
    return std::strerror(errno);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
    if (left.count() <= 0)
      return "no answer in time";
    if (cancelled)
      return "cancelled";
    pollfd p{sock.fd, POLLOUT, 0};
    auto n = ::poll(
        &p, 1,
        static_cast<int>(std::min<int64_t>(left.count(), poll_slice_ms)));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return std::strerror(errno);
    if (n == 0)
      continue; // the checks above end it
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      return std::strerror(errno);
    return err == 0 ? std::string{} : std::strerror(err);
  }
}

caf::expected<std::string> probe(const std::string& host, uint16_t port,
                                 caf::timespan timeout,
                                 const std::atomic<bool>& cancelled) {
  auto deadline = clock_type::now() +
                  std::chrono::duration_cast<clock_type::duration>(timeout);
  auto failed = [&](const std::string& why) {
    return caf::make_error(caf::sec::cannot_connect_to_node,
                           host + ":" + std::to_string(port) + ": " + why);
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0)
    return failed(::gai_strerror(rc));
  std::unique_ptr<addrinfo, addrinfo_deleter> addrs{found};
  size_t left = 0;
  for (auto* x = addrs.get(); x != nullptr; x = x->ai_next)
    ++left;
  // Each address gets its share of what is left: one that drops packets
  // (a broken IPv6 route, say) must not use up the time of the next.
  std::string why = "no address";
  for (auto* x = addrs.get(); x != nullptr; x = x->ai_next, --left) {
    auto share = (deadline - clock_type::now()) / static_cast<int64_t>(left);
    why = try_address(*x, clock_type::now() + share, cancelled);
    if (why.empty()) {
      if (auto numeric = numeric_host(*x); !numeric.empty())
        return numeric;
      return host;
    }
    if (cancelled || clock_type::now() >= deadline)
      break;
  }
  return failed(why);
}

// What a probe actor needs.
struct probe_args {
  std::string host;
  uint16_t port = 0;
  caf::timespan timeout{0};
  std::shared_ptr<const std::atomic<bool>> cancelled;
  std::shared_ptr<std::atomic<bool>> running;
};

// Spawned with its arguments rather than a lambda capturing them: CAF 0.17
// binds a reference to a null pointer when an actor function takes none.
reachability_probe_actor::behavior_type
probe_actor(reachability_probe_actor::pointer self, probe_args args) {
  return {
      [self, args](caf::connect_atom) -> caf::result<std::string> {
        self->quit();
        // Cleared however the probe ends: a flag left set would keep every
        // later attempt of the hub waiting.
        struct clear_on_exit {
          std::atomic<bool>& flag;
          ~clear_on_exit() {
            flag.store(false);
          }
        } clear{*args.running};
        auto res = probe(args.host, args.port, args.timeout, *args.cancelled);
        if (!res)
          return std::move(res.error());
        return std::move(*res);
      },
  };
}

} // namespace

reachability_probe_actor
spawn_reachability_probe(caf::actor_system& sys, std::string host,
                         uint16_t port, caf::timespan timeout,
                         std::shared_ptr<const std::atomic<bool>> cancelled,
                         std::shared_ptr<std::atomic<bool>> running) {
  running->store(true);
  return sys.spawn<caf::detached + caf::hidden>(
      probe_actor, probe_args{std::move(host), port, timeout,
                              std::move(cancelled), std::move(running)});
}

} // namespace caf::rtm::hub::detail
