// Throughput probes of the host CPU's arithmetic units and memory: what "100 % of peak" means
// for the CPU backend's reported peak_flops (per dtype) and memory_bandwidth, and for
// xinhe-bench's %peak of CPU rows.
//
// A unit probe runs, on each of `threads` threads, independent chains of one instruction long
// enough to cover its latency (so issue throughput, not latency, bounds the loop), and counts
// each thread's rate over its own CPU time: time the thread spent descheduled on a shared
// machine does not count. The rates are summed; threads beyond the hardware threads only
// time-share them and add nothing. The best of `trials` is kept.
//
// Declarations only (see cpu_features.h for why).
#pragma once

#include <string>

#include "cpu_features.h"

namespace xinhe::kernels {

enum class CpuUnit : int {
  kFmaYmmF32 = 0,  // vfmadd231ps ymm (AVX2+FMA): 16 flops
  kFmaZmmF32,      // vfmadd231ps zmm (AVX-512F): 32 flops
  kDpbf16Zmm,      // vdpbf16ps zmm (AVX512_BF16): 64 flops, bf16 in, f32 accumulation
  kFmaZmmF16,      // vfmadd231ph zmm (AVX512_FP16): 64 flops, f16 in and out
  kAmxBf16,        // tdpbf16ps (AMX-BF16): 16 x 16 x 32 x 2 = 16384 flops
  kAmxFp16,        // tdpfp16ps (AMX-FP16): 16384 flops
  kCount,
};

// "fma_ymm_f32", "fma_zmm_f32", "dpbf16_zmm", "fma_zmm_f16", "amx_bf16", "amx_fp16".
const char* cpu_unit_name(CpuUnit unit);
// The feature the unit's instruction needs.
CpuFeature cpu_unit_feature(CpuUnit unit);

struct ProbeSettings {
  int threads = 1;
  int trials = 7;
  double seconds_per_trial = 0.01;  // per thread, roughly (the iteration count is calibrated)
};

// Peak FLOP/s of the unit, or 0 with *why when the hardware or the build lacks it (the
// XINHE_CPU_MAX_ISA cap is not applied: a probe measures hardware).
double measure_unit_peak(CpuUnit unit, const ProbeSettings& settings, std::string* why);

// Sustained read bandwidth from memory in bytes/s: each thread sums its share of a buffer of
// `bytes` (several times the last-level cache) twice per trial; the best trial's total bytes
// over the longest thread's CPU time. 0 with *why when the buffer cannot be allocated.
double measure_read_bandwidth(const ProbeSettings& settings, size_t bytes, std::string* why);

// A buffer size for measure_read_bandwidth: 4x the last-level cache (sysconf), at least
// 64 MiB, at most 1 GiB.
size_t default_bandwidth_buffer_bytes();

}  // namespace xinhe::kernels
