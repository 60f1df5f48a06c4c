// Unfused attention on OpenBLAS: per (b, h), S = scale * Q K^T (cblas_sgemm), masked row softmax
// in place, O = P V (cblas_sgemm). The same bottom-right causal alignment as xinhe.
#include "unfused_attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace xinhe::bench {

void set_openblas_threads(int threads) { openblas_set_num_threads(std::max(threads, 1)); }

std::string openblas_config() { return openblas_get_config(); }

UnfusedAttention::UnfusedAttention(const AttentionShape& shape)
    : shape_(shape),
      scale_(1.0f / std::sqrt(static_cast<float>(shape.d))),
      scores_(static_cast<size_t>(shape.sq * shape.skv)) {}

void UnfusedAttention::run(const float* q, const float* k, const float* v, float* o) {
  const AttentionShape& s = shape_;
  const int sq = static_cast<int>(s.sq), skv = static_cast<int>(s.skv), d = static_cast<int>(s.d);
  const int64_t group = s.hq / s.hkv;
  float* scores = scores_.data();
  for (int64_t b = 0; b < s.b; ++b) {
    for (int64_t h = 0; h < s.hq; ++h) {
      const int64_t kv_head = b * s.hkv + h / group;
      const float* qh = q + (b * s.hq + h) * s.sq * s.d;  // (Sq, D)
      const float* kh = k + kv_head * s.skv * s.d;       // (Skv, D)
      const float* vh = v + kv_head * s.skv * s.d;       // (Skv, D)
      float* oh = o + (b * s.hq + h) * s.sq * s.d;        // (Sq, D)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, sq, skv, d, scale_, qh, d, kh, d, 0.0f,
                  scores, skv);
      for (int i = 0; i < sq; ++i) {
        float* row = scores + static_cast<int64_t>(i) * skv;
        // Keys j < seen are visible; the rest are masked to probability 0.
        const int seen = s.causal ? std::clamp(i + (skv - sq) + 1, 0, skv) : skv;
        float max = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < seen; ++j) max = std::max(max, row[j]);
        float sum = 0;
        for (int j = 0; j < seen; ++j) {
          row[j] = std::exp(row[j] - max);
          sum += row[j];
        }
        const float inv = seen > 0 ? 1.0f / sum : 0.0f;
        for (int j = 0; j < seen; ++j) row[j] *= inv;
        std::fill(row + seen, row + skv, 0.0f);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sq, d, skv, 1.0f, scores, skv, vh, d,
                  0.0f, oh, d);
    }
  }
}

}  // namespace xinhe::bench
