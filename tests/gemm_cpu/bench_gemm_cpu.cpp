// CPU GEMM benchmark: each implementation (or those whose label contains --impl) against the
// OpenBLAS entry (cpu.gemm.openblas_f32) on the project's target shapes, with 1 and 2 threads.
// Prints GFLOP/s (median of several timed runs after a warm-up) and the ratio to OpenBLAS. A
// measuring tool, not a test: it checks nothing beyond running.
//
//   bench_gemm_cpu [--threads 1,2] [--impl avx2] [--dtype f32|f16|bf16] [--shapes 512x512x512,...]
//                  [--clock wall|cpu]
// --clock cpu times process CPU time instead of wall time: with one thread it hides time the
// process spent descheduled on a busy machine (with more threads it measures total work).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "gemm_cpu.h"
#include "numerics.h"  // tests/support
#include "op_case.h"
#include "thread_pool.h"

namespace {

using xinhe::kernels::Parallel;
using xinhe::kernels::cpu::GemmImpl;
using xinhe::kernels::cpu::GemmProblem;

struct Shape {
  int64_t m, n, k;
};

bool g_cpu_clock = false;

double now_seconds() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t pos; (pos = s.find(sep, start)) != std::string::npos; start = pos + 1) {
    out.push_back(s.substr(start, pos - start));
  }
  out.push_back(s.substr(start));
  return out;
}

// Median seconds of one run of each problem. Runs are interleaved (OpenBLAS, impl, OpenBLAS,
// ...) so that load from other processes hits both sides alike; one warm-up each, then at
// least 5 rounds and about 1 s in all.
std::vector<double> time_runs(const std::vector<std::pair<const GemmImpl*, GemmProblem>>& runs,
                              Parallel& parallel) {
  for (const auto& [impl, problem] : runs) impl->run(problem, parallel);
  std::vector<std::vector<double>> times(runs.size());
  double total = 0.0;
  for (int round = 0; round < 5 || (total < 1.0 && round < 200); ++round) {
    for (size_t i = 0; i < runs.size(); ++i) {
      const double t0 = now_seconds();
      runs[i].first->run(runs[i].second, parallel);
      const double s = now_seconds() - t0;
      times[i].push_back(s);
      total += s;
    }
  }
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  std::string impl_filter;
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  std::vector<Shape> shapes = {{64, 64, 64},     {128, 128, 128},    {256, 256, 256},
                               {512, 512, 512},  {1024, 1024, 1024}, {2048, 2048, 2048},
                               {4096, 4096, 64}, {64, 4096, 4096}};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf(
          "usage: bench_gemm_cpu [--threads 1,2] [--impl LABEL] [--dtype f32|f16|bf16]\n"
          "                      [--shapes MxNxK,...] [--clock wall|cpu]\n"
          "GFLOP/s of each CPU GEMM implementation (or those whose label contains --impl)\n"
          "against OpenBLAS, with f32 C; --clock cpu times process CPU time.\n");
      return 0;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "flag %s needs a value (--help for usage)\n", argv[argc - 1]);
    return 2;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads") {
      thread_counts.clear();
      for (const auto& t : split(value, ',')) thread_counts.push_back(std::atoi(t.c_str()));
    } else if (flag == "--impl") {
      impl_filter = value;
    } else if (flag == "--dtype") {
      dtype = value == "f16"    ? XINHE_DTYPE_F16
              : value == "bf16" ? XINHE_DTYPE_BF16
                                : XINHE_DTYPE_F32;
    } else if (flag == "--clock") {
      g_cpu_clock = value == "cpu";
    } else if (flag == "--shapes") {
      shapes.clear();
      for (const auto& s : split(value, ',')) {
        const auto dims = split(s, 'x');
        if (dims.size() != 3) {
          std::fprintf(stderr, "bad shape %s (want MxNxK)\n", s.c_str());
          return 2;
        }
        shapes.push_back({std::atoll(dims[0].c_str()), std::atoll(dims[1].c_str()),
                          std::atoll(dims[2].c_str())});
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }

  const GemmImpl* openblas = nullptr;
  std::vector<const GemmImpl*> impls;
  for (const GemmImpl& impl : xinhe::kernels::cpu::gemm_impls()) {
    if (impl.label() == "openblas") openblas = &impl;
    if (impl.label() == "reference") continue;  // too slow to be worth timing
    if (!impl_filter.empty() && impl.label().find(impl_filter) == std::string::npos) continue;
    impls.push_back(&impl);
  }

  std::printf("%-22s %-19s %3s %10s %10s %7s\n", "impl", "MxNxK", "thr", "GFLOP/s", "openblas",
              "ratio");
  xinhe::test::Rng rng(42);
  for (int threads : thread_counts) {
    xinhe::backends::cpu::ThreadPool parallel(threads);
    for (const Shape& sh : shapes) {
      const xinhe::test::GemmCase g =
          xinhe::test::gemm_case(dtype, XINHE_DTYPE_F32, false, false, sh.m, sh.n, sh.k);
      const xinhe_gemm_desc_t d = g.desc();
      const auto a = xinhe::test::HostArray::random(g.ab, g.a_span(), rng);
      const auto b = xinhe::test::HostArray::random(g.ab, g.b_span(), rng);
      xinhe::test::HostArray c(g.c, g.c_span());  // zeros
      const double flops = 2.0 * sh.m * sh.n * sh.k;
      char shape_text[64];
      std::snprintf(shape_text, sizeof shape_text, "%lldx%lldx%lld", static_cast<long long>(sh.m),
                    static_cast<long long>(sh.n), static_cast<long long>(sh.k));
      const bool with_openblas = openblas != nullptr && openblas->unsupported_reason(d) == nullptr;
      for (const GemmImpl* impl : impls) {
        if (const char* why = impl->unsupported_reason(d)) {
          std::printf("%-22s %-19s %3d  skipped: %s\n", impl->label().c_str(), shape_text, threads,
                      why);
          continue;
        }
        std::vector<unsigned char> workspace(impl->workspace_size(d, threads));
        std::vector<std::pair<const GemmImpl*, GemmProblem>> runs;
        runs.push_back({impl, GemmProblem{d, 1.0f, 0.0f, a.data(), b.data(), c.data(),
                                          workspace.empty() ? nullptr : workspace.data()}});
        if (with_openblas && impl != openblas) {
          runs.push_back(
              {openblas, GemmProblem{d, 1.0f, 0.0f, a.data(), b.data(), c.data(), nullptr}});
        }
        const std::vector<double> seconds = time_runs(runs, parallel);
        const double gflops = flops / seconds[0] * 1e-9;
        const double openblas_gflops = runs.size() > 1 ? flops / seconds[1] * 1e-9 : gflops;
        if (with_openblas) {
          std::printf("%-22s %-19s %3d %10.1f %10.1f %7.2f\n", impl->label().c_str(), shape_text,
                      threads, gflops, openblas_gflops, gflops / openblas_gflops);
        } else {
          std::printf("%-22s %-19s %3d %10.1f %10s %7s\n", impl->label().c_str(), shape_text,
                      threads, gflops, "-", "-");
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
