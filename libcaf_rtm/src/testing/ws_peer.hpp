// The WebSocket half of a fake Slack connection, RTM or Socket Mode, over a
// plain or a TLS stream taken over from an http_session after the upgrade.
// Frames are read and written by the fake itself (wire.hpp), so that tests
// can send what a WebSocket library refuses to produce. Instantiated once per
// stream type, each in its own translation unit (serve_plain.cpp,
// serve_tls.cpp).

#pragma once

#include "server_state.hpp"
#include "stream_support.hpp"
#include "wire.hpp"

#include <boost/asio/post.hpp>                // asio::post
#include <boost/asio/write.hpp>               // asio::async_write
#include <boost/beast/core/bind_handler.hpp>  // beast::bind_front_handler
#include <boost/beast/core/stream_traits.hpp> // beast::get_lowest_layer

#include <algorithm>
#include <deque>
#include <vector>

namespace caf::rtm::testing::detail {

namespace beast = boost::beast;

/// Bytes per flood write: large enough that a client cannot keep up, small
/// enough that pongs queued behind a chunk still go out quickly.
constexpr std::size_t flood_chunk_size = std::size_t{64} * 1024;

template <class Stream>
class ws_peer : public session_control,
                public std::enable_shared_from_this<ws_peer<Stream>> {
public:
  ws_peer(connection_slot slot, Stream&& stream)
      : slot_(std::move(slot)), stream_(std::move(stream)),
        close_timer_(stream_.get_executor()),
        ping_timer_(stream_.get_executor()),
        refresh_timer_(stream_.get_executor()),
        pause_timer_(stream_.get_executor()), rbuf_(std::size_t{64} * 1024),
        frames_(max_message_size) {
    // nop
  }

  ~ws_peer() override {
    // Destroyed without hard_close() only when the server stops.
    set_phase(phase::closed);
    if (rec_)
      rec_->mark_ended();
  }

  /// Opens the session on the strand, right after the 101 answer went out.
  /// `pending` holds the bytes the client sent behind its upgrade request.
  void start(const handshake_plan& plan, std::string pending) {
    if (plan.endpoint == ws_endpoint::socket_mode)
      start_socket_mode(plan);
    else
      start_rtm(plan);
    frames_.feed(pending.data(), pending.size());
    process_frames();
    do_write();
    do_read();
  }

  /// Closes TCP at once: no close frame, no TLS close_notify. Also ends a
  /// graceful shutdown.
  void hard_close() {
    if (phase_ == phase::closed)
      return;
    set_phase(phase::closed);
    error_code ec;
    socket().close(ec);
    stop_timers();
    close_timer_.cancel();
    pause_timer_.cancel();
    control_q_.clear();
    data_q_.clear();
    if (rec_)
      rec_->mark_ended();
  }

  // -- session_control (any thread) -------------------------------------------

  void post_data(std::string bytes) override {
    post([bytes = std::move(bytes)](ws_peer& self) mutable {
      self.queue_data(std::move(bytes), 0);
    });
  }

  void post_flood(std::size_t n, frame_maker make) override {
    post([n, make = std::move(make)](ws_peer& self) mutable {
      if (!self.may_send())
        return;
      auto job = std::make_shared<flood_job>();
      job->n = n;
      job->make = std::move(make);
      self.data_q_.emplace_back(std::move(job));
    });
  }

  void post_pace(std::size_t n, double per_second, frame_maker make) override {
    post([n, per_second, make = std::move(make)](ws_peer& self) mutable {
      self.start_pace(n, per_second, std::move(make));
    });
  }

  void post_close(uint16_t code, std::string reason) override {
    post([code, reason = std::move(reason)](ws_peer& self) {
      self.start_close(code, reason);
    });
  }

  void post_drop() override {
    post([](ws_peer& self) { self.hard_close(); });
  }

  void post_pause_reading() override {
    post([](ws_peer& self) { self.pause_reading(); });
  }

  void post_ignore_close() override {
    post([](ws_peer& self) { self.ignore_close_ = true; });
  }

  void post_silent() override {
    post([](ws_peer& self) {
      // Queued frames are dropped too: a silent peer writes nothing at all.
      self.silent_ = true;
      self.control_q_.clear();
      self.data_q_.clear();
      self.stop_timers();
    });
  }

private:
  /// Where the session stands in its life, from the server's side.
  enum class phase {
    /// Frames flow both ways.
    open,
    /// Our close frame waits behind earlier data; still reading.
    close_queued,
    /// Our close frame is out; reading until the client's close frame
    /// arrives, for up to 2 s.
    close_sent,
    /// Our last frame is queued (the answer to the client's close frame, a
    /// protocol-error close, or a disconnect before dropping); no more
    /// reading.
    last_frame_queued,
    /// TLS close_notify, or FIN and draining.
    shutting_down,
    /// The socket is closed.
    closed,
  };

  /// What happens once an item's bytes are written.
  enum class after_write {
    none,
    /// Our close frame is out: wait for the client's, unless it came.
    close_sent,
    /// The close handshake is complete (or broken): shut down now.
    shut_down,
    /// Close TCP without a close frame (Slack's 1006 after
    /// too_many_websockets).
    drop,
  };

  struct flood_job {
    std::size_t n = 0;
    std::size_t next = 0;
    frame_maker make;
  };

  struct pace_job {
    explicit pace_job(const asio::any_io_executor& ex) : timer(ex) {
      // nop
    }
    std::size_t n = 0;
    std::size_t next = 0;
    clock_type::duration period{};
    clock_type::time_point start;
    frame_maker make;
    asio::steady_timer timer;
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
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), f = std::move(f)]() mutable {
                 f(*self);
                 self->do_write();
               });
  }

  tcp::socket& socket() {
    return beast::get_lowest_layer(stream_);
  }

  server_state& state() {
    return slot_.state();
  }

  /// Every phase change goes through here: a Socket Mode session stops
  /// receiving envelopes as soon as it is no longer open.
  void set_phase(phase next) {
    if (phase_ == phase::open && next != phase::open && live_)
      state().socket_mode_session_gone(rec_->index());
    phase_ = next;
  }

  bool reading() const {
    return phase_ == phase::open || phase_ == phase::close_queued ||
           phase_ == phase::close_sent;
  }

  bool may_send() const {
    return phase_ == phase::open && !silent_;
  }

  // -- opening ----------------------------------------------------------------

  void start_rtm(const handshake_plan& plan) {
    rec_ = state().open_session(this->weak_from_this());
    if (plan.ticket_valid) {
      if (state().opts.send_hello)
        queue_text(R"({"type":"hello"})");
      return;
    }
    queue_text(
        R"({"type":"error","error":{"code":1,"msg":"Socket URL has expired"}})");
    start_close(1000, "");
  }

  void start_socket_mode(const handshake_plan& plan) {
    auto admission = state().open_socket_mode_session(this->weak_from_this());
    rec_ = std::move(admission.rec);
    if (!admission.admitted) {
      // Slack's answer to one connection too many: a disconnect on the new
      // socket, then the TCP connection just ends.
      set_phase(phase::last_frame_queued);
      data_q_.push_back(
          out_item{text_frame(disconnect_json("too_many_websockets")), 0,
                   after_write::drop});
      return;
    }
    live_ = true;
    auto& opts = state().opts;
    if (opts.send_hello)
      queue_text(state().socket_mode_hello(admission.num_connections));
    if (opts.server_ping_interval.count() > 0)
      schedule_ping();
    if (plan.debug_reconnects) {
      refresh_timer_.expires_after(opts.debug_reconnect_interval);
      refresh_timer_.async_wait(beast::bind_front_handler(
          &ws_peer::on_refresh_timer, this->shared_from_this()));
    }
  }

  void schedule_ping() {
    ping_timer_.expires_after(state().opts.server_ping_interval);
    ping_timer_.async_wait(beast::bind_front_handler(&ws_peer::on_ping_timer,
                                                     this->shared_from_this()));
  }

  void on_ping_timer(error_code ec) {
    if (ec || !may_send())
      return; // cancelled, or the session no longer sends
    std::string ping;
    append_frame(ping, op_ping, std::to_string(++pings_sent_));
    control_q_.push_back(out_item{std::move(ping)});
    do_write();
    schedule_ping();
  }

  void on_refresh_timer(error_code ec) {
    if (ec)
      return; // cancelled
    queue_text(disconnect_json("refresh_requested"));
    do_write();
  }

  // -- errors and endings -----------------------------------------------------

  void fail(error_code ec, const char* what) {
    if (phase_ != phase::closed)
      trace(what, ec.message());
    hard_close();
  }

  void stop_timers() {
    for (auto& job : pace_jobs_)
      job->timer.cancel();
    pace_jobs_.clear();
    for (auto& timer : ack_timers_)
      timer->cancel();
    ack_timers_.clear();
    ping_timer_.cancel();
    refresh_timer_.cancel();
  }

  void shut_down() {
    if (phase_ == phase::shutting_down || phase_ == phase::closed)
      return;
    set_phase(phase::shutting_down);
    graceful_shutdown(stream_, close_timer_, [self = this->shared_from_this()] {
      self->hard_close();
    });
  }

  /// Queues our close frame behind the data queued so far, so that a test's
  /// last sends arrive. Unlike other frames, it goes out even when silent.
  void start_close(uint16_t code, const std::string& reason) {
    if (phase_ != phase::open)
      return;
    set_phase(phase::close_queued);
    stop_timers();
    if (silent_)
      data_q_.clear();
    std::string frame;
    append_frame(frame, op_close, close_payload(code, reason));
    data_q_.push_back(out_item{std::move(frame), 0, after_write::close_sent});
  }

  void on_client_close(const std::string& payload) {
    uint16_t code = 1005; // "no status code", RFC 6455 section 7.4.1
    if (payload.size() >= 2)
      code =
          static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                static_cast<unsigned char>(payload[1]));
    rec_->set_close_code(code);
    if (silent_ || ignore_close_)
      return; // keep reading until the client gives up and closes TCP
    switch (phase_) {
    case phase::open: {
      set_phase(phase::last_frame_queued);
      data_q_.clear();
      stop_timers();
      std::string frame;
      append_frame(frame, op_close, payload.substr(0, 2));
      control_q_.push_back(
          out_item{std::move(frame), 0, after_write::shut_down});
      return;
    }
    case phase::close_queued:
      // Our own close frame is on its way; once out, the handshake is done.
      set_phase(phase::last_frame_queued);
      return;
    case phase::close_sent:
      return shut_down();
    default:
      return; // not reading
    }
  }

  void protocol_error() {
    if (silent_ || phase_ != phase::open)
      return hard_close();
    set_phase(phase::last_frame_queued);
    data_q_.clear();
    stop_timers();
    std::string frame;
    append_frame(frame, op_close, close_payload(1002, "protocol error"));
    control_q_.push_back(out_item{std::move(frame), 0, after_write::shut_down});
  }

  void on_close_timeout(error_code ec) {
    if (ec)
      return; // cancelled: the client's close frame came in time
    hard_close();
  }

  // -- reading ----------------------------------------------------------------

  // No read in flight keeps the session alive any more: a timer that never
  // fires does, until hard_close() (every ending leads there) or the server
  // stops.
  void pause_reading() {
    read_paused_ = true;
    pause_timer_.expires_at(asio::steady_timer::time_point::max());
    pause_timer_.async_wait([self = this->shared_from_this()](error_code) {});
  }

  // ignore_close(): the stream ended above TCP (the client's TLS
  // close_notify), or the client ended TCP. Only the latter ends the
  // session: the socket turns readable then.
  void await_tcp_end() {
    socket().async_wait(
        tcp::socket::wait_read,
        [self = this->shared_from_this()](error_code) { self->hard_close(); });
  }

  void do_read() {
    if (!reading() || read_paused_)
      return;
    stream_.async_read_some(
        asio::buffer(rbuf_),
        beast::bind_front_handler(&ws_peer::on_read, this->shared_from_this()));
  }

  void on_read(error_code ec, std::size_t n) {
    if (ec && ignore_close_ && phase_ != phase::closed)
      return await_tcp_end();
    if (ec)
      return fail(ec, "read frame");
    frames_.feed(rbuf_.data(), n);
    read_at_ = clock_type::now();
    process_frames();
    do_write();
    do_read();
  }

  void process_frames() {
    client_event ev;
    while (reading()) {
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
      rec_->add_ping(ev.payload);
      if (may_send()) {
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
    if (rec_->socket_mode()) {
      // Acks are recorded before the text: a test that waits for the text
      // finds the ack too.
      state().on_socket_mode_text(rec_->index(), text, read_at_);
      rec_->add_text(std::move(text));
      return;
    }
    rtm_replies replies;
    if (may_send())
      replies = state().on_client_text(*rec_, text);
    // Recorded after the bookkeeping for manual acks: a test that waits for
    // the message and then acks it finds the message's text.
    rec_->add_text(std::move(text));
    for (auto& reply : replies.now)
      queue_text(reply);
    if (replies.later.empty())
      return;
    auto delay = state().opts.ack_delay;
    if (delay.count() <= 0) {
      for (auto& reply : replies.later)
        queue_text(reply);
      return;
    }
    auto timer =
        std::make_shared<asio::steady_timer>(stream_.get_executor(), delay);
    ack_timers_.push_back(timer);
    timer->async_wait(beast::bind_front_handler(&ws_peer::on_ack_timer,
                                                this->shared_from_this(), timer,
                                                std::move(replies.later)));
  }

  void on_ack_timer(const std::shared_ptr<asio::steady_timer>& timer,
                    std::vector<std::string> replies, error_code ec) {
    auto i = std::find(ack_timers_.begin(), ack_timers_.end(), timer);
    if (i != ack_timers_.end())
      ack_timers_.erase(i);
    if (ec)
      return; // cancelled: the session went silent or ended
    for (auto& reply : replies)
      queue_text(reply);
    do_write();
  }

  // -- writing ----------------------------------------------------------------

  static std::string text_frame(const std::string& text) {
    std::string out;
    append_frame(out, op_text, text);
    return out;
  }

  void queue_text(const std::string& text) {
    queue_data(text_frame(text), 0);
  }

  void queue_data(std::string bytes, std::size_t frames) {
    if (!may_send())
      return;
    data_q_.push_back(out_item{std::move(bytes), frames});
  }

  void start_pace(std::size_t n, double per_second, frame_maker&& make) {
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
        &ws_peer::on_pace, this->shared_from_this(), job));
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
    if (writing_ || phase_ == phase::shutting_down || phase_ == phase::closed)
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
    asio::async_write(stream_, asio::buffer(wbuf_),
                      beast::bind_front_handler(&ws_peer::on_write,
                                                this->shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    writing_ = false;
    if (ec)
      return fail(ec, "write frames");
    if (wframes_ > 0)
      rec_->add_written(wframes_);
    // Dropped (by the test, say) while the write was under way: nothing
    // after it happens, a close frame's wait included.
    if (phase_ == phase::closed)
      return;
    switch (wafter_) {
    case after_write::none:
      break;
    case after_write::close_sent:
      if (phase_ == phase::last_frame_queued)
        return shut_down(); // the client's close frame came meanwhile
      set_phase(phase::close_sent);
      close_timer_.expires_after(std::chrono::seconds(2));
      close_timer_.async_wait(beast::bind_front_handler(
          &ws_peer::on_close_timeout, this->shared_from_this()));
      return;
    case after_write::shut_down:
      return shut_down();
    case after_write::drop:
      return hard_close();
    }
    do_write();
  }

  // -- state ------------------------------------------------------------------

  connection_slot slot_;
  Stream stream_;
  /// Times the wait for the client's close frame, then the graceful
  /// shutdown.
  asio::steady_timer close_timer_;
  asio::steady_timer ping_timer_;
  asio::steady_timer refresh_timer_;
  /// Holds the session while reading is paused.
  asio::steady_timer pause_timer_;
  phase phase_ = phase::open;
  /// Set by pause_reading(): no more reads from the socket.
  bool read_paused_ = false;
  /// Set by go_silent(): nothing is sent from then on except an explicit
  /// close, and client close frames are only recorded.
  bool silent_ = false;
  /// Set by ignore_close(): a close frame from the client gets no answer,
  /// and only the end of TCP ends the session.
  bool ignore_close_ = false;
  /// An admitted Socket Mode session: envelopes may go to it while open.
  bool live_ = false;
  std::shared_ptr<session_record> rec_;

  std::vector<char> rbuf_;
  frame_reader frames_;
  /// When the bytes the frames are read from arrived.
  clock_type::time_point read_at_;

  std::deque<out_item> control_q_;
  std::deque<out_item> data_q_;
  /// One write in flight at a time; these describe it.
  bool writing_ = false;
  std::string wbuf_;
  std::size_t wframes_ = 0;
  after_write wafter_ = after_write::none;
  std::vector<std::shared_ptr<pace_job>> pace_jobs_;
  std::vector<std::shared_ptr<asio::steady_timer>> ack_timers_;
  uint64_t pings_sent_ = 0;
};

} // namespace caf::rtm::testing::detail
