// Per-unit peak probes for xinhe-bench (see fma_probe.h): ymm and zmm FMA, vdpbf16ps, the
// AVX512_FP16 FMA, AMX-BF16 and AMX-FP16, each run on as many threads as the measurement uses,
// each thread's rate taken over its own CPU time, best of 7 trials (kernels/common/cpu_probe).
#include "fma_probe.h"

#include "cpu_features.h"
#include "cpu_probe.h"

namespace xinhe::bench {

CpuPeakSet measure_cpu_peaks(int threads) {
  using kernels::CpuUnit;
  CpuPeakSet set;
  kernels::ProbeSettings settings;
  settings.threads = threads;
  settings.trials = 7;
  settings.seconds_per_trial = 0.01;
  auto consider = [&](xinhe_dtype_t dtype, CpuUnit unit, double gflops) {
    if (gflops > set.dtype_gflops[dtype]) {
      set.dtype_gflops[dtype] = gflops;
      set.dtype_unit[dtype] = kernels::cpu_unit_name(unit);
    }
  };
  for (int u = 0; u < static_cast<int>(CpuUnit::kCount); ++u) {
    const auto unit = static_cast<CpuUnit>(u);
    const char* name = kernels::cpu_unit_name(unit);
    // Units the cap excludes do not count: no xinhe kernel may use them.
    if (const char* why = kernels::cpu_feature_unavailable(kernels::cpu_unit_feature(unit))) {
      set.unavailable[name] = why;
      continue;
    }
    std::string why;
    const double gflops = kernels::measure_unit_peak(unit, settings, &why) / 1e9;
    if (gflops <= 0) {
      set.unavailable[name] = why;
      continue;
    }
    set.unit_gflops[name] = gflops;
    switch (unit) {
      case CpuUnit::kFmaYmmF32:
      case CpuUnit::kFmaZmmF32:
        for (xinhe_dtype_t d : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16})
          consider(d, unit, gflops);
        break;
      case CpuUnit::kDpbf16Zmm:
      case CpuUnit::kAmxBf16:
        consider(XINHE_DTYPE_BF16, unit, gflops);
        break;
      case CpuUnit::kFmaZmmF16:
      case CpuUnit::kAmxFp16:
        consider(XINHE_DTYPE_F16, unit, gflops);
        break;
      default:
        break;
    }
  }
  return set;
}

}  // namespace xinhe::bench
