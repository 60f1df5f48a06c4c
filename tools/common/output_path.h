// Checking an output path before the work that fills it, so that a typo in a folder name is an
// error at start instead of after a long run. The file itself is not created here.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace xinhe::tools {

// Empty when path can be written (created, or replaced if it exists); else why not.
inline std::string output_path_problem(const std::string& path) {
  if (path.empty()) return "the output path is empty";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return "'" + path + "' is a folder";
    if (::access(path.c_str(), W_OK) != 0) {
      return "cannot write '" + path + "': " + std::strerror(errno);
    }
    return "";
  }
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : path.substr(0, slash);
  if (::stat(folder.c_str(), &st) != 0) {
    return "folder '" + folder + "' of '" + path + "': " + std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "'" + folder + "' (in '" + path + "') is not a folder";
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return "cannot create files in '" + folder + "': " + std::strerror(errno);
  }
  return "";
}

}  // namespace xinhe::tools
