// The CPU device's peak_flops per dtype and memory_bandwidth: measured once per machine with
// the probes of kernels/common/cpu_probe.h on the pool's thread count, and cached on disk, so
// later processes read a small file instead of probing again.
//
// Per dtype, the peak is that of the fastest unit able to multiply that dtype and allowed by
// XINHE_CPU_MAX_ISA: f32 the ymm or zmm FMA; bf16 also vdpbf16ps and AMX-BF16; f16 also the
// AVX512_FP16 FMA and AMX-FP16 (an upper bound: xinhe's f16 kernels accumulate in f32 and use
// the f32 FMA unless AMX-FP16 is present). f64 is not probed (0: unknown). Bandwidth is the
// sustained read rate over a buffer of 4x the last-level cache (64 MiB to 1 GiB).
//
// Cache: <dir>/cpu-peaks-<key>.txt, dir = XINHE_CACHE_DIR, else $XDG_CACHE_HOME/xinhe, else
// $HOME/.cache/xinhe; key = hash of the CPU model, the thread count, the ISA cap and the probe
// version. Written to a temporary file and renamed into place; a file that does not parse (or
// holds values out of range) is ignored and rewritten. XINHE_CPU_PROBE=0 turns the probes off:
// every figure is then 0 (unknown); 1 (the default) leaves them on. Any other value (an empty
// one, "no", "off", "false" included) is refused: the CPU backend does not start and says why
// (parse_cpu_probe), as for XINHE_CPU_THREADS and XINHE_CPU_BIND.
#pragma once

#include <string>

#include "xinhe/base.h"

namespace xinhe::backends::cpu {

struct CpuPeaks {
  double flops[XINHE_DTYPE_COUNT] = {};  // FLOP/s per input dtype; 0 when unknown
  double bandwidth = 0.0;                // bytes/s; 0 when unknown
  std::string source;  // "measured", "cache <path>", "off (XINHE_CPU_PROBE=0)", "off (<why>)"
};

// Measures (or reads from the cache) once per process per thread count; thread-safe.
const CpuPeaks& cpu_peaks(int threads);

// Parses an XINHE_CPU_PROBE value: "1" (probe) or "0" (do not). On failure returns false and
// sets *error to a sentence naming the value (at most 32 bytes of it).
bool parse_cpu_probe(const char* text, bool* out_probe, std::string* error);

// Parses a cache file's text; false when it is not a complete, plausible record.
bool parse_cpu_peaks(const std::string& text, CpuPeaks* out);
std::string format_cpu_peaks(const CpuPeaks& peaks);

}  // namespace xinhe::backends::cpu
