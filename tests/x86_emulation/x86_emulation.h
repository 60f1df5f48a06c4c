// Host emulation of the x86 matrix and 16-bit dot-product instructions the CPU kernels use,
// written from Intel's definitions (SDM and the ISA extensions reference), independently of
// the kernels: AMX (ldtilecfg palette 1, tileloadd, tilestored, tilezero, tilerelease,
// tdpbf16ps, tdpfp16ps) and AVX512_BF16's vdpbf16ps. The kernel tests compile the kernels'
// own source against these functions, so the tiling, packing and edge handling of the AMX and
// AVX512_BF16 kernels are checked on any x86-64 (tests/gemm_cpu, tests/cpu).
//
// Semantics kept: the order and rounding of every f32 step (each product-accumulate a fused
// multiply-add rounded to nearest even; denormal inputs read as zero where Intel says DAZ,
// denormal results flushed to zero), tile rows and bytes per row from the configuration, zeroed
// bytes past a tile's configured shape, and the configuration checks that raise #UD / #GP on
// hardware (they abort here with the reason, as the instruction would fault).
//
// Tile state is per thread, like the hardware's: each thread configures its own tiles.
#pragma once

#include <cstdint>

namespace xinhe::testing::x86 {

// The 64-byte memory operand of ldtilecfg (palette 1 uses tiles 0-7).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// Palette 1 limits: 8 tiles of at most 16 rows of 64 bytes.
inline constexpr int kTiles = 8;
inline constexpr int kMaxRows = 16;
inline constexpr int kMaxRowBytes = 64;

void ldtilecfg(const TileConfig& cfg);  // palette 0 releases, like tilerelease
void tilerelease();
void tilezero(int tile);
void tileloadd(int tile, const void* base, int64_t stride_bytes);
void tilestored(int tile, void* base, int64_t stride_bytes);
void tdpbf16ps(int dst, int src1, int src2);
void tdpfp16ps(int dst, int src1, int src2);
// Whether this thread has a valid tile configuration loaded.
bool tiles_configured();
// Bytes of one tile row as the tile holds them (for tests of the emulator itself).
void tile_row(int tile, int row, uint8_t out[kMaxRowBytes]);

// vdpbf16ps zmm: for each of 16 f32 lanes j,
//   acc[j] += a[2j+1] * b[2j+1], then acc[j] += a[2j] * b[2j]
// as two fused multiply-adds, DAZ on inputs, FTZ on results, nearest even.
struct F32x16 {
  float v[16];
};
struct Bf16x32 {
  uint16_t v[32];
};
F32x16 vdpbf16ps(const F32x16& acc, const Bf16x32& a, const Bf16x32& b);

// The arithmetic helpers the instructions above are made of, exposed for their own tests.
float daz(float x);                            // denormal -> zero of the same sign
float ftz(float x);                            // denormal result -> zero of the same sign
float fma_daz_ftz(float a, float b, float c);  // ftz(fma(daz a, daz b, daz c))

}  // namespace xinhe::testing::x86
