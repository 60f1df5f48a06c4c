// The dispatch of the shared GPU backend (backends/gpu/) without a GPU: the backend built over a
// host stand-in for the vendor layer (fake_gpu_driver.h) as the "fakegpu" plugin, loaded
// through the public API. Each suite is one device, described by the capabilities a vendor layer
// reports (the ctest entry sets XINHE_FAKEGPU_CAPS): which implementation each op selects, the
// implementation filter, fall-through when a kernel is missing from the image, the kernel and
// launch geometry each run uses (from the launch log), and the kernel swaps decided per run,
// which xinhe_gemm_run_impl_name reports and XINHE_VERBOSE=dispatch logs once per op. Kernels
// do not run here; the host emulation test checks what they compute.
//
// Also here: each GEMM family's m limit is its own launch's (and its run-time fallbacks'); f64
// is declined at check with a dtype reason; every entry leaves the caller's current context as
// it found it (the fake driver keeps a per-thread current context); a kernel image that fails to
// load is named by its own op only (FakeGpuImageFails, XINHE_FAKEGPU_FAIL_IMAGE); and, with the
// hipBLAS table over the fake libhipblas (FakeGpuVendorBlas), the vendor BLAS declines dtypes it
// has no mapping for and gives each stream its own handle.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attention_cuda.h"
#include "attention_families.h"
#include "gemm_cuda.h"
#include "gemm_families.h"
#include "op_case.h"  // tests/support
#include "xinhe/xinhe.h"

namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

std::string take_message(xinhe_status_t s) {
  std::string text =
      std::string(xinhe_status_code_name(xinhe_status_code(s))) + ": " + xinhe_status_message(s);
  xinhe_status_free(s);
  return text;
}

#define ASSERT_OK(expr)                                                    \
  do {                                                                     \
    xinhe_status_t status_ = (expr);                                       \
    ASSERT_EQ(status_, nullptr) << #expr << ": " << take_message(status_); \
  } while (0)

xinhe_device_t fake_gpu() {
  xinhe_device_t device = nullptr;
  xinhe_status_t s = xinhe_device_get_by_name("fakegpu:0", &device);
  EXPECT_EQ(s, nullptr) << (s != nullptr ? take_message(s) : "");
  return device;
}

using xinhe::test::AttentionCase;
using xinhe::test::GemmCase;

// A dense row-major m x n x k GEMM, no transposes.
GemmCase gemm(xinhe_dtype_t ab, xinhe_dtype_t c, int64_t m, int64_t n, int64_t k) {
  return xinhe::test::gemm_case(ab, c, false, false, m, n, k);
}

// GQA over BHSD tensors: 2 batches, 4 query heads on 2 kv heads, 40 queries, 70 keys.
AttentionCase attention(xinhe_dtype_t dtype, int64_t head_dim) {
  AttentionCase a = xinhe::test::attention_case(dtype, 2, 4, 2, 40, 70, head_dim);
  a.scale = 0.125f;
  return a;
}

// A GEMM op with operands in one buffer each, runs appended to a launch log.
class GemmRun {
 public:
  GemmRun(xinhe_device_t device, const GemmCase& g) : device_(device), desc_(g.desc()) {
    if (xinhe_status_t s = xinhe_gemm_create(device, &desc_, &op_)) {
      ADD_FAILURE() << take_message(s);
      return;
    }
    // 64 spare elements: runs move A up to a few elements past its origin.
    const uint64_t element = xinhe_dtype_size(g.ab);
    const uint64_t a_bytes = static_cast<uint64_t>(g.a_span() + 64) * element;
    const uint64_t b_bytes = static_cast<uint64_t>(g.b_span() + 64) * element;
    const uint64_t c_bytes = static_cast<uint64_t>(g.c_span() + 64) * xinhe_dtype_size(g.c);
    EXPECT_EQ(xinhe_buffer_alloc(device, a_bytes, 0, &a_), nullptr);
    EXPECT_EQ(xinhe_buffer_alloc(device, b_bytes, 0, &b_), nullptr);
    EXPECT_EQ(xinhe_buffer_alloc(device, c_bytes, 0, &c_), nullptr);
    EXPECT_EQ(xinhe_stream_create(device, &stream_), nullptr);
  }
  ~GemmRun() {
    xinhe_stream_destroy(stream_);
    xinhe_buffer_free(a_);
    xinhe_buffer_free(b_);
    xinhe_buffer_free(c_);
    xinhe_gemm_destroy(op_);
  }
  std::string impl() const { return op_ != nullptr ? xinhe_gemm_impl_name(op_) : ""; }
  std::string check() const {
    xinhe_status_t s = xinhe_gemm_check(op_);
    return s == nullptr ? "" : take_message(s);
  }
  xinhe_gemm_args_t args(uint64_t a_offset) const {
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof args;
    args.a = a_;
    args.a_offset = a_offset;
    args.b = b_;
    args.c = c_;
    args.alpha = 1.0f;
    return args;
  }
  // The implementation xinhe_gemm_run_impl_name reports for A at a_offset bytes.
  std::string run_impl(uint64_t a_offset) const {
    const xinhe_gemm_args_t a = args(a_offset);
    const char* name = nullptr;
    if (xinhe_status_t s = xinhe_gemm_run_impl_name(op_, &a, &name)) return take_message(s);
    return name;
  }
  // Runs with A at a_offset bytes; returns the launch log line.
  std::string run(uint64_t a_offset) const;

 private:
  xinhe_device_t device_;
  xinhe_gemm_desc_t desc_;
  xinhe_gemm_t op_ = nullptr;
  xinhe_buffer_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  xinhe_stream_t stream_ = nullptr;
};

// The launches of fn, one line each, from the fake driver's launch log.
template <typename Fn>
std::vector<std::string> launches(Fn&& fn) {
  char path[] = "/tmp/xinhe_fakegpu_launches_XXXXXX";
  const int file = mkstemp(path);
  EXPECT_GE(file, 0);
  close(file);
  {
    ScopedEnv log("XINHE_FAKEGPU_LAUNCH_LOG", path);
    fn();
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::remove(path);
  return lines;
}

std::string GemmRun::run(uint64_t a_offset) const {
  const std::vector<std::string> lines = launches([&] {
    const xinhe_gemm_args_t a = args(a_offset);
    EXPECT_EQ(xinhe_gemm_run(op_, stream_, &a), nullptr);
  });
  return lines.size() == 1 ? lines[0] : "launches: " + std::to_string(lines.size());
}

// Runs fn with stderr going to a file and returns the xinhe[dispatch] lines written.
template <typename Fn>
std::vector<std::string> dispatch_lines(Fn&& fn) {
  char path[] = "/tmp/xinhe_fakegpu_stderr_XXXXXX";
  const int file = mkstemp(path);
  EXPECT_GE(file, 0);
  ScopedEnv verbose("XINHE_VERBOSE", "dispatch");
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(file, 2);
  fn();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("xinhe[dispatch]", 0) == 0) lines.push_back(line);
  }
  std::remove(path);
  return lines;
}

std::string attention_launch(xinhe_device_t device, const AttentionCase& a, std::string* impl) {
  const xinhe_attention_desc_t d = a.desc();
  xinhe_attention_t op = nullptr;
  if (xinhe_status_t s = xinhe_attention_create(device, &d, &op)) return take_message(s);
  *impl = xinhe_attention_impl_name(op);
  auto bytes = [&](int64_t elements) {
    return static_cast<uint64_t>(elements) * xinhe_dtype_size(a.dtype);
  };
  xinhe_buffer_t q = nullptr, k = nullptr, v = nullptr, o = nullptr;
  xinhe_stream_t stream = nullptr;
  EXPECT_EQ(xinhe_buffer_alloc(device, bytes(a.q_span()), 0, &q), nullptr);
  EXPECT_EQ(xinhe_buffer_alloc(device, bytes(a.kv_span()), 0, &k), nullptr);
  EXPECT_EQ(xinhe_buffer_alloc(device, bytes(a.kv_span()), 0, &v), nullptr);
  EXPECT_EQ(xinhe_buffer_alloc(device, bytes(a.o_span()), 0, &o), nullptr);
  EXPECT_EQ(xinhe_stream_create(device, &stream), nullptr);
  const std::vector<std::string> lines = launches([&] {
    xinhe_attention_args_t args{};
    args.struct_size = sizeof args;
    args.q = q;
    args.k = k;
    args.v = v;
    args.o = o;
    EXPECT_EQ(xinhe_attention_run(op, stream, &args), nullptr);
  });
  xinhe_stream_destroy(stream);
  for (xinhe_buffer_t b : {q, k, v, o}) xinhe_buffer_free(b);
  xinhe_attention_destroy(op);
  return lines.size() == 1 ? lines[0] : "launches: " + std::to_string(lines.size());
}

std::string launch_line(const std::string& kernel, uint32_t gx, uint32_t gy, uint32_t gz,
                        uint32_t bx, uint32_t by, uint32_t smem) {
  return kernel + " grid=" + std::to_string(gx) + "," + std::to_string(gy) + "," +
         std::to_string(gz) + " block=" + std::to_string(bx) + "," + std::to_string(by) +
         ",1 smem=" + std::to_string(smem);
}

// A GEMM op's implementation and check result, created only (no memory is allocated).
struct Created {
  std::string impl;
  std::string check;  // "" when the check passes
};
Created create_only(xinhe_device_t device, const xinhe_gemm_desc_t& d) {
  xinhe_gemm_t op = nullptr;
  if (xinhe_status_t s = xinhe_gemm_create(device, &d, &op)) return {"", take_message(s)};
  Created c{xinhe_gemm_impl_name(op), ""};
  if (xinhe_status_t s = xinhe_gemm_check(op)) c.check = take_message(s);
  xinhe_gemm_destroy(op);
  return c;
}

// f16 -> f32, m x 64 x 64, dense: only m is large.
xinhe_gemm_desc_t tall_gemm(int64_t m) {
  return gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, m, 64, 64).desc();
}

// f16 -> f32, 64 x n x 64, dense: only n is large.
xinhe_gemm_desc_t wide_gemm(int64_t n) {
  return gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, 64, n, 64).desc();
}

// The plugin's own symbol (fake_gpu_images.c), from the copy the core loaded.
template <typename Fn>
Fn plugin_symbol(const char* name) {
  const char* dir = std::getenv("XINHE_BACKEND_PATH");
  const std::string path = std::string(dir != nullptr ? dir : ".") + "/libxinhe_backend_fakegpu.so";
  void* plugin = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (plugin == nullptr) return nullptr;
  Fn fn = reinterpret_cast<Fn>(dlsym(plugin, name));
  dlclose(plugin);  // still loaded by the core
  return fn;
}

// Runs a sample of every kind of entry on device from a thread whose current fake context is
// `foreign` (0: none; 77: another library's), checking after each that it still is, and that
// the calls themselves succeeded (the fake fails device calls unless a fakegpu context is
// current, so this also shows each entry makes its own current).
void check_context_kept(xinhe_device_t device, int foreign) {
  auto current = plugin_symbol<int (*)()>("xinhe_fakegpu_current_context");
  auto set_current = plugin_symbol<void (*)(int)>("xinhe_fakegpu_set_current_context");
  ASSERT_TRUE(current != nullptr && set_current != nullptr) << dlerror();
  set_current(foreign);
  auto kept = [&](const char* what) {
    EXPECT_EQ(current(), foreign) << what << " changed the thread's current context";
  };
  xinhe_device_properties_t props{};
  props.struct_size = sizeof props;
  ASSERT_OK(xinhe_device_properties(device, &props));
  kept("xinhe_device_properties");
  xinhe_stream_t stream = nullptr;
  ASSERT_OK(xinhe_stream_create(device, &stream));
  kept("xinhe_stream_create");
  xinhe_buffer_t buffer = nullptr;
  ASSERT_OK(xinhe_buffer_alloc(device, 4096, 0, &buffer));
  kept("xinhe_buffer_alloc");
  std::vector<float> host(1024, 2.0f), back(1024, 0.0f);
  ASSERT_OK(xinhe_copy_host_to_device(stream, buffer, 0, host.data(), 4096));
  kept("xinhe_copy_host_to_device");
  const uint32_t pattern = 0x3f800000u;  // 1.0f
  ASSERT_OK(xinhe_buffer_fill(stream, buffer, 0, 2048, &pattern, 4));
  kept("xinhe_buffer_fill");
  ASSERT_OK(xinhe_copy_device_to_host(stream, back.data(), buffer, 0, 4096));
  kept("xinhe_copy_device_to_host");
  xinhe_event_t event = nullptr;
  ASSERT_OK(xinhe_event_create(device, &event));
  kept("xinhe_event_create");
  ASSERT_OK(xinhe_event_record(event, stream));
  kept("xinhe_event_record");
  ASSERT_OK(xinhe_event_synchronize(event));
  kept("xinhe_event_synchronize");
  ASSERT_OK(xinhe_stream_synchronize(stream));
  kept("xinhe_stream_synchronize");
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[511], 1.0f);
  EXPECT_EQ(back[512], 2.0f);
  {
    GemmRun g(device, gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 8, 8, 8));
    kept("xinhe_gemm_create");
    EXPECT_EQ(g.run(0), launch_line("xinhe_gemm_simt_f32_f32", 1, 1, 1, 256, 1, 0));
    kept("xinhe_gemm_run");
  }
  kept("xinhe_gemm_destroy");
  xinhe_event_destroy(event);
  kept("xinhe_event_destroy");
  xinhe_buffer_free(buffer);
  kept("xinhe_buffer_free");
  xinhe_stream_destroy(stream);
  kept("xinhe_stream_destroy");
  set_current(0);
}

// ---- No matrix units (a portable GPU)
// ------------------------------------------------------------

TEST(FakeGpuPortable, PortableKernelsRunWithTheirGeometry) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  GemmRun f16(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F16, 100, 70, 64));
  EXPECT_EQ(f16.impl(), "fakegpu.gemm.simt_f16");
  EXPECT_EQ(f16.run(0), launch_line("xinhe_gemm_simt_f16_f16", 2, 2, 1, 256, 1, 0));
  EXPECT_EQ(f16.run_impl(2), "fakegpu.gemm.simt_f16");  // simt takes any alignment

  std::string impl;
  EXPECT_EQ(attention_launch(device, attention(XINHE_DTYPE_BF16, 80), &impl),
            launch_line("xinhe_attention_flash_bf16_d128", 3, 4, 2, 128, 1, 0));
  EXPECT_EQ(impl, "fakegpu.attention.flash_bf16");
}

// The stand-in allocates with malloc (16-byte aligned), less than the 256 bytes the runtime
// rounds buffers up to: an exact-size buffer must still hold all of its bytes (the runtime once
// rounded the start up without room for it and wrote up to 240 bytes past the allocation,
// which xinhe-bench on fakegpu:0 turned into a crash; AddressSanitizer names it).
TEST(FakeGpuPortable, ExactSizeBuffersHoldEveryByteAtTheirAlignment) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  xinhe_device_properties_t props{};
  props.struct_size = sizeof props;
  ASSERT_OK(xinhe_device_properties(device, &props));
  xinhe_stream_t stream = nullptr;
  ASSERT_OK(xinhe_stream_create(device, &stream));
  for (uint64_t size : {1u, 100u, 255u, 4096u, 16384u}) {
    for (uint64_t alignment : {0u, 512u, 4096u}) {
      xinhe_buffer_t buffer = nullptr;
      ASSERT_OK(xinhe_buffer_alloc(device, size, alignment, &buffer));
      uint64_t address = 0;
      ASSERT_OK(xinhe_buffer_address(buffer, &address));
      EXPECT_EQ(address % std::max<uint64_t>(alignment, props.min_alignment), 0u)
          << "size " << size << " alignment " << alignment;
      std::vector<uint8_t> in(size), out(size, 0);
      for (uint64_t i = 0; i < size; ++i) in[i] = static_cast<uint8_t>(i * 7 + 1);
      ASSERT_OK(xinhe_copy_host_to_device(stream, buffer, 0, in.data(), size));
      ASSERT_OK(xinhe_copy_device_to_host(stream, out.data(), buffer, 0, size));
      ASSERT_OK(xinhe_stream_synchronize(stream));
      EXPECT_EQ(in, out) << "size " << size << " alignment " << alignment;
      xinhe_buffer_free(buffer);
    }
  }
  xinhe_stream_destroy(stream);
}

TEST(FakeGpuPortable, FilterSelectsAndNamesTheFilterWhenNothingMatches) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  {
    ScopedEnv filter("XINHE_GEMM_IMPL", "naive");
    GemmRun naive(device, gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 33, 20, 8));
    EXPECT_EQ(naive.impl(), "fakegpu.gemm.naive_f32");
    EXPECT_EQ(naive.run(0), launch_line("xinhe_gemm_naive_f32_f32", 2, 3, 1, 16, 16, 0));
  }
  {
    ScopedEnv filter("XINHE_GEMM_IMPL", "");
    GemmRun all(device, gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 33, 20, 8));
    EXPECT_EQ(all.impl(), "fakegpu.gemm.simt_f32");
  }
  ScopedEnv filter("XINHE_GEMM_IMPL", "tensorop");  // named, but the device has no mma.sync
  GemmRun none(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, 64, 64, 64));
  EXPECT_EQ(none.impl(), "fakegpu");
  const std::string check = none.check();
  EXPECT_NE(check.find("UNIMPLEMENTED: no fakegpu implementation runs gemm f16->f32 nn"),
            std::string::npos)
      << check;
  EXPECT_NE(check.find("fakegpu.gemm.tensorop_f16_f32_sm80: needs mma.sync (NVIDIA sm_80 or "
                       "newer), device is fake arch"),
            std::string::npos)
      << check;
  EXPECT_NE(check.find("fakegpu.gemm.simt_f16_f32: not named like XINHE_GEMM_IMPL='tensorop'"),
            std::string::npos)
      << check;
}

TEST(FakeGpuPortable, DispatchLineFollowsTheCommonGrammar) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  const std::vector<std::string> lines =
      dispatch_lines([&] { GemmRun g(device, gemm(XINHE_DTYPE_BF16, XINHE_DTYPE_F32, 8, 8, 8)); });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("xinhe[dispatch] fakegpu: gemm bf16->f32 nn m=8 n=8 k=8 batch=1 on fake "
                           "GPU -> fakegpu.gemm.simt_bf16_f32 (xinhe_gemm_simt_bf16_f32); skipped "
                           "fakegpu.gemm.wgmma_bf16_f32_sm90a: needs wgmma",
                           0),
            0u)
      << lines[0];
}

// A host application's thread keeps its current context across xinhe calls: another
// library's (77 here), or none.
TEST(FakeGpuPortable, EntriesRestoreTheCallersCurrentContext) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  check_context_kept(device, 77);
  std::thread other([&] { check_context_kept(device, 0); });
  other.join();
  std::thread third([&] { check_context_kept(device, 77); });
  third.join();
}

// f64 has no GPU kernel: declined at check with the dtype as the reason (not a kernel name
// with '?' in it), by every family.
TEST(FakeGpuPortable, F64GemmIsDeclinedWithADtypeReason) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  const Created c = create_only(device, gemm(XINHE_DTYPE_F64, XINHE_DTYPE_F64, 2, 2, 2).desc());
  EXPECT_EQ(c.impl, "fakegpu");
  EXPECT_EQ(c.check.rfind("UNIMPLEMENTED: ", 0), 0u) << c.check;
  EXPECT_NE(c.check.find("fakegpu.gemm.simt_f64: no simt kernel for f64 (the GPU kernels take "
                         "f32, f16 and bf16)"),
            std::string::npos)
      << c.check;
  EXPECT_NE(c.check.find("fakegpu.gemm.naive_f64: no naive kernel for f64"), std::string::npos)
      << c.check;
  EXPECT_EQ(c.check.find("_?"), std::string::npos) << c.check;
}

// Each family's m limit is what its own launch can cover: M blocks on grid y (<= 65535), for
// the family and for the families it hands runs to; the persistent wgmma kernel has none of
// its own. The boundaries follow gemm_launch itself.
TEST(FakeGpuPortable, GemmGridLimitsFollowEachFamilysLaunch) {
  using namespace xinhe::kernels::gpu;
  DeviceCapabilities every;  // all hardware, so only the grid can decline
  every.arch = "any";
  every.mma_sync = every.wgmma = every.tma = every.mfma = true;
  for (const GemmFamily& f : kGemmFamilies) {
    SCOPED_TRACE(f.method);
    const GemmGridLimit limit = gemm_grid_limit(f, every);
    if (f.id == GemmFamilyId::kWgmma) {
      EXPECT_EQ(limit.max_m, INT64_MAX);
      continue;
    }
    xinhe_gemm_cuda_params_t p = gemm_params(tall_gemm(limit.max_m));
    EXPECT_EQ(gemm_launch(f, p, 65535, 4).grid[1], 65535u) << "m = " << limit.max_m;
    p.m = limit.max_m + 1;  // one more row: one more block than grid y takes
    EXPECT_EQ(ceil_div64(p.m, limit.max_m / 65535), 65536);
    EXPECT_EQ(gemm_unsupported(f, every, tall_gemm(limit.max_m + 1)),
              "m too large for the grid (> " + std::to_string(limit.max_m) + ")");
  }
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kNaive), every).max_m, 1048560);
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kSimt), every).max_m, 4194240);
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kTensorOp), every).max_m, 8388480);
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kMfma), every).max_m, 8388480);
}

// HIP refuses a launch whose grid times block reaches 2^32 work-items in a dimension, so on a
// device that says so each family's n stops where its grid x times its threads along x would
// reach 2^32; one more column is refused at check time, not by the launch. The same attention
// seq_q. Without the limit (CUDA) those sizes pass the grid check.
TEST(FakeGpuPortable, GridsStayUnder2To32WorkItemsWhereTheDeviceLimitsThem) {
  using namespace xinhe::kernels::gpu;
  DeviceCapabilities every;
  every.arch = "any";
  every.mma_sync = every.wgmma = every.tma = every.mfma = true;
  DeviceCapabilities hip = every;
  hip.max_threads_per_dimension = 0xffffffffull;
  for (const GemmFamily& f : kGemmFamilies) {
    if (f.id == GemmFamilyId::kWgmma) continue;
    SCOPED_TRACE(f.method);
    const int64_t max_n = gemm_grid_limit(f, hip).max_n;
    EXPECT_LT(max_n, gemm_grid_limit(f, every).max_n);
    xinhe_gemm_cuda_params_t p = gemm_params(wide_gemm(max_n));
    Launch at = gemm_launch(f, p, 65535, 4);
    EXPECT_LE(uint64_t{at.grid[0]} * at.block[0], 0xffffffffull) << "n = " << max_n;
    p.n = max_n + 1;
    Launch over = gemm_launch(f, p, 65535, 4);
    EXPECT_GT(uint64_t{over.grid[0]} * over.block[0], 0xffffffffull) << "n = " << p.n;
    EXPECT_EQ(gemm_grid_unsupported(f, hip, wide_gemm(max_n), ""), "");
    EXPECT_EQ(gemm_grid_unsupported(f, hip, wide_gemm(max_n + 1), ""),
              "n too large for the grid (> " + std::to_string(max_n) + ")");
    EXPECT_EQ(gemm_grid_unsupported(f, every, wide_gemm(max_n + 1), ""), "");
  }
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kMfma), hip).max_n, 2147483520);
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kSimt), hip).max_n, 1073741760);
  EXPECT_EQ(gemm_grid_limit(gemm_family(GemmFamilyId::kNaive), hip).max_n, 4294967280);
  for (const AttentionFamily& f : kAttentionFamilies) {
    SCOPED_TRACE(f.method);
    xinhe_attention_desc_t d = attention(XINHE_DTYPE_F16, 64).desc();
    const int64_t max_rows = static_cast<int64_t>(0xffffffffull / f.threads) * f.rows_per_block;
    d.seq_q = max_rows;
    EXPECT_EQ(attention_unsupported(f, hip, d), "");
    xinhe_attention_cuda_params_t p{};
    p.batch = d.batch;
    p.heads_q = d.heads_q;
    p.seq_q = d.seq_q;
    p.head_dim = d.head_dim;
    const Launch at = xinhe::kernels::gpu::attention_launch(f, p, 65535);
    EXPECT_LE(uint64_t{at.grid[0]} * at.block[0], 0xffffffffull);
    d.seq_q = max_rows + 1;
    EXPECT_EQ(attention_unsupported(f, hip, d),
              "seq_q too large for the grid (> " + std::to_string(max_rows) + ")");
    EXPECT_EQ(attention_unsupported(f, every, d), "");
  }
}

TEST(FakeGpuPortable, PortableKernelsTakeTheMOfTheirOwnGrid) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(create_only(device, tall_gemm(4194240)).impl, "fakegpu.gemm.simt_f16_f32");
  const Created over = create_only(device, tall_gemm(4194241));
  EXPECT_EQ(over.impl, "fakegpu");
  EXPECT_NE(over.check.find("fakegpu.gemm.simt_f16_f32: m too large for the grid (> 4194240)"),
            std::string::npos)
      << over.check;
  EXPECT_NE(over.check.find("fakegpu.gemm.naive_f16_f32: m too large for the grid (> 1048560)"),
            std::string::npos)
      << over.check;
  ScopedEnv filter("XINHE_GEMM_IMPL", "naive");
  EXPECT_EQ(create_only(device, tall_gemm(1048560)).impl, "fakegpu.gemm.naive_f16_f32");
  EXPECT_EQ(create_only(device, tall_gemm(1048561)).impl, "fakegpu");
}

// ---- mma.sync (an sm_80-class GPU)
// ----------------------------------------------------------------

TEST(FakeGpuAmpere, TensorOpKernelsAndTheirSharedMemory) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  GemmRun g(device, gemm(XINHE_DTYPE_BF16, XINHE_DTYPE_F32, 300, 200, 64));
  EXPECT_EQ(g.impl(), "fakegpu.gemm.tensorop_bf16_f32_sm80");
  EXPECT_EQ(g.run(0), launch_line("xinhe_gemm_tensorop_bf16_f32_nn_sm80", 2, 3, 1, 256, 1,
                                  XINHE_GEMM_TENSOROP_SMEM_BYTES));
  // f32 inputs and unaligned rows are ruled out at create.
  GemmRun f32(device, gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 64, 64, 64));
  EXPECT_EQ(f32.impl(), "fakegpu.gemm.simt_f32");
  GemmRun odd(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F16, 64, 64, 60));  // lda 60
  EXPECT_EQ(odd.impl(), "fakegpu.gemm.simt_f16");

  std::string impl;
  EXPECT_EQ(attention_launch(device, attention(XINHE_DTYPE_F16, 128), &impl),
            launch_line("xinhe_attention_tensorop_f16_d128_sm80", 1, 4, 2, 128, 1,
                        XINHE_ATTENTION_TENSOROP_SMEM_BYTES(128)));
  EXPECT_EQ(impl, "fakegpu.attention.tensorop_f16_sm80");
}

// A or B not on 16 bytes: the simt kernel runs it, the run reports so, and the first such run of
// the op is logged (once).
TEST(FakeGpuAmpere, MisalignedOperandsRunTheSimtKernelVisibly) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  GemmRun g(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F16, 64, 64, 64));
  ASSERT_EQ(g.impl(), "fakegpu.gemm.tensorop_f16_sm80");
  EXPECT_EQ(g.run_impl(0), "fakegpu.gemm.tensorop_f16_sm80");
  EXPECT_EQ(g.run_impl(16), "fakegpu.gemm.tensorop_f16_sm80");
  EXPECT_EQ(g.run_impl(2), "fakegpu.gemm.simt_f16");
  std::vector<std::string> runs;
  const std::vector<std::string> lines = dispatch_lines([&] {
    runs.push_back(g.run(2));
    runs.push_back(g.run(0));
    runs.push_back(g.run(6));
  });
  EXPECT_EQ(runs[0], launch_line("xinhe_gemm_simt_f16_f16", 1, 1, 1, 256, 1, 0));
  EXPECT_EQ(runs[1], launch_line("xinhe_gemm_tensorop_f16_f16_nn_sm80", 1, 1, 1, 256, 1,
                                 XINHE_GEMM_TENSOROP_SMEM_BYTES));
  EXPECT_EQ(runs[2], launch_line("xinhe_gemm_simt_f16_f16", 1, 1, 1, 256, 1, 0));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "xinhe[dispatch] fakegpu: gemm f16->f16 nn m=64 n=64 k=64 batch=1 on fake GPU -> "
            "fakegpu.gemm.simt_f16 at run, not fakegpu.gemm.tensorop_f16_sm80: A or B does not "
            "start on a 16-byte boundary (logged once per op)");
  // Arguments are validated as for a run: an offset that is not a whole element.
  EXPECT_EQ(g.run_impl(1).rfind("INVALID_ARGUMENT: A offset 1 is not a multiple", 0), 0u)
      << g.run_impl(1);
}

// A kernel missing from the image is skipped with the reason, and the next entry runs.
TEST(FakeGpuAmpere, KernelMissingFromTheImageFallsThrough) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  ScopedEnv missing("XINHE_FAKEGPU_MISSING", "xinhe_gemm_tensorop_f16_f16_nt_sm80");
  const GemmCase d =
      xinhe::test::gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F16, false, true, 64, 64, 64);
  std::vector<std::string> lines;
  lines = dispatch_lines([&] {
    GemmRun g(device, d);
    EXPECT_EQ(g.impl(), "fakegpu.gemm.simt_f16");
  });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("; skipped fakegpu.gemm.tensorop_f16_sm80: kernel "
                          "xinhe_gemm_tensorop_f16_f16_nt_sm80 is not in the loaded image for "
                          "fake arch"),
            std::string::npos)
      << lines[0];
}

// tensorop's grid takes m up to 8388480, its misaligned runs (simt) up to 4194240.
TEST(FakeGpuAmpere, TensorOpTakesTheMItsRunsCanLaunch) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(create_only(device, tall_gemm(1048561)).impl, "fakegpu.gemm.tensorop_f16_f32_sm80");
  EXPECT_EQ(create_only(device, tall_gemm(4194240)).impl, "fakegpu.gemm.tensorop_f16_f32_sm80");
  const Created over = create_only(device, tall_gemm(4194241));
  EXPECT_NE(over.check.find("fakegpu.gemm.tensorop_f16_f32_sm80: m too large for the grid of simt "
                            "(misaligned A or B) (> 4194240)"),
            std::string::npos)
      << over.check;
}

// ---- wgmma + TMA (an sm_90a-class GPU)
// -------------------------------------------------------------

TEST(FakeGpuHopper, WgmmaRunsPersistentAndLayoutsTmaCannotTakeGoToTheSm80Kernel) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  GemmRun g(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, 1000, 1000, 64));
  EXPECT_EQ(g.impl(), "fakegpu.gemm.wgmma_f16_f32_sm90a");
  // 8 x 4 tiles of 128 x 256 on a 4-unit device: 4 persistent CTAs.
  EXPECT_EQ(g.run(0), launch_line("xinhe_gemm_wgmma_f16_f32_nn_sm90a", 4, 1, 1,
                                  XINHE_GEMM_WGMMA_THREADS, 1, XINHE_GEMM_WGMMA_SMEM_BYTES));
  // A broadcast B cannot be a TMA dimension: decided at create.
  GemmCase broadcast = gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, 64, 64, 64);
  broadcast.batched(2).broadcast(false, true);
  std::vector<std::string> lines = dispatch_lines(
      [&] { EXPECT_EQ(GemmRun(device, broadcast).impl(), "fakegpu.gemm.tensorop_f16_f32_sm80"); });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("; skipped fakegpu.gemm.wgmma_f16_f32_sm90a: TMA cannot describe the "
                          "operands: a zero batch stride"),
            std::string::npos)
      << lines[0];

  std::string impl;
  EXPECT_EQ(attention_launch(device, attention(XINHE_DTYPE_BF16, 64), &impl),
            launch_line("xinhe_attention_wgmma_bf16_d64_sm90a", 1, 4, 2,
                        XINHE_ATTENTION_WGMMA_THREADS, 1, XINHE_ATTENTION_WGMMA_SMEM_BYTES(64)));
  EXPECT_EQ(impl, "fakegpu.attention.wgmma_bf16_sm90a");
}

// Tensor maps the driver refuses at run time: the sm_80 kernel bound at create runs it, visibly.
TEST(FakeGpuHopper, RefusedTensorMapsRunTheSm80KernelVisibly) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  GemmRun g(device, gemm(XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, 128, 256, 64));
  ASSERT_EQ(g.impl(), "fakegpu.gemm.wgmma_bf16_sm90a");
  ScopedEnv refuse("XINHE_FAKEGPU_REFUSE_TMA", "1");
  EXPECT_EQ(g.run_impl(0), "fakegpu.gemm.tensorop_bf16_sm80");
  EXPECT_EQ(g.run_impl(2), "fakegpu.gemm.simt_bf16");  // misaligned first
  std::string run;
  const std::vector<std::string> lines = dispatch_lines([&] { run = g.run(0); });
  EXPECT_EQ(run, launch_line("xinhe_gemm_tensorop_bf16_bf16_nn_sm80", 2, 1, 1, 256, 1,
                             XINHE_GEMM_TENSOROP_SMEM_BYTES));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("-> fakegpu.gemm.tensorop_bf16_sm80 at run, not "
                          "fakegpu.gemm.wgmma_bf16_sm90a: the driver refused its tensor maps"),
            std::string::npos)
      << lines[0];
}

// An LLM-sized m (the review's 1048561 tokens) runs on wgmma; the limit is its fallbacks'.
TEST(FakeGpuHopper, WgmmaTakesTheMItsRunsCanLaunch) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(create_only(device, tall_gemm(1048561)).impl, "fakegpu.gemm.wgmma_f16_f32_sm90a");
  const Created at = create_only(device, tall_gemm(4194240));
  EXPECT_EQ(at.impl, "fakegpu.gemm.wgmma_f16_f32_sm90a");
  EXPECT_EQ(at.check, "");
  const Created over = create_only(device, tall_gemm(4194241));
  EXPECT_EQ(over.impl, "fakegpu");
  EXPECT_NE(over.check.find("fakegpu.gemm.wgmma_f16_f32_sm90a: m too large for the grid of simt "
                            "(misaligned A or B) (> 4194240)"),
            std::string::npos)
      << over.check;
}

// ---- MFMA (a CDNA GPU)
// ------------------------------------------------------------------------------

TEST(FakeGpuCdna, MfmaKernelsWithTheSimtFallback) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  GemmRun g(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F32, 200, 136, 32));
  EXPECT_EQ(g.impl(), "fakegpu.gemm.mfma_f16_f32_gfx90a");
  EXPECT_EQ(g.run(0), launch_line("xinhe_gemm_mfma_f16_f32_nn", 2, 2, 1, 256, 1, 0));
  EXPECT_EQ(g.run_impl(4), "fakegpu.gemm.simt_f16_f32");
  std::string impl;
  attention_launch(device, attention(XINHE_DTYPE_F16, 64), &impl);
  EXPECT_EQ(impl, "fakegpu.attention.flash_f16");  // no mma.sync: the CUDA-core kernel
}

TEST(FakeGpuCdna, MfmaTakesTheMItsRunsCanLaunch) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(create_only(device, tall_gemm(4194240)).impl, "fakegpu.gemm.mfma_f16_f32_gfx90a");
  EXPECT_EQ(create_only(device, tall_gemm(4194241)).impl, "fakegpu");
}

// The device says it is HIP-like (under 2^32 work-items per dimension): MFMA takes the n its
// SIMT fallback can launch (256 threads, 64 columns a block), the naive kernel (16 threads
// along x) the n up to its own limit, and beyond that no family does.
TEST(FakeGpuCdna, GemmsTakeTheNTheirRunsCanLaunchUnderHipsWorkItemLimit) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(create_only(device, wide_gemm(1073741760)).impl, "fakegpu.gemm.mfma_f16_f32_gfx90a");
  // n stays a multiple of 8, so MFMA's aligned rows are not what declines it; its own grid
  // would take this n (up to 2147483520), its SIMT fallback's would not.
  EXPECT_EQ(create_only(device, wide_gemm(1073741768)).impl, "fakegpu.gemm.naive_f16_f32");
  EXPECT_EQ(create_only(device, wide_gemm(4294967280)).impl, "fakegpu.gemm.naive_f16_f32");
  const Created over = create_only(device, wide_gemm(4294967288));
  EXPECT_EQ(over.impl, "fakegpu");
  EXPECT_NE(over.check.find("fakegpu.gemm.mfma_f16_f32_gfx90a: n too large for the grid "
                            "(> 2147483520)"),
            std::string::npos)
      << over.check;
  EXPECT_NE(over.check.find("fakegpu.gemm.naive_f16_f32: n too large for the grid (> 4294967280)"),
            std::string::npos)
      << over.check;
}

// ---- One kernel image fails to load (XINHE_FAKEGPU_FAIL_IMAGE=gemm or attention)
// ----------------

// The op whose image failed names that image; the other op still runs on its own image.
TEST(FakeGpuImageFails, EachOpNamesItsOwnImage) {
  const char* failed = std::getenv("XINHE_FAKEGPU_FAIL_IMAGE");
  ASSERT_NE(failed, nullptr);
  const bool gemm_failed = std::strcmp(failed, "gemm") == 0;
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  const Created g = create_only(device, gemm(XINHE_DTYPE_F16, XINHE_DTYPE_F16, 64, 64, 64).desc());
  const xinhe_attention_desc_t ad = attention(XINHE_DTYPE_F16, 64).desc();
  xinhe_attention_t a = nullptr;
  ASSERT_OK(xinhe_attention_create(device, &ad, &a));
  const std::string attention_impl = xinhe_attention_impl_name(a);
  xinhe_status_t s = xinhe_attention_check(a);
  const std::string attention_check = s == nullptr ? "" : take_message(s);
  xinhe_attention_destroy(a);
  if (gemm_failed) {
    EXPECT_EQ(g.impl, "fakegpu");
    EXPECT_NE(g.check.find("the GEMM kernel image does not load on fake arch: module_load"),
              std::string::npos)
        << g.check;
    EXPECT_EQ(attention_impl, "fakegpu.attention.flash_f16");
    EXPECT_EQ(attention_check, "");
  } else {
    EXPECT_EQ(attention_impl, "fakegpu");
    EXPECT_NE(attention_check.find("the attention kernel image does not load on fake arch: "
                                   "module_load"),
              std::string::npos)
        << attention_check;
    EXPECT_EQ(g.impl, "fakegpu.gemm.simt_f16");
    EXPECT_EQ(g.check, "");
  }
}

// ---- The hipBLAS table over the fake libhipblas (no matrix units)
// -------------------------------

// The fake library's test hooks, from the copy the plugin loaded as libhipblas.so.2.
struct FakeHipblasHooks {
  FakeHipblasHooks() {
    library = dlopen(XINHE_FAKE_HIPBLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return;
    live_handles = reinterpret_cast<int (*)()>(dlsym(library, "xinhe_fake_hipblas_live_handles"));
    last_handle = reinterpret_cast<void* (*)()>(dlsym(library, "xinhe_fake_hipblas_last_handle"));
    last_stream = reinterpret_cast<void* (*)()>(dlsym(library, "xinhe_fake_hipblas_last_stream"));
    gemm_calls = reinterpret_cast<int (*)()>(dlsym(library, "xinhe_fake_hipblas_gemm_calls"));
    unsafe_switches =
        reinterpret_cast<int (*)()>(dlsym(library, "xinhe_fake_hipblas_unsafe_switches"));
  }
  ~FakeHipblasHooks() {
    if (library != nullptr) dlclose(library);
  }
  bool ok() const {
    return live_handles && last_handle && last_stream && gemm_calls && unsafe_switches;
  }
  void* library = nullptr;
  int (*live_handles)() = nullptr;
  void* (*last_handle)() = nullptr;
  void* (*last_stream)() = nullptr;
  int (*gemm_calls)() = nullptr;
  int (*unsafe_switches)() = nullptr;
};

TEST(FakeGpuVendorBlas, F64IsDeclinedAtCheckNotRunAsF32) {
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(create_only(device, gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 2, 2, 2).desc()).impl,
            "fakegpu.gemm.hipblas_f32");
  for (const xinhe_dtype_t c_dtype : {XINHE_DTYPE_F64, XINHE_DTYPE_F32}) {
    const Created c = create_only(device, gemm(XINHE_DTYPE_F64, c_dtype, 2, 2, 2).desc());
    SCOPED_TRACE(c.impl);
    EXPECT_EQ(c.impl, "fakegpu");
    EXPECT_EQ(c.check.rfind("UNIMPLEMENTED: ", 0), 0u) << c.check;
    EXPECT_NE(c.check.find(std::string(": hipblas GEMM takes f32->f32, f16->f16, f16->f32, "
                                       "bf16->bf16 or bf16->f32, not f64->") +
                           (c_dtype == XINHE_DTYPE_F64 ? "f64" : "f32")),
              std::string::npos)
        << c.check;
  }
}

// Two streams, GEMMs alternating between them: each stream runs on its own handle, bound once,
// so no handle is ever switched to another stream while work may be queued on the first; each
// stream's results are right; destroying a stream destroys its handle.
TEST(FakeGpuVendorBlas, EachStreamHasItsOwnHandle) {
  FakeHipblasHooks hooks;
  ASSERT_TRUE(hooks.ok()) << dlerror();
  xinhe_device_t device = fake_gpu();
  ASSERT_NE(device, nullptr);
  const GemmCase g = gemm(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 2, 2, 2);
  const xinhe_gemm_desc_t d = g.desc();
  xinhe_gemm_t op = nullptr;
  ASSERT_OK(xinhe_gemm_create(device, &d, &op));
  ASSERT_EQ(std::string(xinhe_gemm_impl_name(op)), "fakegpu.gemm.hipblas_f32");
  const int handles_before = hooks.live_handles();
  const int switches_before = hooks.unsafe_switches();
  xinhe_stream_t streams[2] = {};
  xinhe_buffer_t a = nullptr, b[2] = {}, c[2] = {};
  ASSERT_OK(xinhe_buffer_alloc(device, 16, 0, &a));
  const float a_host[4] = {1, 2, 3, 4};
  const float b_host[2][4] = {{5, 6, 7, 8}, {1, 0, 0, 1}};
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(xinhe_stream_create(device, &streams[i]));
    ASSERT_OK(xinhe_buffer_alloc(device, 16, 0, &b[i]));
    ASSERT_OK(xinhe_buffer_alloc(device, 16, 0, &c[i]));
    ASSERT_OK(xinhe_copy_host_to_device(streams[i], a, 0, a_host, 16));
    ASSERT_OK(xinhe_copy_host_to_device(streams[i], b[i], 0, b_host[i], 16));
  }
  void* handle_of[2] = {};
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 2; ++i) {
      xinhe_gemm_args_t args{};
      args.struct_size = sizeof args;
      args.a = a;
      args.b = b[i];
      args.c = c[i];
      args.alpha = 1.0f;
      ASSERT_OK(xinhe_gemm_run(op, streams[i], &args));
      if (round == 0) handle_of[i] = hooks.last_handle();
      EXPECT_EQ(hooks.last_handle(), handle_of[i]) << "stream " << i << " round " << round;
    }
  }
  EXPECT_NE(handle_of[0], handle_of[1]) << "two streams shared one handle";
  EXPECT_EQ(hooks.unsafe_switches() - switches_before, 0)
      << "a handle with queued GEMMs was switched to another stream";
  EXPECT_EQ(hooks.live_handles() - handles_before, 1) << "the second stream's handle";
  const float expected[2][4] = {{19, 22, 43, 50}, {1, 2, 3, 4}};
  for (int i = 0; i < 2; ++i) {
    float out[4] = {};
    ASSERT_OK(xinhe_copy_device_to_host(streams[i], out, c[i], 0, 16));
    ASSERT_OK(xinhe_stream_synchronize(streams[i]));
    for (int e = 0; e < 4; ++e) EXPECT_EQ(out[e], expected[i][e]) << "stream " << i;
  }
  xinhe_stream_destroy(streams[1]);
  EXPECT_EQ(hooks.live_handles() - handles_before, 0) << "a destroyed stream keeps its handle";
  xinhe_stream_destroy(streams[0]);
  EXPECT_EQ(hooks.live_handles() - handles_before, -1);
  for (int i = 0; i < 2; ++i) {
    xinhe_buffer_free(b[i]);
    xinhe_buffer_free(c[i]);
  }
  xinhe_buffer_free(a);
  xinhe_gemm_destroy(op);
}

}  // namespace
