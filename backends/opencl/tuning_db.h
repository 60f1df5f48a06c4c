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

// The kernels' parameters, the device limits they must fit and their validation are the
// kernels' host contract (kernels/*/opencl/*_opencl.h), shared with the Level Zero backend;
// tuning them per device is this database's business.
using TuningLimits = opencl_c::KernelLimits;
using GemmParams = opencl_c::GemmTile;
using AttentionParams = opencl_c::FlashTile;
using opencl_c::kCpuWorkGroupPrivateBytes;
using opencl_c::kMaxAttentionHeadDim;

// Safe defaults by device kind (opencl_c::default_gemm_tile / default_flash_tile).
GemmParams default_gemm_params(bool cpu_like);
AttentionParams default_attention_params(bool cpu_like);

// Parses "KEY=VALUE,..." into params; false with *error on an unknown or repeated key or a bad
// value. Keys the text does not name keep their value in *params.
bool parse_gemm_params(const std::string& text, GemmParams* params, std::string* error);
bool parse_attention_params(const std::string& text, AttentionParams* params, std::string* error);
// The GEMM (attention) keys a parameter string does not name ("KWI,MWG"), "" when all are
// named or it does not parse: said when a partial entry, completed with defaults, is unusable.
std::string gemm_params_not_set(const std::string& text);
std::string attention_params_not_set(const std::string& text);

class TuningDb {
 public:
  // Replaces the contents with the parsed text; false (and empty db) with *error on the first
  // malformed line ("line 3: expected 5 '|'-separated fields").
  bool parse(const std::string& text, std::string* error);
  // Reads and parses path (a regular file of at most kMaxTuningDbBytes, opened without
  // blocking); false with *error when unreadable, not a regular file, too large or malformed.
  bool load_file(const std::string& path, std::string* error);

  // The parameter string for the key, or nullptr. *duplicate (when given) says when the entry
  // found was given more than once in the parsed text (the later line wins), else "".
  const std::string* find(const std::string& device, const std::string& driver,
                          const std::string& dtype, const std::string& op,
                          std::string* duplicate = nullptr) const;
  // One line per key given more than once by the last parse ("... line 5 replaces line 3").
  std::vector<std::string> warnings() const;
  void set(const std::string& device, const std::string& driver, const std::string& dtype,
           const std::string& op, const std::string& params);
  std::string serialize() const;
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, std::string> entries_;     // "device|driver|dtype|op" -> params
  std::map<std::string, std::string> duplicates_;  // key given twice -> the warning
};

// The database shipped with the plugin (tuned on the PoCL CPU device), embedded at build time.
const char* shipped_tuning_db_text();

}  // namespace xinhe::opencl
