// The one op-case type of xinhe's tests and tools: a GEMM or attention problem as the tests
// think of it (shape, dtypes, layout, padding, broadcast, byte offsets, alpha/beta, causal),
// the xinhe_gemm_desc_t / xinhe_attention_desc_t it describes, the elements each operand spans,
// and one name per case ("f16_f32.nt.81x145x64.batch2") that conformance reports, test names
// and bench lines share; and the comparison of a GEMM's C with the reference (the error of the
// results, writes outside them). Needs no libxinhe.
#pragma once

#include <cstdint>
#include <string>

#include "numerics.h"
#include "xinhe/ops.h"

namespace xinhe::test {

struct GemmCase {
  xinhe_dtype_t ab = XINHE_DTYPE_F32;
  xinhe_dtype_t c = XINHE_DTYPE_F32;
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;        // extra elements per leading dimension
  int64_t batch_gap = 0;                          // extra elements between batches (A, B, C)
  bool broadcast_a = false, broadcast_b = false;  // stride 0
  float alpha = 1.0f, beta = 0.0f;
  uint64_t offset_a = 0, offset_b = 0, offset_c = 0;  // bytes

  // Rows of A and B as stored (row-major; transposes swap them).
  int64_t rows_a() const { return trans_a ? k : m; }
  int64_t rows_b() const { return trans_b ? n : k; }
  // Chainable adjustments, so that a table of cases reads one case a line:
  //   gemm_case(f16, f32, false, true, 70, 37, 45).batched(3).pad_leading_dims(3).scaled(0.5f, 1)
  GemmCase& batched(int64_t count);
  // Every leading dimension `extra` elements longer than the shape needs.
  GemmCase& pad_leading_dims(int64_t extra);
  // Pads that round every leading dimension up to a multiple of `multiple` elements.
  GemmCase& round_leading_dims(int64_t multiple);
  GemmCase& broadcast(bool a, bool b);
  GemmCase& scaled(float alpha_, float beta_);

  xinhe_gemm_desc_t desc() const;
  // Elements each operand spans from its origin (0 when it holds none).
  int64_t a_span() const;
  int64_t b_span() const;
  int64_t c_span() const;
  // "f16_f32.nt.81x145x64" plus one suffix per non-default feature (".batch2", ".bcast_b",
  // ".ldpad1_2_3", ".alpha0p5"...).
  std::string name() const;
};

enum class AttentionLayout {
  kBhsd,        // [B, H, S, D] dense
  kBshd,        // [B, S, H, D] dense
  kPadded,      // BHSD with gaps after every row, head and batch (density assumptions read poison)
  kStridedDim,  // kPadded with a gap after every element too: d stride 2 (unit-stride
                // assumptions read poison)
  kBshdPadded,  // BSHD with gaps after every row (s) and batch: heads interleaved and padded
  kDimMajor,    // [B, H, D, S] inside each head: d stride = S, s stride 1 ("bhds")
};

// The suffix name() gives a layout, without the dot ("bhsd" for the plain one).
const char* attention_layout_name(AttentionLayout layout);

struct AttentionCase {
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  int64_t batch = 1, heads_q = 1, heads_kv = 1, seq_q = 1, seq_kv = 1, head_dim = 64;
  bool causal = false;
  bool lse = false;
  AttentionLayout layout = AttentionLayout::kBhsd;
  float scale = 0.0f;  // 0: 1/sqrt(head_dim)

  xinhe_attention_desc_t desc() const;
  // Elements each tensor spans from its origin under desc()'s strides.
  int64_t q_span() const;
  int64_t kv_span() const;
  int64_t o_span() const;
  int64_t lse_span() const;  // 0 without lse
  // "f32.b1.h8x2.s1x4096.d128" plus ".causal", the layout's name but for bhsd (".bshd",
  // ".padded", ".dstride2", ".bshd_padded", ".bhds"), ".lse",
  // ".scale<x>".
  std::string name() const;
};

// A case of this shape with every other field at its default (dense, batch 1, alpha 1, beta 0).
GemmCase gemm_case(xinhe_dtype_t ab, xinhe_dtype_t c, bool trans_a, bool trans_b, int64_t m,
                   int64_t n, int64_t k);

// C after a run, against the dense float64 reference ref (batch x m x n, as
// xinhe::reference::gemm gives it). The arrays hold C from its origin (offset_c not applied).
// The error of every element of the batches' (m, n) results:
ErrorStats gemm_c_error(const GemmCase& g, const HostArray& c_after, const double* ref);
// Elements of C's span outside the (m, n) results (row padding, gaps between batches) whose
// bytes differ between before and after: a kernel must never write there. Their count, and the
// first one's index in *first (-1 when none).
int64_t gemm_c_writes_outside(const GemmCase& g, const HostArray& c_before,
                              const HostArray& c_after, int64_t* first = nullptr);

// A case of this shape in one line (lse off, scale 1/sqrt(head_dim)).
AttentionCase attention_case(xinhe_dtype_t dtype, int64_t batch, int64_t heads_q, int64_t heads_kv,
                             int64_t seq_q, int64_t seq_kv, int64_t head_dim, bool causal = false,
                             AttentionLayout layout = AttentionLayout::kBhsd);

// Strides (b, h, s, d) of a [B, H, S, D] tensor in layout.
void attention_strides(AttentionLayout layout, int64_t heads, int64_t seq, int64_t dim,
                       int64_t out[4]);
// Elements spanned by a tensor with these extents and strides (0 if any extent is 0).
int64_t tensor_span(const int64_t extents[], const int64_t strides[], int rank);
// Elements spanned by a batched row-major matrix (rows x ld per batch, batches stride apart).
int64_t matrix_span(int64_t batch, int64_t stride, int64_t rows, int64_t ld);

}  // namespace xinhe::test
