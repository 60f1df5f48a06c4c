// Measured peaks of the host CPU's arithmetic units (kernels/common/cpu_probe.h), per thread
// count: the denominators of pct_of_peak for cpu devices. A dtype's peak is that of the fastest
// unit that multiplies it and that XINHE_CPU_MAX_ISA allows (f32: ymm/zmm FMA; bf16: also
// vdpbf16ps, AMX-BF16; f16: also the AVX512_FP16 FMA, AMX-FP16), so no implementation, xinhe's
// or a peer's, can show more than 100 %.
#pragma once

#include <map>
#include <string>

#include "xinhe/base.h"

namespace xinhe::bench {

struct CpuPeakSet {
  std::map<std::string, double> unit_gflops;       // "fma_zmm_f32" -> GFLOP/s, measured units
  std::map<std::string, std::string> unavailable;  // unit -> why it was not measured
  double dtype_gflops[XINHE_DTYPE_COUNT] = {};     // 0 when unknown
  std::string dtype_unit[XINHE_DTYPE_COUNT];       // the unit dtype_gflops comes from
};

// Probes every unit on `threads` threads (best of 7 short trials each).
CpuPeakSet measure_cpu_peaks(int threads);

}  // namespace xinhe::bench
