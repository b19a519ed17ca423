// One accepted connection of the fake Slack, over a plain or a TLS stream:
// HTTP requests with Beast until a WebSocket upgrade, then raw frames read and
// written by the fake itself. Instantiated once per stream type, each in its
// own translation unit (connection_plain.cpp, connection_tls.cpp).

#pragma once

#include "server_state.hpp"
#include "wire.hpp"

#include <boost/asio/dispatch.hpp>            // net::dispatch
#include <boost/asio/ip/tcp.hpp>              // tcp::socket
#include <boost/asio/post.hpp>                // net::post
#include <boost/asio/ssl/stream.hpp>          // ssl::stream
#include <boost/asio/steady_timer.hpp>        // net::steady_timer
#include <boost/asio/write.hpp>               // net::async_write
#include <boost/beast/core/bind_handler.hpp>  // beast::bind_front_handler
#include <boost/beast/core/flat_buffer.hpp>   // beast::flat_buffer
#include <boost/beast/core/stream_traits.hpp> // beast::get_lowest_layer
#include <boost/beast/http/empty_body.hpp>    // http::empty_body
#include <boost/beast/http/read.hpp>          // http::async_read
#include <boost/beast/http/string_body.hpp>   // http::string_body
#include <boost/beast/http/write.hpp>         // http::async_write

#include <algorithm>
#include <cctype>
#include <deque>
#include <optional>
#include <type_traits>

namespace caf::rtm::testing::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

/// Bytes per flood write: large enough that a client cannot keep up, small
/// enough that pongs queued behind a chunk still go out quickly.
constexpr std::size_t flood_chunk_size = 64 * 1024;

/// Largest HTTP request body and WebSocket message the fake accepts.
constexpr std::size_t max_message_size = std::size_t{16} << 20;

template <class Stream>
class connection : public session_control,
                   public std::enable_shared_from_this<connection<Stream>> {
public:
  static constexpr bool is_tls = !std::is_same_v<Stream, tcp::socket>;

  template <class... Args>
  explicit connection(std::shared_ptr<server_state> state, Args&&... args)
      : state_(std::move(state)), id_(state_->connection_opened()),
        stream_(std::forward<Args>(args)...),
        delay_timer_(stream_.get_executor()),
        close_timer_(stream_.get_executor()), rbuf_(64 * 1024),
        frames_(max_message_size) {
    // nop
  }

  ~connection() override {
    if (rec_)
      rec_->mark_ended();
    state_->connection_closed();
  }

  /// Starts serving; called right after accepting.
  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&connection::on_start,
                                            this->shared_from_this()));
  }

  // -- session_control (any thread) ------------------------------------------

  void post_data(std::string bytes) override {
    post([bytes = std::move(bytes)](connection& self) mutable {
      self.queue_data(std::move(bytes), 0);
    });
  }

  void post_flood(std::size_t n, frame_maker make) override {
    post([n, make = std::move(make)](connection& self) mutable {
      if (!self.may_send())
        return;
      auto job = std::make_shared<flood_job>();
      job->n = n;
      job->make = std::move(make);
      self.data_q_.emplace_back(std::move(job));
    });
  }

  void post_pace(std::size_t n, double per_second, frame_maker make) override {
    post([n, per_second, make = std::move(make)](connection& self) mutable {
      self.start_pace(n, per_second, std::move(make));
    });
  }

  void post_close(uint16_t code, std::string reason) override {
    post([code, reason = std::move(reason)](connection& self) {
      self.start_close(code, reason);
    });
  }

  void post_drop() override {
    post([](connection& self) { self.hard_close(); });
  }

  void post_silent() override {
    post([](connection& self) {
      // Queued frames are dropped too: a silent peer writes nothing at all.
      self.silent_ = true;
      self.control_q_.clear();
      self.data_q_.clear();
      self.stop_timers();
    });
  }

private:
  // -- write queue items -----------------------------------------------------

  /// What happens once an item's bytes are written.
  enum class after_write {
    none,
    /// Our close frame is out: wait (up to 2 s) for the client's.
    wait_for_close,
    /// The close handshake is complete (or broken): shut down now.
    shutdown,
  };

  struct flood_job {
    std::size_t n = 0;
    std::size_t next = 0;
    frame_maker make;
  };

  struct pace_job {
    pace_job(const net::any_io_executor& ex) : timer(ex) {
      // nop
    }
    std::size_t n = 0;
    std::size_t next = 0;
    clock_type::duration period{};
    clock_type::time_point start;
    frame_maker make;
    net::steady_timer timer;
  };

  struct out_item {
    out_item(std::string bytes, std::size_t frames = 0,
             after_write after = after_write::none)
        : bytes(std::move(bytes)), frames(frames), after(after) {
      // nop
    }

    explicit out_item(std::shared_ptr<flood_job> job) : flood(std::move(job)) {
      // nop
    }

    std::string bytes;
    /// Flood/pace frames in `bytes` (counted once written).
    std::size_t frames = 0;
    /// Set for a flood: `bytes` is encoded chunk by chunk right before
    /// each write.
    std::shared_ptr<flood_job> flood;
    after_write after = after_write::none;
  };

  template <class F>
  void post(F f) {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), f = std::move(f)]() mutable {
                f(*self);
                self->do_write();
              });
  }

  tcp::socket& socket() {
    return beast::get_lowest_layer(stream_);
  }

  // -- errors and endings ----------------------------------------------------

  void fail(error_code ec, const char* what) {
    if (!closed_)
      trace(what, ec.message());
    hard_close();
  }

  /// Closes TCP at once: no close frame, no TLS close_notify.
  void hard_close() {
    if (closed_)
      return;
    closed_ = true;
    error_code ec;
    socket().close(ec);
    stop_timers();
    delay_timer_.cancel();
    close_timer_.cancel();
    control_q_.clear();
    data_q_.clear();
    if (rec_)
      rec_->mark_ended();
  }

  void stop_timers() {
    for (auto& job : pace_jobs_)
      job->timer.cancel();
    pace_jobs_.clear();
    for (auto& timer : ack_timers_)
      timer->cancel();
    ack_timers_.clear();
  }

  /// Ends the connection politely: TLS close_notify, or a TCP FIN after
  /// which we drain what the client still sends, so that closing never
  /// resets a connection whose last frames the client has not read yet.
  void graceful_shutdown() {
    if (closed_ || shutting_down_)
      return;
    shutting_down_ = true;
    close_timer_.expires_after(std::chrono::seconds(1));
    close_timer_.async_wait(beast::bind_front_handler(
        &connection::on_shutdown_timeout, this->shared_from_this()));
    if constexpr (is_tls) {
      stream_.async_shutdown(beast::bind_front_handler(
          &connection::on_shutdown, this->shared_from_this()));
    } else {
      error_code ec;
      socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec)
        return fail(ec, "shutdown");
      do_drain();
    }
  }

  void on_shutdown(error_code) {
    // Whatever the outcome (peer gone, no close_notify), we are done.
    hard_close();
  }

  void on_shutdown_timeout(error_code ec) {
    if (ec)
      return; // cancelled: the connection ended otherwise
    hard_close();
  }

  void do_drain() {
    socket().async_read_some(net::buffer(rbuf_), beast::bind_front_handler(
                                                     &connection::on_drain,
                                                     this->shared_from_this()));
  }

  void on_drain(error_code ec, std::size_t) {
    if (ec)
      return hard_close(); // EOF expected
    do_drain();
  }

  // -- HTTP ------------------------------------------------------------------

  void on_start() {
    if constexpr (is_tls) {
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&connection::on_tls_handshake,
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
    parser_.emplace();
    parser_->body_limit(max_message_size);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&connection::on_read_request,
                                               this->shared_from_this()));
  }

  void on_read_request(error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "read request");
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    std::string target{req.target()};
    auto path = target.substr(0, target.find('?'));
    if (path.rfind("/ws/", 0) == 0) {
      if (is_websocket_upgrade(req))
        return start_websocket(req, path.substr(4));
      return respond(plain_response(400, "expected a WebSocket upgrade"));
    }
    if (path.rfind("/api/", 0) == 0) {
      recorded_request rr;
      rr.method = path.substr(5);
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
      rr.tls = is_tls;
      rr.connection = id_;
      return respond(state_->handle_api(std::move(rr)));
    }
    respond(plain_response(404, "not found"));
  }

  static http_response plain_response(unsigned status, std::string body) {
    http_response result;
    result.status = status;
    result.content_type = "text/plain";
    result.body = std::move(body);
    return result;
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

  static bool
  is_websocket_upgrade(const http::request<http::string_body>& req) {
    return req.method() == http::verb::get &&
           contains_nocase(req[http::field::upgrade], "websocket") &&
           !req[http::field::sec_websocket_key].empty();
  }

  void respond(http_response res) {
    if (res.delay.count() > 0) {
      delayed_ = std::move(res);
      delay_timer_.expires_after(delayed_.delay);
      delay_timer_.async_wait(beast::bind_front_handler(
          &connection::on_delay, this->shared_from_this()));
      return;
    }
    send_response(std::move(res));
  }

  void on_delay(error_code ec) {
    if (ec)
      return fail(ec, "response delay");
    send_response(std::move(delayed_));
  }

  void send_response(http_response res) {
    if (res.drop_connection)
      return hard_close();
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
    res_.keep_alive(keep_alive_);
    close_after_ = res.close_after;
    res_.prepare_payload();
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&connection::on_write_response,
                                                this->shared_from_this()));
  }

  void on_write_response(error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "write response");
    if (close_after_)
      return hard_close();
    if (!keep_alive_)
      return graceful_shutdown();
    do_read_request();
  }

  // -- WebSocket handshake ---------------------------------------------------

  void start_websocket(const http::request<http::string_body>& req,
                       std::string ticket) {
    ticket_valid_ = state_->redeem_ticket(ticket);
    upgrade_.emplace(http::status::switching_protocols, 11);
    upgrade_->set(http::field::upgrade, "websocket");
    upgrade_->set(http::field::connection, "Upgrade");
    upgrade_->set(http::field::sec_websocket_accept,
                  websocket_accept(req[http::field::sec_websocket_key]));
    http::async_write(stream_, *upgrade_,
                      beast::bind_front_handler(&connection::on_upgrade_written,
                                                this->shared_from_this()));
  }

  void on_upgrade_written(error_code ec, std::size_t) {
    if (ec)
      return fail(ec, "write upgrade");
    upgrade_.reset();
    rec_ = state_->open_session(this->weak_from_this());
    ws_ready_ = true;
    reading_ = true;
    if (ticket_valid_) {
      if (state_->opts.send_hello)
        queue_data(text_frame(R"({"type":"hello"})"), 0);
    } else {
      queue_data(
          text_frame(
              R"({"type":"error","error":{"code":1,"msg":"Socket URL has expired"}})"),
          0);
      start_close(1000, "");
    }
    // Frames the client sent right behind its upgrade request.
    auto pending = buffer_.data();
    frames_.feed(static_cast<const char*>(pending.data()), pending.size());
    buffer_.consume(pending.size());
    process_frames();
    do_write();
    do_ws_read();
  }

  static std::string text_frame(const std::string& text) {
    std::string out;
    append_frame(out, op_text, text);
    return out;
  }

  // -- WebSocket reading -----------------------------------------------------

  void do_ws_read() {
    if (closed_ || !reading_)
      return;
    stream_.async_read_some(net::buffer(rbuf_), beast::bind_front_handler(
                                                    &connection::on_ws_read,
                                                    this->shared_from_this()));
  }

  void on_ws_read(error_code ec, std::size_t n) {
    if (ec)
      return fail(ec, "read frame");
    frames_.feed(rbuf_.data(), n);
    process_frames();
    do_write();
    do_ws_read();
  }

  void process_frames() {
    client_event ev;
    while (!closed_ && reading_) {
      switch (frames_.next(ev)) {
      case frame_reader::status::need_more:
        return;
      case frame_reader::status::violation:
        trace("protocol violation", frames_.error());
        return protocol_error();
      case frame_reader::status::event:
        on_event(ev);
        break;
      }
    }
  }

  void on_event(client_event& ev) {
    switch (ev.opcode) {
    case op_text:
      on_text(ev.payload);
      break;
    case op_ping:
      rec_->add_ping();
      if (!silent_ && !close_queued_) {
        std::string pong;
        append_frame(pong, op_pong, ev.payload);
        control_q_.push_back(out_item{std::move(pong)});
      }
      break;
    case op_pong:
      rec_->add_pong(std::move(ev.payload));
      break;
    case op_close:
      on_client_close(ev.payload);
      break;
    default: // binary frames need no answer
      break;
    }
  }

  void on_text(std::string& text) {
    rtm_replies replies;
    if (may_send())
      replies = state_->on_client_text(*rec_, text);
    // Recorded after the bookkeeping for manual acks: a test that waits for
    // the message and then acks it finds the message's text.
    rec_->add_text(std::move(text));
    for (auto& reply : replies.now)
      queue_data(text_frame(reply), 0);
    if (replies.later.empty())
      return;
    auto delay = state_->opts.ack_delay;
    if (delay.count() <= 0) {
      for (auto& reply : replies.later)
        queue_data(text_frame(reply), 0);
      return;
    }
    auto timer =
        std::make_shared<net::steady_timer>(stream_.get_executor(), delay);
    ack_timers_.push_back(timer);
    timer->async_wait(beast::bind_front_handler(&connection::on_ack_timer,
                                                this->shared_from_this(), timer,
                                                std::move(replies.later)));
  }

  void on_ack_timer(std::shared_ptr<net::steady_timer> timer,
                    std::vector<std::string> replies, error_code ec) {
    auto i = std::find(ack_timers_.begin(), ack_timers_.end(), timer);
    if (i != ack_timers_.end())
      ack_timers_.erase(i);
    if (ec)
      return; // cancelled: the session went silent or ended
    for (auto& reply : replies)
      queue_data(text_frame(reply), 0);
    do_write();
  }

  void on_client_close(const std::string& payload) {
    uint16_t code = 1005; // "no status code", RFC 6455 section 7.4.1
    if (payload.size() >= 2)
      code =
          static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                static_cast<unsigned char>(payload[1]));
    rec_->set_close_code(code);
    close_received_ = true;
    if (silent_)
      return; // keep reading until the client gives up and closes TCP
    reading_ = false;
    if (close_sent_)
      return graceful_shutdown();
    if (close_queued_)
      return; // our own close frame is on its way
    close_queued_ = true;
    data_q_.clear();
    stop_timers();
    std::string frame;
    append_frame(frame, op_close, payload.substr(0, 2));
    control_q_.push_back(out_item{std::move(frame), 0, after_write::shutdown});
  }

  void protocol_error() {
    reading_ = false;
    if (silent_ || close_queued_)
      return hard_close();
    close_queued_ = true;
    data_q_.clear();
    stop_timers();
    std::string frame;
    append_frame(frame, op_close, close_payload(1002, "protocol error"));
    control_q_.push_back(out_item{std::move(frame), 0, after_write::shutdown});
  }

  // -- WebSocket writing -----------------------------------------------------

  bool may_send() const {
    return ws_ready_ && !closed_ && !silent_ && !close_queued_;
  }

  void queue_data(std::string bytes, std::size_t frames) {
    if (!may_send())
      return;
    data_q_.push_back(out_item{std::move(bytes), frames});
  }

  void start_close(uint16_t code, const std::string& reason) {
    // Unlike other frames, an explicit close goes out even when silent.
    if (!ws_ready_ || closed_ || close_queued_)
      return;
    close_queued_ = true;
    stop_timers();
    if (silent_)
      data_q_.clear();
    std::string frame;
    append_frame(frame, op_close, close_payload(code, reason));
    // Behind the data queued so far, so that a test's last sends arrive.
    data_q_.push_back(
        out_item{std::move(frame), 0, after_write::wait_for_close});
  }

  void start_pace(std::size_t n, double per_second, frame_maker make) {
    if (!may_send())
      return;
    if (!(per_second > 0) || per_second > 1e9) {
      // No usable rate: as fast as possible.
      auto job = std::make_shared<flood_job>();
      job->n = n;
      job->make = std::move(make);
      data_q_.emplace_back(std::move(job));
      return;
    }
    auto job = std::make_shared<pace_job>(stream_.get_executor());
    job->n = n;
    job->period = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(1.0 / per_second));
    job->start = clock_type::now();
    job->make = std::move(make);
    pace_jobs_.push_back(job);
    schedule_pace(job);
  }

  void schedule_pace(const std::shared_ptr<pace_job>& job) {
    // Absolute deadlines: a late frame does not shift the ones after it.
    job->timer.expires_at(job->start +
                          job->period * static_cast<int64_t>(job->next));
    job->timer.async_wait(beast::bind_front_handler(
        &connection::on_pace, this->shared_from_this(), job));
  }

  void on_pace(std::shared_ptr<pace_job> job, error_code ec) {
    if (ec)
      return; // cancelled
    if (!may_send())
      return;
    std::string frame;
    if (!encode_made(frame, job->make, job->next)) {
      job->next = job->n;
    } else {
      ++job->next;
      queue_data(std::move(frame), 1);
      do_write();
    }
    if (job->next < job->n) {
      schedule_pace(job);
    } else {
      auto i = std::find(pace_jobs_.begin(), pace_jobs_.end(), job);
      if (i != pace_jobs_.end())
        pace_jobs_.erase(i);
    }
  }

  /// Appends frame `i` made by `make`; false if `make` threw (the test's
  /// generator is broken; the job stops instead of taking the server down).
  static bool encode_made(std::string& out, frame_maker& make, std::size_t i) {
    try {
      auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     clock_type::now().time_since_epoch())
                     .count();
      append_frame(out, op_text, make(i, static_cast<int64_t>(now)));
      return true;
    } catch (...) {
      trace("frame generator", "threw an exception");
      return false;
    }
  }

  void do_write() {
    if (writing_ || closed_ || !ws_ready_)
      return;
    auto* q = !control_q_.empty() ? &control_q_
              : !data_q_.empty()  ? &data_q_
                                  : nullptr;
    if (q == nullptr)
      return;
    auto& item = q->front();
    if (item.flood) {
      auto& job = *item.flood;
      wbuf_.clear();
      wframes_ = 0;
      while (job.next < job.n && wbuf_.size() < flood_chunk_size) {
        if (!encode_made(wbuf_, job.make, job.next)) {
          job.next = job.n;
          break;
        }
        ++job.next;
        ++wframes_;
      }
      wafter_ = after_write::none;
      if (job.next >= job.n)
        q->pop_front();
    } else {
      wbuf_ = std::move(item.bytes);
      wframes_ = item.frames;
      wafter_ = item.after;
      q->pop_front();
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(wbuf_),
                     beast::bind_front_handler(&connection::on_write,
                                               this->shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    writing_ = false;
    if (ec)
      return fail(ec, "write frames");
    if (wframes_ > 0)
      rec_->add_written(wframes_);
    switch (wafter_) {
    case after_write::none:
      break;
    case after_write::wait_for_close:
      close_sent_ = true;
      if (close_received_ && !silent_)
        return graceful_shutdown();
      close_timer_.expires_after(std::chrono::seconds(2));
      close_timer_.async_wait(beast::bind_front_handler(
          &connection::on_close_timeout, this->shared_from_this()));
      return;
    case after_write::shutdown:
      close_sent_ = true;
      return graceful_shutdown();
    }
    do_write();
  }

  void on_close_timeout(error_code ec) {
    if (ec)
      return; // cancelled: the client's close frame came in time
    hard_close();
  }

  // -- state -----------------------------------------------------------------

  std::shared_ptr<server_state> state_;
  const uint64_t id_;
  Stream stream_;
  net::steady_timer delay_timer_;
  net::steady_timer close_timer_;

  // HTTP
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::optional<http::response<http::empty_body>> upgrade_;
  http_response delayed_;
  bool keep_alive_ = false;
  bool close_after_ = false;

  // WebSocket
  std::shared_ptr<session_record> rec_;
  bool ticket_valid_ = false;
  std::vector<char> rbuf_;
  frame_reader frames_;
  std::deque<out_item> control_q_;
  std::deque<out_item> data_q_;
  std::string wbuf_;
  std::size_t wframes_ = 0;
  after_write wafter_ = after_write::none;
  std::vector<std::shared_ptr<pace_job>> pace_jobs_;
  std::vector<std::shared_ptr<net::steady_timer>> ack_timers_;

  bool ws_ready_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool silent_ = false;
  bool close_queued_ = false;
  bool close_sent_ = false;
  bool close_received_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

} // namespace caf::rtm::testing::detail
