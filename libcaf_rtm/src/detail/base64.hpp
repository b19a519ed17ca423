// Base64 (RFC 4648) with OpenSSL's encoder: proxy credentials, and the fake
// Slack's WebSocket handshake.

#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace caf::rtm::detail {

inline std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  auto len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

} // namespace caf::rtm::detail
