// tdpfp16ps (AMX-FP16) written as its encoding, because clang 15's integrated assembler predates
// the mnemonic (GNU as 2.40 knows it; both accept the bytes). Intel SDM: VEX.128.F2.0F38.W0 5C /r,
// TDPFP16PS tmm1, tmm2, tmm3 (tmm1 += tmm2 * tmm3): ModRM.reg = tmm1, ModRM.rm = tmm2,
// VEX.vvvv = ~tmm3. Checked against GNU as: tdpfp16ps %tmm6, %tmm4, %tmm0 is c4 e2 4b 5c c4.
#ifndef XINHE_KERNELS_COMMON_AMX_TDPFP16PS_H_
#define XINHE_KERNELS_COMMON_AMX_TDPFP16PS_H_

namespace xinhe::kernels {

// tmm<kC> += tmm<kA> * tmm<kB>, f16 pairs accumulated in f32.
template <int kC, int kA, int kB>
inline void tdpfp16ps() {
  static_assert(kC >= 0 && kC < 8 && kA >= 0 && kA < 8 && kB >= 0 && kB < 8, "tmm0-7");
  constexpr int kVex2 = ((~kB & 0xF) << 3) | 0x3;  // W0, vvvv = ~tmm3, L0, pp = F2
  constexpr int kModrm = 0xC0 | (kC << 3) | kA;
  __asm__ volatile(".byte 0xc4, 0xe2, %c0, 0x5c, %c1" : : "i"(kVex2), "i"(kModrm) : "memory");
}

}  // namespace xinhe::kernels

#endif  // XINHE_KERNELS_COMMON_AMX_TDPFP16PS_H_
