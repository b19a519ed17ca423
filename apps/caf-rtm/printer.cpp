#include "caf-rtm/printer.hpp"

#include <cstdio>
#include <utility>

#include <caf/send.hpp>

#include "caf-rtm/driver.hpp"

namespace caf::rtm::cli {

namespace {

bool is_one_line(std::string_view text) {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

template <class T>
std::string compact_line(const T& x) {
  auto raw = x.raw();
  return is_one_line(raw) ? std::string{raw} : x.to_json();
}

} // namespace

std::string line_of(const event& x) {
  return compact_line(x);
}

std::string line_of(const envelope& x) {
  return compact_line(x);
}

printer::printer(std::vector<std::string> events, uint64_t count)
    : events_(std::move(events)), count_(count) {
  // Lines go out in blocks of 64 KB under a flood (the driver flushes what
  // is buffered at most once per millisecond, and at once after a quiet
  // spell, so a quiet stream shows each line at once).
  std::setvbuf(stdout, nullptr, _IOFBF, size_t{64} * 1024);
}

void printer::notify(caf::actor driver) {
  driver_ = std::move(driver);
}

void printer::print(const event& x) {
  print_matching(x);
}

void printer::print(const envelope& x) {
  print_matching(x);
}

// The frame as received when it is one line already: written straight from
// the event or envelope, without a copy.
template <class T>
void printer::print_matching(const T& x) {
  if (!matches(events_, x))
    return;
  if (is_one_line(x.raw()))
    print_line(x.raw());
  else
    print_line(x.to_json());
}

void printer::print_line(std::string_view line) {
  if (failed_.load(std::memory_order_relaxed))
    return;
  auto n = printed_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (count_ > 0 && n > count_)
    return;
  // Blocks while the pipe is full: the backpressure this class is for.
  // The line and its newline under one lock, so the driver's own lines
  // (--send results) never cut in between.
  flockfile(stdout);
  if (fwrite_unlocked(line.data(), 1, line.size(), stdout) != line.size() ||
      fputc_unlocked('\n', stdout) == EOF)
    failed_ = true;
  funlockfile(stdout);
  if (count_ > 0 && n == count_)
    caf::anon_send(driver_, enough_atom_v);
  else if (!flush_pending_.exchange(true))
    caf::anon_send(driver_, caf::flush_atom_v);
}

bool printer::flush() {
  flush_pending_ = false;
  if (std::fflush(stdout) != 0)
    failed_ = true;
  return !failed_;
}

uint64_t printer::printed() const noexcept {
  auto n = printed_.load(std::memory_order_relaxed);
  return count_ > 0 && n > count_ ? count_ : n;
}

} // namespace caf::rtm::cli
