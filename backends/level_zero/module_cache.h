// Level Zero modules built from the embedded SPIR-V, cached in memory per device and, as
// native binaries (zeModuleGetNativeBinary), on disk across processes. The disk layer follows
// the OpenCL backend's program cache (backends/opencl/program_cache.h):
//
// Key: FNV-1a 64 of (xinhe version, device name, driver version, build flags, program name,
// build options, SPIR-V bytes). Entry <dir>/level_zero-<key>.bin = EntryHeader + the native
// binary. Entries are written to a temporary file in the same folder and renamed into place;
// an entry whose magic, version, key, size or checksum does not match, or that the driver
// rejects, is rebuilt from SPIR-V and overwritten. A folder that cannot be created or written
// turns the disk layer off (one verbose log line, topic "cache") and the cache works in memory.
// An entry is claimed before the driver sees it (runtime/util/cache_claim.h), so one that
// crashes the driver stays quarantined and the next process rebuilds from SPIR-V.
//
// Kernels are created once per (module, name) and live until the device closes, so a launch
// still queued when its op is destroyed keeps a valid kernel. Setting a kernel's arguments and
// appending its launch must be atomic: callers hold KernelRef::mutex across both.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "level_zero_internal.h"

namespace xinhe::level_zero {

// One SPIR-V module compiled at build time from the OpenCL C sources (spirv_variants.h):
// program is the source ("gemm_tiled"...), options the OpenCL build options it was compiled
// with, as kernels/*/opencl/*_opencl.h spell them for both backends.
struct SpirvProgram {
  const char* program;
  const char* options;
  const unsigned char* data;
  const size_t* size;
};

// Every embedded module, and the one for (program, options) or nullptr.
const SpirvProgram* spirv_programs(size_t* count);
const SpirvProgram* find_spirv_program(const std::string& program, const std::string& options);

// XINHE_CACHE_DIR, else $XDG_CACHE_HOME/xinhe, else $HOME/.cache/xinhe; "" when none is set.
std::string default_cache_dir();

struct ModuleCacheStats {
  uint64_t memory_hits = 0;
  uint64_t disk_hits = 0;
  uint64_t builds = 0;         // built from SPIR-V
  uint64_t disk_rejected = 0;  // corrupt or mismatched entries that were rebuilt
  uint64_t disk_writes = 0;
};

class ModuleCache {
 public:
  ModuleCache(Device* device, std::string disk_dir);
  ~ModuleCache();
  ModuleCache(const ModuleCache&) = delete;
  ModuleCache& operator=(const ModuleCache&) = delete;

  struct KernelRef {
    ze_kernel_handle_t kernel = nullptr;
    std::mutex* mutex = nullptr;
  };
  // The kernel named `name` of spirv's module, building (or loading) the module on first use.
  // Errors: the failing call (zeModuleCreate with the flags and the build log, zeKernelCreate).
  ZeCall kernel(const SpirvProgram& spirv, const char* name, KernelRef* out);

  ModuleCacheStats stats() const;
  const std::string& disk_dir() const { return disk_dir_; }
  const std::string& build_flags() const { return build_flags_; }

 private:
  uint64_t key_of(const SpirvProgram& spirv) const;
  std::string entry_path(uint64_t key) const;
  ZeCall module_locked(const SpirvProgram& spirv, ze_module_handle_t* out);
  ze_module_handle_t load_from_disk(uint64_t key);
  void store_to_disk(uint64_t key, ze_module_handle_t module);
  ZeCall build(const SpirvProgram& spirv, ze_module_handle_t* out);
  void log(const std::string& message) const;
  void disable_disk(const std::string& why);

  Device* device_;
  std::string identity_;
  std::string build_flags_;
  std::string disk_dir_;  // "" when the disk layer is off
  mutable std::mutex mutex_;
  std::map<const SpirvProgram*, ze_module_handle_t> modules_;
  struct KernelEntry {
    ze_kernel_handle_t kernel = nullptr;
    std::unique_ptr<std::mutex> mutex;
  };
  std::map<std::pair<ze_module_handle_t, std::string>, KernelEntry> kernels_;
  ModuleCacheStats stats_;
};

}  // namespace xinhe::level_zero
