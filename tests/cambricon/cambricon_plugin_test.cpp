// The Cambricon plugin through the public API over the host doubles (the environment points
// XINHE_CAMBRICON_LIBRARY_PATH at them; tests/cambricon/CMakeLists.txt): what it claims, what
// it declines and why, its implementation names, and the GEMM corner that the K = 1 product of
// zeros serves (alpha == 0 with NaN in A, -0.0 in C), which the conformance suite also checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "xinhe/xinhe.h"

namespace {

struct Status {
  xinhe_status_t s;
  ~Status() { xinhe_status_free(s); }
};

xinhe_device_t cambricon_device() {
  xinhe_device_t device = nullptr;
  Status st{xinhe_device_get_by_name("cambricon:0", &device)};
  return st.s == nullptr ? device : nullptr;
}

#define REQUIRE_DEVICE(d)                                                                 \
  xinhe_device_t d = cambricon_device();                                                  \
  ASSERT_NE(d, nullptr) << "cambricon:0 missing: is XINHE_CAMBRICON_LIBRARY_PATH set to " \
                           "the doubles' folder?"

xinhe_gemm_desc_t gemm(xinhe_dtype_t ab, xinhe_dtype_t c, int64_t m, int64_t n, int64_t k) {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof d;
  d.ab_dtype = ab;
  d.c_dtype = c;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = 1;
  d.lda = k;
  d.ldb = n;
  d.ldc = n;
  return d;
}

// check's message for a GEMM description ("" when it runs).
std::string gemm_check(xinhe_device_t device, const xinhe_gemm_desc_t& desc, std::string* name) {
  xinhe_gemm_t op = nullptr;
  Status created{xinhe_gemm_create(device, &desc, &op)};
  if (created.s != nullptr) return std::string("create: ") + xinhe_status_message(created.s);
  Status checked{xinhe_gemm_check(op)};
  std::string out;
  if (checked.s != nullptr) {
    EXPECT_EQ(xinhe_status_code(checked.s), XINHE_STATUS_UNIMPLEMENTED);
    out = xinhe_status_message(checked.s);
  }
  if (name != nullptr) *name = xinhe_gemm_impl_name(op);
  xinhe_gemm_destroy(op);
  return out;
}

TEST(CambriconPlugin, ClaimsWhatTheDeviceHas) {
  REQUIRE_DEVICE(device);
  xinhe_device_properties_t p{};
  p.struct_size = sizeof p;
  Status st{xinhe_device_properties(device, &p)};
  ASSERT_EQ(st.s, nullptr);
  EXPECT_STREQ(p.vendor, "Cambricon");
  EXPECT_EQ(p.flags & XINHE_DEVICE_FLAG_HOST_MEMORY, 0u);
  EXPECT_EQ(p.flags & XINHE_DEVICE_FLAG_FP64, 0u);
  EXPECT_NE(p.flags & XINHE_DEVICE_FLAG_TIMING, 0u);
  EXPECT_EQ(p.dtype_caps, XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16) |
                              XINHE_DTYPE_CAP(XINHE_DTYPE_BF16));
  EXPECT_EQ(p.min_alignment, 64u);
  EXPECT_GT(p.total_memory, 0u);
}

TEST(CambriconPlugin, BuffersHaveNoHostPointer) {
  REQUIRE_DEVICE(device);
  xinhe_buffer_t buffer = nullptr;
  Status st{xinhe_buffer_alloc(device, 256, 4096, &buffer)};
  ASSERT_EQ(st.s, nullptr);
  void* host = nullptr;
  Status hp{xinhe_buffer_host_pointer(buffer, &host)};
  EXPECT_NE(hp.s, nullptr);
  uint64_t address = 0;
  Status ad{xinhe_buffer_address(buffer, &address)};
  ASSERT_EQ(ad.s, nullptr);
  EXPECT_EQ(address % 4096, 0u);
  xinhe_buffer_free(buffer);
}

TEST(CambriconPlugin, GemmNamesAndDeclines) {
  REQUIRE_DEVICE(device);
  std::string name;
  EXPECT_EQ(gemm_check(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, 4, 4, 4), &name), "");
  EXPECT_EQ(name, "cambricon.gemm.cnnl_batch_matmul_f16_f32");
  EXPECT_EQ(gemm_check(device, gemm(XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, 4, 4, 4), &name), "");
  EXPECT_EQ(name, "cambricon.gemm.cnnl_batch_matmul_bf16");
  EXPECT_NE(
      gemm_check(device, gemm(XINHE_DTYPE_F64, XINHE_DTYPE_F64, 4, 4, 4), nullptr).find("no fp64"),
      std::string::npos);
  // A leading dimension that a CNNL descriptor (int32) cannot hold.
  xinhe_gemm_desc_t wide = gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 1, 1, 1);
  wide.lda = int64_t{1} << 31;
  EXPECT_NE(gemm_check(device, wide, nullptr).find("int32; lda=2147483648"), std::string::npos);
}

TEST(CambriconPlugin, AttentionDeclinesF32WithTheReason) {
  REQUIRE_DEVICE(device);
  for (xinhe_dtype_t dtype : {XINHE_DTYPE_F32, XINHE_DTYPE_F16}) {
    xinhe_attention_desc_t d{};
    d.struct_size = sizeof d;
    d.dtype = dtype;
    d.batch = d.heads_q = d.heads_kv = 1;
    d.seq_q = d.seq_kv = 4;
    d.head_dim = 8;
    xinhe_attention_strides_bshd(1, 4, 8, d.q_strides);
    xinhe_attention_strides_bshd(1, 4, 8, d.k_strides);
    xinhe_attention_strides_bshd(1, 4, 8, d.v_strides);
    xinhe_attention_strides_bshd(1, 4, 8, d.o_strides);
    d.scale = 0.5f;
    xinhe_attention_t op = nullptr;
    Status created{xinhe_attention_create(device, &d, &op)};
    ASSERT_EQ(created.s, nullptr);
    Status checked{xinhe_attention_check(op)};
    if (dtype == XINHE_DTYPE_F32) {
      ASSERT_NE(checked.s, nullptr);
      EXPECT_NE(std::string(xinhe_status_message(checked.s)).find("f16 and bf16 only"),
                std::string::npos);
    } else {
      EXPECT_EQ(checked.s, nullptr);
      EXPECT_STREQ(xinhe_attention_impl_name(op), "cambricon.attention.cnnl_flash_fwd_f16");
    }
    xinhe_attention_destroy(op);
  }
}

// alpha == 0: A is not read (NaN there cannot reach C) and beta * C is exact, -0.0 included.
TEST(CambriconPlugin, AlphaZeroScalesCWithoutReadingA) {
  REQUIRE_DEVICE(device);
  const xinhe_gemm_desc_t desc = gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 2, 2, 3);
  xinhe_gemm_t op = nullptr;
  Status created{xinhe_gemm_create(device, &desc, &op)};
  ASSERT_EQ(created.s, nullptr);
  uint64_t ws_bytes = 0;
  Status ws_st{xinhe_gemm_workspace_size(op, &ws_bytes)};
  xinhe_stream_t stream = nullptr;
  Status sc{xinhe_stream_create(device, &stream)};
  ASSERT_EQ(sc.s, nullptr);
  xinhe_buffer_t a = nullptr, b = nullptr, c = nullptr, ws = nullptr;
  Status s1{xinhe_buffer_alloc(device, 24, 0, &a)}, s2{xinhe_buffer_alloc(device, 24, 0, &b)},
      s3{xinhe_buffer_alloc(device, 16, 0, &c)}, s4{xinhe_buffer_alloc(device, ws_bytes, 0, &ws)};
  const float nan = std::nanf("");
  const std::vector<float> av(6, nan), bv(6, 1.0f), cv = {-0.0f, 2.0f, INFINITY, -3.0f};
  Status c1{xinhe_copy_host_to_device(stream, a, 0, av.data(), 24)};
  Status c2{xinhe_copy_host_to_device(stream, b, 0, bv.data(), 24)};
  for (float beta : {0.5f, 0.0f}) {
    Status c3{xinhe_copy_host_to_device(stream, c, 0, cv.data(), 16)};
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof args;
    args.a = a;
    args.b = b;
    args.c = c;
    args.workspace = ws;
    args.alpha = 0.0f;
    args.beta = beta;
    Status run{xinhe_gemm_run(op, stream, &args)};
    ASSERT_EQ(run.s, nullptr) << xinhe_status_message(run.s);
    std::vector<float> out(4, 7.0f);
    Status back{xinhe_copy_device_to_host(stream, out.data(), c, 0, 16)};
    Status sync{xinhe_stream_synchronize(stream)};
    ASSERT_EQ(sync.s, nullptr);
    for (int i = 0; i < 4; ++i) {
      const float expect = beta == 0.0f ? 0.0f : beta * cv[i];
      EXPECT_EQ(std::memcmp(&out[i], &expect, 4), 0)
          << "beta " << beta << " element " << i << ": " << out[i] << " vs " << expect;
    }
  }
  for (xinhe_buffer_t buf : {a, b, c, ws}) xinhe_buffer_free(buf);
  xinhe_stream_destroy(stream);
  xinhe_gemm_destroy(op);
}

}  // namespace

namespace {

// An attention op destroyed while its run is still queued: what the queued work reads (the
// packed sequence offsets the plugin copies from host memory) must outlive the op. The stream
// is held behind an event of another stream until after the destroy.
TEST(CambriconPlugin, AttentionOpDestroyedWhileQueued) {
  REQUIRE_DEVICE(device);
  const int64_t B = 2, H = 2, S = 5, D = 8;
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof d;
  d.dtype = XINHE_DTYPE_F16;
  d.batch = B;
  d.heads_q = d.heads_kv = H;
  d.seq_q = d.seq_kv = S;
  d.head_dim = D;
  for (int64_t* s : {d.q_strides, d.k_strides, d.v_strides, d.o_strides})
    xinhe_attention_strides_bhsd(H, S, D, s);
  d.scale = 0.25f;
  xinhe_attention_t op = nullptr;
  Status created{xinhe_attention_create(device, &d, &op)};
  ASSERT_EQ(created.s, nullptr);
  uint64_t ws_bytes = 0;
  Status wss{xinhe_attention_workspace_size(op, &ws_bytes)};
  const uint64_t bytes = B * H * S * D * 2;
  xinhe_stream_t stream = nullptr, gate_stream = nullptr;
  Status s1{xinhe_stream_create(device, &stream)}, s2{xinhe_stream_create(device, &gate_stream)};
  xinhe_buffer_t q = nullptr, o = nullptr, ws = nullptr, big = nullptr;
  Status a1{xinhe_buffer_alloc(device, bytes, 0, &q)}, a2{xinhe_buffer_alloc(device, bytes, 0, &o)},
      a3{xinhe_buffer_alloc(device, ws_bytes, 0, &ws)},
      a4{xinhe_buffer_alloc(device, 128 << 20, 0, &big)};
  // Q = K = V = 1.0 (f16 0x3c00): every output element is exactly 1.
  const std::vector<uint16_t> ones(B * H * S * D, 0x3c00);
  Status c1{xinhe_copy_host_to_device(stream, q, 0, ones.data(), bytes)};
  Status sync0{xinhe_stream_synchronize(stream)};
  xinhe_event_t gate = nullptr;
  Status e1{xinhe_event_create(device, &gate)};
  const uint8_t byte = 1;
  Status f1{xinhe_buffer_fill(gate_stream, big, 0, 128 << 20, &byte, 1)};
  Status r1{xinhe_event_record(gate, gate_stream)};
  Status w1{xinhe_stream_wait_event(stream, gate)};
  xinhe_attention_args_t args{};
  args.struct_size = sizeof args;
  args.q = args.k = args.v = q;
  args.o = o;
  args.workspace = ws;
  Status run{xinhe_attention_run(op, stream, &args)};
  ASSERT_EQ(run.s, nullptr) << xinhe_status_message(run.s);
  xinhe_attention_destroy(op);  // before the queue reaches the run
  std::vector<uint16_t> out(ones.size(), 0);
  Status back{xinhe_copy_device_to_host(stream, out.data(), o, 0, bytes)};
  Status sync{xinhe_stream_synchronize(stream)};
  ASSERT_EQ(sync.s, nullptr) << xinhe_status_message(sync.s);
  EXPECT_EQ(out, ones);
  xinhe_event_destroy(gate);
  for (xinhe_buffer_t b : {q, o, ws, big}) xinhe_buffer_free(b);
  xinhe_stream_destroy(stream);
  xinhe_stream_destroy(gate_stream);
}

}  // namespace
