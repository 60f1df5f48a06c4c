// Tests of the CUDA and HIP plugins through the public API only.
//
// Everywhere: the plugin that was built is found (XINHE_BACKEND_PATH points at the build tree's
// lib/xinhe/) and either loads, or is listed as UNAVAILABLE with a reason that names what is
// missing; a machine without libcuda.so.1 must get exactly the "no NVIDIA driver" reason, never
// a loader error.
//
// With a device (cuda:0 / hip:0): small GEMM and attention cases against the float64
// reference, once per implementation (XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL select it), outputs
// poisoned before every run, padding between rows checked untouched; cases, data, poison, the
// error measure and the tolerance table are tests/support's. Without a device these
// skip with "no CUDA device: <reason>". The general conformance suite covers the rest.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "numerics.h"  // tests/support
#include "op_case.h"
#include "reference.h"
#include "xinhe/backend.h"  // XINHE_BACKEND_ABI_MAJOR
#include "xinhe/xinhe.h"

namespace {

using xinhe::test::attention_case;
using xinhe::test::AttentionCase;
using xinhe::test::AttentionLayout;
using xinhe::test::ErrorStats;
using xinhe::test::gemm_case;
using xinhe::test::GemmCase;
using xinhe::test::HostArray;
using xinhe::test::Rng;
using xinhe::test::tolerance;

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

std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> cases;
  for (xinhe_dtype_t ab : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
      if (ab == XINHE_DTYPE_F32 && c != ab) continue;
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          cases.push_back(gemm_case(ab, c, ta, tb, 129, 67, 75));  // ragged edges
          cases.push_back(gemm_case(ab, c, ta, tb, 256, 128, 96)   // aligned, batched
                              .batched(3)
                              .pad_leading_dims(8)
                              .broadcast(false, true)
                              .scaled(0.5f, -1.25f));
          cases.push_back(gemm_case(ab, c, ta, tb, 100, 72, 44)  // aligned rows, ragged tiles
                              .batched(2)
                              .round_leading_dims(8)
                              .scaled(1.0f, 0.5f));
        }
      }
      // k == 0: C = beta C
      cases.push_back(gemm_case(ab, c, false, false, 33, 17, 0).batched(2).scaled(1.0f, 0.75f));
      // GEMV-like, odd pad
      cases.push_back(
          gemm_case(ab, c, false, true, 1, 300, 513).pad_leading_dims(3).scaled(2.0f, 0.0f));
      // More 128x256 tiles than an H100 has SMs: persistent CTAs take a second tile.
      if (ab != XINHE_DTYPE_F32 && c == XINHE_DTYPE_F32)
        cases.push_back(gemm_case(ab, c, false, false, 1000, 2100, 200)
                            .batched(2)
                            .round_leading_dims(8)
                            .scaled(1.0f, 0.5f));
    }
  }
  return cases;
}

void run_gemm_case(xinhe_device_t device, const GemmCase& g, const char* impl, Rng& rng) {
  SCOPED_TRACE(g.name() + " impl~" + impl);
  const xinhe_gemm_desc_t d = g.desc();

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
    std::printf("[ declined ] %s: %s\n", g.name().c_str(), why.c_str());
    return;
  }
  uint64_t workspace = 1;
  ASSERT_XINHE_OK(xinhe_gemm_workspace_size(op, &workspace));
  ASSERT_EQ(workspace, 0u);

  const HostArray a = HostArray::random(g.ab, g.a_span(), rng);
  const HostArray b = HostArray::random(g.ab, g.b_span(), rng);
  // beta != 0: C holds random values that must be read; beta == 0: C is poisoned with NaN
  // that must be ignored. Padding keeps its value either way.
  HostArray c_in = HostArray::random(g.c, g.c_span(), rng);
  if (g.beta == 0.0f) c_in.poison();
  std::vector<double> expected(static_cast<size_t>(g.batch * g.m * g.n));
  xinhe::reference::gemm(d, a.data(), b.data(), c_in.data(), g.alpha, g.beta, expected.data());

  xinhe_stream_t stream = nullptr;
  ASSERT_XINHE_OK(xinhe_stream_create(device, &stream));
  struct StreamGuard {
    xinhe_stream_t s;
    ~StreamGuard() { xinhe_stream_destroy(s); }
  } stream_guard{stream};
  DeviceMemory da(device, a.bytes.size()), db(device, b.bytes.size()),
      dc(device, c_in.bytes.size());
  ASSERT_XINHE_OK(da.take_status());
  ASSERT_XINHE_OK(db.take_status());
  ASSERT_XINHE_OK(dc.take_status());
  for (const auto& [buffer, host] : {std::pair{da.get(), &a}, {db.get(), &b}, {dc.get(), &c_in}}) {
    if (!host->bytes.empty())
      ASSERT_XINHE_OK(
          xinhe_copy_host_to_device(stream, buffer, 0, host->data(), host->bytes.size()));
  }
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof args;
  args.a = da.get();
  args.b = db.get();
  args.c = dc.get();
  args.alpha = g.alpha;
  args.beta = g.beta;
  ASSERT_XINHE_OK(xinhe_gemm_run(op, stream, &args));
  HostArray c_out = c_in;
  ASSERT_XINHE_OK(xinhe_copy_device_to_host(stream, c_out.data(), dc.get(), 0, c_out.bytes.size()));
  ASSERT_XINHE_OK(xinhe_stream_synchronize(stream));

  int64_t first = -1;
  EXPECT_EQ(xinhe::test::gemm_c_writes_outside(g, c_in, c_out, &first), 0)
      << "C written outside the results (between rows), first at element " << first;
  const ErrorStats error = xinhe::test::gemm_c_error(g, c_out, expected.data());
  EXPECT_LE(error.normalized(), tolerance(g.c, g.k))
      << "max |C - ref| / max |ref|, worst result " << error.worst_index;
  std::printf("[ checked  ] %s: %s error=%.3g\n", g.name().c_str(), xinhe_gemm_impl_name(op),
              error.normalized());
}

std::vector<AttentionCase> attention_cases() {
  constexpr AttentionLayout kBshd = AttentionLayout::kBshd;
  std::vector<AttentionCase> cases;
  for (xinhe_dtype_t t : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    cases.push_back(attention_case(t, 2, 4, 2, 37, 53, 64, true));  // GQA, causal, Sq < Skv
    cases.push_back(
        attention_case(t, 1, 3, 1, 20, 7, 80, true, kBshd));  // MQA, Sq > Skv: empty rows
    cases.push_back(attention_case(t, 2, 2, 2, 1, 129, 128, true, kBshd));  // decode step
    cases.push_back(attention_case(t, 1, 2, 2, 33, 33, 256));               // largest head dim
    cases.push_back(attention_case(t, 1, 2, 1, 17, 0, 32));                 // no keys at all
  }
  for (AttentionCase& c : cases) c.lse = true;
  return cases;
}

void run_attention_case(xinhe_device_t device, const AttentionCase& c, const char* impl, Rng& rng) {
  SCOPED_TRACE(c.name() + " impl~" + impl);
  xinhe_attention_desc_t d = c.desc();
  // LSE in (s, h) order with a gap, so its strides are exercised too.
  d.lse_strides[0] = c.seq_q * (c.heads_q + 1);
  d.lse_strides[1] = 1;
  d.lse_strides[2] = c.heads_q + 1;
  const int64_t lse_extents[3] = {c.batch, c.heads_q, c.seq_q};
  const int64_t lse_elems = xinhe::test::tensor_span(lse_extents, d.lse_strides, 3);

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
    std::printf("[ declined ] %s: %s\n", c.name().c_str(), why.c_str());
    return;
  }

  const HostArray q = HostArray::random(c.dtype, c.q_span(), rng);
  const HostArray k = HostArray::random(c.dtype, c.kv_span(), rng);
  const HostArray v = HostArray::random(c.dtype, c.kv_span(), rng);
  const int64_t rows = c.batch * c.heads_q * c.seq_q;
  std::vector<double> expected_o(static_cast<size_t>(rows * c.head_dim));
  std::vector<double> expected_lse(static_cast<size_t>(rows));
  xinhe::reference::attention(d, q.data(), k.data(), v.data(), expected_o.data(),
                              expected_lse.data());

  xinhe_stream_t stream = nullptr;
  ASSERT_XINHE_OK(xinhe_stream_create(device, &stream));
  struct StreamGuard {
    xinhe_stream_t s;
    ~StreamGuard() { xinhe_stream_destroy(s); }
  } stream_guard{stream};
  HostArray o_out(c.dtype, c.o_span()), lse_out(XINHE_DTYPE_F32, lse_elems);
  DeviceMemory dq(device, q.bytes.size()), dk(device, k.bytes.size()), dv(device, v.bytes.size()),
      dout(device, o_out.bytes.size()), dlse(device, lse_out.bytes.size());
  for (DeviceMemory* m : {&dq, &dk, &dv, &dout, &dlse}) ASSERT_XINHE_OK(m->take_status());
  for (const auto& [buffer, host] : {std::pair{dq.get(), &q}, {dk.get(), &k}, {dv.get(), &v}}) {
    if (!host->bytes.empty())
      ASSERT_XINHE_OK(
          xinhe_copy_host_to_device(stream, buffer, 0, host->data(), host->bytes.size()));
  }
  // Outputs poisoned with NaN, so an element the kernel leaves unwritten fails.
  for (const auto& [buffer, host] : {std::pair{dout.get(), &o_out}, {dlse.get(), &lse_out}}) {
    const uint32_t pattern = xinhe::test::poison_pattern(host->dtype);
    if (!host->bytes.empty())
      ASSERT_XINHE_OK(xinhe_buffer_fill(stream, buffer, 0, host->bytes.size(), &pattern,
                                        xinhe::test::poison_pattern_size(host->dtype)));
  }
  xinhe_attention_args_t args{};
  args.struct_size = sizeof args;
  args.q = dq.get();
  args.k = dk.get();
  args.v = dv.get();
  args.o = dout.get();
  args.lse = dlse.get();
  ASSERT_XINHE_OK(xinhe_attention_run(op, stream, &args));
  for (const auto& [buffer, host] : {std::pair{dout.get(), &o_out}, {dlse.get(), &lse_out}}) {
    if (!host->bytes.empty())
      ASSERT_XINHE_OK(
          xinhe_copy_device_to_host(stream, host->data(), buffer, 0, host->bytes.size()));
  }
  ASSERT_XINHE_OK(xinhe_stream_synchronize(stream));

  ErrorStats o_error;
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t h = 0; h < c.heads_q; ++h) {
      for (int64_t s = 0; s < c.seq_q; ++s) {
        const int64_t row = (b * c.heads_q + h) * c.seq_q + s;
        for (int64_t e = 0; e < c.head_dim; ++e) {
          const int64_t at =
              b * d.o_strides[0] + h * d.o_strides[1] + s * d.o_strides[2] + e * d.o_strides[3];
          o_error.add(o_out.get(at), expected_o[static_cast<size_t>(row * c.head_dim + e)],
                      row * c.head_dim + e);
        }
        // LSE (f32) per row, relative to its size.
        const double want = expected_lse[static_cast<size_t>(row)];
        const double have =
            lse_out.get(b * d.lse_strides[0] + h * d.lse_strides[1] + s * d.lse_strides[2]);
        if (std::isinf(want)) {
          EXPECT_TRUE(std::isinf(have) && have < 0) << "LSE of a row with no key: " << have;
        } else {
          EXPECT_LE(std::fabs(have - want),
                    tolerance(XINHE_DTYPE_F32, 0) * std::max(1.0, std::fabs(want)))
              << "LSE at b=" << b << " h=" << h << " s=" << s << ": " << have << ", want " << want;
        }
      }
    }
  }
  EXPECT_LE(o_error.normalized(), tolerance(c.dtype, std::max(c.head_dim, c.seq_kv)))
      << "max |O - ref| / max |ref|, worst element " << o_error.worst_index;
  std::printf("[ checked  ] %s: %s error=%.3g\n", c.name().c_str(), xinhe_attention_impl_name(op),
              o_error.normalized());
}

void gemm_numerics(const PluginUnderTest& plugin) {
  std::string why_not;
  xinhe_device_t device = plugin_device(plugin, &why_not);
  if (device == nullptr)
    GTEST_SKIP() << "no " << (std::strcmp(plugin.name, "cuda") == 0 ? "CUDA" : "HIP")
                 << " device: " << why_not;
  Rng rng(1234);
  for (const char* impl : {"wgmma", "tensorop", "mfma", "cublas", "hipblas", "simt", "naive", ""}) {
    for (const GemmCase& g : gemm_cases()) run_gemm_case(device, g, impl, rng);
  }
}

void attention_numerics(const PluginUnderTest& plugin) {
  std::string why_not;
  xinhe_device_t device = plugin_device(plugin, &why_not);
  if (device == nullptr)
    GTEST_SKIP() << "no " << (std::strcmp(plugin.name, "cuda") == 0 ? "CUDA" : "HIP")
                 << " device: " << why_not;
  Rng rng(4321);
  for (const char* impl : {"wgmma", "tensorop", "flash", "naive"}) {
    for (const AttentionCase& c : attention_cases()) run_attention_case(device, c, impl, rng);
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
