// CPU GEMM implementations, in dispatch order (fastest first, reference-grade last).
// The CPU backend walks this list; see backends/cpu/.
#pragma once

#include <string>
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

// One entry of the list, as the dispatch walker (xinhe/backend.hpp) reads it: an op of dtypes
// <dtypes> run by this entry is named cpu.gemm.<method>_<dtypes>[_<arch>].
struct GemmImpl {
  const char* method;  // "packed"
  const char* arch;    // "avx2", "portable"; nullptr when the method names it alone
  // nullptr when this implementation runs desc on this machine, else the reason (static text).
  const char* (*unsupported_reason)(const xinhe_gemm_desc_t& desc);
  // Bytes of workspace run() needs for desc (0 if none).
  uint64_t (*workspace_size)(const xinhe_gemm_desc_t& desc, int threads);
  void (*run)(const GemmProblem& problem, Parallel& parallel);

  // "packed_avx2", "reference": method and arch, for tests and benchmarks.
  std::string label() const { return arch != nullptr ? std::string(method) + "_" + arch : method; }
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
