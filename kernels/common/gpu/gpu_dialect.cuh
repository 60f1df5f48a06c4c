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
#pragma once

#if defined(__HIP_PLATFORM_AMD__) || defined(__HIPCC__)
#define XG_HIP 1
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#define XG_SHFL_XOR(value, mask) __shfl_xor((value), (mask), 32)
#else
#define XG_CUDA 1
#include <cuda_fp16.h>
#define XG_SHFL_XOR(value, mask) __shfl_xor_sync(0xffffffffu, (value), (mask))
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define XG_HAS_MMA_SYNC 1
#endif
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

}  // namespace xg
