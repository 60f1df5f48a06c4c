// CPU attention implementations, in dispatch order (fastest first, reference-grade last).
#pragma once

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

struct AttentionImpl {
  const char* name;  // "cpu.attention.flash_f32"
  const char* (*unsupported_reason)(const xinhe_attention_desc_t& desc);
  uint64_t (*workspace_size)(const xinhe_attention_desc_t& desc, int threads);
  void (*run)(const AttentionProblem& problem, Parallel& parallel);
};

const std::vector<AttentionImpl>& attention_impls();

}  // namespace xinhe::kernels::cpu
