// Tests of the Ascend plugin and of the host double it runs on in CI (acl_double.h).
//
// AclDouble.*: each documented rule the double enforces, called directly, so that a double
// that stopped enforcing one (and would then let a plugin bug through) fails here. The test
// links the double's three libraries, which are the very files the plugin loads through
// ASCEND_TOOLKIT_HOME, so both see one instance of the double.
// AscendPlugin.*: the plugin through xinhe's public API on ascend:0: copies and fills at every
// offset around the 64-byte copy alignment, alignments above what aclrtMalloc gives, what the
// plugin declines and why, the names of its implementation lists and the filter, and work on
// threads without a current context.
#include <gtest/gtest.h>

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
  aclrtContext context_ = nullptr;
  aclrtStream stream_ = nullptr;
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
  std::vector<uint8_t> host(65, 7);
  EXPECT_EQ(aclrtMemcpyAsync(p, 64, host.data(), 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(p, 65, host.data(), 65, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, CopiesNeed64ByteAlignedDeviceAddresses) {
  uint8_t* p = static_cast<uint8_t*>(malloc_device(4096));
  std::vector<uint8_t> host(128);
  EXPECT_EQ(aclrtMemcpyAsync(p + 32, 64, host.data(), 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemcpyAsync(host.data(), 64, p + 1, 64, ACL_MEMCPY_DEVICE_TO_HOST, stream_),
            ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemsetAsync(p + 8, 64, 0, 64, stream_), ACL_ERROR_MEMORY_ADDRESS_UNALIGNED);
  EXPECT_EQ(aclrtMemcpyAsync(p + 64, 64, host.data(), 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(AclDouble, CopyKindMustMatchThePointers) {
  void* p = malloc_device(128);
  std::vector<uint8_t> host(128);
  EXPECT_NE(aclrtMemcpyAsync(p, 64, host.data(), 64, ACL_MEMCPY_DEVICE_TO_HOST, stream_),
            ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(host.data(), 64, p, 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(p, 64, host.data(), 64, ACL_MEMCPY_DEVICE_TO_DEVICE, stream_),
            ACL_SUCCESS);
  EXPECT_NE(aclrtMemcpyAsync(p, 32, host.data(), 64, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS)
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
  std::vector<uint8_t> zeros(ws, 0), back(ws, 0);
  ASSERT_EQ(aclrtMemcpyAsync(w, ws, zeros.data(), ws, ACL_MEMCPY_HOST_TO_DEVICE, stream_),
            ACL_SUCCESS);
  ASSERT_EQ(aclnnMatmul(w, ws, e, stream_), ACLNN_SUCCESS);
  ASSERT_EQ(aclrtMemcpyAsync(back.data(), ws, w, ws, ACL_MEMCPY_DEVICE_TO_HOST, stream_),
            ACL_SUCCESS);
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

}  // namespace
