#include "caf/rtm/testing/fake_slack.hpp"

#include "certs.hpp"
#include "serve.hpp"
#include "server_state.hpp"
#include "wire.hpp"

#include <boost/asio/io_context.hpp>   // asio::io_context
#include <boost/asio/ip/tcp.hpp>       // tcp::acceptor
#include <boost/asio/post.hpp>         // asio::post
#include <boost/asio/ssl/context.hpp>  // ssl::context
#include <boost/asio/steady_timer.hpp> // asio::steady_timer
#include <boost/asio/strand.hpp>       // asio::make_strand

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace caf::rtm::testing {

namespace {

/// Server-wide timers on the I/O thread. The server state drops its
/// reference before the I/O context goes away.
class io_scheduler final : public detail::scheduler {
public:
  explicit io_scheduler(asio::io_context& ioc) : ioc_(ioc) {
    // nop
  }

  void run_after(std::chrono::milliseconds delay,
                 std::function<void()> fn) override {
    // The deadline counts from now, not from when the I/O thread gets to it.
    auto deadline = clock_type::now() + delay;
    asio::post(ioc_, [&ioc = ioc_, deadline, fn = std::move(fn)]() mutable {
      auto timer = std::make_shared<asio::steady_timer>(ioc, deadline);
      timer->async_wait([timer, fn = std::move(fn)](error_code ec) {
        if (!ec)
          fn();
      });
    });
  }

private:
  asio::io_context& ioc_;
};

} // namespace

struct fake_slack::impl {
  explicit impl(fake_slack_options opts)
      : state(std::make_shared<detail::server_state>(std::move(opts))) {
    // nop
  }

  void do_accept() {
    acceptor.async_accept(asio::make_strand(ioc),
                          [this](error_code ec, tcp::socket socket) {
                            on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted)
      return;
    if (ec) {
      // E.g. out of file descriptors: retry a little later instead of
      // spinning on the error.
      detail::trace("accept", ec.message());
      retry_timer.expires_after(std::chrono::milliseconds(10));
      retry_timer.async_wait([this](error_code ec) {
        if (!ec)
          do_accept();
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls_ctx)
      detail::serve_tls(state, std::move(socket), *tls_ctx);
    else
      detail::serve_plain(state, std::move(socket));
    do_accept();
  }

  void run() {
    // Handlers do not throw by design; should one do so anyway (e.g.
    // bad_alloc), the server keeps serving the other connections.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        detail::trace("I/O thread", e.what());
      } catch (...) {
        detail::trace("I/O thread", "unknown exception");
      }
    }
  }

  std::shared_ptr<detail::server_state> state;
  detail::generated_certs certs;
  // Declared before the I/O objects: connections use it until the context
  // destroys them.
  std::unique_ptr<ssl::context> tls_ctx;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry_timer{ioc};
  std::thread thread;
  std::mutex file_mtx;
  std::string ca_path;
};

fake_slack::fake_slack(fake_slack_options options)
    : impl_(std::make_shared<impl>(std::move(options))) {
  auto& self = *impl_;
  if (self.state->opts.tls) {
    self.certs = detail::generate_certs(self.state->opts.cert_names);
    self.tls_ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    self.tls_ctx->set_options(ssl::context::default_workarounds |
                              ssl::context::no_sslv2 | ssl::context::no_sslv3);
    self.tls_ctx->use_certificate_chain(asio::buffer(self.certs.cert_pem));
    self.tls_ctx->use_private_key(asio::buffer(self.certs.key_pem),
                                  ssl::context::pem);
  }
  tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), 0};
  self.acceptor.open(endpoint.protocol());
  self.acceptor.set_option(tcp::acceptor::reuse_address(true));
  self.acceptor.bind(endpoint);
  self.acceptor.listen(asio::socket_base::max_listen_connections);
  self.state->set_port(self.acceptor.local_endpoint().port());
  self.state->set_scheduler(std::make_shared<io_scheduler>(self.ioc));
  self.do_accept();
  self.thread = std::thread{[ptr = impl_.get()] {
    ptr->run();
  }};
}

fake_slack::~fake_slack() {
  auto& self = *impl_;
  self.ioc.stop();
  if (self.thread.joinable())
    self.thread.join();
  // From here on, session handles no longer reach their connections...
  self.state->shut_down();
  error_code ignored;
  self.acceptor.close(ignored);
  // ...and destroying the context destroys the pending handlers, which own
  // the connections: their sockets close and their sessions end.
  std::string path;
  {
    std::lock_guard<std::mutex> guard{self.file_mtx};
    path = self.ca_path;
  }
  impl_.reset();
  if (!path.empty())
    std::remove(path.c_str());
}

const fake_slack_options& fake_slack::options() const {
  return impl_->state->opts;
}

uint16_t fake_slack::port() const {
  return impl_->state->port();
}

std::string fake_slack::base_url() const {
  return impl_->state->base_url();
}

std::string fake_slack::webhook_url(const std::string& name) const {
  return impl_->state->webhook_url(name);
}

std::string fake_slack::ca_pem() const {
  return impl_->certs.ca_pem;
}

std::string fake_slack::ca_file() const {
  auto& self = *impl_;
  if (self.certs.ca_pem.empty())
    return {};
  std::lock_guard<std::mutex> guard{self.file_mtx};
  if (!self.ca_path.empty())
    return self.ca_path;
  auto path =
      (std::filesystem::temp_directory_path() / "caf-rtm-fake-ca-XXXXXX.pem")
          .string();
  auto fd = mkstemps(path.data(), 4);
  if (fd < 0)
    throw std::runtime_error("fake_slack: cannot create a temporary file");
  auto& pem = self.certs.ca_pem;
  std::size_t done = 0;
  while (done < pem.size()) {
    auto n = ::write(fd, pem.data() + done, pem.size() - done);
    if (n <= 0) {
      ::close(fd);
      std::remove(path.c_str());
      throw std::runtime_error("fake_slack: cannot write the CA file");
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  self.ca_path = path;
  return path;
}

void fake_slack::script(const std::string& method, http_response response) {
  impl_->state->script(method, std::move(response));
}

void fake_slack::on(
    const std::string& method,
    std::function<http_response(const recorded_request&)> handler) {
  impl_->state->on(method, std::move(handler));
}

std::vector<recorded_request> fake_slack::requests() const {
  return impl_->state->requests();
}

std::vector<recorded_request>
fake_slack::requests(const std::string& method) const {
  return impl_->state->requests(method);
}

bool fake_slack::wait_requests(const std::string& method, std::size_t n,
                               std::chrono::milliseconds timeout) const {
  return impl_->state->wait_requests(method, n, timeout);
}

http_response fake_slack::default_answer(const recorded_request& req) {
  return impl_->state->default_answer(req);
}

std::vector<recorded_upload> fake_slack::uploads() const {
  return impl_->state->uploads();
}

ws_session_ptr fake_slack::session(std::size_t index,
                                   std::chrono::milliseconds timeout) const {
  return impl_->state->session(index, timeout);
}

std::size_t fake_slack::session_count() const {
  return impl_->state->session_count();
}

std::size_t fake_slack::open_sessions() const {
  return impl_->state->open_sessions();
}

std::size_t fake_slack::open_connections() const {
  return impl_->state->open_connections();
}

void fake_slack::drop_all() {
  for (auto& rec : impl_->state->all_sessions())
    rec->drop();
}

void fake_slack::script_handshake(unsigned status, std::string retry_after) {
  impl_->state->script_handshake(status, std::move(retry_after));
}

void fake_slack::script_handshake_raw(std::string bytes) {
  impl_->state->script_handshake_raw(std::move(bytes));
}

std::size_t fake_slack::rejected_handshakes() const {
  return impl_->state->rejected_handshakes();
}

std::string fake_slack::send_event(const std::string& event_json) {
  return impl_->state->send_event(nullptr, event_json);
}

std::string fake_slack::send_envelope(const std::string& type,
                                      const std::string& payload_json,
                                      bool accepts_response_payload) {
  return impl_->state->send_envelope(nullptr, type, payload_json,
                                     accepts_response_payload);
}

std::vector<recorded_ack> fake_slack::acks() const {
  return impl_->state->acks();
}

bool fake_slack::wait_acks(std::size_t n,
                           std::chrono::milliseconds timeout) const {
  return impl_->state->wait_acks(n, timeout);
}

std::vector<sent_envelope> fake_slack::envelopes() const {
  return impl_->state->envelopes();
}

std::size_t fake_slack::live_socket_mode_sessions() const {
  return impl_->state->live_socket_mode_sessions();
}

} // namespace caf::rtm::testing
