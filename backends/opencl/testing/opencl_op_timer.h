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

// Buffers are sized from the descriptions; their contents are random (tests/support's Rng:
// never zeros).
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
  test::Rng rng(1);
  auto add = [&](int slot, xinhe_dtype_t dtype, int64_t count) {
    if (count == 0) return;
    test::HostArray data(dtype, count);
    data.randomize(rng);
    buffers.push_back(upload(s, data.bytes, 0, &up));
    args.mem[slot] = {buffers.back()->get(), 0};
  };
  if (desc.kind == XINHE_OP_GEMM) {
    const xinhe_gemm_desc_t& d = *desc.gemm;
    add(XINHE_GEMM_ARG_A, d.ab_dtype,
        test::matrix_span(d.batch, d.stride_a, d.trans_a ? d.k : d.m, d.lda));
    add(XINHE_GEMM_ARG_B, d.ab_dtype,
        test::matrix_span(d.batch, d.stride_b, d.trans_b ? d.n : d.k, d.ldb));
    add(XINHE_GEMM_ARG_C, d.c_dtype, test::matrix_span(d.batch, d.stride_c, d.m, d.ldc));
    args.alpha = 1.0f;
    args.beta = 0.0f;
  } else {
    const xinhe_attention_desc_t& d = *desc.attention;
    const int64_t qd[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
    const int64_t kd[4] = {d.batch, d.heads_kv, d.seq_kv, d.head_dim};
    add(XINHE_ATTENTION_ARG_Q, d.dtype, test::tensor_span(qd, d.q_strides, 4));
    add(XINHE_ATTENTION_ARG_K, d.dtype, test::tensor_span(kd, d.k_strides, 4));
    add(XINHE_ATTENTION_ARG_V, d.dtype, test::tensor_span(kd, d.v_strides, 4));
    add(XINHE_ATTENTION_ARG_O, d.dtype, test::tensor_span(qd, d.o_strides, 4));
    if (d.with_lse) {
      const int64_t ld[3] = {d.batch, d.heads_q, d.seq_q};
      add(XINHE_ATTENTION_ARG_LSE, XINHE_DTYPE_F32, test::tensor_span(ld, d.lse_strides, 3));
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

// The timed shapes of xinhe-tune and xinhe-opencl-probe: an n^3 GEMM in one dtype, and a
// dense BHSD self-attention with Hq = Hkv.
inline GemmCase square_gemm_case(xinhe_dtype_t dtype, int64_t n) {
  GemmCase g;
  g.ab = g.c = dtype;
  g.m = g.n = g.k = n;
  return g;
}

inline AttentionCase bhsd_attention_case(xinhe_dtype_t dtype, int64_t batch, int64_t heads,
                                         int64_t seq, int64_t dim, bool causal) {
  AttentionCase c;
  c.dtype = dtype;
  c.batch = batch;
  c.heads_q = c.heads_kv = heads;
  c.seq_q = c.seq_kv = seq;
  c.head_dim = dim;
  c.causal = causal;
  return c;
}

}  // namespace xinhe::opencl::testing
