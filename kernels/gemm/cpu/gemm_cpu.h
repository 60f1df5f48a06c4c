// CPU GEMM implementations, in dispatch order (fastest first, reference-grade last).
// The CPU backend walks this list; see backends/cpu/.
#pragma once

#include <vector>

#include "parallel.h"
#include "xinhe/ops.h"

namespace xinhe::kernels::cpu {

// A validated GEMM (see xinhe_gemm_desc_t) bound to host pointers at their element origin.
struct GemmProblem {
  xinhe_gemm_desc_t desc;
  float alpha;
  float beta;
  const void* a;  // batch x (M,K) or (K,M) when trans_a, ab_dtype, row-major with lda
  const void* b;  // batch x (K,N) or (N,K) when trans_b, ab_dtype, row-major with ldb
  void* c;        // batch x (M,N), c_dtype, row-major with ldc
  void* workspace;
};

struct GemmImpl {
  const char* name;  // "cpu.gemm.packed_avx2_f32": op, method, target
  // nullptr when this implementation runs desc on this machine, else the reason (static text).
  const char* (*unsupported_reason)(const xinhe_gemm_desc_t& desc);
  // Bytes of workspace run() needs for desc (0 if none).
  uint64_t (*workspace_size)(const xinhe_gemm_desc_t& desc, int threads);
  void (*run)(const GemmProblem& problem, Parallel& parallel);
};

// The ordered list. The last entry supports every valid description.
const std::vector<GemmImpl>& gemm_impls();

// The blocked driver over a given set of packing routines and micro-kernel (gemm_packed.h), as
// the packed implementations run it: for tests that run one ISA's tiling with another ISA's
// instructions. The caller checks that the CPU can run the kernels.
struct PackedKernels;
uint64_t packed_gemm_workspace_size(const PackedKernels& kernels, const xinhe_gemm_desc_t& desc,
                                    int threads);
void run_packed_gemm(const PackedKernels& kernels, const GemmProblem& problem, Parallel& parallel);

}  // namespace xinhe::kernels::cpu
