// Probe loop for AVX512_FP16 (compiled with -mavx512fp16 where the compiler knows it):
// vfmadd231ph zmm chains, f16 in and out.
#include <immintrin.h>

#include "cpu_probe_units.h"

namespace xinhe::kernels::probe {

#if defined(__AVX512FP16__)
float fma_zmm_f16(long iterations) {
  constexpr int kChains = 16;
  __m512h acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ph(static_cast<_Float16>(0.001f * c));
  // x -> 0.999 x + 2^-10 converges to about 1: finite and normal in f16.
  const __m512h mul = _mm512_set1_ph(static_cast<_Float16>(0.999f));
  const __m512h add = _mm512_set1_ph(static_cast<_Float16>(0.0009765625f));
  for (long i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ph(acc[c], mul, add);
  }
  __m512h sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ph(sum, acc[c]);
  // A lane sum through memory: GCC 12's reduction intrinsics trip -Wuninitialized.
  _Float16 lanes[32];
  _mm512_storeu_ph(lanes, sum);
  float s = 0.0f;
  for (_Float16 x : lanes) s += static_cast<float>(x);
  return s;
}
bool have_fma_zmm_f16() { return true; }
#else
float fma_zmm_f16(long) { return 0.0f; }
bool have_fma_zmm_f16() { return false; }
#endif

}  // namespace xinhe::kernels::probe
