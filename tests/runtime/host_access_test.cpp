// Host access (xinhe_buffer_host_pointer, xinhe_buffer_wrap_host): on cpu:0 the pointer is the
// buffer's memory in both directions and a GEMM runs on wrapped host memory in place; on a
// backend without host-addressable buffers (the test plugin's fake:0) both calls report
// UNIMPLEMENTED; every bad argument is INVALID_ARGUMENT and changes nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "test_util.h"

namespace {

using xinhe_test::Buffer;
using xinhe_test::Stream;

TEST(HostAccess, PointerSeesCopiesAndCopiesSeeWrites) {
  xinhe_device_t device = xinhe_test::device_named("cpu:0");
  ASSERT_NE(device, nullptr);
  Stream stream(device);
  Buffer buffer(device, 1024);
  const std::vector<float> src = xinhe_test::random_floats(256, 3);
  xinhe_test::upload(stream.handle, buffer.handle, src.data(), 1024);
  void* pointer = nullptr;
  XH_ASSERT_OK(xinhe_buffer_host_pointer(buffer.handle, &pointer));
  ASSERT_NE(pointer, nullptr);
  EXPECT_EQ(std::memcmp(pointer, src.data(), 1024), 0);
  static_cast<float*>(pointer)[17] = 42.5f;
  const std::vector<uint8_t> back = xinhe_test::download(stream.handle, buffer.handle);
  float value = 0;
  std::memcpy(&value, back.data() + 17 * sizeof(float), sizeof(float));
  EXPECT_EQ(value, 42.5f);

  Buffer empty(device, 0);
  void* empty_pointer = &value;
  XH_ASSERT_OK(xinhe_buffer_host_pointer(empty.handle, &empty_pointer));
  EXPECT_EQ(empty_pointer, nullptr);
}

TEST(HostAccess, GemmRunsOnWrappedHostMemory) {
  xinhe_device_t device = xinhe_test::device_named("cpu:0");
  ASSERT_NE(device, nullptr);
  const int64_t m = 7, n = 9, k = 5;
  // One aligned host block holds A, B and C at 64-byte-aligned offsets.
  const size_t a_bytes = 256, b_bytes = 256, c_bytes = 320;
  void* block = nullptr;
  ASSERT_EQ(posix_memalign(&block, 64, a_bytes + b_bytes + c_bytes), 0);
  auto* a = static_cast<float*>(block);
  auto* b = reinterpret_cast<float*>(static_cast<char*>(block) + a_bytes);
  auto* c = reinterpret_cast<float*>(static_cast<char*>(block) + a_bytes + b_bytes);
  const std::vector<float> a_values = xinhe_test::random_floats(m * k, 5);
  const std::vector<float> b_values = xinhe_test::random_floats(k * n, 6);
  std::memcpy(a, a_values.data(), a_values.size() * 4);
  std::memcpy(b, b_values.data(), b_values.size() * 4);
  std::memset(c, xinhe_test::kPoisonByte, c_bytes);

  xinhe_buffer_t wrapped = nullptr;
  XH_ASSERT_OK(xinhe_buffer_wrap_host(device, block, a_bytes + b_bytes + c_bytes, &wrapped));
  EXPECT_EQ(xinhe_buffer_size(wrapped), a_bytes + b_bytes + c_bytes);
  void* pointer = nullptr;
  XH_ASSERT_OK(xinhe_buffer_host_pointer(wrapped, &pointer));
  EXPECT_EQ(pointer, block);

  xinhe_gemm_t gemm = nullptr;
  const xinhe_gemm_desc_t desc = xinhe_test::gemm_desc_f32(m, n, k);
  XH_ASSERT_OK(xinhe_gemm_create(device, &desc, &gemm));
  xinhe_gemm_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.a = wrapped;
  args.b = wrapped;
  args.b_offset = a_bytes;
  args.c = wrapped;
  args.c_offset = a_bytes + b_bytes;
  args.alpha = 1.0f;
  Stream stream(device);
  XH_ASSERT_OK(xinhe_gemm_run(gemm, stream.handle, &args));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
  xinhe_gemm_destroy(gemm);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double expected = 0;
      for (int64_t p = 0; p < k; ++p) expected += double(a_values[i * k + p]) * b_values[p * n + j];
      EXPECT_NEAR(c[i * n + j], expected, 1e-5 * (1.0 + std::fabs(expected))) << i << "," << j;
    }
  }
  // Bytes of the block past C (the padding up to c_bytes) are untouched.
  const auto* tail = reinterpret_cast<const uint8_t*>(c + m * n);
  for (size_t i = 0; i < c_bytes - m * n * 4; ++i) EXPECT_EQ(tail[i], xinhe_test::kPoisonByte);

  xinhe_buffer_free(wrapped);  // releases the handle only: the block is still ours
  a[0] = 1.0f;
  std::free(block);
}

TEST(HostAccess, BadArgumentsAreRejected) {
  xinhe_device_t device = xinhe_test::device_named("cpu:0");
  ASSERT_NE(device, nullptr);
  void* pointer = nullptr;
  XH_EXPECT_INVALID(xinhe_buffer_host_pointer(nullptr, &pointer));
  Buffer buffer(device, 64);
  XH_EXPECT_INVALID(xinhe_buffer_host_pointer(buffer.handle, nullptr));

  alignas(64) static float storage[32];
  xinhe_buffer_t out = nullptr;
  XH_EXPECT_INVALID(xinhe_buffer_wrap_host(nullptr, storage, sizeof(storage), &out));
  XH_EXPECT_INVALID(xinhe_buffer_wrap_host(device, storage, sizeof(storage), nullptr));
  XH_EXPECT_INVALID(xinhe_buffer_wrap_host(device, nullptr, 16, &out));
  XH_EXPECT_INVALID(xinhe_buffer_wrap_host(device, storage + 1, 16, &out));  // 4-byte aligned
  // A range that wraps past the top of the address space: every offset into it would too.
  XH_EXPECT_INVALID(xinhe_buffer_wrap_host(device, storage, UINT64_MAX - 100, &out));
  const uint64_t to_top = UINTPTR_MAX - reinterpret_cast<uintptr_t>(storage);
  XH_EXPECT_INVALID(xinhe_buffer_wrap_host(device, storage, to_top + 1, &out));
  EXPECT_EQ(out, nullptr);

  XH_ASSERT_OK(xinhe_buffer_wrap_host(device, nullptr, 0, &out));
  EXPECT_EQ(xinhe_buffer_size(out), 0u);
  xinhe_buffer_free(out);
}

TEST(HostAccess, BackendWithoutHostMemoryReportsUnimplemented) {
  xinhe_device_t device = xinhe_test::device_named("fake:0");
  ASSERT_NE(device, nullptr);
  Buffer buffer(device, 64);
  void* pointer = nullptr;
  XH_EXPECT_CODE(xinhe_buffer_host_pointer(buffer.handle, &pointer), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(pointer, nullptr);
  alignas(64) static float storage[16];
  xinhe_buffer_t out = nullptr;
  XH_EXPECT_CODE(xinhe_buffer_wrap_host(device, storage, sizeof(storage), &out),
                 XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(out, nullptr);
}

}  // namespace
