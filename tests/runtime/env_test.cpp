// Environment scenarios. The registry reads XINHE_BACKEND_PATH once per process, so each suite
// here is one scenario, run by ctest in its own process with the environment it needs (see
// tests/runtime/CMakeLists.txt: --gtest_filter=<Suite>.* plus ENVIRONMENT). Every test first
// asserts that its environment is really set, so a scenario run without it fails loudly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using xinhe_test::StatusPtr;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// XINHE_DEVICE=cpu:0 with the test plugins present: the override beats the rule that would
// pick fake:0.
TEST(EnvDeviceOverride, NamedDeviceWins) {
  ASSERT_EQ(env("XINHE_DEVICE"), "cpu:0");
  ASSERT_NE(env("XINHE_BACKEND_PATH"), "");
  xinhe_device_t fake = xinhe_test::device_named("fake:0");
  ASSERT_NE(fake, nullptr);
  xinhe_device_t device = nullptr;
  XH_ASSERT_OK(xinhe_device_get_default(&device));
  EXPECT_STREQ(xinhe_device_name(device), "cpu:0");
}

// XINHE_DEVICE set but empty (`XINHE_DEVICE= prog`) counts as unset, as runtime.h says: the
// default rule picks fake:0, the accelerator among the test plugins.
TEST(EnvDeviceEmpty, IsTheSameAsUnset) {
  const char* value = std::getenv("XINHE_DEVICE");
  ASSERT_NE(value, nullptr);
  ASSERT_STREQ(value, "");
  xinhe_device_t device = nullptr;
  XH_ASSERT_OK(xinhe_device_get_default(&device));
  EXPECT_STREQ(xinhe_device_name(device), "fake:0");
}

// XINHE_DEVICE names nothing: an error, not a silent fallback.
TEST(EnvDeviceUnknown, IsNotFoundAndListsDevices) {
  ASSERT_EQ(env("XINHE_DEVICE"), "npu:3");
  xinhe_device_t device = nullptr;
  xinhe_status_t status = xinhe_device_get_default(&device);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_NOT_FOUND);
  EXPECT_STREQ(xinhe_status_call(status), "xinhe_device_get_default");
  const std::string message = xinhe_test::take_message(status);
  EXPECT_NE(message.find("npu:3"), std::string::npos) << message;
  EXPECT_NE(message.find("cpu:0"), std::string::npos) << message;
  EXPECT_EQ(device, nullptr);
}

// XINHE_BACKEND_PATH with empty items and a missing folder: ignored, nothing breaks.
TEST(EnvBadPluginPath, MissingFoldersAreIgnored) {
  ASSERT_NE(env("XINHE_BACKEND_PATH").find("/nonexistent"), std::string::npos);
  size_t count = 0;
  XH_ASSERT_OK(xinhe_backend_count(&count));
  EXPECT_GE(count, 1u);
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  EXPECT_NE(cpu, nullptr);
}

// XINHE_VERBOSE="dispatch, load" prints one load decision per backend, naming broken plugins and why.
TEST(EnvVerboseLoad, PrintsEachLoadDecision) {
  ASSERT_EQ(env("XINHE_VERBOSE"), "dispatch, load");  // spaces are tolerated
  ::testing::internal::CaptureStderr();
  size_t count = 0;
  StatusPtr status(xinhe_backend_count(&count));
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(status, nullptr);
  EXPECT_NE(log.find("xinhe[load] cpu: loaded"), std::string::npos) << log;
  EXPECT_NE(log.find("xinhe[load] fake: loaded"), std::string::npos) << log;
  EXPECT_NE(log.find("plugin ABI 2.0, core supports 1.x"), std::string::npos) << log;
  EXPECT_NE(log.find("missing required entry 'op_run'"), std::string::npos) << log;
}

// XINHE_CPU_MAX_ISA=baseline dispatched f32 GEMM to cpu.gemm.openblas_f32, which ran
// OpenBLAS's AVX2 kernels: the cap did not cover OpenBLAS. Now OpenBLAS is declined (with the
// reason in the dispatch line) unless its kernel set fits the cap, which no OpenBLAS kernel set
// does for baseline (SSE2); results still match the float64 reference.
TEST(EnvCpuMaxIsaBaseline, GemmStaysOnPortableKernels) {
  ASSERT_EQ(env("XINHE_CPU_MAX_ISA"), "baseline");
  ASSERT_EQ(env("XINHE_VERBOSE"), "dispatch");
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  ASSERT_NE(cpu, nullptr);
  const int64_t shapes[][3] = {{8, 8, 8},    {1, 1, 1},    {3, 70, 5},
                               {33, 17, 64}, {64, 64, 64}, {100, 3, 129}};
  uint32_t seed = 1;
  for (const auto& shape : shapes) {
    const xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(shape[0], shape[1], shape[2]);
    SCOPED_TRACE(std::to_string(d.m) + "x" + std::to_string(d.n) + "x" + std::to_string(d.k));
    xinhe_gemm_t gemm = nullptr;
    ::testing::internal::CaptureStderr();
    StatusPtr created(xinhe_gemm_create(cpu, &d, &gemm));
    StatusPtr checked(created == nullptr ? xinhe_gemm_check(gemm) : nullptr);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(created, nullptr) << xinhe_status_message(created.get());
    ASSERT_EQ(checked, nullptr) << xinhe_status_message(checked.get());
    const std::string name = xinhe_gemm_impl_name(gemm);
    EXPECT_EQ(name.find("openblas"), std::string::npos) << name << "\n" << log;
    // Nothing above SSE2: neither xinhe's AVX kernels nor oneDNN.
    EXPECT_EQ(name.find("avx"), std::string::npos) << name;
    EXPECT_EQ(name.find("amx"), std::string::npos) << name;
    EXPECT_EQ(name.find("onednn"), std::string::npos) << name;
    const size_t skipped = log.find("skipped cpu.gemm.openblas_f32: ");
    ASSERT_NE(skipped, std::string::npos) << log;
    const std::string reason = log.substr(skipped, log.find(';', skipped) - skipped);
    EXPECT_TRUE(reason.find("XINHE_CPU_MAX_ISA=baseline excludes OpenBLAS") != std::string::npos ||
                reason.find("libopenblas.so.0 not found") != std::string::npos)
        << reason;

    const size_t a_count = static_cast<size_t>(d.m * d.k), b_count = static_cast<size_t>(d.k * d.n),
                 c_count = static_cast<size_t>(d.m * d.n);
    const std::vector<float> a = xinhe_test::random_floats(a_count, seed++);
    const std::vector<float> b = xinhe_test::random_floats(b_count, seed++);
    const std::vector<float> c_in = xinhe_test::random_floats(c_count, seed++);
    const float alpha = 0.75f, beta = -0.5f;
    const std::vector<double> expected = xinhe_test::gemm_reference(d, a, b, c_in, alpha, beta);
    std::vector<float> c_out;
    ASSERT_NO_FATAL_FAILURE(xinhe_test::run_f32_gemm(cpu, gemm, a, b, c_in, alpha, beta, &c_out));
    xinhe_gemm_destroy(gemm);
    for (size_t i = 0; i < c_count; ++i) {
      EXPECT_NEAR(c_out[i], expected[i], 1e-4 * (1.0 + std::fabs(expected[i]))) << "index " << i;
    }
  }
}

}  // namespace
