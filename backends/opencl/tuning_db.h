// Kernel parameters per (device, driver, dtype, op): the tuning database written by
// xinhe-tune and read at op creation. Format (documented in docs/opencl.md):
//
//   xinhe-tuning-db 1
//   # comment
//   <device name>|<driver version or *>|<dtype>|<op>|KEY=VALUE,KEY=VALUE...
//
// Lookup prefers an exact driver match, then "*". A database that is missing or malformed
// is never fatal: the caller falls back to safe defaults and logs why. The file must be a
// regular file of at most kMaxTuningDbBytes (a FIFO or /dev/zero is refused, not read), and
// parameters are checked against the device's limits before any kernel is built with them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attention_opencl.h"
#include "gemm_opencl.h"

namespace xinhe::opencl {

// A real database has a few lines per device; anything larger is refused unread.
constexpr uint64_t kMaxTuningDbBytes = uint64_t{1} << 20;

// What a device allows a kernel's work-group: parameters beyond these are refused before a
// kernel is built (a work-group or tile the device cannot hold crashes some drivers instead
// of failing the build or launch).
struct TuningLimits {
  uint64_t max_work_group_size = 1;             // CL_DEVICE_MAX_WORK_GROUP_SIZE
  uint64_t max_work_item_sizes[3] = {0, 0, 0};  // per dimension; 0 when unknown
  uint64_t local_memory_bytes = 0;              // CL_DEVICE_LOCAL_MEM_SIZE
  // CPU drivers (PoCL) run a work-group's work-items in one thread and keep their private
  // arrays together; kCpuWorkGroupPrivateBytes bounds that total there.
  bool cpu_like = false;
};
constexpr uint64_t kCpuWorkGroupPrivateBytes = uint64_t{1} << 20;
// head_dim is chosen per op, after the parameters: bounds assume the largest one allowed.
constexpr int kMaxAttentionHeadDim = 256;

// The kernels' parameters (fields, defaults) are defined once, with the kernels' host contract
// (kernels/*/opencl/*_opencl.h) that the Level Zero backend shares; validating and tuning them
// is this database's business.
struct GemmParams : opencl_c::GemmTile {
  // "" when consistent and within the device's limits, else what is wrong (e.g.
  // "NWI % VW != 0", "local tiles need 1310720 bytes, the device has 1048576").
  std::string validate(const TuningLimits& limits) const;
  std::string to_string() const;  // "MWI=4,NWI=16,..."
  // Bytes of local memory and of private memory per work-item the tiled kernel uses.
  uint64_t local_memory_bytes() const;
  uint64_t private_bytes_per_work_item() const;
};

struct AttentionParams : opencl_c::FlashTile {
  std::string validate(const TuningLimits& limits) const;
  std::string to_string() const;
  uint64_t private_bytes_per_work_item() const;  // at kMaxAttentionHeadDim
};

// Safe defaults by device kind (opencl_c::default_gemm_tile / default_flash_tile).
GemmParams default_gemm_params(bool cpu_like);
AttentionParams default_attention_params(bool cpu_like);

// Parses "KEY=VALUE,..." into params; false with *error on an unknown key or bad value.
bool parse_gemm_params(const std::string& text, GemmParams* params, std::string* error);
bool parse_attention_params(const std::string& text, AttentionParams* params, std::string* error);

class TuningDb {
 public:
  // Replaces the contents with the parsed text; false (and empty db) with *error on the first
  // malformed line ("line 3: expected 5 '|'-separated fields").
  bool parse(const std::string& text, std::string* error);
  // Reads and parses path (a regular file of at most kMaxTuningDbBytes, opened without
  // blocking); false with *error when unreadable, not a regular file, too large or malformed.
  bool load_file(const std::string& path, std::string* error);

  // The parameter string for the key, or nullptr.
  const std::string* find(const std::string& device, const std::string& driver,
                          const std::string& dtype, const std::string& op) const;
  void set(const std::string& device, const std::string& driver, const std::string& dtype,
           const std::string& op, const std::string& params);
  std::string serialize() const;
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, std::string> entries_;  // "device|driver|dtype|op" -> params
};

// The database shipped with the plugin (tuned on the PoCL CPU device), embedded at build time.
const char* shipped_tuning_db_text();

}  // namespace xinhe::opencl
