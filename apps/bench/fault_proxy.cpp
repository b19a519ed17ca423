// The fault-injecting proxy: plain Asio on one I/O thread of its own.
// Each tunnel relays both directions with one pump each (read, then write
// everything read, then read again); faults are windows in time that the
// pumps look at between operations, so a stall or a slow window never tears a
// write apart except where a partial-write window asks for exactly that.

#include "bench/fault_proxy.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace caf::rtm::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// What every tunnel of one proxy shares; the counters are read by other
/// threads.
struct proxy_state {
  explicit proxy_state(fault_options opts) : opts(opts) {
    // nop
  }

  const fault_options opts;
  std::atomic<bool> inject{false};
  std::atomic<size_t> tunnels{0};
  std::atomic<size_t> open_tunnels{0};
  std::atomic<size_t> drops{0};
  std::atomic<size_t> stalls{0};
  std::atomic<size_t> partial_writes{0};
  std::atomic<size_t> slow_reads{0};
  std::atomic<size_t> refused{0};
  /// Numbers tunnels in accept order (I/O thread only).
  uint64_t accepted = 0;
};

using state_ptr = std::shared_ptr<proxy_state>;

enum class fault_kind { drop, stall, partial_write, slow_read };

/// A generator seed from the proxy's seed, a tunnel and a stream number
/// (splitmix64 steps, so that neighbouring inputs give unrelated seeds).
uint64_t mix(uint32_t seed, uint64_t index, uint64_t stream) {
  uint64_t x =
      (uint64_t{seed} << 32) ^ (index * 0x9e3779b97f4a7c15ull) ^ stream;
  for (int i = 0; i < 2; ++i) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
  }
  return x;
}

/// One accepted connection: the upstream connection (or the CONNECT request),
/// then the relay.
class tunnel : public std::enable_shared_from_this<tunnel> {
public:
  tunnel(state_ptr st, tcp::socket client, uint64_t index)
      : st_(std::move(st)), client_(std::move(client)),
        upstream_(client_.get_executor()), fault_timer_(client_.get_executor()),
        linger_timer_(client_.get_executor()),
        up_(client_, upstream_, client_.get_executor()),
        down_(upstream_, client_, client_.get_executor()),
        // Two generators: the fault plan must not depend on how much data
        // happened to flow, which decides how often chunk sizes are drawn.
        plan_rng_(mix(st_->opts.seed, index, 1)),
        io_rng_(mix(st_->opts.seed, index, 2)) {
    ++st_->open_tunnels;
  }

  ~tunnel() {
    --st_->open_tunnels;
  }

  void start() {
    if (auto port = st_->opts.upstream_port; port != 0) {
      tcp::endpoint dest{asio::ip::make_address("127.0.0.1"), port};
      upstream_.async_connect(dest, [self = shared_from_this()](error_code ec) {
        if (ec) {
          ++self->st_->refused;
          return self->close(false);
        }
        self->on_established();
      });
      return;
    }
    asio::async_read_until(
        client_, asio::dynamic_buffer(head_, std::size_t{8} * 1024), "\r\n\r\n",
        [self = shared_from_this()](error_code ec, std::size_t n) {
          self->on_head(ec, n);
        });
  }

private:
  /// One direction of the relay.
  struct pump {
    pump(tcp::socket& from, tcp::socket& to, const asio::any_io_executor& ex)
        : from(from), to(to), timer(ex) {
      // nop
    }

    tcp::socket& from;
    tcp::socket& to;
    std::array<char, std::size_t{16} * 1024> buf;
    size_t len = 0;
    size_t off = 0;
    /// Waits of this direction: stalls, pauses between pieces.
    asio::steady_timer timer;
    /// EOF seen and passed on.
    bool done = false;
  };

  using step = void (tunnel::*)(pump&);

  // -- CONNECT ----------------------------------------------------------------

  void on_head(error_code ec, std::size_t n) {
    if (ec)
      return close(false);
    auto request_line = head_.substr(0, head_.find("\r\n"));
    // Bytes behind the head belong to the tunnel (clients wait for the 200,
    // so there are none in practice).
    leftover_ = head_.substr(n);
    std::string method;
    std::string target;
    if (auto sp1 = request_line.find(' '); sp1 != std::string::npos) {
      method = request_line.substr(0, sp1);
      auto sp2 = request_line.find(' ', sp1 + 1);
      target = request_line.substr(sp1 + 1, sp2 == std::string::npos
                                                ? std::string::npos
                                                : sp2 - sp1 - 1);
    }
    // Only loopback targets: the proxy serves the fake Slack and nothing
    // else, whatever a client asks for.
    tcp::endpoint dest;
    bool ok = method == "CONNECT";
    if (ok) {
      auto colon = target.rfind(':');
      error_code bad;
      auto addr = asio::ip::make_address(target.substr(0, colon), bad);
      unsigned long port = 0;
      if (colon != std::string::npos && colon + 1 < target.size())
        port = std::strtoul(target.c_str() + colon + 1, nullptr, 10);
      ok = colon != std::string::npos && !bad && addr.is_loopback() &&
           port > 0 && port < 65536;
      if (ok)
        dest = tcp::endpoint{addr, static_cast<uint16_t>(port)};
    }
    if (!ok) {
      ++st_->refused;
      reply_ = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
      asio::async_write(client_, asio::buffer(reply_),
                        [self = shared_from_this()](error_code, std::size_t) {
                          self->close(false);
                        });
      return;
    }
    upstream_.async_connect(dest, [self = shared_from_this()](error_code ec) {
      self->on_connect(ec);
    });
  }

  void on_connect(error_code ec) {
    if (ec) {
      reply_ = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
      asio::async_write(client_, asio::buffer(reply_),
                        [self = shared_from_this()](error_code, std::size_t) {
                          self->close(false);
                        });
      return;
    }
    reply_ = "HTTP/1.1 200 Connection established\r\n\r\n";
    asio::async_write(client_, asio::buffer(reply_),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (ec)
                          return self->close(false);
                        self->on_established();
                      });
  }

  void on_established() {
    error_code ignored;
    upstream_.set_option(tcp::no_delay(true), ignored);
    ++st_->tunnels;
    schedule_fault();
    read(down_);
    if (leftover_.empty())
      return read(up_);
    up_.len = std::min(leftover_.size(), up_.buf.size());
    up_.off = 0;
    std::copy_n(leftover_.data(), up_.len, up_.buf.data());
    write(up_);
  }

  // -- relay ------------------------------------------------------------------

  /// Runs `next` for `p` at `at` (unless the tunnel closes first).
  void wait(pump& p, clock_type::time_point at, step next) {
    p.timer.expires_at(at);
    p.timer.async_wait([self = shared_from_this(), &p, next](error_code ec) {
      if (ec || self->closed_)
        return;
      ((*self).*next)(p);
    });
  }

  size_t draw(size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>{lo, hi}(io_rng_);
  }

  void read(pump& p) {
    if (closed_)
      return;
    auto now = clock_type::now();
    if (now < stall_until_)
      return wait(p, stall_until_, &tunnel::read);
    auto max = now < slow_until_ ? draw(16, 256) : p.buf.size();
    p.from.async_read_some(
        asio::buffer(p.buf.data(), max),
        [self = shared_from_this(), &p](error_code ec, std::size_t n) {
          self->on_read(p, ec, n);
        });
  }

  void on_read(pump& p, error_code ec, std::size_t n) {
    if (closed_)
      return;
    if (ec == asio::error::eof) {
      // Pass the half-close on (a WebSocket or TLS shutdown needs the other
      // direction a little longer); the tunnel ends once both sides are
      // done, or a while after the first one.
      error_code ignored;
      p.to.shutdown(tcp::socket::shutdown_send, ignored);
      p.done = true;
      if (up_.done && down_.done)
        return close(false);
      linger_timer_.expires_after(std::chrono::seconds{10});
      linger_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec)
          self->close(false);
      });
      return;
    }
    if (ec)
      return close(false); // a reset or error on one side ends both
    p.len = n;
    p.off = 0;
    write(p);
  }

  void write(pump& p) {
    if (closed_)
      return;
    if (p.off == p.len)
      return after_write(p);
    auto now = clock_type::now();
    if (now < stall_until_)
      return wait(p, stall_until_, &tunnel::write);
    auto chunk = p.len - p.off;
    bool partial = now < partial_until_;
    if (partial)
      chunk = std::min(chunk, draw(1, 64));
    asio::async_write(
        p.to, asio::buffer(p.buf.data() + p.off, chunk),
        [self = shared_from_this(), &p, partial](error_code ec, std::size_t n) {
          if (self->closed_)
            return;
          if (ec)
            return self->close(false);
          p.off += n;
          if (partial && p.off < p.len)
            return self->wait(
                p,
                clock_type::now() +
                    std::chrono::microseconds{self->draw(0, 2000)},
                &tunnel::write);
          self->write(p);
        });
  }

  void after_write(pump& p) {
    auto now = clock_type::now();
    if (now < slow_until_)
      return wait(p, now + std::chrono::microseconds{draw(1000, 5000)},
                  &tunnel::read);
    read(p);
  }

  // -- faults -----------------------------------------------------------------

  void schedule_fault() {
    auto mean = static_cast<double>(st_->opts.mean_interval.count());
    std::exponential_distribution<double> gap{1.0 / std::max(mean, 1.0)};
    auto ms = std::clamp(gap(plan_rng_), 20.0, 6 * mean);
    fault_timer_.expires_after(milliseconds{static_cast<int64_t>(ms)});
    fault_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->closed_)
        self->on_fault_timer();
    });
  }

  void on_fault_timer() {
    // The plan is drawn whether or not faults are on, so that switching them
    // on later does not shift it.
    const auto& o = st_->opts;
    std::discrete_distribution<int> pick{o.drop_weight, o.stall_weight,
                                         o.partial_weight, o.slow_weight};
    auto kind = static_cast<fault_kind>(pick(plan_rng_));
    auto span = [this](int64_t lo, int64_t hi) {
      return milliseconds{
          std::uniform_int_distribution<int64_t>{lo, hi}(plan_rng_)};
    };
    auto now = clock_type::now();
    bool on = st_->inject.load();
    switch (kind) {
    case fault_kind::drop: {
      bool rst = std::bernoulli_distribution{0.5}(plan_rng_);
      if (on) {
        ++st_->drops;
        return close(rst);
      }
      break;
    }
    case fault_kind::stall: {
      auto d = span(100, 3000);
      if (on) {
        ++st_->stalls;
        stall_until_ = now + d;
      }
      break;
    }
    case fault_kind::partial_write: {
      auto d = span(500, 4000);
      if (on) {
        ++st_->partial_writes;
        partial_until_ = now + d;
      }
      break;
    }
    case fault_kind::slow_read: {
      auto d = span(500, 4000);
      if (on) {
        ++st_->slow_reads;
        slow_until_ = now + d;
      }
      break;
    }
    }
    schedule_fault();
  }

  /// Ends the tunnel; with `rst`, both peers see a reset instead of a FIN.
  void close(bool rst) {
    if (closed_)
      return;
    closed_ = true;
    error_code ignored;
    if (rst) {
      client_.set_option(asio::socket_base::linger(true, 0), ignored);
      upstream_.set_option(asio::socket_base::linger(true, 0), ignored);
    }
    client_.close(ignored);
    upstream_.close(ignored);
    fault_timer_.cancel();
    linger_timer_.cancel();
    up_.timer.cancel();
    down_.timer.cancel();
  }

  state_ptr st_;
  tcp::socket client_;
  tcp::socket upstream_;
  asio::steady_timer fault_timer_;
  asio::steady_timer linger_timer_;
  pump up_;
  pump down_;
  std::mt19937_64 plan_rng_;
  std::mt19937_64 io_rng_;
  std::string head_;
  std::string leftover_;
  std::string reply_;
  clock_type::time_point stall_until_;
  clock_type::time_point partial_until_;
  clock_type::time_point slow_until_;
  bool closed_ = false;
};

} // namespace

struct fault_proxy::impl {
  explicit impl(fault_options opts)
      : state(std::make_shared<proxy_state>(opts)) {
    // nop
  }

  void do_accept() {
    acceptor.async_accept(ioc, [this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<tunnel>(state, std::move(socket), state->accepted++)
            ->start();
        return do_accept();
      }
      // E.g. out of descriptors: retry a little later instead of spinning.
      retry.expires_after(milliseconds{10});
      retry.async_wait([this](error_code ec) {
        if (!ec)
          do_accept();
      });
    });
  }

  state_ptr state;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  std::thread thread;
  uint16_t port = 0;
};

fault_proxy::fault_proxy(fault_options opts)
    : impl_(std::make_shared<impl>(opts)) {
  auto& self = *impl_;
  tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
  self.acceptor.open(endpoint.protocol());
  self.acceptor.set_option(tcp::acceptor::reuse_address(true));
  self.acceptor.bind(endpoint);
  self.acceptor.listen(asio::socket_base::max_listen_connections);
  self.port = self.acceptor.local_endpoint().port();
  self.do_accept();
  self.thread = std::thread{[ptr = impl_.get()] {
    // A handler that throws (bad_alloc, say) must not take the run down.
    for (;;) {
      try {
        ptr->ioc.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "caf-rtm-bench: fault proxy: %s\n", e.what());
      }
    }
  }};
}

fault_proxy::~fault_proxy() {
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
  // Destroying the context (with impl_) closes every tunnel.
}

uint16_t fault_proxy::port() const {
  return impl_->port;
}

std::string fault_proxy::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

void fault_proxy::inject(bool on) {
  impl_->state->inject = on;
}

fault_counts fault_proxy::counts() const {
  auto& st = *impl_->state;
  fault_counts result;
  result.tunnels = st.tunnels.load();
  result.open_tunnels = st.open_tunnels.load();
  result.drops = st.drops.load();
  result.stalls = st.stalls.load();
  result.partial_writes = st.partial_writes.load();
  result.slow_reads = st.slow_reads.load();
  result.refused = st.refused.load();
  return result;
}

} // namespace caf::rtm::bench
