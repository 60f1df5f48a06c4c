// xinhe-opencl-probe: the measurements quoted in docs/opencl.md, each a median of several
// runs after a warm-up, on the first OpenCL device, driven through the plugin's own table.
//   gemm       SGEMM N^3: xinhe's dispatch choice vs CLBlast (through the backend's CLBlast
//              implementation) vs OpenBLAS cblas_sgemm on the host (same cores)
//   attention  forward attention, B*H = 8, given S and D, f32
//   first-call process-level cost of open device + create op + first run (cold or warm
//              cache depends on XINHE_CACHE_DIR / POCL_CACHE_DIR, set by the caller)
//   overhead   per-op host cost: op run + synchronize of a 1x1x1 GEMM vs a raw
//              clEnqueueNDRangeKernel + clFinish of an empty kernel on the same queue
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "cli_parse.h"
#include "op_common.h"
#include "testing/opencl_op_timer.h"

#if XINHE_PROBE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using namespace xinhe::opencl;
using namespace xinhe::opencl::testing;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int gemm_mode(const Session& s, int n, int reps, bool with_clblast) {
  const xinhe_gemm_desc_t d = square_gemm_case(XINHE_DTYPE_F32, n).desc();
  const xinhe_be_op_desc_t desc{sizeof(xinhe_be_op_desc_t), XINHE_OP_GEMM, &d, nullptr};
  const double flops = 2.0 * n * n * static_cast<double>(n);
  const Timing mine = time_op(s, desc, OpOverrides{}, reps);
  if (!mine.ok) {
    std::fprintf(stderr, "gemm: %s\n", mine.error.c_str());
    return 1;
  }
  std::printf("sgemm %d xinhe %-28s %8.1f GFLOP/s\n", n, mine.impl.c_str(),
              flops / mine.median_s * 1e-9);
  if (with_clblast) {
    OpOverrides ov;
    ov.impl_filter = "clblast";
    const Timing cb = time_op(s, desc, ov, reps);
    if (cb.ok)
      std::printf("sgemm %d clblast %-26s %8.1f GFLOP/s\n", n, cb.impl.c_str(),
                  flops / cb.median_s * 1e-9);
    else
      std::printf("sgemm %d clblast unavailable: %s\n", n, cb.error.c_str());
  }
#if XINHE_PROBE_HAVE_OPENBLAS
  std::vector<float> a(static_cast<size_t>(n) * n), b(a.size()), c(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
    b[i] = static_cast<float>((i * 104729) % 1000) / 1000.0f - 0.5f;
  }
  std::vector<double> samples;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    if (r > 0) samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::printf("sgemm %d openblas %-25s %8.1f GFLOP/s\n", n, "cblas_sgemm",
              flops / median(samples) * 1e-9);
#endif
  return 0;
}

int attention_mode(const Session& s, int seq, int dim, int reps, bool causal) {
  const xinhe_attention_desc_t d =
      bhsd_attention_case(XINHE_DTYPE_F32, 1, 8, seq, dim, causal).desc();
  const xinhe_be_op_desc_t desc{sizeof(xinhe_be_op_desc_t), XINHE_OP_ATTENTION, nullptr, &d};
  double flops = 4.0 * 8 * seq * static_cast<double>(seq) * dim;
  if (causal) flops /= 2;
  const Timing t = time_op(s, desc, OpOverrides{}, reps);
  if (!t.ok) {
    std::fprintf(stderr, "attention: %s\n", t.error.c_str());
    return 1;
  }
  std::printf("attention f32 B*H=8 S=%d D=%d%s %-28s %8.2f ms %7.2f GFLOP/s\n", seq, dim,
              causal ? " causal" : "", t.impl.c_str(), t.median_s * 1e3, flops / t.median_s * 1e-9);
  return 0;
}

int first_call_mode(const Clock::time_point process_start, int n) {
  const auto t0 = Clock::now();
  Session s;
  if (!s.available()) {
    std::fprintf(stderr, "no OpenCL: %s\n", s.reason().c_str());
    return 77;
  }
  const auto t_open = Clock::now();
  const xinhe_gemm_desc_t d = square_gemm_case(XINHE_DTYPE_F32, n).desc();
  const xinhe_be_op_desc_t desc{sizeof(xinhe_be_op_desc_t), XINHE_OP_GEMM, &d, nullptr};
  const Timing t = time_op(s, desc, OpOverrides{}, 1);  // create + warm-up run + 1 run
  const auto t_end = Clock::now();
  if (!t.ok) {
    std::fprintf(stderr, "first-call: %s\n", t.error.c_str());
    return 1;
  }
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  const ProgramCacheStats st = s.device()->programs->stats();
  std::printf(
      "first-call sgemm %d: open %.0f ms, create+2 runs %.0f ms (one run %.0f ms), "
      "since process start %.0f ms; builds=%llu disk_hits=%llu\n",
      n, ms(t_open - t0), ms(t_end - t_open), t.median_s * 1e3, ms(t_end - process_start),
      static_cast<unsigned long long>(st.builds), static_cast<unsigned long long>(st.disk_hits));
  return 0;
}

int overhead_mode(const Session& s, int reps) {
  const ClApi& cl = s.device()->cl();
  const cl_command_queue q = stream_queue(s.stream());
  // A raw empty kernel, built outside the cache to keep the baseline free of xinhe code.
  const char* src = "__kernel void xinhe_empty(void) {}";
  cl_int err = CL_SUCCESS;
  cl_program program = cl.clCreateProgramWithSource(s.device()->context, 1, &src, nullptr, &err);
  if (err == CL_SUCCESS) err = cl.clBuildProgram(program, 1, &s.device()->id, "", nullptr, nullptr);
  cl_kernel kernel = err == CL_SUCCESS ? cl.clCreateKernel(program, "xinhe_empty", &err) : nullptr;
  if (err != CL_SUCCESS) {
    std::fprintf(stderr, "overhead: empty kernel: %s\n", cl_error_name(err).c_str());
    return 1;
  }
  const size_t one = 1;
  std::vector<double> raw;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = Clock::now();
    cl.clEnqueueNDRangeKernel(q, kernel, 1, nullptr, &one, nullptr, 0, nullptr, nullptr);
    cl.clFinish(q);
    if (r > 0) raw.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  cl.clReleaseKernel(kernel);
  cl.clReleaseProgram(program);

  // 1x1x1: the kernel itself is as close to empty as a GEMM gets.
  const xinhe_gemm_desc_t d = square_gemm_case(XINHE_DTYPE_F32, 1).desc();
  std::unique_ptr<Op> op;
  Status st(create_gemm_op(s.device(), d, OpOverrides{}, &op));
  if (!st.ok()) {
    std::fprintf(stderr, "overhead: %s\n", st.message().c_str());
    return 1;
  }
  Status up;
  xinhe::test::Rng rng(1);
  xinhe::test::HostArray one_element(XINHE_DTYPE_F32, 1);
  auto random_element = [&] {
    one_element.randomize(rng);
    return one_element.bytes;
  };
  auto a = upload(s, random_element(), 0, &up);
  auto b = upload(s, random_element(), 0, &up);
  auto c = upload(s, random_element(), 0, &up);
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = XINHE_OP_GEMM;
  args.mem[XINHE_GEMM_ARG_A] = {a->get(), 0};
  args.mem[XINHE_GEMM_ARG_B] = {b->get(), 0};
  args.mem[XINHE_GEMM_ARG_C] = {c->get(), 0};
  args.alpha = 1.0f;
  std::vector<double> ours;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = Clock::now();
    Status run(op->run(q, args));
    Status sync(s.api()->stream_synchronize(s.stream()));
    if (r > 0) ours.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  const double raw_us = median(raw), ours_us = median(ours);
  std::printf(
      "overhead: raw empty kernel enqueue+finish %.1f us; xinhe 1x1x1 gemm run+sync "
      "%.1f us (%s); added %.1f us per op (median of %d)\n",
      raw_us, ours_us, op->impl_name(), ours_us - raw_us, reps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto process_start = Clock::now();
  CLI::App app{"xinhe-opencl-probe: OpenCL backend measurements for docs/opencl.md"};
  app.require_subcommand(1);
  int reps = 5;
  app.add_option("--reps", reps, "timed runs (median) after one warm-up")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  int n = 1024;
  bool no_clblast = false;
  auto* gemm = app.add_subcommand("gemm", "SGEMM N^3 vs CLBlast and OpenBLAS");
  gemm->add_option("--size", n, "M = N = K")->check(CLI::Range(1, 16384))->capture_default_str();
  gemm->add_flag("--no-clblast", no_clblast, "skip CLBlast (its first call builds for minutes)");
  int seq = 1024, dim = 64;
  bool causal = false;
  auto* attn = app.add_subcommand("attention", "f32 attention, B*H = 8");
  attn->add_option("--seq", seq, "Sq = Skv")->check(CLI::Range(1, 65536))->capture_default_str();
  attn->add_option("--dim", dim, "head_dim")->check(CLI::Range(1, 256))->capture_default_str();
  attn->add_flag("--causal", causal, "causal mask");
  auto* first = app.add_subcommand("first-call", "open + create + first SGEMM in this process");
  first->add_option("--size", n, "M = N = K")->check(CLI::Range(1, 16384))->capture_default_str();
  auto* overhead = app.add_subcommand("overhead", "host cost per op vs a raw empty kernel");
  XINHE_TOOL_PARSE(app, argc, argv);

  if (first->parsed()) return first_call_mode(process_start, n);
  Session s;
  if (!s.available()) {
    std::fprintf(stderr, "no OpenCL: %s\n", s.reason().c_str());
    return 77;
  }
  if (gemm->parsed()) return gemm_mode(s, n, reps, !no_clblast);
  if (attn->parsed()) return attention_mode(s, seq, dim, reps, causal);
  if (overhead->parsed()) return overhead_mode(s, reps);
  return 0;
}
