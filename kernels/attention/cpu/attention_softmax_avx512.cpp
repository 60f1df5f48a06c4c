// The tile attention's online-softmax step for AVX-512F (compiled with -mavx512f -mf16c):
// 16-lane vectors, f16 rounding with vcvtps2ph. Entered only where AVX-512 is usable.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "attention_tiles.h"

namespace xinhe::kernels::cpu {
namespace softmax_avx512 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

#include "gemm_f16_rows_avx512.inc"
// After the conversions it uses:
#include "attention_softmax.inc"

}  // namespace softmax_avx512

const SoftmaxKernels& softmax_kernels_avx512() {
  static constexpr SoftmaxKernels kKernels{&softmax_avx512::softmax_block,
                                           &softmax_avx512::rescale_rows,
                                           &softmax_avx512::scores_rows, &softmax_avx512::accumulate_rows};
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
