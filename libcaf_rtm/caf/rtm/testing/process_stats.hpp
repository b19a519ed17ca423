// What tests and benchmarks measure of their own process: threads and
// resident memory, read from /proc (Linux).

#pragma once

#include <cstddef>

namespace caf::rtm::testing {

/// Threads of this process.
std::size_t thread_count();

/// Resident set size of this process in bytes. With `trim`, free heap pages
/// go back to the system first, so freed memory does not hide new
/// allocations.
std::size_t resident_bytes(bool trim = false);

} // namespace caf::rtm::testing
