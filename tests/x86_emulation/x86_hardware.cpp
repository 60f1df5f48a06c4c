// Real vdpbf16ps and AVX-512F instructions (compiled with -mavx512f -mavx512bf16) and AMX tile
// instructions (inline assembly), wrapped for comparison with the emulation. Entered only after a
// cpuid check.
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

namespace {
// The all-lanes masked forms: GCC 12 warns that the plain ones read an undefined source.
constexpr __mmask16 kAll = 0xffff;
__m512 load(const F32x16& v) { return _mm512_loadu_ps(v.v); }
F32x16 store(__m512 v) {
  F32x16 out;
  _mm512_storeu_ps(out.v, v);
  return out;
}
}  // namespace

F32x16 vrndscaleps_nearest(const F32x16& a) {
  return store(
      _mm512_maskz_roundscale_ps(kAll, load(a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
F32x16 vrndscaleps_down_m2(const F32x16& a) {
  return store(_mm512_maskz_roundscale_ps(kAll, load(a), 0x29));
}
F32x16 vscalefps(const F32x16& a, const F32x16& b) {
  return store(_mm512_maskz_scalef_ps(kAll, load(a), load(b)));
}
F32x16 vcvtph2ps(const U16x16& h) {
  return store(_mm512_mask_cvtph_ps(_mm512_setzero_ps(), kAll,
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h.v))));
}
U16x16 vcvtps2ph_nearest(const F32x16& a) {
  U16x16 out;
  _mm256_storeu_si256(
      reinterpret_cast<__m256i*>(out.v),
      _mm512_mask_cvtps_ph(_mm256_setzero_si256(), kAll, load(a), _MM_FROUND_TO_NEAREST_INT));
  return out;
}
U16x16 vcvtps2ph_toward_zero(const F32x16& a) {
  U16x16 out;
  _mm256_storeu_si256(
      reinterpret_cast<__m256i*>(out.v),
      _mm512_mask_cvtps_ph(_mm256_setzero_si256(), kAll, load(a), _MM_FROUND_TO_ZERO));
  return out;
}
#else
F32x16 vdpbf16ps(const F32x16& acc, const Bf16x32&, const Bf16x32&) { return acc; }
F32x16 vrndscaleps_nearest(const F32x16& a) { return a; }
F32x16 vrndscaleps_down_m2(const F32x16& a) { return a; }
F32x16 vscalefps(const F32x16& a, const F32x16&) { return a; }
F32x16 vcvtph2ps(const U16x16&) { return F32x16{}; }
U16x16 vcvtps2ph_nearest(const F32x16&) { return U16x16{}; }
U16x16 vcvtps2ph_toward_zero(const F32x16&) { return U16x16{}; }
void tile_product(bool, int, int, int, const uint16_t*, const uint16_t*, float*) {}
#endif

}  // namespace xinhe::testing::x86::hardware
