// Storing and claiming entries of the on-disk kernel caches (the OpenCL program cache, the
// Level Zero module cache).
//
// Stores: an entry is written to a temporary file in the same folder and renamed into place,
// so readers never see a partial entry and concurrent writers race to an identical result.
//
// Crash quarantine: A cached binary can pass every check and still crash the driver that loads it (a
// damaged binary resealed with a valid header, a driver bug). So a process claims an entry
// before its driver sees it: renames <entry> to <entry>.claimed.<pid>.<n>, and renames it back
// only once the driver accepted it. A process that dies in between leaves the claimed file
// behind, where nothing loads it again: the next process misses, rebuilds and stores a fresh
// entry. Claims older than kStaleClaimSeconds belong to processes that died; they are deleted
// when an entry of the same key is stored. Header-only, so backend plugins use it without
// linking libxinhe.
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <string>
#include <utility>

#include "bounded_file.h"

namespace xinhe::util {

// A claim older than this belongs to a process that died while its driver loaded the entry.
constexpr int64_t kStaleClaimSeconds = 600;

// Claims the entry at path. true: *claimed names the claimed file, which the caller loads and
// then hands to release_cache_claim (accepted) or removes (rejected). false: a plain miss or
// another process holds the claim (*why empty), or the entry cannot be claimed (*why says why:
// something other than a file in its place, or a failed rename). An empty folder in its place
// is debris and is removed (the entry can be stored again); anything else is left where it is.
inline bool claim_cache_entry(const std::string& path, std::string* claimed, std::string* why) {
  static std::atomic<uint64_t> counter{0};
  why->clear();
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return false;  // a plain miss (or claimed meanwhile)
  if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
    *why = "'" + path + "' is a " + file_kind_name(st.st_mode) + ", not a regular file";
    if (S_ISDIR(st.st_mode)) *why += rmdir(path.c_str()) == 0 ? " (empty: removed)" : " (left)";
    return false;
  }
  *claimed =
      path + ".claimed." + std::to_string(getpid()) + "." + std::to_string(counter.fetch_add(1));
  if (std::rename(path.c_str(), claimed->c_str()) != 0) {
    if (errno != ENOENT) *why = "cannot claim " + path + " (" + std::strerror(errno) + ")";
    return false;
  }
  // The claim's age is measured from now (rename keeps the entry's modification time).
  // A symbolic link's own time: remove_stale_claims reads it with lstat.
  utimensat(AT_FDCWD, claimed->c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
  return true;
}

// The driver accepted the claimed entry: put it back under path. Another process may have
// stored the same entry meanwhile; this one replaces it with identical content.
inline void release_cache_claim(const std::string& claimed, const std::string& path) {
  if (std::rename(claimed.c_str(), path.c_str()) != 0) std::remove(claimed.c_str());
}

enum class StoreResult {
  kStored,
  kEntrySkipped,  // something in this one entry's place (a folder, a busy file): skip it only
  kFolderFailed,  // the folder cannot take files (permissions, read-only or full file system)
};

// Writes the concatenation of parts to path atomically (see above). *why says what failed.
inline StoreResult store_cache_entry(const std::string& path,
                                     std::initializer_list<std::pair<const void*, size_t>> parts,
                                     std::string* why) {
  static std::atomic<uint64_t> counter{0};
  const std::string temp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter.fetch_add(1));
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) {
    *why = std::string("cannot create a file (") + std::strerror(errno) + ")";
    return StoreResult::kFolderFailed;
  }
  bool ok = true;
  for (const auto& [data, size] : parts) ok = ok && std::fwrite(data, 1, size, f) == size;
  ok = (std::fclose(f) == 0) && ok;
  if (ok && std::rename(temp.c_str(), path.c_str()) == 0) return StoreResult::kStored;
  const int err = errno;
  *why = std::string("cannot write an entry (") + std::strerror(err) + ")";
  std::remove(temp.c_str());
  const bool entry_only =
      ok && (err == EISDIR || err == ENOTEMPTY || err == EEXIST || err == EBUSY);
  return entry_only ? StoreResult::kEntrySkipped : StoreResult::kFolderFailed;
}

// Deletes the claims of entry_name ("opencl-<key>.bin") in dir older than max_age_seconds.
// Returns how many were deleted.
inline int remove_stale_claims(const std::string& dir, const std::string& entry_name,
                               int64_t max_age_seconds = kStaleClaimSeconds) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  const std::string prefix = entry_name + ".claimed.";
  const time_t now = std::time(nullptr);
  int removed = 0;
  while (const dirent* e = readdir(d)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) != 0) continue;
    const std::string file = dir + "/" + e->d_name;
    struct stat st;
    if (lstat(file.c_str(), &st) == 0 && now - st.st_mtime > max_age_seconds &&
        std::remove(file.c_str()) == 0) {
      ++removed;
    }
  }
  closedir(d);
  return removed;
}

}  // namespace xinhe::util
