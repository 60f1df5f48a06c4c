// Host emulation of AMX and vdpbf16ps (see x86_emulation.h), from the pseudocode of Intel's
// instruction reference: TDPBF16PS / TDPFP16PS ("FP32 FMA with DAZ=FTZ=1, RNE rounding"; the
// even and odd products of a pair accumulate in two separate f32 sums over the K dimension of
// the tile, which are then added together and to the destination), VDPBF16PS (odd pair member
// first, then even, each a fused multiply-add), TILELOADD / TILESTORED (rows x colsb bytes at
// base + row * stride; bytes past the configured shape read as zero), LDTILECFG (palette 1);
// VRNDSCALEPS (RoundToIntegerSP with imm8's scale and rounding), VSCALEFPS (its table of
// special cases, then SRC1 * 2^floor(SRC2) rounded once), VCVTPH2PS / VCVTPS2PH (IEEE binary16,
// overflow and NaN as the SDM says), VPMOVZXWD, VPSLLD.
// Compiled with the baseline flags; std::fma is exact whether or not the CPU has FMA.
#include "x86_emulation.h"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace xinhe::testing::x86 {
namespace {

struct TileState {
  bool configured = false;
  uint8_t rows[kTiles] = {};
  uint16_t colsb[kTiles] = {};
  alignas(64) uint8_t data[kTiles][kMaxRows][kMaxRowBytes] = {};
};

thread_local TileState tiles;

// The hardware raises #UD or #GP; the emulation stops the program with the reason.
[[noreturn]] void fault(const char* instruction, const char* why) {
  std::fprintf(stderr, "x86 emulation: %s faults: %s\n", instruction, why);
  std::abort();
}

void check_tile(const char* instruction, int t) {
  if (!tiles.configured) fault(instruction, "no tile configuration loaded (#UD)");
  if (t < 0 || t >= kTiles) fault(instruction, "tile register out of range");
  if (tiles.rows[t] == 0 || tiles.colsb[t] == 0) fault(instruction, "tile not configured (#UD)");
}

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float bf16_to_float(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    const float f = std::ldexp(static_cast<float>(man), -24);  // exact: subnormals are kept
    return sign ? -f : f;
  }
  if (exp == 31) return bits_to_float(sign | 0x7f800000u | (man << 13));
  return bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t load16(const uint8_t* row, int element) {
  uint16_t v;
  std::memcpy(&v, row + 2 * element, 2);
  return v;
}

// The shape checks and loop of TDPBF16PS / TDPFP16PS; to_f32 widens one 16-bit element.
template <typename Widen>
void tile_dot(const char* instruction, int dst, int src1, int src2, Widen to_f32) {
  check_tile(instruction, dst);
  check_tile(instruction, src1);
  check_tile(instruction, src2);
  if (dst == src1 || dst == src2 || src1 == src2)
    fault(instruction, "tile operands must differ (#UD)");
  if (tiles.colsb[src1] % 4 != 0)
    fault(instruction, "src1 bytes per row not a multiple of 4 (#UD)");
  if (tiles.colsb[src1] / 4 != tiles.rows[src2])
    fault(instruction, "src1.colsb / 4 != src2.rows (#UD)");
  if (tiles.colsb[dst] != tiles.colsb[src2]) fault(instruction, "dst.colsb != src2.colsb (#UD)");
  if (tiles.rows[dst] != tiles.rows[src1]) fault(instruction, "dst.rows != src1.rows (#UD)");
  const int k_pairs = tiles.colsb[src1] / 4;
  const int n_cols = tiles.colsb[dst] / 4;
  // Inputs widened once, DAZ applied (f16 values are normal f32 after widening); the running
  // sums are flushed after every step, so they are never denormal when read back.
  float b_values[kMaxRows][kMaxRowBytes / 2];
  for (int k = 0; k < k_pairs; ++k) {
    for (int e = 0; e < 2 * n_cols; ++e)
      b_values[k][e] = daz(to_f32(load16(tiles.data[src2][k], e)));
  }
  for (int m = 0; m < tiles.rows[dst]; ++m) {
    float temp[kMaxRowBytes / 2] = {};  // even and odd sums per column
    const uint8_t* a_row = tiles.data[src1][m];
    for (int k = 0; k < k_pairs; ++k) {
      const float a0 = daz(to_f32(load16(a_row, 2 * k))),
                  a1 = daz(to_f32(load16(a_row, 2 * k + 1)));
      const float* b = b_values[k];
      for (int n = 0; n < n_cols; ++n) {
        temp[2 * n] = ftz(std::fma(a0, b[2 * n], temp[2 * n]));
        temp[2 * n + 1] = ftz(std::fma(a1, b[2 * n + 1], temp[2 * n + 1]));
      }
    }
    uint8_t* c_row = tiles.data[dst][m];
    for (int n = 0; n < n_cols; ++n) {
      float c;
      std::memcpy(&c, c_row + 4 * n, 4);
      const float pair = ftz(temp[2 * n] + temp[2 * n + 1]);
      c = ftz(daz(c) + pair);
      std::memcpy(c_row + 4 * n, &c, 4);
    }
    std::memset(c_row + tiles.colsb[dst], 0, kMaxRowBytes - tiles.colsb[dst]);
  }
  for (int m = tiles.rows[dst]; m < kMaxRows; ++m) std::memset(tiles.data[dst][m], 0, kMaxRowBytes);
}

}  // namespace

float daz(float x) { return std::fabs(x) < FLT_MIN ? std::copysign(0.0f, x) : x; }

float ftz(float x) { return std::fabs(x) < FLT_MIN ? std::copysign(0.0f, x) : x; }

float fma_daz_ftz(float a, float b, float c) { return ftz(std::fma(daz(a), daz(b), daz(c))); }

void ldtilecfg(const TileConfig& cfg) {
  if (cfg.palette_id == 0) {
    tilerelease();
    return;
  }
  if (cfg.palette_id != 1) fault("ldtilecfg", "palette other than 0 or 1 (#GP)");
  for (uint8_t b : cfg.reserved) {
    if (b != 0) fault("ldtilecfg", "reserved bytes must be zero (#GP)");
  }
  if (cfg.start_row != 0) fault("ldtilecfg", "start_row must be 0 outside an interrupted load");
  for (int t = 0; t < 16; ++t) {
    const bool used = cfg.rows[t] != 0 || cfg.colsb[t] != 0;
    if (t >= kTiles) {
      if (used) fault("ldtilecfg", "palette 1 has 8 tiles; tiles 8-15 must be zero (#GP)");
      continue;
    }
    if (used && (cfg.rows[t] == 0 || cfg.colsb[t] == 0)) {
      fault("ldtilecfg", "a tile needs both rows and colsb, or neither (#GP)");
    }
    if (cfg.rows[t] > kMaxRows) fault("ldtilecfg", "more than 16 rows (#GP)");
    if (cfg.colsb[t] > kMaxRowBytes) fault("ldtilecfg", "more than 64 bytes per row (#GP)");
  }
  tiles = TileState{};
  tiles.configured = true;
  for (int t = 0; t < kTiles; ++t) {
    tiles.rows[t] = cfg.rows[t];
    tiles.colsb[t] = cfg.colsb[t];
  }
}

void tilerelease() { tiles = TileState{}; }

bool tiles_configured() { return tiles.configured; }

void tilezero(int tile) {
  check_tile("tilezero", tile);
  std::memset(tiles.data[tile], 0, sizeof tiles.data[tile]);
}

void tileloadd(int tile, const void* base, int64_t stride_bytes) {
  check_tile("tileloadd", tile);
  const auto* src = static_cast<const uint8_t*>(base);
  for (int r = 0; r < kMaxRows; ++r) {
    uint8_t* row = tiles.data[tile][r];
    std::memset(row, 0, kMaxRowBytes);
    if (r < tiles.rows[tile]) std::memcpy(row, src + r * stride_bytes, tiles.colsb[tile]);
  }
}

void tilestored(int tile, void* base, int64_t stride_bytes) {
  check_tile("tilestored", tile);
  auto* dst = static_cast<uint8_t*>(base);
  for (int r = 0; r < tiles.rows[tile]; ++r) {
    std::memcpy(dst + r * stride_bytes, tiles.data[tile][r], tiles.colsb[tile]);
  }
}

void tile_row(int tile, int row, uint8_t out[kMaxRowBytes]) {
  std::memcpy(out, tiles.data[tile][row], kMaxRowBytes);
}

void tdpbf16ps(int dst, int src1, int src2) {
  tile_dot("tdpbf16ps", dst, src1, src2, bf16_to_float);
}

void tdpfp16ps(int dst, int src1, int src2) {
  tile_dot("tdpfp16ps", dst, src1, src2, f16_to_float);
}

F32x16 vdpbf16ps(const F32x16& acc, const Bf16x32& a, const Bf16x32& b) {
  F32x16 out = acc;
  for (int j = 0; j < 16; ++j) {
    float r = fma_daz_ftz(bf16_to_float(a.v[2 * j + 1]), bf16_to_float(b.v[2 * j + 1]), out.v[j]);
    r = fma_daz_ftz(bf16_to_float(a.v[2 * j]), bf16_to_float(b.v[2 * j]), r);
    out.v[j] = r;
  }
  return out;
}

namespace {

uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float quiet(float nan) { return bits_to_float(float_to_bits(nan) | 0x00400000u); }

// The rounding direction of imm8[2:0] (MXCSR's default, nearest even, when imm8[2] is set).
int rounding_of(int imm8) { return (imm8 & 4) != 0 ? 0 : (imm8 & 3); }

// x (>= 0, an integer plus a fraction, exact in double) rounded to an integer in direction
// `rounding` for a value of sign `negative`.
double round_magnitude(double x, int rounding, bool negative) {
  const double down = std::floor(x);
  switch (rounding) {
    case 0: {  // nearest, ties to even
      const double frac = x - down;
      if (frac > 0.5 || (frac == 0.5 && std::fmod(down, 2.0) != 0.0)) return down + 1.0;
      return down;
    }
    case 1:
      return negative ? std::ceil(x) : down;  // toward -inf
    case 2:
      return negative ? down : std::ceil(x);  // toward +inf
    default:
      return down;  // toward zero
  }
}

float round_scaled(float x, int imm8) {
  if (std::isnan(x)) return quiet(x);
  if (std::isinf(x) || x == 0.0f) return x;
  const int m = (imm8 >> 4) & 15;
  const bool negative = std::signbit(x);
  const double scaled = std::ldexp(std::fabs(static_cast<double>(x)), m);  // exact
  const double r = std::ldexp(round_magnitude(scaled, rounding_of(imm8), negative), -m);
  return static_cast<float>(negative ? -r : r);  // exact: at most x's bits, or a power of 2
}

float scale(float a, float b) {
  const float indefinite = bits_to_float(0xffc00000u);
  // (The SDM's table gives a NaN scaled by an infinity entries of their own; no kernel makes
  // that pair, so it is left out rather than guessed.)
  if (std::isnan(a) && std::isinf(b))
    fault("vscalefps", "a NaN scaled by an infinity is not emulated");
  if (std::isnan(a)) return quiet(a);
  if (std::isnan(b)) return quiet(b);
  if (std::isinf(a)) return (std::isinf(b) && b < 0) ? indefinite : a;
  if (a == 0.0f) return (std::isinf(b) && b > 0) ? indefinite : a;
  if (std::isinf(b)) return b > 0 ? std::copysign(INFINITY, a) : std::copysign(0.0f, a);
  // Past +-400 every finite a gives 0 or infinity, as the exact power would.
  const float n = std::fmax(-400.0f, std::fmin(400.0f, std::floor(b)));
  return std::ldexp(a, static_cast<int>(n));  // one rounding, subnormal results kept
}

uint16_t to_f16(float x, int rounding) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const uint32_t bits = float_to_bits(x);
  if (std::isnan(x)) return static_cast<uint16_t>(sign | 0x7e00u | ((bits & 0x7fffffu) >> 13));
  if (std::isinf(x)) return static_cast<uint16_t>(sign | 0x7c00u);
  const double a = std::fabs(static_cast<double>(x));
  if (a == 0.0) return sign;
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const int ulp = (e - 1 < -14) ? -24 : (e - 1) - 10;
  const double v = std::ldexp(round_magnitude(std::ldexp(a, -ulp), rounding, sign != 0), ulp);
  if (v >= 65536.0) {
    // Overflow: infinity when rounding away from zero for this sign, else the largest finite.
    const bool to_inf = rounding == 0 || (rounding == 1 && sign) || (rounding == 2 && !sign);
    return static_cast<uint16_t>(sign | (to_inf ? 0x7c00u : 0x7bffu));
  }
  if (v < std::ldexp(1.0, -14))
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::ldexp(v, 24)));
  int ev;
  const double mant = std::frexp(v, &ev);  // v = mant * 2^ev, mant in [0.5, 1)
  const uint32_t exp_field = static_cast<uint32_t>(ev - 1 + 15);
  const uint32_t man_field = static_cast<uint32_t>(std::ldexp(mant, 11)) - 1024u;
  return static_cast<uint16_t>(sign | (exp_field << 10) | man_field);
}

}  // namespace

F32x16 vrndscaleps(const F32x16& a, int imm8) {
  F32x16 out;
  for (int j = 0; j < 16; ++j) out.v[j] = round_scaled(a.v[j], imm8);
  return out;
}

F32x16 vscalefps(const F32x16& a, const F32x16& b) {
  F32x16 out;
  for (int j = 0; j < 16; ++j) out.v[j] = scale(a.v[j], b.v[j]);
  return out;
}

F32x16 vcvtph2ps(const U16x16& h) {
  F32x16 out;
  for (int j = 0; j < 16; ++j) {
    const float f = f16_to_float(h.v[j]);
    out.v[j] = std::isnan(f) ? quiet(f) : f;
  }
  return out;
}

U16x16 vcvtps2ph(const F32x16& a, int imm8) {
  U16x16 out;
  for (int j = 0; j < 16; ++j) out.v[j] = to_f16(a.v[j], rounding_of(imm8));
  return out;
}

U32x16 vpmovzxwd(const U16x16& h) {
  U32x16 out;
  for (int j = 0; j < 16; ++j) out.v[j] = h.v[j];
  return out;
}

U32x16 vpslld(const U32x16& a, unsigned count) {
  U32x16 out;
  for (int j = 0; j < 16; ++j) out.v[j] = count > 31 ? 0u : a.v[j] << count;
  return out;
}

}  // namespace xinhe::testing::x86
