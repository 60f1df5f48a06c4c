// Probe loops for AVX-512 (compiled with -mavx512f -mavx512bf16): zmm FMA and vdpbf16ps chains.
#include <immintrin.h>

#include "cpu_probe_units.h"

namespace xinhe::kernels::probe {
namespace {
// A lane sum through memory: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized.
float lane_sum(__m512 v) {
  float lanes[16];
  _mm512_storeu_ps(lanes, v);
  float s = 0.0f;
  for (float x : lanes) s += x;
  return s;
}
}  // namespace

float fma_zmm_f32(long iterations) {
  constexpr int kChains = 16;  // covers 2 FMA pipes x 4-cycle latency with room to spare
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  const __m512 mul = _mm512_set1_ps(0.999999f);
  const __m512 add = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return lane_sum(sum);
}

float dpbf16_zmm(long iterations) {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  // bf16 pairs of 2^-10: every step adds 2 * 2^-20 per lane, far from overflow.
  const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3a80));
  const __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3a80));
  for (long i = 0; i < iterations; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return lane_sum(sum);
}

}  // namespace xinhe::kernels::probe
