// Built OpenCL programs, cached in memory per device and on disk across processes.
//
// Key: FNV-1a 64 of (xinhe version, device name, driver version, platform version, build
// options, source). Disk entry <dir>/opencl-<key>.bin = EntryHeader + the device binary from
// clGetProgramInfo(CL_PROGRAM_BINARIES). Entries are written to a temporary file in the same
// folder and renamed into place, so readers never see a partial entry and concurrent writers
// simply race to an identical result. An entry that is not a regular file, is larger than
// kMaxCacheEntryBytes, or whose magic, version, key, size or checksum does not match, or whose
// binary the driver rejects or that lacks the kernel asked for (another program's binary
// under the key), is rebuilt from source and overwritten. A folder that cannot be created or
// written turns the disk layer off (one verbose log line) and the cache keeps working in
// memory.
//
// Crash safety (docs/opencl.md, "Kernel cache"; runtime/util/cache_claim.h): an entry is
// claimed (renamed to opencl-<key>.bin.claimed.<pid>.<n>) before the driver sees it and
// released only once the driver built it and the kernel was found, so an entry that crashes
// the driver stays quarantined and the next process rebuilds from source.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "cl_loader.h"
#include "status_util.h"
#include "xinhe/backend.h"

namespace xinhe::opencl {

struct ProgramCacheStats {
  uint64_t memory_hits = 0;
  uint64_t disk_hits = 0;
  uint64_t builds = 0;         // compiled from source
  uint64_t disk_rejected = 0;  // corrupt or mismatched entries that were rebuilt
  uint64_t disk_writes = 0;
};

// ---- The entry format, as pure functions (also driven by tests/fuzz/fuzz_cache_entry.cpp) ----
constexpr size_t kCacheEntryHeaderBytes = 40;
// Larger entries are refused unread (PoCL's are ~150 KB; GPU binaries a few MB).
constexpr uint64_t kMaxCacheEntryBytes = uint64_t{256} << 20;
// Checks the header of an entry file of file_size bytes stored under key: "" when it agrees
// (magic, format version, reserved field 0, key, payload size == file_size - header) with the
// payload's size and checksum in *payload_size, *checksum; else what is wrong. Reads
// kCacheEntryHeaderBytes.
std::string check_cache_entry_header(const unsigned char* header, size_t header_size,
                                     uint64_t file_size, uint64_t key, uint64_t* payload_size,
                                     uint64_t* checksum);
// A whole entry in memory: "" with *payload / *payload_size pointing into data when it is
// valid for key (header and checksum), else what is wrong.
std::string parse_cache_entry(const unsigned char* data, size_t size, uint64_t key,
                              const unsigned char** payload, size_t* payload_size);
// The bytes of an entry holding payload under key.
std::string make_cache_entry(uint64_t key, const unsigned char* payload, size_t payload_size);

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

  // A built program for (source, options) that contains kernel_name; *out is retained for the
  // caller (release it). Errors: the failing call, e.g. clBuildProgram with the options and the
  // build log, or CL_INVALID_KERNEL_NAME when a program built from source lacks the kernel.
  ClError get(const std::string& source, const std::string& options,
              const std::string& kernel_name, cl_program* out);

  ProgramCacheStats stats() const;
  const std::string& disk_dir() const { return disk_dir_; }

 private:
  uint64_t key_of(const std::string& source, const std::string& options) const;
  std::string entry_path(uint64_t key) const;
  // nullptr when absent or rejected (logged).
  cl_program load_from_disk(uint64_t key, const std::string& options,
                            const std::string& kernel_name);
  void store_to_disk(uint64_t key, cl_program program);
  bool has_kernel(cl_program program, const std::string& kernel_name) const;
  ClError build_from_source(const std::string& source, const std::string& options, cl_program* out);
  void log(const std::string& message) const;
  void disable_disk(const std::string& why);

  const ClApi* cl_;
  const xinhe_host_api_t* host_;
  cl_context context_;
  cl_device_id device_;
  std::string identity_;
  std::string disk_dir_;  // "" when the disk layer is off
  mutable std::mutex mutex_;
  struct Cached {
    cl_program program;
    bool from_disk;
    std::set<std::string> kernels;  // names known to be in the program
  };
  std::map<uint64_t, Cached> programs_;
  ProgramCacheStats stats_;
};

}  // namespace xinhe::opencl
