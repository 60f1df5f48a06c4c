// Attention forward throughput on the CPU: each CPU attention implementation that supports
// the shape, against an unfused OpenBLAS baseline (S = Q K^T with sgemm, row softmax on the
// thread pool, O = P V with sgemm, per head). Not a ctest test; run it by hand:
//   xinhe_cpu_attention_bench [--threads 1,2] [--seq 1024,2048] [--dim 64,128] [--bh 8]
//                             [--causal] [--iters 3] [--impl <name substring>]
// GFLOP/s counts 4*B*H*Sq*Skv*D flops, halved under the causal mask, over the best wall time.
// cpu_ms is the process CPU time of that run (all threads): on a shared machine, wall time
// includes waiting for a core, and GFLOP/s per CPU-second (gf/cpu_s) shows the kernel's own
// throughput.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attention_cpu.h"
#include "thread_pool.h"

#ifdef XINHE_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using xinhe::backends::cpu::ThreadPool;
using xinhe::kernels::cpu::AttentionImpl;
using xinhe::kernels::cpu::AttentionProblem;

std::vector<int64_t> parse_list(const char* text) {
  std::vector<int64_t> values;
  std::string s(text);
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) values.push_back(std::atoll(item.c_str()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Timing {
  double wall_s;
  double cpu_s;  // of the run with the best wall time
};

template <typename Fn>
Timing best_of(int iters, Fn&& fn) {
  fn();  // warm-up: page faults, caches
  Timing best{1e30, 0.0};
  for (int i = 0; i < iters; ++i) {
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = process_cpu_seconds();
    const double wall = std::chrono::duration<double>(t1 - t0).count();
    if (wall < best.wall_s) best = {wall, c1 - c0};
  }
  return best;
}

#ifdef XINHE_BENCH_HAVE_OPENBLAS
// Unfused attention over dense BHSD f32 tensors; scores (S, S) per head in `scores`.
void unfused_openblas(const xinhe_attention_desc_t& d, const float* q, const float* k,
                      const float* v, float* o, float* scores, ThreadPool& pool) {
  const int64_t S = d.seq_q, T = d.seq_kv, D = d.head_dim;
  const bool causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL;
  for (int64_t bh = 0; bh < d.batch * d.heads_q; ++bh) {
    const float* qh = q + bh * S * D;
    const float* kh = k + bh * T * D;
    const float* vh = v + bh * T * D;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, T, D, d.scale, qh, D, kh, D, 0.0f,
                scores, T);
    pool.parallel_for(S, [&](int64_t i) {
      float* row = scores + i * T;
      const int64_t visible = causal ? std::min<int64_t>(T, i + T - S + 1) : T;
      float mx = -INFINITY;
      for (int64_t j = 0; j < visible; ++j) mx = std::max(mx, row[j]);
      float sum = 0.0f;
      for (int64_t j = 0; j < visible; ++j) {
        row[j] = std::exp(row[j] - mx);
        sum += row[j];
      }
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < visible; ++j) row[j] *= inv;
      for (int64_t j = visible; j < T; ++j) row[j] = 0.0f;
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, D, T, 1.0f, scores, T, vh, D, 0.0f,
                o + bh * S * D, D);
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> threads_list = {1, 2}, seqs = {1024, 2048}, dims = {64, 128};
  int64_t bh = 8;
  int iters = 3;
  bool causal = false;
  std::string impl_filter;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--threads") threads_list = parse_list(next());
    else if (arg == "--seq") seqs = parse_list(next());
    else if (arg == "--dim") dims = parse_list(next());
    else if (arg == "--bh") bh = std::atoll(next());
    else if (arg == "--iters") iters = std::atoi(next());
    else if (arg == "--causal") causal = true;
    else if (arg == "--impl") impl_filter = next();
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of attention_bench.cpp)\n", arg.c_str());
      return 2;
    }
  }

  std::printf("%-26s %7s %5s %4s %3s %6s %9s %9s %9s %9s\n", "impl", "threads", "S", "D", "BH",
              "causal", "ms", "cpu_ms", "GFLOP/s", "gf/cpu_s");
  for (int64_t threads : threads_list) {
    ThreadPool pool(static_cast<int>(threads));
#ifdef XINHE_BENCH_HAVE_OPENBLAS
    openblas_set_num_threads(static_cast<int>(threads));
#endif
    for (int64_t S : seqs) {
      for (int64_t D : dims) {
        xinhe_attention_desc_t d{};
        d.struct_size = sizeof(d);
        d.dtype = XINHE_DTYPE_F32;
        d.batch = 1;
        d.heads_q = bh;
        d.heads_kv = bh;
        d.seq_q = S;
        d.seq_kv = S;
        d.head_dim = D;
        const int64_t bhsd[4] = {bh * S * D, S * D, D, 1};
        for (int i = 0; i < 4; ++i) d.q_strides[i] = d.k_strides[i] = d.v_strides[i] = d.o_strides[i] = bhsd[i];
        d.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
        d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;

        const size_t n = static_cast<size_t>(bh * S * D);
        std::vector<float> q(n), k(n), v(n), o(n);
        std::mt19937 rng(42);
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        for (size_t i = 0; i < n; ++i) {
          q[i] = dist(rng);
          k[i] = dist(rng);
          v[i] = dist(rng);
        }
        const double flops = 4.0 * bh * S * S * D * (causal ? 0.5 : 1.0);
        auto report = [&](const char* name, Timing t) {
          std::printf("%-26s %7lld %5lld %4lld %3lld %6s %9.1f %9.1f %9.1f %9.1f\n", name,
                      static_cast<long long>(threads), static_cast<long long>(S),
                      static_cast<long long>(D), static_cast<long long>(bh), causal ? "yes" : "no",
                      t.wall_s * 1e3, t.cpu_s * 1e3, flops / t.wall_s * 1e-9,
                      t.cpu_s > 0 ? flops / t.cpu_s * 1e-9 : 0.0);
          std::fflush(stdout);
        };
        for (const AttentionImpl& impl : xinhe::kernels::cpu::attention_impls()) {
          if (impl.unsupported_reason(d) != nullptr) continue;
          if (impl.label() == "reference") continue;  // minutes per run
          if (!impl_filter.empty() && impl.label().find(impl_filter) == std::string::npos) continue;
          std::vector<unsigned char> ws(impl.workspace_size(d, static_cast<int>(threads)));
          const AttentionProblem problem{d, q.data(), k.data(), v.data(), o.data(), nullptr, ws.data()};
          report(impl.label().c_str(), best_of(iters, [&] { impl.run(problem, pool); }));
        }
#ifdef XINHE_BENCH_HAVE_OPENBLAS
        std::vector<float> scores(static_cast<size_t>(S * S));
        report("unfused_openblas", best_of(iters, [&] {
                 unfused_openblas(d, q.data(), k.data(), v.data(), o.data(), scores.data(), pool);
               }));
#endif
      }
    }
  }
  return 0;
}
