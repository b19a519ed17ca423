// The fake Slack in a child process: the hidden serve mode and the parent's
// handle on it.

#include "bench/bench.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace caf::rtm::bench {

int serve_main(bool tls) {
  testing::fake_slack_options opts;
  opts.tls = tls;
  // Every idle Socket Mode client is an app of its own, but the fake knows
  // one app: it would turn the eleventh connection away as Slack does.
  opts.max_socket_mode_connections = std::numeric_limits<std::size_t>::max();
  testing::fake_slack srv{opts};
  auto ep = endpoint_of(srv);
  std::printf("%s\n%s\n%s\n%s\n", ep.base_url.c_str(), ep.token.c_str(),
              ep.ca_file.empty() ? "-" : ep.ca_file.c_str(),
              ep.app_token.c_str());
  std::fflush(stdout);
  char buf[256];
  while (::read(STDIN_FILENO, buf, sizeof(buf)) > 0) {
    // Lives until the parent closes the pipe (or dies).
  }
  return 0;
}

namespace {

std::string self_path() {
  char buf[PATH_MAX];
  auto n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

std::string read_line(FILE* in) {
  std::string line;
  for (int c = std::fgetc(in); c != EOF && c != '\n'; c = std::fgetc(in))
    line += static_cast<char>(c);
  return line;
}

} // namespace

child_server::child_server(bool tls) {
  auto path = self_path();
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the child's stdin and stdout.
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::string serve = "--serve";
  std::string tls_flag = "--tls";
  std::vector<char*> argv{path.data(), serve.data()};
  if (tls)
    argv.push_back(tls_flag.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  auto rc =
      posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    throw std::runtime_error("cannot start the fake Slack process");
  }
  pid_ = pid;
  to_child_ = in[1];
  auto* from_child = ::fdopen(out[0], "r");
  ep_.base_url = read_line(from_child);
  ep_.token = read_line(from_child);
  ep_.ca_file = read_line(from_child);
  ep_.app_token = read_line(from_child);
  std::fclose(from_child);
  if (ep_.ca_file == "-")
    ep_.ca_file.clear();
  if (ep_.base_url.empty() || ep_.token.empty() || ep_.app_token.empty() ||
      (tls && ep_.ca_file.empty())) {
    stop();
    throw std::runtime_error("the fake Slack process did not start");
  }
}

child_server::~child_server() {
  stop();
}

void child_server::stop() {
  if (pid_ < 0)
    return;
  ::close(to_child_);
  // It ends as soon as it sees end of file; give it a few seconds to close
  // its sessions before insisting.
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(50ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

} // namespace caf::rtm::bench
