// Host <-> kernel contract of the CUDA-dialect GEMM kernels (gemm_cuda.cu), shared by the CUDA
// and HIP plugins: the by-value parameter block every kernel takes, the launch geometry of
// each kernel family, and how kernel names are spelled. Plain C so both nvcc/hipcc and the
// host compilers read the same layout.
//
// Kernel names: xinhe_gemm_<method>_<ab dtype>_<c dtype>[_<A layout><B layout>][_<arch>], where
// the layout letter is n when the operand is stored as the API's op() sees it and t when
// trans_a / trans_b is set. Methods, fastest first:
//   tensorop  mma.sync m16n8k16 + ldmatrix + cp.async, 3-stage pipeline (f16/bf16, sm_80+).
//             Needs 16-byte aligned A and B rows: lda, ldb, batch strides multiples of 8 and
//             16-byte aligned base addresses (checked by the host; otherwise simt runs).
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
