// Text from the network (error messages, close reasons) on its way to a log
// line or an error rendering: control characters are shown as \xNN, so a
// hostile server cannot forge log lines or drive a terminal.

#pragma once

#include <string>
#include <string_view>

namespace caf::rtm::detail {

inline std::string printable(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  result.reserve(text.size());
  for (auto c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      result += "\\x";
      result += hex[u >> 4];
      result += hex[u & 0xf];
    } else {
      result += c;
    }
  }
  return result;
}

} // namespace caf::rtm::detail
