// See cleanup.h. Slots are filled by normal code and read by the handler: a slot's path is
// written before its flag is set, and the flag is cleared before the path is reused.
#include "cleanup.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace xinhe::bench {
namespace {

constexpr int kMaxFiles = 64;
constexpr int kMaxPath = 512;
constexpr int kMaxChildren = 8;

struct FileSlot {
  volatile sig_atomic_t used = 0;
  char path[kMaxPath] = {};
};
FileSlot g_files[kMaxFiles];
volatile pid_t g_children[kMaxChildren] = {};

void on_signal(int sig) {
  for (volatile pid_t& pid : g_children)
    if (pid > 0) kill(pid, sig);
  // Give the children up to 3 s to remove their own files and exit.
  for (volatile pid_t& pid : g_children) {
    for (int tries = 0; pid > 0 && tries < 300; ++tries) {
      if (waitpid(pid, nullptr, WNOHANG) != 0) break;
      const timespec ten_ms{0, 10 * 1000 * 1000};
      nanosleep(&ten_ms, nullptr);
    }
  }
  for (FileSlot& f : g_files)
    if (f.used) unlink(f.path);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void install_cleanup_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

void track_temp_file(const std::string& path) {
  if (path.size() >= kMaxPath) return;  // mkstemp paths under TMPDIR; not expected
  for (FileSlot& f : g_files) {
    if (f.used) continue;
    std::memcpy(f.path, path.c_str(), path.size() + 1);
    f.used = 1;
    return;
  }
}

void forget_temp_file(const std::string& path) {
  for (FileSlot& f : g_files)
    if (f.used && path == f.path) f.used = 0;
}

void track_child(pid_t pid) {
  for (volatile pid_t& p : g_children) {
    if (p <= 0) {
      p = pid;
      return;
    }
  }
}

void forget_child(pid_t pid) {
  for (volatile pid_t& p : g_children)
    if (p == pid) p = 0;
}

std::string make_temp_file(const std::string& stem) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = fmt::format("{}/{}-XXXXXX", dir != nullptr && *dir ? dir : "/tmp", stem);
  install_cleanup_handler();
  const int fd = mkstemp(path.data());
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("cannot create a temporary file {}: {}", path, std::strerror(errno)));
  close(fd);
  track_temp_file(path);
  return path;
}

}  // namespace xinhe::bench
