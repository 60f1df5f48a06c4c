// Helpers shared by the CPU unit tests: attention descriptions in several layouts, typed host
// tensors filled with seeded random values, and the error metric the tolerances refer to.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "half.h"
#include "numerics.h"
#include "reference.h"
#include "xinhe/ops.h"

namespace xinhe::test {

// dtype_name(): tests/support/numerics.h.

enum class Layout { kBHSD, kBSHD, kPaddedBSHD, kDimMajor };

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kBHSD: return "bhsd";
    case Layout::kBSHD: return "bshd";
    case Layout::kPaddedBSHD: return "bshd_padded";
    case Layout::kDimMajor: return "bhds";
  }
  return "?";
}

// (b, h, s, d) element strides of a [B, H, S, D] tensor in layout l.
inline void layout_strides(Layout l, int64_t heads, int64_t seq, int64_t dim, int64_t s[4]) {
  switch (l) {
    case Layout::kBHSD:
      s[3] = 1; s[2] = dim; s[1] = seq * dim; s[0] = heads * seq * dim;
      return;
    case Layout::kBSHD:
      s[3] = 1; s[1] = dim; s[2] = heads * dim; s[0] = seq * heads * dim;
      return;
    case Layout::kPaddedBSHD:  // rows padded by 5 elements, batches by 3 more
      s[3] = 1; s[1] = dim; s[2] = heads * dim + 5; s[0] = seq * (heads * dim + 5) + 3;
      return;
    case Layout::kDimMajor:  // head_dim outermost inside a head: d stride != 1
      s[2] = 1; s[3] = seq; s[1] = seq * dim; s[0] = heads * seq * dim;
      return;
  }
}

// Elements spanned by a tensor of the given extents and strides (0 if any extent is 0).
inline int64_t span_elements(const int64_t* extents, const int64_t* strides, int rank) {
  int64_t last = 0;
  for (int i = 0; i < rank; ++i) {
    if (extents[i] == 0) return 0;
    last += (extents[i] - 1) * strides[i];
  }
  return last + 1;
}

// Host storage of a tensor in its stored dtype, with NaN poisoning for outputs.
struct HostTensor {
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  std::vector<unsigned char> bytes;
  int64_t elements = 0;

  HostTensor() = default;
  HostTensor(xinhe_dtype_t t, int64_t n)
      : dtype(t), bytes(static_cast<size_t>(n) * (t == XINHE_DTYPE_F32 ? 4 : t == XINHE_DTYPE_F64 ? 8 : 2) + 1),
        elements(n) {}
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  double get(int64_t i) const { return reference::load(dtype, bytes.data(), i); }
  // Uniform in [-1, 1], rounded to dtype, never all zero.
  void fill_random(uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (int64_t i = 0; i < elements; ++i) reference::store(dtype, bytes.data(), i, dist(rng));
  }
  // All bytes 0xff: NaN in f32, f16 and bf16, so unwritten elements are caught.
  void poison() { std::memset(bytes.data(), 0xff, bytes.size()); }
};

inline xinhe_attention_desc_t attention_desc(xinhe_dtype_t dtype, int64_t batch, int64_t hq,
                                             int64_t hkv, int64_t sq, int64_t skv, int64_t dim,
                                             bool causal, bool lse, Layout layout) {
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof(d);
  d.dtype = dtype;
  d.batch = batch;
  d.heads_q = hq;
  d.heads_kv = hkv;
  d.seq_q = sq;
  d.seq_kv = skv;
  d.head_dim = dim;
  layout_strides(layout, hq, sq, dim, d.q_strides);
  layout_strides(layout, hkv, skv, dim, d.k_strides);
  layout_strides(layout, hkv, skv, dim, d.v_strides);
  layout_strides(layout, hq, sq, dim, d.o_strides);
  d.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
  d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  d.with_lse = lse ? 1 : 0;
  // LSE as [B, Hq, Sq] with a gap between heads, so its strides matter too.
  d.lse_strides[2] = 1;
  d.lse_strides[1] = sq + 2;
  d.lse_strides[0] = hq * (sq + 2);
  return d;
}

inline int64_t q_elements(const xinhe_attention_desc_t& d) {
  const int64_t e[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
  return span_elements(e, d.q_strides, 4);
}
inline int64_t kv_elements(const xinhe_attention_desc_t& d, const int64_t* strides) {
  const int64_t e[4] = {d.batch, d.heads_kv, d.seq_kv, d.head_dim};
  return span_elements(e, strides, 4);
}
inline int64_t o_elements(const xinhe_attention_desc_t& d) {
  const int64_t e[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
  return span_elements(e, d.o_strides, 4);
}
inline int64_t lse_elements(const xinhe_attention_desc_t& d) {
  const int64_t e[3] = {d.batch, d.heads_q, d.seq_q};
  return span_elements(e, d.lse_strides, 3);
}

}  // namespace xinhe::test
