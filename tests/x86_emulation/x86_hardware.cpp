// Real vdpbf16ps (compiled with -mavx512f -mavx512bf16) and AMX tile instructions (inline
// assembly), wrapped for comparison with the emulation. Entered only after a cpuid check.
#include "x86_hardware.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace xinhe::testing::x86::hardware {

#if defined(XINHE_X86_HARDWARE)
F32x16 vdpbf16ps(const F32x16& acc, const Bf16x32& a, const Bf16x32& b) {
  const __m512 c = _mm512_loadu_ps(acc.v);
  const __m512bh av = reinterpret_cast<__m512bh>(_mm512_loadu_si512(a.v));
  const __m512bh bv = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b.v));
  F32x16 out;
  _mm512_storeu_ps(out.v, _mm512_dpbf16_ps(c, av, bv));
  return out;
}

void tile_product(bool fp16, int rows, int k_pairs, int cols, const uint16_t* a, const uint16_t* b,
                  float* c) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  cfg.rows[0] = static_cast<uint8_t>(rows);  // C
  cfg.colsb[0] = static_cast<uint16_t>(4 * cols);
  cfg.rows[1] = static_cast<uint8_t>(rows);  // A
  cfg.colsb[1] = static_cast<uint16_t>(4 * k_pairs);
  cfg.rows[2] = static_cast<uint8_t>(k_pairs);  // B
  cfg.colsb[2] = static_cast<uint16_t>(4 * cols);
  const long stride = 64;
  __asm__ volatile("ldtilecfg %0" : : "m"(cfg) : "memory");
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm0" : : "r"(c), "r"(stride) : "memory");
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm1" : : "r"(a), "r"(stride) : "memory");
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm2" : : "r"(b), "r"(stride) : "memory");
  if (fp16) {
    __asm__ volatile("tdpfp16ps %%tmm2, %%tmm1, %%tmm0" : : : "memory");
  } else {
    __asm__ volatile("tdpbf16ps %%tmm2, %%tmm1, %%tmm0" : : : "memory");
  }
  __asm__ volatile("tilestored %%tmm0, (%0,%1,1)" : : "r"(c), "r"(stride) : "memory");
  __asm__ volatile("tilerelease" : : : "memory");
}
#else
F32x16 vdpbf16ps(const F32x16& acc, const Bf16x32&, const Bf16x32&) { return acc; }
void tile_product(bool, int, int, int, const uint16_t*, const uint16_t*, float*) {}
#endif

}  // namespace xinhe::testing::x86::hardware
