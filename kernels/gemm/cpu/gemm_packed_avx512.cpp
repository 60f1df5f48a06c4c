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

#include "gemm_f16_rows_avx512.inc"
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
