// The I/O side of one RTM WebSocket session, behind a non-template interface.
//
// The session reports to its connection actor with CAF messages: opened,
// frame batches, pongs, exactly one closed(error), and drained when asked.
// Frames are handed over in batches with one batch in flight: while the actor
// works on a batch, the next one fills up, and the actor returns the credit
// with `consumed()`. When too many bytes wait, reading pauses (backpressure up
// to the socket).

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/timespan.hpp>

#include "detail/interfaces.hpp"
#include "net/net_context.hpp"
#include "net/text_frames.hpp"
#include "net/url.hpp"

namespace caf::rtm::net {

struct ws_options {
  size_t max_message_size = size_t{16} * 1024 * 1024;
  /// Limit for the WebSocket handshake (the connect phase has its own).
  caf::timespan handshake_timeout = std::chrono::seconds{10};
  /// Limit for the close handshake before the socket is closed anyway.
  caf::timespan close_timeout = std::chrono::seconds{2};
  /// How long after the socket was closed a read or write the WebSocket
  /// layer still holds may take before the session ends without it.
  caf::timespan abandon_grace = std::chrono::seconds{1};
  /// Bytes waiting for the actor before reading pauses.
  size_t max_buffered_bytes = size_t{2} * 1024 * 1024;
  /// Records when each text frame was read (`frame_batch::read_at`).
  bool time_frames = false;
};

/// What a frame costs besides its payload (its size entry, its parse, the
/// slot of its event or envelope), counted against `max_buffered_bytes` and
/// the batch size: a flood of empty frames must reach those limits too.
constexpr size_t frame_overhead = 16;

class ws_client {
public:
  virtual ~ws_client();

  /// Queues one text frame. A frame with an `id` (an RTM message) that is
  /// never written comes back to the owner as (unsent, [id, ...]).
  virtual void send_text(std::string text, int64_t id = 0) = 0;

  /// Queues text frames, in this order, ahead of every frame not yet being
  /// written (Socket Mode acks must not wait behind other traffic). One call
  /// per batch: one hand-over to the I/O thread for all of its acks.
  virtual void send_texts_first(text_frames texts) = 0;

  /// Queues a ping frame (payload at most 125 bytes).
  virtual void send_ping(std::string payload) = 0;

  /// Sends a close frame after the queued frames, waits for the server's
  /// close frame (bounded by close_timeout), then closes the socket.
  virtual void close(uint16_t code) = 0;

  /// Closes the socket at once; the session then reports `reason`.
  virtual void abort(caf::error reason) = 0;

  /// The actor finished the batch it was given.
  virtual void consumed() = 0;

  /// Answers (drained) once every call made before this one was handled.
  /// After closed, calls still on their way to the I/O thread report their
  /// messages as unsent; the actor waits for this before it ends, so that
  /// those reports find it.
  virtual void drain() = 0;
};

using ws_client_ptr = std::shared_ptr<ws_client>;

/// Starts connecting to `url` (ws:// or wss://); all calls are thread-safe.
ws_client_ptr start_ws_client(const net_context& ctx, const endpoint_url& url,
                              const ws_options& opts,
                              detail::io_sink_actor owner);

// Defined in plain_streams.cpp and tls_streams.cpp.
ws_client_ptr start_plain_ws_client(const net_context& ctx,
                                    const endpoint_url& url,
                                    const ws_options& opts,
                                    detail::io_sink_actor owner);
ws_client_ptr start_tls_ws_client(const net_context& ctx,
                                  const endpoint_url& url,
                                  const ws_options& opts,
                                  detail::io_sink_actor owner);

} // namespace caf::rtm::net
