// The stream layer under Beast's WebSocket stream: it saves system calls on
// both sides of a busy session.
//
// Writes: a Socket Mode client acks every envelope: a batch of 200 envelopes
// meant 200 WebSocket frames, 200 write calls and 200 wake-ups of the server,
// each ack a TCP segment of its own. This layer takes the frames of a batch
// into one buffer while the session says more frames follow (`cork(true)`),
// and the last frame writes them all (`cork(false)`), as Linux's TCP_CORK
// would, but without its 200 ms timer: nothing stays behind once the
// session's queue is empty. A corked write completes at once; the write that
// flushes completes when the whole buffer went out, with its error if it
// failed. The session corks only frames that need no outcome of their own
// (acks): an RTM message never waits in the buffer, so one that did not go
// out still comes back as unsent.
//
// Reads: Beast reads at most 1,536 bytes at a time, one system call per seven
// small events under a flood. A read that filled Beast's whole buffer means
// more is waiting, so the next read takes up to 64 KB into a chunk of this
// layer, and Beast's reads are served from it. Once a read comes back short
// (the socket is drained), the chunk is freed and reads go straight into
// Beast's buffer again, as do reads for which Beast asks at least 64 KB (the
// payload of a big message). So an idle session holds no chunk, unless a flood
// stopped right at the end of a full chunk: then the read waiting for the next
// frame holds one until that frame came.

#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>

#include "net/burst_executor.hpp"

namespace caf::rtm::net {

template <class Next>
class corked_stream {
public:
  using error_code = boost::system::error_code;
  /// Handlers of the session run in bursts (see burst_executor.hpp).
  using executor_type = burst_executor<typename Next::executor_type>;
  using next_layer_type = Next;

  explicit corked_stream(Next&& next) : next_(std::move(next)) {
    // nop
  }

  executor_type get_executor() {
    return executor_type{next_.get_executor()};
  }

  Next& next_layer() noexcept {
    return next_;
  }

  /// Whether bytes read ahead wait in a chunk, or a read waits with one.
  bool holds_chunk() const noexcept {
    return chunk_ != nullptr;
  }

  /// While set, writes gather in a buffer (up to `max_gathered` bytes); the
  /// first write after clearing it sends everything gathered.
  void cork(bool value) noexcept {
    corked_ = value;
  }

  /// Whether gathered bytes wait for the write that sends them.
  bool gathering() const noexcept {
    return !gathered_.empty();
  }

  /// How many times gathered bytes went out: Beast's own writes (a pong, a
  /// close frame) may send them too, unseen by the session.
  uint64_t flushes() const noexcept {
    return flushes_;
  }

  /// Bounds the teardown of a close that Beast starts by itself (it fails
  /// the connection: a message over the size limit, a protocol error, text
  /// that is not UTF-8). Beast then sends its close frame and waits for the
  /// server to end TCP, with no limit of its own. Once `limit` is over, the
  /// socket is closed and the teardown counts as done, so that the read
  /// reports Beast's reason. Zero: no limit (the session bounds the closes
  /// it starts or answers with a timer of its own). Not bounded: Beast's
  /// write of its close frame before the teardown (a server that stopped
  /// reading); the ping monitor ends such a session.
  void teardown_limit(std::chrono::steady_clock::duration limit) noexcept {
    teardown_limit_ = limit;
  }

  std::chrono::steady_clock::duration teardown_limit() const noexcept {
    return teardown_limit_;
  }

  /// Fails reads with `boost::asio::error::message_size` once `limit` bytes
  /// were read since this call (0: no limit). For the WebSocket upgrade's
  /// answer: Beast reads it into a buffer without a bound, and its parser
  /// waits without one for the end of a chunk's header or trailer.
  void read_limit(size_t limit) noexcept {
    read_limit_ = limit;
    read_count_ = 0;
  }

  /// Whether a read failed on `read_limit`.
  bool over_read_limit() const noexcept {
    return read_limit_ > 0 && read_count_ >= read_limit_;
  }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    enum step { start, direct, chunked, served };
    return boost::asio::async_compose<Handler, void(error_code, size_t)>(
        [this, buffers, at = start](auto& self, error_code ec = {},
                                    size_t n = 0) mutable {
          switch (at) {
          case start:
            if (over_read_limit()) {
              at = served;
              boost::asio::post(
                  get_executor(),
                  boost::beast::bind_front_handler(
                      std::move(self),
                      error_code{boost::asio::error::message_size}, size_t{0}));
            } else if (chunk_pos_ < chunk_end_) {
              // Served from the chunk, but never from within this call.
              at = served;
              boost::asio::post(
                  get_executor(),
                  boost::beast::bind_front_handler(
                      std::move(self), error_code{}, take(buffers)));
            } else if (!backlog_ ||
                       boost::asio::buffer_size(buffers) >= chunk_size) {
              // Beast asks for at least a chunk (the payload of a big
              // message): the socket reads straight into it.
              at = direct;
              next_.async_read_some(buffers, std::move(self));
            } else {
              at = chunked;
              if (!chunk_)
                chunk_.reset(new char[chunk_size]);
              next_.async_read_some(
                  boost::asio::buffer(chunk_.get(), chunk_size),
                  std::move(self));
            }
            return;
          case direct:
            backlog_ = !ec && n == boost::asio::buffer_size(buffers);
            count_read(n);
            self.complete(ec, n);
            return;
          case chunked:
            chunk_pos_ = 0;
            chunk_end_ = ec ? 0 : n;
            backlog_ = !ec && n == chunk_size;
            n = take(buffers);
            count_read(ec ? 0 : n);
            self.complete(ec, ec ? 0 : n);
            return;
          case served:
            count_read(n);
            self.complete(ec, n);
            return;
          }
        },
        handler, *this);
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (!corked_ && gathered_.empty())
      return next_.async_write_some(buffers, std::forward<Handler>(handler));
    auto size = boost::asio::buffer_size(buffers);
    auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto i = boost::asio::buffer_sequence_begin(buffers); i != end; ++i) {
      boost::asio::const_buffer buf{*i};
      gathered_.append(static_cast<const char*>(buf.data()), buf.size());
    }
    auto flush = !corked_ || gathered_.size() >= max_gathered;
    return boost::asio::async_compose<Handler, void(error_code, size_t)>(
        [this, size, flush, started = false](auto& self, error_code ec = {},
                                             size_t = 0) mutable {
          if (!started) {
            started = true;
            if (flush)
              boost::asio::async_write(next_, boost::asio::buffer(gathered_),
                                       std::move(self));
            else
              boost::asio::post(get_executor(), std::move(self));
            return;
          }
          if (flush) {
            if (!ec)
              ++flushes_;
            release();
          }
          self.complete(ec, ec ? 0 : size);
        },
        handler, *this);
  }

  /// Writes what was gathered, if anything, and uncorks; `handler(error_code)`.
  template <class Handler>
  auto async_flush(Handler&& handler) {
    return boost::asio::async_compose<Handler, void(error_code)>(
        [this, started = false](auto& self, error_code ec = {},
                                size_t = 0) mutable {
          if (!started) {
            started = true;
            corked_ = false;
            if (gathered_.empty())
              boost::asio::post(get_executor(), std::move(self));
            else
              boost::asio::async_write(next_, boost::asio::buffer(gathered_),
                                       std::move(self));
            return;
          }
          if (!ec && !gathered_.empty())
            ++flushes_;
          release();
          self.complete(ec);
        },
        handler, *this);
  }

private:
  // Copies from the chunk into `buffers`; frees a drained chunk once the
  // socket had no more.
  template <class MutableBuffers>
  size_t take(const MutableBuffers& buffers) {
    auto k = boost::asio::buffer_copy(
        buffers, boost::asio::buffer(chunk_.get() + chunk_pos_,
                                     chunk_end_ - chunk_pos_));
    chunk_pos_ += k;
    if (chunk_pos_ == chunk_end_) {
      chunk_pos_ = chunk_end_ = 0;
      if (!backlog_)
        chunk_.reset();
    }
    return k;
  }

  void count_read(size_t n) noexcept {
    if (read_limit_ > 0)
      read_count_ += n;
  }

  // Keeps a small buffer for the next batch, not a large one for good.
  void release() {
    if (gathered_.capacity() > keep_capacity)
      std::string{}.swap(gathered_);
    else
      gathered_.clear();
  }

  /// Bytes gathered before a write goes out even while corked.
  static constexpr size_t max_gathered = size_t{64} * 1024;

  static constexpr size_t keep_capacity = size_t{4} * 1024;

  /// What one read takes from the socket while data backs up.
  static constexpr size_t chunk_size = size_t{64} * 1024;

  Next next_;
  std::string gathered_;
  bool corked_ = false;
  uint64_t flushes_ = 0;
  /// Read from the socket, not yet taken by Beast: [chunk_pos_, chunk_end_).
  std::unique_ptr<char[]> chunk_;
  size_t chunk_pos_ = 0;
  size_t chunk_end_ = 0;
  /// The last read filled its whole buffer: more is probably waiting.
  bool backlog_ = false;
  std::chrono::steady_clock::duration teardown_limit_{0};
  size_t read_limit_ = 0;
  /// Bytes handed to reads since `read_limit` was set.
  size_t read_count_ = 0;
};

/// Writes what was gathered, then tears down the stream below. Beast may
/// answer a close frame from the server while the session's frames are
/// corked: the answer, and the acks gathered before it, go out first. With a
/// `teardown_limit`, both are bounded by it.
template <class Next, class Handler>
void async_teardown(boost::beast::role_type role, corked_stream<Next>& stream,
                    Handler&& handler) {
  using error_code = boost::system::error_code;
  // Shared by the timer and the steps of the teardown (all on the stream's
  // one thread).
  struct limit_state {
    explicit limit_state(typename Next::executor_type ex)
        : timer(std::move(ex)) {
      // nop
    }
    boost::asio::steady_timer timer;
    bool expired = false;
    bool done = false;
  };
  std::shared_ptr<limit_state> st;
  if (auto limit = stream.teardown_limit(); limit > limit.zero()) {
    st = std::make_shared<limit_state>(stream.next_layer().get_executor());
    st->timer.expires_after(limit);
    st->timer.async_wait([st, &stream](error_code ec) {
      // `done`: the teardown ended first, and the stream may be gone.
      if (ec || st->done)
        return;
      st->expired = true;
      // The pending step fails; the teardown then counts as done.
      auto& socket = boost::beast::get_lowest_layer(stream);
      error_code ignored;
      socket.shutdown(boost::asio::socket_base::shutdown_both, ignored);
      socket.close(ignored);
    });
  }
  stream.async_flush(boost::asio::bind_executor(
      stream.get_executor(),
      [role, &stream, st,
       handler = std::forward<Handler>(handler)](error_code) mutable {
        // Beast's teardown of a plain socket, or that of the stream below.
        using boost::beast::websocket::async_teardown;
        if (!st)
          return async_teardown(role, stream.next_layer(), std::move(handler));
        async_teardown(
            role, stream.next_layer(),
            boost::asio::bind_executor(
                stream.get_executor(),
                [st, handler = std::move(handler)](error_code ec) mutable {
                  st->done = true;
                  st->timer.cancel();
                  handler(st->expired ? error_code{} : ec);
                }));
      }));
}

} // namespace caf::rtm::net
