// The AVX-512 GEMM kernels' tiling (12 x 32 micro-tile of 16-float vectors, 144/256/4096
// blocking) built from the same source, gemm_packed_body.inc, with AVX2 instructions: GCC
// lowers each 64-byte vector to two 32-byte halves. The conformance test runs it through the
// blocked driver, so the AVX-512 path's packing, edge tiles and blocking are checked on
// machines without AVX-512; only its conversion intrinsics (in gemm_packed_avx512.cpp) are not.
// Compiled with -mavx2 -mfma -mf16c; call it only when the CPU has those.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_packed.h"

namespace xinhe::kernels::cpu {
namespace packed_avx512_on_avx2 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

inline void f16_row_to_f32(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

inline void f32_row_to_f16(const float* src, int64_t n, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

#include "gemm_packed_body.inc"

}  // namespace packed_avx512_on_avx2

const PackedKernels& packed_kernels_avx512_on_avx2() {
  static constexpr PackedKernels kKernels =
      packed_avx512_on_avx2::make_packed_kernels<kAvx512Mr, kAvx512Nv>(
          "cpu.gemm.packed_avx512_tiling_on_avx2", kAvx512Mc, kAvx512Kc, kAvx512Nc);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
