// The AVX-512 GEMM kernels' tiling (12 x 32 micro-tile of 16-float vectors, 144/256/4096
// blocking) built from the same source, gemm_packed_body.inc, with AVX2 instructions: GCC
// lowers each 64-byte vector to two 32-byte halves, and the f16 conversions of
// gemm_f16_rows_avx512.inc (vcvtph2ps/vcvtps2ph on 16 values) run on the host emulation of
// those instructions (avx512_intrinsics_emulated.h). The conformance test runs it through the
// blocked driver, so the AVX-512 path's packing, edge tiles, blocking and conversions are
// checked on machines without AVX-512. Compiled with -mavx2 -mfma -mf16c; call it only when
// the CPU has those.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "avx512_intrinsics_emulated.h"
#include "gemm_packed.h"

namespace xinhe::kernels::cpu {
namespace packed_avx512_on_avx2 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

#include "gemm_f16_rows_avx512.inc"
#include "gemm_packed_body.inc"

}  // namespace packed_avx512_on_avx2

const PackedKernels& packed_kernels_avx512_on_avx2() {
  static constexpr PackedKernels kKernels =
      packed_avx512_on_avx2::make_packed_kernels<kAvx512Mr, kAvx512Nv>(
          "packed_avx512_tiling_on_avx2", kAvx512Mc, kAvx512Kc, kAvx512Nc);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
