// The caf-rtm tool in a pipe: the fake Slack floods small events into
// `caf-rtm --count N`, whose stdout is a pipe this process reads. A reader as
// fast as it gets gives the tool's events/s (next to the client -> actor row
// of the run); a reader that takes a few MB/s only shows that a pipe that
// cannot keep up slows the socket down instead of growing the tool's memory.
// Peak RSS is the child's own (VmHWM).

#include "bench/bench.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace caf::rtm::bench {

namespace {

// This environment without proxy settings: the fake is on loopback.
std::vector<std::string> environment_without_proxies() {
  std::vector<std::string> out;
  for (char** p = environ; *p != nullptr; ++p) {
    std::string entry = *p;
    std::string name = entry.substr(0, entry.find('='));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name.find("proxy") == std::string::npos && name.rfind("slack_", 0) != 0)
      out.push_back(std::move(entry));
  }
  return out;
}

// VmHWM (peak RSS) of a process, in KB; 0 once it is gone.
size_t high_water_kb(const std::string& status_path) {
  std::ifstream in{status_path};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return static_cast<size_t>(std::strtoull(line.c_str() + 6, nullptr, 10));
  return 0;
}

struct pipe_result {
  bool ok = false;
  double events_per_s = 0;
  double peak_rss_mb = 0;
};

// One run: spawns the tool, floods `events`, reads its stdout (sleeping
// `pause` after every read of at most `chunk` bytes) until it exits.
pipe_result run_tool(env& e, const std::string& tool, size_t events,
                     size_t chunk, std::chrono::microseconds pause,
                     const std::string& what) {
  pipe_result result;
  testing::fake_slack srv;
  auto ep = endpoint_of(srv);
  auto env = environment_without_proxies();
  auto child = spawn_with_stdout(
      {tool, "--token", ep.token, "--base-url", ep.base_url, "--count",
       std::to_string(events), "--log-level", "error"},
      &env);
  auto pid = child.pid;
  // Reads until EOF, counting lines; the clock stops at the last one.
  size_t lines = 0;
  clock_type::time_point last_line;
  std::thread reader{[&] {
    std::vector<char> buf(chunk);
    for (;;) {
      auto n = ::read(child.out, buf.data(), buf.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      auto k = std::count(buf.data(), buf.data() + n, '\n');
      if (k > 0) {
        lines += static_cast<size_t>(k);
        last_line = clock_type::now();
      }
      if (pause.count() > 0)
        std::this_thread::sleep_for(pause);
    }
  }};
  // The child's peak RSS is VmHWM in /proc, read until the child is gone:
  // wait4's ru_maxrss would count this process's RSS too (posix_spawn starts
  // the child on this process's memory, and Linux keeps that mark across the
  // exec).
  std::atomic<bool> exited{false};
  size_t peak_kb = 0;
  std::thread watcher{[&] {
    auto path = "/proc/" + std::to_string(pid) + "/status";
    while (!exited) {
      if (auto kb = high_water_kb(path); kb > peak_kb)
        peak_kb = kb;
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
  }};
  auto finish = [&] {
    int status = 0;
    // Waits without reaping first, so that the last VmHWM can still be read.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) <
               0 &&
           errno == EINTR) {
      // again
    }
    exited = true;
    watcher.join();
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      // again
    }
    reader.join();
    ::close(child.out);
    result.peak_rss_mb = static_cast<double>(peak_kb) / 1024.0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };
  clock_type::time_point t0;
  try {
    auto s = session_of(srv, 0);
    t0 = clock_type::now();
    s->flood(events, payload_set::maker(payload_set::small_events()));
  } catch (...) {
    ::kill(pid, SIGKILL);
    finish();
    throw;
  }
  auto code = finish();
  if (code != 0 || lines != events) {
    e.out.fail(what + ": the tool exited with " + std::to_string(code) +
               " after " + std::to_string(lines) + " of " +
               std::to_string(events) + " lines");
    return result;
  }
  result.ok = true;
  result.events_per_s =
      static_cast<double>(events) / seconds_between(t0, last_line);
  return result;
}

} // namespace

void run_cli_pipe(env& e) {
  const std::string section = "cli";
  auto tool = sibling_program("caf-rtm");
  if (tool.empty()) {
    e.out.note("caf-rtm in a pipe",
               "not run: no caf-rtm next to caf-rtm-bench");
    return;
  }
  auto n = e.opts.events;
  std::vector<double> rates;
  double peak = 0;
  for (size_t round = 0; round < e.opts.throughput_rounds; ++round) {
    auto res = run_tool(e, tool, n, size_t{64} * 1024,
                        std::chrono::microseconds{0}, "caf-rtm | fast reader");
    if (!res.ok)
      return;
    rates.push_back(res.events_per_s);
    peak = std::max(peak, res.peak_rss_mb);
  }
  auto rate = median(rates);
  auto label = "200 B: caf-rtm | reader";
  e.out.add("cli.pipe", section, label, rate, "ev/s", 0).samples = rates;
  double actor = 0;
  for (auto& r : e.out.rows())
    if (r.id == "throughput.small.actor")
      actor = r.value;
  if (actor > 0) {
    auto ratio = 100.0 * rate / actor;
    e.out.add_target("cli.pipe_ratio", section,
                     "200 B: caf-rtm | reader / client -> actor", ratio, "%", 1,
                     ">= 60 %", ratio >= 60.0);
  } else {
    e.out.note("caf-rtm | reader / client -> actor",
               "not computed: the client -> actor row comes from the "
               "throughput scenario (--only throughput,cli)");
  }
  e.out.add_target("cli.pipe_peak_rss", section, "caf-rtm | reader: peak RSS",
                   peak, "MB", 1, "<= 32 MB", peak <= 32.0);
  // A reader of 4 KB per millisecond (at most ~4 MB/s, ~20,000 lines/s):
  // the flood is far faster, so the socket has to wait for the pipe.
  auto slow_events = std::min<size_t>(n, 40000);
  auto slow =
      run_tool(e, tool, slow_events, 4096, std::chrono::microseconds{1000},
               "caf-rtm | slow reader");
  if (!slow.ok)
    return;
  e.out.add("cli.slow_pipe", section, "200 B: caf-rtm | slow reader (4 KB/ms)",
            slow.events_per_s, "ev/s", 0);
  e.out.add_target("cli.slow_pipe_peak_rss", section,
                   "caf-rtm | slow reader: peak RSS", slow.peak_rss_mb, "MB", 1,
                   "<= 32 MB", slow.peak_rss_mb <= 32.0);
}

} // namespace caf::rtm::bench
