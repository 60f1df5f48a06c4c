// Probe loop for AMX (inline assembly; needs only the assembler): four independent tile
// products per step, C in tmm0-3, A in tmm4-5, B in tmm6-7, all 16 x 64 bytes.
#include <cstdint>
#include <cstring>

#include "amx_tdpfp16ps.h"
#include "cpu_probe_units.h"

namespace xinhe::kernels::probe {

#if defined(__x86_64__)
namespace {
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
}  // namespace

float amx(bool fp16, long iterations) {
  TileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  alignas(64) uint16_t ab[16 * 32];
  // 2^-10 in bf16 (0x3a80) or f16 (0x1400): sums stay small.
  for (uint16_t& v : ab) v = fp16 ? 0x1400 : 0x3a80;
  alignas(64) float c[16 * 16];
  const long stride = 64;
  __asm__ volatile("ldtilecfg %0" : : "m"(cfg) : "memory");
  __asm__ volatile(
      "tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3\n\t"
      "tileloadd (%0,%1,1), %%tmm4\n\ttileloadd (%0,%1,1), %%tmm5\n\t"
      "tileloadd (%0,%1,1), %%tmm6\n\ttileloadd (%0,%1,1), %%tmm7"
      :
      : "r"(ab), "r"(stride)
      : "memory");
  if (fp16) {
    for (long i = 0; i < iterations; ++i) {
      tdpfp16ps<0, 4, 6>();
      tdpfp16ps<1, 4, 7>();
      tdpfp16ps<2, 5, 6>();
      tdpfp16ps<3, 5, 7>();
    }
  } else {
    for (long i = 0; i < iterations; ++i) {
      __asm__ volatile(
          "tdpbf16ps %%tmm6, %%tmm4, %%tmm0\n\ttdpbf16ps %%tmm7, %%tmm4, %%tmm1\n\t"
          "tdpbf16ps %%tmm6, %%tmm5, %%tmm2\n\ttdpbf16ps %%tmm7, %%tmm5, %%tmm3" ::
              : "memory");
    }
  }
  __asm__ volatile("tilestored %%tmm3, (%0,%1,1)\n\ttilerelease"
                   :
                   : "r"(c), "r"(stride)
                   : "memory");
  return c[0];
}
#else
float amx(bool, long) { return 0.0f; }
#endif

}  // namespace xinhe::kernels::probe
