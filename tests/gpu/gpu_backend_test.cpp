// Tests of the CUDA and HIP plugins through the public API only.
//
// Everywhere: the plugin that was built is found (XINHE_BACKEND_PATH points at the build tree's
// lib/xinhe/) and either loads, or is listed as UNAVAILABLE with a reason that names what is
// missing; a machine without libcuda.so.1 must get exactly the "no NVIDIA driver" reason, never
// a loader error.
//
// With a device (cuda:0 / hip:0): small GEMM and attention cases against the float64
// reference, once per implementation (XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL select it), outputs
// poisoned before every run, padding between rows checked untouched. Without a device these
// skip with "no CUDA device: <reason>". The general conformance suite covers the rest.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gemm_case.h"
#include "half.h"
#include "reference.h"
#include "xinhe/backend.h"  // XINHE_BACKEND_ABI_MAJOR
#include "xinhe/xinhe.h"

namespace {

using xinhe::kernels::bf16_to_f32;
using xinhe::kernels::f16_to_f32;
using xinhe::kernels::f32_to_bf16;
using xinhe::kernels::f32_to_f16;

struct PluginUnderTest {
  const char* name;       // backend name and device prefix
  const char* file_stem;  // libxinhe_backend_<stem>.so
  const char* vendor_library;
  const char* missing_reason;  // the reason expected when vendor_library cannot be opened
};

const PluginUnderTest kCuda{"cuda", "xinhe_backend_cuda", "libcuda.so.1",
                            "libcuda.so.1 not found (no NVIDIA driver)"};
const PluginUnderTest kHip{"hip", "xinhe_backend_hip", nullptr,
                           "libamdhip64.so not found (no ROCm HIP runtime)"};

std::string take_message(xinhe_status_t s) {
  std::string text =
      std::string(xinhe_status_code_name(xinhe_status_code(s))) + ": " + xinhe_status_message(s);
  xinhe_status_free(s);
  return text;
}

#define ASSERT_XINHE_OK(expr)                                              \
  do {                                                                     \
    xinhe_status_t status_ = (expr);                                       \
    ASSERT_EQ(status_, nullptr) << #expr << ": " << take_message(status_); \
  } while (0)

bool find_backend(const PluginUnderTest& plugin, xinhe_backend_info_t* out) {
  size_t count = 0;
  xinhe_status_t s = xinhe_backend_count(&count);
  if (s != nullptr) {
    xinhe_status_free(s);
    return false;
  }
  for (size_t i = 0; i < count; ++i) {
    xinhe_backend_info_t info{};
    info.struct_size = sizeof info;
    if (xinhe_status_t e = xinhe_backend_info(i, &info)) {
      xinhe_status_free(e);
      continue;
    }
    if (std::strcmp(info.name, plugin.name) == 0 ||
        std::strstr(info.path, plugin.file_stem) != nullptr) {
      *out = info;
      return true;
    }
  }
  return false;
}

bool vendor_library_missing(const PluginUnderTest& plugin) {
  if (plugin.vendor_library != nullptr) {
    void* handle = dlopen(plugin.vendor_library, RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) dlclose(handle);
    return handle == nullptr;
  }
  for (const char* name : {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"}) {
    void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      dlclose(handle);
      return false;
    }
  }
  return true;
}

void check_plugin_listed(const PluginUnderTest& plugin) {
  xinhe_backend_info_t info{};
  ASSERT_TRUE(find_backend(plugin, &info))
      << plugin.file_stem << " was built but is not in the backend list; XINHE_BACKEND_PATH="
      << (std::getenv("XINHE_BACKEND_PATH") ? std::getenv("XINHE_BACKEND_PATH") : "(unset)");
  std::printf("[ info     ] %s: loaded=%d devices=%u reason='%s'\n", plugin.name, info.loaded,
              info.device_count, info.reason);
  EXPECT_EQ(info.abi_major, XINHE_BACKEND_ABI_MAJOR);
  if (info.loaded) {
    EXPECT_STREQ(info.reason, "");
    return;
  }
  // Not usable here: it must say so as UNAVAILABLE, with the vendor's reason, not fail to load.
  EXPECT_EQ(info.code, XINHE_STATUS_UNAVAILABLE) << info.reason;
  EXPECT_STRNE(info.reason, "");
  if (vendor_library_missing(plugin)) {
    EXPECT_NE(std::strstr(info.reason, plugin.missing_reason), nullptr) << info.reason;
  }
}

#if defined(XINHE_TEST_CUDA_PLUGIN)
TEST(CudaPlugin, LoadsOrReportsUnavailable) { check_plugin_listed(kCuda); }
#endif
#if defined(XINHE_TEST_HIP_PLUGIN)
TEST(HipPlugin, LoadsOrReportsUnavailable) { check_plugin_listed(kHip); }
#endif

// ---- Numerics on a device ----------------------------------------------------------------------

// The first device of the plugin, or the reason there is none.
xinhe_device_t plugin_device(const PluginUnderTest& plugin, std::string* why_not) {
  xinhe_device_t device = nullptr;
  const std::string name = std::string(plugin.name) + ":0";
  if (xinhe_status_t s = xinhe_device_get_by_name(name.c_str(), &device)) {
    const std::string lookup = take_message(s);
    xinhe_backend_info_t info{};
    // The plugin's own reason ("libcuda.so.1 not found ...") says more than "no such device".
    *why_not = find_backend(plugin, &info) && info.reason[0] != '\0' ? info.reason : lookup;
    return nullptr;
  }
  return device;
}

size_t dtype_bytes(xinhe_dtype_t t) { return t == XINHE_DTYPE_F32 ? 4 : 2; }

// Random values in [-1, 1], stored as dtype.
std::vector<uint8_t> random_tensor(xinhe_dtype_t t, int64_t elements, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint8_t> bytes(static_cast<size_t>(elements) * dtype_bytes(t));
  for (int64_t i = 0; i < elements; ++i) xinhe::reference::store(t, bytes.data(), i, dist(*rng));
  return bytes;
}

// Normalized squared error sum (x - ref)^2 / sum ref^2 (ggml's test-backend-ops metric).
double nmse(const std::vector<double>& got, const std::vector<double>& ref) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = got[i] - ref[i];
    err += d * d;
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? err / norm : err;
}

double tolerance(xinhe_dtype_t out) {
  switch (out) {
    case XINHE_DTYPE_F32:
      return 1e-9;
    case XINHE_DTYPE_F16:
      return 1e-5;
    default:
      return 1e-3;
  }
}

class DeviceMemory {
 public:
  // Never empty, so operands of zero elements still get a buffer to point at.
  DeviceMemory(xinhe_device_t device, size_t bytes) {
    status_ = xinhe_buffer_alloc(device, std::max<size_t>(bytes, 256), 0, &buffer_);
  }
  ~DeviceMemory() { xinhe_buffer_free(buffer_); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  xinhe_buffer_t get() const { return buffer_; }
  xinhe_status_t take_status() {
    xinhe_status_t s = status_;
    status_ = nullptr;
    return s;
  }

 private:
  xinhe_buffer_t buffer_ = nullptr;
  xinhe_status_t status_ = nullptr;
};

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

using xinhe_gpu_test::GemmCase;

std::string describe(const GemmCase& g) {
  return std::string(xinhe_dtype_name(g.ab)) + "->" + xinhe_dtype_name(g.c) +
         (g.trans_a ? " tA" : "") + (g.trans_b ? " tB" : "") + " m=" + std::to_string(g.m) +
         " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
         " batch=" + std::to_string(g.batch) + " pad=" + std::to_string(g.pad) +
         (g.broadcast_b ? " B-broadcast" : "") + " alpha=" + std::to_string(g.alpha) +
         " beta=" + std::to_string(g.beta);
}

std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> cases;
  for (xinhe_dtype_t ab : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
      if (ab == XINHE_DTYPE_F32 && c != ab) continue;
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          cases.push_back({ab, c, ta, tb, 129, 67, 75, 1, 0, false, 1.0f, 0.0f});  // ragged edges
          cases.push_back(
              {ab, c, ta, tb, 256, 128, 96, 3, 8, true, 0.5f, -1.25f});  // aligned, batched
          cases.push_back({ab, c, ta, tb, 100, 72, 44, 2, -1, false, 1.0f,
                           0.5f});  // aligned rows, ragged tiles
        }
      }
      cases.push_back({ab, c, 0, 0, 33, 17, 0, 2, 0, false, 1.0f, 0.75f});   // k == 0: C = beta C
      cases.push_back({ab, c, 0, 1, 1, 300, 513, 1, 3, false, 2.0f, 0.0f});  // GEMV-like, odd pad
      // More 128x256 tiles than an H100 has SMs: persistent CTAs take a second tile.
      if (ab != XINHE_DTYPE_F32 && c == XINHE_DTYPE_F32)
        cases.push_back({ab, c, 0, 0, 1000, 2100, 200, 2, -1, false, 1.0f, 0.5f});
    }
  }
  return cases;
}

void run_gemm_case(xinhe_device_t device, const GemmCase& g, const char* impl, std::mt19937* rng) {
  SCOPED_TRACE(describe(g) + " impl~" + impl);
  const xinhe_gemm_desc_t d = xinhe_gpu_test::gemm_desc(g);
  const int64_t b_rows = xinhe_gpu_test::b_rows(g);
  const int64_t a_elems = d.stride_a * g.batch,
                b_elems = g.broadcast_b ? b_rows * d.ldb : d.stride_b * g.batch;
  const int64_t c_elems = d.stride_c * g.batch;

  xinhe_gemm_t op = nullptr;
  {
    ScopedEnv env("XINHE_GEMM_IMPL", impl);
    ASSERT_XINHE_OK(xinhe_gemm_create(device, &d, &op));
  }
  struct OpGuard {
    xinhe_gemm_t op;
    ~OpGuard() { xinhe_gemm_destroy(op); }
  } guard{op};
  if (xinhe_status_t s = xinhe_gemm_check(op)) {
    // Only the matrix-core paths (f32 inputs, unaligned leading dims, other GPUs: wgmma off
    // compute capability 9.0, tensorop on AMD and old NVIDIA, mfma on NVIDIA and AMD without
    // MFMA) and the vendor BLAS (not installed; cuBLAS on HIP, hipBLAS on CUDA) may decline;
    // the portable kernels run everything.
    const std::string why = take_message(s);
    ASSERT_TRUE(std::strcmp(impl, "wgmma") == 0 || std::strcmp(impl, "tensorop") == 0 ||
                std::strcmp(impl, "mfma") == 0 || std::strcmp(impl, "cublas") == 0 ||
                std::strcmp(impl, "hipblas") == 0)
        << why;
    std::printf("[ declined ] %s: %s\n", describe(g).c_str(), why.c_str());
    return;
  }
  uint64_t workspace = 1;
  ASSERT_XINHE_OK(xinhe_gemm_workspace_size(op, &workspace));
  ASSERT_EQ(workspace, 0u);

  const std::vector<uint8_t> a = random_tensor(g.ab, a_elems, rng);
  const std::vector<uint8_t> b = random_tensor(g.ab, b_elems, rng);
  // beta != 0: C holds random values that must be read; beta == 0: C is poisoned with NaN
  // (0xff bytes) that must be ignored. Padding keeps its value either way.
  std::vector<uint8_t> c_in = g.beta != 0.0f
                                  ? random_tensor(g.c, c_elems, rng)
                                  : std::vector<uint8_t>(c_elems * dtype_bytes(g.c), 0xff);
  std::vector<double> expected(static_cast<size_t>(g.batch * g.m * g.n));
  xinhe::reference::gemm(d, a.data(), b.data(), c_in.data(), g.alpha, g.beta, expected.data());

  xinhe_stream_t stream = nullptr;
  ASSERT_XINHE_OK(xinhe_stream_create(device, &stream));
  struct StreamGuard {
    xinhe_stream_t s;
    ~StreamGuard() { xinhe_stream_destroy(s); }
  } stream_guard{stream};
  DeviceMemory da(device, a.size()), db(device, b.size()), dc(device, c_in.size());
  ASSERT_XINHE_OK(da.take_status());
  ASSERT_XINHE_OK(db.take_status());
  ASSERT_XINHE_OK(dc.take_status());
  if (!a.empty())
    ASSERT_XINHE_OK(xinhe_copy_host_to_device(stream, da.get(), 0, a.data(), a.size()));
  if (!b.empty())
    ASSERT_XINHE_OK(xinhe_copy_host_to_device(stream, db.get(), 0, b.data(), b.size()));
  ASSERT_XINHE_OK(xinhe_copy_host_to_device(stream, dc.get(), 0, c_in.data(), c_in.size()));
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof args;
  args.a = da.get();
  args.b = db.get();
  args.c = dc.get();
  args.alpha = g.alpha;
  args.beta = g.beta;
  ASSERT_XINHE_OK(xinhe_gemm_run(op, stream, &args));
  std::vector<uint8_t> c_out(c_in.size());
  ASSERT_XINHE_OK(xinhe_copy_device_to_host(stream, c_out.data(), dc.get(), 0, c_out.size()));
  ASSERT_XINHE_OK(xinhe_stream_synchronize(stream));

  std::vector<double> got(expected.size());
  int64_t padding_changed = 0;
  for (int64_t bi = 0; bi < g.batch; ++bi) {
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < d.ldc; ++j) {
        const int64_t index = bi * d.stride_c + i * d.ldc + j;
        if (j < g.n) {
          got[(bi * g.m + i) * g.n + j] = xinhe::reference::load(g.c, c_out.data(), index);
        } else if (std::memcmp(&c_out[index * dtype_bytes(g.c)], &c_in[index * dtype_bytes(g.c)],
                               dtype_bytes(g.c)) != 0) {
          ++padding_changed;
        }
      }
    }
  }
  EXPECT_EQ(padding_changed, 0) << "elements between rows of C were written";
  const double err = nmse(got, expected);
  EXPECT_LE(err, tolerance(g.c)) << "normalized squared error";
  EXPECT_FALSE(std::isnan(err));
  std::printf("[ checked  ] %s: %s nmse=%.3g\n", describe(g).c_str(), xinhe_gemm_impl_name(op),
              err);
}

struct AttentionCase {
  xinhe_dtype_t dtype;
  int64_t batch, heads_q, heads_kv, seq_q, seq_kv, head_dim;
  bool causal, bshd, with_lse;
};

std::string describe(const AttentionCase& a) {
  return std::string(xinhe_dtype_name(a.dtype)) + " B=" + std::to_string(a.batch) +
         " Hq=" + std::to_string(a.heads_q) + " Hkv=" + std::to_string(a.heads_kv) +
         " Sq=" + std::to_string(a.seq_q) + " Skv=" + std::to_string(a.seq_kv) +
         " D=" + std::to_string(a.head_dim) + (a.causal ? " causal" : "") +
         (a.bshd ? " BSHD" : " BHSD") + (a.with_lse ? " LSE" : "");
}

std::vector<AttentionCase> attention_cases() {
  std::vector<AttentionCase> cases;
  for (xinhe_dtype_t t : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    cases.push_back({t, 2, 4, 2, 37, 53, 64, true, false, true});    // GQA, causal, Sq < Skv
    cases.push_back({t, 1, 3, 1, 20, 7, 80, true, true, true});      // MQA, Sq > Skv: empty rows
    cases.push_back({t, 2, 2, 2, 1, 129, 128, true, true, true});    // decode step
    cases.push_back({t, 1, 2, 2, 33, 33, 256, false, false, true});  // largest head dim
    cases.push_back({t, 1, 2, 1, 17, 0, 32, false, false, true});    // no keys at all
  }
  return cases;
}

void run_attention_case(xinhe_device_t device, const AttentionCase& c, const char* impl,
                        std::mt19937* rng) {
  SCOPED_TRACE(describe(c) + " impl~" + impl);
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof d;
  d.dtype = c.dtype;
  d.batch = c.batch;
  d.heads_q = c.heads_q;
  d.heads_kv = c.heads_kv;
  d.seq_q = c.seq_q;
  d.seq_kv = c.seq_kv;
  d.head_dim = c.head_dim;
  auto strides = c.bshd ? xinhe_attention_strides_bshd : xinhe_attention_strides_bhsd;
  strides(c.heads_q, c.seq_q, c.head_dim, d.q_strides);
  strides(c.heads_kv, c.seq_kv, c.head_dim, d.k_strides);
  strides(c.heads_kv, c.seq_kv, c.head_dim, d.v_strides);
  strides(c.heads_q, c.seq_q, c.head_dim, d.o_strides);
  d.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  d.mask = c.causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  d.with_lse = c.with_lse;
  // LSE in (s, h) order with a gap, so its strides are exercised too.
  d.lse_strides[0] = c.seq_q * (c.heads_q + 1);
  d.lse_strides[1] = 1;
  d.lse_strides[2] = c.heads_q + 1;
  const int64_t q_elems = c.batch * c.heads_q * c.seq_q * c.head_dim;
  const int64_t kv_elems = c.batch * c.heads_kv * c.seq_kv * c.head_dim;
  const int64_t lse_elems = c.batch * d.lse_strides[0];

  xinhe_attention_t op = nullptr;
  {
    ScopedEnv env("XINHE_ATTENTION_IMPL", impl);
    ASSERT_XINHE_OK(xinhe_attention_create(device, &d, &op));
  }
  struct OpGuard {
    xinhe_attention_t op;
    ~OpGuard() { xinhe_attention_destroy(op); }
  } guard{op};
  if (xinhe_status_t s = xinhe_attention_check(op)) {
    // Only the tensor-core paths may decline (f32, head_dim > 128, HIP; wgmma: not compute
    // capability 9.0; tensorop: not sm_80+).
    const std::string why = take_message(s);
    ASSERT_TRUE(std::strcmp(impl, "wgmma") == 0 || std::strcmp(impl, "tensorop") == 0) << why;
    std::printf("[ declined ] %s: %s\n", describe(c).c_str(), why.c_str());
    return;
  }

  const std::vector<uint8_t> q = random_tensor(c.dtype, q_elems, rng);
  const std::vector<uint8_t> k = random_tensor(c.dtype, kv_elems, rng);
  const std::vector<uint8_t> v = random_tensor(c.dtype, kv_elems, rng);
  std::vector<double> expected_o(q_elems), expected_lse(c.batch * c.heads_q * c.seq_q);
  xinhe::reference::attention(d, q.data(), k.data(), v.data(), expected_o.data(),
                              expected_lse.data());

  xinhe_stream_t stream = nullptr;
  ASSERT_XINHE_OK(xinhe_stream_create(device, &stream));
  struct StreamGuard {
    xinhe_stream_t s;
    ~StreamGuard() { xinhe_stream_destroy(s); }
  } stream_guard{stream};
  const size_t esize = dtype_bytes(c.dtype);
  DeviceMemory dq(device, q.size()), dk(device, k.size()), dv(device, v.size()),
      dout(device, q_elems * esize), dlse(device, lse_elems * 4);
  for (DeviceMemory* m : {&dq, &dk, &dv, &dout, &dlse}) ASSERT_XINHE_OK(m->take_status());
  if (!q.empty())
    ASSERT_XINHE_OK(xinhe_copy_host_to_device(stream, dq.get(), 0, q.data(), q.size()));
  if (!k.empty())
    ASSERT_XINHE_OK(xinhe_copy_host_to_device(stream, dk.get(), 0, k.data(), k.size()));
  if (!v.empty())
    ASSERT_XINHE_OK(xinhe_copy_host_to_device(stream, dv.get(), 0, v.data(), v.size()));
  const uint32_t poison = 0xffffffffu;  // NaN in every dtype
  ASSERT_XINHE_OK(xinhe_buffer_fill(stream, dout.get(), 0, q_elems * esize, &poison, 4));
  ASSERT_XINHE_OK(xinhe_buffer_fill(stream, dlse.get(), 0, lse_elems * 4, &poison, 4));
  xinhe_attention_args_t args{};
  args.struct_size = sizeof args;
  args.q = dq.get();
  args.k = dk.get();
  args.v = dv.get();
  args.o = dout.get();
  args.lse = dlse.get();
  ASSERT_XINHE_OK(xinhe_attention_run(op, stream, &args));
  std::vector<uint8_t> o_out(q_elems * esize);
  std::vector<float> lse_out(lse_elems);
  ASSERT_XINHE_OK(xinhe_copy_device_to_host(stream, o_out.data(), dout.get(), 0, o_out.size()));
  ASSERT_XINHE_OK(
      xinhe_copy_device_to_host(stream, lse_out.data(), dlse.get(), 0, lse_out.size() * 4));
  ASSERT_XINHE_OK(xinhe_stream_synchronize(stream));

  std::vector<double> got(q_elems);
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.heads_q; ++h) {
      for (int64_t s = 0; s < c.seq_q; ++s) {
        for (int64_t e = 0; e < c.head_dim; ++e) {
          const int64_t at =
              b * d.o_strides[0] + h * d.o_strides[1] + s * d.o_strides[2] + e * d.o_strides[3];
          got[((b * c.heads_q + h) * c.seq_q + s) * c.head_dim + e] =
              xinhe::reference::load(c.dtype, o_out.data(), at);
        }
        const double want = expected_lse[(b * c.heads_q + h) * c.seq_q + s];
        const float have =
            lse_out[b * d.lse_strides[0] + h * d.lse_strides[1] + s * d.lse_strides[2]];
        if (std::isinf(want)) {
          EXPECT_TRUE(std::isinf(have) && have < 0) << "LSE of a row with no key: " << have;
        } else {
          EXPECT_NEAR(have, want, 1e-4 * std::max(1.0, std::fabs(want)))
              << "LSE at b=" << b << " h=" << h << " s=" << s;
        }
      }
    }
  }
  const double err = nmse(got, expected_o);
  EXPECT_LE(err, tolerance(c.dtype)) << "normalized squared error of O";
  EXPECT_FALSE(std::isnan(err));
  std::printf("[ checked  ] %s: %s nmse=%.3g\n", describe(c).c_str(), xinhe_attention_impl_name(op),
              err);
}

void gemm_numerics(const PluginUnderTest& plugin) {
  std::string why_not;
  xinhe_device_t device = plugin_device(plugin, &why_not);
  if (device == nullptr)
    GTEST_SKIP() << "no " << (std::strcmp(plugin.name, "cuda") == 0 ? "CUDA" : "HIP")
                 << " device: " << why_not;
  std::mt19937 rng(1234);
  for (const char* impl : {"wgmma", "tensorop", "mfma", "cublas", "hipblas", "simt", "naive", ""}) {
    for (const GemmCase& g : gemm_cases()) run_gemm_case(device, g, impl, &rng);
  }
}

void attention_numerics(const PluginUnderTest& plugin) {
  std::string why_not;
  xinhe_device_t device = plugin_device(plugin, &why_not);
  if (device == nullptr)
    GTEST_SKIP() << "no " << (std::strcmp(plugin.name, "cuda") == 0 ? "CUDA" : "HIP")
                 << " device: " << why_not;
  std::mt19937 rng(4321);
  for (const char* impl : {"wgmma", "tensorop", "flash", "naive"}) {
    for (const AttentionCase& c : attention_cases()) run_attention_case(device, c, impl, &rng);
  }
}

#if defined(XINHE_TEST_CUDA_PLUGIN)
TEST(CudaPlugin, GemmMatchesReference) { gemm_numerics(kCuda); }
TEST(CudaPlugin, AttentionMatchesReference) { attention_numerics(kCuda); }
#endif
#if defined(XINHE_TEST_HIP_PLUGIN)
TEST(HipPlugin, GemmMatchesReference) { gemm_numerics(kHip); }
TEST(HipPlugin, AttentionMatchesReference) { attention_numerics(kHip); }
#endif

}  // namespace
