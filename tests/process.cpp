#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace caf::rtm::test {

process::process(const std::string& exe, const std::vector<std::string>& args,
                 const std::vector<std::string>& env, stdout_to stdout_dest) {
  int in[2];
  int out[2];
  int err[2];
  if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0)
    throw std::runtime_error("pipe failed");
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry{*e};
    auto name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (auto& x : env)
      if (x.substr(0, x.find('=')) == name)
        replaced = true;
    if (!replaced)
      envs.push_back(entry);
  }
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(envs.size() + 1);
  for (auto& e : envs)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in[0], STDIN_FILENO);
    if (stdout_dest.to == stdout_to::file) {
      auto fd = ::open(stdout_dest.path.c_str(), O_WRONLY);
      if (fd < 0)
        _exit(126);
      dup2(fd, STDOUT_FILENO);
    } else {
      dup2(out[1], STDOUT_FILENO);
    }
    dup2(err[1], STDERR_FILENO);
    // Nothing of the test (sockets of the fake server) leaks into the child.
    for (int fd = 3; fd < 4096; ++fd)
      ::close(fd);
    // The test runner may block signals; the child starts with none blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(exe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  if (stdout_dest.to == stdout_to::unread)
    unread_out_ = out[0];
  else
    out_reader_ = std::thread{[this, fd = out[0]] {
      drain(fd, out_);
    }};
  err_reader_ = std::thread{[this, fd = err[0]] {
    drain(fd, err_);
  }};
}

process::~process() {
  if (exit_ == -2)
    wait(std::chrono::milliseconds{0});
  close_stdin();
  if (unread_out_ >= 0)
    ::close(unread_out_);
  if (out_reader_.joinable())
    out_reader_.join();
  if (err_reader_.joinable())
    err_reader_.join();
}

void process::drain(int fd, std::string& sink) {
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    std::lock_guard<std::mutex> guard{mtx_};
    sink.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
}

void process::write(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(in_, data.data() + done, data.size() - done);
    if (n <= 0)
      return;
    done += static_cast<size_t>(n);
  }
}

size_t process::write_for(const std::string& data,
                          std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t done = 0;
  while (in_ >= 0 && done < data.size()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd pfd{in_, POLLOUT, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
      continue;
    // Non-blocking: a pipe with room for less than the rest takes part.
    auto flags = ::fcntl(in_, F_GETFL);
    ::fcntl(in_, F_SETFL, flags | O_NONBLOCK);
    auto n = ::write(in_, data.data() + done, data.size() - done);
    ::fcntl(in_, F_SETFL, flags);
    if (n > 0)
      done += static_cast<size_t>(n);
    else if (n < 0 && errno != EAGAIN)
      break;
  }
  return done;
}

void process::close_stdin() {
  if (in_ >= 0) {
    ::close(in_);
    in_ = -1;
  }
}

void process::signal(int sig) {
  if (exit_ == -2)
    ::kill(pid_, sig);
}

int process::wait(std::chrono::milliseconds timeout) {
  if (exit_ != -2)
    return exit_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    auto r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_)
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      exit_ = -1;
      if (out_reader_.joinable())
        out_reader_.join();
      if (err_reader_.joinable())
        err_reader_.join();
      return exit_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // Everything the child wrote is read before anyone looks at it.
  if (out_reader_.joinable())
    out_reader_.join();
  if (err_reader_.joinable())
    err_reader_.join();
  return exit_;
}

std::string process::out() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return out_;
}

std::string process::err() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return err_;
}

std::vector<std::string> process::out_lines() const {
  auto text = out();
  std::vector<std::string> lines;
  size_t pos = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos;
       nl = text.find('\n', pos)) {
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

namespace {

// Polls `done` every 5 ms until it holds (true) or `timeout` is over.
template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

} // namespace

bool process::wait_out_lines(size_t n,
                             std::chrono::milliseconds timeout) const {
  return wait_until([&] { return out_lines().size() >= n; }, timeout);
}

bool process::wait_err_contains(const std::string& needle,
                                std::chrono::milliseconds timeout) const {
  return wait_until([&] { return err().find(needle) != std::string::npos; },
                    timeout);
}

bool process::wait_stdout_full(std::chrono::milliseconds timeout) const {
  if (unread_out_ < 0)
    return false;
  auto capacity = ::fcntl(unread_out_, F_GETPIPE_SZ);
  // Writes that do not fill whole pages leave part of each page of the pipe
  // unused: a pipe that holds at least half its capacity and takes nothing
  // more for 300 ms is full too.
  int last = -1;
  auto since = std::chrono::steady_clock::now();
  return wait_until(
      [&] {
        int waiting = 0;
        if (::ioctl(unread_out_, FIONREAD, &waiting) != 0 || capacity <= 0)
          return false;
        if (waiting >= capacity)
          return true;
        auto now = std::chrono::steady_clock::now();
        if (waiting != last) {
          last = waiting;
          since = now;
          return false;
        }
        return waiting >= capacity / 2 &&
               now - since >= std::chrono::milliseconds{300};
      },
      timeout);
}

} // namespace caf::rtm::test
