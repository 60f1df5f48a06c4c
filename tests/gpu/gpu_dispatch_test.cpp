// The dispatch of the shared GPU backend (backends/gpu/) without a GPU: the backend built over a
// host stand-in for the vendor layer (fake_gpu_driver.h) as the "fakegpu" plugin, loaded
// through the public API. Each suite is one device, described by the capabilities a vendor layer
// reports (the ctest entry sets XINHE_FAKEGPU_CAPS): which implementation each op selects, the
// implementation filter, fall-through when a kernel is missing from the image, the kernel and
// launch geometry each run uses (from the launch log), and the kernel swaps decided per run,
// which xinhe_gemm_run_impl_name reports and XINHE_VERBOSE=dispatch logs once per op. Kernels
// do not run here; the host emulation test checks what they compute.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attention_cuda.h"
#include "gemm_cuda.h"
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

}  // namespace
