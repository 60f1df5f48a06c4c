// Wall-clock timing of one OpenCL op on random device data: a warm-up run, then the median
// of `reps` runs, each enqueue + clFinish (what a caller that synchronizes sees). Used by
// xinhe-tune and xinhe-opencl-probe.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "testing/opencl_op_runner.h"

namespace xinhe::opencl::testing {

struct Timing {
  bool ok = false;
  std::string error;
  std::string impl;
  double median_s = 0.0;
};

// Buffers are sized from the descriptions; their contents are random (never zeros).
inline Timing time_op(const Session& s, const xinhe_be_op_desc_t& desc, const OpOverrides& ov,
                      int reps) {
  Timing t;
  std::unique_ptr<Op> op;
  Status st(create_op(s.device(), desc, ov, &op));
  if (!st.ok()) {
    t.error = st.message();
    return t;
  }
  t.impl = op->impl_name();
  Status chk(op->check());
  if (!chk.ok()) {
    t.error = chk.message();
    return t;
  }
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = desc.kind;
  Status up;
  auto add = [&](int slot, xinhe_dtype_t dtype, size_t count, uint32_t seed) {
    if (count == 0) return;
    buffers.push_back(upload(s, random_array(dtype, count, seed), 0, &up));
    args.mem[slot] = {buffers.back()->get(), 0};
  };
  if (desc.kind == XINHE_OP_GEMM) {
    const xinhe_gemm_desc_t& d = *desc.gemm;
    add(XINHE_GEMM_ARG_A, d.ab_dtype, span(d.trans_a ? d.k : d.m, d.lda, d.stride_a, d.batch), 1);
    add(XINHE_GEMM_ARG_B, d.ab_dtype, span(d.trans_b ? d.n : d.k, d.ldb, d.stride_b, d.batch), 2);
    add(XINHE_GEMM_ARG_C, d.c_dtype, span(d.m, d.ldc, d.stride_c, d.batch), 3);
    args.alpha = 1.0f;
    args.beta = 0.0f;
  } else {
    const xinhe_attention_desc_t& d = *desc.attention;
    const int64_t qd[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
    const int64_t kd[4] = {d.batch, d.heads_kv, d.seq_kv, d.head_dim};
    add(XINHE_ATTENTION_ARG_Q, d.dtype, span4(qd, d.q_strides), 1);
    add(XINHE_ATTENTION_ARG_K, d.dtype, span4(kd, d.k_strides), 2);
    add(XINHE_ATTENTION_ARG_V, d.dtype, span4(kd, d.v_strides), 3);
    add(XINHE_ATTENTION_ARG_O, d.dtype, span4(qd, d.o_strides), 4);
    if (d.with_lse) {
      const int64_t ld[4] = {d.batch, d.heads_q, d.seq_q, 1};
      const int64_t ls[4] = {d.lse_strides[0], d.lse_strides[1], d.lse_strides[2], 1};
      add(XINHE_ATTENTION_ARG_LSE, XINHE_DTYPE_F32, span4(ld, ls), 5);
    }
  }
  if (!up.ok()) {
    t.error = up.message();
    return t;
  }
  if (const uint64_t ws = op->workspace_size(); ws > 0) {
    buffers.push_back(std::make_unique<DeviceBuffer>(s, ws));
    const int slot = desc.kind == XINHE_OP_GEMM ? static_cast<int>(XINHE_GEMM_ARG_WORKSPACE)
                                                : static_cast<int>(XINHE_ATTENTION_ARG_WORKSPACE);
    args.mem[slot] = {buffers.back()->get(), 0};
  }
  const cl_command_queue q = stream_queue(s.stream());
  std::vector<double> samples;
  for (int r = 0; r <= reps; ++r) {  // run 0 is the warm-up
    const auto start = std::chrono::steady_clock::now();
    Status run(op->run(q, args));
    Status sync(s.api()->stream_synchronize(s.stream()));
    if (!run.ok() || !sync.ok()) {
      t.error = run.ok() ? sync.message() : run.message();
      return t;
    }
    const double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) samples.push_back(sec);
  }
  std::sort(samples.begin(), samples.end());
  t.median_s = samples[samples.size() / 2];
  t.ok = true;
  return t;
}

inline xinhe_gemm_desc_t square_gemm_desc(xinhe_dtype_t dtype, int64_t n) {
  GemmCase g;
  g.ab = dtype;
  g.c = dtype;
  g.m = n;
  g.n = n;
  g.k = n;
  return make_gemm_desc(g);
}

inline xinhe_attention_desc_t bhsd_attention_desc(xinhe_dtype_t dtype, int64_t batch, int64_t heads,
                                                  int64_t seq, int64_t dim, bool causal) {
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof(d);
  d.dtype = dtype;
  d.batch = batch;
  d.heads_q = heads;
  d.heads_kv = heads;
  d.seq_q = seq;
  d.seq_kv = seq;
  d.head_dim = dim;
  layout_strides(Layout::kBHSD, heads, seq, dim, d.q_strides);
  layout_strides(Layout::kBHSD, heads, seq, dim, d.k_strides);
  layout_strides(Layout::kBHSD, heads, seq, dim, d.v_strides);
  layout_strides(Layout::kBHSD, heads, seq, dim, d.o_strides);
  d.scale = 1.0f / std::sqrt(static_cast<float>(dim));
  d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  return d;
}

}  // namespace xinhe::opencl::testing
