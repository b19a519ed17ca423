#include "net/transport.hpp"

#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "caf/rtm/errc.hpp"
#include "net/name_lookups.hpp"

// asio, beast, http and ssl: the aliases of net/transport.hpp.
using tcp = boost::asio::ip::tcp; // from <boost/asio/ip/tcp.hpp>
using error_code = boost::system::error_code;

namespace caf::rtm::net {

transport_open::~transport_open() = default;

caf::error to_error(const error_code& ec, const char* step) {
  auto what = std::string{step} + ": " + ec.message();
  if (ec == beast::error::timeout || ec == asio::error::timed_out)
    return make_error(errc::timeout, std::move(what));
  if (ec.category() == asio::error::get_ssl_category() ||
      ec == ssl::error::stream_truncated)
    return make_error(errc::tls_error, std::move(what));
  return make_error(errc::connect_failed, std::move(what));
}

void close_socket(tcp_stream& stream) {
  error_code ignored;
  stream.shutdown(tcp::socket::shutdown_both, ignored);
  stream.close(ignored);
}

namespace {

using endpoints = std::vector<tcp::endpoint>;

class open_op : public transport_open,
                public std::enable_shared_from_this<open_op> {
public:
  open_op(const executor_type& ex, const net_context& ctx,
          const endpoint_url& url, handler_type handler)
      : ex_(ex), deadline_(ex), address_deadline_(ex),
        stream_(std::make_unique<tcp_stream>(ex)), tls_ctx_(ctx.tls),
        resolve_(ctx.resolve), proxy_(url.tls ? ctx.proxy : ctx.plain_proxy),
        url_(url), use_proxy_(proxy_.applies_to(url.host)),
        timeout_(ctx.connect_timeout), log_(ctx.log),
        handler_(std::move(handler)) {
    // nop
  }

  void run() {
    deadline_.expires_after(timeout_);
    deadline_.async_wait(
        beast::bind_front_handler(&open_op::on_deadline, shared_from_this()));
    const auto& host = use_proxy_ ? proxy_.host : url_.host;
    const auto& port = use_proxy_ ? proxy_.port : url_.port;
    CAF_RTM_LOG(log_, debug, "net", "connecting to ", host, ":", port,
                use_proxy_ ? " (proxy)" : "");
    resolving_ = true;
    if (resolve_) {
      asio::post(ex_, [self = shared_from_this(),
                       found = resolve_(host, port)]() mutable {
        self->on_resolve(error_code{}, std::move(found));
      });
      return;
    }
    name_lookups::system().lookup(
        ex_, host, port,
        beast::bind_front_handler(&open_op::on_resolve, shared_from_this()));
  }

  void cancel(caf::error reason) override {
    if (finished_)
      return;
    abort_reason_ = std::move(reason);
    stop_everything();
  }

  // A lookup cannot be interrupted: stop waiting for it instead.
  void stop_waiting_for_lookup() {
    if (resolving_)
      fail(error_code{}, "resolve");
  }

private:
  // -- steps ------------------------------------------------------------------

  // A cancel or the deadline may come while a step is under way that cannot
  // be interrupted (getaddrinfo runs on a thread of its own): every step
  // checks before it goes on.
  bool stopped() const noexcept {
    return abort_reason_ || timed_out_;
  }

  void on_resolve(error_code ec, endpoints results) {
    resolving_ = false;
    if (finished_)
      return; // timed out or cancelled meanwhile: reported already
    if (!ec && results.empty())
      ec = asio::error::host_not_found;
    if (ec || stopped())
      return fail(ec, "resolve");
    addresses_ = std::move(results);
    connect_next();
  }

  // Tries the next address. Each gets its share of the time left: the kernel
  // tries one that drops packets (a broken IPv6 route, say) for about two
  // minutes, which must not use up the time of the addresses after it.
  void connect_next() {
    auto left = static_cast<int64_t>(addresses_.size() - next_address_);
    auto share =
        (deadline_.expiry() - asio::steady_timer::clock_type::now()) / left;
    connecting_ = true;
    address_timed_out_ = false;
    address_deadline_.expires_after(share);
    address_deadline_.async_wait(beast::bind_front_handler(
        &open_op::on_address_deadline, shared_from_this(), next_address_));
    // The failed attempt's socket may be of the other address family.
    error_code ignored;
    stream_->close(ignored);
    stream_->async_connect(
        addresses_[next_address_++],
        beast::bind_front_handler(&open_op::on_connect, shared_from_this()));
  }

  void on_address_deadline(size_t address, error_code ec) {
    if (ec || finished_ || !connecting_ || address + 1 != next_address_)
      return;
    address_timed_out_ = true;
    error_code ignored;
    stream_->close(ignored); // the connect completes with operation_aborted
  }

  void on_connect(error_code ec) {
    connecting_ = false;
    address_deadline_.cancel();
    // Connected just as its time ran out: the socket is closed already.
    if (!ec && address_timed_out_)
      ec = asio::error::timed_out;
    if (ec && !stopped()) {
      CAF_RTM_LOG(log_, debug, "net", "connect to ",
                  addresses_[next_address_ - 1], " failed: ",
                  address_timed_out_ ? "no answer in its share of the time"
                                     : ec.message());
      if (next_address_ < addresses_.size())
        return connect_next();
      // The last address used up the time left.
      timed_out_ = address_timed_out_;
    }
    if (ec || stopped())
      return fail(ec, "connect");
    stream_->set_option(tcp::no_delay{true}, ec);
    if (use_proxy_)
      return send_connect_request();
    start_tls_or_finish();
  }

  void send_connect_request() {
    auto authority =
        url_.host_is_ip() && url_.host.find(':') != std::string::npos
            ? "[" + url_.host + "]:" + url_.port
            : url_.host + ":" + url_.port;
    connect_req_.method(http::verb::connect);
    connect_req_.target(authority);
    connect_req_.version(11);
    connect_req_.set(http::field::host, authority);
    if (!proxy_.authorization.empty())
      connect_req_.set(http::field::proxy_authorization, proxy_.authorization);
    http::async_write(*stream_, connect_req_,
                      beast::bind_front_handler(&open_op::on_connect_sent,
                                                shared_from_this()));
  }

  void on_connect_sent(error_code ec, size_t) {
    if (ec || stopped())
      return fail(ec, "proxy write");
    connect_res_.emplace();
    // A 2xx answer to CONNECT has no body: the tunnel starts right after.
    connect_res_->skip(true);
    http::async_read(*stream_, buffer_, *connect_res_,
                     beast::bind_front_handler(&open_op::on_connect_reply,
                                               shared_from_this()));
  }

  void on_connect_reply(error_code ec, size_t) {
    if (ec || stopped())
      return fail(ec, "proxy read");
    auto status = connect_res_->get().result_int();
    if (status != 200)
      return finish(make_error(errc::proxy_error, static_cast<uint16_t>(status),
                               "proxy refused CONNECT with status " +
                                   std::to_string(status)));
    start_tls_or_finish();
  }

  void start_tls_or_finish() {
    if (!url_.tls)
      return finish(caf::none);
    tls_ = std::make_unique<tls_stream>(std::move(*stream_), *tls_ctx_);
    auto* native = tls_->native_handle();
    if (native == nullptr)
      return finish(make_error(errc::tls_error, "cannot set up TLS (OpenSSL "
                                                "out of memory)"));
    // Without the host check the peer's certificate would be accepted for
    // any host: a failure to set it up fails the attempt.
    bool checked = false;
    if (url_.host_is_ip()) {
      // RFC 6066 forbids IP literals in SNI; check the address instead.
      checked = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native),
                                              url_.host.c_str()) == 1;
    } else {
      // SNI: servers behind shared IPs pick their certificate by name.
      // OpenSSL's own host check reports a precise verify error on mismatch.
      checked = SSL_set_tlsext_host_name(native, url_.host.c_str()) == 1 &&
                SSL_set1_host(native, url_.host.c_str()) == 1;
    }
    if (!checked)
      return finish(
          make_error(errc::tls_error,
                     "cannot check the certificate for host " + url_.host));
    tls_->async_handshake(
        beast::bind_front_handler(&open_op::on_handshake, shared_from_this()));
  }

  void on_handshake(error_code ec) {
    if (ec) {
      if (finished_)
        return;
      auto verify = SSL_get_verify_result(tls_->native_handle());
      if (verify != X509_V_OK && !abort_reason_ && !timed_out_)
        return finish(make_error(errc::tls_error,
                                 std::string{"certificate verify failed: "} +
                                     X509_verify_cert_error_string(verify) +
                                     " (" + url_.host + ")"));
      return fail(ec, "TLS handshake");
    }
    if (stopped())
      return fail(ec, "TLS handshake");
    finish(caf::none);
  }

  void on_deadline(error_code ec) {
    if (ec || finished_)
      return;
    timed_out_ = true;
    stop_everything();
  }

  // -- completion -------------------------------------------------------------

  void stop_everything() {
    stop_waiting_for_lookup();
    if (tls_)
      close_socket(beast::get_lowest_layer(*tls_));
    else if (stream_)
      close_socket(*stream_);
  }

  void fail(error_code ec, const char* step) {
    if (abort_reason_)
      return finish(std::move(abort_reason_));
    if (timed_out_) {
      auto where = url_.host + ":" + url_.port;
      return finish(make_error(errc::timeout, std::string{"connect to "} +
                                                  where + " timed out"));
    }
    auto err = to_error(ec, step);
    if (is(err, errc::connect_failed))
      err = make_error(errc::connect_failed,
                       std::string{step} + " " +
                           (use_proxy_ ? proxy_.host : url_.host) + ": " +
                           ec.message());
    finish(std::move(err));
  }

  void finish(caf::error err) {
    if (finished_)
      return;
    finished_ = true;
    deadline_.cancel();
    address_deadline_.cancel();
    opened_stream result;
    if (!err) {
      if (tls_)
        result = std::move(tls_);
      else
        result = std::move(stream_);
    }
    auto handler = std::move(handler_);
    handler(std::move(err), std::move(result));
  }

  executor_type ex_;
  asio::steady_timer deadline_;
  /// The current address's share of the time (see connect_next).
  asio::steady_timer address_deadline_;
  std::unique_ptr<tcp_stream> stream_;
  std::unique_ptr<tls_stream> tls_;
  std::shared_ptr<ssl::context> tls_ctx_;
  decltype(net_context::resolve) resolve_;
  proxy_settings proxy_;
  endpoint_url url_;
  bool use_proxy_;
  caf::timespan timeout_;
  logger_ptr log_;
  handler_type handler_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> connect_req_;
  std::optional<http::response_parser<http::empty_body>> connect_res_;
  caf::error abort_reason_;
  bool timed_out_ = false;
  bool finished_ = false;
  /// A lookup is under way.
  bool resolving_ = false;
  /// What the lookup found, and the next of them to try.
  endpoints addresses_;
  size_t next_address_ = 0;
  /// A connect to `addresses_[next_address_ - 1]` is under way.
  bool connecting_ = false;
  /// That connect was stopped at the end of its share of the time.
  bool address_timed_out_ = false;
};

} // namespace

std::shared_ptr<transport_open> transport_open::start(const executor_type& ex,
                                                      const net_context& ctx,
                                                      const endpoint_url& url,
                                                      handler_type handler) {
  auto op = std::make_shared<open_op>(ex, ctx, url, std::move(handler));
  asio::post(ex, [op] { op->run(); });
  return op;
}

} // namespace caf::rtm::net
