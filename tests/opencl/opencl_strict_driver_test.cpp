// The OpenCL backend on a driver stricter than PoCL: these tests run with strict_cl_shim's
// libOpenCL.so.1 first on LD_LIBRARY_PATH (see CMakeLists.txt), which forwards to the real
// loader and imposes, per XSHIM_* variable, the limits and failures real GPU drivers show:
// a per-kernel work-group limit below the device's, errors from clFinish after a GPU fault,
// lazily allocating drivers, no marker timestamps, pre-1.2 devices, more than 3 work-item
// dimensions, a grid-dimension limit, and a compiler that rejects CLBlast's kernels. Each
// test runs in its own process (gtest_discover_tests), so the variables it sets stay its own.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "clblast_api.h"
#include "op_common.h"
#include "testing/opencl_op_runner.h"

namespace xinhe::opencl::testing {
namespace {

using xinhe::test::attention_case;
using xinhe::test::gemm_case;

class StrictDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test in its own process; a whole-binary run must not carry them over.
    for (const char* name :
         {"XSHIM_GPU", "XSHIM_KERNEL_WG", "XSHIM_MAX_GRID_Z", "XSHIM_FINISH_ERR", "XSHIM_WAIT_ERR",
          "XSHIM_CREATE_BUFFER_ERR", "XSHIM_FILL_ERR", "XSHIM_NO_PROF", "XSHIM_DEVICE_VERSION",
          "XSHIM_C_VERSION", "XSHIM_DIMS", "XSHIM_FAIL_BUILD_SOURCE", "XSHIM_CRASH_ON_BINARY"})
      unsetenv(name);
    // An empty tuning database: the shipped PoCL entries would not be what a GPU gets.
    empty_db_ = ::testing::TempDir() + "xinhe_strict_empty_db.txt";
    std::FILE* f = std::fopen(empty_db_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    setenv("XINHE_TUNING_DB", empty_db_.c_str(), 1);
    TestHost::get().clear_logs();
  }
  // Opens the session once the test has set its variables.
  bool open() {
    session_ = std::make_unique<Session>();
    return session_->available();
  }
  static bool logged(const std::string& text) {
    for (const std::string& line : TestHost::get().logs())
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
  std::string empty_db_;
  std::unique_ptr<Session> session_;
};

#define OPEN_OR_SKIP() \
  if (!open()) GTEST_SKIP() << "no usable OpenCL device: " << session_->reason()

// ---- Per-kernel work-group limit ----

// The GPU default tile is a 16 x 16 work-group: a kernel limited to 128 work-items cannot take
// it, so the tiled entry is skipped with the reason and the op runs correctly on the next one
// (before, check said OK and every run failed with CL_INVALID_WORK_GROUP_SIZE).
TEST_F(StrictDriverTest, TiledGemmAboveKernelWorkGroupLimitFallsThrough) {
  setenv("XSHIM_GPU", "1", 1);
  setenv("XSHIM_KERNEL_WG", "128", 1);
  OPEN_OR_SKIP();
  const GemmCase g = gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, false, true, 37, 29, 41);
  const CheckResult r = check_gemm(*session_, g, OpOverrides{});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.reference_f16_f32");
  EXPECT_TRUE(logged("work-group of 256 work-items exceeds CL_KERNEL_WORK_GROUP_SIZE 128"));
}

// The same tile within the limit is still used.
TEST_F(StrictDriverTest, TiledGemmWithinKernelWorkGroupLimitIsUsed) {
  setenv("XSHIM_GPU", "1", 1);
  setenv("XSHIM_KERNEL_WG", "256", 1);
  OPEN_OR_SKIP();
  const GemmCase g = gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, false, true, 37, 29, 41);
  const CheckResult r = check_gemm(*session_, g, OpOverrides{});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.tiled_f16_f32");
}

// Flash attention's GPU work-group is 64 work-items.
TEST_F(StrictDriverTest, FlashAttentionAboveKernelWorkGroupLimitFallsThrough) {
  setenv("XSHIM_GPU", "1", 1);
  setenv("XSHIM_KERNEL_WG", "32", 1);
  OPEN_OR_SKIP();
  const AttentionCase c = attention_case(XINHE_DTYPE_F32, 1, 2, 1, 5, 9, 32);
  const CheckResult r = check_attention(*session_, c, OpOverrides{});
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.attention.reference_f32");
  EXPECT_TRUE(logged("work-group of 64 work-items exceeds CL_KERNEL_WORK_GROUP_SIZE 32"));
}

// ---- Status mapping ----

// NVIDIA and Intel return CL_OUT_OF_RESOURCES (and NVIDIA CL_INVALID_COMMAND_QUEUE) from
// clFinish after a GPU fault or hang: the device is lost, as the event paths already say.
TEST_F(StrictDriverTest, FinishAfterFaultIsDeviceLost) {
  OPEN_OR_SKIP();
  const xinhe_backend_api_t* api = session_->api();
  for (const char* code : {"-5", "-36"}) {
    setenv("XSHIM_FINISH_ERR", code, 1);
    const Status st(api->stream_synchronize(session_->stream()));
    EXPECT_EQ(st.code(), XINHE_STATUS_DEVICE_LOST) << code << ": " << st.message();
  }
  unsetenv("XSHIM_FINISH_ERR");
}

TEST_F(StrictDriverTest, WaitForEventsAfterFaultIsDeviceLost) {
  OPEN_OR_SKIP();
  const xinhe_backend_api_t* api = session_->api();
  xinhe_be_event_t event = nullptr;
  ASSERT_TRUE(Status(api->event_create(session_->be_device(), &event)).ok());
  ASSERT_TRUE(Status(api->event_record(event, session_->stream())).ok());
  for (const char* code : {"-5", "-36"}) {
    setenv("XSHIM_WAIT_ERR", code, 1);
    const Status st(api->event_synchronize(event));
    EXPECT_EQ(st.code(), XINHE_STATUS_DEVICE_LOST) << code << ": " << st.message();
  }
  unsetenv("XSHIM_WAIT_ERR");
  api->event_destroy(event);
}

// CL_OUT_OF_RESOURCES at buffer creation or at an enqueue (lazily allocating drivers) is an
// allocation failure.
TEST_F(StrictDriverTest, OutOfResourcesAtAllocationOrEnqueueIsOutOfMemory) {
  OPEN_OR_SKIP();
  const xinhe_backend_api_t* api = session_->api();
  setenv("XSHIM_CREATE_BUFFER_ERR", "-5", 1);
  xinhe_be_buffer_t buffer = nullptr;
  const Status alloc(api->buffer_alloc(session_->be_device(), 256, 0, &buffer));
  EXPECT_EQ(alloc.code(), XINHE_STATUS_OUT_OF_MEMORY) << alloc.message();
  unsetenv("XSHIM_CREATE_BUFFER_ERR");

  ASSERT_TRUE(Status(api->buffer_alloc(session_->be_device(), 256, 0, &buffer)).ok());
  setenv("XSHIM_FILL_ERR", "-5", 1);
  const uint32_t pattern = 0;
  const Status fill(api->fill(session_->stream(), {buffer, 0}, 256, &pattern, sizeof(pattern)));
  EXPECT_EQ(fill.code(), XINHE_STATUS_OUT_OF_MEMORY) << fill.message();
  unsetenv("XSHIM_FILL_ERR");
  EXPECT_TRUE(Status(api->stream_synchronize(session_->stream())).ok());
  api->buffer_free(buffer);
}

// ---- CLBlast builds at op creation ----

bool clblast_missing(Session& s, std::string* why) {
  return clblast_get(s.device()->backend, why) == nullptr;
}

// A compiler that rejects CLBlast's kernels rules the entry out at creation, with the reason,
// (first: CLBlast keeps built programs for the process, and a later test must not find one)
// and the walk goes on (before: check OK, then INTERNAL "CLBlast status -11" at every run).
TEST_F(StrictDriverTest, ClblastBuildFailureSkipsTheEntry) {
  OPEN_OR_SKIP();
  std::string why;
  if (clblast_missing(*session_, &why)) GTEST_SKIP() << "CLBlast unavailable: " << why;
  setenv("XSHIM_FAIL_BUILD_SOURCE", "PRECISION", 1);
  const GemmCase g = gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 24, 17, 9);
  OpOverrides ov;
  ov.impl_filter = "clblast";
  std::unique_ptr<Op> op;
  ASSERT_TRUE(Status(create_gemm_op(session_->device(), g.desc(), ov, &op)).ok());
  const Status check(op->check());
  EXPECT_EQ(check.code(), XINHE_STATUS_UNIMPLEMENTED) << check.message();
  // (CLBlast reports the shim's refusal as CL_INVALID_PROGRAM, a compile error as
  // CL_BUILD_PROGRAM_FAILURE: either is an OpenCL code, kept in the reason.)
  EXPECT_NE(check.message().find("in the warm-up call that builds CLBlast's kernels"),
            std::string::npos)
      << check.message();
  // Unfiltered, with the tiled entry failing to build: the walk ends at the reference kernel.
  ov.impl_filter = "";
  ov.break_build = "tiled";
  const CheckResult r = check_gemm(*session_, g, ov);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.impl, "opencl.gemm.reference_f32");
}

// Once created, the op runs even where nothing can be compiled any more: CLBlast's kernels
// were built at creation, not in the first run.
TEST_F(StrictDriverTest, ClblastKernelsAreBuiltAtCreation) {
  OPEN_OR_SKIP();
  std::string why;
  if (clblast_missing(*session_, &why)) GTEST_SKIP() << "CLBlast unavailable: " << why;
  for (const int64_t batch : {1, 2}) {
    const xinhe_gemm_desc_t d =
        gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, true, false, 24, 17, 9).batched(batch).desc();
    OpOverrides ov;
    ov.impl_filter = "clblast";
    std::unique_ptr<Op> op;
    ASSERT_TRUE(Status(create_gemm_op(session_->device(), d, ov, &op)).ok());
    ASSERT_TRUE(Status(op->check()).ok());
    // Any CLBlast program build from here on fails.
    setenv("XSHIM_FAIL_BUILD_SOURCE", "PRECISION", 1);
    const GemmCase g =
        gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, true, false, 24, 17, 9).batched(batch);
    const CheckResult r = check_gemm(*session_, g, ov);
    EXPECT_TRUE(r.ok) << "batch " << batch << ": " << r.error;
    EXPECT_EQ(r.impl, "opencl.gemm.clblast_f32");
    unsetenv("XSHIM_FAIL_BUILD_SOURCE");
  }
}

// ---- Devices below OpenCL 1.2 ----

TEST_F(StrictDriverTest, DeviceBelowOpenCl12IsLeftOutWithTheReason) {
  setenv("XSHIM_DEVICE_VERSION", "OpenCL 1.1 strict-shim", 1);
  const xinhe_backend_api_t* api = backend_api();
  xinhe_be_backend_t backend = nullptr;
  const Status st(api->backend_create(TestHost::get().api(), &backend));
  EXPECT_EQ(st.code(), XINHE_STATUS_UNAVAILABLE) << st.message();
  EXPECT_NE(st.message().find("'OpenCL 1.1 strict-shim' is below OpenCL 1.2"), std::string::npos)
      << st.message();
  EXPECT_TRUE(logged("skipped: CL_DEVICE_VERSION 'OpenCL 1.1 strict-shim'"));
  if (backend != nullptr) api->backend_destroy(backend);

  setenv("XSHIM_DEVICE_VERSION", "OpenCL 1.2 strict-shim", 1);
  setenv("XSHIM_C_VERSION", "OpenCL C 1.1 strict-shim", 1);
  const Status c(api->backend_create(TestHost::get().api(), &backend));
  EXPECT_EQ(c.code(), XINHE_STATUS_UNAVAILABLE) << c.message();
  EXPECT_NE(c.message().find("'OpenCL C 1.1 strict-shim' is below OpenCL C 1.2"), std::string::npos)
      << c.message();

  setenv("XSHIM_C_VERSION", "OpenCL C 1.2 strict-shim", 1);
  backend = nullptr;
  EXPECT_TRUE(Status(api->backend_create(TestHost::get().api(), &backend)).ok());
  if (backend != nullptr) api->backend_destroy(backend);
}

// ---- Event timing without marker timestamps ----

TEST_F(StrictDriverTest, ElapsedWithoutMarkerTimestampsIsUnimplemented) {
  setenv("XSHIM_NO_PROF", "1", 1);
  OPEN_OR_SKIP();
  const xinhe_backend_api_t* api = session_->api();
  xinhe_be_event_t a = nullptr, b = nullptr;
  ASSERT_TRUE(Status(api->event_create(session_->be_device(), &a)).ok());
  ASSERT_TRUE(Status(api->event_create(session_->be_device(), &b)).ok());
  ASSERT_TRUE(Status(api->event_record(a, session_->stream())).ok());
  ASSERT_TRUE(Status(api->event_record(b, session_->stream())).ok());
  ASSERT_TRUE(Status(api->event_synchronize(b)).ok());
  float ms = -1.0f;
  const Status st(api->event_elapsed_ms(a, b, &ms));
  EXPECT_EQ(st.code(), XINHE_STATUS_UNIMPLEMENTED) << st.message();
  EXPECT_NE(st.message().find("CL_PROFILING_INFO_NOT_AVAILABLE"), std::string::npos)
      << st.message();
  api->event_destroy(a);
  api->event_destroy(b);
}

// ---- More than 3 work-item dimensions ----

TEST_F(StrictDriverTest, WorkItemSizesReadOnADeviceWithFourDimensions) {
  setenv("XSHIM_DIMS", "4", 1);
  OPEN_OR_SKIP();
  const DeviceInfo& info = session_->device()->info;
  unsetenv("XSHIM_DIMS");
  size_t real[3] = {0, 0, 0};
  ASSERT_EQ(session_->device()->cl().clGetDeviceInfo(
                session_->device()->id, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof(real), real, nullptr),
            CL_SUCCESS);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(real[i], 0u);
    EXPECT_EQ(info.max_work_item_sizes[i], real[i]) << "dimension " << i;
  }
}

// ---- Grid-dimension limit ----

// A CUDA grid's z dimension stops at 65535 groups: a batch beyond it is launched in slices.
TEST_F(StrictDriverTest, BatchBeyondTheGridLimitIsLaunchedInSlices) {
  setenv("XSHIM_MAX_GRID_Z", "65535", 1);
  OPEN_OR_SKIP();
  for (const char* method : {"reference", "tiled"}) {
    OpOverrides ov;
    ov.impl_filter = method;
    const GemmCase g =
        gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, false, false, 2, 3, 2).batched(65537 + 3);
    const CheckResult r = check_gemm(*session_, g, ov);
    EXPECT_TRUE(r.ok) << method << ": " << r.error;
    EXPECT_EQ(r.impl, std::string("opencl.gemm.") + method + "_f16_f32");
  }
}

}  // namespace
}  // namespace xinhe::opencl::testing

namespace xinhe::opencl::testing {
namespace {

// ---- A cached binary that crashes the driver ----

// Run by CachedBinaryThatCrashesTheDriverIsQuarantined in a child process, whose driver dies
// loading a binary (SetUp clears the XSHIM_* variables, so it is set here).
TEST_F(StrictDriverTest, DISABLED_ChildRunsAGemmFromTheCache) {
  setenv("XSHIM_CRASH_ON_BINARY", "1", 1);
  OPEN_OR_SKIP();
  const GemmCase g = gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 19, 23, 17);
  const CheckResult r = check_gemm(*session_, g, OpOverrides{});
  EXPECT_TRUE(r.ok) << r.error;
}

// The program cache claims an entry (renames it aside) before the driver sees it, so a process
// whose driver dies loading it leaves it quarantined: the next process rebuilds from source
// instead of crashing too.
TEST_F(StrictDriverTest, CachedBinaryThatCrashesTheDriverIsQuarantined) {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "xinhe_strict_quarantine_" + std::to_string(getpid());
  fs::remove_all(dir);
  setenv("XINHE_CACHE_DIR", dir.c_str(), 1);
  OPEN_OR_SKIP();
  const GemmCase g = gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 19, 23, 17);
  CheckResult r = check_gemm(*session_, g, OpOverrides{});
  ASSERT_TRUE(r.ok) << r.error;
  session_.reset();
  const auto count = [&](const std::string& part) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir))
      n += e.path().filename().string().find(part) != std::string::npos ? 1 : 0;
    return n;
  };
  const int entries = count(".bin");
  ASSERT_GE(entries, 1);

  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    execl("/proc/self/exe", "child", "--gtest_also_run_disabled_tests",
          "--gtest_filter=StrictDriverTest.DISABLED_ChildRunsAGemmFromTheCache", nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child did not die in the driver: status " << status;
  const std::string claim = ".claimed." + std::to_string(child) + ".";
  EXPECT_EQ(count(claim), 1);  // the entry it was loading when it died
  EXPECT_EQ(count(".bin"), entries);

  TestHost::get().clear_logs();
  setenv("XINHE_VERBOSE", "cache", 1);
  ASSERT_TRUE(open());
  r = check_gemm(*session_, g, OpOverrides{});  // this process's driver is fine
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(logged("built from source")) << "the quarantined entry was not rebuilt";
  EXPECT_EQ(count(claim), 1);  // fresh: kept until it is older than kStaleClaimSeconds
  EXPECT_EQ(count(".bin"), entries + 1);
  unsetenv("XINHE_VERBOSE");
  session_.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xinhe::opencl::testing
