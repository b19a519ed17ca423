// The programs' last resort: a line on stderr, then the end of the process,
// whatever else hangs.

#pragma once

#include <string>

namespace caf::rtm::cli {

/// Writes `line` to stderr and exits with `code` at once, without running
/// destructors or exit handlers (they may be what hangs). The line goes out
/// by a plain write on its own thread, bounded to a second: a stderr nobody
/// reads (or a thread that holds the stdio lock while blocked on it) must not
/// keep the process alive.
[[noreturn]] void exit_saying(const std::string& line, int code);

} // namespace caf::rtm::cli
