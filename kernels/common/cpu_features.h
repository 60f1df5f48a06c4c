// Run-time x86-64 feature detection for the CPU kernels: what the CPU has (cpuid), what the OS
// saves on a context switch (XCR0), whether Linux grants AMX tile data to this process
// (arch_prctl ARCH_REQ_XCOMP_PERM), and the cap a user sets with XINHE_CPU_MAX_ISA.
//
// Every ISA-specific kernel asks here before it is selected, so one place answers "can this
// instruction set run" and says why not. The cap works like oneDNN's ONEDNN_MAX_CPU_ISA: the
// levels are ordered (baseline < avx2 < avx512 < avx512_bf16 < avx512_fp16 < amx_bf16 <
// amx_fp16), and a feature is usable only when the CPU has it and its level is at or below the
// cap; e.g. XINHE_CPU_MAX_ISA=avx2 runs the AVX2 kernels on an AVX-512 machine.
//
// Declarations only: this header is included by files compiled with wide -m flags, and an
// inline body here could be emitted with their instructions and then shared by the linker with
// code that runs on any x86-64 (see kernels/gemm/cpu/gemm_packed_body.inc).
#pragma once

#include <string>

namespace xinhe::kernels {

// Ordered instruction-set levels, each including the ones before it.
enum class CpuIsa : int {
  kBaseline = 0,  // what the compiler targets by default (SSE2 on x86-64; any other CPU)
  kAvx2,          // AVX2 + FMA + F16C
  kAvx512,        // AVX-512 F, BW, VL, DQ
  kAvx512Bf16,    // AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16)
  kAvx512Fp16,    // AVX512_FP16
  kAmxBf16,       // AMX-TILE + AMX-BF16 (tdpbf16ps)
  kAmxFp16,       // AMX-FP16 (tdpfp16ps)
};

// The feature a kernel needs; each is one CpuIsa level above.
enum class CpuFeature : int {
  kAvx2 = static_cast<int>(CpuIsa::kAvx2),
  kAvx512 = static_cast<int>(CpuIsa::kAvx512),
  kAvx512Bf16 = static_cast<int>(CpuIsa::kAvx512Bf16),
  kAvx512Fp16 = static_cast<int>(CpuIsa::kAvx512Fp16),
  kAmxBf16 = static_cast<int>(CpuIsa::kAmxBf16),
  kAmxFp16 = static_cast<int>(CpuIsa::kAmxFp16),
};

// nullptr when kernels may use the feature: the CPU has it (and every feature of the levels
// below that it builds on: AVX-512 kernels also use AVX2/FMA/F16C), the OS saves its register
// state, AMX tile data is granted, and XINHE_CPU_MAX_ISA allows its level. Otherwise a
// sentence saying why (stable for the process's lifetime). The first call for an AMX feature
// asks Linux for tile-data permission; a refusal is a reason, never a crash. Thread-safe.
const char* cpu_feature_unavailable(CpuFeature feature);

// cpu_feature_unavailable(feature) == nullptr.
bool cpu_has(CpuFeature feature);

// Whether the CPU and OS support the feature, ignoring XINHE_CPU_MAX_ISA (for tests that
// compare a kernel with the instructions it emulates, and for peak probes).
bool cpu_hardware_has(CpuFeature feature);

// The highest level whose feature is usable, cap included (for logs and reports).
CpuIsa cpu_best_isa();

// "baseline", "avx2", "avx512", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_fp16".
const char* cpu_isa_name(CpuIsa isa);

// Parses an XINHE_CPU_MAX_ISA value (one of the names above, case-insensitive). On failure
// returns false and sets *error to a sentence listing the accepted names.
bool parse_cpu_max_isa(const char* text, CpuIsa* out_isa, std::string* error);

// The cap in effect: XINHE_CPU_MAX_ISA read once per process (an invalid value caps at
// baseline, so a typo never enables more than asked; the CPU backend refuses to start with
// it and says why), else the highest level.
CpuIsa cpu_max_isa();

}  // namespace xinhe::kernels
