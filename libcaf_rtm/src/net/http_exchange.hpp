// The HTTP exchange as a template over the stream type; included only by
// plain_streams.cpp and tls_streams.cpp.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "caf/rtm/errc.hpp"
#include "net/connection_cache.hpp"
#include "net/http_client.hpp"
#include "net/transport.hpp"

namespace caf::rtm::net {

/// Unparsed bytes an answer may hold at once (its header, a chunk's
/// framing); more fails the call as malformed instead of growing memory.
/// Also what a WebSocket upgrade's whole answer may take.
constexpr size_t max_unparsed_bytes = size_t{1} << 20;

/// Interim answers (1xx) taken before the real one.
constexpr size_t max_interim_answers = 8;

template <class Stream>
class http_exchange
    : public http_call,
      public std::enable_shared_from_this<http_exchange<Stream>> {
public:
  using error_code = boost::system::error_code;
  // The body is a view of `data_.body`, which the exchange holds.
  using request_body = boost::beast::http::span_body<const char>;
  using request_type = boost::beast::http::request<request_body>;
  using parser_type =
      boost::beast::http::response_parser<boost::beast::http::string_body>;
  using serializer_type = boost::beast::http::request_serializer<request_body>;

  http_exchange(const net_context& ctx, http_request_data req,
                handler_type handler)
      : ex_(req.cache ? req.cache->executor()
                      : ctx.pool->context().get_executor()),
        ctx_(ctx), data_(std::move(req)), handler_(std::move(handler)),
        deadline_(std::chrono::steady_clock::now() + data_.timeout),
        timer_(ex_) {
    // The exchange must not keep the pool alive (see io_pool.hpp).
    ctx_.pool.reset();
    if (data_.cache)
      cache_key_ = connection_cache::key_of(data_.url);
    prepare_request();
  }

  // An exchange that ends without an answer (a handler threw and the I/O
  // thread dropped it, with the chain of operations that would have
  // completed it) still answers its call once, when its last operation
  // lets go of it: by the deadline at the latest (the timer holds it).
  ~http_exchange() override {
    if (done_ || !handler_)
      return;
    http_response_data result;
    result.sent = sent_;
    if (cancelled_)
      result.error = make_error(errc::closed, "request cancelled");
    else if (timed_out_)
      result.error = make_error(errc::timeout, "request timed out");
    else
      result.error = make_error(errc::connect_failed,
                                "the exchange ended without an answer");
    try {
      handler_(std::move(result));
    } catch (...) {
      // nothing left to tell it with
    }
  }

  /// Starts the exchange on its executor.
  void start() {
    boost::asio::post(ex_, [self = this->shared_from_this()] { self->run(); });
  }

private:
  // What a request on a connection that the server closed while it sat idle
  // fails with (the close was on its way when the connection was taken).
  static bool closed_by_peer(const boost::system::error_code& ec) {
    namespace asio = boost::asio;
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe ||
           ec == boost::beast::http::error::end_of_stream ||
           ec == boost::beast::http::error::partial_message ||
           ec == asio::ssl::error::stream_truncated;
  }

  void run() {
    if (data_.cache) {
      auto idle = data_.cache->take(cache_key_);
      if (!empty(idle)) {
        reused_ = true;
        return on_open(caf::error{}, std::move(idle));
      }
    }
    open_fresh();
  }

  void open_fresh() {
    // The connect phase is bounded by connect_timeout, but never beyond the
    // deadline of the whole request.
    auto remaining = std::chrono::duration_cast<caf::timespan>(
        deadline_ - std::chrono::steady_clock::now());
    if (remaining < ctx_.connect_timeout)
      ctx_.connect_timeout = remaining;
    opening_ = transport_open::start(
        ex_, ctx_, data_.url,
        [self = this->shared_from_this()](caf::error err, opened_stream s) {
          self->on_open(std::move(err), std::move(s));
        });
  }

public:
  void cancel() override {
    boost::asio::post(ex_, [self = this->shared_from_this()] {
      if (self->done_)
        return;
      self->cancelled_ = true;
      // The pending operation fails and reports; with none pending, the
      // timer no longer holds the exchange until its deadline.
      self->timer_.cancel();
      if (self->stream_)
        close_socket(boost::beast::get_lowest_layer(*self->stream_));
      else if (self->opening_)
        self->opening_->cancel(make_error(errc::closed, "request cancelled"));
    });
  }

private:
  void on_open(caf::error err, opened_stream s) {
    opening_.reset();
    if (err)
      return finish(std::move(err));
    stream_ = take_stream<Stream>(s);
    if (cancelled_)
      return finish(make_error(errc::closed, "request cancelled"));
    arm_timer();
    if (data_.body_progress)
      return write_header();
    http::async_write(*stream_, req_,
                      boost::beast::bind_front_handler(
                          &http_exchange::on_write, this->shared_from_this()));
  }

  // The request must be answered by its deadline. The timer closes the
  // socket: the pending operation fails, and `fail` reports the timeout. (A
  // timer of our own rather than the TCP stream's: the TLS stream waits on
  // the socket, which the stream's timeouts do not cover.)
  void arm_timer() {
    if (timer_armed_)
      return;
    timer_armed_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->done_)
        return;
      self->timed_out_ = true;
      if (self->stream_)
        close_socket(boost::beast::get_lowest_layer(*self->stream_));
      else if (self->opening_) // a retry on a new connection
        self->opening_->cancel(make_error(errc::timeout, "request timed out"));
    });
  }

  // With a progress report: the header first, then the body slice by slice
  // (the serializer's limit caps each write), so that each slice written can
  // be reported. Completion goes to on_write as with a single write.
  void write_header() {
    // Every attempt reports from the start (a retry, or a kept-alive
    // connection the server had closed).
    body_written_ = 0;
    data_.body_progress(0);
    serializer_.emplace(req_);
    serializer_->limit(progress_slice);
    http::async_write_header(
        *stream_, *serializer_,
        boost::beast::bind_front_handler(&http_exchange::on_body_slice,
                                         this->shared_from_this(), false));
  }

  void on_body_slice(bool is_body, error_code ec, size_t n) {
    if (ec)
      return on_write(ec, 0);
    if (is_body) {
      body_written_ += n;
      data_.body_progress(body_written_);
    }
    if (serializer_->is_done())
      return on_write(ec, 0);
    http::async_write_some(
        *stream_, *serializer_,
        boost::beast::bind_front_handler(&http_exchange::on_body_slice,
                                         this->shared_from_this(), true));
  }

  void prepare_request() {
    req_.method(http::verb::post);
    req_.target(data_.url.target);
    req_.version(11);
    req_.set(http::field::host, data_.url.host_header());
    req_.set(http::field::user_agent, ctx_.user_agent);
    req_.set(http::field::content_type, data_.content_type);
    req_.set(http::field::accept, "application/json");
    if (!data_.authorization.empty())
      req_.set(http::field::authorization, data_.authorization);
    // Checked by client_config::validate: names are tokens and none of the
    // fields set here, values hold no CR, LF or other control characters.
    for (const auto& [name, value] : ctx_.extra_headers)
      req_.insert(name, value);
    req_.keep_alive(data_.cache != nullptr && data_.keep_connection);
    if (data_.body)
      req_.body() =
          request_body::value_type{data_.body->data(), data_.body->size()};
    req_.prepare_payload();
  }

  // A reused connection that the server closed in the meantime fails before
  // a single byte of an answer: the request goes out once more on a new
  // connection, without counting as a failed attempt. If the whole request
  // went out, the server may have read it: only when repeating is harmless.
  bool retry_on_new_connection(error_code ec) {
    if (!reused_ || cancelled_ || timed_out_ || !closed_by_peer(ec) ||
        (parser_ && parser_->got_some()) || buffer_.size() > 0 ||
        (sent_ && !data_.replay_safe))
      return false;
    sent_ = false;
    CAF_RTM_LOG(ctx_.log, debug, "net", "kept-alive connection closed by the ",
                "server (", ec.message(), "); sending on a new one");
    reused_ = false;
    close_socket(boost::beast::get_lowest_layer(*stream_));
    stream_.reset();
    parser_.reset();
    open_fresh();
    return true;
  }

  void on_write(error_code ec, size_t) {
    if (ec) {
      if (retry_on_new_connection(ec))
        return;
      return fail(ec, "write request");
    }
    sent_ = true;
    read_response();
  }

  void read_response() {
    parser_.emplace();
    parser_->body_limit(data_.body_limit);
    http::async_read(*stream_, buffer_, *parser_,
                     boost::beast::bind_front_handler(
                         &http_exchange::on_read, this->shared_from_this()));
  }

  void on_read(error_code ec, size_t) {
    if (ec == http::error::body_limit)
      return finish(make_error(
          errc::response_too_large,
          "response body over " + std::to_string(data_.body_limit) + " bytes"));
    // A chunk-size line or trailer without end: Beast checks no limit of
    // its own there, the buffer's caps it.
    if (ec == http::error::buffer_overflow)
      return finish(make_error(errc::malformed_response,
                               "response framing over " +
                                   std::to_string(max_unparsed_bytes) +
                                   " bytes without an end"));
    if (ec) {
      if (retry_on_new_connection(ec))
        return;
      return fail(ec, "read response");
    }
    auto& res = parser_->get();
    if (res.result_int() / 100 == 1) {
      // An interim answer (100 Continue, 103 Early Hints): the answer
      // follows on this connection. A server that sends nothing else ends
      // at the cap or at the request's deadline.
      if (++interim_answers_ > max_interim_answers)
        return finish(make_error(errc::malformed_response,
                                 "more than " +
                                     std::to_string(max_interim_answers) +
                                     " interim answers (1xx)"));
      return read_response();
    }
    http_response_data result;
    result.sent = true;
    result.status = res.result_int();
    if (auto it = res.find(http::field::retry_after); it != res.end())
      result.retry_after = std::string{it->value()};
    // Not kept: a body that ended with the connection, or bytes beyond the
    // answer (nothing may follow an answer the client did not ask for).
    auto keep = data_.cache && data_.keep_connection && parser_->keep_alive() &&
                buffer_.size() == 0 && !has_buffered_input(*stream_) &&
                !cancelled_;
    result.body = std::move(res.body());
    if (keep)
      data_.cache->put(cache_key_, opened_stream{std::move(stream_)});
    else // at once, no TLS close_notify wait
      close_socket(boost::beast::get_lowest_layer(*stream_));
    complete(std::move(result));
  }

  void fail(error_code ec, const char* step) {
    if (cancelled_)
      return finish(make_error(errc::closed, "request cancelled"));
    if (timed_out_)
      return finish(to_error(boost::beast::error::timeout, step));
    if (broken_framing(ec))
      return finish(make_error(errc::malformed_response,
                               std::string{step} + ": " + ec.message()));
    finish(to_error(ec, step));
  }

  // An answer that is no HTTP (a bad status line, field or Content-Length,
  // a broken chunk): the server's fault, not the connection's. Only an
  // answer cut short is the connection's.
  static bool broken_framing(const error_code& ec) {
    namespace http = boost::beast::http;
    return ec.category() ==
               make_error_code(http::error::bad_value).category() &&
           ec != http::error::end_of_stream &&
           ec != http::error::partial_message && ec != http::error::short_read;
  }

  void finish(caf::error err) {
    if (stream_)
      close_socket(boost::beast::get_lowest_layer(*stream_));
    http_response_data result;
    result.error = std::move(err);
    result.sent = sent_;
    complete(std::move(result));
  }

  void complete(http_response_data result) {
    if (done_)
      return;
    done_ = true;
    timer_.cancel();
    auto handler = std::move(handler_);
    handler(std::move(result));
  }

  executor_type ex_;
  net_context ctx_;
  http_request_data data_;
  handler_type handler_;
  std::chrono::steady_clock::time_point deadline_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool timed_out_ = false;
  std::shared_ptr<transport_open> opening_;
  std::unique_ptr<Stream> stream_;
  /// Bytes read and not parsed yet: a header, the framing of a chunk (the
  /// body itself goes to the parser as it comes).
  boost::beast::flat_buffer buffer_{max_unparsed_bytes};
  /// Interim answers (1xx) read so far.
  size_t interim_answers_ = 0;
  request_type req_;
  std::optional<parser_type> parser_;
  /// Writes the request in slices (only with `body_progress`).
  std::optional<serializer_type> serializer_;
  uint64_t body_written_ = 0;
  std::string cache_key_;
  /// The stream came from the cache.
  bool reused_ = false;
  /// The whole request was written.
  bool sent_ = false;
  bool cancelled_ = false;
  bool done_ = false;
};

template <class Stream>
http_call_ptr start_http_exchange(const net_context& ctx, http_request_data req,
                                  http_call::handler_type handler) {
  auto call = std::make_shared<http_exchange<Stream>>(ctx, std::move(req),
                                                      std::move(handler));
  call->start();
  return call;
}

} // namespace caf::rtm::net
