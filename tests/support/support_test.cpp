// Tests of tests/support itself: the recording host returns what a backend put in a status and
// counts those not taken back; the error measure turns NaN and Inf into an infinite error and
// matches an exact -inf; the tolerance widens with the reduction length; op cases describe
// what they name (strides, spans, padding rounding); the per-element f32 accumulation bound and
// the comparison of a GEMM's C count what they should.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "numerics.h"
#include "op_case.h"
#include "recording_host.h"

namespace xinhe::test {
namespace {

TEST(RecordingHost, StatusesComeBackWhole) {
  RecordingHost& host = RecordingHost::get();
  const int64_t before = host.live_statuses();
  xinhe_status_t s = host.api()->status_new(XINHE_STATUS_UNAVAILABLE, "mychip", "dlopen", "f.cpp",
                                            7, "libmychip.so.1 not found");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(host.live_statuses(), before + 1);
  const TakenStatus t = host.take(s);
  EXPECT_EQ(t.code, XINHE_STATUS_UNAVAILABLE);
  EXPECT_EQ(t.backend, "mychip");
  EXPECT_EQ(t.call, "dlopen");
  EXPECT_EQ(t.file, "f.cpp");
  EXPECT_EQ(t.line, 7);
  EXPECT_EQ(t.message, "libmychip.so.1 not found");
  EXPECT_EQ(host.live_statuses(), before);
  EXPECT_TRUE(host.take(nullptr).ok());
}

TEST(RecordingHost, LogsInTheCoresFormatAndVerboseTopics) {
  RecordingHost& host = RecordingHost::get();
  host.clear_logs();
  host.set_verbose("dispatch,load");
  EXPECT_EQ(host.api()->verbose_enabled("dispatch"), 1);
  EXPECT_EQ(host.api()->verbose_enabled("load"), 1);
  EXPECT_EQ(host.api()->verbose_enabled("cache"), 0);
  host.set_verbose("");
  EXPECT_EQ(host.api()->verbose_enabled("dispatch"), 0);
  host.set_verbose("all");
  EXPECT_EQ(host.api()->verbose_enabled("cache"), 1);
  host.api()->log("dispatch", "cpu", "gemm -> cpu.gemm.packed_f32");
  ASSERT_EQ(host.logs().size(), 1u);
  EXPECT_EQ(host.logs()[0], "xinhe[dispatch] cpu: gemm -> cpu.gemm.packed_f32");
  EXPECT_TRUE(host.logged("packed_f32"));
  EXPECT_FALSE(host.logged("reference"));
}

// The filter a test sets is served per op kind through the table's impl_filter (ABI 1.3), as
// the core serves XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL; none by default and after a reset.
TEST(RecordingHost, ServesTheImplementationFilterATestSets) {
  RecordingHost& host = RecordingHost::get();
  const xinhe_host_api_t* api = host.api();
  ASSERT_TRUE(XINHE_STRUCT_HAS(xinhe_host_api_t, api, impl_filter));
  ASSERT_NE(api->impl_filter, nullptr);
  EXPECT_EQ(api->impl_filter(XINHE_OP_GEMM), nullptr);
  host.set_impl_filter(XINHE_OP_GEMM, "tiled");
  host.set_impl_filter(XINHE_OP_ATTENTION, "flash");
  EXPECT_STREQ(api->impl_filter(XINHE_OP_GEMM), "tiled");
  EXPECT_STREQ(api->impl_filter(XINHE_OP_ATTENTION), "flash");
  EXPECT_EQ(api->impl_filter(static_cast<xinhe_op_kind_t>(99)), nullptr);
  host.set_impl_filter(XINHE_OP_GEMM, "");
  host.set_impl_filter(XINHE_OP_ATTENTION, "");
  EXPECT_EQ(api->impl_filter(XINHE_OP_GEMM), nullptr);
  EXPECT_EQ(api->impl_filter(XINHE_OP_ATTENTION), nullptr);
}

// An empty filter is served as "" (not NULL) for its kind only, until set_impl_filter resets it.
TEST(RecordingHost, ServesAnEmptyFilterDistinctFromNone) {
  RecordingHost& host = RecordingHost::get();
  const xinhe_host_api_t* api = host.api();
  host.serve_empty_impl_filter(XINHE_OP_GEMM);
  ASSERT_NE(api->impl_filter(XINHE_OP_GEMM), nullptr);
  EXPECT_STREQ(api->impl_filter(XINHE_OP_GEMM), "");
  EXPECT_EQ(api->impl_filter(XINHE_OP_ATTENTION), nullptr);
  host.set_impl_filter(XINHE_OP_GEMM, "");
  EXPECT_EQ(api->impl_filter(XINHE_OP_GEMM), nullptr);
}

TEST(Numerics, ErrorMeasure) {
  ErrorStats exact;
  exact.add(2.0, 2.0, 0);
  exact.add(-std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 1);
  EXPECT_EQ(exact.normalized(), 0.0);

  ErrorStats off;
  off.add(1.0, 1.0, 0);
  off.add(3.5, 4.0, 1);  // |err| 0.5 against max |ref| 4
  EXPECT_DOUBLE_EQ(off.normalized(), 0.125);
  EXPECT_EQ(off.worst_index, 1);

  ErrorStats nan;
  nan.add(1.0, 1.0, 0);
  nan.add(std::numeric_limits<double>::quiet_NaN(), 1.0, 1);
  EXPECT_TRUE(std::isinf(nan.normalized()));
  EXPECT_FALSE(nan.normalized() <= tolerance(XINHE_DTYPE_F32, 1));

  ErrorStats zero_ref;  // an all-zero reference: absolute error
  zero_ref.add(1e-3, 0.0, 0);
  EXPECT_DOUBLE_EQ(zero_ref.normalized(), 1e-3);
}

TEST(Numerics, ToleranceTable) {
  EXPECT_DOUBLE_EQ(tolerance(XINHE_DTYPE_F32, 64), 1e-4);
  EXPECT_DOUBLE_EQ(tolerance(XINHE_DTYPE_F16, 256), 2e-3);
  EXPECT_DOUBLE_EQ(tolerance(XINHE_DTYPE_BF16, 0), 1.6e-2);
  EXPECT_DOUBLE_EQ(tolerance(XINHE_DTYPE_F32, 1024), 2e-4);  // sqrt(1024 / 256) = 2
  EXPECT_DOUBLE_EQ(unit_roundoff(XINHE_DTYPE_BF16), 1.0 / 256);
}

TEST(Numerics, F32AccumulationBound) {
  // f32: accumulation only, 8 u sqrt(k + 1) times the magnitude; the result itself adds nothing.
  EXPECT_DOUBLE_EQ(f32_accumulation_bound(XINHE_DTYPE_F32, 3, 2.0, 100.0),
                   8.0 * std::ldexp(1.0, -24) * 2.0 * 2.0);
  // A 16-bit result adds its own rounding, relative to the element.
  EXPECT_DOUBLE_EQ(f32_accumulation_bound(XINHE_DTYPE_F16, 0, 0.0, -4.0),
                   1.01 * std::ldexp(1.0, -11) * 4.0);
  // Exact zero (K == 0, beta == 0) allows nothing.
  EXPECT_EQ(f32_accumulation_bound(XINHE_DTYPE_BF16, 0, 0.0, 0.0), 0.0);
  // One product of 64 dropped is far outside it; one f32 rounding per product is inside.
  const double magnitude = 64.0 * 0.25;
  EXPECT_GT(0.25, f32_accumulation_bound(XINHE_DTYPE_F32, 64, magnitude, 16.0));
  EXPECT_LT(64.0 * std::ldexp(1.0, -24) * 0.25,
            f32_accumulation_bound(XINHE_DTYPE_F32, 64, magnitude, 16.0));
}

// The bound for f32-accumulating kernels: four roundings of the stored result plus the f32
// accumulation term, and never looser than the table.
TEST(Numerics, F32AccumulationTolerance) {
  const double u32 = std::ldexp(1.0, -24);
  EXPECT_DOUBLE_EQ(f32_accumulation_tolerance(XINHE_DTYPE_F32, 0), 4 * u32 + 32 * u32);
  EXPECT_DOUBLE_EQ(f32_accumulation_tolerance(XINHE_DTYPE_F32, 99), 4 * u32 + 32 * u32 * 10);
  EXPECT_DOUBLE_EQ(f32_accumulation_tolerance(XINHE_DTYPE_F16, 0),
                   4 * std::ldexp(1.0, -11) + 32 * u32);
  EXPECT_LT(f32_accumulation_tolerance(XINHE_DTYPE_F32, 130),
            0.25 * tolerance(XINHE_DTYPE_F32, 130));
  for (xinhe_dtype_t dtype : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16, XINHE_DTYPE_F64})
    for (int64_t length = 0; length <= (int64_t{1} << 24); length = length * 2 + 1)
      EXPECT_LE(f32_accumulation_tolerance(dtype, length), tolerance(dtype, length))
          << dtype_name(dtype) << " length " << length;
}

TEST(Numerics, HostArraysRoundAndPoison) {
  HostArray a(XINHE_DTYPE_BF16, 3);
  a.set(0, 1.0 + 1.0 / 512);  // halfway between two bf16 values: rounds to even (1.0)
  EXPECT_EQ(a.get(0), 1.0);
  a.poison();
  EXPECT_TRUE(a.is_poison(2));
  EXPECT_TRUE(std::isnan(a.get(2)));
  Rng rng(42);
  a.randomize(rng);
  for (int64_t i = 0; i < a.count; ++i) EXPECT_GE(std::fabs(a.get(i)), 1.0 / 1024);
  const HostArray r = HostArray::random(XINHE_DTYPE_F16, 5, rng);
  EXPECT_EQ(r.bytes.size(), 10u);
  for (int64_t i = 0; i < r.count; ++i) EXPECT_GE(std::fabs(r.get(i)), 1.0 / 1024);
}

TEST(OpCase, GemmDescribesWhatItNames) {
  GemmCase g;
  g.ab = XINHE_DTYPE_F16;
  g.c = XINHE_DTYPE_F32;
  g.trans_b = true;
  g.m = 5, g.n = 3, g.k = 7, g.batch = 2, g.batch_gap = 4;
  g.broadcast_a = true;
  const xinhe_gemm_desc_t d = g.desc();
  EXPECT_EQ(d.lda, 7);
  EXPECT_EQ(d.ldb, 7);  // B stored (n, k)
  EXPECT_EQ(d.ldc, 3);
  EXPECT_EQ(d.stride_a, 0);
  EXPECT_EQ(d.stride_b, 3 * 7 + 4);
  EXPECT_EQ(d.stride_c, 5 * 3 + 4);
  EXPECT_EQ(g.a_span(), 5 * 7);
  EXPECT_EQ(g.c_span(), (5 * 3 + 4) + 5 * 3);
  EXPECT_EQ(g.name(), "f16_f32.nt.5x3x7.batch2.gap4.bcast_a");
  g.round_leading_dims(8);
  EXPECT_EQ(g.desc().lda % 8, 0);
  EXPECT_EQ(g.desc().ldc, 8);
}

TEST(OpCase, GemmCaseInOneLine) {
  const GemmCase g = gemm_case(XINHE_DTYPE_BF16, XINHE_DTYPE_F32, true, false, 4, 6, 3)
                         .batched(2)
                         .pad_leading_dims(1)
                         .broadcast(false, true)
                         .scaled(0.5f, -2.0f);
  EXPECT_EQ(g.name(), "bf16_f32.tn.4x6x3.batch2.bcast_b.ldpad1_1_1.alpha0.5.betam2");
  const xinhe_gemm_desc_t d = g.desc();
  EXPECT_EQ(d.lda, 4 + 1);  // A stored (k, m)
  EXPECT_EQ(d.ldb, 6 + 1);
  EXPECT_EQ(d.ldc, 6 + 1);
  EXPECT_EQ(d.stride_b, 0);
}

// The comparison of C: the error over the (m, n) results only, and any write to row padding
// or to the gap between batches, not to the results themselves.
TEST(OpCase, GemmCComparison) {
  GemmCase g = gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F16, false, false, 2, 3, 5).batched(2);
  g.pad_c = 1;
  g.batch_gap = 2;
  ASSERT_EQ(g.c_span(), (2 * 4 + 2) + 2 * 4);
  HostArray before(g.c, g.c_span());
  before.poison();
  HostArray after = before;
  std::vector<double> ref(2 * 2 * 3);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = 0.25 * static_cast<double>(i + 1);
  const xinhe_gemm_desc_t d = g.desc();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        after.set(b * d.stride_c + i * d.ldc + j, ref[static_cast<size_t>((b * 2 + i) * 3 + j)]);
  EXPECT_EQ(gemm_c_error(g, after, ref.data()).normalized(), 0.0);
  int64_t first = 0;
  EXPECT_EQ(gemm_c_writes_outside(g, before, after, &first), 0);
  EXPECT_EQ(first, -1);

  after.set(d.stride_c + d.ldc + 2, 3.0);  // last result of batch 1: 3.0 against 3.0
  after.set(d.stride_c + 1, 0.0);          // batch 1 (0, 1): 0 against 2.0
  const ErrorStats error = gemm_c_error(g, after, ref.data());
  EXPECT_DOUBLE_EQ(error.normalized(), 2.0 / 3.0);
  EXPECT_EQ(error.worst_index, 7);
  after.set(3, 1.0);          // the padding after row 0 of batch 0
  after.set(2 * 4 + 1, 1.0);  // the gap between the batches
  EXPECT_EQ(gemm_c_writes_outside(g, before, after, &first), 2);
  EXPECT_EQ(first, 3);
}

TEST(OpCase, AttentionLayouts) {
  AttentionCase a;
  a.heads_q = 4, a.heads_kv = 2, a.seq_q = 3, a.seq_kv = 5, a.head_dim = 16;
  a.layout = AttentionLayout::kBshd;
  a.causal = true;
  const xinhe_attention_desc_t d = a.desc();
  EXPECT_EQ(d.q_strides[2], 4 * 16);  // s stride of BSHD: heads * dim
  EXPECT_EQ(d.k_strides[1], 16);
  EXPECT_EQ(d.mask, XINHE_ATTENTION_MASK_CAUSAL);
  EXPECT_FLOAT_EQ(d.scale, 0.25f);
  EXPECT_EQ(a.q_span(), 4 * 3 * 16);
  EXPECT_EQ(a.lse_span(), 0);
  EXPECT_EQ(a.name(), "f32.b1.h4x2.s3x5.d16.causal.bshd");
  const AttentionCase same =
      attention_case(XINHE_DTYPE_F32, 1, 4, 2, 3, 5, 16, true, AttentionLayout::kBshd);
  EXPECT_EQ(same.name(), a.name());
}

// The d-strided layout: a gap after every element, padded rows, heads and batches, padded LSE.
TEST(OpCase, AttentionStridedDim) {
  AttentionCase a;
  a.batch = 2, a.heads_q = 2, a.heads_kv = 1, a.seq_q = 3, a.seq_kv = 4, a.head_dim = 5;
  a.lse = true;
  a.layout = AttentionLayout::kStridedDim;
  const xinhe_attention_desc_t d = a.desc();
  EXPECT_EQ(d.q_strides[3], 2);
  EXPECT_EQ(d.q_strides[2], 2 * 5 + 3);
  EXPECT_EQ(d.q_strides[1], 3 * 13 + 5);
  EXPECT_EQ(d.q_strides[0], 2 * 44 + 3);
  EXPECT_EQ(d.k_strides[1], 4 * 13 + 5);
  EXPECT_EQ(a.q_span(), 91 + 44 + 2 * 13 + 4 * 2 + 1);
  EXPECT_EQ(d.lse_strides[2], 2);  // padded like kPadded's
  EXPECT_GT(a.lse_span(), 2 * 2 * 3);
  EXPECT_EQ(a.name(), "f32.b2.h2x1.s3x4.d5.dstride2.lse");
}

// The CPU tests' layouts: BSHD with padded rows and batches, and d outermost inside a head.
TEST(OpCase, AttentionBshdPaddedAndDimMajor) {
  AttentionCase a = attention_case(XINHE_DTYPE_F32, 2, 3, 1, 4, 6, 8, false,
                                   AttentionLayout::kBshdPadded);
  a.lse = true;
  xinhe_attention_desc_t d = a.desc();
  EXPECT_EQ(d.q_strides[3], 1);
  EXPECT_EQ(d.q_strides[1], 8);
  EXPECT_EQ(d.q_strides[2], 3 * 8 + 5);
  EXPECT_EQ(d.q_strides[0], 4 * 29 + 3);
  EXPECT_EQ(d.k_strides[2], 1 * 8 + 5);
  EXPECT_EQ(d.lse_strides[2], 2);  // padded like the other padded layouts
  EXPECT_EQ(a.name(), "f32.b2.h3x1.s4x6.d8.bshd_padded.lse");
  a.layout = AttentionLayout::kDimMajor;
  d = a.desc();
  EXPECT_EQ(d.q_strides[2], 1);
  EXPECT_EQ(d.q_strides[3], 4);
  EXPECT_EQ(d.k_strides[3], 6);
  EXPECT_EQ(d.q_strides[1], 4 * 8);
  EXPECT_EQ(d.q_strides[0], 3 * 4 * 8);
  EXPECT_EQ(a.q_span(), 2 * 3 * 4 * 8);
  EXPECT_EQ(a.name(), "f32.b2.h3x1.s4x6.d8.bhds.lse");
  EXPECT_STREQ(attention_layout_name(AttentionLayout::kBhsd), "bhsd");
}

}  // namespace
}  // namespace xinhe::test
