#include "tcp_tap.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace caf::rtm::test {

namespace {

// How long a pump waits in one poll: how soon it sees `hold` or `cut`.
constexpr std::chrono::milliseconds poll_interval{50};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

} // namespace

tcp_tap::tcp_tap(uint16_t target_port) : target_port_(target_port) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  auto addr = loopback(0);
  if (listener_ < 0 ||
      bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener_, 16) != 0)
    throw std::runtime_error("tcp_tap: cannot listen");
  socklen_t len = sizeof(addr);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] {
    accept_loop();
  }};
}

tcp_tap::~tcp_tap() {
  stop_ = true;
  acceptor_.join();
  cut();
  std::vector<std::unique_ptr<pair>> pairs;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    pairs.swap(pairs_);
  }
  for (auto& p : pairs)
    p->pump.join();
  close(listener_);
}

std::string tcp_tap::from_target() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return from_target_;
}

std::string tcp_tap::to_target() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return to_target_;
}

size_t tcp_tap::connections() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return pairs_.size();
}

void tcp_tap::cut() {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& p : pairs_) {
    if (p->client < 0)
      continue; // its pump closed it already
    shutdown(p->client, SHUT_RDWR);
    shutdown(p->target, SHUT_RDWR);
  }
}

void tcp_tap::accept_loop() {
  while (!stop_) {
    pollfd pfd{listener_, POLLIN, 0};
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    auto client = accept(listener_, nullptr, nullptr);
    if (client < 0)
      continue;
    if (refusing_) {
      close(client);
      continue;
    }
    auto target = socket(AF_INET, SOCK_STREAM, 0);
    auto addr = loopback(target_port_);
    if (connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0) {
      close(client);
      close(target);
      continue;
    }
    auto p = std::make_unique<pair>();
    p->client = client;
    p->target = target;
    std::lock_guard<std::mutex> guard{mtx_};
    p->pump = std::thread{[this, ptr = p.get()] {
      pump(ptr);
    }};
    pairs_.push_back(std::move(p));
  }
}

void tcp_tap::hold(bool on) {
  holding_ = on;
  // A pump may be in a poll that began before: it passes on what the target
  // sends until that poll ends (after `poll_interval` at most).
  if (on)
    std::this_thread::sleep_for(2 * poll_interval);
}

void tcp_tap::pump(pair* p) {
  int client = 0;
  int target = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    client = p->client;
    target = p->target;
  }
  char buf[16384];
  pollfd fds[2] = {{client, POLLIN, 0}, {target, POLLIN, 0}};
  for (;;) {
    fds[1].events = holding_ ? 0 : POLLIN;
    if (poll(fds, 2, static_cast<int>(poll_interval.count())) < 0)
      break;
    if (stop_ && fds[0].revents == 0 && fds[1].revents == 0)
      break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (fds[i].revents == 0)
        continue;
      auto n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        done = true;
        break;
      }
      auto out = i == 0 ? target : client;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        (i == 0 ? to_target_ : from_target_)
            .append(buf, static_cast<size_t>(n));
      }
      for (ssize_t sent = 0; sent < n;) {
        auto k =
            send(out, buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (k <= 0) {
          done = true;
          break;
        }
        sent += k;
      }
    }
    if (done)
      break;
  }
  // Closed by the thread that owns them, and marked so that cut() leaves
  // alone whatever socket gets the numbers next.
  std::lock_guard<std::mutex> guard{mtx_};
  shutdown(client, SHUT_RDWR);
  shutdown(target, SHUT_RDWR);
  close(client);
  close(target);
  p->client = -1;
  p->target = -1;
}

black_hole::black_hole() {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  // A backlog of 0 holds one connection: the filler's.
  if (listener_ < 0 ||
      ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener_, 0) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("black_hole: cannot listen");
  port_ = ntohs(addr.sin_port);
  filler_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (filler_ < 0 ||
      ::connect(filler_, reinterpret_cast<sockaddr*>(&addr), len) != 0)
    throw std::runtime_error("black_hole: cannot fill the backlog");
}

black_hole::~black_hole() {
  ::close(filler_);
  ::close(listener_);
}

} // namespace caf::rtm::test
