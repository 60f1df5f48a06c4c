// The AVX-512 build of the tile attention's vector steps (attention_softmax.inc with 16-float
// vectors) compiled with AVX2 instructions: GCC lowers each 64-byte vector to two 32-byte
// halves, so the 16-lane loops, tails and the few-rows path are checked on machines without
// AVX-512. Only the vrndscaleps/vscalefps lines (under __AVX512F__) are not: the generic exp2
// they replace runs instead. Compiled with -mavx2 -mfma -mf16c; call it only where the CPU has
// those.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "attention_tiles.h"

namespace xinhe::kernels::cpu {
namespace softmax_16_lanes_on_avx2 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

#include "gemm_f16c_rows.inc"
#include "attention_softmax.inc"

}  // namespace softmax_16_lanes_on_avx2

const SoftmaxKernels& softmax_kernels_16_lanes_on_avx2() {
  static constexpr SoftmaxKernels kKernels{
      &softmax_16_lanes_on_avx2::softmax_block, &softmax_16_lanes_on_avx2::rescale_rows,
      &softmax_16_lanes_on_avx2::scores_rows, &softmax_16_lanes_on_avx2::accumulate_rows};
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
