// The AVX-512 build of the tile attention's vector steps (attention_softmax.inc with 16-float
// vectors and gemm_f16_rows_avx512.inc's f16 conversions) compiled with AVX2 instructions:
// GCC lowers each 64-byte vector to two 32-byte halves, and the AVX-512F intrinsics the source
// names (vrndscaleps/vscalefps in exp2, vpmovzxwd/vpslld widening bf16, vcvtph2ps/vcvtps2ph)
// run on the host emulation of their instructions (avx512_intrinsics_emulated.h). So the
// 16-lane loops, tails, the few-rows path and the AVX-512 lines themselves are checked on
// machines without AVX-512. Compiled with -mavx2 -mfma -mf16c; call it only where the CPU has
// those.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "attention_tiles.h"
#include "avx512_intrinsics_emulated.h"

namespace xinhe::kernels::cpu {
namespace softmax_16_lanes_on_avx2 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

#include "gemm_f16_rows_avx512.inc"
// After the conversions it uses:
#include "attention_softmax.inc"

}  // namespace softmax_16_lanes_on_avx2

const SoftmaxKernels& softmax_kernels_16_lanes_on_avx2() {
  static constexpr SoftmaxKernels kKernels{
      &softmax_16_lanes_on_avx2::softmax_block, &softmax_16_lanes_on_avx2::rescale_rows,
      &softmax_16_lanes_on_avx2::scores_rows, &softmax_16_lanes_on_avx2::accumulate_rows};
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
