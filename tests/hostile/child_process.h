// Runs a program as a child process under a watchdog, for tests whose failure mode on broken
// code is a hang or a crash: the child is killed after timeout_seconds, and the result says
// whether it exited, was killed by a signal or timed out, with its merged stdout/stderr and
// its peak memory (ru_maxrss).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace xinhe_hostile {

struct ChildResult {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  std::string output;  // stdout and stderr, interleaved
  long max_rss_kb = 0;
  bool exited_zero() const { return started && !timed_out && signal == 0 && exit_code == 0; }
  std::string describe() const {
    std::string s = timed_out     ? "timed out (killed by the watchdog)"
                    : signal != 0 ? "killed by signal " + std::to_string(signal)
                                  : "exit " + std::to_string(exit_code);
    return s + "; output:\n" + output;
  }
};

// env: variables to set (value) or remove (nullopt) on top of this process's environment.
inline ChildResult run_child(const std::vector<std::string>& argv,
                             const std::map<std::string, std::optional<std::string>>& env,
                             int timeout_seconds, const std::string& cwd = "") {
  ChildResult result;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env) {
    if (value) env_strings.push_back(name + "=" + *value);
  }
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  result.started = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left < 200 ? left : 200));
    if (ready > 0) {
      const ssize_t n = read(fds[0], buffer, sizeof(buffer));
      if (n > 0) {
        if (result.output.size() < (1u << 20)) result.output.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) break;  // every writer closed: the child is ending
    }
  }
  close(fds[0]);
  int status = 0;
  rusage usage;
  std::memset(&usage, 0, sizeof(usage));
  // After the pipe closed the child still has to exit; give it the rest of the time.
  for (;;) {
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline && !result.timed_out) {
      result.timed_out = true;
      kill(pid, SIGKILL);
    }
    usleep(10000);
  }
  result.max_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace xinhe_hostile
