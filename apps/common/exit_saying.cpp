#include "common/exit_saying.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

namespace caf::rtm::cli {

void exit_saying(const std::string& line, int code) {
  auto written = std::make_shared<std::promise<void>>();
  auto done = written->get_future();
  try {
    std::thread{[line, written] {
      for (size_t at = 0; at < line.size();) {
        auto n = ::write(STDERR_FILENO, line.data() + at, line.size() - at);
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0)
          break;
        at += static_cast<size_t>(n);
      }
      written->set_value();
    }}.detach();
    done.wait_for(std::chrono::seconds{1});
  } catch (...) {
    // No thread to spare: exit without the line.
  }
  std::_Exit(code);
}

} // namespace caf::rtm::cli
