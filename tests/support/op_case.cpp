// The op-case type of op_case.h.
#include "op_case.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "numerics.h"

namespace xinhe::test {

namespace {

// A number for a case name: '-' would read as a negative pattern in --gtest_filter.
std::string name_number(float v) {
  std::ostringstream s;
  s << (v < 0 ? "m" : "") << (v < 0 ? -v : v);
  return s.str();
}

int64_t round_up(int64_t v, int64_t multiple) { return (v + multiple - 1) / multiple * multiple; }

}  // namespace

int64_t matrix_span(int64_t batch, int64_t stride, int64_t rows, int64_t ld) {
  if (rows == 0) return 0;
  return (batch - 1) * stride + rows * ld;
}

int64_t tensor_span(const int64_t extents[], const int64_t strides[], int rank) {
  int64_t last = 0;
  for (int i = 0; i < rank; ++i) {
    if (extents[i] == 0) return 0;
    last += (extents[i] - 1) * strides[i];
  }
  return last + 1;
}

GemmCase gemm_case(xinhe_dtype_t ab, xinhe_dtype_t c, bool trans_a, bool trans_b, int64_t m,
                   int64_t n, int64_t k) {
  GemmCase g;
  g.ab = ab;
  g.c = c;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.m = m;
  g.n = n;
  g.k = k;
  return g;
}

GemmCase& GemmCase::batched(int64_t count) {
  batch = count;
  return *this;
}

GemmCase& GemmCase::pad_leading_dims(int64_t extra) {
  pad_a = pad_b = pad_c = extra;
  return *this;
}

GemmCase& GemmCase::broadcast(bool a, bool b) {
  broadcast_a = a;
  broadcast_b = b;
  return *this;
}

GemmCase& GemmCase::scaled(float alpha_, float beta_) {
  alpha = alpha_;
  beta = beta_;
  return *this;
}

GemmCase& GemmCase::round_leading_dims(int64_t multiple) {
  const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  pad_a = round_up(a_cols, multiple) - a_cols;
  pad_b = round_up(b_cols, multiple) - b_cols;
  pad_c = round_up(n, multiple) - n;
  return *this;
}

xinhe_gemm_desc_t GemmCase::desc() const {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.ab_dtype = ab;
  d.c_dtype = c;
  d.trans_a = trans_a;
  d.trans_b = trans_b;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = batch;
  d.lda = (trans_a ? m : k) + pad_a;
  d.ldb = (trans_b ? k : n) + pad_b;
  d.ldc = n + pad_c;
  d.stride_a = broadcast_a ? 0 : rows_a() * d.lda + batch_gap;
  d.stride_b = broadcast_b ? 0 : rows_b() * d.ldb + batch_gap;
  d.stride_c = m * d.ldc + batch_gap;
  return d;
}

int64_t GemmCase::a_span() const {
  const xinhe_gemm_desc_t d = desc();
  return matrix_span(batch, d.stride_a, rows_a(), d.lda);
}
int64_t GemmCase::b_span() const {
  const xinhe_gemm_desc_t d = desc();
  return matrix_span(batch, d.stride_b, rows_b(), d.ldb);
}
int64_t GemmCase::c_span() const {
  const xinhe_gemm_desc_t d = desc();
  return matrix_span(batch, d.stride_c, m, d.ldc);
}

ErrorStats gemm_c_error(const GemmCase& g, const HostArray& c_after, const double* ref) {
  const xinhe_gemm_desc_t d = g.desc();
  ErrorStats stats;
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        const int64_t dense = (b * g.m + i) * g.n + j;
        stats.add(c_after.get(b * d.stride_c + i * d.ldc + j), ref[dense], dense);
      }
  return stats;
}

int64_t gemm_c_writes_outside(const GemmCase& g, const HostArray& c_before,
                              const HostArray& c_after, int64_t* first) {
  const xinhe_gemm_desc_t d = g.desc();
  const int64_t span = g.c_span();
  std::vector<bool> result(static_cast<size_t>(span), false);
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j)
        result[static_cast<size_t>(b * d.stride_c + i * d.ldc + j)] = true;
  const size_t size = dtype_size(g.c);
  int64_t changed = 0;
  if (first != nullptr) *first = -1;
  for (int64_t at = 0; at < span; ++at) {
    const size_t byte = static_cast<size_t>(at) * size;
    if (result[static_cast<size_t>(at)] ||
        std::memcmp(c_before.bytes.data() + byte, c_after.bytes.data() + byte, size) == 0)
      continue;
    if (changed++ == 0 && first != nullptr) *first = at;
  }
  return changed;
}

std::string GemmCase::name() const {
  std::ostringstream s;
  s << dtype_name(ab) << "_" << dtype_name(c) << "." << (trans_a ? "t" : "n")
    << (trans_b ? "t" : "n") << "." << m << "x" << n << "x" << k;
  if (batch != 1) s << ".batch" << batch;
  if (batch_gap) s << ".gap" << batch_gap;
  if (broadcast_a) s << ".bcast_a";
  if (broadcast_b) s << ".bcast_b";
  if (pad_a || pad_b || pad_c) s << ".ldpad" << pad_a << "_" << pad_b << "_" << pad_c;
  if (alpha != 1.0f) s << ".alpha" << name_number(alpha);
  if (beta != 0.0f) s << ".beta" << name_number(beta);
  if (offset_a || offset_b || offset_c)
    s << ".off" << offset_a << "_" << offset_b << "_" << offset_c;
  return s.str();
}

void attention_strides(AttentionLayout layout, int64_t heads, int64_t seq, int64_t dim,
                       int64_t out[4]) {
  switch (layout) {
    case AttentionLayout::kBhsd:
      out[3] = 1;
      out[2] = dim;
      out[1] = seq * dim;
      out[0] = heads * seq * dim;
      break;
    case AttentionLayout::kBshd:
      out[3] = 1;
      out[1] = dim;
      out[2] = heads * dim;
      out[0] = seq * heads * dim;
      break;
    case AttentionLayout::kPadded:
      out[3] = 1;
      out[2] = dim + 8;
      out[1] = seq * out[2] + 5;
      out[0] = heads * out[1] + 3;
      break;
    case AttentionLayout::kStridedDim:
      out[3] = 2;
      out[2] = 2 * dim + 3;
      out[1] = seq * out[2] + 5;
      out[0] = heads * out[1] + 3;
      break;
    case AttentionLayout::kBshdPadded:
      out[3] = 1;
      out[1] = dim;
      out[2] = heads * dim + 5;
      out[0] = seq * out[2] + 3;
      break;
    case AttentionLayout::kDimMajor:
      out[2] = 1;
      out[3] = seq;
      out[1] = seq * dim;
      out[0] = heads * seq * dim;
      break;
  }
}

const char* attention_layout_name(AttentionLayout layout) {
  switch (layout) {
    case AttentionLayout::kBhsd:
      return "bhsd";
    case AttentionLayout::kBshd:
      return "bshd";
    case AttentionLayout::kPadded:
      return "padded";
    case AttentionLayout::kStridedDim:
      return "dstride2";
    case AttentionLayout::kBshdPadded:
      return "bshd_padded";
    case AttentionLayout::kDimMajor:
      return "bhds";
  }
  return "?";
}

AttentionCase attention_case(xinhe_dtype_t dtype, int64_t batch, int64_t heads_q, int64_t heads_kv,
                             int64_t seq_q, int64_t seq_kv, int64_t head_dim, bool causal,
                             AttentionLayout layout) {
  AttentionCase a;
  a.dtype = dtype;
  a.batch = batch;
  a.heads_q = heads_q;
  a.heads_kv = heads_kv;
  a.seq_q = seq_q;
  a.seq_kv = seq_kv;
  a.head_dim = head_dim;
  a.causal = causal;
  a.layout = layout;
  return a;
}

xinhe_attention_desc_t AttentionCase::desc() const {
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof(d);
  d.dtype = dtype;
  d.batch = batch;
  d.heads_q = heads_q;
  d.heads_kv = heads_kv;
  d.seq_q = seq_q;
  d.seq_kv = seq_kv;
  d.head_dim = head_dim;
  attention_strides(layout, heads_q, seq_q, head_dim, d.q_strides);
  attention_strides(layout, heads_kv, seq_kv, head_dim, d.k_strides);
  attention_strides(layout, heads_kv, seq_kv, head_dim, d.v_strides);
  attention_strides(layout, heads_q, seq_q, head_dim, d.o_strides);
  d.scale = scale != 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
  d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  d.with_lse = lse;
  if (layout != AttentionLayout::kBhsd && layout != AttentionLayout::kBshd) {
    d.lse_strides[2] = 2;
    d.lse_strides[1] = seq_q * 2 + 1;
    d.lse_strides[0] = heads_q * d.lse_strides[1] + 7;
  } else {
    d.lse_strides[2] = 1;
    d.lse_strides[1] = seq_q;
    d.lse_strides[0] = heads_q * seq_q;
  }
  return d;
}

int64_t AttentionCase::q_span() const {
  const xinhe_attention_desc_t d = desc();
  const int64_t ext[4] = {batch, heads_q, seq_q, head_dim};
  return tensor_span(ext, d.q_strides, 4);
}
int64_t AttentionCase::kv_span() const {
  const xinhe_attention_desc_t d = desc();
  const int64_t ext[4] = {batch, heads_kv, seq_kv, head_dim};
  return tensor_span(ext, d.k_strides, 4);
}
int64_t AttentionCase::o_span() const {
  const xinhe_attention_desc_t d = desc();
  const int64_t ext[4] = {batch, heads_q, seq_q, head_dim};
  return tensor_span(ext, d.o_strides, 4);
}
int64_t AttentionCase::lse_span() const {
  if (!lse) return 0;
  const xinhe_attention_desc_t d = desc();
  const int64_t ext[3] = {batch, heads_q, seq_q};
  return tensor_span(ext, d.lse_strides, 3);
}

std::string AttentionCase::name() const {
  std::ostringstream s;
  s << dtype_name(dtype) << ".b" << batch << ".h" << heads_q << "x" << heads_kv << ".s" << seq_q
    << "x" << seq_kv << ".d" << head_dim;
  if (causal) s << ".causal";
  if (layout != AttentionLayout::kBhsd) s << "." << attention_layout_name(layout);
  if (lse) s << ".lse";
  if (scale != 0.0f) s << ".scale" << scale;
  return s.str();
}

}  // namespace xinhe::test
