#include "caf/rtm/testing/process_stats.hpp"

#include <dirent.h>
#include <malloc.h>
#include <unistd.h>

#include <fstream>

namespace caf::rtm::testing {

std::size_t thread_count() {
  std::size_t n = 0;
  if (auto* dir = opendir("/proc/self/task")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    closedir(dir);
  }
  return n;
}

std::size_t resident_bytes(bool trim) {
  if (trim)
    malloc_trim(0);
  std::ifstream in{"/proc/self/statm"};
  std::size_t pages = 0;
  std::size_t resident = 0;
  in >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

} // namespace caf::rtm::testing
