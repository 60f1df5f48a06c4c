// The CUDA dialect our GPU kernels are written in, and the shim that lets the HIP build compile
// the same sources (after ggml's vendors/hip.h). Kernel files include only this header, never a
// vendor header directly; another CUDA-like toolchain (MUSA, MACA, DCU) adds one branch here.
//
// Conventions the kernels rely on:
//  - a "warp" is 32 lanes. AMD CDNA wavefronts are 64 lanes, so the shuffles below pass width
//    32 and the kernels treat threadIdx.x / 32 as the warp index; that stays correct on both.
//  - bf16 is carried as raw bits (xg_bf16) and converted here, so no vendor bf16 header (their
//    names and availability differ between CUDA, HIP 5.x and HIP 6.x) is needed.
//  - XG_HAS_MMA_SYNC is defined only when compiling device code for NVIDIA sm_80 or newer; the
//    tensor-core kernels are compiled only then, and reach the sm_80 instructions (cp.async,
//    ldmatrix, mma.sync) only through the xg:: wrappers below, so the host emulation used by
//    the tests (tests/gpu/emulation/gpu_dialect.cuh) can stand in for them. The cp.async
//    wrappers exist on every target (plain copies where the instruction does not).
//  - XG_HAS_WGMMA likewise guards the sm_90a instructions (mbarrier, TMA, wgmma, setmaxnreg)
//    of the Hopper GEMM; its shared-memory tiles use the 128-byte swizzle (16-byte chunk c of
//    128-byte row r lands at chunk c ^ (r % 8)) that TMA writes and the descriptors read.
//  - XG_HAS_MFMA is defined only when compiling device code for AMD CDNA2/CDNA3 (gfx90a,
//    gfx94x), the targets with the f16 and bf16_1k MFMA instructions; the MFMA GEMM reaches
//    them only through xg::mfma_* below, which the emulation also provides. MFMA operand and
//    result layouts are defined per 64-lane wavefront (a "wave", not a 32-lane "warp").
#pragma once

#if defined(__HIP_PLATFORM_AMD__) || defined(__HIPCC__)
#define XG_HIP 1
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#define XG_SHFL_XOR(value, mask) __shfl_xor((value), (mask), 32)
#if defined(__gfx90a__) || defined(__gfx940__) || defined(__gfx941__) || defined(__gfx942__)
#define XG_HAS_MFMA 1
#endif
#else
#define XG_CUDA 1
#include <cuda_fp16.h>
#define XG_SHFL_XOR(value, mask) __shfl_xor_sync(0xffffffffu, (value), (mask))
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define XG_HAS_MMA_SYNC 1
#endif
// sm_90a only (wgmma, setmaxnreg are arch-specific: not in compute_90 PTX, not on sm_100).
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define XG_HAS_WGMMA 1
#endif
#endif

// A by-value kernel parameter whose address the kernel takes (TMA reads tensor maps in place).
#if defined(XG_CUDA)
#define XG_GRID_CONSTANT __grid_constant__
#else
#define XG_GRID_CONSTANT
#endif

#define XG_DEVICE __device__ __forceinline__
// Declares the kernel's dynamic shared memory (max_bytes is what the host requests at launch).
#define XG_DYNAMIC_SMEM(name, max_bytes) extern __shared__ __align__(16) unsigned char name[]

namespace xg {

// bf16 as stored: the high 16 bits of an f32.
struct bf16 {
  unsigned short bits;
};

XG_DEVICE float to_f32(float x) { return x; }
XG_DEVICE float to_f32(__half x) { return __half2float(x); }
XG_DEVICE float to_f32(bf16 x) { return __uint_as_float(static_cast<unsigned>(x.bits) << 16); }

template <typename T>
XG_DEVICE T from_f32(float x);
template <>
XG_DEVICE float from_f32<float>(float x) {
  return x;
}
template <>
XG_DEVICE __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}
template <>
XG_DEVICE bf16 from_f32<bf16>(float x) {
  // Round to nearest even; NaN stays a (quiet) NaN instead of rounding into infinity.
  unsigned u = __float_as_uint(x);
  bf16 r;
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    r.bits = static_cast<unsigned short>((u >> 16) | 0x40u);
  } else {
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = static_cast<unsigned short>(u >> 16);
  }
  return r;
}

// Raw bits of a 16-bit element, and two floats rounded and packed as an mma operand register
// (lo in the low half: the element with the smaller column index).
XG_DEVICE unsigned short bits_of(__half x) { return __half_as_ushort(x); }
XG_DEVICE unsigned short bits_of(bf16 x) { return x.bits; }
template <typename T>
XG_DEVICE unsigned pack2(float lo, float hi) {
  return static_cast<unsigned>(bits_of(from_f32<T>(lo))) |
         (static_cast<unsigned>(bits_of(from_f32<T>(hi))) << 16);
}

// Four 16-bit elements (f16 or bf16 bits), element e in e[e]: one lane's MFMA operand.
struct alignas(8) b16x4 {
  unsigned short e[4];
};

XG_DEVICE float warp_sum(float v) {
  for (int mask = 16; mask > 0; mask >>= 1) v += XG_SHFL_XOR(v, mask);
  return v;
}
XG_DEVICE float warp_max(float v) {
  for (int mask = 16; mask > 0; mask >>= 1) v = fmaxf(v, XG_SHFL_XOR(v, mask));
  return v;
}

#if defined(XG_HAS_MMA_SYNC)
// ---- sm_80 instructions used by the tensor-core GEMM ----
XG_DEVICE unsigned smem_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// 16 bytes global -> shared, asynchronous; completes at cp_async_wait.
XG_DEVICE void cp_async_16(void* smem, const void* global) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_address(smem)),
               "l"(global));
}
// As cp_async_16, reading only the first src_bytes (0..16) of global and zero-filling the rest
// of the 16 shared bytes (PTX's src-size operand): ragged edges without a second code path.
XG_DEVICE void cp_async_16_zfill(void* smem, const void* global, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(smem)),
               "l"(global), "r"(src_bytes));
}
XG_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most kPending committed groups are still in flight.
template <int kPending>
XG_DEVICE void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}
// Four 8x8 b16 matrices; lane l gives the row address of row l % 8 of matrix l / 8, and gets
// elements (l / 4, 2 (l % 4) + {0, 1}) of each matrix i in r[i].
XG_DEVICE void ldmatrix_x4(unsigned (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(smem)));
}
// As ldmatrix_x4, each matrix transposed: lane l gets elements (2 (l % 4) + {0, 1}, l / 4).
XG_DEVICE void ldmatrix_x4_trans(unsigned (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(smem)));
}
// d (16x8 f32) += a (16x16, row) * b (16x8, col), in the PTX fragment layouts.
template <typename T>
XG_DEVICE void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1);
template <>
XG_DEVICE void mma_16816<__half>(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
XG_DEVICE void mma_16816<bf16>(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#if defined(XG_HAS_WGMMA)
// The 128 accumulator operands of wgmma m64n256 f32.
#define XG_WGMMA_REGS                                                                            \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                       \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "             \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "             \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "             \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "             \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "             \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, "   \
  "%127}, "
// ---- sm_90a instructions used by the Hopper GEMM (gemm_wgmma.cuh) ----
// mbarrier: count arrivals complete a phase, once the transaction bytes announced with
// arrive_expect_tx have also landed. wait(parity) returns once the phase with that parity is
// complete; a fresh barrier counts as having completed parity 1.
XG_DEVICE void mbarrier_init(unsigned long long* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_address(bar)), "r"(count));
}
// Makes initialized barriers visible to the other threads and to the TMA unit.
XG_DEVICE void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\nfence.proxy.async.shared::cta;\n" ::
                   : "memory");
}
XG_DEVICE void mbarrier_arrive(unsigned long long* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_address(bar)) : "memory");
}
XG_DEVICE void mbarrier_arrive_expect_tx(unsigned long long* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_address(bar)),
               "r"(bytes)
               : "memory");
}
XG_DEVICE void mbarrier_wait(unsigned long long* bar, unsigned parity) {
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_address(bar)), "r"(parity)
        : "memory");
  } while (done == 0);
}
// TMA: the box of the 3-D tensor map at (c0 inner, c1, c2) into smem, completing its bytes on
// bar. map is the kernel parameter's address (a __grid_constant__ tensor map).
XG_DEVICE void tma_load_3d(void* smem, const void* map, int c0, int c1, int c2,
                           unsigned long long* bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, "
      "{%2, %3, %4}], [%5];\n" ::"r"(smem_address(smem)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(c0), "r"(c1), "r"(c2),
      "r"(smem_address(bar))
      : "memory");
}
// Shared-memory matrix descriptor of a 128-byte-swizzled operand tile (PTX "matrix
// descriptor"): start address, leading / stride byte offsets, all in 16-byte units.
XG_DEVICE unsigned long long wgmma_desc(const void* smem, unsigned leading_bytes,
                                        unsigned stride_bytes) {
  const unsigned long long address = smem_address(smem);
  return ((address & 0x3ffffull) >> 4) |
         (static_cast<unsigned long long>(leading_bytes >> 4) << 16) |
         (static_cast<unsigned long long>(stride_bytes >> 4) << 32) | (1ull << 62);
}
XG_DEVICE void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
XG_DEVICE void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most kPending committed wgmma groups of this warpgroup are in flight.
template <int kPending>
XG_DEVICE void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Register budget per thread of the calling warpgroup (producer gives, consumers take).
template <int kRegisters>
XG_DEVICE void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}
template <int kRegisters>
XG_DEVICE void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
}

#define XG_ACC8(i)                                                                            \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
      "+f"(d[i + 6]), "+f"(d[i + 7])
#define XG_WGMMA_M64N256K16(T, types)                                                            \
  template <int kTransA, int kTransB>                                                            \
  XG_DEVICE void wgmma_m64n256k16(T, float(&d)[128], unsigned long long desc_a,                  \
                                  unsigned long long desc_b) {                                   \
    asm volatile("wgmma.mma_async.sync.aligned.m64n256k16.f32." types " {" XG_WGMMA_REGS         \
                 "%128, %129, 1, 1, 1, %130, %131;\n"                                            \
                 : XG_ACC8(0), XG_ACC8(8), XG_ACC8(16), XG_ACC8(24), XG_ACC8(32), XG_ACC8(40),   \
                   XG_ACC8(48), XG_ACC8(56), XG_ACC8(64), XG_ACC8(72), XG_ACC8(80), XG_ACC8(88), \
                   XG_ACC8(96), XG_ACC8(104), XG_ACC8(112), XG_ACC8(120)                         \
                 : "l"(desc_a), "l"(desc_b), "n"(kTransA), "n"(kTransB));                        \
  }
// d (64x256 f32 per warpgroup, mma.sync's 16x8 C layout per warp and 8 columns) += A (64x16)
// * B (16x256), both from shared-memory descriptors; kTransA / kTransB = 1 when that operand
// is M- / N-major (else K-major). Always accumulates (scale-d 1): the kernel zeroes d per
// tile. The first argument only selects the input type.
XG_WGMMA_M64N256K16(__half, "f16.f16")
XG_WGMMA_M64N256K16(bf16, "bf16.bf16")
#undef XG_WGMMA_M64N256K16

// ---- sm_90a instructions used by the Hopper attention (attention_wgmma.cuh) ----
// The 32 / 64 accumulator operands of wgmma m64n64 / m64n128 f32.
#define XG_WGMMA_D32                                                        \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
#define XG_WGMMA_D64                                                                 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "          \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
// Orders this thread's generic-proxy writes to shared memory (plain stores, cp.async) before
// later async-proxy reads of it (wgmma operand descriptors); a barrier then publishes them.
XG_DEVICE void fence_proxy_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// SS forms: d (64xN f32, the accumulator layout of wgmma_m64n256k16) += A (64x16) * B (16xN),
// both from shared-memory descriptors; kTransA / kTransB as for wgmma_m64n256k16.
// RS forms: A from registers, a[4] holding this warp's 16 rows of A in mma.sync m16n8k16's A
// fragment layout (a[0]: row g, columns 2t, 2t + 1; a[1]: row g + 8; a[2], a[3]: the same rows
// at columns 8 + 2t, 8 + 2t + 1; g = lane / 4, t = lane % 4; low half = lower column).
// SS_OPS / RS_OPS: the operand numbers after the accumulators (they follow NACC).
#define XG_WGMMA_M64NK16(N, NACC, ACCS, T, types, SS_OPS, RS_OPS)                              \
  template <int kTransA, int kTransB>                                                          \
  XG_DEVICE void wgmma_m64n##N##k16(T, float(&d)[NACC], unsigned long long desc_a,             \
                                    unsigned long long desc_b) {                               \
    asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." types " " ACCS SS_OPS ";\n" \
                 : XG_ACCS_##NACC                                                              \
                 : "l"(desc_a), "l"(desc_b), "n"(kTransA), "n"(kTransB));                      \
  }                                                                                            \
  template <int kTransB>                                                                       \
  XG_DEVICE void wgmma_m64n##N##k16_rs(T, float(&d)[NACC], const unsigned(&a)[4],              \
                                       unsigned long long desc_b) {                            \
    asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." types " " ACCS RS_OPS ";\n" \
                 : XG_ACCS_##NACC                                                              \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(kTransB));     \
  }
#define XG_ACCS_32 XG_ACC8(0), XG_ACC8(8), XG_ACC8(16), XG_ACC8(24)
#define XG_ACCS_64 XG_ACCS_32, XG_ACC8(32), XG_ACC8(40), XG_ACC8(48), XG_ACC8(56)
#define XG_SS_OPS_32 "%32, %33, 1, 1, 1, %34, %35"
#define XG_RS_OPS_32 "{%32, %33, %34, %35}, %36, 1, 1, 1, %37"
#define XG_SS_OPS_64 "%64, %65, 1, 1, 1, %66, %67"
#define XG_RS_OPS_64 "{%64, %65, %66, %67}, %68, 1, 1, 1, %69"
XG_WGMMA_M64NK16(64, 32, XG_WGMMA_D32, __half, "f16.f16", XG_SS_OPS_32, XG_RS_OPS_32)
XG_WGMMA_M64NK16(64, 32, XG_WGMMA_D32, bf16, "bf16.bf16", XG_SS_OPS_32, XG_RS_OPS_32)
XG_WGMMA_M64NK16(128, 64, XG_WGMMA_D64, __half, "f16.f16", XG_SS_OPS_64, XG_RS_OPS_64)
XG_WGMMA_M64NK16(128, 64, XG_WGMMA_D64, bf16, "bf16.bf16", XG_SS_OPS_64, XG_RS_OPS_64)
#undef XG_WGMMA_M64NK16
#undef XG_ACCS_32
#undef XG_ACCS_64
#undef XG_SS_OPS_32
#undef XG_RS_OPS_32
#undef XG_SS_OPS_64
#undef XG_RS_OPS_64
#undef XG_WGMMA_D32
#undef XG_WGMMA_D64
#undef XG_ACC8
#undef XG_WGMMA_REGS
#endif  // XG_HAS_WGMMA
#else
// Without cp.async (HIP, NVIDIA below sm_80) the same calls are plain synchronous 16-byte
// copies, so a pipelined loader compiles unchanged: commit and wait have nothing to wait for,
// and the barrier the pipeline already has after each wait orders the copies for other threads.
XG_DEVICE void cp_async_16(void* smem, const void* global) {
  *static_cast<uint4*>(smem) = *static_cast<const uint4*>(global);
}
XG_DEVICE void cp_async_16_zfill(void* smem, const void* global, int src_bytes) {
  if (src_bytes >= 16) {
    cp_async_16(smem, global);
    return;
  }
  unsigned char* dst = static_cast<unsigned char*>(smem);
  const unsigned char* src = static_cast<const unsigned char*>(global);
  for (int i = 0; i < 16; ++i) dst[i] = i < src_bytes ? src[i] : 0;
}
XG_DEVICE void cp_async_commit() {}
template <int kPending>
XG_DEVICE void cp_async_wait() {}
#endif  // XG_HAS_MMA_SYNC

#if defined(XG_HAS_MFMA)
// ---- CDNA2/CDNA3 matrix-core instructions used by the MFMA GEMM ----
// Both act on one 64-lane wave, with lane l (0..63) holding, for e = 0..3 and r as indexed:
//   mfma_32x32x8:  a.e[e] = A(l % 32, 4 (l / 32) + e)     A is 32x8  (M x K)
//                  b.e[e] = B(4 (l / 32) + e, l % 32)     B is 8x32  (K x N)
//                  d[r]   = D(8 (r / 4) + 4 (l / 32) + r % 4, l % 32), r = 0..15
//   mfma_16x16x16: a.e[e] = A(l % 16, 4 (l / 16) + e)     A is 16x16
//                  b.e[e] = B(4 (l / 16) + e, l % 16)     B is 16x16
//                  d[r]   = D(4 (l / 16) + r, l % 16),    r = 0..3
// D += A B with f32 accumulation. T selects f16 or bf16 (the gfx90a "_1k" bf16 forms, which
// take 4 elements per lane like f16). Accumulators are native vectors, not float arrays: as
// arrays, a k loop's accumulators become scalar values the compiler keeps in VGPRs and copies
// to and from the MFMA's AGPRs every iteration (seen in the gfx90a disassembly).
typedef float f32x16 __attribute__((ext_vector_type(16)));
typedef float f32x4 __attribute__((ext_vector_type(4)));
// The operand as the builtins type it: f16 as _Float16, bf16 as its raw bits in shorts.
typedef _Float16 f16x4_operand __attribute__((ext_vector_type(4)));
typedef short bf16x4_operand __attribute__((ext_vector_type(4)));

template <typename T>
XG_DEVICE void mfma_32x32x8(f32x16& d, b16x4 a, b16x4 b);
template <typename T>
XG_DEVICE void mfma_16x16x16(f32x4& d, b16x4 a, b16x4 b);

template <>
XG_DEVICE void mfma_32x32x8<__half>(f32x16& d, b16x4 a, b16x4 b) {
  d = __builtin_amdgcn_mfma_f32_32x32x8f16(__builtin_bit_cast(f16x4_operand, a),
                                           __builtin_bit_cast(f16x4_operand, b), d, 0, 0, 0);
}
template <>
XG_DEVICE void mfma_32x32x8<bf16>(f32x16& d, b16x4 a, b16x4 b) {
  d = __builtin_amdgcn_mfma_f32_32x32x8bf16_1k(__builtin_bit_cast(bf16x4_operand, a),
                                               __builtin_bit_cast(bf16x4_operand, b), d, 0, 0, 0);
}
template <>
XG_DEVICE void mfma_16x16x16<__half>(f32x4& d, b16x4 a, b16x4 b) {
  d = __builtin_amdgcn_mfma_f32_16x16x16f16(__builtin_bit_cast(f16x4_operand, a),
                                            __builtin_bit_cast(f16x4_operand, b), d, 0, 0, 0);
}
template <>
XG_DEVICE void mfma_16x16x16<bf16>(f32x4& d, b16x4 a, b16x4 b) {
  d = __builtin_amdgcn_mfma_f32_16x16x16bf16_1k(__builtin_bit_cast(bf16x4_operand, a),
                                                __builtin_bit_cast(bf16x4_operand, b), d, 0, 0, 0);
}
#endif  // XG_HAS_MFMA

}  // namespace xg
