// The C++ layer (include/xinhe/xinhe.hpp) beyond plain wrapping: the public status check, the
// descriptor helpers' overflow checks, byte offsets on Gemm::run and Attention::run, and the
// one-line helpers' sync rule (they return with the result written).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "xinhe/xinhe.hpp"

namespace {

TEST(CppApi, CheckIsPublicAndThrowsTheStatus) {
  EXPECT_NO_THROW(xinhe::check(nullptr));
  xinhe_buffer_t buffer = nullptr;
  try {
    xinhe::check(xinhe_buffer_alloc(nullptr, 16, 0, &buffer));
    FAIL() << "no exception";
  } catch (const xinhe::Error& e) {
    EXPECT_EQ(e.code(), XINHE_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(e.call(), "xinhe_buffer_alloc");
    EXPECT_NE(e.message().find("device is NULL"), std::string::npos) << e.message();
  }
}

TEST(CppApi, GemmDescOverflowThrowsInsteadOfWrapping) {
  const int64_t huge = int64_t{1} << 40;
  try {
    (void)xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, huge, huge, huge);
    FAIL() << "no exception for m = n = k = 2^40";
  } catch (const xinhe::Error& e) {
    EXPECT_EQ(e.code(), XINHE_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(e.call(), "xinhe::gemm_desc");
    EXPECT_NE(e.message().find("overflows"), std::string::npos) << e.message();
  }
  // Large but representable sizes are left to xinhe_gemm_create, which knows the byte limits.
  const xinhe_gemm_desc_t d = xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, huge, 2, 3);
  EXPECT_EQ(d.stride_a, huge * 3);
}

TEST(CppApi, AttentionDescOverflowThrowsInsteadOfWrapping) {
  const int64_t huge = int64_t{1} << 31;
  EXPECT_THROW((void)xinhe::attention_desc(XINHE_DTYPE_F16, 1, huge, huge, huge, 1, 128),
               xinhe::Error);
  EXPECT_THROW((void)xinhe::attention_desc(XINHE_DTYPE_F16, huge, huge, 1, 4, 4, 64), xinhe::Error);
  int64_t strides[4];
  xinhe_attention_strides_bhsd(huge, huge, 256, strides);
  // ops.h: a stride that would overflow int64 is INT64_MAX; the others are exact.
  EXPECT_EQ(strides[0], INT64_MAX);
  EXPECT_EQ(strides[1], int64_t{1} << 39);
  EXPECT_EQ(strides[2], 256);
  EXPECT_EQ(strides[3], 1);
}

float dot(const std::vector<float>& a, const std::vector<float>& b, int64_t i, int64_t j, int64_t n,
          int64_t k) {
  double acc = 0.0;
  for (int64_t p = 0; p < k; ++p) acc += double(a[i * k + p]) * b[p * n + j];
  return static_cast<float>(acc);
}

// Operands at byte offsets inside shared buffers, the workspace at an odd offset after them.
TEST(CppApi, GemmRunTakesByteOffsets) {
  const xinhe::Device device = xinhe::Device::get("cpu:0");
  const int64_t m = 37, n = 29, k = 45;
  std::vector<float> a(m * k), b(k * n), c(m * n, -1.0f);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(float(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(float(i));
  const xinhe::Gemm op(device, xinhe::gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k));
  const uint64_t a_at = 256, b_at = a_at + a.size() * 4 + 8, ws_at = b_at + b.size() * 4 + 3;
  xinhe::Buffer inputs = device.alloc(ws_at + op.workspace_size());
  xinhe::Buffer out = device.alloc(1028 + c.size() * 4);
  const xinhe::Stream stream = device.create_stream();
  stream.copy_from_host(inputs, a.data(), a.size() * 4, a_at);
  stream.copy_from_host(inputs, b.data(), b.size() * 4, b_at);
  op.run(stream, inputs.at(a_at), inputs.at(b_at), out.at(1028), 1.0f, 0.0f,
         op.workspace_size() ? inputs.at(ws_at) : xinhe::BufferRef());
  stream.copy_to_host(c.data(), out, c.size() * 4, 1028);
  stream.synchronize();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      ASSERT_NEAR(c[i * n + j], dot(a, b, i, j, n, k), 1e-4f) << i << "," << j;
}

TEST(CppApi, AttentionRunTakesByteOffsets) {
  const xinhe::Device device = xinhe::Device::get("cpu:0");
  const int64_t s = 9, d = 16;
  std::vector<float> q(s * d), o(s * d), lse(s);
  for (size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.3f * float(i));
  const xinhe::Attention op(device, xinhe::attention_desc(XINHE_DTYPE_F32, 1, 1, 1, s, s, d,
                                                          /*causal=*/true, /*with_lse=*/true));
  const uint64_t bytes = q.size() * 4;
  xinhe::Buffer qkv = device.alloc(64 + 3 * bytes);
  xinhe::Buffer out = device.alloc(8 + bytes + 4 * s + 4);
  xinhe::Buffer ws;
  if (op.workspace_size()) ws = device.alloc(op.workspace_size() + 5);
  const xinhe::Stream stream = device.create_stream();
  for (int t = 0; t < 3; ++t) stream.copy_from_host(qkv, q.data(), bytes, 64 + t * bytes);
  op.run(stream, qkv.at(64), qkv.at(64 + bytes), qkv.at(64 + 2 * bytes), out.at(8),
         out.at(8 + bytes + 4), ws ? ws.at(5) : xinhe::BufferRef());
  stream.copy_to_host(o.data(), out, bytes, 8);
  stream.copy_to_host(lse.data(), out, 4 * s, 8 + bytes + 4);
  stream.synchronize();
  // Query 0 sees key 0 only (causal, Sq == Skv): O is V's first row, LSE its scaled score.
  for (int64_t x = 0; x < d; ++x) EXPECT_NEAR(o[x], q[x], 1e-6f);
  double self = 0.0;
  for (int64_t x = 0; x < d; ++x) self += double(q[x]) * q[x];
  EXPECT_NEAR(lse[0], self / std::sqrt(double(d)), 1e-5);
}

// The one-liners return with the result written, whatever else is queued on the stream.
TEST(CppApi, OneLineHelpersAreSynchronous) {
  const xinhe::Device device = xinhe::Device::get("cpu:0");
  const xinhe::Stream stream = device.create_stream();
  xinhe::Buffer x = device.alloc(32 << 20), y = device.alloc(32 << 20);
  const int64_t m = 8, n = 8, k = 8;
  std::vector<float> ones(m * k, 1.0f), c(m * n, 0.0f);
  xinhe::Buffer a = device.alloc(ones.size() * 4), b = device.alloc(ones.size() * 4),
                cbuf = device.alloc(c.size() * 4);
  stream.copy_from_host(a, ones.data(), ones.size() * 4);
  stream.copy_from_host(b, ones.data(), ones.size() * 4);
  for (int i = 0; i < 8; ++i) stream.copy(y, x, x.size()), stream.copy(x, y, x.size());
  // The reference implementation needs no workspace: the case where xinhe::gemm used to
  // return before the work was done.
  ::setenv("XINHE_GEMM_IMPL", "cpu.gemm.reference", 1);
  xinhe::gemm(stream, XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k, a, b, cbuf);
  ::unsetenv("XINHE_GEMM_IMPL");
  EXPECT_TRUE(stream.query()) << "xinhe::gemm returned with work still queued";
  stream.copy_to_host(c.data(), cbuf, c.size() * 4);
  stream.synchronize();
  for (float v : c) EXPECT_FLOAT_EQ(v, float(k));

  const int64_t s = 4, d = 8;
  xinhe::Buffer qkv = device.alloc(s * d * 4), o = device.alloc(s * d * 4),
                lse = device.alloc(s * 4);
  std::vector<float> data(s * d, 0.5f);
  stream.copy_from_host(qkv, data.data(), data.size() * 4);
  for (int i = 0; i < 8; ++i) stream.copy(y, x, x.size()), stream.copy(x, y, x.size());
  xinhe::attention(stream, XINHE_DTYPE_F32, 1, 1, 1, s, s, d, qkv, qkv, qkv, o, true, lse);
  EXPECT_TRUE(stream.query()) << "xinhe::attention returned with work still queued";
  std::vector<float> out(s * d);
  stream.copy_to_host(out.data(), o, out.size() * 4);
  stream.synchronize();
  for (float v : out) EXPECT_FLOAT_EQ(v, 0.5f);
}

// A Buffer is a handle: a function given a const Buffer& writes through it with the copies and
// fill as it does with an op's output (the copies took Buffer& while Gemm::run took const).
void write_through_const(const xinhe::Stream& stream, const xinhe::Buffer& dst,
                         const xinhe::Buffer& src, const std::vector<float>& host) {
  stream.copy_from_host(dst, host.data(), 8);
  stream.fill(dst, 0x3f800000u, 4, 8, 8);  // 1.0f, 1.0f
  stream.copy(dst, src, 4, 16, 0);
}

TEST(CppApi, ConstBufferIsACopyAndFillDestination) {
  const xinhe::Device device = xinhe::Device::get("cpu:0");
  const xinhe::Stream stream = device.create_stream();
  const xinhe::Buffer dst = device.alloc(20), src = device.alloc(4);
  const float seven = 7.0f;
  stream.copy_from_host(src, &seven, 4);
  const std::vector<float> host = {2.0f, 3.0f};  // lives until the synchronize below
  write_through_const(stream, dst, src, host);
  float out[5] = {0, 0, 0, 0, 0};
  stream.copy_to_host(out, dst, sizeof out);
  stream.synchronize();
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[1], 3.0f);
  EXPECT_EQ(out[2], 1.0f);
  EXPECT_EQ(out[3], 1.0f);
  EXPECT_EQ(out[4], 7.0f);
}

TEST(CppApi, BufferAddressIsAlignedOnTheCpu) {
  const xinhe::Device device = xinhe::Device::get("cpu:0");
  const xinhe::Buffer buffer = device.alloc(100, 4096);
  const uint64_t address = buffer.address();
  EXPECT_NE(address, 0u);
  EXPECT_EQ(address % 4096, 0u);
  const xinhe::Buffer empty = device.alloc(0);
  EXPECT_THROW((void)empty.address(), xinhe::Error);
}

}  // namespace
