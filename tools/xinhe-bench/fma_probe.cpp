// FMA throughput probe. Each thread keeps 12 independent accumulator chains of 8-float FMAs,
// enough to cover FMA latency times the number of FMA pipes on current x86 cores (Zen: 2 pipes
// x 4-5 cycles), so the loop is bound by issue throughput, not by latency. Each thread's rate
// is taken over its own CPU time and the rates are summed, best of 7 trials. Run once per thread
// count at start-up; the result is what "100% of peak" means for cpu devices in xinhe-bench.
// Compiled with -mavx2 -mfma (this file only); the kernel is entered only after a run-time
// check, so the binary still starts on CPUs without them.
#include "fma_probe.h"

#include <algorithm>
#include <time.h>

#include <atomic>
#include <thread>
#include <vector>

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define XINHE_BENCH_HAVE_FMA_PROBE 1
#endif

namespace xinhe::bench {
namespace {

#ifdef XINHE_BENCH_HAVE_FMA_PROBE
constexpr int kChains = 12;
constexpr double kFlopsPerIteration = 2.0 * 8 * kChains;

// Returns a value derived from every chain so the compiler cannot drop the loop.
float fma_chains(long iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.001f * static_cast<float>(c));
  // Multiplier just below 1 and a small addend keep the values finite and normal.
  const __m256 mul = _mm256_set1_ps(0.999999f);
  const __m256 add = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0] + lanes[7];
}
#endif

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

double measure_fma_peak_gflops(int threads, std::string* why) {
#ifdef XINHE_BENCH_HAVE_FMA_PROBE
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    *why = "the CPU has no AVX2/FMA";
    return 0;
  }
  threads = std::max(threads, 1);
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  constexpr long kIterations = 4'000'000;  // ~10 ms per thread at a few GHz
  double best = 0;
  for (int trial = 0; trial < 7; ++trial) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<double> gflops(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        const double start = thread_cpu_seconds();
        volatile float keep = fma_chains(kIterations);
        (void)keep;
        const double seconds = thread_cpu_seconds() - start;
        gflops[static_cast<size_t>(t)] = seconds > 0 ? kFlopsPerIteration * kIterations / seconds / 1e9 : 0;
      });
    }
    while (ready.load() < threads) std::this_thread::yield();
    go.store(true, std::memory_order_release);
    for (std::thread& w : workers) w.join();
    // Per-thread CPU time, not wall time: time other processes take from a core does not
    // count, so a shared machine does not drag the peak down. Threads beyond the hardware
    // threads only time-share them, so they add nothing.
    double sum = 0;
    for (double g : gflops) sum += g;
    best = std::max(best, sum * std::min(threads, hardware) / threads);
  }
  return best;
#else
  (void)threads;
  *why = "built without AVX2/FMA support for this target";
  return 0;
#endif
}

}  // namespace xinhe::bench
