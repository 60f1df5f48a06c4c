// bf16 GEMM on AVX512_BF16 (compiled with -mavx512f/bw/vl/dq -mavx512bf16): A and B packed
// into bf16 pairs, a 12 x 32 register tile of f32 accumulators fed by vdpbf16ps (two products
// per lane per instruction: twice the f32 FMA rate), f32 accumulation throughout; C stored as
// f32 or rounded once to bf16. The kernel source is gemm_lowp_body.inc, shared with the host
// emulation the tests run. Selected at run time only where AVX512_BF16 is usable.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_packed.h"

namespace xinhe::kernels::cpu {
namespace lowp_avx512_bf16 {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

#include "gemm_f16_rows_avx512.inc"
#include "gemm_packed_body.inc"

using Acc = __m512;
using Pairs = __m512bh;
inline Acc acc_zero() { return _mm512_setzero_ps(); }
inline Pairs load_pairs(const uint16_t* p) {
  return reinterpret_cast<Pairs>(_mm512_loadu_si512(p));
}
inline Pairs broadcast_pair(const uint16_t* p) {
  int32_t word;
  std::memcpy(&word, p, sizeof word);
  return reinterpret_cast<Pairs>(_mm512_set1_epi32(word));
}
inline Acc dpbf16ps(Acc acc, Pairs a, Pairs b) { return _mm512_dpbf16_ps(acc, a, b); }
inline Vec acc_to_vec(Acc acc) { return reinterpret_cast<Vec>(acc); }

#define XINHE_LOWP_WITH_DPBF16 1
#include "gemm_lowp_body.inc"

}  // namespace lowp_avx512_bf16

// Blocking for a Zen 4 / Sapphire Rapids core: a (384 k, 32) bf16 B strip is 24 KiB of L1, the
// (144, 384) A block 108 KiB of L2.
const PackedKernels& packed_kernels_avx512_bf16() {
  static constexpr PackedKernels kKernels =
      lowp_avx512_bf16::make_dpbf16_kernels<kAvx512Bf16Mr, kAvx512Bf16Nv>(
          "cpu.gemm.packed_bf16_avx512bf16", kAvx512Bf16Mc, kAvx512Bf16Kc, kAvx512Bf16Nc);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
