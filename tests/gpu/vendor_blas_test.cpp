// Host tests of the vendor-BLAS GEMM path shared by the CUDA and HIP plugins
// (backends/gpu/vendor_blas_gemm.h) with the hipBLAS table (backends/hip/hipblas_gemm.h), run
// without a GPU or ROCm:
//  - loading: a missing library gives "<soname list> not found: <dlerror>", a library without
//    the entry points gives "<soname> lacks <symbol>", both sticky, never a crash;
//  - the row-major -> column-major mapping (operand swap, transposes, leading dimensions);
//  - end to end through libxinhe_test_fake_hipblas.so (fake_hipblas.cpp), which implements the
//    hipBLAS C ABI on host memory from the BLAS definition and validates enums and leading
//    dimensions: every dtype pair and layout, padded rows, broadcast B, against the float64
//    row-major reference, outputs poisoned first; plus stream binding, a failing call's status,
//    and that release() destroys the handle;
//  - dtypes: only the pairs the table maps are offered (f64 is declined before anything loads);
//  - streams: one handle per stream, bound once and never switched to another stream (the fake
//    counts such switches), destroyed with its stream (release_stream).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "hipblas_gemm.h"
#include "numerics.h"  // tests/support
#include "op_case.h"
#include "recording_host.h"
#include "reference.h"
#include "vendor_blas_gemm.h"

namespace {

using xinhe::gpu::HipblasApi;
using xinhe::gpu::VendorBlasGemm;
using xinhe::test::ErrorStats;
using xinhe::test::gemm_case;
using xinhe::test::GemmCase;
using xinhe::test::HostArray;
using xinhe::test::RecordingHost;
using xinhe::test::Rng;
using xinhe::test::TakenStatus;

// The recording test host of tests/support: statuses come back through take().
RecordingHost& g_host = RecordingHost::get();
const xinhe_host_api_t* const kRecordingHost = g_host.api();

xinhe_gemm_desc_t small_desc() {
  return gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 4, 5, 6).desc();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

TEST(VendorBlas, LibraryListText) {
  EXPECT_EQ(
      xinhe::gpu::library_list_text({"libhipblas.so.2", "libhipblas.so.1", "libhipblas.so.0"}),
      "libhipblas.so.2/.1/.0");
  EXPECT_EQ(xinhe::gpu::library_list_text({"libcublas.so.13", "libcublas.so.12"}),
            "libcublas.so.13/.12");
  EXPECT_EQ(xinhe::gpu::library_list_text({"liba.so.1", "/opt/x/libb.so"}),
            "liba.so.1//opt/x/libb.so");
}

TEST(VendorBlas, MissingLibraryGivesReasonWithDlerror) {
  VendorBlasGemm<HipblasApi> blas(
      {"libxinhe_no_such_blas.so.2", "libxinhe_no_such_blas.so.1", "libxinhe_no_such_blas.so.0"});
  blas.set_host(kRecordingHost);
  const std::string why = blas.unsupported(small_desc());
  const std::string prefix = "libxinhe_no_such_blas.so.2/.1/.0 not found: ";
  ASSERT_TRUE(starts_with(why, prefix)) << why;
  // Then dlerror's text, which names the file it could not open.
  EXPECT_NE(why.find("libxinhe_no_such_blas.so.2", prefix.size()), std::string::npos) << why;
  EXPECT_EQ(blas.unsupported(small_desc()), why) << "a failed load is sticky";
}

// The real table's sonames: on a machine without hipBLAS (this project's CI) the reason is the
// documented one; where hipBLAS is installed it may load, or fail later for want of a GPU.
TEST(VendorBlas, HipblasTableNamesItsLibraries) {
  bool any_present = false;
  for (const char* name : HipblasApi::kLibraries) {
    if (void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
      any_present = true;
      dlclose(h);
    }
  }
  VendorBlasGemm<HipblasApi> blas;
  blas.set_host(kRecordingHost);
  const std::string why = blas.unsupported(small_desc());
  std::printf("[ info     ] hipBLAS here: '%s'\n", why.c_str());
  if (!any_present) {
    EXPECT_TRUE(starts_with(why, "libhipblas.so.2/.1/.0 not found: ")) << why;
  }
}

TEST(VendorBlas, LibraryWithoutEntryPointsNamesTheSymbol) {
  VendorBlasGemm<HipblasApi> blas({"libc.so.6"});
  blas.set_host(kRecordingHost);
  EXPECT_EQ(blas.unsupported(small_desc()), "libc.so.6 lacks hipblasCreate");
}

TEST(VendorBlas, ColumnMajorCallSwapsOperands) {
  xinhe_gemm_desc_t d = gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, true, false, 3, 5, 7)
                            .batched(4)
                            .pad_leading_dims(2)
                            .desc();
  const xinhe::gpu::BlasGemmCall c = xinhe::gpu::column_major_call(d);
  // C^T (n x m) = op(B)^T op(A)^T: BLAS's first operand is our B with our trans_b.
  EXPECT_EQ(c.m, 5);
  EXPECT_EQ(c.n, 3);
  EXPECT_EQ(c.k, 7);
  EXPECT_FALSE(c.transpose_first);
  EXPECT_TRUE(c.transpose_second);
  EXPECT_EQ(c.ld_first, d.ldb);
  EXPECT_EQ(c.ld_second, d.lda);
  EXPECT_EQ(c.ldc, d.ldc);
  EXPECT_EQ(c.stride_first, d.stride_b);
  EXPECT_EQ(c.stride_second, d.stride_a);
  EXPECT_EQ(c.stride_c, d.stride_c);
  EXPECT_EQ(c.batch, 4);

  d.m = int64_t{1} << 31;
  EXPECT_EQ(xinhe::gpu::blas_gemm_unsupported(d), "sizes above INT_MAX");
}

TEST(VendorBlas, HipblasEnumValuesFollowTheCAbi) {
  // The values of hipblas.h (hipBLAS 0.x-2.x); the fake library checks them too.
  EXPECT_EQ(HipblasApi::operation(false), 111);
  EXPECT_EQ(HipblasApi::operation(true), 112);
  xinhe::gpu::XinheHipblasDatatype t{};
  ASSERT_TRUE(HipblasApi::data_type(XINHE_DTYPE_F16, &t));
  EXPECT_EQ(t, 150);
  ASSERT_TRUE(HipblasApi::data_type(XINHE_DTYPE_F32, &t));
  EXPECT_EQ(t, 151);
  ASSERT_TRUE(HipblasApi::data_type(XINHE_DTYPE_BF16, &t));
  EXPECT_EQ(t, 168);
  // No default: f64 has no mapping (it used to become HIPBLAS_R_32F).
  EXPECT_FALSE(HipblasApi::data_type(XINHE_DTYPE_F64, &t));
  EXPECT_STREQ(HipblasApi::status_name(xinhe::gpu::kHipblasNotSupported),
               "HIPBLAS_STATUS_NOT_SUPPORTED");
  EXPECT_EQ(HipblasApi::status_code(xinhe::gpu::kHipblasAllocFailed), XINHE_STATUS_OUT_OF_MEMORY);
  EXPECT_EQ(HipblasApi::status_code(xinhe::gpu::kHipblasExecutionFailed), XINHE_STATUS_INTERNAL);
}

// The fake library, opened by the test as well so its hooks stay reachable after release().
class FakeHipblas : public ::testing::Test {
 protected:
  void SetUp() override {
    library_ = dlopen(XINHE_FAKE_HIPBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(library_, nullptr) << dlerror();
    live_handles_ = reinterpret_cast<int (*)()>(dlsym(library_, "xinhe_fake_hipblas_live_handles"));
    last_stream_ = reinterpret_cast<void* (*)()>(dlsym(library_, "xinhe_fake_hipblas_last_stream"));
    gemm_calls_ = reinterpret_cast<int (*)()>(dlsym(library_, "xinhe_fake_hipblas_gemm_calls"));
    ASSERT_TRUE(live_handles_ != nullptr && last_stream_ != nullptr && gemm_calls_ != nullptr);
  }
  void TearDown() override {
    if (library_ != nullptr) dlclose(library_);
  }

  void* library_ = nullptr;
  int (*live_handles_)() = nullptr;
  void* (*last_stream_)() = nullptr;
  int (*gemm_calls_)() = nullptr;
};

void check_case(VendorBlasGemm<HipblasApi>* blas, const GemmCase& g, Rng& rng) {
  SCOPED_TRACE(g.name());
  const xinhe_gemm_desc_t d = g.desc();
  ASSERT_EQ(blas->unsupported(d), "");
  const HostArray a = HostArray::random(g.ab, g.a_span(), rng);
  const HostArray b = HostArray::random(g.ab, g.b_span(), rng);
  // beta == 0: C poisoned with NaN that must not leak into the result.
  HostArray c_in = HostArray::random(g.c, g.c_span(), rng);
  if (g.beta == 0.0f) c_in.poison();
  std::vector<double> expected(static_cast<size_t>(g.batch * g.m * g.n));
  xinhe::reference::gemm(d, a.data(), b.data(), c_in.data(), g.alpha, g.beta, expected.data());

  HostArray c = c_in;
  auto* stream = reinterpret_cast<hipStream_t>(uintptr_t{0x5a5a0});
  const TakenStatus run =
      g_host.take(blas->run(d, a.data(), b.data(), c.data(), g.alpha, g.beta, stream));
  ASSERT_TRUE(run.ok()) << run.call << ": " << run.message;
  int64_t first = -1;
  EXPECT_EQ(xinhe::test::gemm_c_writes_outside(g, c_in, c, &first), 0)
      << "C written outside the results, first at element " << first;
  const ErrorStats error = xinhe::test::gemm_c_error(g, c, expected.data());
  // The fake accumulates in double: only C's rounding remains.
  EXPECT_LE(error.normalized(), xinhe::test::unit_roundoff(g.c))
      << "worst element " << error.worst_index;
}

TEST_F(FakeHipblas, GemmMatchesReferenceThroughTheCAbi) {
  Rng rng(99);
  {
    VendorBlasGemm<HipblasApi> blas({"libxinhe_no_such_blas.so.2", XINHE_FAKE_HIPBLAS_PATH});
    blas.set_host(kRecordingHost);
    const int calls_before = gemm_calls_();
    const xinhe_dtype_t kPairs[][2] = {{XINHE_DTYPE_F32, XINHE_DTYPE_F32},
                                       {XINHE_DTYPE_F16, XINHE_DTYPE_F16},
                                       {XINHE_DTYPE_F16, XINHE_DTYPE_F32},
                                       {XINHE_DTYPE_BF16, XINHE_DTYPE_BF16},
                                       {XINHE_DTYPE_BF16, XINHE_DTYPE_F32}};
    for (const auto& pair : kPairs) {
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          check_case(&blas,
                     gemm_case(pair[0], pair[1], ta, tb, 13, 7, 9)
                         .batched(3)
                         .pad_leading_dims(2)
                         .scaled(0.75f, -0.5f),
                     rng);
          check_case(
              &blas,
              gemm_case(pair[0], pair[1], ta, tb, 5, 11, 4).batched(2).broadcast(false, true), rng);
        }
      }
    }
    check_case(&blas,  // k == 0: C = beta C
               gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, false, false, 6, 3, 0)
                   .pad_leading_dims(1)
                   .scaled(1.0f, 2.0f),
               rng);
    EXPECT_EQ(gemm_calls_() - calls_before, 5 * 4 * 2 + 1);  // 5 type pairs x 4 layouts x 2
    EXPECT_EQ(last_stream_(), reinterpret_cast<void*>(uintptr_t{0x5a5a0}))
        << "the op's stream is bound to the handle before the call";
    EXPECT_EQ(live_handles_(), 1) << "one handle per device";
    blas.release();
    EXPECT_EQ(live_handles_(), 0) << "release() destroys the handle";
  }
  EXPECT_EQ(live_handles_(), 0);
}

TEST(VendorBlas, HipblasTableOffersOnlyTheDtypePairsItMaps) {
  const xinhe_dtype_t kAll[] = {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16,
                                XINHE_DTYPE_F64};
  int supported = 0;
  for (const xinhe_dtype_t ab : kAll) {
    for (const xinhe_dtype_t c : kAll) {
      const bool expected =
          (ab == XINHE_DTYPE_F32 && c == XINHE_DTYPE_F32) ||
          ((ab == XINHE_DTYPE_F16 || ab == XINHE_DTYPE_BF16) && (c == ab || c == XINHE_DTYPE_F32));
      EXPECT_EQ(HipblasApi::supports(ab, c), expected) << ab << "->" << c;
      supported += expected;
    }
  }
  EXPECT_EQ(supported, 5);
}

// An f64 GEMM is declined at create with the reason (it was accepted and run as f32), before
// the library is even looked for.
TEST(VendorBlas, F64IsDeclinedWithTheReason) {
  VendorBlasGemm<HipblasApi> blas({"libxinhe_no_such_blas.so.2"});
  blas.set_host(kRecordingHost);
  xinhe_gemm_desc_t d = gemm_case(XINHE_DTYPE_F64, XINHE_DTYPE_F64, false, false, 2, 2, 2).desc();
  EXPECT_EQ(blas.unsupported(d),
            "hipblas GEMM takes f32->f32, f16->f16, f16->f32, bf16->bf16 or bf16->f32, not "
            "f64->f64");
  d.c_dtype = XINHE_DTYPE_F32;
  EXPECT_EQ(blas.unsupported(d),
            "hipblas GEMM takes f32->f32, f16->f16, f16->f32, bf16->bf16 or bf16->f32, not "
            "f64->f32");
}

// GEMMs alternating between two streams: each stream gets its own handle, bound to it once;
// no handle that ran a GEMM is switched to another stream (rocBLAS requires the old stream to be
// synchronized first; the fake counts every such switch).
TEST_F(FakeHipblas, EachStreamHasItsOwnHandle) {
  auto last_handle =
      reinterpret_cast<void* (*)()>(dlsym(library_, "xinhe_fake_hipblas_last_handle"));
  auto unsafe_switches =
      reinterpret_cast<int (*)()>(dlsym(library_, "xinhe_fake_hipblas_unsafe_switches"));
  ASSERT_TRUE(last_handle != nullptr && unsafe_switches != nullptr);
  VendorBlasGemm<HipblasApi> blas({XINHE_FAKE_HIPBLAS_PATH});
  blas.set_host(kRecordingHost);
  Rng rng(7);
  const GemmCase g = gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 5, 4, 3);
  const xinhe_gemm_desc_t d = g.desc();
  ASSERT_EQ(blas.unsupported(d), "");
  const int switches_before = unsafe_switches();
  hipStream_t streams[2] = {reinterpret_cast<hipStream_t>(uintptr_t{0x1000}),
                            reinterpret_cast<hipStream_t>(uintptr_t{0x2000})};
  const HostArray a = HostArray::random(g.ab, g.a_span(), rng);
  const HostArray b = HostArray::random(g.ab, g.b_span(), rng);
  std::vector<double> expected(static_cast<size_t>(g.m * g.n));
  const HostArray c_in = HostArray::random(g.c, g.c_span(), rng);
  xinhe::reference::gemm(d, a.data(), b.data(), c_in.data(), 1.0f, 0.0f, expected.data());
  void* handle_of[2] = {};
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 2; ++i) {
      HostArray c = c_in;
      const TakenStatus run =
          g_host.take(blas.run(d, a.data(), b.data(), c.data(), 1.0f, 0.0f, streams[i]));
      ASSERT_TRUE(run.ok()) << run.call << ": " << run.message;
      EXPECT_EQ(last_stream_(), streams[i]);
      if (round == 0) handle_of[i] = last_handle();
      EXPECT_EQ(last_handle(), handle_of[i]) << "stream " << i << " round " << round;
      EXPECT_LE(xinhe::test::gemm_c_error(g, c, expected.data()).normalized(),
                xinhe::test::unit_roundoff(g.c));
    }
  }
  EXPECT_NE(handle_of[0], handle_of[1]) << "two streams shared one handle";
  EXPECT_EQ(unsafe_switches() - switches_before, 0)
      << "a handle with queued GEMMs was switched to another stream";
  EXPECT_EQ(live_handles_(), 2);
  blas.release_stream(streams[1]);
  EXPECT_EQ(live_handles_(), 1) << "release_stream destroys that stream's handle";
  blas.release_stream(streams[1]);  // no handle any more: nothing happens
  EXPECT_EQ(live_handles_(), 1);
  blas.release();
  EXPECT_EQ(live_handles_(), 0);
}

TEST_F(FakeHipblas, FailingCallBecomesStatusNamingIt) {
  VendorBlasGemm<HipblasApi> blas({XINHE_FAKE_HIPBLAS_PATH});
  blas.set_host(kRecordingHost);
  xinhe_gemm_desc_t d = small_desc();
  ASSERT_EQ(blas.unsupported(d), "");
  std::vector<float> a(64, 1.0f), b(64, 1.0f), c(64, 0.0f);
  d.ldc = 2;  // < n: the column-major C^T needs ldc >= n, which hipBLAS rejects
  const TakenStatus failed =
      g_host.take(blas.run(d, a.data(), b.data(), c.data(), 1.0f, 0.0f, nullptr));
  EXPECT_EQ(failed.code, XINHE_STATUS_INTERNAL);
  EXPECT_EQ(failed.backend, "hip");
  EXPECT_EQ(failed.call, "hipblasGemmStridedBatchedEx");
  EXPECT_EQ(failed.message, "HIPBLAS_STATUS_INVALID_VALUE");
}

}  // namespace
