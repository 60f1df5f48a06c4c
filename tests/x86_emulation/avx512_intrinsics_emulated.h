// The AVX-512F intrinsics that the kernels' 16-lane vector code names (attention_softmax.inc,
// gemm_f16_rows_avx512.inc), mapped onto the host emulation of their instructions
// (x86_emulation.h), so that a test file built without AVX-512 compiles those kernel lines as
// written and runs them against the float64 reference. Include after <immintrin.h>, before the
// kernel source; the file needs -Wno-psabi (64-byte vectors never cross it). Defines
// XINHE_AVX512_INTRINSICS_EMULATED, which the kernel sources test beside __AVX512F__.
#pragma once

#if defined(__AVX512F__)
#error "built with AVX-512F: the real intrinsics apply, this header is for builds without them"
#endif

#include <immintrin.h>

#include <cstring>

#include "x86_emulation.h"

#define XINHE_AVX512_INTRINSICS_EMULATED 1

// Not inlined: GCC 12, inlining them into the kernels' row loops, misjudged those loops' trip
// counts (-Waggressive-loop-optimizations); out of line, each stands for one instruction.
#define XINHE_EMULATED_INTRINSIC [[gnu::noinline]] inline

namespace xinhe::testing::x86::intrinsics {

template <typename To, typename From>
inline To bits_as(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "same size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

// A writemask applied lane by lane: unselected lanes take `passthrough` (zero for maskz).
template <typename Lanes>
inline Lanes masked(__mmask16 k, const Lanes& result, const Lanes& passthrough) {
  Lanes out = result;
  for (int j = 0; j < 16; ++j) {
    if (((k >> j) & 1) == 0) out.v[j] = passthrough.v[j];
  }
  return out;
}

XINHE_EMULATED_INTRINSIC __m512 setzero_ps() { return bits_as<__m512>(F32x16{}); }
XINHE_EMULATED_INTRINSIC __m512 loadu_ps(const void* p) {
  __m512 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
XINHE_EMULATED_INTRINSIC void storeu_ps(void* p, __m512 v) { std::memcpy(p, &v, sizeof v); }

XINHE_EMULATED_INTRINSIC __m512 maskz_roundscale_ps(__mmask16 k, __m512 a, int imm8) {
  return bits_as<__m512>(masked(k, vrndscaleps(bits_as<F32x16>(a), imm8), F32x16{}));
}
XINHE_EMULATED_INTRINSIC __m512 maskz_scalef_ps(__mmask16 k, __m512 a, __m512 b) {
  return bits_as<__m512>(masked(k, vscalefps(bits_as<F32x16>(a), bits_as<F32x16>(b)), F32x16{}));
}
XINHE_EMULATED_INTRINSIC __m512i maskz_cvtepu16_epi32(__mmask16 k, __m256i a) {
  return bits_as<__m512i>(masked(k, vpmovzxwd(bits_as<U16x16>(a)), U32x16{}));
}
XINHE_EMULATED_INTRINSIC __m512i maskz_slli_epi32(__mmask16 k, __m512i a, unsigned count) {
  return bits_as<__m512i>(masked(k, vpslld(bits_as<U32x16>(a), count), U32x16{}));
}
XINHE_EMULATED_INTRINSIC __m512 mask_cvtph_ps(__m512 src, __mmask16 k, __m256i a) {
  return bits_as<__m512>(masked(k, vcvtph2ps(bits_as<U16x16>(a)), bits_as<F32x16>(src)));
}
XINHE_EMULATED_INTRINSIC __m256i mask_cvtps_ph(__m256i src, __mmask16 k, __m512 a, int imm8) {
  return bits_as<__m256i>(masked(k, vcvtps2ph(bits_as<F32x16>(a), imm8), bits_as<U16x16>(src)));
}

}  // namespace xinhe::testing::x86::intrinsics

// GCC defines some of these as macros (without optimization) and the rest as functions; a
// macro of the same name takes precedence over either from here on.
#undef _mm512_setzero_ps
#undef _mm512_loadu_ps
#undef _mm512_storeu_ps
#undef _mm512_maskz_roundscale_ps
#undef _mm512_maskz_scalef_ps
#undef _mm512_maskz_cvtepu16_epi32
#undef _mm512_maskz_slli_epi32
#undef _mm512_mask_cvtph_ps
#undef _mm512_mask_cvtps_ph
#define _mm512_setzero_ps ::xinhe::testing::x86::intrinsics::setzero_ps
#define _mm512_loadu_ps ::xinhe::testing::x86::intrinsics::loadu_ps
#define _mm512_storeu_ps ::xinhe::testing::x86::intrinsics::storeu_ps
#define _mm512_maskz_roundscale_ps ::xinhe::testing::x86::intrinsics::maskz_roundscale_ps
#define _mm512_maskz_scalef_ps ::xinhe::testing::x86::intrinsics::maskz_scalef_ps
#define _mm512_maskz_cvtepu16_epi32 ::xinhe::testing::x86::intrinsics::maskz_cvtepu16_epi32
#define _mm512_maskz_slli_epi32 ::xinhe::testing::x86::intrinsics::maskz_slli_epi32
#define _mm512_mask_cvtph_ps ::xinhe::testing::x86::intrinsics::mask_cvtph_ps
#define _mm512_mask_cvtps_ph ::xinhe::testing::x86::intrinsics::mask_cvtps_ph
