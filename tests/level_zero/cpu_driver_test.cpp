// The CPU test driver's Level Zero semantics, exercised through Debian's real loader
// (ZE_ENABLE_ALT_DRIVERS points at the driver): commands without a barrier between them may
// run in any order (this driver reverses them), barriers and events order them, kernel
// arguments and group sizes are captured at append time, kernel timestamps wrap at 32 bits,
// build flags are checked and build logs returned, native binaries round-trip, and a kernel
// writing outside its allocation makes the device lost. These are the properties the backend
// tests rely on; if the driver were lax, a backend bug could pass. Each test runs in its own
// process (gtest_discover_tests), so a lost device does not leak into the next test.
#include <gtest/gtest.h>
#include <level_zero/ze_api.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "module_cache.h"

namespace {

using xinhe::level_zero::ze_struct;

#define ASSERT_ZE(expr) ASSERT_EQ((expr), ZE_RESULT_SUCCESS) << #expr

class CpuDriver : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_ZE(zeInit(0));
    uint32_t n = 1;
    ASSERT_ZE(zeDriverGet(&n, &driver_));
    n = 1;
    ASSERT_ZE(zeDeviceGet(driver_, &n, &device_));
    ze_context_desc_t cdesc = ze_struct<ze_context_desc_t>(ZE_STRUCTURE_TYPE_CONTEXT_DESC);
    ASSERT_ZE(zeContextCreate(driver_, &cdesc, &context_));
    ze_command_queue_desc_t qdesc =
        ze_struct<ze_command_queue_desc_t>(ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC);
    ASSERT_ZE(zeCommandQueueCreate(context_, device_, &qdesc, &queue_));
    ze_command_list_desc_t ldesc =
        ze_struct<ze_command_list_desc_t>(ZE_STRUCTURE_TYPE_COMMAND_LIST_DESC);
    ASSERT_ZE(zeCommandListCreate(context_, device_, &ldesc, &list_));
    ze_event_pool_desc_t pdesc = ze_struct<ze_event_pool_desc_t>(ZE_STRUCTURE_TYPE_EVENT_POOL_DESC);
    pdesc.flags = ZE_EVENT_POOL_FLAG_HOST_VISIBLE | ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP;
    pdesc.count = 4;
    ASSERT_ZE(zeEventPoolCreate(context_, &pdesc, 1, &device_, &pool_));
    for (uint32_t i = 0; i < 4; ++i) {
      ze_event_desc_t edesc = ze_struct<ze_event_desc_t>(ZE_STRUCTURE_TYPE_EVENT_DESC);
      edesc.index = i;
      ASSERT_ZE(zeEventCreate(pool_, &edesc, &events_[i]));
    }
  }
  void TearDown() override {
    for (void* p : allocations_) zeMemFree(context_, p);
    for (ze_event_handle_t e : events_)
      if (e) zeEventDestroy(e);
    if (pool_) zeEventPoolDestroy(pool_);
    if (list_) zeCommandListDestroy(list_);
    if (queue_) zeCommandQueueDestroy(queue_);
    if (context_) zeContextDestroy(context_);
  }
  void* device_alloc(size_t size) {
    ze_device_mem_alloc_desc_t desc =
        ze_struct<ze_device_mem_alloc_desc_t>(ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC);
    void* p = nullptr;
    EXPECT_EQ(zeMemAllocDevice(context_, &desc, size, 64, device_, &p), ZE_RESULT_SUCCESS);
    allocations_.push_back(p);
    return p;
  }
  void execute_and_wait() {
    ASSERT_ZE(zeCommandListClose(list_));
    ASSERT_ZE(zeCommandQueueExecuteCommandLists(queue_, 1, &list_, nullptr));
    ASSERT_ZE(zeCommandQueueSynchronize(queue_, UINT64_MAX));
    ASSERT_ZE(zeCommandListReset(list_));
  }
  // A module built from the backend's embedded f32 reference GEMM (C = A B, no transposes).
  ze_module_handle_t gemm_module(const char* flags = "", ze_result_t expect = ZE_RESULT_SUCCESS,
                                 std::string* log_text = nullptr) {
    const xinhe::level_zero::SpirvProgram* spirv = xinhe::level_zero::find_spirv_program(
        "gemm_reference", "-cl-std=CL1.2 -DAB_DTYPE=0 -DC_DTYPE=0 -DTRANS_A=0 -DTRANS_B=0");
    EXPECT_NE(spirv, nullptr);
    if (spirv == nullptr) return nullptr;
    ze_module_desc_t desc = ze_struct<ze_module_desc_t>(ZE_STRUCTURE_TYPE_MODULE_DESC);
    desc.format = ZE_MODULE_FORMAT_IL_SPIRV;
    desc.inputSize = *spirv->size;
    desc.pInputModule = spirv->data;
    desc.pBuildFlags = flags;
    ze_module_handle_t module = nullptr;
    ze_module_build_log_handle_t log = nullptr;
    EXPECT_EQ(zeModuleCreate(context_, device_, &desc, &module, &log), expect);
    size_t size = 0;
    EXPECT_EQ(zeModuleBuildLogGetString(log, &size, nullptr), ZE_RESULT_SUCCESS);
    std::string text(size, '\0');
    EXPECT_EQ(zeModuleBuildLogGetString(log, &size, text.data()), ZE_RESULT_SUCCESS);
    if (log_text) *log_text = text.c_str();
    zeModuleBuildLogDestroy(log);
    return module;
  }
  // Sets the GEMM arguments for C(m x n) = A(m x k) B(k x n), row-major, dense.
  void set_gemm_args(ze_kernel_handle_t k, int64_t m, int64_t n, int64_t kk, void* a, void* b,
                     void* c) {
    const int64_t zero = 0;
    const float alpha = 1.0f, beta = 0.0f;
    uint32_t i = 0;
    const auto value = [&](const auto& v) {
      ASSERT_ZE(zeKernelSetArgumentValue(k, i++, sizeof(v), &v));
    };
    value(m), value(n), value(kk);
    value(a), value(zero), value(kk), value(zero);
    value(b), value(zero), value(n), value(zero);
    value(c), value(zero), value(n), value(zero);
    value(alpha), value(beta);
  }

  ze_driver_handle_t driver_ = nullptr;
  ze_device_handle_t device_ = nullptr;
  ze_context_handle_t context_ = nullptr;
  ze_command_queue_handle_t queue_ = nullptr;
  ze_command_list_handle_t list_ = nullptr;
  ze_event_pool_handle_t pool_ = nullptr;
  ze_event_handle_t events_[4] = {};
  std::vector<void*> allocations_;
};

// docs/level_zero.md's test settings: a misspelt value fails zeInit instead of silently running
// another order or no wrap. Each test is its own process, so zeInit starts fresh.
TEST(CpuDriverSettings, OrderOtherThanForwardOrReverseFailsInit) {
  setenv("XINHE_ZE_CPU_ORDER", "Forward", 1);
  EXPECT_NE(zeInit(0), ZE_RESULT_SUCCESS);
}

TEST(CpuDriverSettings, WrapThatIsNotMillisecondsFailsInit) {
  setenv("XINHE_ZE_CPU_TIMESTAMP_WRAP_MS", "1000ms", 1);
  EXPECT_NE(zeInit(0), ZE_RESULT_SUCCESS);
}

TEST(CpuDriverSettings, ReverseAndPlainMillisecondsAreAccepted) {
  setenv("XINHE_ZE_CPU_ORDER", "reverse", 1);
  setenv("XINHE_ZE_CPU_TIMESTAMP_WRAP_MS", "1000", 1);
  EXPECT_EQ(zeInit(0), ZE_RESULT_SUCCESS);
}

TEST_F(CpuDriver, DeviceIsAnHonestCpuWithVersionedTimerUnits) {
  ze_device_properties_t p10 =
      ze_struct<ze_device_properties_t>(ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES);
  ASSERT_ZE(zeDeviceGetProperties(device_, &p10));
  EXPECT_EQ(p10.type, ZE_DEVICE_TYPE_CPU);
  EXPECT_EQ(p10.kernelTimestampValidBits, 32u);
  ze_device_properties_t p12 =
      ze_struct<ze_device_properties_t>(ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2);
  ASSERT_ZE(zeDeviceGetProperties(device_, &p12));
  // 1.0 layout: nanoseconds per tick; 1.2 layout: ticks per second.
  EXPECT_EQ(p10.timerResolution * p12.timerResolution, 1000000000ull);
  EXPECT_NE(std::string(p10.name).find("xinhe CPU test driver"), std::string::npos);
}

TEST_F(CpuDriver, CommandsWithoutBarrierRunInReverseOrder) {
  constexpr size_t kSize = 256;
  auto* a = static_cast<uint8_t*>(device_alloc(kSize));
  auto* b = static_cast<uint8_t*>(device_alloc(kSize));
  std::memset(a, 0, kSize);
  std::memset(b, 0, kSize);
  const uint8_t one = 1;
  // fill A, then copy A -> B with nothing between: the copy may run first.
  ASSERT_ZE(zeCommandListAppendMemoryFill(list_, a, &one, 1, kSize, nullptr, 0, nullptr));
  ASSERT_ZE(zeCommandListAppendMemoryCopy(list_, b, a, kSize, nullptr, 0, nullptr));
  execute_and_wait();
  EXPECT_EQ(b[0], 0) << "the driver no longer reorders unordered commands";
  // With a barrier between them the copy sees the fill.
  std::memset(a, 0, kSize);
  ASSERT_ZE(zeCommandListAppendMemoryFill(list_, a, &one, 1, kSize, nullptr, 0, nullptr));
  ASSERT_ZE(zeCommandListAppendBarrier(list_, nullptr, 0, nullptr));
  ASSERT_ZE(zeCommandListAppendMemoryCopy(list_, b, a, kSize, nullptr, 0, nullptr));
  execute_and_wait();
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[kSize - 1], 1);
}

TEST_F(CpuDriver, ImmediateListWaitsOnAnEventSignalledElsewhere) {
  ze_command_queue_desc_t qdesc =
      ze_struct<ze_command_queue_desc_t>(ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC);
  qdesc.mode = ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS;
  ze_command_list_handle_t immediate = nullptr;
  ASSERT_ZE(zeCommandListCreateImmediate(context_, device_, &qdesc, &immediate));
  auto* a = static_cast<uint32_t*>(device_alloc(64));
  auto* b = static_cast<uint32_t*>(device_alloc(64));
  a[0] = 7;
  b[0] = 0;
  ASSERT_ZE(zeCommandListAppendWaitOnEvents(immediate, 1, &events_[0]));
  ASSERT_ZE(zeCommandListAppendMemoryCopy(immediate, b, a, 4, events_[1], 0, nullptr));
  EXPECT_EQ(zeEventHostSynchronize(events_[1], 50'000'000), ZE_RESULT_NOT_READY);
  EXPECT_EQ(b[0], 0u) << "the copy ran before the event it waits on";
  ASSERT_ZE(zeEventHostSignal(events_[0]));
  ASSERT_ZE(zeEventHostSynchronize(events_[1], UINT64_MAX));
  EXPECT_EQ(b[0], 7u);
  ASSERT_ZE(zeCommandListDestroy(immediate));
}

TEST_F(CpuDriver, KernelTimestampsNeedSignalAndHaveThirtyTwoBits) {
  ze_kernel_timestamp_result_t ts{};
  EXPECT_EQ(zeEventQueryKernelTimestamp(events_[0], &ts), ZE_RESULT_NOT_READY);
  ASSERT_ZE(zeCommandListAppendBarrier(list_, events_[0], 0, nullptr));
  execute_and_wait();
  ASSERT_ZE(zeEventQueryStatus(events_[0]));
  ASSERT_ZE(zeEventQueryKernelTimestamp(events_[0], &ts));
  EXPECT_LT(ts.global.kernelEnd, 1ull << 32);
  // An event must be reset before it is signalled again.
  ASSERT_ZE(zeEventHostReset(events_[0]));
  EXPECT_EQ(zeEventQueryStatus(events_[0]), ZE_RESULT_NOT_READY);
}

TEST_F(CpuDriver, FenceSignalsWhenTheListHasRun) {
  ze_fence_desc_t fdesc = ze_struct<ze_fence_desc_t>(ZE_STRUCTURE_TYPE_FENCE_DESC);
  ze_fence_handle_t fence = nullptr;
  ASSERT_ZE(zeFenceCreate(queue_, &fdesc, &fence));
  EXPECT_EQ(zeFenceQueryStatus(fence), ZE_RESULT_NOT_READY);
  ASSERT_ZE(zeCommandListAppendBarrier(list_, nullptr, 0, nullptr));
  ASSERT_ZE(zeCommandListClose(list_));
  // An open list cannot be appended to once closed; it must be reset first.
  EXPECT_NE(zeCommandListAppendBarrier(list_, nullptr, 0, nullptr), ZE_RESULT_SUCCESS);
  ASSERT_ZE(zeCommandQueueExecuteCommandLists(queue_, 1, &list_, fence));
  ASSERT_ZE(zeFenceHostSynchronize(fence, UINT64_MAX));
  ASSERT_ZE(zeFenceReset(fence));
  EXPECT_EQ(zeFenceQueryStatus(fence), ZE_RESULT_NOT_READY);
  ASSERT_ZE(zeFenceDestroy(fence));
}

TEST_F(CpuDriver, GemmKernelRunsWithArgumentsCapturedAtAppend) {
  ze_module_handle_t module = gemm_module();
  ASSERT_NE(module, nullptr);
  ze_kernel_desc_t kdesc = ze_struct<ze_kernel_desc_t>(ZE_STRUCTURE_TYPE_KERNEL_DESC);
  kdesc.pKernelName = "xinhe_gemm_reference";
  ze_kernel_handle_t kernel = nullptr;
  ASSERT_ZE(zeKernelCreate(module, &kdesc, &kernel));
  constexpr int64_t m = 3, n = 5, k = 4;
  auto* a = static_cast<float*>(device_alloc(m * k * 4));
  auto* b = static_cast<float*>(device_alloc(k * n * 4));
  auto* c = static_cast<float*>(device_alloc(m * n * 4));
  auto* other = static_cast<float*>(device_alloc(m * n * 4));
  for (int i = 0; i < m * k; ++i) a[i] = static_cast<float>(i + 1);
  for (int i = 0; i < k * n; ++i) b[i] = static_cast<float>(2 * i - 7);
  for (int i = 0; i < m * n; ++i) c[i] = other[i] = -1.0f;
  set_gemm_args(kernel, m, n, k, a, b, c);
  const ze_group_count_t groups = {n, m, 1};
  // No group size yet: the launch is refused.
  EXPECT_EQ(zeCommandListAppendLaunchKernel(list_, kernel, &groups, nullptr, 0, nullptr),
            ZE_RESULT_ERROR_INVALID_ARGUMENT);
  ASSERT_ZE(zeKernelSetGroupSize(kernel, 1, 1, 1));
  ASSERT_ZE(zeCommandListAppendLaunchKernel(list_, kernel, &groups, nullptr, 0, nullptr));
  // Changing C after the append must not redirect the recorded launch.
  ASSERT_ZE(zeKernelSetArgumentValue(kernel, 11, sizeof(void*), &other));
  execute_and_wait();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float want = 0.0f;
      for (int64_t p = 0; p < k; ++p) want += a[i * k + p] * b[p * n + j];
      EXPECT_EQ(c[i * n + j], want) << i << "," << j;
      EXPECT_EQ(other[i * n + j], -1.0f);
    }
  // A pointer argument outside every allocation is refused.
  std::vector<float> host(16);
  float* host_pointer = host.data();
  EXPECT_EQ(zeKernelSetArgumentValue(kernel, 3, sizeof(void*), &host_pointer),
            ZE_RESULT_ERROR_INVALID_ARGUMENT);
  ASSERT_ZE(zeKernelDestroy(kernel));
  ASSERT_ZE(zeModuleDestroy(module));
}

TEST_F(CpuDriver, UnknownBuildFlagFailsWithALog) {
  std::string log;
  ze_module_handle_t module =
      gemm_module("-ze-opt-bogus", ZE_RESULT_ERROR_MODULE_BUILD_FAILURE, &log);
  EXPECT_EQ(module, nullptr);
  EXPECT_NE(log.find("-ze-opt-bogus"), std::string::npos) << log;
  module = gemm_module("-ze-opt-large-register-file", ZE_RESULT_SUCCESS, &log);
  ASSERT_NE(module, nullptr);
  ASSERT_ZE(zeModuleDestroy(module));
}

TEST_F(CpuDriver, NativeBinaryRoundTripsAndForeignBytesAreRejected) {
  ze_module_handle_t module = gemm_module();
  ASSERT_NE(module, nullptr);
  size_t size = 0;
  ASSERT_ZE(zeModuleGetNativeBinary(module, &size, nullptr));
  std::vector<uint8_t> binary(size);
  ASSERT_ZE(zeModuleGetNativeBinary(module, &size, binary.data()));
  ASSERT_ZE(zeModuleDestroy(module));
  ze_module_desc_t desc = ze_struct<ze_module_desc_t>(ZE_STRUCTURE_TYPE_MODULE_DESC);
  desc.format = ZE_MODULE_FORMAT_NATIVE;
  desc.inputSize = binary.size();
  desc.pInputModule = binary.data();
  ASSERT_ZE(zeModuleCreate(context_, device_, &desc, &module, nullptr));
  ze_kernel_desc_t kdesc = ze_struct<ze_kernel_desc_t>(ZE_STRUCTURE_TYPE_KERNEL_DESC);
  kdesc.pKernelName = "xinhe_gemm_reference";
  ze_kernel_handle_t kernel = nullptr;
  ASSERT_ZE(zeKernelCreate(module, &kdesc, &kernel));
  ASSERT_ZE(zeKernelDestroy(kernel));
  ASSERT_ZE(zeModuleDestroy(module));
  binary[0] ^= 0xff;
  EXPECT_EQ(zeModuleCreate(context_, device_, &desc, &module, nullptr),
            ZE_RESULT_ERROR_INVALID_NATIVE_BINARY);
}

TEST_F(CpuDriver, KernelWritingOutsideItsAllocationLosesTheDevice) {
  ze_module_handle_t module = gemm_module();
  ASSERT_NE(module, nullptr);
  ze_kernel_desc_t kdesc = ze_struct<ze_kernel_desc_t>(ZE_STRUCTURE_TYPE_KERNEL_DESC);
  kdesc.pKernelName = "xinhe_gemm_reference";
  ze_kernel_handle_t kernel = nullptr;
  ASSERT_ZE(zeKernelCreate(module, &kdesc, &kernel));
  constexpr int64_t m = 4, n = 4, k = 2;
  void* a = device_alloc(m * k * 4);
  void* b = device_alloc(k * n * 4);
  void* c = device_alloc((m - 1) * n * 4);  // one row short
  std::memset(a, 0, m * k * 4);
  std::memset(b, 0, k * n * 4);
  set_gemm_args(kernel, m, n, k, a, b, c);
  ASSERT_ZE(zeKernelSetGroupSize(kernel, 1, 1, 1));
  const ze_group_count_t groups = {n, m, 1};
  ASSERT_ZE(zeCommandListAppendLaunchKernel(list_, kernel, &groups, nullptr, 0, nullptr));
  ASSERT_ZE(zeCommandListClose(list_));
  ASSERT_ZE(zeCommandQueueExecuteCommandLists(queue_, 1, &list_, nullptr));
  EXPECT_EQ(zeCommandQueueSynchronize(queue_, UINT64_MAX), ZE_RESULT_ERROR_DEVICE_LOST);
  EXPECT_EQ(zeDeviceGetStatus(device_), ZE_RESULT_ERROR_DEVICE_LOST);
  zeKernelDestroy(kernel);
  zeModuleDestroy(module);
}

// The loader's validation layer checks parameters the driver itself does not (here: event
// pool flags out of range). Run with ZE_ENABLE_VALIDATION_LAYER=1 and
// ZE_ENABLE_PARAMETER_VALIDATION=1 this proves the layer sits between caller and driver, so
// a clean conformance run under it means something.
TEST_F(CpuDriver, ValidationLayerInterceptsWhenEnabled) {
  const char* layer = std::getenv("ZE_ENABLE_VALIDATION_LAYER");
  const char* params = std::getenv("ZE_ENABLE_PARAMETER_VALIDATION");
  const bool active = layer && std::string(layer) == "1" && params && std::string(params) == "1";
  auto pdesc = ze_struct<ze_event_pool_desc_t>(ZE_STRUCTURE_TYPE_EVENT_POOL_DESC);
  pdesc.flags = 0x80;  // no such flag
  pdesc.count = 1;
  ze_event_pool_handle_t pool = nullptr;
  const ze_result_t r = zeEventPoolCreate(context_, &pdesc, 1, &device_, &pool);
  if (active) {
    EXPECT_EQ(r, ZE_RESULT_ERROR_INVALID_ENUMERATION) << "the validation layer is not loaded";
  } else {
    EXPECT_EQ(r, ZE_RESULT_SUCCESS);
  }
  if (pool != nullptr) zeEventPoolDestroy(pool);
}

}  // namespace
