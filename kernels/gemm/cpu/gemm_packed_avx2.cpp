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

#include "gemm_f16c_rows.inc"
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
