// The "openblas-unfused" peer: attention as two OpenBLAS SGEMMs and a row softmax, computed by
// the bench on the host. It is what a framework does without a fused kernel, so the ratio to
// it shows what fusion buys on the CPU.
#pragma once

#include <string>
#include <vector>

#include "shapes.h"

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

}  // namespace xinhe::bench
