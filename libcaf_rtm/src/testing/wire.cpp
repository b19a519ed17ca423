#include "wire.hpp"

#include "detail/base64.hpp"

#include "caf/rtm/testing/fake_slack.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <stdexcept>

namespace caf::rtm::testing {

namespace detail {

namespace {

// Masking keys only need to be unpredictable enough for a test peer.
uint32_t mask_key() {
  thread_local std::mt19937 gen{std::random_device{}()};
  return static_cast<uint32_t>(gen());
}

} // namespace

void append_frame(std::string& out, uint8_t opcode, std::string_view payload,
                  bool fin, bool mask) {
  auto n = payload.size();
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0x0F)));
  auto mask_bit = static_cast<uint8_t>(mask ? 0x80 : 0x00);
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(
          static_cast<char>((static_cast<uint64_t>(n) >> shift) & 0xFF));
  }
  if (!mask) {
    out.append(payload.data(), n);
    return;
  }
  auto key = mask_key();
  char k[4];
  for (int i = 0; i < 4; ++i)
    k[i] = static_cast<char>((key >> (8 * i)) & 0xFF);
  out.append(k, 4);
  auto offset = out.size();
  out.append(payload.data(), n);
  for (std::size_t i = 0; i < n; ++i)
    out[offset + i] = static_cast<char>(out[offset + i] ^ k[i % 4]);
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string result;
  result.push_back(static_cast<char>(code >> 8));
  result.push_back(static_cast<char>(code & 0xFF));
  // Control frames carry at most 125 bytes.
  result.append(reason.substr(0, 123));
  return result;
}

std::string websocket_accept(std::string_view key) {
  std::string input{key};
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(),
                 nullptr) != 1)
    throw std::runtime_error("SHA-1 failed");
  return rtm::detail::base64(
      std::string_view{reinterpret_cast<const char*>(digest), digest_len});
}

std::string random_hex(std::size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()),
                 static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (auto c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0F]);
  }
  return out;
}

void trace(std::string_view what, std::string_view msg) {
  static const bool enabled =
      std::getenv("CAF_RTM_FAKE_SLACK_TRACE") != nullptr;
  if (enabled)
    std::cerr << "fake_slack: " << what << ": " << msg << std::endl;
}

// -- frame_reader -------------------------------------------------------------

frame_reader::frame_reader(std::size_t max_message)
    : max_message_(max_message) {
  // nop
}

void frame_reader::feed(const char* data, std::size_t size) {
  // Drop consumed bytes before growing, so a long session does not keep
  // every frame it ever received.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 65536)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, size);
}

frame_reader::status frame_reader::fail(const char* what) {
  error_ = what;
  return status::violation;
}

frame_reader::status frame_reader::next(client_event& ev) {
  for (;;) {
    auto avail = buf_.size() - pos_;
    if (avail < 2)
      return status::need_more;
    auto p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    bool fin = (p[0] & 0x80) != 0;
    if ((p[0] & 0x70) != 0)
      return fail("reserved bits set");
    uint8_t op = p[0] & 0x0F;
    bool masked = (p[1] & 0x80) != 0;
    uint64_t len = p[1] & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4)
        return status::need_more;
      len = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10)
        return status::need_more;
      len = 0;
      for (int i = 2; i < 10; ++i)
        len = (len << 8) | p[i];
      header = 10;
      if (len >> 63)
        return fail("invalid 64-bit length");
    }
    bool control = (op & 0x08) != 0;
    switch (op) {
    case op_continuation:
    case op_text:
    case op_binary:
    case op_close:
    case op_ping:
    case op_pong:
      break;
    default:
      return fail("unknown opcode");
    }
    if (control && (!fin || len > 125))
      return fail("fragmented or oversized control frame");
    if (!masked)
      return fail("unmasked client frame");
    // Check sizes from the header alone: a client announcing a huge payload
    // must not make the fake wait for (or buffer) it.
    if (!control && len + partial_.size() > max_message_)
      return fail("message too big");
    if (op == op_continuation && partial_opcode_ == 0)
      return fail("continuation without a message");
    if ((op == op_text || op == op_binary) && partial_opcode_ != 0)
      return fail("new message inside a fragmented one");
    header += 4;
    if (avail < header + len)
      return status::need_more;
    auto key = p + header - 4;
    auto data = p + header;
    auto n = static_cast<std::size_t>(len);
    std::string payload(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
      payload[i] = static_cast<char>(data[i] ^ key[i % 4]);
    pos_ += header + n;
    if (control) {
      if (op == op_close && n == 1)
        return fail("close frame with a one-byte payload");
      ev.opcode = op;
      ev.payload = std::move(payload);
      return status::event;
    }
    if (op != op_continuation && fin) {
      ev.opcode = op;
      ev.payload = std::move(payload);
      return status::event;
    }
    if (op != op_continuation)
      partial_opcode_ = op;
    partial_ += payload;
    if (fin) {
      ev.opcode = partial_opcode_;
      ev.payload = std::move(partial_);
      partial_.clear();
      partial_opcode_ = 0;
      return status::event;
    }
  }
}

} // namespace detail

std::string encode_frame(uint8_t opcode, const std::string& payload, bool fin,
                         bool mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  detail::append_frame(out, opcode, payload, fin, mask);
  return out;
}

} // namespace caf::rtm::testing
