#include "caf/rtm/testing/fake_slack.hpp"

#include "detail/base64.hpp"
#include "wire.hpp"

#include <boost/asio/connect.hpp>             // asio::async_connect
#include <boost/asio/io_context.hpp>          // asio::io_context
#include <boost/asio/ip/tcp.hpp>              // tcp::acceptor, tcp::resolver
#include <boost/asio/read_until.hpp>          // asio::async_read_until
#include <boost/asio/write.hpp>               // asio::async_write
#include <boost/url/encode.hpp>               // urls::encode
#include <boost/url/rfc/unreserved_chars.hpp> // urls::unreserved_chars

#include <array>
#include <cctype>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace caf::rtm::testing {

namespace {

std::string lower(std::string str) {
  for (auto& c : str)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return str;
}

std::string trim(const std::string& str) {
  auto first = str.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  auto last = str.find_last_not_of(" \t");
  return str.substr(first, last - first + 1);
}

/// What every tunnel of one proxy shares.
struct proxy_state {
  std::string user;
  std::string password;
  std::mutex mtx;
  std::vector<std::string> targets;
  std::vector<std::string> authorizations;
};

/// One client connection: the CONNECT request, then a two-way relay.
class tunnel : public std::enable_shared_from_this<tunnel> {
public:
  tunnel(std::shared_ptr<proxy_state> state, tcp::socket client)
      : state_(std::move(state)), client_(std::move(client)),
        upstream_(client_.get_executor()), resolver_(client_.get_executor()) {
    // nop
  }

  void start() {
    // Requests with a head beyond 64 KiB are not worth serving.
    asio::async_read_until(
        client_, asio::dynamic_buffer(head_, std::size_t{64} * 1024),
        "\r\n\r\n", [self = shared_from_this()](error_code ec, std::size_t n) {
          self->on_head(ec, n);
        });
  }

private:
  void fail(error_code ec, const char* what) {
    detail::trace(what, ec.message());
    close_both();
  }

  void close_both() {
    error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
    resolver_.cancel();
  }

  void on_head(error_code ec, std::size_t n) {
    if (ec)
      return fail(ec, "proxy: read request");
    // Bytes behind the head belong to the tunnel already.
    leftover_ = head_.substr(n);
    head_.resize(n);
    auto line_end = head_.find("\r\n");
    auto request_line = head_.substr(0, line_end);
    std::string method;
    std::string target;
    if (auto sp1 = request_line.find(' '); sp1 != std::string::npos) {
      method = request_line.substr(0, sp1);
      auto sp2 = request_line.find(' ', sp1 + 1);
      target = request_line.substr(sp1 + 1, sp2 == std::string::npos
                                                ? std::string::npos
                                                : sp2 - sp1 - 1);
    }
    std::string authorization;
    for (auto pos = line_end + 2; pos < head_.size();) {
      auto end = head_.find("\r\n", pos);
      if (end == std::string::npos || end == pos)
        break;
      auto line = head_.substr(pos, end - pos);
      if (auto colon = line.find(':');
          colon != std::string::npos &&
          lower(trim(line.substr(0, colon))) == "proxy-authorization")
        authorization = trim(line.substr(colon + 1));
      pos = end + 2;
    }
    if (method != "CONNECT")
      return reply_and_close("HTTP/1.1 405 Method Not Allowed\r\n"
                             "Allow: CONNECT\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
    {
      std::lock_guard<std::mutex> guard{state_->mtx};
      state_->targets.push_back(target);
      state_->authorizations.push_back(authorization);
    }
    if (!state_->user.empty() && !authorized(authorization))
      return reply_and_close("HTTP/1.1 407 Proxy Authentication Required\r\n"
                             "Proxy-Authenticate: Basic realm=\"fake\"\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
    auto colon = target.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return reply_and_close("HTTP/1.1 400 Bad Request\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
    auto host = target.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    resolver_.async_resolve(
        host, target.substr(colon + 1),
        [self = shared_from_this()](
            error_code ec, const tcp::resolver::results_type& results) {
          self->on_resolve(ec, results);
        });
  }

  bool authorized(const std::string& authorization) const {
    if (lower(authorization.substr(0, 6)) != "basic ")
      return false;
    auto expected = rtm::detail::base64(state_->user + ":" + state_->password);
    return trim(authorization.substr(6)) == expected;
  }

  void reply_and_close(std::string response) {
    reply_ = std::move(response);
    asio::async_write(client_, asio::buffer(reply_),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (ec)
                          return self->fail(ec, "proxy: write error reply");
                        error_code ignored;
                        self->client_.shutdown(tcp::socket::shutdown_send,
                                               ignored);
                        self->close_both();
                      });
  }

  void on_resolve(error_code ec, const tcp::resolver::results_type& results) {
    if (ec)
      return reply_and_close("HTTP/1.1 502 Bad Gateway\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
    asio::async_connect(
        upstream_, results,
        [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(error_code ec) {
    if (ec)
      return reply_and_close("HTTP/1.1 502 Bad Gateway\r\n"
                             "Content-Length: 0\r\n"
                             "Connection: close\r\n\r\n");
    error_code ignored;
    upstream_.set_option(tcp::no_delay(true), ignored);
    reply_ = "HTTP/1.1 200 Connection established\r\n\r\n";
    asio::async_write(client_, asio::buffer(reply_),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        self->on_established(ec);
                      });
  }

  void on_established(error_code ec) {
    if (ec)
      return fail(ec, "proxy: write 200");
    if (leftover_.empty())
      return start_relay();
    asio::async_write(upstream_, asio::buffer(leftover_),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (ec)
                          return self->fail(ec, "proxy: write leftover");
                        self->start_relay();
                      });
  }

  // -- relay ------------------------------------------------------------------

  struct direction {
    tcp::socket* from;
    tcp::socket* to;
    std::array<char, std::size_t{16} * 1024> buf;
    bool done = false;
  };

  void start_relay() {
    up_.from = &client_;
    up_.to = &upstream_;
    down_.from = &upstream_;
    down_.to = &client_;
    do_relay(up_);
    do_relay(down_);
  }

  void do_relay(direction& dir) {
    dir.from->async_read_some(
        asio::buffer(dir.buf),
        [self = shared_from_this(), &dir](error_code ec, std::size_t n) {
          self->on_relay_read(dir, ec, n);
        });
  }

  void on_relay_read(direction& dir, error_code ec, std::size_t n) {
    if (ec == asio::error::eof) {
      // Pass the half-close on; the tunnel ends once both sides are done.
      error_code ignored;
      dir.to->shutdown(tcp::socket::shutdown_send, ignored);
      dir.done = true;
      if (up_.done && down_.done)
        close_both();
      return;
    }
    if (ec)
      return fail(ec, "proxy: relay read");
    asio::async_write(
        *dir.to, asio::buffer(dir.buf.data(), n),
        [self = shared_from_this(), &dir](error_code ec, std::size_t) {
          if (ec)
            return self->fail(ec, "proxy: relay write");
          self->do_relay(dir);
        });
  }

  std::shared_ptr<proxy_state> state_;
  tcp::socket client_;
  tcp::socket upstream_;
  tcp::resolver resolver_;
  std::string head_;
  std::string leftover_;
  std::string reply_;
  direction up_;
  direction down_;
};

} // namespace

struct connect_proxy::impl {
  void do_accept() {
    acceptor.async_accept(ioc, [this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<tunnel>(state, std::move(socket))->start();
      } else {
        detail::trace("proxy: accept", ec.message());
      }
      do_accept();
    });
  }

  std::shared_ptr<proxy_state> state = std::make_shared<proxy_state>();
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  uint16_t port = 0;
};

connect_proxy::connect_proxy(std::string user, std::string password)
    : impl_(std::make_shared<impl>()) {
  auto& self = *impl_;
  self.state->user = std::move(user);
  self.state->password = std::move(password);
  tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
  self.acceptor.open(endpoint.protocol());
  self.acceptor.set_option(tcp::acceptor::reuse_address(true));
  self.acceptor.bind(endpoint);
  self.acceptor.listen(asio::socket_base::max_listen_connections);
  self.port = self.acceptor.local_endpoint().port();
  self.do_accept();
  self.thread = std::thread{[ptr = impl_.get()] {
    for (;;) {
      try {
        ptr->ioc.run();
        return;
      } catch (const std::exception& e) {
        detail::trace("proxy: I/O thread", e.what());
      } catch (...) {
        detail::trace("proxy: I/O thread", "unknown exception");
      }
    }
  }};
}

connect_proxy::~connect_proxy() {
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
  // Destroying the context (with impl_) closes every tunnel.
}

uint16_t connect_proxy::port() const {
  return impl_->port;
}

std::string connect_proxy::url() const {
  std::string result = "http://";
  auto& state = *impl_->state;
  if (!state.user.empty()) {
    result += urls::encode(state.user, urls::unreserved_chars);
    result += ':';
    result += urls::encode(state.password, urls::unreserved_chars);
    result += '@';
  }
  result += "127.0.0.1:" + std::to_string(impl_->port);
  return result;
}

std::vector<std::string> connect_proxy::targets() const {
  std::lock_guard<std::mutex> guard{impl_->state->mtx};
  return impl_->state->targets;
}

std::vector<std::string> connect_proxy::authorizations() const {
  std::lock_guard<std::mutex> guard{impl_->state->mtx};
  return impl_->state->authorizations;
}

} // namespace caf::rtm::testing
