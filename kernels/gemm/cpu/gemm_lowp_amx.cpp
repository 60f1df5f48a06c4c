// bf16 and f16 GEMM on AMX (tdpbf16ps, tdpfp16ps): A packed into 16 x 32 tiles, B into tiles
// of 16 rows of 16 (k, k+1) pairs, a 32 x 32 block of C in four f32 tiles, f32 accumulation
// throughout; C stored from the tiles straight into an f32 C when alpha = 1 and beta is 0 or
// 1, else through a buffer (alpha, beta, rounding to a 16-bit C). The kernel source is
// gemm_lowp_body.inc, shared with the host emulation the tests run; the tile instructions are
// written as inline assembly (GCC 12 has no AMX-FP16 intrinsics), so only the assembler needs
// to know them. Compiled with the AVX-512 flags for packing and the C epilogue; selected at run
// time only where AMX is usable (cpu_features: cpuid, XCR0 and Linux's tile-data permission).
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "amx_tdpfp16ps.h"
#include "gemm_packed.h"

namespace xinhe::kernels::cpu {
namespace lowp_amx {

typedef float Vec __attribute__((vector_size(64)));
constexpr int kVecFloats = 16;

#include "gemm_f16_rows_avx512.inc"
#include "gemm_packed_body.inc"

// ldtilecfg's 64-byte operand; palette 1 uses tiles 0-7.
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

inline void tile_loadconfig(const TileConfig* cfg) {
  __asm__ volatile("ldtilecfg %0" : : "m"(*cfg) : "memory");
}
inline void tile_release() { __asm__ volatile("tilerelease" : : : "memory"); }

template <int kTile>
void tile_zero();
template <int kTile>
void tile_load(const void* base, int64_t stride);
template <int kTile>
void tile_store(void* base, int64_t stride);

// The tile number is part of the instruction: one specialization per tile register.
#define XINHE_AMX_TILE_OPS(n)                                                                    \
  template <>                                                                                    \
  inline void tile_zero<n>() {                                                                   \
    __asm__ volatile("tilezero %%tmm" #n : : : "memory");                                        \
  }                                                                                              \
  template <>                                                                                    \
  inline void tile_load<n>(const void* base, int64_t stride) {                                   \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #n : : "r"(base), "r"(stride) : "memory");     \
  }                                                                                              \
  template <>                                                                                    \
  inline void tile_store<n>(void* base, int64_t stride) {                                        \
    __asm__ volatile("tilestored %%tmm" #n ", (%0,%1,1)" : : "r"(base), "r"(stride) : "memory"); \
  }
XINHE_AMX_TILE_OPS(0)
XINHE_AMX_TILE_OPS(1)
XINHE_AMX_TILE_OPS(2)
XINHE_AMX_TILE_OPS(3)
XINHE_AMX_TILE_OPS(4)
XINHE_AMX_TILE_OPS(5)
XINHE_AMX_TILE_OPS(6)
XINHE_AMX_TILE_OPS(7)
#undef XINHE_AMX_TILE_OPS

// C (tile c) += A (tile a) * B (tile b); AT&T operand order is B, A, C.
template <bool kFp16, int kC, int kA, int kB>
inline void tile_dp() {
  static_assert(kC >= 0 && kC < 8 && kA >= 0 && kA < 8 && kB >= 0 && kB < 8, "tmm0-7");
#define XINHE_AMX_DP(op) \
  __asm__ volatile(op " %%tmm%c2, %%tmm%c1, %%tmm%c0" : : "i"(kC), "i"(kA), "i"(kB) : "memory")
  if constexpr (kFp16) {
    tdpfp16ps<kC, kA, kB>();
  } else {
    XINHE_AMX_DP("tdpbf16ps");
  }
#undef XINHE_AMX_DP
}

#define XINHE_LOWP_WITH_AMX 1
#include "gemm_lowp_body.inc"

}  // namespace lowp_amx

// Blocking for a Sapphire Rapids core (48 KiB L1d, 2 MiB L2): a (512 k, 32) B strip and a
// (32, 512) A strip are 32 KiB each, the (256, 512) A block 256 KiB, the (512, 2048) B panel
// 2 MiB. Chosen from the cache sizes, not measured (no AMX machine was available).
const PackedKernels& packed_kernels_amx_bf16() {
  static constexpr PackedKernels kKernels = lowp_amx::make_amx_kernels<false>(
      "cpu.gemm.packed_bf16_amx", kAmxBlockMc, kAmxBlockKc, kAmxBlockNc);
  return kKernels;
}

const PackedKernels& packed_kernels_amx_fp16() {
  static constexpr PackedKernels kKernels = lowp_amx::make_amx_kernels<true>(
      "cpu.gemm.packed_f16_amxfp16", kAmxBlockMc, kAmxBlockKc, kAmxBlockNc);
  return kKernels;
}

}  // namespace xinhe::kernels::cpu
