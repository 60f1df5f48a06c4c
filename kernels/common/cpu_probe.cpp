// Throughput probes (see cpu_probe.h): thread orchestration, calibration and the bandwidth
// buffer, in the baseline ISA; the instruction loops live in cpu_probe_<isa>.cpp.
#include "cpu_probe.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "cpu_probe_units.h"

namespace xinhe::kernels {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

int hardware_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Runs work(thread) on `threads` threads started together; returns each one's CPU seconds.
template <typename Work>
std::vector<double> run_threads(int threads, const Work& work) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> seconds(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const double start = thread_cpu_seconds();
      work(t);
      seconds[static_cast<size_t>(t)] = thread_cpu_seconds() - start;
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  for (std::thread& w : workers) w.join();
  return seconds;
}

struct UnitLoop {
  float (*run)(long);
  double flops_per_iteration;
};

#if defined(__x86_64__)
float amx_bf16_loop(long n) { return probe::amx(false, n); }
float amx_fp16_loop(long n) { return probe::amx(true, n); }

UnitLoop unit_loop(CpuUnit unit) {
  switch (unit) {
    case CpuUnit::kFmaYmmF32:
      return {probe::fma_ymm_f32, probe::kFmaYmmFlops};
    case CpuUnit::kFmaZmmF32:
      return {probe::fma_zmm_f32, probe::kFmaZmmFlops};
    case CpuUnit::kDpbf16Zmm:
      return {probe::dpbf16_zmm, probe::kDpbf16Flops};
    case CpuUnit::kFmaZmmF16:
      return {probe::fma_zmm_f16, probe::kFmaPhFlops};
    case CpuUnit::kAmxBf16:
      return {amx_bf16_loop, probe::kAmxFlops};
    case CpuUnit::kAmxFp16:
      return {amx_fp16_loop, probe::kAmxFlops};
    default:
      return {nullptr, 0.0};
  }
}
#endif

}  // namespace

const char* cpu_unit_name(CpuUnit unit) {
  switch (unit) {
    case CpuUnit::kFmaYmmF32:
      return "fma_ymm_f32";
    case CpuUnit::kFmaZmmF32:
      return "fma_zmm_f32";
    case CpuUnit::kDpbf16Zmm:
      return "dpbf16_zmm";
    case CpuUnit::kFmaZmmF16:
      return "fma_zmm_f16";
    case CpuUnit::kAmxBf16:
      return "amx_bf16";
    case CpuUnit::kAmxFp16:
      return "amx_fp16";
    default:
      return "unknown";
  }
}

CpuFeature cpu_unit_feature(CpuUnit unit) {
  switch (unit) {
    case CpuUnit::kFmaZmmF32:
      return CpuFeature::kAvx512;
    case CpuUnit::kDpbf16Zmm:
      return CpuFeature::kAvx512Bf16;
    case CpuUnit::kFmaZmmF16:
      return CpuFeature::kAvx512Fp16;
    case CpuUnit::kAmxBf16:
      return CpuFeature::kAmxBf16;
    case CpuUnit::kAmxFp16:
      return CpuFeature::kAmxFp16;
    default:
      return CpuFeature::kAvx2;
  }
}

double measure_unit_peak(CpuUnit unit, const ProbeSettings& settings, std::string* why) {
#if !defined(__x86_64__)
  (void)unit;
  (void)settings;
  *why = "no probe for this architecture";
  return 0.0;
#else
  const UnitLoop loop = unit_loop(unit);
  if (loop.run == nullptr) {
    *why = "unknown unit";
    return 0.0;
  }
  if (!cpu_hardware_has(cpu_unit_feature(unit))) {
    *why = cpu_feature_unavailable(cpu_unit_feature(unit));
    return 0.0;
  }
  if (unit == CpuUnit::kFmaZmmF16 && !probe::have_fma_zmm_f16()) {
    *why = "built by a compiler without -mavx512fp16";
    return 0.0;
  }
  const int threads = std::max(settings.threads, 1);
  // Calibrate on one thread: iterations for about seconds_per_trial.
  long iterations = 1 << 12;
  for (;;) {
    const double start = thread_cpu_seconds();
    volatile float keep = loop.run(iterations);
    (void)keep;
    const double seconds = thread_cpu_seconds() - start;
    if (seconds >= settings.seconds_per_trial / 8 || iterations >= (1L << 34)) {
      const double scale = settings.seconds_per_trial / std::max(seconds, 1e-9);
      iterations = std::max(1L << 10, static_cast<long>(static_cast<double>(iterations) * scale));
      break;
    }
    iterations *= 4;
  }
  double best = 0.0;
  for (int trial = 0; trial < std::max(settings.trials, 1); ++trial) {
    const std::vector<double> seconds = run_threads(threads, [&](int) {
      volatile float keep = loop.run(iterations);
      (void)keep;
    });
    double sum = 0.0;
    for (double s : seconds) {
      if (s > 0) sum += loop.flops_per_iteration * static_cast<double>(iterations) / s;
    }
    best = std::max(best, sum * std::min(threads, hardware_threads()) / threads);
  }
  return best;
#endif
}

size_t default_bandwidth_buffer_bytes() {
  long llc = 0;
#if defined(_SC_LEVEL3_CACHE_SIZE)
  llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  const size_t four_llc = llc > 0 ? 4 * static_cast<size_t>(llc) : 0;
  return std::clamp<size_t>(four_llc, size_t{64} << 20, size_t{1} << 30);
}

double measure_read_bandwidth(const ProbeSettings& settings, size_t bytes, std::string* why) {
  // Threads beyond the hardware threads would each see a full core's bandwidth per CPU second.
  const int threads = std::clamp(settings.threads, 1, hardware_threads());
  const long words = static_cast<long>(bytes / sizeof(unsigned long long)) / 64 * 64;
  if (words <= 0) {
    *why = "buffer too small";
    return 0.0;
  }
  struct Free {
    void operator()(unsigned long long* p) const { std::free(p); }
  };
  std::unique_ptr<unsigned long long, Free> buffer(static_cast<unsigned long long*>(
      std::aligned_alloc(64, static_cast<size_t>(words) * sizeof(unsigned long long))));
  if (!buffer) {
    *why = "cannot allocate the probe buffer";
    return 0.0;
  }
#if defined(__x86_64__)
  const bool avx2 = cpu_hardware_has(CpuFeature::kAvx2) && probe::sum_words_uses_avx2();
#else
  const bool avx2 = false;
#endif
  auto sum = [&](const unsigned long long* p, long n) {
#if defined(__x86_64__)
    if (avx2) return probe::sum_words(p, n);
#endif
    unsigned long long s = 0;
    for (long i = 0; i < n; ++i) s += p[i];
    return s;
  };
  // Each thread first touches its own share (pages land on its node), then reads it.
  const long share = words / threads / 8 * 8;
  run_threads(threads, [&](int t) {
    unsigned long long* p = buffer.get() + t * share;
    for (long i = 0; i < share; ++i) p[i] = static_cast<unsigned long long>(i);
  });
  double best = 0.0;
  std::atomic<unsigned long long> sink{0};
  for (int trial = 0; trial < std::max(settings.trials, 1); ++trial) {
    const std::vector<double> seconds = run_threads(threads, [&](int t) {
      const unsigned long long* p = buffer.get() + t * share;
      sink.fetch_add(sum(p, share) + sum(p, share), std::memory_order_relaxed);
    });
    const double slowest = *std::max_element(seconds.begin(), seconds.end());
    if (slowest > 0) {
      const double total = 2.0 * static_cast<double>(share) * threads * sizeof(unsigned long long);
      best = std::max(best, total / slowest);
    }
  }
  return best;
}

}  // namespace xinhe::kernels
