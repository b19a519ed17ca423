// Invariant checks of the fuzz targets. A violated invariant aborts: libFuzzer
// then keeps the input as a reproducer, and the message says which invariant
// broke and on what value.

#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace caf::rtm::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what,
                              std::string_view detail) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s", file, line, what);
  if (!detail.empty()) {
    // Escaped, so control characters in the offending value stay visible.
    std::fputs(" [", stderr);
    for (unsigned char c : detail) {
      if (c < 0x20 || c >= 0x7f || c == '\\')
        std::fprintf(stderr, "\\x%02x", c);
      else
        std::fputc(c, stderr);
    }
    std::fputc(']', stderr);
  }
  std::fputc('\n', stderr);
  std::abort();
}

/// Keeps the compiler from dropping reads whose result is otherwise unused.
inline volatile size_t sink;

/// Reads every byte of `x`, so that AddressSanitizer sees a view that points
/// into freed or foreign memory.
inline void touch(std::string_view x) {
  size_t sum = x.size();
  for (unsigned char c : x)
    sum = sum * 31 + c;
  sink = sink + sum;
}

/// True if `x` contains bytes that cannot be in a host name or a header line:
/// controls, space, DEL.
inline bool has_control_or_space(std::string_view x) {
  for (unsigned char c : x)
    if (c <= 0x20 || c == 0x7f)
      return true;
  return false;
}

/// Another token of the same shape: letters and digits after the first five
/// characters rotated (an `xapp-` prefix and escape sequences stay intact).
/// A message that shows a token with the original but not with the disguise
/// shows the token; one that shows it with both merely contains text that
/// looks like it (an option name, another value).
inline std::string disguise(std::string token) {
  for (size_t i = 5; i < token.size(); ++i) {
    if (token[i - 1] == '\\')
      continue;
    auto& c = token[i];
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>('a' + (c - 'a' + 1) % 26);
    else if (c >= 'A' && c <= 'Z')
      c = static_cast<char>('A' + (c - 'A' + 1) % 26);
    else if (c >= '0' && c <= '9')
      c = static_cast<char>('0' + (c - '0' + 1) % 10);
  }
  return token;
}

} // namespace caf::rtm::fuzz

#define CAF_RTM_FUZZ_CHECK(cond)                                               \
  do {                                                                         \
    if (!(cond))                                                               \
      ::caf::rtm::fuzz::fail(__FILE__, __LINE__, #cond, {});                   \
  } while (false)

/// Like CAF_RTM_FUZZ_CHECK, printing `detail` (the offending value) too.
#define CAF_RTM_FUZZ_CHECK_MSG(cond, detail)                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      ::caf::rtm::fuzz::fail(__FILE__, __LINE__, #cond, (detail));             \
  } while (false)
