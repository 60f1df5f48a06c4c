// Packed GEMM building blocks for AVX-512F (compiled with -mavx512f -mavx2 -mfma -mf16c): a
// 12x32 micro-kernel (24 zmm accumulators) and packing with 16-wide f16 -> f32 conversion. The
// code is the same template source as the AVX2 kernel with a wider vector type. Selected at run
// time only on CPUs (and OSes) with AVX-512F enabled.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_packed.h"

namespace xinhe::kernels::cpu {
namespace packed_avx512 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

inline void f16_row_to_f32(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    // The masked form with a zero pass-through: GCC 12's plain _mm512_cvtph_ps starts from an
    // undefined register and trips -Wmaybe-uninitialized.
    _mm512_storeu_ps(dst + i, _mm512_mask_cvtph_ps(_mm512_setzero_ps(), 0xffff, h));
  }
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

inline void f32_row_to_f16(const float* src, int64_t n, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Masked form with a zero pass-through, for the same GCC 12 warning as above.
    const __m256i h = _mm512_mask_cvtps_ph(_mm256_setzero_si256(), 0xffff, _mm512_loadu_ps(src + i),
                                           _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

#include "gemm_packed_body.inc"

}  // namespace packed_avx512

// Blocking for server cores with >= 1 MiB of L2: the (144, 256) A block is 144 KiB, a
// (256, 32) B strip 32 KiB, the (256, 4096) B panel 4 MiB.
const PackedKernels& packed_kernels_avx512() {
  static constexpr PackedKernels kKernels =
      packed_avx512::make_packed_kernels<kAvx512Mr, kAvx512Nv>("cpu.gemm.packed_avx512", kAvx512Mc,
                                                              kAvx512Kc, kAvx512Nc);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
