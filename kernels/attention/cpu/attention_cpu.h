// CPU attention implementations, in dispatch order (fastest first, reference-grade last).
#pragma once

#include <string>
#include <vector>

#include "parallel.h"
#include "xinhe/ops.h"

namespace xinhe::kernels::cpu {

// A validated attention description (see xinhe_attention_desc_t) bound to host pointers.
struct AttentionProblem {
  xinhe_attention_desc_t desc;
  const void* q;  // [B, Hq, Sq, D] with q_strides
  const void* k;  // [B, Hkv, Skv, D] with k_strides
  const void* v;  // [B, Hkv, Skv, D] with v_strides
  void* o;        // [B, Hq, Sq, D] with o_strides
  float* lse;     // [B, Hq, Sq] with lse_strides, or nullptr
  void* workspace;
};

// One entry of the list, as the dispatch walker (xinhe/backend.hpp) reads it: an op of dtype
// <dtype> run by this entry is named cpu.attention.<method>_<dtype>[_<arch>].
struct AttentionImpl {
  const char* method;  // "flash" (tiles on the GEMM micro-kernels), "fused", "reference"
  const char* arch;    // "avx2", "portable"; nullptr when the method names it alone
  const char* (*unsupported_reason)(const xinhe_attention_desc_t& desc);
  uint64_t (*workspace_size)(const xinhe_attention_desc_t& desc, int threads);
  void (*run)(const AttentionProblem& problem, Parallel& parallel);

  // "flash_avx2", "fused_portable", "reference": method and arch, for tests and benchmarks.
  std::string label() const { return arch != nullptr ? std::string(method) + "_" + arch : method; }
};

const std::vector<AttentionImpl>& attention_impls();

}  // namespace xinhe::kernels::cpu
