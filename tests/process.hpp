// Runs a program as a child process with pipes on stdin, stdout and stderr,
// for black-box tests of the command-line programs.

#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace caf::rtm::test {

/// Where a child's stdout goes.
struct stdout_to {
  enum kind {
    /// A pipe the test reads (`out()`).
    captured,
    /// A pipe nobody reads: the child's writes block once it is full.
    unread,
    /// The file at `path` (`/dev/full`, say).
    file,
  };
  kind to = captured;
  std::string path;
};

class process {
public:
  /// Starts `exe` with `args`; `env` entries ("NAME=value") are added to (or
  /// replace) the test's environment.
  process(const std::string& exe, const std::vector<std::string>& args,
          const std::vector<std::string>& env = {}, stdout_to out = {});
  ~process();

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  void write(const std::string& data);
  /// Writes as much of `data` as the child takes within `timeout`; the bytes
  /// written.
  size_t write_for(const std::string& data, std::chrono::milliseconds timeout);
  void close_stdin();
  void signal(int sig);

  /// Waits for the exit; the exit code, 128 + signal, or -1 on timeout (the
  /// child is then killed).
  int wait(std::chrono::milliseconds timeout);

  std::string out() const;
  std::string err() const;
  /// Lines of stdout so far (complete lines only).
  std::vector<std::string> out_lines() const;
  bool wait_out_lines(size_t n, std::chrono::milliseconds timeout) const;
  bool wait_err_contains(const std::string& needle,
                         std::chrono::milliseconds timeout) const;
  /// An unread stdout: waits until its pipe is full (the child's next write
  /// blocks), or holds at least half its capacity and has taken nothing for
  /// 300 ms (writes of part of a page leave the rest of the page unused).
  bool wait_stdout_full(std::chrono::milliseconds timeout) const;

private:
  void drain(int fd, std::string& sink);

  pid_t pid_ = -1;
  int in_ = -1;
  /// The read end of an unread stdout, closed once the child is gone.
  int unread_out_ = -1;
  int exit_ = -2;
  mutable std::mutex mtx_;
  std::string out_;
  std::string err_;
  std::thread out_reader_;
  std::thread err_reader_;
};

} // namespace caf::rtm::test
