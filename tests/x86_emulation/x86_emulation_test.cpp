// Tests of the host emulation of AMX, vdpbf16ps and the AVX-512F instructions: known answers that
// only Intel's rounding order gives (a different order or a single rounding gives another value),
// DAZ/FTZ, tile shapes and the configuration checks; and, on CPUs with the instructions,
// bit-for-bit agreement with them on random and adversarial inputs.
#include "x86_emulation.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu_features.h"
#include "x86_hardware.h"

namespace xinhe::testing::x86 {
namespace {

uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>(u >> 16);  // exact for the values used here
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TileConfig config(std::initializer_list<std::array<int, 2>> shapes) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  int t = 0;
  for (const auto& shape : shapes) {
    cfg.rows[t] = static_cast<uint8_t>(shape[0]);
    cfg.colsb[t] = static_cast<uint16_t>(shape[1]);
    ++t;
  }
  return cfg;
}

// acc = 1; odd products 2^24, even -2^24. Odd first: 1 + 2^24 rounds to 2^24 (ties to even),
// then + -2^24 = 0. Even first, or one rounding of the whole sum, gives 1.
TEST(Vdpbf16ps, AddsOddProductThenEvenProduct) {
  F32x16 acc;
  Bf16x32 a, b;
  for (int j = 0; j < 16; ++j) {
    acc.v[j] = 1.0f;
    a.v[2 * j] = a.v[2 * j + 1] = bf16_bits(1.0f);
    b.v[2 * j] = bf16_bits(-16777216.0f);
    b.v[2 * j + 1] = bf16_bits(16777216.0f);
  }
  const F32x16 out = vdpbf16ps(acc, a, b);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(out.v[j], 0.0f) << j;
}

TEST(Vdpbf16ps, DenormalInputsReadAsZeroAndDenormalResultsFlush) {
  F32x16 acc{};
  Bf16x32 a{}, b{};
  a.v[0] = 0x0001;               // bf16 denormal 2^-133
  b.v[0] = bf16_bits(0x1p100f);  // would give 2^-33 without DAZ
  a.v[3] = bf16_bits(0x1p-70f);  // 2^-70 * 2^-70 = 2^-140: an f32 denormal
  b.v[3] = bf16_bits(0x1p-70f);
  acc.v[2] = 0x1p-130f;  // denormal accumulator, zero products
  const F32x16 out = vdpbf16ps(acc, a, b);
  EXPECT_EQ(out.v[0], 0.0f);
  EXPECT_EQ(out.v[1], 0.0f);
  EXPECT_EQ(out.v[2], 0.0f);
}

// One row of A (2 pairs), B 2 pair-rows x 1 column. Even sums: 1*2^24 + 1*-2^24 = 0; odd
// sums: 1*1 + 1*0 = 1; C = 0 + (0 + 1) = 1. Accumulating both members of each pair into one
// running sum (as vdpbf16ps does) gives 0 instead.
TEST(Tdpbf16ps, KeepsEvenAndOddSumsApartUntilTheEnd) {
  alignas(64) uint16_t a[16 * 32] = {};
  alignas(64) uint16_t b[16 * 32] = {};
  alignas(64) float c[16 * 16] = {};
  a[0] = a[1] = a[2] = a[3] = bf16_bits(1.0f);
  b[0] = bf16_bits(16777216.0f);  // k pair 0, column 0: even, odd
  b[1] = bf16_bits(1.0f);
  b[32] = bf16_bits(-16777216.0f);  // k pair 1 (next 64-byte row)
  b[33] = 0;
  ldtilecfg(config({{1, 4}, {1, 8}, {2, 4}}));
  tileloadd(0, c, 64);
  tileloadd(1, a, 64);
  tileloadd(2, b, 64);
  tdpbf16ps(0, 1, 2);
  tilestored(0, c, 64);
  tilerelease();
  EXPECT_EQ(c[0], 1.0f);
}

TEST(Tdpfp16ps, KeepsF16DenormalInputs) {
  alignas(64) uint16_t a[16 * 32] = {};
  alignas(64) uint16_t b[16 * 32] = {};
  alignas(64) float c[16 * 16] = {};
  a[0] = 0x0001;  // f16 2^-24
  b[0] = 0x6400;  // f16 1024
  ldtilecfg(config({{1, 4}, {1, 4}, {1, 4}}));
  tilezero(0);
  tileloadd(1, a, 64);
  tileloadd(2, b, 64);
  tdpfp16ps(0, 1, 2);
  tilestored(0, c, 64);
  tilerelease();
  EXPECT_EQ(c[0], 0x1p-14f);
}

TEST(Tiles, LoadZeroFillsPastTheShapeAndStoreWritesOnlyIt) {
  std::vector<uint8_t> src(16 * 64, 0xab), dst(16 * 64, 0xcd);
  ldtilecfg(config({{3, 8}}));
  tileloadd(0, src.data(), 64);
  uint8_t row[kMaxRowBytes];
  for (int r = 0; r < kMaxRows; ++r) {
    tile_row(0, r, row);
    for (int i = 0; i < kMaxRowBytes; ++i) {
      EXPECT_EQ(row[i], (r < 3 && i < 8) ? 0xab : 0) << "row " << r << " byte " << i;
    }
  }
  tilestored(0, dst.data(), 64);
  for (int i = 0; i < 16 * 64; ++i) {
    EXPECT_EQ(dst[i], (i / 64 < 3 && i % 64 < 8) ? 0xab : 0xcd) << i;
  }
  tilerelease();
  EXPECT_FALSE(tiles_configured());
}

TEST(Tiles, ProductMatchesFloat64) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  alignas(64) uint16_t a[16 * 32], b[16 * 32];
  alignas(64) float c[16 * 16];
  for (auto& v : a) v = bf16_bits(dist(rng));
  for (auto& v : b) v = bf16_bits(dist(rng));
  for (auto& v : c) v = dist(rng);
  float c0[16 * 16];
  std::memcpy(c0, c, sizeof c);
  ldtilecfg(config({{16, 64}, {16, 64}, {16, 64}}));
  tileloadd(0, c, 64);
  tileloadd(1, a, 64);
  tileloadd(2, b, 64);
  tdpbf16ps(0, 1, 2);
  tilestored(0, c, 64);
  tilerelease();
  auto widen = [](uint16_t h) {
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return static_cast<double>(f);
  };
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 16; ++n) {
      double want = c0[m * 16 + n], mag = std::fabs(want);
      for (int k = 0; k < 32; ++k) {
        const double p = widen(a[m * 32 + k]) * widen(b[(k / 2) * 32 + 2 * n + k % 2]);
        want += p;
        mag += std::fabs(p);
      }
      EXPECT_NEAR(c[m * 16 + n], want, 8 * 0x1p-24 * mag) << m << "," << n;
    }
  }
}

using TilesDeathTest = ::testing::Test;

TEST(TilesDeathTest, ShapeMismatchesFaultAsOnHardware) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        ldtilecfg(config({{16, 64}, {16, 64}, {8, 64}}));  // A has 16 pairs, B 8 rows
        tdpbf16ps(0, 1, 2);
      },
      "src1.colsb / 4 != src2.rows");
  EXPECT_DEATH(
      {
        ldtilecfg(config({{16, 32}, {16, 64}, {16, 64}}));
        tdpbf16ps(0, 1, 2);
      },
      "dst.colsb != src2.colsb");
  EXPECT_DEATH(
      {
        ldtilecfg(config({{16, 64}, {16, 64}, {16, 64}}));
        tdpbf16ps(0, 0, 2);
      },
      "operands must differ");
  EXPECT_DEATH(
      {
        tilerelease();
        tilezero(0);
      },
      "no tile configuration");
  EXPECT_DEATH(ldtilecfg(config({{17, 64}})), "more than 16 rows");
}

// 16 lanes from a list (the rest repeat the last value).
F32x16 lanes(std::initializer_list<float> values) {
  F32x16 out;
  int j = 0;
  for (float v : values) out.v[j++] = v;
  for (; j < 16; ++j) out.v[j] = out.v[j - 1];
  return out;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Vrndscaleps, RoundsTiesToEvenKeepsSignAndScales) {
  const F32x16 a = lanes({0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 0.49999997f, 1e30f, -0.25f, 3.75f});
  const F32x16 nearest = vrndscaleps(a, 0x08);
  const float want[] = {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, 0.0f, 1e30f, -0.0f, 4.0f};
  for (int j = 0; j < 9; ++j) {
    EXPECT_EQ(float_bits(nearest.v[j]), float_bits(want[j])) << "lane " << j << " of " << a.v[j];
  }
  // imm8 0x29: M = 2 fraction bits kept, rounding toward -inf (01), no precision exception.
  const F32x16 quarters = vrndscaleps(lanes({0.3f, -0.3f, 1.126f}), 0x29);
  EXPECT_EQ(quarters.v[0], 0.25f);
  EXPECT_EQ(quarters.v[1], -0.5f);
  EXPECT_EQ(quarters.v[2], 1.0f);
  // Toward +inf (10) and toward zero (11); imm8[2] takes MXCSR's rounding (nearest).
  EXPECT_EQ(vrndscaleps(lanes({-1.5f}), 0x0a).v[0], -1.0f);
  EXPECT_EQ(vrndscaleps(lanes({-1.5f}), 0x0b).v[0], -1.0f);
  EXPECT_EQ(vrndscaleps(lanes({-1.5f}), 0x0f).v[0], -2.0f);
  const float snan = from_bits(0x7f800001u);
  EXPECT_EQ(float_bits(vrndscaleps(lanes({snan}), 0x08).v[0]), 0x7fc00001u);
}

TEST(Vscalefps, MultipliesByTwoToTheFloorOnceRounded) {
  const F32x16 got = vscalefps(lanes({3.0f, 3.0f, 1.5f, -1.0f, 1.0f, 1.5f, 1.0f}),
                               lanes({2.0f, -1.5f, -149.0f, 127.9f, 128.0f, -126.0f, 0.0f}));
  EXPECT_EQ(got.v[0], 12.0f);
  EXPECT_EQ(got.v[1], 0.75f);  // floor(-1.5) = -2
  // 1.5 * 2^-149 = 1.5 denormal quanta: ties to even give 2^-148 (no FTZ by default).
  EXPECT_EQ(got.v[2], std::ldexp(1.0f, -148));
  EXPECT_EQ(got.v[3], -std::ldexp(1.0f, 127));
  EXPECT_EQ(got.v[4], INFINITY);                       // overflow, nearest: infinity
  EXPECT_EQ(got.v[5], 1.5f * std::ldexp(1.0f, -126));  // the smallest normal exponent
  EXPECT_EQ(got.v[6], 1.0f);
  // The special cases of the SDM's table.
  const float inf = INFINITY;
  const F32x16 special = vscalefps(lanes({0.0f, -0.0f, inf, inf, 2.0f, -2.0f, 1.0f}),
                                   lanes({inf, -inf, -inf, 3.0f, inf, -inf, NAN}));
  EXPECT_EQ(float_bits(special.v[0]), 0xffc00000u);  // 0 * 2^+inf: the default NaN
  EXPECT_EQ(float_bits(special.v[1]), float_bits(-0.0f));
  EXPECT_EQ(float_bits(special.v[2]), 0xffc00000u);  // inf * 2^-inf
  EXPECT_EQ(special.v[3], inf);
  EXPECT_EQ(special.v[4], inf);
  EXPECT_EQ(float_bits(special.v[5]), float_bits(-0.0f));
  EXPECT_TRUE(std::isnan(special.v[6]));
}

TEST(Vcvtps2ph, RoundsOverflowsAndKeepsSubnormals) {
  const F32x16 a =
      lanes({1.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 65504.0f, 65520.0f, 65519.0f,
             std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), std::ldexp(3.0f, -26), -2.0f, 0.0f,
             -0.0f, INFINITY, from_bits(0x7f800001u), 1e-10f});
  const U16x16 nearest = vcvtps2ph(a, 0x00);
  const uint16_t want[] = {0x3c00, 0x3c00, 0x3c02, 0x7bff, 0x7c00, 0x7bff, 0x0001, 0x0000,
                           0x0001, 0xc000, 0x0000, 0x8000, 0x7c00, 0x7e00, 0x0000};
  for (int j = 0; j < 15; ++j) {
    EXPECT_EQ(nearest.v[j], want[j]) << "lane " << j << " of " << a.v[j];
  }
  // Toward zero (imm8 3): an overflow gives the largest finite value, not infinity.
  EXPECT_EQ(vcvtps2ph(lanes({70000.0f}), 0x03).v[0], 0x7bff);
  EXPECT_EQ(vcvtps2ph(lanes({-70000.0f}), 0x01).v[0], 0xfc00);  // toward -inf
  EXPECT_EQ(vcvtps2ph(lanes({-70000.0f}), 0x02).v[0], 0xfbff);  // toward +inf
}

TEST(Vcvtph2ps, WidensExactlyAndQuietsSignallingNaN) {
  U16x16 h;
  const uint16_t in[] = {0x3c00, 0x0001, 0x03ff, 0x8400, 0x7bff, 0xfc00, 0x7c01, 0x7e00};
  for (int j = 0; j < 16; ++j) h.v[j] = in[j % 8];
  const F32x16 got = vcvtph2ps(h);
  EXPECT_EQ(got.v[0], 1.0f);
  EXPECT_EQ(got.v[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(got.v[2], std::ldexp(1023.0f, -24));
  EXPECT_EQ(got.v[3], -std::ldexp(1.0f, -14));
  EXPECT_EQ(got.v[4], 65504.0f);
  EXPECT_EQ(got.v[5], -INFINITY);
  EXPECT_EQ(float_bits(got.v[6]), 0x7fc02000u);
  EXPECT_EQ(float_bits(got.v[7]), 0x7fc00000u);
}

TEST(Vpmovzxwd, ZeroExtendsAndVpslldShifts) {
  U16x16 h;
  for (int j = 0; j < 16; ++j) h.v[j] = static_cast<uint16_t>(0xffff - 4097 * j);
  const U32x16 wide = vpmovzxwd(h);
  const U32x16 shifted = vpslld(wide, 16);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(wide.v[j], h.v[j]);
    EXPECT_EQ(shifted.v[j], static_cast<uint32_t>(h.v[j]) << 16);
  }
  EXPECT_EQ(vpslld(wide, 32).v[0], 0u);
}

// Random bf16 bit patterns over the whole exponent range, plus zeros, denormals and huge
// values; NaN inputs are left out (which NaN payload propagates is the only freedom).
uint16_t random_bf16(std::mt19937& rng) {
  const uint32_t pick = rng() % 16;
  const uint16_t sign = static_cast<uint16_t>((rng() & 1u) << 15);
  if (pick == 0) return sign;                                              // +-0
  if (pick == 1) return static_cast<uint16_t>(sign | (rng() % 0x7f + 1));  // denormal
  if (pick == 2) return static_cast<uint16_t>(sign | 0x7f80);              // inf
  uint16_t exp = static_cast<uint16_t>(pick < 8 ? rng() % 255 : 110 + rng() % 36);
  return static_cast<uint16_t>(sign | (exp << 7) | (rng() & 0x7f));
}

bool same_float(float x, float y) {
  if (std::isnan(x) && std::isnan(y)) return true;
  return float_bits(x) == float_bits(y);
}

TEST(Hardware, Vdpbf16psBitForBit) {
#if !defined(XINHE_X86_HARDWARE)
  GTEST_SKIP() << "not an x86-64 build";
#else
  if (!kernels::cpu_hardware_has(kernels::CpuFeature::kAvx512Bf16)) {
    GTEST_SKIP() << "no AVX512_BF16 here: "
                 << kernels::cpu_feature_unavailable(kernels::CpuFeature::kAvx512Bf16);
  }
  std::mt19937 rng(12);
  int mismatches = 0;
  for (int trial = 0; trial < 20000 && mismatches < 5; ++trial) {
    F32x16 acc;
    Bf16x32 a, b;
    for (int j = 0; j < 16; ++j) {
      const uint32_t bits = (static_cast<uint32_t>(random_bf16(rng)) << 16) | (rng() & 0xffff);
      std::memcpy(&acc.v[j], &bits, 4);
      if (std::isnan(acc.v[j])) acc.v[j] = 1.0f;
    }
    for (auto& v : a.v) v = random_bf16(rng);
    for (auto& v : b.v) v = random_bf16(rng);
    const F32x16 want = hardware::vdpbf16ps(acc, a, b);
    const F32x16 got = vdpbf16ps(acc, a, b);
    for (int j = 0; j < 16; ++j) {
      if (!same_float(got.v[j], want.v[j])) {
        ADD_FAILURE() << "trial " << trial << " lane " << j << ": emulation " << got.v[j] << " (0x"
                      << std::hex << float_bits(got.v[j]) << "), hardware " << want.v[j] << " (0x"
                      << float_bits(want.v[j]) << std::dec << "); acc " << acc.v[j] << " a "
                      << a.v[2 * j] << "," << a.v[2 * j + 1] << " b " << b.v[2 * j] << ","
                      << b.v[2 * j + 1];
        ++mismatches;
      }
    }
  }
#endif
}

TEST(Hardware, TileProductsBitForBit) {
#if !defined(XINHE_X86_HARDWARE)
  GTEST_SKIP() << "not an x86-64 build";
#else
  const bool bf16 = kernels::cpu_hardware_has(kernels::CpuFeature::kAmxBf16);
  const bool fp16 = kernels::cpu_hardware_has(kernels::CpuFeature::kAmxFp16);
  if (!bf16) {
    GTEST_SKIP() << "no usable AMX here: "
                 << kernels::cpu_feature_unavailable(kernels::CpuFeature::kAmxBf16);
  }
  std::mt19937 rng(13);
  for (int trial = 0; trial < 400; ++trial) {
    const bool use_fp16 = fp16 && trial % 2 == 1;
    const int rows = 1 + static_cast<int>(rng() % 16);
    const int k_pairs = 1 + static_cast<int>(rng() % 16);
    const int cols = 1 + static_cast<int>(rng() % 16);
    alignas(64) uint16_t a[16 * 32] = {}, b[16 * 32] = {};
    alignas(64) float c[16 * 16] = {}, c_emu[16 * 16];
    for (int i = 0; i < 16 * 32; ++i) {
      // f16: finite values of moderate range, denormals included.
      a[i] = use_fp16
                 ? static_cast<uint16_t>(rng() % 0x7800) | static_cast<uint16_t>((rng() & 1) << 15)
                 : random_bf16(rng);
      b[i] = use_fp16
                 ? static_cast<uint16_t>(rng() % 0x7800) | static_cast<uint16_t>((rng() & 1) << 15)
                 : random_bf16(rng);
    }
    for (float& v : c) v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 0.125f;
    std::memcpy(c_emu, c, sizeof c);
    hardware::tile_product(use_fp16, rows, k_pairs, cols, a, b, c);
    TileConfig cfg = config({{rows, 4 * cols}, {rows, 4 * k_pairs}, {k_pairs, 4 * cols}});
    ldtilecfg(cfg);
    tileloadd(0, c_emu, 64);
    tileloadd(1, a, 64);
    tileloadd(2, b, 64);
    use_fp16 ? tdpfp16ps(0, 1, 2) : tdpbf16ps(0, 1, 2);
    tilestored(0, c_emu, 64);
    tilerelease();
    for (int m = 0; m < rows; ++m) {
      for (int n = 0; n < cols; ++n) {
        ASSERT_TRUE(same_float(c_emu[m * 16 + n], c[m * 16 + n]))
            << (use_fp16 ? "tdpfp16ps" : "tdpbf16ps") << " trial " << trial << " (" << m << "," << n
            << "): emulation " << c_emu[m * 16 + n] << ", hardware " << c[m * 16 + n];
      }
    }
  }
#endif
}

// Random f32 bit patterns: every exponent, zeros, denormals, infinities; no NaN.
float random_f32(std::mt19937& rng) {
  const uint32_t pick = rng() % 16;
  const uint32_t sign = (rng() & 1u) << 31;
  if (pick == 0) return from_bits(sign);
  if (pick == 1) return from_bits(sign | (rng() & 0x7fffffu));
  if (pick == 2) return from_bits(sign | 0x7f800000u);
  const uint32_t exp = pick < 8 ? rng() % 255 : 100 + rng() % 50;  // many near 1 and f16's range
  return from_bits(sign | (exp << 23) | (rng() & 0x7fffffu));
}

TEST(Hardware, Avx512fInstructionsBitForBit) {
#if !defined(XINHE_X86_HARDWARE)
  GTEST_SKIP() << "not an x86-64 build";
#else
  if (!kernels::cpu_hardware_has(kernels::CpuFeature::kAvx512)) {
    GTEST_SKIP() << "no AVX-512F here: "
                 << kernels::cpu_feature_unavailable(kernels::CpuFeature::kAvx512);
  }
  std::mt19937 rng(14);
  int mismatches = 0;
  const auto compare = [&](const char* what, int trial, const float* got, const float* want) {
    for (int j = 0; j < 16 && mismatches < 8; ++j) {
      if (!same_float(got[j], want[j])) {
        ADD_FAILURE() << what << " trial " << trial << " lane " << j << ": emulation 0x" << std::hex
                      << float_bits(got[j]) << ", hardware 0x" << float_bits(want[j]) << std::dec;
        ++mismatches;
      }
    }
  };
  for (int trial = 0; trial < 20000 && mismatches < 8; ++trial) {
    F32x16 a, b;
    U16x16 h;
    for (int j = 0; j < 16; ++j) {
      a.v[j] = random_f32(rng);
      // Scales: mostly small, some huge, infinite or fractional.
      b.v[j] = trial % 4 == 0 ? random_f32(rng)
                              : static_cast<float>(static_cast<int>(rng() % 301) - 150) * 0.75f;
      h.v[j] = static_cast<uint16_t>(rng());
      if ((h.v[j] & 0x7c00) == 0x7c00 && (h.v[j] & 0x3ff) != 0) h.v[j] &= 0xfc00;  // no NaN
    }
    compare("vrndscaleps nearest", trial, vrndscaleps(a, 0x08).v,
            hardware::vrndscaleps_nearest(a).v);
    compare("vrndscaleps M=2 down", trial, vrndscaleps(a, 0x29).v,
            hardware::vrndscaleps_down_m2(a).v);
    compare("vscalefps", trial, vscalefps(a, b).v, hardware::vscalefps(a, b).v);
    compare("vcvtph2ps", trial, vcvtph2ps(h).v, hardware::vcvtph2ps(h).v);
    const U16x16 near_emu = vcvtps2ph(a, 0x00), near_hw = hardware::vcvtps2ph_nearest(a);
    const U16x16 zero_emu = vcvtps2ph(a, 0x03), zero_hw = hardware::vcvtps2ph_toward_zero(a);
    for (int j = 0; j < 16 && mismatches < 8; ++j) {
      if (near_emu.v[j] != near_hw.v[j] || zero_emu.v[j] != zero_hw.v[j]) {
        ADD_FAILURE() << "vcvtps2ph trial " << trial << " lane " << j << " of 0x" << std::hex
                      << float_bits(a.v[j]) << ": emulation " << near_emu.v[j] << "/"
                      << zero_emu.v[j] << ", hardware " << near_hw.v[j] << "/" << zero_hw.v[j]
                      << std::dec;
        ++mismatches;
      }
    }
  }
#endif
}

}  // namespace
}  // namespace xinhe::testing::x86
