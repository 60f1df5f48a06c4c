// Conformance of every CPU GEMM implementation (kernels::cpu::gemm_impls) against a float64
// loop local to this file, on random inputs with poisoned outputs: dtypes, transposes, sizes
// around the blocking and micro-tile edges, leading dimensions with padding, strided and
// broadcast batches, alpha/beta (beta == 0 over NaN), K == 0 and empty shapes, each run with
// a serial and a two-thread Parallel. Implementations the CPU cannot run are skipped with
// their reason; any other unsupported description is a failure. Cases, data, poison and the
// per-element bound (f32_accumulation_bound, far tighter than the tolerance table: the
// kernels accumulate exact products in f32) are tests/support's.
#include "gemm_cpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_features.h"
#include "gemm_packed.h"
#include "numerics.h"  // tests/support
#include "op_case.h"
#include "thread_pool.h"
#include "xinhe/backend.hpp"

namespace xinhe::kernels::cpu {

// gemm_packed_avx512_on_avx2.cpp: the AVX-512 tiling built with AVX2 instructions.
const PackedKernels& packed_kernels_avx512_on_avx2();
// gemm_lowp_emulated.cpp: the 16-bit kernels on the host emulation of their instructions.
const PackedKernels& packed_kernels_avx512_bf16_emulated();
const PackedKernels& packed_kernels_amx_bf16_emulated();
const PackedKernels& packed_kernels_amx_fp16_emulated();

namespace {

// The one input dtype a 16-bit kernel multiplies, from the unit in its label ("packed_amxbf16",
// "packed_avx512bf16", "packed_amxfp16"), or -1 for kernels that take every input dtype.
int only_input_dtype(const std::string& label) {
  if (label.find("bf16") != std::string::npos) return XINHE_DTYPE_BF16;
  if (label.find("fp16") != std::string::npos) return XINHE_DTYPE_F16;
  return -1;
}

// A GemmImpl over a packed kernel set run on the host emulation: it runs anywhere, for the
// dtype the kernel takes.
template <const PackedKernels& (*kKernels)()>
GemmImpl emulated_impl() {
  return GemmImpl{
      kKernels().name, nullptr,
      [](const xinhe_gemm_desc_t& d) -> const char* {
        if (const char* why = gemm_impls().back().unsupported_reason(d)) return why;
        return d.ab_dtype == only_input_dtype(kKernels().name)
                   ? nullptr
                   : "emulated kernel: other input dtype";
      },
      [](const xinhe_gemm_desc_t& d, int threads) {
        return packed_gemm_workspace_size(kKernels(), d, threads);
      },
      [](const GemmProblem& p, Parallel& parallel) { run_packed_gemm(kKernels(), p, parallel); }};
}

#if defined(__x86_64__)
const char* avx512_tiling_unsupported_reason(const xinhe_gemm_desc_t& d) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    return "CPU lacks AVX2 or FMA";
  }
  return gemm_impls().back().unsupported_reason(d);  // the reference's: any valid description
}
#endif

// Every implementation the CPU backend lists, plus (on x86-64) the AVX-512 tiling run with
// AVX2 instructions, so the AVX-512 path's tiling is tested on CPUs without AVX-512.
const std::vector<GemmImpl>& tested_impls() {
  static const std::vector<GemmImpl> impls = [] {
    std::vector<GemmImpl> list = gemm_impls();
#if defined(__x86_64__)
    list.push_back(GemmImpl{"packed", "avx512_tiling_on_avx2", &avx512_tiling_unsupported_reason,
                            [](const xinhe_gemm_desc_t& d, int threads) {
                              return packed_gemm_workspace_size(packed_kernels_avx512_on_avx2(), d,
                                                                threads);
                            },
                            [](const GemmProblem& p, Parallel& parallel) {
                              run_packed_gemm(packed_kernels_avx512_on_avx2(), p, parallel);
                            }});
#endif
    return list;
  }();
  return impls;
}

using test::ErrorStats;
using test::GemmCase;
using test::HostArray;
using test::Rng;

// The case every test starts from: leading dimensions 3 elements longer than the shape needs,
// 5 elements between batches, alpha 1.5; beta 0, so C is NaN-poisoned and must not be read.
GemmCase base_case(xinhe_dtype_t ab = XINHE_DTYPE_F32, xinhe_dtype_t c = XINHE_DTYPE_F32) {
  GemmCase g = test::gemm_case(ab, c, false, false, 1, 1, 1).pad_leading_dims(3).scaled(1.5f, 0.0f);
  g.batch_gap = 5;
  return g;
}

struct Matrices {
  HostArray a, b, c;
};

Matrices make_matrices(const GemmCase& cs, Rng& rng) {
  const xinhe_gemm_desc_t d = cs.desc();
  // At least one element each, so that empty operands still have an address.
  Matrices mx{HostArray(cs.ab, std::max<int64_t>(cs.a_span(), 1)),
              HostArray(cs.ab, std::max<int64_t>(cs.b_span(), 1)),
              HostArray(cs.c, std::max<int64_t>(cs.c_span(), 1))};
  const int64_t a_cols = cs.trans_a ? cs.m : cs.k, b_cols = cs.trans_b ? cs.k : cs.n;
  // Padding in A and B holds huge values: reading it would wreck the result.
  for (int64_t i = 0; i < mx.a.count; ++i) mx.a.set(i, 3e4);
  for (int64_t i = 0; i < mx.b.count; ++i) mx.b.set(i, 3e4);
  for (int64_t bt = 0; bt < cs.batch; ++bt) {
    for (int64_t r = 0; r < cs.rows_a(); ++r)
      for (int64_t col = 0; col < a_cols; ++col)
        mx.a.set(bt * d.stride_a + r * d.lda + col, rng.uniform());
    for (int64_t r = 0; r < cs.rows_b(); ++r)
      for (int64_t col = 0; col < b_cols; ++col)
        mx.b.set(bt * d.stride_b + r * d.ldb + col, rng.uniform());
  }
  mx.c.poison();
  if (cs.beta != 0.0f) {
    for (int64_t bt = 0; bt < cs.batch; ++bt)
      for (int64_t i = 0; i < cs.m; ++i)
        for (int64_t j = 0; j < cs.n; ++j) mx.c.set(bt * d.stride_c + i * d.ldc + j, rng.uniform());
  }
  return mx;
}

// Runs cs through impl and compares every element with float64 under
// test::f32_accumulation_bound: f32 accumulation error grows like sqrt(K) times the magnitude
// of the products summed; a half-precision C adds its rounding relative to the result.
::testing::AssertionResult check_case(const GemmImpl& impl, Parallel& parallel, const GemmCase& cs,
                                      uint32_t seed) {
  Rng rng(seed);
  Matrices mx = make_matrices(cs, rng);
  const xinhe_gemm_desc_t d = cs.desc();
  const HostArray c_before = mx.c;

  if (const char* why = impl.unsupported_reason(d)) {
    return ::testing::AssertionFailure() << impl.label() << " rejects " << cs.name() << ": " << why;
  }
  const uint64_t ws_bytes = impl.workspace_size(d, parallel.threads());
  std::vector<unsigned char> workspace(ws_bytes, 0xA5);  // garbage, as a caller would pass
  GemmProblem problem{d,
                      cs.alpha,
                      cs.beta,
                      mx.a.data(),
                      mx.b.data(),
                      mx.c.data(),
                      ws_bytes ? workspace.data() : nullptr};
  impl.run(problem, parallel);

  const int64_t a_i = d.trans_a ? 1 : d.lda, a_k = d.trans_a ? d.lda : 1;
  const int64_t b_k = d.trans_b ? 1 : d.ldb, b_j = d.trans_b ? d.ldb : 1;
  std::vector<double> ref(static_cast<size_t>(cs.batch * cs.m * cs.n));
  double magnitude = 0.0;  // max over outputs of |alpha| sum |a b| + |beta c|
  // Dense float64 copies of op(A) (M, K) and op(B) (K, N) per batch, then i-p-j loops.
  std::vector<double> a64(cs.m * cs.k), b64(cs.k * cs.n), sum(cs.n), abs_sum(cs.n);
  for (int64_t bt = 0; bt < cs.batch; ++bt) {
    for (int64_t i = 0; i < cs.m; ++i)
      for (int64_t p = 0; p < cs.k; ++p)
        a64[i * cs.k + p] = mx.a.get(bt * d.stride_a + i * a_i + p * a_k);
    for (int64_t p = 0; p < cs.k; ++p)
      for (int64_t j = 0; j < cs.n; ++j)
        b64[p * cs.n + j] = mx.b.get(bt * d.stride_b + p * b_k + j * b_j);
    for (int64_t i = 0; i < cs.m; ++i) {
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(abs_sum.begin(), abs_sum.end(), 0.0);
      for (int64_t p = 0; p < cs.k; ++p) {
        const double av = a64[i * cs.k + p];
        const double* brow = b64.data() + p * cs.n;  // b64 is empty when N == 0
        for (int64_t j = 0; j < cs.n; ++j) {
          sum[j] += av * brow[j];
          abs_sum[j] += std::fabs(av * brow[j]);
        }
      }
      for (int64_t j = 0; j < cs.n; ++j) {
        double r = static_cast<double>(cs.alpha) * sum[j];
        double mag = std::fabs(cs.alpha) * abs_sum[j];
        if (cs.beta != 0.0f) {
          const double c_in = c_before.get(bt * d.stride_c + i * d.ldc + j);
          r += static_cast<double>(cs.beta) * c_in;
          mag += std::fabs(cs.beta * c_in);
        }
        ref[(bt * cs.m + i) * cs.n + j] = r;
        magnitude = std::max(magnitude, mag);
      }
    }
  }
  int64_t bad = 0;
  std::ostringstream first;
  for (int64_t bt = 0; bt < cs.batch; ++bt) {
    for (int64_t i = 0; i < cs.m; ++i) {
      for (int64_t j = 0; j < cs.n; ++j) {
        const double r = ref[(bt * cs.m + i) * cs.n + j];
        const double got = mx.c.get(bt * d.stride_c + i * d.ldc + j);
        const double tol = test::f32_accumulation_bound(cs.c, cs.k, magnitude, r);
        if (!(std::fabs(got - r) <= tol)) {
          if (bad++ == 0) {
            first << " first at batch " << bt << " (" << i << ", " << j << "): got " << got
                  << ", want " << r << " +- " << tol;
          }
        }
      }
    }
  }
  // Everything outside the outputs must be exactly as it was.
  int64_t outside = -1;
  if (const int64_t written = test::gemm_c_writes_outside(cs, c_before, mx.c, &outside)) {
    if (bad == 0) first << " wrote element " << outside << " outside the results";
    bad += written;
  }
  if (bad != 0) {
    return ::testing::AssertionFailure()
           << impl.label() << " threads=" << parallel.threads() << " " << cs.name() << ": " << bad
           << " bad elements;" << first.str();
  }
  return ::testing::AssertionSuccess();
}

// Implementations the CPU cannot run at all say so for a plain description of the input dtype
// they take (f32 for most, bf16 or f16 for the 16-bit kernels).
const char* cpu_unsupported_reason(const GemmImpl& impl) {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  const int only = only_input_dtype(impl.label());
  d.ab_dtype = d.c_dtype = only < 0 ? XINHE_DTYPE_F32 : static_cast<xinhe_dtype_t>(only);
  d.m = d.n = d.k = d.lda = d.ldb = d.ldc = 8;
  d.batch = 1;
  return impl.unsupported_reason(d);
}

bool is_openblas(const GemmImpl& impl) { return std::string(impl.method) == "openblas"; }

// OpenBLAS only runs f32 in and out, oneDNN f32 and bf16, the 16-bit kernels one input dtype;
// every other case must carry a reason, and is skipped.
bool expected_unsupported(const GemmImpl& impl, const GemmCase& cs) {
  if (is_openblas(impl)) return cs.ab != XINHE_DTYPE_F32 || cs.c != XINHE_DTYPE_F32;
  // oneDNN 2.x has no f16 matmul on x86, and bf16 only from AVX-512 up (XINHE_CPU_MAX_ISA caps
  // it too); it must run every f32 case, and every bf16 case where AVX-512 is usable.
  if (std::string(impl.method) == "onednn") {
    return cs.ab == XINHE_DTYPE_F16 ||
           (cs.ab == XINHE_DTYPE_BF16 && !cpu_has(CpuFeature::kAvx512));
  }
  const int only = only_input_dtype(impl.label());
  return only >= 0 && cs.ab != only;
}

// The 16-bit kernels on the instruction emulation (slow: a scalar loop per tile instruction),
// run by EmulatedKernelTest on a sweep of their tile, K-unit and blocking edges.
const std::vector<GemmImpl>& emulated_impls() {
  static const std::vector<GemmImpl> impls = {emulated_impl<packed_kernels_avx512_bf16_emulated>(),
                                              emulated_impl<packed_kernels_amx_bf16_emulated>(),
                                              emulated_impl<packed_kernels_amx_fp16_emulated>()};
  return impls;
}

class GemmImplTest : public ::testing::TestWithParam<size_t> {
 protected:
  virtual const GemmImpl& impl_at(size_t index) const { return tested_impls()[index]; }

  void SetUp() override {
    impl_ = &impl_at(GetParam());
    if (const char* why = cpu_unsupported_reason(*impl_)) {
      GTEST_SKIP() << impl_->label() << " cannot run here: " << why;
    }
  }

  // Runs cs with a serial and a two-thread Parallel.
  void check(const GemmCase& cs, uint32_t seed) {
    if (expected_unsupported(*impl_, cs)) {
      GemmCase tiny = cs;
      tiny.m = tiny.n = tiny.k = 1;
      tiny.batch = 1;
      EXPECT_NE(impl_->unsupported_reason(tiny.desc()), nullptr)
          << impl_->label() << " " << cs.name();
      return;
    }
    EXPECT_TRUE(check_case(*impl_, serial_, cs, seed));
    EXPECT_TRUE(check_case(*impl_, two_threads_, cs, seed));
  }

  const GemmImpl* impl_ = nullptr;
  SerialParallel serial_;
  static inline xinhe::backends::cpu::ThreadPool two_threads_{2};
};

const xinhe_dtype_t kDtypePairs[][2] = {{XINHE_DTYPE_F32, XINHE_DTYPE_F32},
                                        {XINHE_DTYPE_F16, XINHE_DTYPE_F32},
                                        {XINHE_DTYPE_F16, XINHE_DTYPE_F16},
                                        {XINHE_DTYPE_BF16, XINHE_DTYPE_F32},
                                        {XINHE_DTYPE_BF16, XINHE_DTYPE_BF16}};

// Sizes 1, 2^k and 2^k + 17, combined so that each appears as M, N and K, plus cubes.
TEST_P(GemmImplTest, DtypesTransposesAndSizes) {
  const int64_t sizes[] = {1, 7, 16, 33, 64, 81, 128, 145};
  constexpr int kSizes = 8;
  uint32_t seed = 1;
  for (const auto& dt : kDtypePairs) {
    for (int trans = 0; trans < 4; ++trans) {
      for (int s = 0; s < 2 * kSizes; ++s) {
        GemmCase cs = base_case(dt[0], dt[1]);
        cs.trans_a = trans & 1;
        cs.trans_b = trans >> 1;
        if (s < kSizes) {
          cs.m = sizes[s];
          cs.n = sizes[(s + 3) % kSizes];
          cs.k = sizes[(s + 5) % kSizes];
        } else {
          cs.m = cs.n = cs.k = sizes[s - kSizes];
        }
        cs.beta = (s % 2 == 0) ? 0.0f : -0.75f;
        cs.alpha = (s % 3 == 0) ? 1.0f : 1.5f;
        cs.pad_leading_dims(s % 4);
        check(cs, seed++);
      }
    }
  }
}

// Shapes past every cache block: several K slices, N panels and M blocks, and a half C
// (which takes all of K in one slice). With two threads, 257x300x600 splits the packed
// kernels' blocks along M (shared B panel) and 13x4133x100 and 20x2000x300 along N.
TEST_P(GemmImplTest, CrossesCacheBlocks) {
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {
      {257, 300, 600}, {13, 4133, 100}, {20, 2000, 300}, {130, 70, 1000}, {300, 40, 257}};
  uint32_t seed = 100;
  for (const Shape& sh : shapes) {
    for (const auto& dt : kDtypePairs) {
      for (int trans = 0; trans < 4; trans += 3) {
        GemmCase cs = base_case(dt[0], dt[1]);
        cs.trans_a = cs.trans_b = trans & 1;
        cs.m = sh.m;
        cs.n = sh.n;
        cs.k = sh.k;
        cs.beta = trans ? 0.5f : 0.0f;
        check(cs, seed++);
      }
    }
  }
}

// M = 24 + r for every r < 12: the packed kernels' last strip of r rows (mr is 12 for the
// AVX-512 and AVX512_BF16 tiles) runs only its rows (edge_rows); full and partial columns, beta
// 0 (C NaN-poisoned) and not, f32 and half C.
TEST_P(GemmImplTest, EdgeStripsOfEveryHeight) {
  uint32_t seed = 300;
  for (const auto& dt : kDtypePairs) {
    for (int64_t r = 0; r < 12; ++r) {
      for (int64_t n : {64, 45}) {
        GemmCase cs = base_case(dt[0], dt[1]);
        cs.m = 24 + r;
        cs.n = n;
        cs.k = 70 + r;
        cs.trans_a = r % 2;
        cs.trans_b = (r / 2) % 2;
        cs.beta = n == 64 ? 0.0f : 0.5f;
        check(cs, seed++);
      }
    }
  }
}

// The f32 kernels read A's rows in place when a thread's share of a block is at most 1024
// columns and lda is not a multiple of 1024 floats (gemm_cpu.cpp), and pack them otherwise:
// both sides of each bound, on one thread and two (1056 columns: packed on one, in place on
// two; lda 1024 with K 1024 and with K 1000 padded: packed), K slices with beta accumulating,
// K tails shorter than a cache line, edge strips and edge columns.
TEST_P(GemmImplTest, ARowsInPlaceOrPacked) {
  struct Shape {
    int64_t m, n, k, pad;
  };
  const Shape shapes[] = {{40, 1024, 1000, 0},  {40, 1056, 1000, 0}, {41, 1024, 1024, 0},
                          {41, 1000, 1000, 24}, {29, 200, 530, 5},   {37, 33, 7, 0}};
  uint32_t seed = 900;
  for (const Shape& sh : shapes) {
    for (int trans_b = 0; trans_b < 2; ++trans_b) {
      GemmCase cs = base_case();
      cs.m = sh.m;
      cs.n = sh.n;
      cs.k = sh.k;
      cs.trans_b = trans_b;
      cs.pad_a = sh.pad;
      cs.alpha = trans_b ? 1.0f : -0.5f;
      cs.beta = trans_b ? 0.0f : 1.25f;
      check(cs, seed++);
    }
  }
}

// Batch 3: independent strides, and stride 0 broadcasting A or B.
TEST_P(GemmImplTest, StridedAndBroadcastBatches) {
  uint32_t seed = 200;
  for (const auto& dt : kDtypePairs) {
    for (int mode = 0; mode < 3; ++mode) {
      for (int64_t size : {5, 40, 260}) {  // direct, one matrix per thread, split matrices
        GemmCase cs = base_case(dt[0], dt[1]);
        cs.batch = 3;
        cs.m = size;
        cs.n = size + 9;
        cs.k = size + 3;
        cs.broadcast_a = mode == 1;
        cs.broadcast_b = mode == 2;
        cs.trans_b = mode == 2;
        cs.beta = mode == 0 ? 1.0f : 0.0f;
        check(cs, seed++);
      }
    }
  }
}

// Small M or N (the GEMV-like shapes of a decode step): M or N in {1, 2, 3, 4} (the packed
// kernels' small-M path, either orientation) and 5, 7, 17 just past it, every transpose, ragged
// N and K around the vector width, K-unit and column-chunk edges (K 7, 33, 300; N 37, 130,
// 600, 1100: past the 512-column chunk and the 64-column thread split), padded leading
// dimensions, alpha/beta with beta == 0 over NaN, f32 and 16-bit inputs with f32 and 16-bit C.
TEST_P(GemmImplTest, SmallMAndGemv) {
  const int64_t small[] = {1, 2, 3, 4, 5, 7, 17};
  const int64_t wide[] = {37, 130, 600, 1100};
  const int64_t depth[] = {7, 33, 300};
  const xinhe_dtype_t pairs[][2] = {{XINHE_DTYPE_F32, XINHE_DTYPE_F32},
                                    {XINHE_DTYPE_BF16, XINHE_DTYPE_BF16},
                                    {XINHE_DTYPE_F16, XINHE_DTYPE_F32}};
  const float alphas[] = {1.5f, 1.0f, -2.0f};
  const float betas[] = {0.0f, -0.75f, 1.0f};
  uint32_t seed = 700;
  int variant = 0;
  for (int64_t m : small) {
    for (int trans = 0; trans < 4; ++trans) {
      for (const auto& dt : pairs) {
        for (int swap = 0; swap < 2; ++swap) {
          GemmCase cs = base_case(dt[0], dt[1]);
          cs.trans_a = trans & 1;
          cs.trans_b = trans >> 1;
          const int64_t n = wide[variant % 4];
          cs.m = swap ? n : m;
          cs.n = swap ? m : n;
          cs.k = depth[(variant / 4) % 3];
          cs.alpha = alphas[variant % 3];
          cs.beta = betas[(variant / 3) % 3];
          cs.pad_leading_dims(variant % 4);
          ++variant;
          check(cs, seed++);
        }
      }
    }
  }
}

// Small M in batches: independent strides, and stride 0 broadcasting either operand; and
// alpha == 0, which reads neither A nor B (C = beta * C, zeros over NaN when beta == 0).
TEST_P(GemmImplTest, SmallMBatchesAndZeroAlpha) {
  uint32_t seed = 800;
  for (int mode = 0; mode < 3; ++mode) {
    for (int64_t m : {1, 3}) {
      for (int swap = 0; swap < 2; ++swap) {
        GemmCase cs = base_case();
        cs.batch = 3;
        cs.m = swap ? 150 : m;
        cs.n = swap ? m : 150;
        cs.k = 70;
        cs.broadcast_a = mode == 1;
        cs.broadcast_b = mode == 2;
        cs.trans_a = mode == 2;
        cs.trans_b = mode != 1;
        cs.beta = mode == 0 ? 0.5f : 0.0f;
        check(cs, seed++);
      }
    }
  }
  for (float beta : {0.0f, 2.0f}) {
    GemmCase cs = base_case();
    cs.m = 1;
    cs.n = 600;
    cs.k = 33;
    cs.trans_b = 1;
    cs.alpha = 0.0f;
    cs.beta = beta;
    check(cs, seed++);
  }
}

// K == 0 gives C = beta * C (zeros over NaN when beta == 0); alpha == 0 does the same.
TEST_P(GemmImplTest, EmptyKAndZeroAlpha) {
  uint32_t seed = 300;
  for (const auto& dt : kDtypePairs) {
    for (float beta : {0.0f, 2.0f}) {
      GemmCase cs = base_case(dt[0], dt[1]);
      cs.m = 9;
      cs.n = 21;
      cs.k = 0;
      cs.batch = 2;
      cs.beta = beta;
      check(cs, seed++);
      cs.k = 50;
      cs.alpha = 0.0f;
      check(cs, seed++);
    }
  }
}

// Empty M or N: a no-op that touches nothing (check_case compares every C byte).
TEST_P(GemmImplTest, EmptyShapes) {
  uint32_t seed = 400;
  for (const auto& dt : kDtypePairs) {
    for (int which = 0; which < 2; ++which) {
      GemmCase cs = base_case(dt[0], dt[1]);
      cs.m = which == 0 ? 0 : 12;
      cs.n = which == 1 ? 0 : 12;
      cs.k = 12;
      cs.beta = 1.0f;
      check(cs, seed++);
    }
  }
  // Batched, with every dimension empty in turn and padded or broadcast (stride 0) A and B
  // batches (oneDNN 2.6 died of SIGFPE creating the m = 0 batched matmul).
  for (const auto& dt : kDtypePairs) {
    for (int empty = 0; empty < 3; ++empty) {
      for (int mode = 0; mode < 3; ++mode) {
        GemmCase cs = base_case(dt[0], dt[1]);
        cs.m = empty == 0 ? 0 : 5;
        cs.n = empty == 1 ? 0 : 7;
        cs.k = empty == 2 ? 0 : 3;
        cs.batch = mode == 0 ? 2 : 3;
        cs.broadcast_a = mode == 1;
        cs.broadcast_b = mode == 2;
        cs.beta = mode == 0 ? 1.0f : 0.5f;
        check(cs, seed++);
      }
    }
  }
}

std::string impl_test_name(const ::testing::TestParamInfo<size_t>& info) {
  return tested_impls()[info.param].label();
}

INSTANTIATE_TEST_SUITE_P(AllImpls, GemmImplTest, ::testing::Range<size_t>(0, tested_impls().size()),
                         impl_test_name);

// The emulated 16-bit kernels on shapes chosen around their edges rather than the full sweep:
// the register tile (12 x 32) and AMX tiles (32 x 32 of 16 x 16), K units (pairs, 32-value
// tile rows) with a tail of every parity, the cache blocks (mc 144/256, kc 384/512, nc
// 4096/2048) crossed once each, in every transpose, with both C dtypes, alpha/beta including
// AMX's in-place form (alpha 1, beta 0 or 1), and strided / broadcast batches.
class EmulatedKernelTest : public GemmImplTest {
 protected:
  const GemmImpl& impl_at(size_t index) const override { return emulated_impls()[index]; }
};

TEST_P(EmulatedKernelTest, TileKUnitAndBlockEdges) {
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{3, 5, 1},     {12, 32, 2},   {13, 33, 3},  {31, 31, 31},
                          {32, 32, 32},  {33, 65, 33},  {45, 70, 71}, {7, 100, 17},
                          {40, 40, 600}, {260, 36, 40}, {5, 4100, 9}};
  const xinhe_dtype_t ab = static_cast<xinhe_dtype_t>(only_input_dtype(impl_->label()));
  const float alphas[] = {1.0f, 1.5f, 1.0f, 1.0f};
  const float betas[] = {0.0f, -0.75f, 1.0f, 0.0f};
  uint32_t seed = 500;
  int variant = 0;
  for (const Shape& sh : shapes) {
    for (xinhe_dtype_t c : {XINHE_DTYPE_F32, ab}) {
      for (int trans = 0; trans < 4; ++trans) {
        GemmCase cs = base_case(ab, c);
        cs.trans_a = trans & 1;
        cs.trans_b = trans >> 1;
        cs.m = sh.m;
        cs.n = sh.n;
        cs.k = sh.k;
        cs.alpha = alphas[variant % 4];
        cs.beta = betas[variant % 4];
        cs.pad_leading_dims(variant % 3);
        ++variant;
        check(cs, seed++);
      }
    }
  }
}

// As GemmImplTest.EdgeStripsOfEveryHeight, for the emulated 16-bit kernels (AVX512_BF16's
// 12-row tile has edge_rows; AMX's 32-row tile has none and pads its edge strips).
TEST_P(EmulatedKernelTest, EdgeStripsOfEveryHeight) {
  const xinhe_dtype_t ab = static_cast<xinhe_dtype_t>(only_input_dtype(impl_->label()));
  uint32_t seed = 700;
  for (int64_t r = 0; r < 12; ++r) {
    for (xinhe_dtype_t c : {XINHE_DTYPE_F32, ab}) {
      GemmCase cs = base_case(ab, c);
      cs.m = 24 + r;
      cs.n = c == XINHE_DTYPE_F32 ? 64 : 45;
      cs.k = 70 + r;
      cs.trans_a = r % 2;
      cs.beta = r % 3 == 0 ? 0.0f : 0.5f;
      check(cs, seed++);
    }
  }
}

TEST_P(EmulatedKernelTest, Batches) {
  const xinhe_dtype_t ab = static_cast<xinhe_dtype_t>(only_input_dtype(impl_->label()));
  uint32_t seed = 600;
  for (int mode = 0; mode < 3; ++mode) {
    GemmCase cs = base_case(ab, mode == 1 ? ab : XINHE_DTYPE_F32);
    cs.batch = 3;
    cs.m = 35;
    cs.n = 40;
    cs.k = 37;
    cs.broadcast_a = mode == 1;
    cs.broadcast_b = mode == 2;
    cs.trans_a = mode == 2;
    cs.beta = mode == 0 ? 1.0f : 0.0f;
    check(cs, seed++);
  }
}

// The small-M path of the 16-bit kernels (AMX-FP16's f16 included, which no CPU here has):
// M or N of 1 and 3, every transpose, both C dtypes.
TEST_P(EmulatedKernelTest, SmallM) {
  const xinhe_dtype_t ab = static_cast<xinhe_dtype_t>(only_input_dtype(impl_->label()));
  uint32_t seed = 900;
  int variant = 0;
  for (int64_t m : {1, 3}) {
    for (int trans = 0; trans < 4; ++trans) {
      for (int swap = 0; swap < 2; ++swap) {
        GemmCase cs = base_case(ab, variant % 2 ? ab : XINHE_DTYPE_F32);
        cs.trans_a = trans & 1;
        cs.trans_b = trans >> 1;
        cs.m = swap ? 130 : m;
        cs.n = swap ? m : 130;
        cs.k = 33;
        cs.beta = variant % 3 == 0 ? 0.0f : -0.75f;
        cs.pad_leading_dims(variant % 3);
        ++variant;
        check(cs, seed++);
      }
    }
  }
}

std::string emulated_test_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name = emulated_impls()[info.param].label();
  for (char& ch : name) {
    if (ch == '.') ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Emulated, EmulatedKernelTest,
                         ::testing::Range<size_t>(0, emulated_impls().size()), emulated_test_name);

// XINHE_GEMM_IMPL keeps the entries whose name contains it: no name may contain another's, or
// the later entry could not be selected alone (an AVX-512 kernel named like a prefix of the
// AVX512_BF16 one, a portable kernel named like a prefix of every ISA's).
TEST(GemmImplList, NoNameContainsAnother) {
  const auto& impls = gemm_impls();
  for (size_t i = 0; i < impls.size(); ++i) {
    for (size_t j = 0; j < impls.size(); ++j) {
      if (i == j) continue;
      for (const char* dtypes : {"f32", "bf16_f32"}) {
        const std::string a =
            xinhe::backend::impl_name("cpu", XINHE_OP_GEMM, impls[i].method, dtypes, impls[i].arch);
        const std::string b =
            xinhe::backend::impl_name("cpu", XINHE_OP_GEMM, impls[j].method, dtypes, impls[j].arch);
        EXPECT_EQ(b.find(a), std::string::npos) << b << " contains " << a;
      }
    }
  }
}

TEST(GemmImplList, EndsWithReferenceThatRunsEverything) {
  const auto& impls = gemm_impls();
  ASSERT_FALSE(impls.empty());
  EXPECT_EQ(impls.back().label(), "reference");
  for (const auto& dt : kDtypePairs) {
    const GemmCase cs = base_case(dt[0], dt[1]);
    EXPECT_EQ(impls.back().unsupported_reason(cs.desc()), nullptr) << cs.name();
  }
}

TEST(GemmImplList, OpenBlasIsF32OnlyAndSaysWhy) {
  for (const GemmImpl& impl : gemm_impls()) {
    if (!is_openblas(impl)) continue;
    const char* why = impl.unsupported_reason(base_case(XINHE_DTYPE_BF16, XINHE_DTYPE_F32).desc());
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("f32"), std::string::npos) << why;
    return;
  }
  FAIL() << "no openblas entry in the list";
}

// Tiny problems must not pay for packing: no workspace, so no packing buffers to set up.
TEST(GemmImplList, TinyProblemsNeedNoWorkspace) {
  const xinhe_gemm_desc_t d = base_case().desc();
  for (const GemmImpl& impl : gemm_impls()) {
    if (cpu_unsupported_reason(impl) != nullptr) continue;
    EXPECT_EQ(impl.workspace_size(d, 2), 0u) << impl.label();
  }
}

}  // namespace
}  // namespace xinhe::kernels::cpu
