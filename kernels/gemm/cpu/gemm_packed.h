// Internal interface between the blocked GEMM driver (gemm_cpu.cpp, baseline ISA) and the
// per-ISA packing routines and micro-kernels (gemm_packed_<isa>.cpp, each compiled with its
// own -m flags). The driver only calls through these pointers, so no code built for a wider
// ISA is ever inlined into, or shared by the linker with, code that runs on any x86-64.
#pragma once

#include <cstdint>

namespace xinhe::kernels::cpu {

// Packed operands are kept in the micro-kernel's element type (f32 for the widening kernels,
// bf16/f16 for the kernels that multiply 16-bit values) and layout; K is padded with zeros to
// a multiple of the kernel's k_unit (1 for f32, 2 for bf16 pairs, 32 for AMX tile rows), kcp
// below. A strip of rows is mr x kcp elements and a strip of columns nr x kcp, each contiguous.

// Packs op(A)[0:mc, 0:kc] into ceil(mc/mr) strips of mr x kcp elements; rows past mc and k past
// kc are zero. `a` points at op(A)(0, 0) of the block; A is (M,K) with lda, or (K,M) when trans.
// The f32 kernels' layout: k-major, element (i, p) of a strip at [p*mr + i].
using PackAFn = void (*)(const void* a, int64_t lda, bool trans, int64_t mc, int64_t kc,
                         void* packed);
// Packs op(B)[0:kc, 0:nc] into ceil(nc/nr) strips of nr x kcp elements; columns past nc and k
// past kc are zero. `b` points at op(B)(0, 0) of the block; B is (K,N) with ldb, or (N,K) when
// trans. The f32 kernels' layout: k-major, element (p, j) of a strip at [p*nr + j].
using PackBFn = void (*)(const void* b, int64_t ldb, bool trans, int64_t kc, int64_t nc,
                         void* packed);
// C(mr, nr) = alpha * A_strip(mr, kc) * B_strip(kc, nr) + beta * C, C f32 row-major with ldc.
// beta == 0 does not read C. Loads are unaligned-safe; the driver 64-byte aligns the packed
// buffers, so B strips (nr * kcp * packed_bytes apart) stay on cache-line boundaries.
using MicroKernelFn = void (*)(int64_t kc, const void* a_strip, const void* b_strip, float* c,
                               int64_t ldc, float alpha, float beta);

// The micro-kernel for a full tile of a half-precision C (f16 or bf16 elements, ldc apart):
// the same product, rounded once straight into C instead of through an f32 tile (the detour
// made bf16 4096x4096x64, a C tile every 32 k pairs, about 1.4x slower).
using MicroKernelHalfCFn = void (*)(int64_t kc, const void* a_strip, const void* b_strip, void* c,
                                    int64_t ldc, float alpha, float beta);

// The micro-kernel with A read in place: f32 A row-major, its mr rows lda elements apart
// starting at `a` (op(A)(i, p) of the tile's first row and the slice's first k), instead of
// a packed strip; B packed as for micro_kernel, C f32.
using MicroKernelARowsFn = void (*)(int64_t kc, const float* a, int64_t lda, const void* b_strip,
                                    float* c, int64_t ldc, float alpha, float beta);

// The micro-kernel for the last strip of an M block when it has rows < mr: the same packed
// strips (A rows mr apart in each k step), only `rows` rows of C computed and stored. It spares
// the full mr-row product a 64-row block would otherwise spend on its 4-row edge strip.
using EdgeRowsFn = void (*)(int rows, int64_t kc, const void* a_strip, const void* b_strip,
                            float* c, int64_t ldc, float alpha, float beta);

// Small M (GEMV-like shapes, gemm_cpu.cpp's small-M path): out(i, j) = sum_k x(i, k) W(j, k)
// for i < m <= kSmallMaxM, j < n, with f32 x rows ldx apart (k contiguous) and out rows ldo
// apart; W in the kernel's input dtype, either W(j, k) = w[j * ldw + k] (rows_along_k) or
// w[k * ldw + j]. W is read once, straight from the caller's memory: no packing.
using SmallMFn = void (*)(int64_t m, int64_t n, int64_t k, const float* x, int64_t ldx,
                          const void* w, int64_t ldw, bool rows_along_k, float* out, int64_t ldo);
inline constexpr int kSmallMaxM = 4;

// c = alpha * tile + beta * c for a rows x cols f32 tile (row stride tile_ld) into C of one
// dtype (row stride ldc elements); beta == 0 does not read C. Edge tiles and half-precision C.
using StoreTileFn = void (*)(const float* tile, int64_t tile_ld, int64_t rows, int64_t cols,
                             void* c, int64_t ldc, float alpha, float beta);

inline constexpr int kMaxMr = 32;
inline constexpr int kMaxNr = 32;

struct PackedKernels {
  const char* name;  // a label for messages and tests ("cpu.gemm.packed_avx2"), not a dispatch name
  int mr, nr;        // register (or tile) block of C
  int k_unit;        // packed K is a multiple of this
  int packed_bytes;  // bytes per packed element
  int64_t mc, kc, nc;  // cache blocking: A block (mc, kc) in L2, B panel (kc, nc) in L3
  PackAFn pack_a[3];   // indexed by xinhe_dtype_t: F32, F16, BF16; nullptr: dtype not taken
  PackBFn pack_b[3];
  MicroKernelFn micro_kernel;
  StoreTileFn store_tile[3];  // indexed by C's xinhe_dtype_t: F32, F16, BF16
  // Called on each thread before its first micro-kernel of a block and after its last (the
  // AMX kernels load and release their tile configuration); nullptr when not needed.
  void (*enter)();
  void (*leave)();
  SmallMFn small_m[3];             // indexed by the input dtype; nullptr: the driver's direct loops
  EdgeRowsFn edge_rows = nullptr;  // nullptr: edge strips run micro_kernel into a full tile
  // Indexed by C's dtype minus one (F16, BF16); nullptr: through an f32 tile and store_tile.
  MicroKernelHalfCFn micro_kernel_half_c[2] = {nullptr, nullptr};
  MicroKernelARowsFn micro_kernel_a_rows = nullptr;  // nullptr: A is always packed
};

// The AVX-512 kernels' register tile (kAvx512Mr x kAvx512Nv 16-float vectors) and cache
// blocking; tests/gemm_cpu runs the same tiling with AVX2 instructions, since the machines the
// tests run on may lack AVX-512.
inline constexpr int kAvx512Mr = 12;
inline constexpr int kAvx512Nv = 2;
inline constexpr int64_t kAvx512Mc = 144, kAvx512Kc = 256, kAvx512Nc = 4096;

// The 16-bit kernels' tiles and blocking (the emulated builds in tests/gemm_cpu use the same):
// AVX512_BF16 12 x 32 on vdpbf16ps; AMX 32 x 32 as 2 x 2 tiles of 16 x 16 f32.
inline constexpr int kAvx512Bf16Mr = 12;
inline constexpr int kAvx512Bf16Nv = 2;
inline constexpr int64_t kAvx512Bf16Mc = 144, kAvx512Bf16Kc = 384, kAvx512Bf16Nc = 4096;
inline constexpr int64_t kAmxBlockMc = 256, kAmxBlockKc = 512, kAmxBlockNc = 2048;

// Each is defined in its own translation unit; calling one is only valid when the CPU has the
// instructions it was compiled for (see gemm_cpu.cpp's unsupported_reason functions).
const PackedKernels& packed_kernels_avx512();
const PackedKernels& packed_kernels_avx2();
const PackedKernels& packed_kernels_portable();
// 16-bit kernels (gemm_lowp_*.cpp): bf16 on AVX512_BF16 and AMX-BF16, f16 on AMX-FP16.
const PackedKernels& packed_kernels_avx512_bf16();
const PackedKernels& packed_kernels_amx_bf16();
const PackedKernels& packed_kernels_amx_fp16();

}  // namespace xinhe::kernels::cpu
