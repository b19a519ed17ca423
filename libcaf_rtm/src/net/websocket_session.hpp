// The WebSocket session of a connection actor as a template over the stream
// type; included only by plain_streams.cpp and tls_streams.cpp.

#pragma once

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <caf/send.hpp>

#include "caf/rtm/errc.hpp"
#include "detail/backoff.hpp"
#include "net/corked_stream.hpp"
#include "net/http_exchange.hpp"
#include "net/transport.hpp"
#include "net/ws_client.hpp"

namespace caf::rtm::net {

template <class Stream>
class websocket_session
    : public ws_client,
      public std::enable_shared_from_this<websocket_session<Stream>> {
public:
  using error_code = boost::system::error_code;
  using ws_stream = boost::beast::websocket::stream<corked_stream<Stream>>;

  websocket_session(const net_context& ctx, const endpoint_url& url,
                    const ws_options& opts, detail::io_sink_actor owner)
      : ex_(ctx.pool->context().get_executor()), ctx_(ctx), url_(url),
        opts_(opts), owner_(std::move(owner)), close_timer_(ex_),
        abandon_timer_(ex_) {
    // The session must not keep the pool alive (see io_pool.hpp).
    ctx_.pool.reset();
  }

  void start() {
    post([](websocket_session& self) { self.open(); });
  }

  // -- ws_client interface (any thread) ---------------------------------------

  void send_text(std::string text, int64_t id) override {
    post([text = std::move(text), id](websocket_session& self) mutable {
      self.enqueue(outgoing{outgoing::text, std::move(text), 0, id});
    });
  }

  void send_texts_first(text_frames texts) override {
    auto packed = std::make_shared<const text_frames>(std::move(texts));
    post([packed = std::move(packed)](websocket_session& self) {
      // Too late for all of them: one count, not one message each (a
      // session that ends with much read ahead hands over thousands).
      if (self.state_ == state_type::ended ||
          self.state_ == state_type::closing) {
        caf::anon_send(self.owner_, detail::unsent_atom_v,
                       static_cast<uint32_t>(packed->size()));
        return;
      }
      // Each goes to the front: the last one first keeps them in order.
      for (auto i = packed->size(); i-- > 0;) {
        // Ended by the queue's bound on the way: the rest in one count.
        if (self.state_ == state_type::ended) {
          caf::anon_send(self.owner_, detail::unsent_atom_v,
                         static_cast<uint32_t>(i + 1));
          return;
        }
        self.enqueue(outgoing{outgoing::text, {}, 0, 0, packed, i}, true);
      }
    });
  }

  void send_ping(std::string payload) override {
    post([payload = std::move(payload)](websocket_session& self) mutable {
      self.enqueue(outgoing{outgoing::ping, std::move(payload), 0, 0});
    });
  }

  void close(uint16_t code) override {
    post([code](websocket_session& self) { self.start_close(code); });
  }

  void abort(caf::error reason) override {
    post([reason = std::move(reason)](websocket_session& self) mutable {
      self.teardown(std::move(reason));
    });
  }

  void consumed() override {
    post([](websocket_session& self) { self.on_consumed(); });
  }

  void drain() override {
    // Posted after every earlier call: they have run when this one does.
    post([](websocket_session& self) {
      caf::anon_send(self.owner_, detail::drained_atom_v);
    });
  }

private:
  struct outgoing {
    enum kind_type { text, ping, close } kind;
    std::string payload;
    uint16_t code;
    /// The message's id (RTM sends; 0 for anything else).
    int64_t id;
    /// Frames queued together (acks): the text is frame `index` of these.
    std::shared_ptr<const text_frames> packed = nullptr;
    size_t index = 0;

    std::string_view bytes() const noexcept {
      return packed ? (*packed)[index] : std::string_view{payload};
    }
  };

  enum class state_type { opening, handshaking, open, closing, ended };

  template <class F>
  void post(F f) {
    asio::post(ex_, [self = this->shared_from_this(),
                     f = std::move(f)]() mutable { f(*self); });
  }

  // -- opening ----------------------------------------------------------------

  void open() {
    if (state_ != state_type::opening)
      return;
    opening_ = transport_open::start(
        ex_, ctx_, url_,
        [self = this->shared_from_this()](caf::error err, opened_stream s) {
          self->on_open(std::move(err), std::move(s));
        });
  }

  void on_open(caf::error err, opened_stream s) {
    opening_.reset();
    if (state_ != state_type::opening)
      return; // aborted meanwhile: already reported
    if (err)
      return report_down(std::move(err));
    if (abort_reason_) {
      // Aborted while the transport finished opening: close what it opened.
      if (auto stream = take_stream<Stream>(s))
        close_socket(beast::get_lowest_layer(*stream));
      return report_down(abort_reason_);
    }
    ws_.emplace(std::move(*take_stream<Stream>(s)));
    namespace websocket = boost::beast::websocket;
    ws_->read_message_max(opts_.max_message_size);
    ws_->auto_fragment(false);
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = opts_.handshake_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false; // the ping monitor does this
    ws_->set_option(timeouts);
    ws_->set_option(websocket::stream_base::decorator(
        [ua = ctx_.user_agent](websocket::request_type& req) {
          req.set(http::field::user_agent, ua);
        }));
    // Pongs are how the ping monitor learns the link is alive.
    ws_->control_callback(
        [this](websocket::frame_type kind, boost::beast::string_view payload) {
          if (kind == websocket::frame_type::pong)
            on_pong(payload);
          else if (kind == websocket::frame_type::close)
            on_peer_close();
        });
    state_ = state_type::handshaking;
    // A server that sends an endless header or chunk fails the handshake
    // instead of growing memory until `hello_timeout`.
    ws_->next_layer().read_limit(max_unparsed_bytes);
    ws_->async_handshake(
        handshake_res_, url_.host_header(), url_.target,
        beast::bind_front_handler(&websocket_session::on_handshake,
                                  this->shared_from_this()));
  }

  void on_handshake(error_code ec) {
    if (ec) {
      if (state_ == state_type::ended)
        return;
      // Beast fills the response only once a whole answer came, and an
      // untouched one reads 200: only this error says the server refused.
      if (ec == boost::beast::websocket::error::upgrade_declined) {
        auto status = handshake_res_.result_int();
        auto what =
            "handshake rejected with HTTP status " + std::to_string(status);
        // Too many connects: the next attempt waits as long as asked.
        if (status == 429)
          return report_down(detail::rate_limited_error(
              std::move(what),
              detail::parse_retry_after(std::string_view{
                  handshake_res_[boost::beast::http::field::retry_after]})));
        return report_down(make_error(errc::websocket_error, std::move(what)));
      }
      if (ws_->next_layer().over_read_limit())
        return report_down(
            make_error(errc::websocket_error,
                       "WebSocket handshake: the answer exceeds " +
                           std::to_string(max_unparsed_bytes) + " bytes"));
      return report_down(read_error(ec, "WebSocket handshake"));
    }
    if (state_ != state_type::handshaking)
      return;
    state_ = state_type::open;
    ws_->next_layer().read_limit(0);
    // A close that Beast starts itself ends within close_timeout too.
    ws_->next_layer().teardown_limit(opts_.close_timeout);
    caf::anon_send(owner_, detail::opened_atom_v);
    do_read();
    do_write();
  }

  // -- reading ----------------------------------------------------------------

  void do_read() {
    reading_ = true;
    ws_->async_read(buffer_,
                    beast::bind_front_handler(&websocket_session::on_read,
                                              this->shared_from_this()));
  }

  void on_read(error_code ec, size_t n) {
    reading_ = false;
    if (state_ == state_type::ended)
      return; // the end waits for the read, unless the last resort gave up
    if (ec)
      return report_down(read_error(ec, "read"));
    if (pending_.empty() || pending_.back().bytes >= max_batch_bytes)
      start_batch();
    auto& chunk = pending_.back();
    if (ws_->got_text()) {
      // A flat_buffer holds the whole message contiguously.
      auto data = buffer_.data();
      chunk.batch.bytes.append(static_cast<const char*>(data.data()),
                               data.size());
      chunk.batch.sizes.push_back(static_cast<uint32_t>(data.size()));
      if (opts_.time_frames)
        chunk.batch.read_at.push_back(std::chrono::steady_clock::now());
    } else {
      ++chunk.batch.binary;
    }
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > size_t{1024} * 1024)
      buffer_.shrink_to_fit(); // after a rare huge message
    buffered_bytes_ += n + frame_overhead;
    chunk.bytes += n + frame_overhead;
    hand_over();
    // Torn down: the socket is closed, though a read-ahead chunk may still
    // serve frames. The end is reported now (or once a write in flight is
    // done), with every frame read, not once the actor returns its credit;
    // the server's close frame, if one came, still says why.
    if (abort_reason_)
      return report_down(read_error({}, "read"));
    if (!end_after_write_ && (buffered_bytes_ < opts_.max_buffered_bytes ||
                              state_ == state_type::closing))
      do_read();
  }

  // A new batch, sized like the last one handed over if that was large: a
  // batch filled under a flood grows to about 256 KB, and growing it from
  // empty took a dozen reallocations and copies on this thread.
  void start_batch() {
    auto& chunk = pending_.emplace_back();
    if (last_batch_.bytes < min_reserved_batch)
      return;
    chunk.batch.bytes.reserve(
        std::min(last_batch_.bytes + last_batch_.bytes / 8,
                 max_batch_bytes + max_batch_bytes / 8));
    chunk.batch.sizes.reserve(last_batch_.frames + last_batch_.frames / 8);
    if (opts_.time_frames)
      chunk.batch.read_at.reserve(last_batch_.frames + last_batch_.frames / 8);
  }

  // Hands the next pending batch to the actor unless one is in flight.
  void hand_over() {
    if (batch_in_flight_ || pending_.empty())
      return;
    auto chunk = std::move(pending_.front());
    pending_.pop_front();
    last_batch_.bytes = chunk.batch.bytes.size();
    last_batch_.frames = chunk.batch.sizes.size();
    in_flight_bytes_ = chunk.bytes;
    batch_in_flight_ = true;
    caf::anon_send(owner_, std::move(chunk.batch));
  }

  // The session is over: every frame read reaches the actor, ahead of the
  // end, however far reading got ahead of it (up to max_buffered_bytes).
  void hand_over_all() {
    for (auto& chunk : pending_)
      caf::anon_send(owner_, std::move(chunk.batch));
    pending_.clear();
  }

  void on_consumed() {
    batch_in_flight_ = false;
    buffered_bytes_ -= in_flight_bytes_;
    in_flight_bytes_ = 0;
    hand_over();
    // Resume reading if backpressure had paused it (not once the session
    // ended: a read could still find frames in a buffer, after the end).
    if (!reading_ && !end_after_write_ &&
        buffered_bytes_ < opts_.max_buffered_bytes &&
        (state_ == state_type::open || state_ == state_type::closing))
      do_read();
  }

  caf::error read_error(error_code ec, const char* step) {
    namespace websocket = boost::beast::websocket;
    // The server's close frame says why, however the TCP connection ended
    // after it (a reset, or cut off at close_timeout: see on_peer_close).
    if (ws_ && (ec == websocket::error::closed ||
                ws_->reason().code != websocket::close_code::none)) {
      auto reason = ws_->reason();
      return make_error(errc::connection_closed,
                        static_cast<uint16_t>(reason.code),
                        std::string{reason.reason.c_str()});
    }
    if (abort_reason_)
      return abort_reason_;
    if (ec == websocket::error::message_too_big)
      return make_error(errc::incoming_too_large,
                        "message over " +
                            std::to_string(opts_.max_message_size) +
                            " bytes; closed with 1009");
    if (ec == beast::error::timeout)
      return make_error(errc::timeout, std::string{step} + ": timeout");
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::broken_pipe ||
        ec == asio::error::connection_aborted ||
        ec == asio::error::operation_aborted ||
        ec == ssl::error::stream_truncated || ec == http::error::end_of_stream)
      return make_error(errc::connection_lost,
                        std::string{step} + ": " + ec.message());
    if (ec.category() == make_error_code(websocket::error::closed).category())
      return make_error(errc::websocket_error,
                        std::string{step} + ": " + ec.message());
    return to_error(ec, step);
  }

  // -- writing ----------------------------------------------------------------

  // `first`: ahead of every frame not yet being written.
  void enqueue(outgoing x, bool first = false) {
    if (state_ == state_type::ended ||
        (state_ == state_type::closing && x.kind != outgoing::close)) {
      // Never written: the actor may send it on the next session; an ack
      // is counted as lost.
      if (x.id != 0)
        caf::anon_send(owner_, detail::unsent_atom_v,
                       std::vector<int64_t>{x.id});
      else if (x.packed)
        caf::anon_send(owner_, detail::unsent_atom_v, uint32_t{1});
      return;
    }
    queued_bytes_ += x.bytes().size();
    if (first)
      writes_.push_front(std::move(x));
    else
      writes_.push_back(std::move(x));
    // A server that sends and reads nothing (a Socket Mode flood, one ack
    // per envelope) would grow the queue at its send rate until the ping
    // monitor gives up, and the ping waits behind the acks. What is queued
    // comes back unsent with the session's end.
    if (queued_bytes_ > max_queued_bytes && !abort_reason_) {
      teardown(make_error(errc::dead_link,
                          "the server reads nothing: over " +
                              std::to_string(max_queued_bytes) +
                              " bytes of frames wait to be written"));
      return;
    }
    if (state_ == state_type::open || state_ == state_type::closing)
      do_write();
  }

  // Back at the head of the queue: the frame whose write failed, or was
  // given up on.
  void requeue_current() {
    queued_bytes_ += current_->bytes().size();
    writes_.push_front(std::move(*std::exchange(current_, std::nullopt)));
  }

  void do_write() {
    // After the server's close frame nothing more goes out (Beast answers
    // it itself): what is queued stays queued and comes back as unsent.
    // Torn down (`abort_reason_`): the socket is closed, a write would fail
    // at once and put the end off; what is queued comes back unsent.
    if (writing_ || current_ || writes_.empty() || peer_closed_ ||
        abort_reason_)
      return;
    writing_ = true;
    // Out of the queue while Beast writes from its bytes: an insert into a
    // deque may move elements, and a short payload lives inside its string.
    current_.emplace(std::move(writes_.front()));
    writes_.pop_front();
    queued_bytes_ -= current_->bytes().size();
    auto& x = *current_;
    // Text frames queued back to back (a batch of acks) leave in one write:
    // the last one queued sends them all. Not a frame with an id (an RTM
    // message): one that never went out must come back as unsent.
    ws_->next_layer().cork(x.kind == outgoing::text && x.id == 0 &&
                           !writes_.empty() &&
                           writes_.front().kind == outgoing::text);
    auto next = beast::bind_front_handler(&websocket_session::on_write,
                                          this->shared_from_this());
    namespace websocket = boost::beast::websocket;
    switch (x.kind) {
    case outgoing::text:
      ws_->text(true);
      ws_->async_write(asio::buffer(x.bytes().data(), x.bytes().size()),
                       std::move(next));
      break;
    case outgoing::ping:
      if (pings_out_.size() == max_pings_out)
        pings_out_.pop_front();
      pings_out_.push_back(x.payload.substr(0, 125));
      ws_->async_ping(websocket::ping_data{pings_out_.back().c_str()},
                      [self = this->shared_from_this()](error_code ec) {
                        self->on_write(ec, 0);
                      });
      break;
    case outgoing::close:
      ws_->async_close(websocket::close_reason{x.code},
                       [self = this->shared_from_this()](error_code ec) {
                         self->on_write(ec, 0);
                       });
      break;
    }
  }

  void on_write(error_code ec, size_t) {
    writing_ = false;
    // The end waits for a write in flight (end_after_write_), unless the
    // last resort gave up on it, and none starts after it.
    if (state_ == state_type::ended)
      return;
    if (end_after_write_) {
      // The session ended while this write ran: written, or back unsent.
      if (!ec)
        pop_written();
      auto err = std::move(*end_after_write_);
      end_after_write_.reset();
      report_down(std::move(err));
      return;
    }
    if (ec) {
      // Back at the head of the queue, which comes back unsent at the end
      // (a frame queued meanwhile must not take its place).
      requeue_current();
      // The pending read reports why; make sure it does.
      teardown(read_error(ec, "write"));
      return;
    }
    pop_written();
    do_write();
  }

  // The current frame's write completed: it reached the socket, or (corked)
  // the gather buffer, which a later write empties.
  void pop_written() {
    auto& x = *current_;
    // A message with an id can no longer come back unsent: the actor may
    // forget it (one without an ack is kept only for that).
    if (x.id != 0)
      caf::anon_send(owner_, detail::written_atom_v, x.id);
    // Acks gathered and not sent yet are lost if the session ends first.
    sync_unflushed();
    if (x.packed && ws_->next_layer().gathering())
      ++unflushed_acks_;
    current_.reset();
  }

  // Gathered acks went out (by any write, Beast's own included): none of
  // those counted waits any more.
  void sync_unflushed() {
    if (auto n = ws_->next_layer().flushes(); n != flushes_seen_) {
      flushes_seen_ = n;
      unflushed_acks_ = 0;
    }
  }

  // A pong reaches the actor if it answers a ping written (the ping monitor
  // checks the payload); the pings before it went unanswered.
  void on_pong(boost::beast::string_view payload) {
    auto i = std::find(pings_out_.begin(), pings_out_.end(),
                       std::string_view{payload.data(), payload.size()});
    if (i == pings_out_.end())
      return;
    pings_out_.erase(pings_out_.begin(), i + 1);
    caf::anon_send(owner_, detail::pong_atom_v, std::string{payload});
  }

  // -- ending -----------------------------------------------------------------

  // The server sent its close frame: Beast answers it and then waits for the
  // server to end the TCP connection, which a broken server never does.
  // Nothing can be written any more; the wait ends at close_timeout.
  void on_peer_close() {
    peer_closed_ = true;
    if (state_ != state_type::open)
      return; // closing: our own close armed the timer already
    state_ = state_type::closing;
    ws_->next_layer().teardown_limit({}); // the timer bounds it
    close_timer_.expires_after(opts_.close_timeout);
    close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec)
        self->teardown(make_error(errc::timeout, "close handshake"));
    });
  }

  void start_close(uint16_t code) {
    if (end_after_write_)
      return; // ended; the report waits for the write in flight
    switch (state_) {
    case state_type::opening:
    case state_type::handshaking:
      teardown(make_error(errc::closed, "closed before the session opened"));
      return;
    case state_type::open:
      state_ = state_type::closing;
      // Beast 1.81 deadlocks when a read that holds its read lock meets the
      // server's close frame, or a bad frame, while our close op (write lock
      // held, its frame written) waits for that read lock: the read then
      // waits for the write lock, and neither ever ends, nor does the
      // session. Two such reads are avoided here: one with a control
      // callback set defers itself holding the lock before it takes a close
      // frame already in its buffer, and one started after our close frame
      // meets what is in its buffer only after the close op went out. So
      // the callback goes (while closing, pongs no longer matter, and the
      // server's close frame still ends the read with its reason), and the
      // read starts first: what is in its buffer is taken before our close
      // frame, by Beast's own paths. A bad frame behind other frames, or
      // still on its way, can still meet our close frame that way: the
      // session then ends after close_timeout, by the last resort (see
      // abandon_later).
      ws_->control_callback();
      ws_->next_layer().teardown_limit({}); // the timer bounds it
      close_timer_.expires_after(opts_.close_timeout);
      close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
        if (!ec)
          self->teardown(make_error(errc::timeout, "close handshake"));
      });
      // The server's close frame must be read even while the actor lags
      // behind (backpressure paused reading): read on until the end.
      if (!reading_)
        do_read();
      enqueue(outgoing{outgoing::close, {}, code, 0});
      return;
    default:
      return;
    }
  }

  // Closes the socket at once; pending operations then finish with errors.
  void teardown(caf::error reason) {
    if (state_ == state_type::ended)
      return;
    if (!abort_reason_)
      abort_reason_ = std::move(reason);
    if (opening_) {
      opening_->cancel(abort_reason_);
      return; // on_open reports
    }
    if (ws_)
      close_socket(beast::get_lowest_layer(*ws_));
    if (!reading_)
      return report_down(abort_reason_);
    // The closed socket fails the read, which reports the end. One parked
    // inside Beast (see start_close) never returns: end without it.
    abandon_later();
  }

  // Operations Beast parked against each other stay parked: closing the
  // socket wakes only those waiting on it. After `abandon_grace`, the
  // session ends without them. Their handlers (which hold this session) stay
  // with the stream until the I/O pool ends: destroying it here could pull
  // it from under a step of the stream below still queued behind a stalled
  // thread.
  void abandon_later() {
    abandon_timer_.expires_after(opts_.abandon_grace);
    abandon_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec || self->state_ == state_type::ended)
        return;
      CAF_RTM_LOG(self->ctx_.log, warn, "net",
                  "WebSocket operations still parked after the socket "
                  "closed: the session ends without them");
      self->reading_ = false;
      self->writing_ = false;
      auto err = self->end_after_write_ ? std::move(*self->end_after_write_)
                                        : self->abort_reason_;
      self->end_after_write_.reset();
      self->report_down(std::move(err));
    });
  }

  void report_down(caf::error err) {
    if (state_ == state_type::ended || end_after_write_)
      return;
    if (ws_)
      close_socket(beast::get_lowest_layer(*ws_));
    if (writing_) {
      // Whether the frame being written went out decides whether it comes
      // back unsent: the end waits for its write, which the closed socket
      // ends at once (or, parked inside Beast, the last resort).
      end_after_write_ = std::move(err);
      abandon_later();
      return;
    }
    state_ = state_type::ended;
    close_timer_.cancel();
    abandon_timer_.cancel();
    // Messages still queued were never written: the actor gets them back.
    std::vector<int64_t> unwritten;
    if (ws_)
      sync_unflushed();
    uint32_t acks = unflushed_acks_;
    unflushed_acks_ = 0;
    // The frame whose write failed or was given up on first.
    if (current_)
      requeue_current();
    for (size_t i = 0; i < writes_.size(); ++i)
      if (writes_[i].id != 0)
        unwritten.push_back(writes_[i].id);
      else if (writes_[i].packed)
        ++acks;
    writes_.clear();
    queued_bytes_ = 0;
    if (!unwritten.empty())
      caf::anon_send(owner_, detail::unsent_atom_v, std::move(unwritten));
    if (acks > 0)
      caf::anon_send(owner_, detail::unsent_atom_v, acks);
    hand_over_all();
    caf::anon_send(owner_, detail::closed_atom_v, std::move(err));
  }

  executor_type ex_;
  net_context ctx_;
  endpoint_url url_;
  ws_options opts_;
  detail::io_sink_actor owner_;
  asio::steady_timer close_timer_;
  /// The last resort's (see abandon_later).
  asio::steady_timer abandon_timer_;
  state_type state_ = state_type::opening;
  std::shared_ptr<transport_open> opening_;
  std::optional<ws_stream> ws_;
  boost::beast::websocket::response_type handshake_res_;
  beast::flat_buffer buffer_;
  // Frames read while a batch is in flight, in batches of about
  // `max_batch_bytes`: the actor parses a batch at once, so the batch size
  // bounds what is parsed ahead of slow listeners (the read-ahead itself
  // stays raw bytes, up to `max_buffered_bytes`).
  struct pending_batch {
    detail::frame_batch batch;
    size_t bytes = 0;
  };
  static constexpr size_t max_batch_bytes = size_t{256} * 1024;
  /// Pings remembered for their pongs. The monitor pings every interval,
  /// pong or not, and gives up after pong_timeout: about pong_timeout /
  /// ping_interval + 1 wait at once; more only with odd settings, and then
  /// the oldest is forgotten first.
  static constexpr size_t max_pings_out = 64;
  /// Frames waiting to be written past this end the session (see enqueue).
  static constexpr size_t max_queued_bytes = size_t{16} * 1024 * 1024;
  /// Smaller batches (a connection that is not flooded) start empty.
  static constexpr size_t min_reserved_batch = size_t{16} * 1024;
  std::deque<pending_batch> pending_;
  /// Size of the batch handed over last, for the next one's reservation.
  struct {
    size_t bytes = 0;
    size_t frames = 0;
  } last_batch_;
  size_t in_flight_bytes_ = 0;
  size_t buffered_bytes_ = 0;
  bool batch_in_flight_ = false;
  bool reading_ = false;
  std::deque<outgoing> writes_;
  /// The bytes of the frames in `writes_`.
  size_t queued_bytes_ = 0;
  /// The frame being written (while `writing_`, and after it while the end
  /// waits for its write: `end_after_write_`, the last resort).
  std::optional<outgoing> current_;
  bool writing_ = false;
  /// Acks whose writes completed into the gather buffer, not yet sent.
  uint32_t unflushed_acks_ = 0;
  /// `corked_stream::flushes()` when `unflushed_acks_` was last checked.
  uint64_t flushes_seen_ = 0;
  /// The server's close frame came.
  bool peer_closed_ = false;
  /// Payloads of the pings written and not answered yet, oldest first: a
  /// pong that answers none (unsolicited) is dropped here, so that a flood
  /// of them costs the actors nothing.
  std::deque<std::string> pings_out_;
  caf::error abort_reason_;
  /// The session ended while a write ran: reported once that write is done.
  std::optional<caf::error> end_after_write_;
};

template <class Stream>
ws_client_ptr
start_websocket_session(const net_context& ctx, const endpoint_url& url,
                        const ws_options& opts, detail::io_sink_actor owner) {
  auto session = std::make_shared<websocket_session<Stream>>(ctx, url, opts,
                                                             std::move(owner));
  session->start();
  return session;
}

} // namespace caf::rtm::net
