// A child process with pipes to its standard input and output, for tests that kill a real process or
// need a second one.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace strata::testing {

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `argv[0]` with `argv`; throws std::runtime_error if it cannot.
  explicit ChildProcess(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("posix_spawn " + argv[0] + " failed");
    }
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      kill_hard();
      (void)wait();
    }
    close_stdin();
    if (stdout_ >= 0) ::close(stdout_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Appends to `out` what the child writes until `deadline` or until it closes its output; returns
  // false when the output was closed.
  bool read_until(Clock::time_point deadline, std::string& out) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return true;
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buffer[65536];
      const ssize_t n = ::read(stdout_, buffer, sizeof buffer);
      if (n <= 0) return false;
      out.append(buffer, static_cast<std::size_t>(n));
    }
  }
  // Appends everything the child wrote until it closed its output (after it died, all of it).
  void read_to_end(std::string& out) {
    char buffer[65536];
    for (ssize_t n; (n = ::read(stdout_, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
  }

  void kill_hard() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  // Whether the child still runs (false once it ended, by itself or killed; its status is then kept).
  bool running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, &status_, WNOHANG) == 0) return true;
    pid_ = -1;
    return false;
  }
  // The child's wait status.
  int wait() {
    if (pid_ > 0) waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  int stdin_ = -1;
  int stdout_ = -1;
};

}  // namespace strata::testing
