// The CPU unit tests' shorthands over tests/support: an attention description in one call
// (an AttentionCase's), the elements each tensor spans, and seeded random host arrays.
#pragma once

#include <cstdint>

#include "numerics.h"
#include "op_case.h"
#include "xinhe/ops.h"

namespace xinhe::test {

using Layout = AttentionLayout;
inline const char* layout_name(Layout layout) { return attention_layout_name(layout); }

inline xinhe_attention_desc_t attention_desc(xinhe_dtype_t dtype, int64_t batch, int64_t hq,
                                             int64_t hkv, int64_t sq, int64_t skv, int64_t dim,
                                             bool causal, bool lse, Layout layout) {
  AttentionCase c = attention_case(dtype, batch, hq, hkv, sq, skv, dim, causal, layout);
  c.lse = lse;
  return c.desc();
}

inline int64_t q_elements(const xinhe_attention_desc_t& d) {
  const int64_t e[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
  return tensor_span(e, d.q_strides, 4);
}
inline int64_t kv_elements(const xinhe_attention_desc_t& d, const int64_t* strides) {
  const int64_t e[4] = {d.batch, d.heads_kv, d.seq_kv, d.head_dim};
  return tensor_span(e, strides, 4);
}
inline int64_t o_elements(const xinhe_attention_desc_t& d) {
  const int64_t e[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
  return tensor_span(e, d.o_strides, 4);
}
inline int64_t lse_elements(const xinhe_attention_desc_t& d) {
  const int64_t e[3] = {d.batch, d.heads_q, d.seq_q};
  return tensor_span(e, d.lse_strides, 3);
}

// Every element Rng(seed).uniform(), rounded to the array's dtype: never zero.
inline void fill_random(HostArray& array, uint64_t seed) {
  Rng rng(seed);
  array.randomize(rng);
}

}  // namespace xinhe::test
