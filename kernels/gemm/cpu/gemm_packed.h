// Internal interface between the blocked GEMM driver (gemm_cpu.cpp, baseline ISA) and the
// per-ISA packing routines and micro-kernels (gemm_packed_<isa>.cpp, each compiled with its
// own -m flags). The driver only calls through these pointers, so no code built for a wider
// ISA is ever inlined into, or shared by the linker with, code that runs on any x86-64.
#pragma once

#include <cstdint>

namespace xinhe::kernels::cpu {

// Packs op(A)[0:mc, 0:kc] into ceil(mc/mr) strips of (kc, mr) floats, k-major: strip s holds
// rows [s*mr, s*mr+mr), element (i, p) of the strip at [p*mr + i]; rows past mc are zero.
// `a` points at op(A)(0, 0) of the block; A is (M,K) with lda, or (K,M) when trans.
using PackAFn = void (*)(const void* a, int64_t lda, bool trans, int64_t mc, int64_t kc,
                         float* packed);
// Packs op(B)[0:kc, 0:nc] into ceil(nc/nr) strips of (kc, nr) floats, k-major; columns past nc
// are zero. `b` points at op(B)(0, 0) of the block; B is (K,N) with ldb, or (N,K) when trans.
using PackBFn = void (*)(const void* b, int64_t ldb, bool trans, int64_t kc, int64_t nc,
                         float* packed);
// C(mr, nr) = alpha * A_strip(mr, kc) * B_strip(kc, nr) + beta * C, C f32 row-major with ldc.
// beta == 0 does not read C. Loads are unaligned-safe; the driver 64-byte aligns the packed
// buffers, so B strips (nr * 4 * kc bytes apart) stay on cache-line boundaries.
using MicroKernelFn = void (*)(int64_t kc, const float* a_strip, const float* b_strip, float* c,
                               int64_t ldc, float alpha, float beta);

// c = alpha * tile + beta * c for a rows x cols f32 tile (row stride tile_ld) into C of one
// dtype (row stride ldc elements); beta == 0 does not read C. Edge tiles and half-precision C.
using StoreTileFn = void (*)(const float* tile, int64_t tile_ld, int64_t rows, int64_t cols,
                             void* c, int64_t ldc, float alpha, float beta);

inline constexpr int kMaxMr = 16;
inline constexpr int kMaxNr = 32;

struct PackedKernels {
  const char* name;  // "cpu.gemm.packed_avx2"
  int mr, nr;        // register tile
  int64_t mc, kc, nc;  // cache blocking: A block (mc, kc) in L2, B panel (kc, nc) in L3
  PackAFn pack_a[3];   // indexed by xinhe_dtype_t: F32, F16, BF16
  PackBFn pack_b[3];
  MicroKernelFn micro_kernel;
  StoreTileFn store_tile[3];  // indexed by C's xinhe_dtype_t: F32, F16, BF16
};

// The AVX-512 kernels' register tile (kAvx512Mr x kAvx512Nv 16-float vectors) and cache
// blocking; tests/gemm_cpu runs the same tiling with AVX2 instructions, since the machines the
// tests run on may lack AVX-512.
inline constexpr int kAvx512Mr = 12;
inline constexpr int kAvx512Nv = 2;
inline constexpr int64_t kAvx512Mc = 144, kAvx512Kc = 256, kAvx512Nc = 4096;

// Each is defined in its own translation unit; calling one is only valid when the CPU has the
// instructions it was compiled for (see gemm_cpu.cpp's unsupported_reason functions).
const PackedKernels& packed_kernels_avx512();
const PackedKernels& packed_kernels_avx2();
const PackedKernels& packed_kernels_portable();

}  // namespace xinhe::kernels::cpu
