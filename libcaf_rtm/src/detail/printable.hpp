// Text from the network (error messages, close reasons) on its way to a log
// line or an error rendering: control characters are shown as \xNN, so a
// hostile server cannot forge log lines or drive a terminal. That includes
// the C1 controls in UTF-8 (U+0080 to U+009F, bytes C2 80 to C2 9F): some
// terminals take U+009B for an escape sequence's start.

#pragma once

#include <string>
#include <string_view>

namespace caf::rtm::detail {

inline std::string printable(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  result.reserve(text.size());
  auto escape = [&result](unsigned char u) {
    result += "\\x";
    result += hex[u >> 4];
    result += hex[u & 0xf];
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      escape(u);
    } else if (u == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80) {
      escape(u);
      escape(static_cast<unsigned char>(text[++i]));
    } else {
      result += text[i];
    }
  }
  return result;
}

} // namespace caf::rtm::detail
