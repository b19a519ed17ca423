// The HTTP half of a fake Slack connection, over a plain or a TLS stream:
// Web API requests (answered by server_state::handle_api, with scripted
// delays, drops and keep-alive) until a WebSocket handshake, which it either
// refuses with an HTTP status or answers with 101, handing the stream and the
// bytes read past the request to a ws_peer. Instantiated once per stream
// type, each in its own translation unit (serve_plain.cpp, serve_tls.cpp).

#pragma once

#include "server_state.hpp"
#include "stream_support.hpp"
#include "ws_peer.hpp"

#include <boost/asio/dispatch.hpp>            // asio::dispatch
#include <boost/asio/write.hpp>               // asio::async_write
#include <boost/beast/core/bind_handler.hpp>  // beast::bind_front_handler
#include <boost/beast/core/flat_buffer.hpp>   // beast::flat_buffer
#include <boost/beast/core/stream_traits.hpp> // beast::get_lowest_layer
#include <boost/beast/http/empty_body.hpp>    // http::empty_body
#include <boost/beast/http/read.hpp>          // http::async_read
#include <boost/beast/http/string_body.hpp>   // http::string_body
#include <boost/beast/http/write.hpp>         // http::async_write

#include <cctype>
#include <optional>

namespace caf::rtm::testing::detail {

namespace beast = boost::beast;
namespace http = beast::http;

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
public:
  template <class... Args>
  explicit http_session(connection_slot slot, Args&&... args)
      : slot_(std::move(slot)), stream_(std::forward<Args>(args)...),
        timer_(stream_.get_executor()) {
    // nop
  }

  /// Starts serving; called right after accepting.
  void start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&http_session::on_start,
                                             this->shared_from_this()));
  }

  /// Closes TCP at once: no TLS close_notify. Also ends a graceful shutdown.
  void hard_close() {
    if (phase_ == phase::closed || phase_ == phase::upgraded)
      return;
    phase_ = phase::closed;
    error_code ec;
    socket().close(ec);
    timer_.cancel();
  }

private:
  enum class phase {
    /// TLS only: the server side of the TLS handshake.
    tls_handshake,
    /// Waiting for the next request (or reading it).
    reading,
    /// A scripted delay runs before the answer goes out.
    delaying,
    /// Writing an answer.
    responding,
    /// Writing the 101 answer of a WebSocket handshake.
    upgrading,
    /// The stream now belongs to a ws_peer.
    upgraded,
    /// TLS close_notify, or FIN and draining.
    shutting_down,
    closed,
  };

  /// What follows a written answer.
  enum class next_step {
    /// The client keeps the connection for its next request.
    read_next,
    /// The client asked for `Connection: close`.
    shut_down,
    /// `http_response::close_after`: a server closing an idle connection.
    close,
  };

  using request = http::request<http::string_body>;

  tcp::socket& socket() {
    return beast::get_lowest_layer(stream_);
  }

  server_state& state() {
    return slot_.state();
  }

  void fail(error_code ec, const char* what) {
    if (phase_ != phase::closed)
      trace(what, ec.message());
    hard_close();
  }

  void shut_down() {
    if (phase_ == phase::shutting_down || phase_ == phase::closed)
      return;
    phase_ = phase::shutting_down;
    graceful_shutdown(stream_, timer_, [self = this->shared_from_this()] {
      self->hard_close();
    });
  }

  // -- requests ---------------------------------------------------------------

  void on_start() {
    if constexpr (is_tls_stream<Stream>) {
      phase_ = phase::tls_handshake;
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&http_session::on_tls_handshake,
                                    this->shared_from_this()));
    } else {
      do_read_request();
    }
  }

  void on_tls_handshake(error_code ec) {
    if (ec)
      return fail(ec, "TLS handshake");
    do_read_request();
  }

  void do_read_request() {
    phase_ = phase::reading;
    parser_.emplace();
    parser_->body_limit(max_message_size);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read_request,
                                               this->shared_from_this()));
  }

  void on_read_request(error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "read request");
    auto req = parser_->release();
    auto next = req.keep_alive() ? next_step::read_next : next_step::shut_down;
    std::string target{req.target()};
    auto query_pos = target.find('?');
    auto path = target.substr(0, query_pos);
    auto query =
        query_pos == std::string::npos ? "" : target.substr(query_pos + 1);
    if (path.rfind("/ws/", 0) == 0)
      return on_handshake(req, ws_endpoint::rtm, path.substr(4), query, next);
    if (path == "/link" || path == "/link/")
      return on_handshake(req, ws_endpoint::socket_mode, "", query, next);
    auto api = path.rfind("/api/", 0) == 0;
    auto hook = path.rfind("/hooks/", 0) == 0;
    if (api || hook || path.rfind("/upload/", 0) == 0) {
      recorded_request rr;
      rr.method = api ? path.substr(5) : hook ? webhook_method : upload_method;
      rr.http_method = std::string{req.method_string()};
      rr.target = std::move(target);
      for (auto& field : req) {
        auto name = lower(field.name_string());
        auto [i, added] = rr.headers.emplace(name, std::string{field.value()});
        if (!added)
          i->second.append(", ").append(field.value());
      }
      rr.body = std::move(req.body());
      rr.received_at = clock_type::now();
      rr.tls = is_tls_stream<Stream>;
      rr.connection = slot_.id();
      return respond(state().handle_api(std::move(rr)), next);
    }
    respond(http_response::text(404, "not found"), next);
  }

  static std::string lower(beast::string_view str) {
    std::string result{str};
    for (auto& c : result)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return result;
  }

  static bool contains_nocase(beast::string_view haystack,
                              beast::string_view needle) {
    return lower(haystack).find(lower(needle)) != std::string::npos;
  }

  static bool is_websocket_upgrade(const request& req) {
    return req.method() == http::verb::get &&
           contains_nocase(req[http::field::upgrade], "websocket") &&
           !req[http::field::sec_websocket_key].empty();
  }

  // -- answers ----------------------------------------------------------------

  void respond(http_response res, next_step next) {
    if (res.delay.count() > 0) {
      phase_ = phase::delaying;
      delayed_ = std::move(res);
      delayed_next_ = next;
      timer_.expires_after(delayed_.delay);
      timer_.async_wait(beast::bind_front_handler(&http_session::on_delay,
                                                  this->shared_from_this()));
      return;
    }
    send_response(std::move(res), next);
  }

  void on_delay(error_code ec) {
    if (ec)
      return fail(ec, "response delay");
    send_response(std::move(delayed_), delayed_next_);
  }

  void send_response(http_response res, next_step next) {
    if (res.drop_connection)
      return hard_close();
    phase_ = phase::responding;
    if (!res.raw.empty()) {
      // Odd HTTP as scripted, byte for byte; the connection ends after it.
      raw_ = std::move(res.raw);
      asio::async_write(stream_, asio::buffer(raw_),
                        beast::bind_front_handler(&http_session::on_response,
                                                  this->shared_from_this(),
                                                  next_step::shut_down));
      return;
    }
    res_ = {};
    res_.version(11);
    if (res.status >= 100 && res.status <= 999)
      res_.result(res.status);
    else
      res_.result(http::status::internal_server_error);
    if (!res.content_type.empty())
      res_.set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) {
      if (lower(name) == "content-type")
        res_.set(http::field::content_type, value);
      else
        res_.insert(name, value);
    }
    res_.body() = std::move(res.body);
    res_.keep_alive(next == next_step::read_next);
    // The header says the connection stays open; then the server closes it.
    if (res.close_after)
      next = next_step::close;
    res_.prepare_payload();
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&http_session::on_response,
                                                this->shared_from_this(),
                                                next));
  }

  void on_response(next_step next, error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "write response");
    switch (next) {
    case next_step::read_next:
      return do_read_request();
    case next_step::shut_down:
      return shut_down();
    case next_step::close:
      return hard_close();
    }
  }

  // -- WebSocket handshake ----------------------------------------------------

  void on_handshake(const request& req, ws_endpoint endpoint,
                    const std::string& ticket, const std::string& query,
                    next_step next) {
    if (!is_websocket_upgrade(req))
      return respond(http_response::text(400, "expected a WebSocket upgrade"),
                     next);
    plan_ = state().plan_handshake(endpoint, ticket, query);
    if (!plan_.raw.empty()) {
      http_response odd;
      odd.raw = std::move(plan_.raw);
      return respond(std::move(odd), next_step::shut_down);
    }
    if (plan_.status != 101) {
      // A refused handshake ends the connection: the client retries with a
      // new ticket on a new one.
      auto body =
          plan_.status == 401 ? "invalid or used ticket" : "handshake refused";
      auto refusal = http_response::text(plan_.status, body);
      if (!plan_.retry_after.empty())
        refusal.headers.emplace_back("Retry-After", plan_.retry_after);
      return respond(std::move(refusal), next_step::shut_down);
    }
    phase_ = phase::upgrading;
    upgrade_.emplace(http::status::switching_protocols, 11);
    upgrade_->set(http::field::upgrade, "websocket");
    upgrade_->set(http::field::connection, "Upgrade");
    upgrade_->set(http::field::sec_websocket_accept,
                  websocket_accept(req[http::field::sec_websocket_key]));
    http::async_write(stream_, *upgrade_,
                      beast::bind_front_handler(&http_session::on_upgrade,
                                                this->shared_from_this()));
  }

  void on_upgrade(error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "write upgrade");
    phase_ = phase::upgraded;
    // Frames the client sent right behind its upgrade request.
    auto data = buffer_.data();
    std::string pending{static_cast<const char*>(data.data()), data.size()};
    auto peer =
        std::make_shared<ws_peer<Stream>>(std::move(slot_), std::move(stream_));
    peer->start(plan_, std::move(pending));
  }

  // -- state ------------------------------------------------------------------

  connection_slot slot_;
  Stream stream_;
  /// Times scripted delays, then the graceful shutdown (never both).
  asio::steady_timer timer_;
  phase phase_ = phase::reading;

  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  /// A raw answer while it is written.
  std::string raw_;
  http_response delayed_;
  next_step delayed_next_ = next_step::read_next;
  std::optional<http::response<http::empty_body>> upgrade_;
  handshake_plan plan_;
};

} // namespace caf::rtm::testing::detail
