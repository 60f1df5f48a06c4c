// Packed GEMM building blocks in plain C++ for any CPU the compiler targets (baseline flags;
// SSE2 on x86-64): a 4x8 micro-kernel over 16-byte vectors that fits the 16 xmm registers,
// and scalar f16 conversion. The fallback before the reference loops.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_packed.h"
#include "half.h"

namespace xinhe::kernels::cpu {
namespace packed_portable {

typedef float Vec __attribute__((vector_size(16)));
constexpr int kVecFloats = 4;

inline void f16_row_to_f32(const uint16_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

inline void f32_row_to_f16(const float* src, int64_t n, uint16_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

#include "gemm_packed_body.inc"

}  // namespace packed_portable

const PackedKernels& packed_kernels_portable() {
  static constexpr PackedKernels kKernels =
      packed_portable::make_packed_kernels<4, 2>("cpu.gemm.packed_portable", 96, 256, 2048);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
