// Runs one GEMM or attention op of the OpenCL backend on random host data and compares it
// with the float64 reference, with tests/support's op cases, random data, poison and error
// measure: operands at non-zero byte offsets (the case's, or a default where it gives none),
// outputs poisoned with NaN before the run (C too when beta is 0, so reading it shows), and
// every output element outside the logical ones checked to be untouched. The bound is
// f32_accumulation_tolerance (the OpenCL kernels accumulate in f32): tighter than the
// conformance suite's table, so a slightly wrong tuning candidate is rejected too. Shared by
// tests/opencl and tools/xinhe-tune.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "numerics.h"
#include "op_case.h"
#include "reference.h"
#include "testing/opencl_test_host.h"

namespace xinhe::opencl::testing {

using test::AttentionCase;
using test::AttentionLayout;
using test::GemmCase;

struct CheckResult {
  bool ok = false;
  std::string error;       // why it failed (status message or worst mismatch)
  std::string impl;        // implementation that ran (op_run_impl_name)
  double max_error = 0.0;  // the one error measure (test::ErrorStats), worst output
  double tolerance = 0.0;  // the bound it was held to
};

namespace detail {

// The case's byte offset, or fallback where it gives none, so that no operand starts at 0.
inline uint64_t offset_or(uint64_t offset, uint64_t fallback) {
  return offset != 0 ? offset : fallback;
}

// The first element of after outside the logical ones whose bytes differ from before; -1 if
// none.
inline int64_t first_touched_outside(const test::HostArray& before, const test::HostArray& after,
                                     const std::vector<bool>& logical) {
  const size_t es = before.elem_size();
  for (int64_t i = 0; i < before.count; ++i)
    if (!logical[static_cast<size_t>(i)] &&
        std::memcmp(before.bytes.data() + i * es, after.bytes.data() + i * es, es) != 0)
      return i;
  return -1;
}

// Reads a device buffer back into out (no-op for an empty array); false with *error set.
inline bool read_back(const Session& s, const DeviceBuffer& buffer, uint64_t offset,
                      test::HostArray* out, std::string* error) {
  if (out->bytes.empty()) return true;
  Status st(s.api()->copy_device_to_host(s.stream(), out->data(), {buffer.get(), offset},
                                         out->bytes.size()));
  if (!st.ok()) *error = "read: " + st.message();
  return st.ok();
}

}  // namespace detail

inline CheckResult check_gemm(const Session& s, const GemmCase& g, const OpOverrides& ov,
                              uint64_t seed = 1) {
  CheckResult r;
  const xinhe_gemm_desc_t d = g.desc();
  test::Rng rng(seed);
  test::HostArray a(g.ab, g.k == 0 ? 0 : g.a_span()), b(g.ab, g.k == 0 ? 0 : g.b_span());
  test::HostArray c_init(g.c, g.c_span());
  a.randomize(rng);
  b.randomize(rng);
  if (g.beta != 0.0f) {
    c_init.randomize(rng);
  } else {
    c_init.poison();
  }
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

  const uint64_t off_a = detail::offset_or(g.offset_a, 2 * a.elem_size());
  const uint64_t off_b = detail::offset_or(g.offset_b, 6 * b.elem_size());
  const uint64_t off_c = detail::offset_or(g.offset_c, 4 * c_init.elem_size());
  Status up;
  auto buf_a = upload(s, a.bytes, off_a, &up);
  auto buf_b = upload(s, b.bytes, off_b, &up);
  auto buf_c = upload(s, c_init.bytes, off_c, &up);
  if (!up.ok()) {
    r.error = "upload: " + up.message();
    return r;
  }
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = XINHE_OP_GEMM;
  args.mem[XINHE_GEMM_ARG_A] = {a.count ? buf_a->get() : nullptr, a.count ? off_a : 0};
  args.mem[XINHE_GEMM_ARG_B] = {b.count ? buf_b->get() : nullptr, b.count ? off_b : 0};
  args.mem[XINHE_GEMM_ARG_C] = {c_init.count ? buf_c->get() : nullptr, c_init.count ? off_c : 0};
  args.alpha = g.alpha;
  args.beta = g.beta;
  r.impl = op->run_impl_name(args);  // what this run uses (CLBlast hands some to the reference)
  const uint64_t ws_bytes = op->workspace_size();
  DeviceBuffer ws(s, ws_bytes + 64);  // at a non-zero offset, like the operands
  if (ws_bytes > 0) args.mem[XINHE_GEMM_ARG_WORKSPACE] = {ws.get(), 64};
  Status run(op->run(stream_queue(s.stream()), args));
  if (!run.ok()) {
    r.error = "run: " + run.message();
    return r;
  }
  test::HostArray got(g.c, c_init.count);
  if (!detail::read_back(s, *buf_c, off_c, &got, &r.error)) return r;
  Status sync(s.api()->stream_synchronize(s.stream()));
  if (!sync.ok()) {
    r.error = "sync: " + sync.message();
    return r;
  }

  test::ErrorStats stats;
  std::vector<bool> logical(static_cast<size_t>(got.count), false);
  for (int64_t bt = 0; bt < g.batch; ++bt)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        const int64_t at = bt * d.stride_c + i * d.ldc + j;
        logical[static_cast<size_t>(at)] = true;
        const int64_t flat = (bt * g.m + i) * g.n + j;
        stats.add(got.get(at), want[static_cast<size_t>(flat)], flat);
      }
  r.max_error = stats.normalized();
  r.tolerance = test::f32_accumulation_tolerance(g.c, g.k);
  if (!(r.max_error <= r.tolerance)) {  // also catches NaN
    const int64_t w = stats.worst_index, bt = w / (g.m * g.n), i = w / g.n % g.m, j = w % g.n;
    r.error = g.name() + ": C[" + std::to_string(bt) + "][" + std::to_string(i) + "][" +
              std::to_string(j) + "] = " + test::num(got.get(bt * d.stride_c + i * d.ldc + j)) +
              ", want " + test::num(want[static_cast<size_t>(w)]) + " (error " +
              test::num(r.max_error) + " > " + test::num(r.tolerance) + ")";
    return r;
  }
  if (const int64_t at = detail::first_touched_outside(c_init, got, logical); at >= 0) {
    r.error = g.name() + ": padding element " + std::to_string(at) + " of C was modified";
    return r;
  }
  r.ok = true;
  return r;
}

inline CheckResult check_attention(const Session& s, const AttentionCase& c, const OpOverrides& ov,
                                   uint64_t seed = 7) {
  CheckResult r;
  const xinhe_attention_desc_t d = c.desc();
  test::Rng rng(seed);
  test::HostArray q(c.dtype, c.q_span()), k(c.dtype, c.kv_span()), v(c.dtype, c.kv_span());
  test::HostArray o_init(c.dtype, c.o_span()), l_init(XINHE_DTYPE_F32, c.lse_span());
  q.randomize(rng);
  k.randomize(rng);
  v.randomize(rng);
  o_init.poison();
  l_init.poison();
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
  const uint64_t pad = 8 * q.elem_size();
  Status up;
  auto bq = upload(s, q.bytes, pad, &up), bk = upload(s, k.bytes, pad, &up);
  auto bv = upload(s, v.bytes, pad, &up), bo = upload(s, o_init.bytes, pad, &up);
  auto bl = upload(s, l_init.bytes, 16, &up);
  if (!up.ok()) {
    r.error = "upload: " + up.message();
    return r;
  }
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = XINHE_OP_ATTENTION;
  args.mem[XINHE_ATTENTION_ARG_Q] = {q.count ? bq->get() : nullptr, q.count ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_K] = {k.count ? bk->get() : nullptr, k.count ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_V] = {v.count ? bv->get() : nullptr, v.count ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_O] = {o_init.count ? bo->get() : nullptr, o_init.count ? pad : 0};
  args.mem[XINHE_ATTENTION_ARG_LSE] = {l_init.count ? bl->get() : nullptr, l_init.count ? 16u : 0u};
  Status run(op->run(stream_queue(s.stream()), args));
  if (!run.ok()) {
    r.error = "run: " + run.message();
    return r;
  }
  test::HostArray got_o(c.dtype, o_init.count), got_l(XINHE_DTYPE_F32, l_init.count);
  if (!detail::read_back(s, *bo, pad, &got_o, &r.error) ||
      !detail::read_back(s, *bl, 16, &got_l, &r.error))
    return r;
  Status sync(s.api()->stream_synchronize(s.stream()));
  if (!sync.ok()) {
    r.error = "sync: " + sync.message();
    return r;
  }

  test::ErrorStats o_stats, l_stats;
  std::vector<bool> o_logical(static_cast<size_t>(got_o.count), false);
  std::vector<bool> l_logical(static_cast<size_t>(got_l.count), false);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads_q; ++h)
      for (int64_t i = 0; i < c.seq_q; ++i) {
        const int64_t row = (b * c.heads_q + h) * c.seq_q + i;
        for (int64_t e = 0; e < c.head_dim; ++e) {
          const int64_t at =
              b * d.o_strides[0] + h * d.o_strides[1] + i * d.o_strides[2] + e * d.o_strides[3];
          o_logical[static_cast<size_t>(at)] = true;
          o_stats.add(got_o.get(at), want_o[static_cast<size_t>(row * c.head_dim + e)],
                      row * c.head_dim + e);
        }
        if (c.lse) {
          const int64_t at = b * d.lse_strides[0] + h * d.lse_strides[1] + i * d.lse_strides[2];
          l_logical[static_cast<size_t>(at)] = true;
          l_stats.add(got_l.get(at), want_l[static_cast<size_t>(row)], row);
        }
      }
  const int64_t length = std::max(c.head_dim, c.seq_kv);
  const double o_error = o_stats.normalized(), l_error = l_stats.normalized();
  const double o_tol = test::f32_accumulation_tolerance(c.dtype, length);
  const double l_tol = test::f32_accumulation_tolerance(XINHE_DTYPE_F32, length);
  r.max_error = std::max(o_error, l_error);
  r.tolerance = o_tol;
  // Row (b, h, i) of the flat reference: its "[b][h][i]" and its elements in O and LSE.
  auto where = [&](int64_t row) {
    return "[" + std::to_string(row / (c.heads_q * c.seq_q)) + "][" +
           std::to_string(row / c.seq_q % c.heads_q) + "][" + std::to_string(row % c.seq_q) + "]";
  };
  auto o_at = [&](int64_t row, int64_t e) {
    return row / (c.heads_q * c.seq_q) * d.o_strides[0] +
           row / c.seq_q % c.heads_q * d.o_strides[1] + row % c.seq_q * d.o_strides[2] +
           e * d.o_strides[3];
  };
  auto lse_at = [&](int64_t row) {
    return row / (c.heads_q * c.seq_q) * d.lse_strides[0] +
           row / c.seq_q % c.heads_q * d.lse_strides[1] + row % c.seq_q * d.lse_strides[2];
  };
  if (!(o_error <= o_tol)) {  // also catches NaN
    const int64_t w = o_stats.worst_index, row = w / c.head_dim, e = w % c.head_dim;
    r.error = c.name() + ": O" + where(row) + "[" + std::to_string(e) +
              "] = " + test::num(got_o.get(o_at(row, e))) + ", want " +
              test::num(want_o[static_cast<size_t>(w)]) + " (error " + test::num(o_error) + " > " +
              test::num(o_tol) + ")";
    return r;
  }
  if (!(l_error <= l_tol)) {
    const int64_t w = l_stats.worst_index;
    r.error = c.name() + ": LSE" + where(w) + " = " + test::num(got_l.get(lse_at(w))) + ", want " +
              test::num(want_l[static_cast<size_t>(w)]) + " (error " + test::num(l_error) + " > " +
              test::num(l_tol) + ")";
    return r;
  }
  if (const int64_t at = detail::first_touched_outside(o_init, got_o, o_logical); at >= 0) {
    r.error = c.name() + ": O element " + std::to_string(at) + " outside the tensor was modified";
    return r;
  }
  if (const int64_t at = detail::first_touched_outside(l_init, got_l, l_logical); at >= 0) {
    r.error = c.name() + ": LSE element " + std::to_string(at) + " outside the tensor was modified";
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace xinhe::opencl::testing
