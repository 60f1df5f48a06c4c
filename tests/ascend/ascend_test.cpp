// Tests of the Ascend plugin and of the host double it runs on in CI (acl_double.h).
//
// AclDouble.*: each documented rule the double enforces, called directly, so that a double
// that stopped enforcing one (and would then let a plugin bug through) fails here. The test
// links the double's three libraries, which are the very files the plugin loads through
// ASCEND_TOOLKIT_HOME, so both see one instance of the double.
// AscendPlugin.*: the plugin through xinhe's public API on ascend:0: copies and fills at every
// offset around the 64-byte copy alignment, alignments above what aclrtMalloc gives, what the
// plugin declines and why, the names of its implementation lists and the filter, and work on
// threads without a current context; host copies from pageable memory in stream order, and
// executors released only as aclnn documents.
// AscendSoc.*: claims, declines and f16 GEMM numerics for the SoC the double plays (ctest runs
// it with XINHE_ACL_DOUBLE_SOC set to training, inference and unknown SoCs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "acl_double.h"
#include "xinhe/xinhe.hpp"

namespace {

// ---- The double ----

class AclDouble : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const aclError r = aclInit(nullptr);
    ASSERT_TRUE(r == ACL_SUCCESS || r == ACL_ERROR_REPEAT_INITIALIZE);
  }
  void SetUp() override {
    ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS);
    ASSERT_EQ(aclrtCreateContext(&context_, 0), ACL_SUCCESS);
    ASSERT_EQ(aclrtCreateStream(&stream_), ACL_SUCCESS);
  }
  void TearDown() override {
    EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
    TearDownHosts();
    EXPECT_EQ(aclrtDestroyStream(stream_), ACL_SUCCESS);
    EXPECT_EQ(aclrtDestroyContext(context_), ACL_SUCCESS);
  }
  void* malloc_device(size_t size) {
    void* p = nullptr;
    EXPECT_EQ(aclrtMalloc(&p, size, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
    return p;
  }
  aclTensor* tensor(aclDataType dtype, std::vector<int64_t> dims, void* data) {
    std::vector<int64_t> strides(dims.size(), 1);
    for (size_t i = dims.size() - 1; i-- > 0;) strides[i] = strides[i + 1] * dims[i + 1];
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return aclCreateTensor(dims.data(), dims.size(), dtype, strides.data(), 0, ACL_FORMAT_ND, &n, 1,
                           data);
  }
  // Page-locked host memory: what aclrtMemcpyAsync takes for host<->device copies on CANN 8.0.
  uint8_t* malloc_host(size_t size, uint8_t value = 0) {
    void* p = nullptr;
    EXPECT_EQ(aclrtMallocHost(&p, size), ACL_SUCCESS);
    if (p) std::memset(p, value, size);
    hosts_.push_back(p);
    return static_cast<uint8_t*>(p);
  }
  void TearDownHosts() {
    for (void* p : hosts_) EXPECT_EQ(aclrtFreeHost(p), ACL_SUCCESS);
    hosts_.clear();
  }
  aclrtContext context_ = nullptr;
  aclrtStream stream_ = nullptr;
  std::vector<void*> hosts_;
};

TEST_F(AclDouble, RepeatInitIsReported) {
  EXPECT_EQ(aclInit(nullptr), ACL_ERROR_REPEAT_INITIALIZE);
}

TEST_F(AclDouble, DeviceMemoryIsNotHostAddressable) {
  void* p = malloc_device(256);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_NE(reinterpret_cast<uintptr_t>(p) % 128, 0u) << "the double promises 64 bytes, no more";
  EXPECT_DEATH({ std::printf("%d\n", *static_cast<volatile uint8_t*>(p)); }, "");
  EXPECT_DEATH({ *static_cast<volatile uint8_t*>(p) = 1; }, "");
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, SizesRoundUpTo32PlusAGuard) {
  void* p = malloc_device(1);  // 32 + 32 bytes usable
  uint8_t* host = malloc_host(65, 7);
  EXPECT_EQ(aclrtMemcpyAsync(p, 64, host, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(p, 65, host, 65, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);  // the copy reads p when it runs
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, CopiesNeed64ByteAlignedDeviceAddresses) {
  uint8_t* p = static_cast<uint8_t*>(malloc_device(4096));
  uint8_t* host = malloc_host(256);
  EXPECT_EQ(aclrtMemcpyAsync(p + 32, 64, host, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemcpyAsync(host, 64, p + 1, 64, ACL_MEMCPY_DEVICE_TO_HOST, stream_),
            ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemsetAsync(p + 8, 64, 0, 64, stream_), ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  // The host side too: the rule names source and destination, not device addresses only.
  EXPECT_EQ(aclrtMemcpyAsync(p, 64, host + 8, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemcpyAsync(host + 1, 64, p, 64, ACL_MEMCPY_DEVICE_TO_HOST, stream_),
            ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemcpyAsync(p + 64, 64, host, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, CopyKindMustMatchThePointers) {
  void* p = malloc_device(128);
  uint8_t* host = malloc_host(128);
  EXPECT_NE(aclrtMemcpyAsync(p, 64, host, 64, ACL_MEMCPY_DEVICE_TO_HOST, stream_), ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(host, 64, p, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(p, 64, host, 64, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_), ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(p, 32, host, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS)
      << "count above destMax";
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, CallsNeedACurrentContextOnTheThread) {
  aclError r = ACL_SUCCESS;
  std::thread([&] {
    void* p = nullptr;
    r = aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST);
  }).join();
  EXPECT_EQ(r, ACL_ERROR_RT_CONTEXT_NULL);
}

TEST_F(AclDouble, StreamDestroyWithQueuedWorkIsAnError) {
  aclrtStream s = nullptr;
  ASSERT_EQ(aclrtCreateStream(&s), ACL_SUCCESS);
  // Hold s with a queue of large memsets and destroy it at once.
  void* p = malloc_device(64 << 20);
  for (int i = 0; i < 16; ++i)
    ASSERT_EQ(aclrtMemsetAsync(p, 64 << 20, i, 64 << 20, s), ACL_SUCCESS);
  const aclError early = aclrtDestroyStream(s);
  if (early == ACL_SUCCESS) {
    EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
    GTEST_SKIP() << "1 GiB of memsets finished before the destroy: nothing to conclude";
  }
  EXPECT_EQ(aclrtSynchronizeStream(s), ACL_SUCCESS);
  EXPECT_EQ(aclrtDestroyStream(s), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, ExecutorsAreSingleUseUnlessRepeatable) {
  void* x = malloc_device(256);
  const float two = 2.0f;
  aclTensor* t = tensor(ACL_FLOAT, {8}, x);
  aclScalar* s = aclCreateScalar(const_cast<float*>(&two), ACL_FLOAT);
  uint64_t ws = 0;
  aclOpExecutor* e = nullptr;
  ASSERT_EQ(aclnnInplaceMulsGetWorkspaceSize(t, s, &ws, &e), ACLNN_SUCCESS);
  EXPECT_EQ(aclDestroyAclOpExecutor(e), ACLNN_ERR_PARAM_INVALID) << "not repeatable";
  EXPECT_EQ(aclnnInplaceMuls(nullptr, 0, e, stream_), ACLNN_SUCCESS);
  EXPECT_EQ(aclnnInplaceMuls(nullptr, 0, e, stream_), ACLNN_ERR_PARAM_INVALID) << "ran twice";
  ASSERT_EQ(aclnnInplaceMulsGetWorkspaceSize(t, s, &ws, &e), ACLNN_SUCCESS);
  ASSERT_EQ(aclSetAclOpExecutorRepeatable(e), ACLNN_SUCCESS);
  EXPECT_EQ(aclnnInplaceMuls(nullptr, 0, e, stream_), ACLNN_SUCCESS);
  EXPECT_EQ(aclnnInplaceMuls(nullptr, 0, e, stream_), ACLNN_SUCCESS);
  EXPECT_EQ(aclDestroyAclOpExecutor(e), ACLNN_SUCCESS);
  // Phase one on tensors without data sizes a workspace but cannot run.
  aclTensor* empty = tensor(ACL_FLOAT, {8}, nullptr);
  ASSERT_EQ(aclnnInplaceMulsGetWorkspaceSize(empty, s, &ws, &e), ACLNN_SUCCESS);
  EXPECT_EQ(aclnnInplaceMuls(nullptr, 0, e, stream_), ACLNN_ERR_PARAM_INVALID);
  EXPECT_EQ(aclSetAclOpExecutorRepeatable(e), ACLNN_SUCCESS);  // an unrun executor: release it
  EXPECT_EQ(aclDestroyAclOpExecutor(e), ACLNN_SUCCESS);
  aclDestroyTensor(empty);
  aclDestroyTensor(t);
  aclDestroyScalar(s);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(x), ACL_SUCCESS);
}

TEST_F(AclDouble, WorkspaceMustBeLargeEnoughAndArrivesPoisoned) {
  void* a = malloc_device(64 * 64 * 4);
  void* w = malloc_device(1 << 20);
  aclTensor* ta = tensor(ACL_FLOAT, {64, 64}, a);
  aclTensor* tb = tensor(ACL_FLOAT, {64, 64}, a);
  void* c = malloc_device(64 * 64 * 4);
  aclTensor* tc = tensor(ACL_FLOAT, {64, 64}, c);
  uint64_t ws = 0;
  aclOpExecutor* e = nullptr;
  ASSERT_EQ(aclnnMatmulGetWorkspaceSize(ta, tb, tc, KEEP_DTYPE, &ws, &e), ACLNN_SUCCESS);
  ASSERT_GT(ws, 0u);
  EXPECT_EQ(aclnnMatmul(w, ws - 1, e, stream_), ACLNN_ERR_PARAM_INVALID);
  EXPECT_EQ(aclnnMatmul(nullptr, ws, e, stream_), ACLNN_ERR_PARAM_INVALID);
  const std::vector<uint8_t> zeros(ws, 0);
  std::vector<uint8_t> back(ws, 0);
  ASSERT_EQ(aclrtMemcpy(w, ws, zeros.data(), ws, ACL_MEMCPY_HOST_TO_DEVICE), ACL_SUCCESS);
  ASSERT_EQ(aclnnMatmul(w, ws, e, stream_), ACLNN_SUCCESS);
  ASSERT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpy(back.data(), ws, w, ws, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
  EXPECT_EQ(back, std::vector<uint8_t>(ws, 0xFF));
  for (aclTensor* t : {ta, tb, tc}) aclDestroyTensor(t);
  for (void* p : {a, w, c}) EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, NoFp64) {
  aclTensor* t = tensor(ACL_DOUBLE, {4, 4}, nullptr);
  ASSERT_NE(t, nullptr);
  uint64_t ws = 0;
  aclOpExecutor* e = nullptr;
  EXPECT_EQ(aclnnMatmulGetWorkspaceSize(t, t, t, KEEP_DTYPE, &ws, &e), ACLNN_ERR_PARAM_INVALID);
  aclDestroyTensor(t);
}

TEST_F(AclDouble, FlashAttentionLimits) {
  struct Case {
    const char* layout;
    int64_t nq, nkv, s, d;
    int64_t sparse;
    bool ok;
  };
  void* mask_memory = malloc_device(2048 * 2048);
  aclTensor* mask = tensor(ACL_UINT8, {2048, 2048}, mask_memory);
  for (const Case& c : {Case{"BNSD", 4, 2, 16, 64, 0, true}, Case{"BNSD", 4, 2, 16, 64, 3, true},
                        Case{"TND", 4, 2, 16, 64, 0, false}, Case{"BNSD", 257, 1, 16, 64, 0, false},
                        Case{"BNSD", 4, 3, 16, 64, 0, false}, Case{"BNSD", 4, 2, 16, 769, 0, false},
                        Case{"BNSD", 4, 2, 16, 64, 2, false}}) {
    aclTensor* q = tensor(ACL_FLOAT16, {1, c.nq, c.s, c.d}, nullptr);
    aclTensor* k = tensor(ACL_FLOAT16, {1, c.nkv, c.s, c.d}, nullptr);
    aclTensor* o = tensor(ACL_FLOAT16, {1, c.nq, c.s, c.d}, nullptr);
    aclTensor* st = tensor(ACL_FLOAT, {1, c.nq, c.s, 8}, nullptr);
    uint64_t ws = 0;
    aclOpExecutor* e = nullptr;
    std::string layout = c.layout;
    const aclnnStatus r = aclnnFlashAttentionScoreGetWorkspaceSize(
        q, k, k, nullptr, nullptr, nullptr, c.sparse ? mask : nullptr, nullptr, 0.125, 1.0, 65536,
        65536, c.nq, layout.data(), 0, c.sparse, st, st, nullptr, o, &ws, &e);
    EXPECT_EQ(r == ACLNN_SUCCESS, c.ok)
        << c.layout << " N " << c.nq << "/" << c.nkv << " D " << c.d << " sparseMode " << c.sparse;
    if (r == ACLNN_SUCCESS) {
      aclSetAclOpExecutorRepeatable(e);
      aclDestroyAclOpExecutor(e);
    }
    for (aclTensor* t : {q, k, o, st}) aclDestroyTensor(t);
  }
  aclDestroyTensor(mask);
  EXPECT_EQ(aclrtFree(mask_memory), ACL_SUCCESS);
}

// CANN 8.0-8.2 (the double's default): aclrtMemcpyAsync between the host and the device takes
// page-locked memory from aclrtMallocHost only; aclrtMemcpy takes any host memory at once.
TEST_F(AclDouble, AsyncHostCopiesNeedPageLockedMemorySyncCopiesDoNot) {
  void* p = malloc_device(256);
  alignas(64) uint8_t pageable[128] = {};
  EXPECT_EQ(aclrtMemcpyAsync(p, 64, pageable, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_ERROR_INVALID_PARAM);
  EXPECT_EQ(aclrtMemcpyAsync(pageable, 64, p, 64, ACL_MEMCPY_DEVICE_TO_HOST, stream_),
            ACL_ERROR_INVALID_PARAM);
  uint8_t* pinned = malloc_host(64, 3);
  EXPECT_EQ(aclrtMemcpyAsync(p, 64, pinned, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtSynchronizeStream(stream_), ACL_SUCCESS);
  EXPECT_EQ(aclrtMemcpy(pageable + 1, 64, p, 64, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
  EXPECT_EQ(pageable[1], 3);
  EXPECT_EQ(pageable[64], 3);
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, RepeatableCanBeRefusedAndDestroyingAnUnmarkedExecutorIsRecorded) {
  void* x = malloc_device(256);
  const float two = 2.0f;
  aclTensor* t = tensor(ACL_FLOAT, {8}, nullptr);
  aclScalar* s = aclCreateScalar(const_cast<float*>(&two), ACL_FLOAT);
  uint64_t ws = 0;
  aclOpExecutor* e = nullptr;
  xinhe_acl_double::take_violations();
  xinhe_acl_double::refuse_repeatable("aclnnInplaceMuls");
  ASSERT_EQ(aclnnInplaceMulsGetWorkspaceSize(t, s, &ws, &e), ACLNN_SUCCESS);
  EXPECT_NE(aclSetAclOpExecutorRepeatable(e), ACLNN_SUCCESS);
  xinhe_acl_double::refuse_repeatable("");
  EXPECT_EQ(xinhe_acl_double::take_violations().size(), 0u);
  EXPECT_NE(aclDestroyAclOpExecutor(e), ACLNN_SUCCESS);
  EXPECT_EQ(xinhe_acl_double::take_violations().size(), 1u);
  aclDestroyTensor(t);
  aclDestroyScalar(s);
  EXPECT_EQ(aclrtFree(x), ACL_SUCCESS);
}

// The per-SoC operator rules, for the SoC the double plays (ctest runs this under several).
TEST_F(AclDouble, OperatorsFollowTheSocRules) {
  const std::string soc = aclrtGetSocName();
  const bool a2 = soc.rfind("Ascend910B", 0) == 0 || soc.rfind("Ascend910_93", 0) == 0;
  auto matmul = [&](aclDataType in, aclDataType out, int8_t cube) {
    aclTensor* a = tensor(in, {4, 4}, nullptr);
    aclTensor* c = tensor(out, {4, 4}, nullptr);
    uint64_t ws = 0;
    aclOpExecutor* e = nullptr;
    const aclnnStatus r = aclnnMatmulGetWorkspaceSize(a, a, c, cube, &ws, &e);
    if (r == ACLNN_SUCCESS && aclSetAclOpExecutorRepeatable(e) == ACLNN_SUCCESS)
      aclDestroyAclOpExecutor(e);
    aclDestroyTensor(a);
    aclDestroyTensor(c);
    return r == ACLNN_SUCCESS;
  };
  EXPECT_EQ(matmul(ACL_FLOAT, ACL_FLOAT, KEEP_DTYPE), a2) << soc;
  EXPECT_EQ(matmul(ACL_BF16, ACL_BF16, KEEP_DTYPE), a2) << soc;
  EXPECT_TRUE(matmul(ACL_FLOAT16, ACL_FLOAT16, KEEP_DTYPE)) << soc;
  EXPECT_TRUE(matmul(ACL_FLOAT16, ACL_FLOAT, KEEP_DTYPE)) << soc << ": f16 in, f32 out";
  EXPECT_TRUE(matmul(ACL_FLOAT, ACL_FLOAT, ALLOW_FP32_DOWN_PRECISION)) << soc;
  {  // aclnnBatchMatMul has no f32 output for f16 inputs
    aclTensor* a = tensor(ACL_FLOAT16, {2, 4, 4}, nullptr);
    aclTensor* c = tensor(ACL_FLOAT, {2, 4, 4}, nullptr);
    uint64_t ws = 0;
    aclOpExecutor* e = nullptr;
    EXPECT_NE(aclnnBatchMatMulGetWorkspaceSize(a, a, c, KEEP_DTYPE, &ws, &e), ACLNN_SUCCESS);
    aclDestroyTensor(a);
    aclDestroyTensor(c);
  }
  aclTensor* q = tensor(ACL_FLOAT16, {1, 2, 16, 64}, nullptr);
  aclTensor* st = tensor(ACL_FLOAT, {1, 2, 16, 8}, nullptr);
  uint64_t ws = 0;
  aclOpExecutor* e = nullptr;
  char layout[] = "BNSD";
  const aclnnStatus r = aclnnFlashAttentionScoreGetWorkspaceSize(
      q, q, q, nullptr, nullptr, nullptr, nullptr, nullptr, 0.125, 1.0, 65536, 65536, 2, layout, 0,
      0, st, st, nullptr, q, &ws, &e);
  EXPECT_EQ(r == ACLNN_SUCCESS, a2) << soc;
  if (r == ACLNN_SUCCESS && aclSetAclOpExecutorRepeatable(e) == ACLNN_SUCCESS)
    aclDestroyAclOpExecutor(e);
  aclDestroyTensor(q);
  aclDestroyTensor(st);
}

// ---- The plugin, through xinhe ----

xinhe::Device ascend_device() {
  xinhe_device_t d = nullptr;
  xinhe_status_t s = xinhe_device_get_by_name("ascend:0", &d);
  if (s != nullptr) xinhe_status_free(s);
  return xinhe::Device(d);
}

#define REQUIRE_ASCEND(device) \
  if (!(device))               \
  GTEST_SKIP() << "ascend:0 not loaded (the double's folder not in ASCEND_TOOLKIT_HOME)"

TEST(AscendPlugin, CopiesAndFillsAtEveryOffsetAroundTheCopyAlignment) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  xinhe::Stream stream = device.create_stream();
  constexpr uint64_t kSize = 512;
  xinhe::Buffer a = device.alloc(kSize), b = device.alloc(kSize);
  std::vector<uint8_t> base(kSize), expect, got(kSize);
  for (uint64_t i = 0; i < kSize; ++i) base[i] = static_cast<uint8_t>(i * 7 + 3);
  for (uint64_t offset : {0, 1, 31, 63, 64, 65, 127, 200}) {
    for (uint64_t size : {1, 5, 64, 100, 250}) {
      stream.copy_from_host(a, base.data(), kSize);
      std::vector<uint8_t> src(size);
      for (uint64_t i = 0; i < size; ++i) src[i] = static_cast<uint8_t>(0xC0 ^ (i + offset));
      stream.copy_from_host(a, src.data(), size, offset);
      expect = base;
      std::memcpy(expect.data() + offset, src.data(), size);
      stream.copy_to_host(got.data(), a, kSize);
      stream.synchronize();
      ASSERT_EQ(got, expect) << "host to device at " << offset << " size " << size;
      std::vector<uint8_t> part(size);
      stream.copy_to_host(part.data(), a, size, offset);
      stream.synchronize();
      ASSERT_EQ(part, src) << "device to host at " << offset;
      stream.copy_from_host(b, base.data(), kSize);
      stream.copy(b, a, size, kSize - size - (offset % 3), offset);
      expect = base;
      std::memcpy(expect.data() + kSize - size - (offset % 3), src.data(), size);
      stream.copy_to_host(got.data(), b, kSize);
      stream.synchronize();
      ASSERT_EQ(got, expect) << "device to device from " << offset;
      stream.copy_from_host(b, base.data(), kSize);
      const uint64_t fill_at = offset / 4 * 4, fill_size = size / 4 * 4 + 4;  // whole patterns
      stream.fill(b, 0x01020304u, 4, fill_at, fill_size);
      expect = base;
      for (uint64_t i = 0; i < fill_size; ++i)
        expect[fill_at + i] = static_cast<uint8_t>(4 - i % 4);
      stream.copy_to_host(got.data(), b, kSize);
      stream.synchronize();
      ASSERT_EQ(got, expect) << "fill at " << offset;
    }
  }
}

// Two streams write neighbouring unaligned ranges of one 64-byte line at once: each write must
// touch its own bytes only (a read-modify-write of the line would lose the other's).
TEST(AscendPlugin, UnalignedWritesTouchOnlyTheirBytes) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  constexpr uint64_t kBytes = 1 << 15;  // 512 lines: a lost write shows in one of them
  xinhe::Buffer buffer = device.alloc(kBytes);
  xinhe::Stream zero = device.create_stream();
  zero.fill(buffer, 0u, 1, 0, kBytes);
  zero.synchronize();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      try {
        xinhe::Stream stream = device.create_stream();
        const std::vector<uint8_t> data(13, static_cast<uint8_t>(0x10 + t));
        for (uint64_t line = 0; line < kBytes; line += 64)
          for (uint64_t at = line + 3 + 13 * t; at + 13 <= line + 64; at += 26)
            stream.copy_from_host(buffer, data.data(), 13, at);
        stream.synchronize();
      } catch (const xinhe::Error& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  for (std::thread& th : threads) th.join();
  std::vector<uint8_t> back(kBytes);
  zero.copy_to_host(back.data(), buffer, kBytes);
  zero.synchronize();
  for (uint64_t i = 0; i < kBytes; ++i) {
    const uint64_t in_line = i % 64;
    uint8_t want = 0;
    if (in_line >= 3) {
      const uint64_t slot = (in_line - 3) / 13;
      if ((in_line - 3) / 26 * 26 + 3 + 13 * (slot % 2) + 13 <= 64) want = 0x10 + slot % 2;
    }
    ASSERT_EQ(back[i], want) << "byte " << i;
  }
}

TEST(AscendPlugin, HonoursAlignmentsAboveAclrtMalloc) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  EXPECT_EQ(device.properties().min_alignment, 64u);
  for (uint64_t alignment : {64, 128, 4096, 1 << 16}) {
    xinhe::Buffer buffer = device.alloc(1000, alignment);
    EXPECT_EQ(buffer.address() % alignment, 0u) << alignment;
    xinhe::Stream stream = device.create_stream();
    std::vector<uint8_t> data(1000, 9), back(1000);
    stream.copy_from_host(buffer, data.data(), 1000);
    stream.copy_to_host(back.data(), buffer, 1000);
    stream.synchronize();
    EXPECT_EQ(back, data);
  }
}

TEST(AscendPlugin, DeclinesWhatFlashAttentionScoreCannotTakeWithTheReason) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof d;
  d.dtype = XINHE_DTYPE_F16;
  d.batch = 1;
  d.heads_q = 512;
  d.heads_kv = 1;
  d.seq_q = 4;
  d.seq_kv = 4;
  d.head_dim = 64;
  xinhe_attention_strides_bhsd(d.heads_q, d.seq_q, d.head_dim, d.q_strides);
  xinhe_attention_strides_bhsd(d.heads_kv, d.seq_kv, d.head_dim, d.k_strides);
  xinhe_attention_strides_bhsd(d.heads_kv, d.seq_kv, d.head_dim, d.v_strides);
  xinhe_attention_strides_bhsd(d.heads_q, d.seq_q, d.head_dim, d.o_strides);
  d.scale = 0.125f;
  xinhe_attention_t op = nullptr;
  xinhe::check(xinhe_attention_create(device.get(), &d, &op));
  xinhe_status_t s = xinhe_attention_check(op);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(xinhe_status_code(s), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_NE(std::string(xinhe_status_message(s)).find("256 query heads"), std::string::npos)
      << xinhe_status_message(s);
  xinhe_status_free(s);
  xinhe_attention_destroy(op);
}

// The names of the walked lists (ascend.<op>.<method>_<dtypes>), the filter the core serves from
// XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL, and the device type.
TEST(AscendPlugin, ImplementationsAreNamedWalkedAndFiltered) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  EXPECT_EQ(device.properties().device_type, XINHE_DEVICE_TYPE_NPU);
  auto gemm_desc = [](int64_t batch) {
    xinhe_gemm_desc_t g{};
    g.struct_size = sizeof g;
    g.ab_dtype = XINHE_DTYPE_F16;
    g.c_dtype = XINHE_DTYPE_F32;
    g.m = g.n = g.k = 8;
    g.lda = g.ldb = g.ldc = 8;
    g.batch = batch;
    g.stride_a = g.stride_b = g.stride_c = batch > 1 ? 64 : 0;
    return g;
  };
  auto create = [&](int64_t batch, std::string* impl) {
    const xinhe_gemm_desc_t g = gemm_desc(batch);
    xinhe_gemm_t op = nullptr;
    xinhe::check(xinhe_gemm_create(device.get(), &g, &op));
    *impl = xinhe_gemm_impl_name(op);
    xinhe_status_t s = xinhe_gemm_check(op);
    std::string reason = s != nullptr ? xinhe_status_message(s) : "";
    xinhe_status_free(s);
    xinhe_gemm_destroy(op);
    return reason;
  };
  std::string impl;
  EXPECT_EQ(create(1, &impl), "");
  EXPECT_EQ(impl, "ascend.gemm.aclnn_matmul_f16_f32");
  EXPECT_EQ(create(3, &impl), "");
  EXPECT_EQ(impl, "ascend.gemm.aclnn_batch_matmul_f16_f32");
  setenv("XINHE_GEMM_IMPL", "batch_matmul", 1);
  const std::string reason = create(1, &impl);
  unsetenv("XINHE_GEMM_IMPL");
  EXPECT_NE(reason.find("ascend.gemm.aclnn_matmul_f16_f32: not named like "
                        "XINHE_GEMM_IMPL='batch_matmul'"),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("ascend.gemm.aclnn_batch_matmul_f16_f32: batch 1 runs on aclnnMatmul"),
            std::string::npos)
      << reason;
}

TEST(AscendPlugin, WorksFromThreadsThatNeverSetAContext) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  xinhe::Buffer buffer = device.alloc(4096);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      try {
        xinhe::Stream stream = device.create_stream();
        std::vector<uint8_t> data(1024, static_cast<uint8_t>(t)), back(1024);
        stream.copy_from_host(buffer, data.data(), 1024, 1024 * t);
        stream.copy_to_host(back.data(), buffer, 1024, 1024 * t);
        stream.synchronize();
        ok[t] = back == data;
      } catch (const xinhe::Error& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

// The caller's host memory is pageable and of any alignment: on CANN 8.0-8.2 it may not be
// given to aclrtMemcpyAsync (the double refuses it), yet every copy must work.
TEST(AscendPlugin, CopiesFromAndToPageableHostMemoryAtAnyHostAlignment) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  xinhe::Stream stream = device.create_stream();
  xinhe::Buffer buffer = device.alloc(4096);
  std::vector<uint8_t> host(4096 + 64), back(4096 + 64);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<uint8_t>(i * 13 + 1);
  for (uint64_t skew : {0, 1, 8, 63}) {
    for (uint64_t at : {0, 64, 3}) {
      stream.copy_from_host(buffer, host.data() + skew, 1000, at);
      stream.copy_to_host(back.data() + skew, buffer, 1000, at);
      stream.synchronize();
      ASSERT_EQ(0, std::memcmp(back.data() + skew, host.data() + skew, 1000))
          << "host skew " << skew << ", device offset " << at;
    }
  }
}

// Host copies return done, and after the work queued before them on the stream.
TEST(AscendPlugin, HostCopiesComeAfterTheStreamsEarlierWork) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  constexpr uint64_t kBytes = 64 << 20;
  xinhe::Buffer buffer = device.alloc(kBytes);
  xinhe::Stream stream = device.create_stream();
  for (uint32_t i = 1; i <= 8; ++i) stream.fill(buffer, i, 1, 0, kBytes);  // queued, not run
  std::vector<uint8_t> tail(64);
  stream.copy_to_host(tail.data(), buffer, 64, kBytes - 64);
  EXPECT_EQ(tail, std::vector<uint8_t>(64, 8)) << "the read ran before the fills";
  const std::vector<uint8_t> ones(64, 0xEE);
  stream.fill(buffer, 0u, 1, 0, kBytes);
  stream.copy_from_host(buffer, ones.data(), 64, kBytes - 64);
  stream.copy_to_host(tail.data(), buffer, 64, kBytes - 64);
  stream.synchronize();
  EXPECT_EQ(tail, ones) << "the write ran before the fill queued ahead of it";
}

// Sizing runs phase one only, so its executors are never run; aclnn documents their release
// only through aclSetAclOpExecutorRepeatable + aclDestroyAclOpExecutor. Where an operator
// refuses reuse, the plugin must not call aclDestroyAclOpExecutor, and the op still works.
TEST(AscendPlugin, UnrunExecutorsAreReleasedOnlyAsDocumented) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  xinhe_gemm_desc_t g{};
  g.struct_size = sizeof g;
  g.ab_dtype = XINHE_DTYPE_F16;
  g.c_dtype = XINHE_DTYPE_F32;
  g.m = g.n = g.k = 8;
  g.lda = g.ldb = g.ldc = 8;
  g.batch = 1;
  xinhe_acl_double::take_violations();
  for (const char* op : {"aclnnInplaceMuls", "aclnnMatmul", "aclnnInplaceCopy"}) {
    xinhe_acl_double::refuse_repeatable(op);
    xinhe_gemm_t gemm = nullptr;
    xinhe::check(xinhe_gemm_create(device.get(), &g, &gemm));
    xinhe_status_t s = xinhe_gemm_check(gemm);
    EXPECT_EQ(s, nullptr) << op << ": " << (s ? xinhe_status_message(s) : "");
    xinhe_status_free(s);
    xinhe_gemm_destroy(gemm);
    xinhe_acl_double::refuse_repeatable("");
    const std::vector<std::string> violations = xinhe_acl_double::take_violations();
    EXPECT_TRUE(violations.empty()) << op << ": " << (violations.empty() ? "" : violations[0]);
  }
}

// ---- Per-SoC rules (ctest runs this suite with XINHE_ACL_DOUBLE_SOC set to several SoCs) ----

uint16_t half_from(float f) {  // exact for the small values used here
  if (f == 0.0f) return 0;
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, mant = x & 0x7fffffu;
  return static_cast<uint16_t>(sign | ((exp - 112) << 10) | (mant >> 13));
}
float float_from_half(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0 && mant == 0) {
    float z = 0.0f;
    uint32_t b;
    std::memcpy(&b, &z, 4);
    b |= sign;
    std::memcpy(&z, &b, 4);
    return z;
  }
  const uint32_t bits = sign | ((exp + 112) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

xinhe_gemm_desc_t gemm_desc(xinhe_dtype_t ab, xinhe_dtype_t c, int64_t m, int64_t n, int64_t k,
                            int64_t batch) {
  xinhe_gemm_desc_t g{};
  g.struct_size = sizeof g;
  g.ab_dtype = ab;
  g.c_dtype = c;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = k;
  g.ldb = n;
  g.ldc = n;
  g.batch = batch;
  g.stride_a = m * k;
  g.stride_b = k * n;
  g.stride_c = m * n;
  return g;
}

// "" when the op runs, else why not.
std::string gemm_declined(const xinhe::Device& device, const xinhe_gemm_desc_t& g) {
  xinhe_gemm_t op = nullptr;
  xinhe::check(xinhe_gemm_create(device.get(), &g, &op));
  xinhe_status_t s = xinhe_gemm_check(op);
  const std::string why = s ? xinhe_status_message(s) : "";
  xinhe_status_free(s);
  xinhe_gemm_destroy(op);
  return why;
}

// C = alpha * A B + beta * C for f16 A, B against a float64 reference; returns the largest
// relative error.
double f16_gemm_error(const xinhe::Device& device, xinhe_dtype_t c_dtype, int64_t batch,
                      float alpha, float beta) {
  const int64_t m = 13, n = 17, k = 40;
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F16, c_dtype, m, n, k, batch);
  std::vector<float> a(batch * m * k), b(batch * k * n), c(batch * m * n);
  uint32_t seed = 12345;
  auto next = [&] {  // quarter steps in [-4, 4]: exact in f16
    seed = seed * 1664525u + 1013904223u;
    return static_cast<float>(static_cast<int>(seed >> 24) % 33 - 16) / 4.0f;
  };
  for (float& v : a) v = next();
  for (float& v : b) v = next();
  for (float& v : c) v = next();
  std::vector<uint16_t> a16(a.size()), b16(b.size()), c16(c.size());
  for (size_t i = 0; i < a.size(); ++i) a16[i] = half_from(a[i]);
  for (size_t i = 0; i < b.size(); ++i) b16[i] = half_from(b[i]);
  for (size_t i = 0; i < c.size(); ++i) c16[i] = half_from(c[i]);
  const bool c16_out = c_dtype == XINHE_DTYPE_F16;
  const uint64_t c_bytes = c.size() * (c16_out ? 2 : 4);
  xinhe::Stream stream = device.create_stream();
  xinhe::Buffer ba = device.alloc(a16.size() * 2), bb = device.alloc(b16.size() * 2),
                bc = device.alloc(c_bytes);
  stream.copy_from_host(ba, a16.data(), a16.size() * 2);
  stream.copy_from_host(bb, b16.data(), b16.size() * 2);
  if (c16_out) {
    stream.copy_from_host(bc, c16.data(), c_bytes);
  } else {
    stream.copy_from_host(bc, c.data(), c_bytes);
  }
  xinhe_gemm_t op = nullptr;
  xinhe::check(xinhe_gemm_create(device.get(), &g, &op));
  xinhe::check(xinhe_gemm_check(op));
  uint64_t ws_bytes = 0;
  xinhe::check(xinhe_gemm_workspace_size(op, &ws_bytes));
  xinhe::Buffer ws = device.alloc(ws_bytes ? ws_bytes : 1);
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof args;
  args.a = ba.get();
  args.b = bb.get();
  args.c = bc.get();
  args.workspace = ws_bytes ? ws.get() : nullptr;
  args.alpha = alpha;
  args.beta = beta;
  xinhe::check(xinhe_gemm_run(op, stream.get(), &args));
  std::vector<uint8_t> out(c_bytes);
  stream.copy_to_host(out.data(), bc, c_bytes);
  stream.synchronize();
  xinhe_gemm_destroy(op);
  double worst = 0.0;
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = 0.0;
        for (int64_t q = 0; q < k; ++q)
          ref += static_cast<double>(a[(p * m + i) * k + q]) * b[(p * k + q) * n + j];
        const size_t at = static_cast<size_t>((p * m + i) * n + j);
        ref = alpha * ref + static_cast<double>(beta) * c[at];
        float got;
        if (c16_out) {
          uint16_t h;
          std::memcpy(&h, out.data() + at * 2, 2);
          got = float_from_half(h);
        } else {
          std::memcpy(&got, out.data() + at * 4, 4);
        }
        worst = std::max(worst, std::fabs(got - ref) / std::max(1.0, std::fabs(ref)));
      }
  return worst;
}

// What the aclnn references say each SoC runs, written here independently of the plugin's
// table: claims, declines with their reasons, and f16 GEMM against float64 everywhere.
TEST(AscendSoc, ClaimsAndDeclinesFollowTheDocumentedRules) {
  const xinhe::Device device = ascend_device();
  REQUIRE_ASCEND(device);
  const std::string soc = device.properties().description;
  const bool a2 = soc.rfind("Ascend910B", 0) == 0 || soc.rfind("Ascend910_93", 0) == 0;
  const uint32_t caps = device.properties().dtype_caps;
  EXPECT_EQ((caps & XINHE_DTYPE_CAP(XINHE_DTYPE_F32)) != 0, a2) << soc;
  EXPECT_EQ((caps & XINHE_DTYPE_CAP(XINHE_DTYPE_BF16)) != 0, a2) << soc;
  EXPECT_NE(caps & XINHE_DTYPE_CAP(XINHE_DTYPE_F16), 0u) << soc;
  EXPECT_EQ(caps & XINHE_DTYPE_CAP(XINHE_DTYPE_F64), 0u) << soc;

  const std::string f32 =
      gemm_declined(device, gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 8, 8, 8, 1));
  const std::string bf16 =
      gemm_declined(device, gemm_desc(XINHE_DTYPE_BF16, XINHE_DTYPE_F32, 8, 8, 8, 1));
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof d;
  d.dtype = XINHE_DTYPE_F16;
  d.batch = 1;
  d.heads_q = d.heads_kv = 2;
  d.seq_q = d.seq_kv = 16;
  d.head_dim = 64;
  xinhe_attention_strides_bhsd(d.heads_q, d.seq_q, d.head_dim, d.q_strides);
  xinhe_attention_strides_bhsd(d.heads_kv, d.seq_kv, d.head_dim, d.k_strides);
  xinhe_attention_strides_bhsd(d.heads_kv, d.seq_kv, d.head_dim, d.v_strides);
  xinhe_attention_strides_bhsd(d.heads_q, d.seq_q, d.head_dim, d.o_strides);
  d.scale = 0.125f;
  xinhe_attention_t att = nullptr;
  xinhe::check(xinhe_attention_create(device.get(), &d, &att));
  xinhe_status_t s = xinhe_attention_check(att);
  const std::string attention = s ? xinhe_status_message(s) : "";
  xinhe_status_free(s);
  xinhe_attention_destroy(att);
  if (a2) {
    EXPECT_EQ(f32, "");
    EXPECT_EQ(bf16, "");
    EXPECT_EQ(attention, "");
  } else {
    EXPECT_NE(f32.find("f32 GEMM on " + soc), std::string::npos) << f32;
    EXPECT_NE(f32.find("KEEP_DTYPE"), std::string::npos) << f32;
    EXPECT_NE(bf16.find("BFLOAT16"), std::string::npos) << bf16;
    EXPECT_NE(attention.find("aclnnFlashAttentionScore is documented for Atlas A2/A3"),
              std::string::npos)
        << attention;
  }
  for (xinhe_dtype_t c : {XINHE_DTYPE_F32, XINHE_DTYPE_F16})
    for (int64_t batch : {1, 3})
      for (const auto& [alpha, beta] : {std::pair{1.0f, 0.0f}, {0.5f, 0.25f}, {-2.0f, 1.0f}}) {
        const double error = f16_gemm_error(device, c, batch, alpha, beta);
        EXPECT_LE(error, c == XINHE_DTYPE_F16 ? 1e-3 : 1e-6)
            << soc << " f16 GEMM into " << (c == XINHE_DTYPE_F16 ? "f16" : "f32") << ", batch "
            << batch << ", alpha " << alpha << ", beta " << beta;
      }
}

}  // namespace
