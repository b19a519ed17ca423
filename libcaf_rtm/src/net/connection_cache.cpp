#include "net/connection_cache.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "net/http_client.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/stream_traits.hpp> // beast::get_lowest_layer

namespace caf::rtm::net {

namespace {

// Call only on a stream that holds one.
tcp_stream& lowest_of(opened_stream& s) {
  if (auto* tls = std::get_if<std::unique_ptr<tls_stream>>(&s))
    return boost::beast::get_lowest_layer(**tls);
  return *std::get<std::unique_ptr<tcp_stream>>(s);
}

// An idle stream is still usable when its socket is open and has nothing to
// read: no EOF, no reset, no TLS alert or close_notify from the peer.
bool still_usable(opened_stream& s) {
  auto& sock = lowest_of(s);
  if (!sock.is_open())
    return false;
  // A TLS alert or close_notify that OpenSSL read ahead is off the socket.
  if (auto* tls = std::get_if<std::unique_ptr<tls_stream>>(&s);
      tls && has_buffered_input(**tls))
    return false;
  char byte;
  auto n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void close_stream(opened_stream& s) {
  if (!empty(s))
    close_socket(lowest_of(s));
}

} // namespace

connection_cache::connection_cache(const executor_type& ex,
                                   caf::timespan idle_timeout, size_t max_idle)
    : ex_(ex), idle_timeout_(idle_timeout), max_idle_(max_idle), timer_(ex) {
  // nop
}

connection_cache::~connection_cache() {
  for (auto& x : idle_)
    close_stream(x.stream);
}

std::string connection_cache::key_of(const endpoint_url& url) {
  return (url.tls ? "https://" : "http://") + url.host + ":" + url.port;
}

opened_stream connection_cache::take(const std::string& key) {
  auto now = clock_type::now();
  // Newest first: the most recently used stream is the least likely to have
  // been closed by the server.
  for (auto n = idle_.size(); n-- > 0;) {
    if (idle_[n].key != key)
      continue;
    auto x = std::move(idle_[n].stream);
    auto fresh = idle_[n].expires > now;
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(n));
    if (fresh && still_usable(x))
      return x;
    close_stream(x);
  }
  return {};
}

void connection_cache::put(const std::string& key, opened_stream stream) {
  if (down_ || max_idle_ == 0 || idle_timeout_.count() <= 0) {
    close_stream(stream);
    return;
  }
  if (idle_.size() >= max_idle_) {
    close_stream(idle_.front().stream);
    idle_.pop_front();
  }
  idle_.push_back(entry{
      key, std::move(stream),
      clock_type::now() +
          std::chrono::duration_cast<clock_type::duration>(idle_timeout_)});
  arm_timer();
}

void connection_cache::shutdown(const std::function<void()>& done) {
  down_ = true;
  for (auto& x : idle_)
    close_stream(x.stream);
  idle_.clear();
  timer_.cancel();
  if (done)
    done();
}

void connection_cache::arm_timer() {
  if (timer_armed_ || idle_.empty())
    return;
  timer_armed_ = true;
  timer_.expires_at(idle_.front().expires);
  timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) {
        self->on_timer(ec);
      });
}

void connection_cache::on_timer(const boost::system::error_code& ec) {
  timer_armed_ = false;
  if (ec == boost::asio::error::operation_aborted || down_)
    return;
  // Entries expire in the order they were added.
  auto now = clock_type::now();
  while (!idle_.empty() && idle_.front().expires <= now) {
    close_stream(idle_.front().stream);
    idle_.pop_front();
  }
  arm_timer();
}

std::shared_ptr<connection_cache>
make_connection_cache(const net_context& ctx, caf::timespan idle_timeout,
                      size_t max_idle) {
  return std::make_shared<connection_cache>(ctx.pool->context().get_executor(),
                                            idle_timeout, max_idle);
}

void shutdown_connection_cache(const std::shared_ptr<connection_cache>& cache,
                               std::function<void()> done) {
  boost::asio::post(cache->executor(),
                    [cache, done = std::move(done)] { cache->shutdown(done); });
}

} // namespace caf::rtm::net
