// The tile attention (kernels/attention/cpu/attention_tiles.h) with every micro-kernel it runs
// on: the real ones the CPU has (AVX-512 f32, AVX512_BF16, AMX, AVX2), and, on any x86-64, the
// same orchestration on the portable GEMM kernel, the AVX-512 tiling and 16-lane vector steps
// built with AVX2, and the AVX512_BF16 / AMX kernels on the instruction emulation
// (tests/x86_emulation). Decode's few rows read K and V in place (f32, and bf16/f16 widened as
// they are read). Against the float64 reference: GQA groups up to 100 heads (several tasks per
// kv head), decode shapes whose keys are split between threads, causal masks with Sq != Skv
// (rows that see no key give O = 0 and LSE = -inf), head dims around the tile edges, strided
// layouts (d stride != 1), LSE.
// Shift invariance: adding 1e4 to every logit (exactly, through an extra dimension) must give
// the same O, since the kernels subtract the running max before scaling or rounding.
#include "attention_tiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "checked_math.h"
#include "cpu_features.h"
#include "cpu_test_util.h"
#include "gemm_packed.h"
#include "reference.h"
#include "thread_pool.h"

namespace xinhe::kernels::cpu {
// tests/gemm_cpu: the AVX-512 tiling on AVX2, and the 16-bit kernels on the emulation.
const PackedKernels& packed_kernels_avx512_on_avx2();
const PackedKernels& packed_kernels_avx512_bf16_emulated();
const PackedKernels& packed_kernels_amx_bf16_emulated();
const PackedKernels& packed_kernels_amx_fp16_emulated();
#if defined(__x86_64__)
// attention_softmax_16_lanes_on_avx2.cpp: the AVX-512 build of the vector steps, on AVX2.
const SoftmaxKernels& softmax_kernels_16_lanes_on_avx2();
#endif
}  // namespace xinhe::kernels::cpu

namespace xinhe::test {
namespace {

using kernels::CpuFeature;
using kernels::cpu::AttentionImpl;
using kernels::cpu::AttentionProblem;
using kernels::cpu::TileAttentionKernels;

// One way to run the tile attention: a list entry, or the orchestration on given kernels.
struct Variant {
  std::string name;
  int only_dtype;             // -1: f32, f16 and bf16
  const AttentionImpl* impl;  // a real list entry, or nullptr
  TileAttentionKernels kernels;
  const char* (*cannot_run)();  // nullptr when it runs here, else why not
};

const char* needs_avx2() { return kernels::cpu_feature_unavailable(CpuFeature::kAvx2); }
const char* runs_anywhere() { return nullptr; }

std::vector<Variant> variants() {
  std::vector<Variant> out;
  for (const AttentionImpl& impl : kernels::cpu::attention_impls()) {
    const std::string name = impl.label();
    // The tile entries: flash_<arch> (the fused_* kernels are tested in attention_cpu_test).
    if (name.rfind("flash_", 0) != 0) continue;
    // The 16-bit units multiply one input dtype: amxbf16 and avx512bf16 bf16, amxfp16 f16.
    const int only = name.find("bf16") != std::string::npos   ? XINHE_DTYPE_BF16
                     : name.find("fp16") != std::string::npos ? XINHE_DTYPE_F16
                                                              : -1;
    out.push_back({name, only, &impl, {}, nullptr});
  }
  using namespace kernels::cpu;
  const SoftmaxKernels* sm = &softmax_kernels_portable();
  out.push_back({"portable_4x8", -1, nullptr, {&packed_kernels_portable(), sm}, runs_anywhere});
#if defined(__x86_64__)
  out.push_back({"avx512_tiling_on_avx2",
                 -1,
                 nullptr,
                 {&packed_kernels_avx512_on_avx2(), &softmax_kernels_16_lanes_on_avx2()},
                 needs_avx2});
#endif
  out.push_back({"avx512bf16_emulated",
                 XINHE_DTYPE_BF16,
                 nullptr,
                 {&packed_kernels_avx512_bf16_emulated(), sm},
                 runs_anywhere});
  out.push_back({"amx_bf16_emulated",
                 XINHE_DTYPE_BF16,
                 nullptr,
                 {&packed_kernels_amx_bf16_emulated(), sm},
                 runs_anywhere});
  out.push_back({"amx_fp16_emulated",
                 XINHE_DTYPE_F16,
                 nullptr,
                 {&packed_kernels_amx_fp16_emulated(), sm},
                 runs_anywhere});
  return out;
}

const char* why_not(const Variant& v, const xinhe_attention_desc_t& d) {
  if (v.impl != nullptr) return v.impl->unsupported_reason(d);
  if (v.only_dtype >= 0 && d.dtype != v.only_dtype) return "other dtype";
  return v.cannot_run();
}

uint64_t workspace_of(const Variant& v, const xinhe_attention_desc_t& d, int threads) {
  return v.impl != nullptr ? v.impl->workspace_size(d, threads)
                           : kernels::cpu::tile_attention_workspace_size(v.kernels, d, threads);
}

void run(const Variant& v, const AttentionProblem& p, kernels::Parallel& parallel) {
  if (v.impl != nullptr) {
    v.impl->run(p, parallel);
  } else {
    kernels::cpu::run_tile_attention(v.kernels, p, parallel);
  }
}

struct Inputs {
  xinhe_attention_desc_t desc;
  HostArray q, k, v, o, lse;
};

Inputs make_inputs(xinhe_dtype_t dtype, int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                   int64_t dim, bool causal, Layout layout, uint32_t seed) {
  Inputs in;
  in.desc = attention_desc(dtype, b, hq, hkv, sq, skv, dim, causal, true, layout);
  in.q = HostArray(dtype, q_elements(in.desc));
  in.k = HostArray(dtype, kv_elements(in.desc, in.desc.k_strides));
  in.v = HostArray(dtype, kv_elements(in.desc, in.desc.v_strides));
  in.o = HostArray(dtype, o_elements(in.desc));
  in.lse = HostArray(XINHE_DTYPE_F32, lse_elements(in.desc));
  fill_random(in.q, seed);
  fill_random(in.k, seed + 1);
  fill_random(in.v, seed + 2);
  return in;
}

// Runs with poisoned outputs and a workspace 4 bytes off alignment.
void run_poisoned(const Variant& v, Inputs& in, kernels::Parallel& parallel) {
  in.o.poison();
  in.lse.poison();
  std::vector<unsigned char> ws(workspace_of(v, in.desc, parallel.threads()) + 4);
  run(v,
      {in.desc, in.q.data(), in.k.data(), in.v.data(), in.o.data(),
       static_cast<float*>(in.lse.data()), ws.data() + 4},
      parallel);
}

::testing::AssertionResult matches_reference(const Inputs& in) {
  const auto& d = in.desc;
  const int64_t rows = d.batch * d.heads_q * d.seq_q;
  std::vector<double> o_ref(static_cast<size_t>(std::max<int64_t>(rows * d.head_dim, 1)));
  std::vector<double> lse_ref(static_cast<size_t>(std::max<int64_t>(rows, 1)));
  reference::attention(d, in.q.data(), in.k.data(), in.v.data(), o_ref.data(), lse_ref.data());
  double max_ref = 1e-3;
  for (double x : o_ref) max_ref = std::max(max_ref, std::fabs(x));
  const double tol = tolerance(d.dtype, 0) * max_ref;
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t h = 0; h < d.heads_q; ++h)
      for (int64_t i = 0; i < d.seq_q; ++i) {
        const int64_t row = (b * d.heads_q + h) * d.seq_q + i;
        for (int64_t x = 0; x < d.head_dim; ++x) {
          const double got = in.o.get(b * d.o_strides[0] + h * d.o_strides[1] + i * d.o_strides[2] +
                                      x * d.o_strides[3]);
          const double want = o_ref[static_cast<size_t>(row * d.head_dim + x)];
          if (!(std::fabs(got - want) <= tol)) {
            return ::testing::AssertionFailure()
                   << "O[" << b << "," << h << "," << i << "," << x << "] = " << got << ", want "
                   << want << " +- " << tol;
          }
        }
        const double got =
            in.lse.get(b * d.lse_strides[0] + h * d.lse_strides[1] + i * d.lse_strides[2]);
        const double want = lse_ref[static_cast<size_t>(row)];
        const bool ok = std::isinf(want)
                            ? (std::isinf(got) && got < 0)
                            : std::fabs(got - want) <= 2e-4 * std::max(1.0, std::fabs(want));
        if (!ok)
          return ::testing::AssertionFailure()
                 << "LSE row " << row << " = " << got << ", want " << want;
      }
  return ::testing::AssertionSuccess();
}

class TileAttentionTest : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    variant_ = variants()[GetParam()];
    auto probe = attention_desc(
        variant_.only_dtype < 0 ? XINHE_DTYPE_F32 : static_cast<xinhe_dtype_t>(variant_.only_dtype),
        1, 1, 1, 1, 1, 64, false, false, Layout::kBhsd);
    if (const char* why = why_not(variant_, probe)) GTEST_SKIP() << variant_.name << ": " << why;
  }
  std::vector<xinhe_dtype_t> dtypes() const {
    if (variant_.only_dtype >= 0) return {static_cast<xinhe_dtype_t>(variant_.only_dtype)};
    return {XINHE_DTYPE_F32, XINHE_DTYPE_BF16, XINHE_DTYPE_F16};
  }
  Variant variant_;
  kernels::SerialParallel serial_;
  static inline backends::cpu::ThreadPool two_threads_{2};
};

struct ShapeCase {
  int64_t b, hq, hkv, sq, skv, dim;
  bool causal;
  Layout layout;
};

TEST_P(TileAttentionTest, MatchesReference) {
  const ShapeCase shapes[] = {
      {1, 2, 2, 70, 300, 64, true, Layout::kBhsd},         // Sq < Skv, two key blocks
      {2, 4, 1, 33, 33, 40, false, Layout::kBshd},         // GQA 4, odd head dim
      {1, 8, 1, 13, 200, 128, true, Layout::kBshdPadded},  // GQA 8: 8 heads x 12 positions
      {1, 100, 1, 2, 20, 16, false, Layout::kBhsd},        // group of 100: two tasks per kv head
      {1, 2, 2, 130, 65, 33, true, Layout::kDimMajor},     // Sq > Skv: rows without keys; d stride
      {1, 1, 1, 1, 700, 64, false, Layout::kBhsd},         // decode, keys split on 2 threads
      {1, 4, 2, 1, 600, 80, true, Layout::kBshd},          // causal decode, GQA, splits
      {1, 2, 1, 5, 0, 16, false, Layout::kBhsd},           // no keys at all
      {1, 2, 1, 400, 450, 48, true, Layout::kBshd},        // several query blocks share packed
                                                           // K/V; causal ends inside a block
      // At most 16 f32 or 8 bf16/f16 rows: K and V read in place (rows of 4 keys and a tail; O
      // in chunks of 8 vectors, single vectors and a scalar tail), else packed.
      {1, 16, 1, 1, 300, 40, false, Layout::kBshd},        // 16 rows: f32 in place
      {1, 17, 1, 1, 300, 40, true, Layout::kBhsd},         // 17 rows: packed
      {1, 8, 1, 1, 300, 136, true, Layout::kBshd},         // 8 rows: every dtype in place
      {1, 9, 1, 1, 300, 24, false, Layout::kBhsd},         // 9 rows: 16-bit packed
      {1, 4, 1, 1, 45, 1024, true, Layout::kBhsd},         // the tile entries' largest D
      {1, 3, 1, 1, 520, 72, false, Layout::kBshd},         // GQA 3 decode, D 72
      {2, 5, 5, 1, 257, 13, true, Layout::kBhsd},          // D below a vector, a 1-key block
      {1, 2, 2, 3, 40, 200, true, Layout::kBshdPadded},    // 3 causal rows, padded K/V rows
      {1, 1, 1, 2, 900, 64, false, Layout::kDimMajor},     // d stride != 1: packed path
  };
  uint32_t seed = 10;
  for (xinhe_dtype_t dtype : dtypes()) {
    for (const ShapeCase& s : shapes) {
      for (kernels::Parallel* parallel : {static_cast<kernels::Parallel*>(&serial_),
                                          static_cast<kernels::Parallel*>(&two_threads_)}) {
        Inputs in =
            make_inputs(dtype, s.b, s.hq, s.hkv, s.sq, s.skv, s.dim, s.causal, s.layout, seed++);
        ASSERT_EQ(why_not(variant_, in.desc), nullptr);
        run_poisoned(variant_, in, *parallel);
        EXPECT_TRUE(matches_reference(in))
            << variant_.name << " " << dtype_name(dtype) << " b" << s.b << " hq" << s.hq << " hkv"
            << s.hkv << " sq" << s.sq << " skv" << s.skv << " d" << s.dim
            << (s.causal ? " causal " : " ") << layout_name(s.layout) << " threads "
            << parallel->threads();
      }
    }
  }
}

// Logits offset by exactly 1e4 (through a last dimension holding 100 in Q and K; the other
// entries are multiples of 1/32, so every dot product is exact in f32) give the same O and an
// LSE larger by 1e4 * scale. A kernel that scales or rounds the logits before subtracting the
// max loses about ulp(1e4) ~ 1e-3 in each exponent.
TEST_P(TileAttentionTest, ShiftInvariantUnderLargeLogits) {
  for (xinhe_dtype_t dtype : dtypes()) {
    for (bool causal : {false, true}) {
      const int64_t dim = 64, sq = 40, skv = 300;
      Inputs plain = make_inputs(dtype, 1, 2, 1, sq, skv, dim, causal, Layout::kBhsd, 77);
      for (HostArray* t : {&plain.q, &plain.k}) {
        for (int64_t e = 0; e < t->count; ++e) {
          reference::store(dtype, t->data(), e, std::round(t->get(e) * 32.0) / 32.0);
        }
      }
      Inputs shifted = plain;
      for (int64_t e = dim - 1; e < plain.q.count; e += dim) {
        reference::store(dtype, plain.q.data(), e, 0.0);
        reference::store(dtype, shifted.q.data(), e, 100.0);
      }
      for (int64_t e = dim - 1; e < plain.k.count; e += dim) {
        reference::store(dtype, plain.k.data(), e, 0.0);
        reference::store(dtype, shifted.k.data(), e, 100.0);
      }
      run_poisoned(variant_, plain, two_threads_);
      run_poisoned(variant_, shifted, two_threads_);
      EXPECT_TRUE(matches_reference(plain)) << variant_.name << " " << dtype_name(dtype);
      EXPECT_TRUE(matches_reference(shifted)) << variant_.name << " " << dtype_name(dtype);
      const double offset = 1e4 * plain.desc.scale;
      for (int64_t e = 0; e < plain.o.count; ++e) {
        ASSERT_NEAR(shifted.o.get(e), plain.o.get(e), 1e-6)
            << variant_.name << " " << dtype_name(dtype) << (causal ? " causal" : "") << " O[" << e
            << "]";
      }
      for (int64_t r = 0; r < 2 * sq; ++r) {
        const int64_t at = (r / sq) * plain.desc.lse_strides[1] + (r % sq);
        ASSERT_NEAR(shifted.lse.get(at) - plain.lse.get(at), offset, 1e-3)
            << variant_.name << " row " << r;
      }
    }
  }
}

// Bottom-right causal with Sq > Skv: the first Sq - Skv query rows see no key.
TEST_P(TileAttentionTest, FullyMaskedRowsAreZeroWithMinusInfinityLse) {
  for (xinhe_dtype_t dtype : dtypes()) {
    Inputs in = make_inputs(dtype, 1, 3, 1, 9, 4, 32, true, Layout::kBhsd, 5);
    run_poisoned(variant_, in, two_threads_);
    for (int64_t h = 0; h < 3; ++h) {
      for (int64_t i = 0; i < 5; ++i) {
        for (int64_t x = 0; x < 32; ++x) {
          const double got = in.o.get(h * in.desc.o_strides[1] + i * in.desc.o_strides[2] + x);
          ASSERT_EQ(got, 0.0) << variant_.name << " head " << h << " row " << i;
        }
        const double lse = in.lse.get(h * in.desc.lse_strides[1] + i);
        ASSERT_TRUE(std::isinf(lse) && lse < 0) << variant_.name << " LSE " << lse;
      }
    }
    EXPECT_TRUE(matches_reference(in)) << variant_.name;
  }
}

// A negative scale: the kernels negate Q instead (the running max of raw scores assumes > 0).
TEST_P(TileAttentionTest, NegativeScale) {
  for (xinhe_dtype_t dtype : dtypes()) {
    for (int64_t sq : {20, 1}) {  // packed rows, and decode's few rows
      Inputs in = make_inputs(dtype, 1, 2, 2, sq, 50, 24, false, Layout::kBhsd, 9);
      in.desc.scale = -0.7f;
      run_poisoned(variant_, in, serial_);
      EXPECT_TRUE(matches_reference(in)) << variant_.name << " " << dtype_name(dtype) << " sq " << sq;
    }
  }
}

// A single key with K's and V's row strides at 2^62: valid, since no index above 0 multiplies
// them (the fuzzer's find: the in-place decode once scaled the stride to bytes up front, a
// signed overflow UBSan reports). Decode rows of every dtype, in place and packed.
TEST_P(TileAttentionTest, SingleKeyWithRowStrideNear2To62) {
  for (xinhe_dtype_t dtype : dtypes()) {
    for (int64_t hq : {1, 4, 20}) {  // in place (1 and 4 rows) and packed (20)
      Inputs in = make_inputs(dtype, 1, hq, 1, 1, 1, 24, true, Layout::kBhsd, 21);
      in.desc.k_strides[2] = in.desc.v_strides[2] = int64_t{1} << 62;
      run_poisoned(variant_, in, two_threads_);
      EXPECT_TRUE(matches_reference(in)) << variant_.name << " " << dtype_name(dtype) << " hq " << hq;
    }
  }
}

// Sizes valid one by one whose product of tasks (B x Hkv x query blocks) does not fit in
// int64: a batch broadcast with stride 0 (the fuzzer's find, once signed overflow in the plan).
// The workspace size says so (kSizeOverflow, so the dispatch declines the kernel); with Hq = 0
// there is nothing to compute and the size is finite.
TEST_P(TileAttentionTest, TaskCountNear2To63) {
  for (xinhe_dtype_t dtype : dtypes()) {
    xinhe_attention_desc_t d =
        attention_desc(dtype, 1, 3, 3, 4, 8, 65, false, false, Layout::kBhsd);
    d.batch = INT64_MAX - 1;
    d.q_strides[0] = d.k_strides[0] = d.v_strides[0] = d.o_strides[0] = 0;
    EXPECT_EQ(workspace_of(variant_, d, 2), xinhe::util::kSizeOverflow) << variant_.name;
    d.heads_q = 0;
    EXPECT_LT(workspace_of(variant_, d, 2), uint64_t{1} << 40) << variant_.name;
  }
}

INSTANTIATE_TEST_SUITE_P(All, TileAttentionTest, ::testing::Range<size_t>(0, variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string n = variants()[info.param].name;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

}  // namespace
}  // namespace xinhe::test
