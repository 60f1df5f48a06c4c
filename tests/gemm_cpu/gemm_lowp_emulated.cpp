// The 16-bit GEMM kernels (kernels/gemm/cpu/gemm_lowp_body.inc) built on the host emulation of
// their instructions (tests/x86_emulation): vdpbf16ps for the AVX512_BF16 kernel, the AMX tile
// instructions for the AMX-BF16 and AMX-FP16 kernels. Same kernel source, same register tiles
// and blocking as the real ones (gemm_packed.h), baseline flags: the conformance test runs them
// through the blocked driver on any x86-64, so their packing, tiling, K padding and edge tiles
// are checked where the CPU has no such unit. -Wno-psabi: 64-byte vectors never cross this file.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_packed.h"
#include "half.h"
#include "x86_emulation.h"

namespace xinhe::kernels::cpu {
namespace lowp_emulated {

namespace x86 = xinhe::testing::x86;

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

inline void f16_row_to_f32(const uint16_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
inline void f32_row_to_f16(const float* src, int64_t n, uint16_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

#include "gemm_packed_body.inc"

// vdpbf16ps on zmm registers.
using Acc = x86::F32x16;
using Pairs = x86::Bf16x32;
inline Acc acc_zero() { return Acc{}; }
inline Pairs load_pairs(const uint16_t* p) {
  Pairs v;
  std::memcpy(v.v, p, sizeof v.v);
  return v;
}
inline Pairs broadcast_pair(const uint16_t* p) {
  Pairs v;
  for (int j = 0; j < 16; ++j) {
    v.v[2 * j] = p[0];
    v.v[2 * j + 1] = p[1];
  }
  return v;
}
inline Acc dpbf16ps(const Acc& acc, const Pairs& a, const Pairs& b) {
  return x86::vdpbf16ps(acc, a, b);
}
inline Vec acc_to_vec(const Acc& acc) {
  Vec v;
  std::memcpy(&v, acc.v, sizeof v);
  return v;
}

// AMX.
using TileConfig = x86::TileConfig;
inline void tile_loadconfig(const TileConfig* cfg) { x86::ldtilecfg(*cfg); }
inline void tile_release() { x86::tilerelease(); }
template <int kTile>
void tile_zero() {
  x86::tilezero(kTile);
}
template <int kTile>
void tile_load(const void* base, int64_t stride) {
  x86::tileloadd(kTile, base, stride);
}
template <int kTile>
void tile_store(void* base, int64_t stride) {
  x86::tilestored(kTile, base, stride);
}
template <bool kFp16, int kC, int kA, int kB>
void tile_dp() {
  if constexpr (kFp16) {
    x86::tdpfp16ps(kC, kA, kB);
  } else {
    x86::tdpbf16ps(kC, kA, kB);
  }
}

#define XINHE_LOWP_WITH_DPBF16 1
#define XINHE_LOWP_WITH_AMX 1
#include "gemm_lowp_body.inc"

}  // namespace lowp_emulated

const PackedKernels& packed_kernels_avx512_bf16_emulated() {
  static constexpr PackedKernels kKernels =
      lowp_emulated::make_dpbf16_kernels<kAvx512Bf16Mr, kAvx512Bf16Nv>(
          "packed_avx512bf16_emulated", kAvx512Bf16Mc, kAvx512Bf16Kc, kAvx512Bf16Nc);
  return kKernels;
}

const PackedKernels& packed_kernels_amx_bf16_emulated() {
  static constexpr PackedKernels kKernels = lowp_emulated::make_amx_kernels<false>(
      "packed_amxbf16_emulated", kAmxBlockMc, kAmxBlockKc, kAmxBlockNc);
  return kKernels;
}

const PackedKernels& packed_kernels_amx_fp16_emulated() {
  static constexpr PackedKernels kKernels = lowp_emulated::make_amx_kernels<true>(
      "packed_amxfp16_emulated", kAmxBlockMc, kAmxBlockKc, kAmxBlockNc);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
