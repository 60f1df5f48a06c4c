// Host emulation of the x86 matrix and 16-bit dot-product instructions the CPU kernels use,
// written from Intel's definitions (SDM and the ISA extensions reference), independently of
// the kernels: AMX (ldtilecfg palette 1, tileloadd, tilestored, tilezero, tilerelease,
// tdpbf16ps, tdpfp16ps), AVX512_BF16's vdpbf16ps, and the few AVX-512F instructions the
// 16-lane vector code names by intrinsic (vrndscaleps, vscalefps, vcvtph2ps, vcvtps2ph,
// vpmovzxwd, vpslld). The kernel tests compile the kernels'
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

// The AVX-512F vector instructions of the kernels' 16-lane steps (attention_softmax.inc,
// gemm_f16_rows_avx512.inc), all 16 lanes, MXCSR at its default (round to nearest even, no
// DAZ or FTZ, exceptions masked). avx512_intrinsics_emulated.h maps the intrinsics onto them.
struct U16x16 {
  uint16_t v[16];
};
struct U32x16 {
  uint32_t v[16];
};
// imm8[7:4] fraction bits kept (M), imm8[2] the MXCSR's rounding instead of imm8[1:0]
// (0 nearest even, 1 down, 2 up, 3 toward zero); NaN -> quiet NaN.
F32x16 vrndscaleps(const F32x16& a, int imm8);
// a * 2^floor(b), rounded once, with the SDM's table of special cases (infinities, zeros, NaN).
F32x16 vscalefps(const F32x16& a, const F32x16& b);
F32x16 vcvtph2ps(const U16x16& h);  // exact; a signalling NaN comes out quiet
// Rounding as vrndscaleps's imm8[2:0]; overflow per the rounding direction, subnormal results
// kept, NaN -> quiet NaN keeping the payload's top bits.
U16x16 vcvtps2ph(const F32x16& a, int imm8);
U32x16 vpmovzxwd(const U16x16& h);
U32x16 vpslld(const U32x16& a, unsigned count);  // count > 31 gives 0

// The arithmetic helpers the instructions above are made of, exposed for their own tests.
float daz(float x);                            // denormal -> zero of the same sign
float ftz(float x);                            // denormal result -> zero of the same sign
float fma_daz_ftz(float a, float b, float c);  // ftz(fma(daz a, daz b, daz c))

}  // namespace xinhe::testing::x86
