// Descriptions that are valid but whose sizes break unchecked arithmetic in the CPU kernels
// (issue 16, F1-F3): each is created on cpu:0 and must either be refused by check with a
// reason, or run without touching memory it does not own. The sanitizer preset turns the
// signed overflows these used to hit into failures.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <string>

#include "xinhe/xinhe.h"

namespace {

xinhe_device_t cpu() {
  xinhe_device_t device = nullptr;
  xinhe_status_t s = xinhe_device_get_by_name("cpu:0", &device);
  EXPECT_EQ(s, nullptr) << xinhe_status_message(s);
  xinhe_status_free(s);
  return device;
}

std::string take(xinhe_status_t s) {
  std::string m =
      std::string(xinhe_status_code_name(xinhe_status_code(s))) + ": " + xinhe_status_message(s);
  xinhe_status_free(s);
  return m;
}

xinhe_attention_desc_t attention(int64_t seq_q, int64_t seq_kv) {
  xinhe_attention_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.dtype = XINHE_DTYPE_F32;
  d.batch = 1;
  d.heads_q = d.heads_kv = 1;
  d.seq_q = seq_q;
  d.seq_kv = seq_kv;
  d.head_dim = 8;
  xinhe_attention_strides_bhsd(1, seq_q, 8, d.q_strides);
  xinhe_attention_strides_bhsd(1, seq_q, 8, d.o_strides);
  d.k_strides[3] = d.v_strides[3] = 1;  // every key the same row: Skv is bounded by nothing
  d.scale = 0.35f;
  return d;
}

class HostileOps : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("XINHE_ATTENTION_IMPL"); }
};

// F1: the reference attention's workspace (threads * (Skv + D) floats) wrapped to 72 bytes
// for Skv near 2^61, and with Skv = INT64_MAX the size computation itself overflowed.
TEST_F(HostileOps, ReferenceAttentionWorkspaceThatCannotFitIsUnimplemented) {
  setenv("XINHE_ATTENTION_IMPL", "reference", 1);
  for (int64_t seq_kv : {(int64_t{1} << 61) + 3, INT64_MAX, int64_t{1} << 62}) {
    const xinhe_attention_desc_t d = attention(4, seq_kv);
    xinhe_attention_t op = nullptr;
    xinhe_status_t s = xinhe_attention_create(cpu(), &d, &op);
    ASSERT_EQ(s, nullptr) << take(s);
    s = xinhe_attention_check(op);
    EXPECT_EQ(xinhe_status_code(s), XINHE_STATUS_UNIMPLEMENTED) << "Skv " << seq_kv;
    const std::string message = take(s);
    EXPECT_NE(message.find("workspace larger than 2^64 bytes"), std::string::npos) << message;
    uint64_t bytes = 1;
    s = xinhe_attention_workspace_size(op, &bytes);
    EXPECT_EQ(s, nullptr);
    EXPECT_EQ(bytes, 0u);
    xinhe_attention_destroy(op);
  }
}

// F2: an empty problem (B = 0) with Sq near 2^63 overflowed the flash kernel's block count.
TEST_F(HostileOps, EmptyFlashAttentionWithHugeSqRuns) {
  setenv("XINHE_ATTENTION_IMPL", "flash", 1);
  xinhe_attention_desc_t d = attention(INT64_MAX - 5, 3);
  d.batch = 0;
  for (int i = 0; i < 4; ++i) d.q_strides[i] = d.o_strides[i] = 0;
  d.o_strides[3] = 1;
  xinhe_attention_t op = nullptr;
  xinhe_status_t s = xinhe_attention_create(cpu(), &d, &op);
  ASSERT_EQ(s, nullptr) << take(s);
  s = xinhe_attention_check(op);
  ASSERT_EQ(s, nullptr) << take(s);
  EXPECT_NE(std::string(xinhe_attention_impl_name(op)).find("flash"), std::string::npos);
  uint64_t workspace = 0;
  ASSERT_EQ(xinhe_attention_workspace_size(op, &workspace), nullptr);
  xinhe_stream_t stream = nullptr;
  ASSERT_EQ(xinhe_stream_create(cpu(), &stream), nullptr);
  xinhe_buffer_t ws = nullptr;
  ASSERT_EQ(xinhe_buffer_alloc(cpu(), workspace, 64, &ws), nullptr);
  xinhe_attention_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.workspace = ws;  // every operand covers zero bytes
  s = xinhe_attention_run(op, stream, &args);
  EXPECT_EQ(s, nullptr) << take(s);
  s = xinhe_stream_synchronize(stream);
  EXPECT_EQ(s, nullptr) << take(s);
  xinhe_buffer_free(ws);
  xinhe_stream_destroy(stream);
  xinhe_attention_destroy(op);
}

// F3: an f16 GEMM with K = 2^60 wrapped the packed B panel's size (kc * nc * 4): 64 bytes.
TEST_F(HostileOps, HalfGemmWithHugeKIsUnimplementedNotUnderAllocated) {
  xinhe_gemm_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.ab_dtype = d.c_dtype = XINHE_DTYPE_F16;
  // 3 x 3 (larger than the direct path's M, N <= 2) with K = 2^60: A and B span 3 * 2^60
  // elements, too many for any buffer but a valid description.
  d.m = d.n = 3;
  d.k = int64_t{1} << 60;
  d.batch = 1;
  d.lda = d.k;
  d.ldb = d.n;
  d.ldc = d.n;
  xinhe_gemm_t op = nullptr;
  xinhe_status_t s = xinhe_gemm_create(cpu(), &d, &op);
  ASSERT_EQ(s, nullptr) << take(s);
  s = xinhe_gemm_check(op);
  if (s == nullptr) {
    uint64_t bytes = 1;
    ASSERT_EQ(xinhe_gemm_workspace_size(op, &bytes), nullptr);
    const std::string impl = xinhe_gemm_impl_name(op);
    if (impl.find(".reference_") != std::string::npos) {
      // The packed implementations, whose panels would not fit in 64 bits, stepped aside (the
      // dispatch walker skips them with that reason); the reference needs no workspace.
      EXPECT_EQ(bytes, 0u) << impl;
    } else {
      // A packing implementation must ask for a workspace that fits the problem: at least one
      // packed K slice of a micro-panel, not a wrapped handful of bytes.
      EXPECT_GE(bytes, uint64_t{1} << 32) << impl << " asked for " << bytes;
    }
  } else {
    EXPECT_EQ(xinhe_status_code(s), XINHE_STATUS_UNIMPLEMENTED);
    const std::string message = take(s);
    EXPECT_NE(message.find("workspace larger than 2^64 bytes"), std::string::npos) << message;
  }
  xinhe_gemm_destroy(op);
}

}  // namespace

namespace {

// The public stride helpers multiplied sizes unchecked (found by the sanitizer run of the
// test above): a product past int64 now saturates, so create reports the extent instead.
TEST(HostileStrideHelpers, ProductsBeyondInt64SaturateAndCreateRefuses) {
  const int64_t big = int64_t{1} << 40;
  int64_t bhsd[4], bshd[4];
  xinhe_attention_strides_bhsd(big, big, 256, bhsd);
  xinhe_attention_strides_bshd(big, big, 256, bshd);
  EXPECT_EQ(bhsd[1], big * 256);
  EXPECT_EQ(bhsd[0], INT64_MAX);
  EXPECT_EQ(bshd[2], big * 256);
  EXPECT_EQ(bshd[0], INT64_MAX);
  xinhe_attention_desc_t d = attention(big, 4);
  d.heads_q = d.heads_kv = big;
  d.head_dim = 256;
  for (int i = 0; i < 4; ++i) d.q_strides[i] = d.o_strides[i] = bhsd[i];
  xinhe_attention_t op = nullptr;
  xinhe_status_t s = xinhe_attention_create(cpu(), &d, &op);
  EXPECT_EQ(xinhe_status_code(s), XINHE_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(take(s).find("overflows"), std::string::npos);
  EXPECT_EQ(op, nullptr);
}

}  // namespace
