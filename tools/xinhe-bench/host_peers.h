// Host peers the bench computes itself with OpenBLAS:
// - "openblas-unfused": attention as two SGEMMs and a row softmax. It is what a framework does
//   without a fused kernel, so the ratio to it shows what fusion buys on the CPU.
// - "openblas-f32": f16/bf16 GEMM where the BLAS has none (OpenBLAS 0.3.21 as Debian builds
//   it): widen A and B to f32, SGEMM, round C to the input dtype, all timed. It is the best
//   half-precision path this machine has besides xinhe's.
#pragma once

#include <string>
#include <vector>

#include "shapes.h"
#include "xinhe/base.h"

namespace xinhe::bench {

// Sets the number of OpenBLAS threads (openblas_set_num_threads).
void set_openblas_threads(int threads);
// openblas_get_config(): version, target core, threading.
std::string openblas_config();

class UnfusedAttention {
 public:
  // q: [B, Hq, Sq, D], k, v: [B, Hkv, Skv, D], dense BHSD f32. Scores are kept for one
  // (b, h) at a time: Sq x Skv floats.
  explicit UnfusedAttention(const AttentionShape& shape);
  // o: [B, Hq, Sq, D] dense BHSD f32.
  void run(const float* q, const float* k, const float* v, float* o);

 private:
  AttentionShape shape_;
  float scale_;
  std::vector<float> scores_;  // (Sq, Skv) row-major
};

// C (M, N) = op(A) op(B) for f16/bf16 A, B, C (dense, row-major, batched, as xinhe-bench's
// GEMM cases lay them out), through f32 and cblas_sgemm.
class ConvertedGemm {
 public:
  ConvertedGemm(const GemmShape& shape, xinhe_dtype_t dtype);
  void run(const void* a, const void* b, void* c);

 private:
  GemmShape shape_;
  xinhe_dtype_t dtype_;
  std::vector<float> a_, b_, c_;
};

}  // namespace xinhe::bench
