// The tile attention's online-softmax step for AVX2 + FMA + F16C (compiled with -mavx2 -mfma
// -mf16c): 8-lane vectors, f16 rounding with vcvtps2ph. Entered only where AVX2 is usable.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "attention_tiles.h"

namespace xinhe::kernels::cpu {
namespace softmax_avx2 {

typedef float Vec __attribute__((vector_size(32)));
constexpr int kVecFloats = 8;

#include "gemm_f16c_rows.inc"
// After the conversions it uses:
#include "attention_softmax.inc"

}  // namespace softmax_avx2

const SoftmaxKernels& softmax_kernels_avx2() {
  static constexpr SoftmaxKernels kKernels{&softmax_avx2::softmax_block,
                                           &softmax_avx2::rescale_rows,
                                           &softmax_avx2::scores_rows, &softmax_avx2::accumulate_rows};
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
