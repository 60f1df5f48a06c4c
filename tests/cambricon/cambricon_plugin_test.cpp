// The Cambricon plugin through the public API over the host doubles (the environment points
// XINHE_CAMBRICON_LIBRARY_DIR at them; tests/cambricon/CMakeLists.txt): what it claims, what
// it declines and why, its implementation names, the GEMM corner that the K = 1 product of
// zeros serves (alpha == 0 with NaN in A, -0.0 in C), which the conformance suite also checks,
// strided GEMM with beta != 0 (no stride mode there), causal attention with Sq != Skv under
// either alignment the double can give CNNL_ATTN_MASK_CAUSAL, and the entry's answer to a core
// of another ABI major.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "half.h"
#include "xinhe/backend.h"
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

#define REQUIRE_DEVICE(d)                                                                \
  xinhe_device_t d = cambricon_device();                                                 \
  ASSERT_NE(d, nullptr) << "cambricon:0 missing: is XINHE_CAMBRICON_LIBRARY_DIR set to " \
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

namespace {

// backend.h, point 6: the entry returns the table whatever the core's version; the core is
// the one that compares majors and says "plugin ABI 1.x, core supports 2.x".
TEST(CambriconPlugin, EntryReturnsTheTableForAnyHostVersion) {
  void* plugin = dlopen(XINHE_CAMBRICON_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(plugin, nullptr) << dlerror();
  auto entry = reinterpret_cast<xinhe_backend_entry_fn>(dlsym(plugin, XINHE_BACKEND_ENTRY_SYMBOL));
  ASSERT_NE(entry, nullptr);
  for (uint32_t major : {0u, XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MAJOR + 1, 99u}) {
    const xinhe_backend_api_t* table = entry(major, 0);
    ASSERT_NE(table, nullptr) << "host ABI major " << major;
    EXPECT_EQ(table->abi_major, XINHE_BACKEND_ABI_MAJOR);
    EXPECT_EQ(table->abi_minor, XINHE_BACKEND_ABI_MINOR);
    EXPECT_STREQ(table->name, "cambricon");
  }
  dlclose(plugin);
}

// Runs an op, after copying inputs in; returns the run's status message ("" when OK).
struct Device {
  xinhe_device_t device;
  xinhe_stream_t stream = nullptr;
  std::vector<xinhe_buffer_t> buffers;
  explicit Device(xinhe_device_t d) : device(d) {
    Status st{xinhe_stream_create(device, &stream)};
    EXPECT_EQ(st.s, nullptr);
  }
  ~Device() {
    xinhe_stream_synchronize(stream);
    for (xinhe_buffer_t b : buffers) xinhe_buffer_free(b);
    xinhe_stream_destroy(stream);
  }
  xinhe_buffer_t upload(const void* data, uint64_t bytes) {
    xinhe_buffer_t b = nullptr;
    Status st{xinhe_buffer_alloc(device, bytes > 0 ? bytes : 1, 0, &b)};
    EXPECT_EQ(st.s, nullptr);
    buffers.push_back(b);
    if (data != nullptr && bytes > 0) {
      Status c{xinhe_copy_host_to_device(stream, b, 0, data, bytes)};
      EXPECT_EQ(c.s, nullptr);
    }
    return b;
  }
  void download(void* dst, xinhe_buffer_t b, uint64_t bytes) {
    Status c{xinhe_copy_device_to_host(stream, dst, b, 0, bytes)};
    EXPECT_EQ(c.s, nullptr);
    Status sync{xinhe_stream_synchronize(stream)};
    EXPECT_EQ(sync.s, nullptr) << xinhe_status_message(sync.s);
  }
};

// C = alpha * A B + beta * C with A, B and C all strided (padded rows, padded batches): a run
// with beta != 0 must not use CNNL's stride mode (unconfirmed together with beta), so the
// plugin packs the operands; the result must not change.
TEST(CambriconPlugin, StridedGemmWithBeta) {
  REQUIRE_DEVICE(device);
  const int64_t M = 3, N = 5, K = 4, batch = 2;
  xinhe_gemm_desc_t d = gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, M, N, K);
  d.batch = batch;
  d.lda = K + 3;
  d.ldb = N + 1;
  d.ldc = N + 2;
  d.stride_a = M * d.lda + 5;
  d.stride_b = K * d.ldb + 2;
  d.stride_c = M * d.ldc + 1;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto fill = [&](int64_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  const std::vector<float> a = fill(batch * d.stride_a), b = fill(batch * d.stride_b),
                           c = fill(batch * d.stride_c);
  for (float beta : {0.5f, 1.0f, 0.0f}) {
    for (float alpha : {1.5f, 0.0f}) {
      xinhe_gemm_t op = nullptr;
      Status created{xinhe_gemm_create(device, &d, &op)};
      ASSERT_EQ(created.s, nullptr);
      Status checked{xinhe_gemm_check(op)};
      ASSERT_EQ(checked.s, nullptr) << xinhe_status_message(checked.s);
      uint64_t ws_bytes = 0;
      Status wss{xinhe_gemm_workspace_size(op, &ws_bytes)};
      Device dev(device);
      xinhe_gemm_args_t args{};
      args.struct_size = sizeof args;
      args.a = dev.upload(a.data(), a.size() * 4);
      args.b = dev.upload(b.data(), b.size() * 4);
      args.c = dev.upload(c.data(), c.size() * 4);
      args.workspace = ws_bytes > 0 ? dev.upload(nullptr, ws_bytes) : nullptr;
      args.alpha = alpha;
      args.beta = beta;
      Status run{xinhe_gemm_run(op, dev.stream, &args)};
      ASSERT_EQ(run.s, nullptr) << xinhe_status_message(run.s);
      std::vector<float> out(c.size());
      dev.download(out.data(), args.c, out.size() * 4);
      for (int64_t p = 0; p < batch; ++p)
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0.0;
            for (int64_t q = 0; q < K; ++q)
              acc += double(a[p * d.stride_a + i * d.lda + q]) * b[p * d.stride_b + q * d.ldb + j];
            const int64_t at = p * d.stride_c + i * d.ldc + j;
            const double expect = alpha * acc + (beta == 0.0f ? 0.0 : beta * double(c[at]));
            EXPECT_NEAR(out[at], expect, 1e-5) << "alpha " << alpha << " beta " << beta;
          }
      // The padding between rows and batches is not touched.
      for (int64_t p = 0; p < batch; ++p)
        for (int64_t at = p * d.stride_c; at < (p + 1) * d.stride_c; ++at)
          if ((at - p * d.stride_c) / d.ldc >= M || (at - p * d.stride_c) % d.ldc >= N) {
            EXPECT_EQ(out[at], c[at]) << "padding element " << at;
          }
      xinhe_gemm_destroy(op);
    }
  }
}

// Sets XINHE_CNNL_DOUBLE_CAUSAL for the scope (the double reads it when a flash-attention
// descriptor is set, at op create).
struct CausalAlignment {
  explicit CausalAlignment(const char* mode) { setenv("XINHE_CNNL_DOUBLE_CAUSAL", mode, 1); }
  ~CausalAlignment() { unsetenv("XINHE_CNNL_DOUBLE_CAUSAL"); }
};

// Causal attention for every Sq, Skv up to 9, with the double's CNNL_ATTN_MASK_CAUSAL aligned
// top-left and bottom-right: xinhe's mask is bottom-right, so whatever corner CNNL uses the
// plugin must give the same O and LSE (it hands CNNL square sequences only), or decline with
// the reason where it would have to pad the queries more than 4x.
TEST(CambriconPlugin, CausalAttentionWithSqNotSkvUnderEitherAlignment) {
  REQUIRE_DEVICE(device);
  const int64_t B = 2, Hq = 2, Hkv = 1, D = 8;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  using xinhe::kernels::f16_to_f32;
  using xinhe::kernels::f32_to_f16;
  int ran = 0, declined = 0;
  for (const char* mode : {"top_left", "bottom_right"}) {
    CausalAlignment alignment(mode);
    for (int64_t Sq = 1; Sq <= 9; ++Sq)
      for (int64_t Skv = 1; Skv <= 9; ++Skv) {
        SCOPED_TRACE(std::string(mode) + " Sq " + std::to_string(Sq) + " Skv " +
                     std::to_string(Skv));
        xinhe_attention_desc_t d{};
        d.struct_size = sizeof d;
        d.dtype = XINHE_DTYPE_F16;
        d.batch = B;
        d.heads_q = Hq;
        d.heads_kv = Hkv;
        d.seq_q = Sq;
        d.seq_kv = Skv;
        d.head_dim = D;
        xinhe_attention_strides_bshd(Hq, Sq, D, d.q_strides);
        xinhe_attention_strides_bshd(Hkv, Skv, D, d.k_strides);
        xinhe_attention_strides_bshd(Hkv, Skv, D, d.v_strides);
        xinhe_attention_strides_bshd(Hq, Sq, D, d.o_strides);
        d.scale = 0.5f;
        d.mask = XINHE_ATTENTION_MASK_CAUSAL;
        d.with_lse = 1;
        d.lse_strides[0] = Hq * Sq;
        d.lse_strides[1] = Sq;
        d.lse_strides[2] = 1;
        xinhe_attention_t op = nullptr;
        Status created{xinhe_attention_create(device, &d, &op)};
        ASSERT_EQ(created.s, nullptr) << xinhe_status_message(created.s);
        Status checked{xinhe_attention_check(op)};
        if (Sq > 1 && Skv > 4 * Sq) {  // padding the queries would cost more than 4x
          ASSERT_NE(checked.s, nullptr);
          EXPECT_NE(std::string(xinhe_status_message(checked.s)).find("unconfirmed"),
                    std::string::npos);
          ++declined;
          xinhe_attention_destroy(op);
          continue;
        }
        ASSERT_EQ(checked.s, nullptr) << xinhe_status_message(checked.s);
        auto values = [&](int64_t n) {
          std::vector<uint16_t> v(n);
          for (uint16_t& x : v) x = f32_to_f16(dist(rng));
          return v;
        };
        const std::vector<uint16_t> q = values(B * Sq * Hq * D), k = values(B * Skv * Hkv * D),
                                    v = values(B * Skv * Hkv * D);
        uint64_t ws_bytes = 0;
        Status wss{xinhe_attention_workspace_size(op, &ws_bytes)};
        Device dev(device);
        xinhe_attention_args_t args{};
        args.struct_size = sizeof args;
        args.q = dev.upload(q.data(), q.size() * 2);
        args.k = dev.upload(k.data(), k.size() * 2);
        args.v = dev.upload(v.data(), v.size() * 2);
        args.o = dev.upload(nullptr, q.size() * 2);
        args.lse = dev.upload(nullptr, B * Hq * Sq * 4);
        args.workspace = ws_bytes > 0 ? dev.upload(nullptr, ws_bytes) : nullptr;
        Status run{xinhe_attention_run(op, dev.stream, &args)};
        ASSERT_EQ(run.s, nullptr) << xinhe_status_message(run.s);
        std::vector<uint16_t> o(q.size());
        std::vector<float> lse(B * Hq * Sq);
        dev.download(o.data(), args.o, o.size() * 2);
        dev.download(lse.data(), args.lse, lse.size() * 4);
        xinhe_attention_destroy(op);
        ++ran;
        // The float64 reference, bottom-right: query i sees keys j <= i + Skv - Sq.
        int bad = 0;
        for (int64_t b = 0; b < B; ++b)
          for (int64_t h = 0; h < Hq; ++h)
            for (int64_t i = 0; i < Sq; ++i) {
              const int64_t seen = std::min(Skv, std::max<int64_t>(0, i + 1 + Skv - Sq));
              const float got_lse = lse[(b * Hq + h) * Sq + i];
              const uint16_t* oi = &o[((b * Sq + i) * Hq + h) * D];
              if (seen == 0) {
                bad += !(std::isinf(got_lse) && got_lse < 0);
                for (int64_t x = 0; x < D; ++x) bad += f16_to_f32(oi[x]) != 0.0f;
                continue;
              }
              const uint16_t* qi = &q[((b * Sq + i) * Hq + h) * D];
              std::vector<double> s(seen), acc(D, 0.0);
              double mx = -INFINITY, sum = 0.0;
              for (int64_t j = 0; j < seen; ++j) {
                const uint16_t* kj = &k[(b * Skv + j) * Hkv * D];
                double dot = 0.0;
                for (int64_t x = 0; x < D; ++x)
                  dot += double(f16_to_f32(qi[x])) * f16_to_f32(kj[x]);
                s[j] = d.scale * dot;
                mx = std::max(mx, s[j]);
              }
              for (int64_t j = 0; j < seen; ++j) {
                const double p = std::exp(s[j] - mx);
                sum += p;
                const uint16_t* vj = &v[(b * Skv + j) * Hkv * D];
                for (int64_t x = 0; x < D; ++x) acc[x] += p * f16_to_f32(vj[x]);
              }
              bad += std::fabs(got_lse - (mx + std::log(sum))) > 1e-3;
              for (int64_t x = 0; x < D; ++x)
                bad += std::fabs(f16_to_f32(oi[x]) - acc[x] / sum) > 4e-3;
            }
        EXPECT_EQ(bad, 0) << "elements off the bottom-right causal reference";
      }
  }
  EXPECT_GT(ran, 100);
  EXPECT_GT(declined, 0);
}

}  // namespace
