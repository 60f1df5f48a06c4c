// Reading files xinhe did not write (plugins, kernel-cache entries, tuning databases) without
// letting them hang or exhaust the process: the open never blocks (a FIFO or a device named
// like the file is refused, not waited on), only regular files are accepted, and nothing larger
// than the caller's limit is read. Header-only, so plugins use it without linking libxinhe.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace xinhe::util {

enum class FileProblem {
  kNone = 0,
  kMissing,     // no such file (ENOENT): a plain miss for caches
  kNotRegular,  // FIFO, directory, device, socket
  kTooLarge,    // larger than the caller's limit
  kUnreadable,  // permission, I/O error, or the file changed while it was read
};

// "FIFO", "directory", "character device"...: what a non-regular file is, for messages.
inline const char* file_kind_name(mode_t mode) {
  if (S_ISDIR(mode)) return "directory";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISLNK(mode)) return "symbolic link";
  return "special file";
}

// Opens path read-only without blocking and checks it is a regular file of at most max_bytes.
// Returns the descriptor (close it) with *out_size and *out_stat, or -1 with *problem and
// *error ("'<path>' is a FIFO, not a regular file"). Symbolic links are followed.
inline int open_regular_file(const std::string& path, uint64_t max_bytes, uint64_t* out_size,
                             FileProblem* problem, std::string* error,
                             struct stat* out_stat = nullptr) {
  *problem = FileProblem::kNone;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int saved = errno;
    *problem = saved == ENOENT ? FileProblem::kMissing : FileProblem::kUnreadable;
    *error = "cannot open '" + path + "': " + std::strerror(saved);
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    *problem = FileProblem::kUnreadable;
    *error = "cannot stat '" + path + "': " + std::strerror(saved);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    *problem = FileProblem::kNotRegular;
    *error = "'" + path + "' is a " + file_kind_name(st.st_mode) + ", not a regular file";
    return -1;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    *problem = FileProblem::kTooLarge;
    *error = "'" + path + "' has " + std::to_string(size) + " bytes, more than the " +
             std::to_string(max_bytes) + " accepted";
    return -1;
  }
  *out_size = size;
  if (out_stat != nullptr) *out_stat = st;
  return fd;
}

// Reads exactly size bytes from fd at its current position; false when fewer arrive.
inline bool read_exact(int fd, void* data, uint64_t size) {
  auto* p = static_cast<unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size > (1u << 30) ? (1u << 30) : static_cast<size_t>(size));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<uint64_t>(n);
  }
  return true;
}

// The whole of a regular file of at most max_bytes, into *out. A file that shrinks or grows
// while it is read is reported as unreadable rather than returned in part.
inline bool read_regular_file(const std::string& path, uint64_t max_bytes, std::string* out,
                              FileProblem* problem, std::string* error) {
  uint64_t size = 0;
  const int fd = open_regular_file(path, max_bytes, &size, problem, error);
  if (fd < 0) return false;
  std::string data(static_cast<size_t>(size), '\0');
  bool ok = read_exact(fd, data.data(), size);
  char extra = 0;
  if (ok) {
    ssize_t n;
    do {
      n = ::read(fd, &extra, 1);
    } while (n < 0 && errno == EINTR);
    ok = n == 0;
  }
  ::close(fd);
  if (!ok) {
    *problem = FileProblem::kUnreadable;
    *error = "'" + path + "' changed size while it was read";
    return false;
  }
  *out = std::move(data);
  return true;
}

}  // namespace xinhe::util
