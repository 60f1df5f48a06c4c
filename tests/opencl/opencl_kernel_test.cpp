// Kernel-level numerics of the OpenCL backend against the float64 reference: each GEMM and
// attention implementation and a small grid of tuning parameters (including the local-memory
// GEMM variant meant for GPUs), driven through the plugin's own objects. The conformance
// suite covers the same ops through the public API. Skips with the reason when no OpenCL
// platform is present. Program builds on PoCL take about a second each, so the grid is small.
#include <gtest/gtest.h>

#include "clblast_api.h"
#include "op_common.h"
#include "testing/opencl_op_runner.h"

namespace xinhe::opencl::testing {
namespace {

class OpenclKernelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { session_ = new Session(); }
  static void TearDownTestSuite() {
    delete session_;
    session_ = nullptr;
  }
  void SetUp() override {
    if (!session_->available()) GTEST_SKIP() << "no usable OpenCL device: " << session_->reason();
  }
  static Session* session_;
};
Session* OpenclKernelTest::session_ = nullptr;

struct NamedGemmParams {
  const char* name;
  GemmParams params;
};

std::vector<NamedGemmParams> gemm_param_grid() {
  GemmParams packed;  // the CPU default: 8x8 tile of float8 over packed panels
  GemmParams wide;    // direct (unpacked) loads, 4x16 tile of float8
  wide.mwi = 4;
  wide.nwi = 16;
  wide.vw = 8;
  wide.kwi = 4;
  wide.mwg = 8;
  wide.nwg = 32;
  wide.pack = 0;
  GemmParams odd;  // scalar lanes, tile sizes that divide nothing, packed
  odd.mwi = 3;
  odd.nwi = 5;
  odd.vw = 1;
  odd.kwi = 3;
  odd.mwg = 3;
  odd.nwg = 10;
  odd.pack = 1;
  GemmParams local;  // GPU-style: local-memory tiles, barriers
  local.mwi = 2;
  local.nwi = 4;
  local.vw = 4;
  local.kwi = 1;
  local.mwg = 8;
  local.nwg = 16;
  local.kwg = 8;
  local.use_local = 1;
  local.pack = 0;
  GemmParams packed_wide;  // the shipped PoCL f32 entry: 6x16 tile (two float8) over packed panels
  packed_wide.mwi = 6;
  packed_wide.nwi = 16;
  packed_wide.vw = 8;
  packed_wide.kwi = 1;
  packed_wide.mwg = 192;
  packed_wide.nwg = 16;
  packed_wide.pack = 1;
  return {{"packed", packed},
          {"packed_wide", packed_wide},
          {"wide", wide},
          {"odd", odd},
          {"local", local}};
}

TEST_F(OpenclKernelTest, GemmTiledParameterGrid) {
  for (const NamedGemmParams& p : gemm_param_grid()) {
    OpOverrides ov;
    ov.gemm = &p.params;
    ov.impl_filter = "tiled";
    // Ragged edges, padding, transposes, batch broadcast, beta != 0.
    GemmCase g;
    g.m = 37;
    g.n = 45;
    g.k = 29;
    g.batch = 2;
    g.pad_a = 3;
    g.pad_b = 1;
    g.pad_c = 2;
    g.alpha = 0.75f;
    g.beta = -0.5f;
    g.broadcast_b = true;
    CheckResult r = check_gemm(*session_, g, ov);
    EXPECT_TRUE(r.ok) << p.name << " NN f32: " << r.error;
    EXPECT_NE(r.impl.find("tiled"), std::string::npos) << r.impl;
    g.trans_a = 1;
    g.trans_b = 1;
    g.beta = 0.0f;
    g.broadcast_b = false;
    g.broadcast_a = true;
    r = check_gemm(*session_, g, ov, 11);
    EXPECT_TRUE(r.ok) << p.name << " TT f32 beta=0: " << r.error;
    // Large enough (M*N*K >= 128^3) for the packed path when PACK=1.
    GemmCase big;
    big.m = 130;
    big.n = 131;
    big.k = 129;
    big.batch = 2;
    big.broadcast_a = true;
    big.trans_b = 1;
    big.pad_b = 2;
    big.beta = 1.5f;
    r = check_gemm(*session_, big, ov, 21);
    EXPECT_TRUE(r.ok) << p.name << " 130x131x129 NT: " << r.error;
  }
}

TEST_F(OpenclKernelTest, GemmTiledDtypes) {
  // Shipped/default parameters: f16 and bf16 storage, C in the ab dtype or f32.
  const xinhe_dtype_t half_types[] = {XINHE_DTYPE_F16, XINHE_DTYPE_BF16};
  for (xinhe_dtype_t ab : half_types) {
    for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
      GemmCase g;
      g.ab = ab;
      g.c = c;
      g.m = 33;
      g.n = 70;
      g.k = 40;
      g.trans_b = 1;
      g.beta = 0.25f;
      OpOverrides ov;
      ov.impl_filter = "tiled";
      const CheckResult r = check_gemm(*session_, g, ov);
      EXPECT_TRUE(r.ok) << opencl::dtype_tag(ab) << "->" << opencl::dtype_tag(c)
                        << ": " << r.error;
    }
  }
}

TEST_F(OpenclKernelTest, GemmZeroKGivesBetaC) {
  GemmCase g;
  g.m = 5;
  g.n = 9;
  g.k = 0;
  g.beta = 2.0f;
  OpOverrides ov;
  ov.impl_filter = "tiled";
  const CheckResult r = check_gemm(*session_, g, ov);
  EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(OpenclKernelTest, GemmReference) {
  OpOverrides ov;
  ov.impl_filter = "reference";
  GemmCase g;
  g.ab = XINHE_DTYPE_BF16;
  g.c = XINHE_DTYPE_F32;
  g.m = 19;
  g.n = 23;
  g.k = 31;
  g.batch = 3;
  g.trans_a = 1;
  g.pad_c = 4;
  g.beta = 1.0f;
  const CheckResult r = check_gemm(*session_, g, ov);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.impl.find("reference"), std::string::npos) << r.impl;
}

// CLBlast (when libclblast.so.1 is installed): f32 only; its first call builds its own
// kernels, which takes tens of seconds on PoCL. beta == 0 with NaN in C checks that the
// wrapper honours "C is not read".
TEST_F(OpenclKernelTest, GemmClblast) {
  std::string why;
  if (clblast_get(session_->device()->backend, &why) == nullptr)
    GTEST_SKIP() << "CLBlast unavailable: " << why;
  OpOverrides ov;
  ov.impl_filter = "clblast";
  GemmCase g;
  g.m = 40;
  g.n = 24;
  g.k = 33;
  g.batch = 2;
  g.trans_a = 1;
  g.pad_c = 3;
  g.beta = 0.0f;  // C poisoned with NaN
  CheckResult r = check_gemm(*session_, g, ov);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.clblast_f32");
  g.beta = 0.5f;
  g.batch = 1;
  r = check_gemm(*session_, g, ov, 3);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.clblast_f32");
}

// alpha == 0 (CLBlast would read A and B) and k == 0 (CLBlast refuses it) run the reference
// kernel, and op_run_impl_name says so for exactly those runs; a k == 0 op is not declined.
TEST_F(OpenclKernelTest, GemmClblastHandsAlphaZeroAndEmptyKToTheReference) {
  std::string why;
  if (clblast_get(session_->device()->backend, &why) == nullptr)
    GTEST_SKIP() << "CLBlast unavailable: " << why;
  OpOverrides ov;
  ov.impl_filter = "clblast";
  GemmCase g;
  g.m = 9;
  g.n = 14;
  g.k = 5;
  g.alpha = 0.0f;
  g.beta = 0.75f;
  CheckResult r = check_gemm(*session_, g, ov);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.reference_f32");
  EXPECT_TRUE(TestHost::get().logged(
      "opencl.gemm.reference_f32 at run, not opencl.gemm.clblast_f32: alpha == 0"));
  g.alpha = 1.5f;
  r = check_gemm(*session_, g, ov, 2);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.clblast_f32");
  g.k = 0;
  g.batch = 2;
  r = check_gemm(*session_, g, ov, 3);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.reference_f32");
}

TEST_F(OpenclKernelTest, GemmFilterMatchingNothingIsUnimplemented) {
  GemmCase g;
  g.m = g.n = g.k = 1;
  const xinhe_gemm_desc_t d = g.desc();
  OpOverrides ov;
  ov.impl_filter = "no-such-impl";
  std::unique_ptr<Op> op;
  ASSERT_TRUE(Status(create_gemm_op(session_->device(), d, ov, &op)).ok());
  Status chk(op->check());
  EXPECT_EQ(chk.code(), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_NE(chk.message().find("no-such-impl"), std::string::npos) << chk.message();
}

// A first implementation whose kernel does not compile (an #error line appended to its source,
// as a driver's compiler rejecting it would) does not fail op creation: the walk falls through
// to CLBlast or the reference kernel, which then pass the numerics, and the build log is the
// reason kept in the dispatch line.
TEST_F(OpenclKernelTest, GemmThatFailsToBuildFallsThroughWithTheReason) {
  OpOverrides ov;
  ov.break_build = "tiled";
  GemmCase g;
  g.m = 21;
  g.n = 18;
  g.k = 13;
  g.beta = 0.5f;
  for (const xinhe_dtype_t dtype : {XINHE_DTYPE_F32, XINHE_DTYPE_F16}) {
    g.ab = g.c = dtype;
    TestHost::get().clear_logs();
    const CheckResult r = check_gemm(*session_, g, ov);
    EXPECT_TRUE(r.ok) << r.error;
    std::string why;
    const bool clblast =
        dtype == XINHE_DTYPE_F32 && clblast_get(session_->device()->backend, &why) != nullptr;
    const std::string dt = opencl::dtype_tag(dtype);
    EXPECT_EQ(r.impl, clblast ? "opencl.gemm.clblast_" + dt : "opencl.gemm.reference_" + dt);
    EXPECT_TRUE(TestHost::get().logged("; skipped opencl.gemm.tiled_" + dt +
                                       ": clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE"));
    EXPECT_TRUE(TestHost::get().logged("build failure injected by a test"));
  }
  // Nothing builds: the op is created, and check names every failure.
  ov.break_build = "_f16";
  g.ab = g.c = XINHE_DTYPE_F16;
  std::unique_ptr<Op> op;
  ASSERT_TRUE(Status(create_gemm_op(session_->device(), g.desc(), ov, &op)).ok());
  Status chk(op->check());
  EXPECT_EQ(chk.code(), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_NE(chk.message().find("opencl.gemm.tiled_f16: clBuildProgram failed"), std::string::npos)
      << chk.message();
  EXPECT_NE(chk.message().find("opencl.gemm.reference_f16: clBuildProgram failed"),
            std::string::npos)
      << chk.message();
  EXPECT_STREQ(op->impl_name(), "opencl");
}

TEST_F(OpenclKernelTest, AttentionThatFailsToBuildFallsThroughToTheReference) {
  OpOverrides ov;
  ov.break_build = "flash";
  AttentionCase c;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.seq_q = 5;
  c.seq_kv = 9;
  c.head_dim = 8;
  c.causal = true;
  c.lse = true;
  TestHost::get().clear_logs();
  const CheckResult r = check_attention(*session_, c, ov);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.attention.reference_f32");
  EXPECT_TRUE(TestHost::get().logged(
      "-> opencl.attention.reference_f32; skipped opencl.attention.flash_f32: clBuildProgram "
      "failed"));
}

struct NamedAttentionParams {
  const char* name;
  AttentionParams params;
};

TEST_F(OpenclKernelTest, AttentionFlashParameterGrid) {
  AttentionParams one;  // one query row per work-item, small key blocks, scalar d
  one.qwi = 1;
  one.bkv = 4;
  one.wg = 4;
  one.dv = 1;
  AttentionParams multi;  // several rows per work-item, key block larger than some Skv
  multi.qwi = 3;
  multi.bkv = 16;
  multi.wg = 2;
  multi.dv = 4;
  for (const NamedAttentionParams& p : {NamedAttentionParams{"one", one}, {"multi", multi}}) {
    OpOverrides ov;
    ov.attention = &p.params;
    ov.impl_filter = "flash";
    // GQA, causal bottom-right with Sq < Skv, BSHD, LSE.
    AttentionCase c;
    c.batch = 2;
    c.heads_q = 4;
    c.heads_kv = 2;
    c.seq_q = 7;
    c.seq_kv = 19;
    c.head_dim = 16;
    c.causal = true;
    c.lse = true;
    c.layout = AttentionLayout::kBshd;
    CheckResult r = check_attention(*session_, c, ov);
    EXPECT_TRUE(r.ok) << p.name << " gqa causal: " << r.error;
    EXPECT_NE(r.impl.find("flash"), std::string::npos) << r.impl;
    // Causal with Sq > Skv: the first rows see no key (zeros, LSE -inf). MQA, strided d.
    c.heads_q = 3;
    c.heads_kv = 1;
    c.seq_q = 11;
    c.seq_kv = 5;
    c.head_dim = 5;
    c.layout = AttentionLayout::kStridedDim;
    r = check_attention(*session_, c, ov, 17);
    EXPECT_TRUE(r.ok) << p.name << " mqa Sq>Skv strided: " << r.error;
  }
}

TEST_F(OpenclKernelTest, AttentionFlashDtypesAndHeadDims) {
  OpOverrides ov;
  ov.impl_filter = "flash";
  struct Case {
    xinhe_dtype_t dtype;
    int64_t head_dim;
  };
  // Default DV = 8: D = 1 runs scalar, 40/64/256 run float8 rows (f16, bf16, f32 loaders).
  for (const Case& k : {Case{XINHE_DTYPE_F16, 1}, Case{XINHE_DTYPE_F16, 40},
                        Case{XINHE_DTYPE_BF16, 64}, Case{XINHE_DTYPE_F32, 256}}) {
    AttentionCase c;
    c.dtype = k.dtype;
    c.head_dim = k.head_dim;
    c.heads_q = 2;
    c.heads_kv = 2;
    c.seq_q = 5;
    c.seq_kv = 33;
    c.lse = true;
    const CheckResult r = check_attention(*session_, c, ov);
    EXPECT_TRUE(r.ok) << opencl::dtype_tag(k.dtype) << " D=" << k.head_dim << ": "
                      << r.error;
  }
}

TEST_F(OpenclKernelTest, AttentionReference) {
  OpOverrides ov;
  ov.impl_filter = "reference";
  AttentionCase c;
  c.dtype = XINHE_DTYPE_F16;
  c.batch = 2;
  c.heads_q = 4;
  c.heads_kv = 1;
  c.seq_q = 9;
  c.seq_kv = 6;
  c.head_dim = 24;
  c.causal = true;
  c.lse = true;
  c.layout = AttentionLayout::kStridedDim;
  const CheckResult r = check_attention(*session_, c, ov);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.impl.find("reference"), std::string::npos) << r.impl;
}

TEST_F(OpenclKernelTest, AttentionEmptyKeysGiveZerosAndMinusInfLse) {
  OpOverrides ov;
  ov.impl_filter = "flash";
  AttentionCase c;
  c.seq_q = 3;
  c.seq_kv = 0;
  c.lse = true;
  c.head_dim = 4;
  const CheckResult r = check_attention(*session_, c, ov);
  EXPECT_TRUE(r.ok) << r.error;
}

}  // namespace
}  // namespace xinhe::opencl::testing
