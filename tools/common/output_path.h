// Checking an output path before the work that fills it, so that a typo in a folder name is an
// error at start instead of after a long run.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace xinhe::tools {

// Empty when path can be written (created, or replaced if it exists); else why not.
inline std::string output_path_problem(const std::string& path) {
  if (path.empty()) return "the output path is empty";
  if (path.back() == '/') return "'" + path + "' names a folder, not a file";
  const size_t slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    return "cannot write into the folder of '" + path + "': " + std::strerror(errno);
  }
  if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), W_OK) != 0) {
    return "cannot write '" + path + "': " + std::strerror(errno);
  }
  return "";
}

}  // namespace xinhe::tools
