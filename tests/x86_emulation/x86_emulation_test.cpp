// Tests of the host emulation of AMX and vdpbf16ps: known answers that only Intel's rounding
// order gives (a different order or a single rounding gives another value), DAZ/FTZ, tile
// shapes and the configuration checks; and, on CPUs with the instructions, bit-for-bit
// agreement with them on random and adversarial inputs.
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

}  // namespace
}  // namespace xinhe::testing::x86
