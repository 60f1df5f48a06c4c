// The float64 reference for GEMM and attention: the oracle every backend is tested against.
//
// Written for obviousness, not speed: one loop nest per formula, every index computed from the
// description's leading dimensions and strides exactly as ops.h defines them, float64
// accumulation throughout. Attention materializes one row of scores at a time (Skv doubles),
// which keeps the softmax a textbook two-pass max/sum.
#include "reference.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <vector>

#include "half.h"

namespace xinhe::reference {

double load(xinhe_dtype_t dtype, const void* base, int64_t index) {
  switch (dtype) {
    case XINHE_DTYPE_F32:
      return static_cast<const float*>(base)[index];
    case XINHE_DTYPE_F16:
      return kernels::f16_to_f32(static_cast<const uint16_t*>(base)[index]);
    case XINHE_DTYPE_BF16:
      return kernels::bf16_to_f32(static_cast<const uint16_t*>(base)[index]);
    case XINHE_DTYPE_F64:
      return static_cast<const double*>(base)[index];
    default:
      assert(false && "reference::load: unknown dtype");
      return 0.0;
  }
}

void store(xinhe_dtype_t dtype, void* base, int64_t index, double v) {
  switch (dtype) {
    case XINHE_DTYPE_F32:
      static_cast<float*>(base)[index] = static_cast<float>(v);
      return;
    case XINHE_DTYPE_F16:
      // Double -> float -> f16 can double-round; the tests only store values that are meant to
      // be exactly representable or tolerate one ulp, so this is deliberate simplicity.
      static_cast<uint16_t*>(base)[index] = kernels::f32_to_f16(static_cast<float>(v));
      return;
    case XINHE_DTYPE_BF16:
      static_cast<uint16_t*>(base)[index] = kernels::f32_to_bf16(static_cast<float>(v));
      return;
    case XINHE_DTYPE_F64:
      static_cast<double*>(base)[index] = v;
      return;
    default:
      assert(false && "reference::store: unknown dtype");
  }
}

void gemm(const xinhe_gemm_desc_t& d, const void* a, const void* b, const void* c_in,
          double alpha, double beta, double* c_out) {
  for (int64_t bt = 0; bt < d.batch; ++bt) {
    const int64_t a_base = bt * d.stride_a;
    const int64_t b_base = bt * d.stride_b;
    const int64_t c_base = bt * d.stride_c;
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        const double c_old = beta != 0.0 ? load(d.c_dtype, c_in, c_base + i * d.ldc + j) : 0.0;
        if (alpha == 0.0 || d.k == 0) {
          // BLAS: C = beta * C, A and B unread (an Inf or NaN there does not matter).
          c_out[(bt * d.m + i) * d.n + j] = beta == 0.0 ? 0.0 : beta * c_old;
          continue;
        }
        double acc = 0.0;
        for (int64_t p = 0; p < d.k; ++p) {
          // op(A)[i][p]: A is (M,K) with lda, or (K,M) with lda when transposed.
          const int64_t ai = d.trans_a ? p * d.lda + i : i * d.lda + p;
          // op(B)[p][j]: B is (K,N) with ldb, or (N,K) with ldb when transposed.
          const int64_t bi = d.trans_b ? j * d.ldb + p : p * d.ldb + j;
          acc += load(d.ab_dtype, a, a_base + ai) * load(d.ab_dtype, b, b_base + bi);
        }
        double result = alpha * acc;
        // beta == 0 means C is not read at all, so NaN in C_in must not leak through.
        if (beta != 0.0) result += beta * c_old;
        c_out[(bt * d.m + i) * d.n + j] = result;
      }
    }
  }
}

void attention(const xinhe_attention_desc_t& d, const void* q, const void* k, const void* v,
               double* o_out, double* lse_out) {
  const int64_t B = d.batch, Hq = d.heads_q, Hkv = d.heads_kv;
  const int64_t Sq = d.seq_q, Skv = d.seq_kv, D = d.head_dim;
  if (B == 0 || Hq == 0 || Sq == 0) return;
  const int64_t group = Hq / Hkv;  // query heads per kv head
  const double scale = d.scale;
  const bool causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL;
  std::vector<double> scores(static_cast<size_t>(Skv));

  auto at = [](const int64_t s[4], int64_t b, int64_t h, int64_t i, int64_t x) {
    return b * s[0] + h * s[1] + i * s[2] + x * s[3];
  };

  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < Sq; ++i) {
        double* o_row = o_out + ((b * Hq + h) * Sq + i) * D;
        // Bottom-right causal alignment: query i sees keys j <= i + (Skv - Sq).
        const int64_t visible = causal ? std::min<int64_t>(Skv, std::max<int64_t>(0, i + Skv - Sq + 1)) : Skv;
        if (visible == 0) {
          for (int64_t x = 0; x < D; ++x) o_row[x] = 0.0;
          if (lse_out) lse_out[(b * Hq + h) * Sq + i] = -std::numeric_limits<double>::infinity();
          continue;
        }
        double max_score = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < visible; ++j) {
          double dot = 0.0;
          for (int64_t x = 0; x < D; ++x) {
            dot += load(d.dtype, q, at(d.q_strides, b, h, i, x)) *
                   load(d.dtype, k, at(d.k_strides, b, hk, j, x));
          }
          scores[j] = scale * dot;
          max_score = std::max(max_score, scores[j]);
        }
        double denom = 0.0;
        for (int64_t j = 0; j < visible; ++j) {
          scores[j] = std::exp(scores[j] - max_score);
          denom += scores[j];
        }
        for (int64_t x = 0; x < D; ++x) {
          double acc = 0.0;
          for (int64_t j = 0; j < visible; ++j) {
            acc += scores[j] * load(d.dtype, v, at(d.v_strides, b, hk, j, x));
          }
          o_row[x] = acc / denom;
        }
        if (lse_out) lse_out[(b * Hq + h) * Sq + i] = max_score + std::log(denom);
      }
    }
  }
}

}  // namespace xinhe::reference
