// The real instructions the emulation stands for, for bit-for-bit comparison on CPUs that have
// them (x86_hardware.cpp; call only after cpu_hardware_has() says so).
#pragma once

#include "x86_emulation.h"

namespace xinhe::testing::x86::hardware {

F32x16 vdpbf16ps(const F32x16& acc, const Bf16x32& a, const Bf16x32& b);

// One tile product C (16 x 16 f32) += A (16 x 32 16-bit) * B (16 rows of 16 pairs), with rows
// and bytes per row as given (A: rows x 4*k_pairs bytes, B: k_pairs x 4*cols, C: rows x
// 4*cols), through ldtilecfg / tileloadd / tdp / tilestored / tilerelease. fp16 selects
// tdpfp16ps. Buffers are row-major with 64-byte rows.
void tile_product(bool fp16, int rows, int k_pairs, int cols, const uint16_t* a, const uint16_t* b,
                  float* c);

// The AVX-512F instructions of x86_emulation.h, 16 lanes, MXCSR at its default (AVX-512F).
F32x16 vrndscaleps_nearest(const F32x16& a);  // imm8 = _MM_FROUND_TO_NEAREST_INT | NO_EXC
F32x16 vrndscaleps_down_m2(const F32x16& a);  // imm8 = 0x29: 2 fraction bits, toward -inf
F32x16 vscalefps(const F32x16& a, const F32x16& b);
F32x16 vcvtph2ps(const U16x16& h);
U16x16 vcvtps2ph_nearest(const F32x16& a);  // imm8 = _MM_FROUND_TO_NEAREST_INT
U16x16 vcvtps2ph_toward_zero(const F32x16& a);

}  // namespace xinhe::testing::x86::hardware
