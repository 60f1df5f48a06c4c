// CPU attention implementations, in dispatch order (fastest first, reference-grade last).
#pragma once

#include <cmath>
#include <limits>
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

// How an online-softmax kernel finishes a query row from its running max (already scaled:
// m * |scale|) and sum l. A row that saw no key: O = 0, LSE = -inf (ops.h). A row that saw
// keys has l >= 1 (its max key adds exp(0)) unless a score was NaN (NaN or Inf in Q or in a
// seen K row): then O and LSE are NaN, as the float64 reference gives, never an empty row's
// zeros.
struct RowResult {
  bool use_o;  // O = o * inv_l; otherwise every element is fill
  float inv_l;
  float fill;
  float lse;
};
inline RowResult row_result(bool saw_keys, float scaled_max, float l) {
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  if (!saw_keys) return {false, 0.0f, 0.0f, -std::numeric_limits<float>::infinity()};
  if (!(l > 0.0f)) return {false, 0.0f, kNaN, kNaN};
  return {true, 1.0f / l, 0.0f, scaled_max + std::log(l)};
}

}  // namespace xinhe::kernels::cpu
