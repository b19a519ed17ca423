// Byte-level helpers of the fake Slack: WebSocket frames (RFC 6455), the
// opening handshake key and random tokens. Plain C++ plus OpenSSL's
// libcrypto, so that the Beast translation units stay small.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace caf::rtm::testing::detail {

/// WebSocket opcodes.
enum opcode : uint8_t {
  op_continuation = 0x0,
  op_text = 0x1,
  op_binary = 0x2,
  op_close = 0x8,
  op_ping = 0x9,
  op_pong = 0xA,
};

/// Appends one encoded frame to `out` (avoids a temporary per frame when
/// flooding).
void append_frame(std::string& out, uint8_t opcode, std::string_view payload,
                  bool fin = true, bool mask = false);

/// The payload of a close frame: the code in network order plus the reason.
std::string close_payload(uint16_t code, std::string_view reason);

/// `Sec-WebSocket-Accept` for a given `Sec-WebSocket-Key`.
std::string websocket_accept(std::string_view key);

/// `n` random bytes as lower-case hex.
std::string random_hex(std::size_t n);

/// Prints `what: msg` to stderr when CAF_RTM_FAKE_SLACK_TRACE is set (the
/// fake swallows connection errors, which is right for tests but not while
/// debugging one).
void trace(std::string_view what, std::string_view msg);

/// A message or control frame decoded from the client.
struct client_event {
  /// `op_text`, `op_binary`, `op_close`, `op_ping` or `op_pong`.
  uint8_t opcode = 0;
  /// Unmasked payload; for text and binary the reassembled message.
  std::string payload;
};

/// Incremental decoder of client-to-server frames. Enforces what RFC 6455
/// requires from clients (masking, no reserved bits, valid opcodes, short and
/// unfragmented control frames) and a size limit per message.
class frame_reader {
public:
  enum class status {
    /// `next` filled in an event.
    event,
    /// More bytes needed.
    need_more,
    /// The client broke the protocol; `error()` says how.
    violation,
  };

  explicit frame_reader(std::size_t max_message = std::size_t{16} << 20);

  /// Appends received bytes.
  void feed(const char* data, std::size_t size);

  /// Decodes the next complete event from the buffered bytes.
  status next(client_event& ev);

  const std::string& error() const {
    return error_;
  }

private:
  status fail(const char* what);

  std::size_t max_message_;
  std::string buf_;
  std::size_t pos_ = 0;
  /// Opcode of the fragmented message in progress (0 if none).
  uint8_t partial_opcode_ = 0;
  std::string partial_;
  std::string error_;
};

} // namespace caf::rtm::testing::detail
