// Host peers on OpenBLAS (see host_peers.h). Unfused attention: per (b, h),
// S = scale * Q K^T (cblas_sgemm), masked row softmax in place, O = P V (cblas_sgemm), with the
// same bottom-right causal alignment as xinhe. Converted GEMM: f16/bf16 widened to f32 with
// F16C where the CPU has it, cblas_sgemm, rounded back to nearest even.
#include "host_peers.h"

#include <cblas.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "half.h"

namespace xinhe::bench {

void set_openblas_threads(int threads) { openblas_set_num_threads(std::max(threads, 1)); }

std::string openblas_config() { return openblas_get_config(); }

UnfusedAttention::UnfusedAttention(const AttentionShape& shape)
    : shape_(shape),
      scale_(1.0f / std::sqrt(static_cast<float>(shape.head_dim))),
      scores_(static_cast<size_t>(shape.seq_q * shape.seq_kv)) {}

void UnfusedAttention::run(const float* q, const float* k, const float* v, float* o) {
  const AttentionShape& s = shape_;
  const int sq = static_cast<int>(s.seq_q), skv = static_cast<int>(s.seq_kv),
            d = static_cast<int>(s.head_dim);
  const int64_t group = s.heads_q / s.heads_kv;
  float* scores = scores_.data();
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads_q; ++h) {
      const int64_t kv_head = b * s.heads_kv + h / group;
      const float* qh = q + (b * s.heads_q + h) * s.seq_q * s.head_dim;  // (Sq, D)
      const float* kh = k + kv_head * s.seq_kv * s.head_dim;             // (Skv, D)
      const float* vh = v + kv_head * s.seq_kv * s.head_dim;             // (Skv, D)
      float* oh = o + (b * s.heads_q + h) * s.seq_q * s.head_dim;        // (Sq, D)
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

namespace {

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h;
    std::memcpy(&h, src + i, sizeof h);
    const __m256 f = _mm256_cvtph_ps(h);
    std::memcpy(dst + i, &f, sizeof f);
  }
  for (; i < n; ++i) dst[i] = kernels::f16_to_f32(src[i]);
}
bool cpu_has_f16c() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
}
#endif

void widen(xinhe_dtype_t dtype, const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  if (dtype == XINHE_DTYPE_BF16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = kernels::bf16_to_f32(h[i]);
    return;
  }
#if defined(__x86_64__)
  static const bool f16c = cpu_has_f16c();
  if (f16c) return f16_to_f32_f16c(h, dst, n);
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = kernels::f16_to_f32(h[i]);
}

void narrow(xinhe_dtype_t dtype, const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  if (dtype == XINHE_DTYPE_BF16) {
    for (int64_t i = 0; i < n; ++i) h[i] = kernels::f32_to_bf16(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) h[i] = kernels::f32_to_f16(src[i]);
  }
}

}  // namespace

ConvertedGemm::ConvertedGemm(const GemmShape& shape, xinhe_dtype_t dtype)
    : shape_(shape), dtype_(dtype),
      a_(static_cast<size_t>(shape.batch * shape.m * shape.k)),
      b_(static_cast<size_t>(shape.batch * shape.k * shape.n)),
      c_(static_cast<size_t>(shape.batch * shape.m * shape.n)) {}

void ConvertedGemm::run(const void* a, const void* b, void* c) {
  const GemmShape& g = shape_;
  widen(dtype_, a, a_.data(), static_cast<int64_t>(a_.size()));
  widen(dtype_, b, b_.data(), static_cast<int64_t>(b_.size()));
  // Dense operands: op(A) is (M, K), stored (K, M) when transposed; likewise B.
  const int lda = static_cast<int>(g.trans_a ? g.m : g.k);
  const int ldb = static_cast<int>(g.trans_b ? g.k : g.n);
  for (int64_t i = 0; i < g.batch; ++i) {
    cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
                g.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(g.m), static_cast<int>(g.n),
                static_cast<int>(g.k), 1.0f, a_.data() + i * g.m * g.k, lda,
                b_.data() + i * g.k * g.n, ldb, 0.0f, c_.data() + i * g.m * g.n,
                static_cast<int>(g.n));
  }
  narrow(dtype_, c_.data(), c, static_cast<int64_t>(c_.size()));
}

}  // namespace xinhe::bench
