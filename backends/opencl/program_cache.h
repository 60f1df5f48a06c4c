// Built OpenCL programs, cached in memory per device and on disk across processes.
//
// Key: FNV-1a 64 of (xinhe version, device name, driver version, platform version, build
// options, source). Disk entry <dir>/opencl-<key>.bin = EntryHeader + the device binary from
// clGetProgramInfo(CL_PROGRAM_BINARIES). Entries are written to a temporary file in the same
// folder and renamed into place, so readers never see a partial entry and concurrent writers
// simply race to an identical result. An entry whose magic, version, key, size or checksum
// does not match, or whose binary the driver rejects, is rebuilt from source and overwritten.
// A folder that cannot be created or written turns the disk layer off (one verbose log line)
// and the cache keeps working in memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "cl_loader.h"
#include "xinhe/backend.h"

namespace xinhe::opencl {

struct ProgramCacheStats {
  uint64_t memory_hits = 0;
  uint64_t disk_hits = 0;
  uint64_t builds = 0;         // compiled from source
  uint64_t disk_rejected = 0;  // corrupt or mismatched entries that were rebuilt
  uint64_t disk_writes = 0;
};

// Where the disk cache lives: XINHE_CACHE_DIR, else $XDG_CACHE_HOME/xinhe, else
// $HOME/.cache/xinhe; "" when none can be determined.
std::string default_cache_dir();

class ProgramCache {
 public:
  // identity: device name, driver and platform versions joined; it is part of every key.
  ProgramCache(const ClApi* cl, const xinhe_host_api_t* host, cl_context context,
               cl_device_id device, std::string identity, std::string disk_dir);
  ~ProgramCache();
  ProgramCache(const ProgramCache&) = delete;
  ProgramCache& operator=(const ProgramCache&) = delete;

  // A built program for (source, options); *out is retained for the caller (release it).
  // Errors: the build failure as a status naming clBuildProgram, with the build log.
  xinhe_status_t get(const std::string& source, const std::string& options, cl_program* out);

  ProgramCacheStats stats() const;
  const std::string& disk_dir() const { return disk_dir_; }

 private:
  uint64_t key_of(const std::string& source, const std::string& options) const;
  std::string entry_path(uint64_t key) const;
  // nullptr when absent or rejected (logged).
  cl_program load_from_disk(uint64_t key, const std::string& options);
  void store_to_disk(uint64_t key, cl_program program);
  xinhe_status_t build_from_source(const std::string& source, const std::string& options,
                                   cl_program* out);
  void log(const std::string& message) const;
  void disable_disk(const std::string& why);

  const ClApi* cl_;
  const xinhe_host_api_t* host_;
  cl_context context_;
  cl_device_id device_;
  std::string identity_;
  std::string disk_dir_;  // "" when the disk layer is off
  mutable std::mutex mutex_;
  std::map<uint64_t, cl_program> programs_;
  ProgramCacheStats stats_;
};

}  // namespace xinhe::opencl
