// Internal to the probes (cpu_probe*.cpp): one loop per unit, each in a file compiled for its
// instruction set. Each runs `iterations` steps of independent instruction chains and returns a
// value derived from every chain, so the compiler cannot drop the loop.
#pragma once

namespace xinhe::kernels::probe {

// Flops per iteration of each loop.
inline constexpr double kFmaYmmFlops = 2.0 * 8 * 12;         // 12 chains of 8-lane FMAs
inline constexpr double kFmaZmmFlops = 2.0 * 16 * 16;        // 16 chains of 16-lane FMAs
inline constexpr double kDpbf16Flops = 4.0 * 16 * 16;        // 16 chains, 16 lanes x 2 products
inline constexpr double kFmaPhFlops = 2.0 * 32 * 16;         // 16 chains of 32-lane f16 FMAs
inline constexpr double kAmxFlops = 4.0 * 16 * 16 * 32 * 2;  // 4 tile products per step

float fma_ymm_f32(long iterations);     // cpu_probe_avx2.cpp
float fma_zmm_f32(long iterations);     // cpu_probe_avx512.cpp
float dpbf16_zmm(long iterations);      // cpu_probe_avx512.cpp
float fma_zmm_f16(long iterations);     // cpu_probe_avx512fp16.cpp (0 when not built)
float amx(bool fp16, long iterations);  // cpu_probe_amx.cpp: tdpbf16ps or tdpfp16ps

// Sum of n 64-bit words (the bandwidth probe's read loop), in the widest build available.
unsigned long long sum_words(const unsigned long long* words, long n);
bool sum_words_uses_avx2();

// Whether this build has the loop (compilers without -mavx512fp16 leave fma_zmm_f16 out).
bool have_fma_zmm_f16();

}  // namespace xinhe::kernels::probe
