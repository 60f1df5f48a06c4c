// Measured FMA throughput of the host CPU: the denominator of pct_of_peak for cpu devices.
#pragma once

#include <string>

namespace xinhe::bench {

// Peak f32 GFLOP/s of `threads` threads issuing independent 256-bit FMAs (AVX2+FMA), the best
// of a few short trials. Returns 0 and sets *why when the CPU or the build has no AVX2/FMA.
double measure_fma_peak_gflops(int threads, std::string* why);

}  // namespace xinhe::bench
