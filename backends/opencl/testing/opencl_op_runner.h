// Runs one GEMM or attention op of the OpenCL backend on random host data and compares it
// with the float64 reference: operands at non-zero offsets, outputs poisoned with NaN before
// the run, padding of C checked to be untouched. Shared by tests/opencl and tools/xinhe-tune.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "reference.h"
#include "testing/opencl_test_host.h"

namespace xinhe::opencl::testing {

struct CheckResult {
  bool ok = false;
  std::string error;       // why it failed (status message or first mismatch)
  std::string impl;        // implementation that ran
  double max_error = 0.0;  // max |got - want| / (1 + |want|)
};

inline double output_eps(xinhe_dtype_t t) {
  return t == XINHE_DTYPE_F32 ? 2.4e-7 : t == XINHE_DTYPE_F16 ? 9.8e-4 : 7.9e-3;
}

inline size_t dtype_size(xinhe_dtype_t t) { return t == XINHE_DTYPE_F32 ? 4 : 2; }

struct GemmCase {
  xinhe_dtype_t ab = XINHE_DTYPE_F32, c = XINHE_DTYPE_F32;
  int trans_a = 0, trans_b = 0;
  int64_t m = 1, n = 1, k = 1, batch = 1;
  int64_t pad_lda = 0, pad_ldb = 0, pad_ldc = 0;  // leading-dimension padding
  bool broadcast_a = false, broadcast_b = false;  // batch stride 0
  float alpha = 1.0f, beta = 0.0f;
};

inline xinhe_gemm_desc_t make_gemm_desc(const GemmCase& g) {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.ab_dtype = g.ab;
  d.c_dtype = g.c;
  d.trans_a = g.trans_a;
  d.trans_b = g.trans_b;
  d.m = g.m;
  d.n = g.n;
  d.k = g.k;
  d.batch = g.batch;
  d.lda = (g.trans_a ? g.m : g.k) + g.pad_lda;
  d.ldb = (g.trans_b ? g.k : g.n) + g.pad_ldb;
  d.ldc = g.n + g.pad_ldc;
  d.stride_a = g.broadcast_a ? 0 : (g.trans_a ? g.k : g.m) * d.lda;
  d.stride_b = g.broadcast_b ? 0 : (g.trans_b ? g.n : g.k) * d.ldb;
  d.stride_c = g.m * d.ldc;
  return d;
}

// Elements spanned by a batched matrix: rows x ld per batch, stride between batches.
inline size_t span(int64_t rows, int64_t ld, int64_t stride, int64_t batch) {
  if (rows == 0 || ld == 0) return 0;
  return static_cast<size_t>((batch - 1) * stride + rows * ld);
}

inline CheckResult check_gemm(const Session& s, const GemmCase& g, const OpOverrides& ov,
                              uint32_t seed = 1) {
  CheckResult r;
  const xinhe_gemm_desc_t d = make_gemm_desc(g);
  const size_t count_a = g.k == 0 ? 0 : span(g.trans_a ? g.k : g.m, d.lda, d.stride_a, g.batch);
  const size_t count_b = g.k == 0 ? 0 : span(g.trans_b ? g.n : g.k, d.ldb, d.stride_b, g.batch);
  const size_t count_c = span(g.m, d.ldc, d.stride_c, g.batch);
  const auto a = random_array(g.ab, count_a, seed);
  const auto b = random_array(g.ab, count_b, seed + 1);
  const auto c_init =
      g.beta != 0.0f ? random_array(g.c, count_c, seed + 2) : nan_array(g.c, count_c);
  std::vector<double> want(static_cast<size_t>(g.batch * g.m * g.n));
  reference::gemm(d, a.data(), b.data(), c_init.data(), g.alpha, g.beta, want.data());

  std::unique_ptr<Op> op;
  Status st(create_gemm_op(s.device(), d, ov, &op));
  if (!st.ok()) {
    r.error = "create: " + st.message();
    return r;
  }
  r.impl = op->impl_name();
  Status chk(op->check());
  if (!chk.ok()) {
    r.error = "check: " + chk.message();
    return r;
  }

  const uint64_t pad_a = 2 * dtype_size(g.ab), pad_b = 6 * dtype_size(g.ab),
                 pad_c = 4 * dtype_size(g.c);
  Status up;
  auto buf_a = upload(s, a, pad_a, &up);
  auto buf_b = upload(s, b, pad_b, &up);
  auto buf_c = upload(s, c_init, pad_c, &up);
  if (!up.ok()) {
    r.error = "upload: " + up.message();
    return r;
  }
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = XINHE_OP_GEMM;
  args.mem[XINHE_GEMM_ARG_A] = {count_a ? buf_a->get() : nullptr, count_a ? pad_a : 0};
  args.mem[XINHE_GEMM_ARG_B] = {count_b ? buf_b->get() : nullptr, count_b ? pad_b : 0};
  args.mem[XINHE_GEMM_ARG_C] = {count_c ? buf_c->get() : nullptr, count_c ? pad_c : 0};
  args.alpha = g.alpha;
  args.beta = g.beta;
  const uint64_t ws_bytes = op->workspace_size();
  DeviceBuffer ws(s, ws_bytes + 64);  // at a non-zero offset, like the operands
  if (ws_bytes > 0) args.mem[XINHE_GEMM_ARG_WORKSPACE] = {ws.get(), 64};
  Status run(op->run(stream_queue(s.stream()), args));
  if (!run.ok()) {
    r.error = "run: " + run.message();
    return r;
  }
  std::vector<uint8_t> got(c_init.size());
  if (count_c) {
    Status rd(
        s.api()->copy_device_to_host(s.stream(), got.data(), {buf_c->get(), pad_c}, got.size()));
    if (!rd.ok()) {
      r.error = "read: " + rd.message();
      return r;
    }
  }
  Status sync(s.api()->stream_synchronize(s.stream()));
  if (!sync.ok()) {
    r.error = "sync: " + sync.message();
    return r;
  }

  const double eps = output_eps(g.c);
  const size_t es = dtype_size(g.c);
  std::vector<bool> written(count_c, false);
  for (int64_t bt = 0; bt < g.batch; ++bt)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        const int64_t idx = bt * d.stride_c + i * d.ldc + j;
        written[idx] = true;
        const double v = reference::load(g.c, got.data(), idx);
        const double w = want[(bt * g.m + i) * g.n + j];
        const double err = std::fabs(v - w) / (1.0 + std::fabs(w));
        const double tol = 2 * eps + 2e-6 * std::sqrt(static_cast<double>(g.k) + 1.0);
        if (!(err <= tol)) {  // also catches NaN
          r.error = "C[" + std::to_string(bt) + "][" + std::to_string(i) + "][" +
                    std::to_string(j) + "] = " + std::to_string(v) + ", want " + std::to_string(w);
          return r;
        }
        r.max_error = std::max(r.max_error, err);
      }
  for (size_t idx = 0; idx < count_c; ++idx)
    if (!written[idx] && std::memcmp(got.data() + idx * es, c_init.data() + idx * es, es) != 0) {
      r.error = "padding element " + std::to_string(idx) + " of C was modified";
      return r;
    }
  r.ok = true;
  return r;
}

enum class Layout { kBHSD, kBSHD, kStridedD };

struct AttentionCase {
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  int64_t batch = 1, heads_q = 1, heads_kv = 1, seq_q = 1, seq_kv = 1, head_dim = 8;
  bool causal = false, lse = false;
  Layout layout = Layout::kBHSD;
};

inline void layout_strides(Layout l, int64_t h, int64_t s, int64_t d, int64_t out[4]) {
  switch (l) {
    case Layout::kBHSD:
      out[0] = h * s * d;
      out[1] = s * d;
      out[2] = d;
      out[3] = 1;
      break;
    case Layout::kBSHD:
      out[0] = s * h * d;
      out[1] = d;
      out[2] = h * d;
      out[3] = 1;
      break;
    case Layout::kStridedD:  // every element followed by a gap; rows padded by 3
      out[3] = 2;
      out[2] = 2 * d + 3;
      out[1] = s * out[2];
      out[0] = h * out[1] + 5;
      break;
  }
}

inline size_t span4(const int64_t dims[4], const int64_t strides[4]) {
  int64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    if (dims[i] == 0) return 0;
    last += (dims[i] - 1) * strides[i];
  }
  return static_cast<size_t>(last + 1);
}

inline CheckResult check_attention(const Session& s, const AttentionCase& c, const OpOverrides& ov,
                                   uint32_t seed = 7) {
  CheckResult r;
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof(d);
  d.dtype = c.dtype;
  d.batch = c.batch;
  d.heads_q = c.heads_q;
  d.heads_kv = c.heads_kv;
  d.seq_q = c.seq_q;
  d.seq_kv = c.seq_kv;
  d.head_dim = c.head_dim;
  layout_strides(c.layout, c.heads_q, c.seq_q, c.head_dim, d.q_strides);
  layout_strides(c.layout, c.heads_kv, c.seq_kv, c.head_dim, d.k_strides);
  layout_strides(c.layout, c.heads_kv, c.seq_kv, c.head_dim, d.v_strides);
  layout_strides(c.layout, c.heads_q, c.seq_q, c.head_dim, d.o_strides);
  d.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  d.mask = c.causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  d.with_lse = c.lse ? 1 : 0;
  d.lse_strides[0] = c.heads_q * c.seq_q + 1;  // padded, to catch dense-layout assumptions
  d.lse_strides[1] = c.seq_q;
  d.lse_strides[2] = 1;
  const int64_t qdims[4] = {c.batch, c.heads_q, c.seq_q, c.head_dim};
  const int64_t kdims[4] = {c.batch, c.heads_kv, c.seq_kv, c.head_dim};
  const size_t nq = span4(qdims, d.q_strides), nk = span4(kdims, d.k_strides);
  const size_t nv = span4(kdims, d.v_strides), no = span4(qdims, d.o_strides);
  const int64_t ldims[4] = {c.batch, c.heads_q, c.seq_q, 1};
  const int64_t lstr[4] = {d.lse_strides[0], d.lse_strides[1], d.lse_strides[2], 1};
  const size_t nl = c.lse ? span4(ldims, lstr) : 0;
  const auto q = random_array(c.dtype, nq, seed);
  const auto k = random_array(c.dtype, nk, seed + 1);
  const auto v = random_array(c.dtype, nv, seed + 2);
  const auto o_init = nan_array(c.dtype, no);
  const auto l_init = nan_array(XINHE_DTYPE_F32, nl);
  const size_t rows = static_cast<size_t>(c.batch * c.heads_q * c.seq_q);
  std::vector<double> want_o(rows * c.head_dim), want_l(rows);
  reference::attention(d, q.data(), k.data(), v.data(), want_o.data(), want_l.data());

  std::unique_ptr<Op> op;
  Status st(create_attention_op(s.device(), d, ov, &op));
  if (!st.ok()) {
    r.error = "create: " + st.message();
    return r;
  }
  r.impl = op->impl_name();
  const size_t es = dtype_size(c.dtype);
  const uint64_t pad = 8 * es;
  Status up;
  auto bq = upload(s, q, pad, &up), bk = upload(s, k, pad, &up), bv = upload(s, v, pad, &up);
  auto bo = upload(s, o_init, pad, &up), bl = upload(s, l_init, 16, &up);
  if (!up.ok()) {
    r.error = "upload: " + up.message();
    return r;
  }
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = XINHE_OP_ATTENTION;
  args.mem[XINHE_ATTENTION_ARG_Q] = {nq ? bq->get() : nullptr, nq ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_K] = {nk ? bk->get() : nullptr, nk ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_V] = {nv ? bv->get() : nullptr, nv ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_O] = {no ? bo->get() : nullptr, no ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_LSE] = {nl ? bl->get() : nullptr, nl ? 16u : 0u};
  Status run(op->run(stream_queue(s.stream()), args));
  if (!run.ok()) {
    r.error = "run: " + run.message();
    return r;
  }
  std::vector<uint8_t> got_o(o_init.size()), got_l(l_init.size());
  if (no)
    Status(s.api()->copy_device_to_host(s.stream(), got_o.data(), {bo->get(), pad}, got_o.size()));
  if (nl)
    Status(s.api()->copy_device_to_host(s.stream(), got_l.data(), {bl->get(), 16}, got_l.size()));
  Status sync(s.api()->stream_synchronize(s.stream()));
  if (!sync.ok()) {
    r.error = "sync: " + sync.message();
    return r;
  }
  const double eps = output_eps(c.dtype);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads_q; ++h)
      for (int64_t i = 0; i < c.seq_q; ++i) {
        const size_t row = static_cast<size_t>((b * c.heads_q + h) * c.seq_q + i);
        for (int64_t e = 0; e < c.head_dim; ++e) {
          const int64_t idx =
              b * d.o_strides[0] + h * d.o_strides[1] + i * d.o_strides[2] + e * d.o_strides[3];
          const double got = reference::load(c.dtype, got_o.data(), idx);
          const double w = want_o[row * c.head_dim + e];
          const double err = std::fabs(got - w) / (1.0 + std::fabs(w));
          if (!(err <= 2 * eps + 1e-5)) {
            r.error = "O[" + std::to_string(b) + "][" + std::to_string(h) + "][" +
                      std::to_string(i) + "][" + std::to_string(e) + "] = " + std::to_string(got) +
                      ", want " + std::to_string(w);
            return r;
          }
          r.max_error = std::max(r.max_error, err);
        }
        if (c.lse) {
          const int64_t idx = b * d.lse_strides[0] + h * d.lse_strides[1] + i * d.lse_strides[2];
          const double got = reference::load(XINHE_DTYPE_F32, got_l.data(), idx);
          const double w = want_l[row];
          const bool same_inf = std::isinf(w) && got == w;
          if (!same_inf && !(std::fabs(got - w) <= 1e-5 * (1.0 + std::fabs(w)))) {
            r.error = "LSE[" + std::to_string(row) + "] = " + std::to_string(got) + ", want " +
                      std::to_string(w);
            return r;
          }
        }
      }
  r.ok = true;
  return r;
}

}  // namespace xinhe::opencl::testing
