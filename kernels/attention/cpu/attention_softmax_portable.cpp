// The tile attention's online-softmax step for any CPU (baseline flags, 4-lane vectors): the
// build the tests run with emulated kernels, and the fallback where there is no AVX-512.
#include <cstdint>
#include <cstring>

#include "attention_tiles.h"
#include "half.h"

namespace xinhe::kernels::cpu {
namespace softmax_portable {

typedef float Vec __attribute__((vector_size(16)));
constexpr int kVecFloats = 4;

inline void f32_row_to_f16(const float* src, int64_t n, uint16_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}
inline void f16_row_to_f32(const uint16_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

#include "attention_softmax.inc"

}  // namespace softmax_portable

const SoftmaxKernels& softmax_kernels_portable() {
  static constexpr SoftmaxKernels kKernels{&softmax_portable::softmax_block,
                                           &softmax_portable::rescale_rows,
                                           &softmax_portable::scores_rows, &softmax_portable::accumulate_rows};
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
