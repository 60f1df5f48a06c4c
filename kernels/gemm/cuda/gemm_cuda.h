// Host <-> kernel contract of the CUDA-dialect GEMM kernels (gemm_cuda.cu), shared by the CUDA
// and HIP plugins: the by-value parameter block every kernel takes, the launch geometry of
// each kernel family, and how kernel names are spelled. Plain C so both nvcc/hipcc and the
// host compilers read the same layout.
//
// Kernel names: xinhe_gemm_<method>_<ab dtype>_<c dtype>[_<A layout><B layout>][_<arch>], where
// the layout letter is n when the operand is stored as the API's op() sees it and t when
// trans_a / trans_b is set. Methods, fastest first:
//   wgmma     Hopper (sm_90a only): TMA loads into 128-byte-swizzled shared memory, wgmma
//             m64n256k16 from shared-memory descriptors, one producer and two consumer
//             warpgroups, persistent CTAs walking the tiles (gemm_wgmma.cuh). Same alignment
//             needs as tensorop; takes xinhe_gemm_wgmma_params_t (tensor maps built on the host
//             by gemm_wgmma_host.h).
//   tensorop  mma.sync m16n8k16 + ldmatrix + cp.async, 3-stage pipeline (f16/bf16, sm_80+).
//             Needs 16-byte aligned A and B rows: lda, ldb, batch strides multiples of 8 and
//             16-byte aligned base addresses (checked by the host; otherwise simt runs).
//   mfma      AMD matrix cores (v_mfma_f32_32x32x8 f16 / bf16_1k, f32 accumulate), gfx90a and
//             gfx94x (HIP only; kernels/gemm/cuda/gemm_mfma.cuh). Same alignment needs as
//             tensorop (16-byte operand chunks), same simt fallback.
//   simt      shared-memory tiled, 4x4 outputs per thread, f32 FMA (every dtype and layout).
//   naive     one thread per output, reference-grade (every dtype and layout).
#ifndef XINHE_KERNELS_GEMM_CUDA_H_
#define XINHE_KERNELS_GEMM_CUDA_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xinhe_gemm_cuda_params_t {
  const void* a; /* op(A) is (M, K); A (M, K) row-major, or (K, M) when trans_a */
  const void* b; /* op(B) is (K, N); B (K, N) row-major, or (N, K) when trans_b */
  void* c;       /* (M, N) row-major */
  int64_t m, n, k, batch;
  int64_t lda, ldb, ldc;
  int64_t stride_a, stride_b, stride_c;
  int32_t trans_a, trans_b;
  float alpha, beta; /* beta == 0: C is not read */
} xinhe_gemm_cuda_params_t;

/* tensorop: 128x128x32 block tile, 8 warps (2 x 4), 3 stages in dynamic shared memory. */
#define XINHE_GEMM_TENSOROP_BLOCK_M 128
#define XINHE_GEMM_TENSOROP_BLOCK_N 128
#define XINHE_GEMM_TENSOROP_THREADS 256
#define XINHE_GEMM_TENSOROP_SMEM_BYTES (3 * 2 * 128 * (32 + 8) * 2)
/* Operand rows must start on this many elements (16 bytes of f16/bf16). */
#define XINHE_GEMM_TENSOROP_ALIGN_ELEMENTS 8

/* wgmma: 128x256x64 block tile, 3 warpgroups (1 producer, 2 consumers of 64 rows each), 4
 * stages. Shared memory: 1 KiB of alignment slack (swizzled tiles start on 1024 bytes), the
 * A and B stages, then a full and an empty mbarrier per stage. */
#define XINHE_GEMM_WGMMA_BLOCK_M 128
#define XINHE_GEMM_WGMMA_BLOCK_N 256
#define XINHE_GEMM_WGMMA_BLOCK_K 64
#define XINHE_GEMM_WGMMA_STAGES 4
#define XINHE_GEMM_WGMMA_THREADS 384
#define XINHE_GEMM_WGMMA_SMEM_BYTES \
  (1024 + XINHE_GEMM_WGMMA_STAGES * (128 + 256) * 64 * 2 + 2 * XINHE_GEMM_WGMMA_STAGES * 8)

/* A TMA tensor map (CUtensorMap): 128 opaque bytes, 64-byte aligned at least. */
typedef struct xinhe_gemm_tensor_map_t {
  __attribute__((aligned(128))) unsigned long long opaque[16];
} xinhe_gemm_tensor_map_t;

/* The wgmma kernels' parameter block, passed as a __grid_constant__ so the tensor maps stay in
 * parameter space, where TMA reads them. a_map / b_map are 3-D (inner, outer, batch) views of
 * A and B as stored; tiles_m x tiles_n tiles per batch are walked by gridDim.x CTAs. */
typedef struct xinhe_gemm_wgmma_params_t {
  xinhe_gemm_tensor_map_t a_map;
  xinhe_gemm_tensor_map_t b_map;
  xinhe_gemm_cuda_params_t gemm;
  int64_t tiles_m, tiles_n;
} xinhe_gemm_wgmma_params_t;
/* mfma: 128x128x32 block tile, 4 waves of 64 lanes (2 x 2), static shared memory. */
#define XINHE_GEMM_MFMA_BLOCK_M 128
#define XINHE_GEMM_MFMA_BLOCK_N 128
#define XINHE_GEMM_MFMA_THREADS 256
#define XINHE_GEMM_MFMA_ALIGN_ELEMENTS 8

/* simt: 64x64 block tile, 256 threads. */
#define XINHE_GEMM_SIMT_BLOCK_M 64
#define XINHE_GEMM_SIMT_BLOCK_N 64
#define XINHE_GEMM_SIMT_THREADS 256

/* naive: 16x16 threads, one output each. */
#define XINHE_GEMM_NAIVE_BLOCK 16

/* Batches beyond this are looped inside the kernel (gridDim.z limit). */
#define XINHE_GPU_MAX_GRID_Z 65535

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_KERNELS_GEMM_CUDA_H_ */
