// Packed GEMM building blocks for AVX2 + FMA + F16C (compiled with -mavx2 -mfma -mf16c):
// a 6x16 micro-kernel (12 ymm accumulators, 2 B vectors, 1 broadcast) and packing with
// hardware f16 -> f32 conversion. Selected at run time only on CPUs with those features.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_packed.h"

namespace xinhe::kernels::cpu {
namespace packed_avx2 {

typedef float Vec __attribute__((vector_size(32)));
constexpr int kVecFloats = 8;

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

}  // namespace packed_avx2

// Blocking for a Zen-class core (32 KiB L1d, 512 KiB L2): a (256, 16) B strip is 16 KiB of L1,
// the (120, 256) A block 120 KiB of L2, the (256, 4096) B panel 4 MiB of L3.
const PackedKernels& packed_kernels_avx2() {
  static constexpr PackedKernels kKernels =
      packed_avx2::make_packed_kernels<6, 2>("cpu.gemm.packed_avx2", 120, 256, 4096);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
