// GEMM kernels in the CUDA dialect, compiled ahead of time into the CUDA plugin's fat binary
// (sm_80, sm_90a SASS + compute_90 PTX) and, through kernels/common/gpu/gpu_dialect.cuh, into
// the HIP plugin's code objects. The mma.sync family is CUDA only, the Hopper family
// (gemm_wgmma.cuh) sm_90a only, the MFMA family (gemm_mfma.cuh) AMD CDNA only. Every kernel
// takes one xinhe_gemm_cuda_params_t by value (wgmma: xinhe_gemm_wgmma_params_t); see
// gemm_cuda.h for names, geometry and requirements.
//
// Semantics (all kernels, ops.h): C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], f32
// accumulation, C not read when beta == 0; alpha == 0 or k == 0 gives beta * C as BLAS does
// (the product is not used, so Inf or NaN in A or B cannot reach C, and beta == 0 writes +0).
// Batches run over blockIdx.z and loop when there are more than gridDim.z of them.
#include "gemm_cuda.h"
#include "gpu_dialect.cuh"

namespace {

using xg::bf16;

// Element (row, col) of op(X) where X is stored row-major with leading dimension ld.
template <typename T>
XG_DEVICE float load_op(const T* x, int64_t ld, bool trans, int64_t row, int64_t col) {
  return xg::to_f32(trans ? x[col * ld + row] : x[row * ld + col]);
}

template <typename TC>
XG_DEVICE void store_output(const xinhe_gemm_cuda_params_t& p, TC* c, int64_t row, int64_t col,
                            float acc) {
  TC* dst = c + row * p.ldc + col;
  float value;
  if (p.alpha == 0.0f || p.k == 0) {  // BLAS: C = beta * C, the product unused
    value = p.beta == 0.0f ? 0.0f : p.beta * xg::to_f32(*dst);
  } else {
    value = p.alpha * acc;
    if (p.beta != 0.0f) value += p.beta * xg::to_f32(*dst);
  }
  *dst = xg::from_f32<TC>(value);
}

// ---- naive: one thread per output ------------------------------------------------------------
template <typename T, typename TC>
XG_DEVICE void gemm_naive(const xinhe_gemm_cuda_params_t& p) {
  const int64_t row = static_cast<int64_t>(blockIdx.y) * XINHE_GEMM_NAIVE_BLOCK + threadIdx.y;
  const int64_t col = static_cast<int64_t>(blockIdx.x) * XINHE_GEMM_NAIVE_BLOCK + threadIdx.x;
  if (row >= p.m || col >= p.n) return;
  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const T* a = static_cast<const T*>(p.a) + batch * p.stride_a;
    const T* b = static_cast<const T*>(p.b) + batch * p.stride_b;
    TC* c = static_cast<TC*>(p.c) + batch * p.stride_c;
    float acc = 0.0f;
    for (int64_t kk = 0; kk < p.k; ++kk) {
      acc = fmaf(load_op(a, p.lda, p.trans_a, row, kk), load_op(b, p.ldb, p.trans_b, kk, col), acc);
    }
    store_output(p, c, row, col, acc);
  }
}

// ---- simt: 64x64x16 shared-memory tiles, 4x4 outputs per thread -----------------------------
constexpr int kSimtBM = XINHE_GEMM_SIMT_BLOCK_M;
constexpr int kSimtBN = XINHE_GEMM_SIMT_BLOCK_N;
constexpr int kSimtBK = 16;
constexpr int kSimtThreads = XINHE_GEMM_SIMT_THREADS;

template <typename T, typename TC>
XG_DEVICE void gemm_simt(const xinhe_gemm_cuda_params_t& p) {
  // k-major tiles so the inner product reads 4 consecutive rows / columns per thread.
  __shared__ float a_tile[kSimtBK][kSimtBM];  // (k, m)
  __shared__ float b_tile[kSimtBK][kSimtBN];  // (k, n)
  const int tid = threadIdx.x;
  const int tx = tid % 16;  // output columns tx + 16 * j
  const int ty = tid / 16;  // output rows ty + 16 * i
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kSimtBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kSimtBN;

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const T* a = static_cast<const T*>(p.a) + batch * p.stride_a;
    const T* b = static_cast<const T*>(p.b) + batch * p.stride_b;
    TC* c = static_cast<TC*>(p.c) + batch * p.stride_c;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < p.k; k0 += kSimtBK) {
      // 1024 elements per tile, 4 per thread; walk the operand's contiguous dimension first.
      for (int r = 0; r < 4; ++r) {
        const int e = tid + r * kSimtThreads;
        const int am = p.trans_a ? e % kSimtBM : e / kSimtBK;
        const int ak = p.trans_a ? e / kSimtBM : e % kSimtBK;
        const bool a_in = m0 + am < p.m && k0 + ak < p.k;
        a_tile[ak][am] = a_in ? load_op(a, p.lda, p.trans_a, m0 + am, k0 + ak) : 0.0f;
        const int bn = p.trans_b ? e / kSimtBK : e % kSimtBN;
        const int bk = p.trans_b ? e % kSimtBK : e / kSimtBN;
        const bool b_in = n0 + bn < p.n && k0 + bk < p.k;
        b_tile[bk][bn] = b_in ? load_op(b, p.ldb, p.trans_b, k0 + bk, n0 + bn) : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kSimtBK; ++kk) {
        float av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) av[i] = a_tile[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) bv[j] = b_tile[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
      }
      __syncthreads();
    }
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        const int64_t row = m0 + ty + 16 * i;
        const int64_t col = n0 + tx + 16 * j;
        if (row < p.m && col < p.n) store_output(p, c, row, col, acc[i][j]);
      }
    }
  }
}

#if defined(XG_HAS_MMA_SYNC)
// ---- tensorop: mma.sync m16n8k16 (f16/bf16 in, f32 accumulate), sm_80+ -----------------------
// Block tile 128x128x32, 8 warps as 2 (M) x 4 (N), warp tile 64x32 = 4 x 4 mma tiles.
// Shared memory keeps each operand in its global layout (rows padded by 8 elements so the 8
// row addresses of one ldmatrix hit distinct banks); ldmatrix.trans turns an m- or n-major
// tile into the k-major fragments mma expects. cp.async moves 16-byte chunks; chunks that
// cross the matrix edge are loaded element-wise with zero fill.
constexpr int kTcBM = XINHE_GEMM_TENSOROP_BLOCK_M;
constexpr int kTcBN = XINHE_GEMM_TENSOROP_BLOCK_N;
constexpr int kTcBK = 32;
constexpr int kTcStages = 3;
constexpr int kTcPad = 8;
constexpr int kTcThreads = XINHE_GEMM_TENSOROP_THREADS;
// Elements per stage of one operand: the larger of the k-major (rows x (BK + pad)) and the
// row-major (BK x (rows + pad)) layouts.
constexpr int kTcStageElems = kTcBM * (kTcBK + kTcPad);
static_assert(kTcBK * (kTcBM + kTcPad) <= kTcStageElems, "stage size");
static_assert(XINHE_GEMM_TENSOROP_SMEM_BYTES == kTcStages * 2 * kTcStageElems * 2, "smem size");

// Copies one 8-element chunk of a global row into shared memory: cp.async when it lies wholly
// inside the matrix (rows < rows_total, cols + 8 <= cols_total), element-wise with zero fill
// otherwise. row/col index the stored matrix (ld elements per row).
template <typename T>
XG_DEVICE void load_chunk(T* smem, const T* global, int64_t ld, int64_t row, int64_t col,
                          int64_t rows_total, int64_t cols_total) {
  if (row < rows_total && col + 8 <= cols_total) {
    xg::cp_async_16(smem, global + row * ld + col);
    return;
  }
  const unsigned short* src = reinterpret_cast<const unsigned short*>(global);
  unsigned short* dst = reinterpret_cast<unsigned short*>(smem);
  for (int e = 0; e < 8; ++e) {
    dst[e] = (row < rows_total && col + e < cols_total) ? src[row * ld + col + e] : 0;
  }
}

// Loads the (BM x BK) slice of op(A) at (m0, k0) and the (BK x BN) slice of op(B) at (k0, n0).
template <typename T, bool kTransA, bool kTransB>
XG_DEVICE void tc_load_stage(const xinhe_gemm_cuda_params_t& p, const T* a, const T* b, T* a_stage,
                             T* b_stage, int64_t m0, int64_t n0, int64_t k0) {
  const int tid = threadIdx.x;
  // 512 chunks of 8 elements per operand tile, 2 per thread.
  for (int r = 0; r < 2; ++r) {
    const int chunk = tid + r * kTcThreads;
    if (!kTransA) {  // A (M, K): smem (m, k) with pitch BK + pad
      const int row = chunk / (kTcBK / 8), col = (chunk % (kTcBK / 8)) * 8;
      load_chunk(a_stage + row * (kTcBK + kTcPad) + col, a, p.lda, m0 + row, k0 + col, p.m, p.k);
    } else {  // A (K, M): smem (k, m) with pitch BM + pad
      const int row = chunk / (kTcBM / 8), col = (chunk % (kTcBM / 8)) * 8;
      load_chunk(a_stage + row * (kTcBM + kTcPad) + col, a, p.lda, k0 + row, m0 + col, p.k, p.m);
    }
    if (!kTransB) {  // B (K, N): smem (k, n) with pitch BN + pad
      const int row = chunk / (kTcBN / 8), col = (chunk % (kTcBN / 8)) * 8;
      load_chunk(b_stage + row * (kTcBN + kTcPad) + col, b, p.ldb, k0 + row, n0 + col, p.k, p.n);
    } else {  // B (N, K): smem (n, k) with pitch BK + pad
      const int row = chunk / (kTcBK / 8), col = (chunk % (kTcBK / 8)) * 8;
      load_chunk(b_stage + row * (kTcBK + kTcPad) + col, b, p.ldb, n0 + row, k0 + col, p.n, p.k);
    }
  }
}

template <typename T, typename TC, bool kTransA, bool kTransB>
XG_DEVICE void gemm_tensorop(const xinhe_gemm_cuda_params_t& p, unsigned char* smem_raw) {
  T* a_smem = reinterpret_cast<T*>(smem_raw);      // [stages][kTcStageElems]
  T* b_smem = a_smem + kTcStages * kTcStageElems;  // [stages][kTcStageElems]
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int warp_m = warp / 4;  // 0..1: rows warp_m * 64
  const int warp_n = warp % 4;  // 0..3: cols warp_n * 32
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTcBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTcBN;
  const int64_t k_tiles = (p.k + kTcBK - 1) / kTcBK;

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const T* a = static_cast<const T*>(p.a) + batch * p.stride_a;
    const T* b = static_cast<const T*>(p.b) + batch * p.stride_b;
    TC* c = static_cast<TC*>(p.c) + batch * p.stride_c;
    float acc[4][4][4] = {};  // [m tile][n tile][fragment]

    // Prologue: stages 0 .. kTcStages-2 in flight. One commit per stage, empty or not, keeps
    // the wait_group arithmetic below uniform.
    for (int s = 0; s < kTcStages - 1; ++s) {
      if (s < k_tiles) {
        tc_load_stage<T, kTransA, kTransB>(p, a, b, a_smem + s * kTcStageElems,
                                           b_smem + s * kTcStageElems, m0, n0, s * kTcBK);
      }
      xg::cp_async_commit();
    }
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      xg::cp_async_wait<kTcStages - 2>();
      // Makes stage kt visible to all warps and guarantees stage kt-1 (overwritten next) is
      // no longer being read.
      __syncthreads();
      const int64_t next = kt + kTcStages - 1;
      if (next < k_tiles) {
        const int s = static_cast<int>(next % kTcStages);
        tc_load_stage<T, kTransA, kTransB>(p, a, b, a_smem + s * kTcStageElems,
                                           b_smem + s * kTcStageElems, m0, n0, next * kTcBK);
      }
      xg::cp_async_commit();

      const T* as = a_smem + (kt % kTcStages) * kTcStageElems;
      const T* bs = b_smem + (kt % kTcStages) * kTcStageElems;
#pragma unroll
      for (int kk = 0; kk < kTcBK; kk += 16) {
        unsigned a_frag[4][4];
        unsigned b_frag[4][2];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int mb = warp_m * 64 + i * 16;
          if (!kTransA) {
            // matrices: (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (8-15, 8-15)
            const int row = mb + (lane & 15), col = kk + (lane >> 4) * 8;
            xg::ldmatrix_x4(a_frag[i], as + row * (kTcBK + kTcPad) + col);
          } else {
            const int krow = kk + (lane & 7) + (lane >> 4) * 8, col = mb + ((lane >> 3) & 1) * 8;
            xg::ldmatrix_x4_trans(a_frag[i], as + krow * (kTcBM + kTcPad) + col);
          }
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {  // two n8 tiles per ldmatrix.x4
          const int nb = warp_n * 32 + j * 16;
          unsigned r[4];
          if (!kTransB) {
            const int krow = kk + (lane & 7) + ((lane >> 3) & 1) * 8, col = nb + (lane >> 4) * 8;
            xg::ldmatrix_x4_trans(r, bs + krow * (kTcBN + kTcPad) + col);
          } else {
            const int row = nb + (lane & 7) + (lane >> 4) * 8, col = kk + ((lane >> 3) & 1) * 8;
            xg::ldmatrix_x4(r, bs + row * (kTcBK + kTcPad) + col);
          }
          b_frag[2 * j][0] = r[0];
          b_frag[2 * j][1] = r[1];
          b_frag[2 * j + 1][0] = r[2];
          b_frag[2 * j + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
          for (int j = 0; j < 4; ++j)
            xg::mma_16816<T>(acc[i][j], a_frag[i], b_frag[j][0], b_frag[j][1]);
        }
      }
    }
    xg::cp_async_wait<0>();
    __syncthreads();  // the next batch reuses the stages

    // Fragment (i, j): rows g and g + 8, columns 2t and 2t + 1 of the 16x8 tile.
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int f = 0; f < 4; ++f) {
          const int64_t row = m0 + warp_m * 64 + i * 16 + g + (f / 2) * 8;
          const int64_t col = n0 + warp_n * 32 + j * 8 + 2 * t + (f % 2);
          if (row < p.m && col < p.n) store_output(p, c, row, col, acc[i][j][f]);
        }
      }
    }
  }
}
#endif  // XG_HAS_MMA_SYNC

#if defined(XG_HAS_WGMMA)
#include "gemm_wgmma.cuh"
#endif

}  // namespace

#include "gemm_mfma.cuh"

// ---- Entry points (extern "C": names are looked up in the loaded module) ---------------------
#define XINHE_GEMM_NAIVE_KERNEL(name, T, TC)                                                   \
  extern "C" __global__ void __launch_bounds__(XINHE_GEMM_NAIVE_BLOCK* XINHE_GEMM_NAIVE_BLOCK) \
      name(xinhe_gemm_cuda_params_t p) {                                                       \
    gemm_naive<T, TC>(p);                                                                      \
  }
#define XINHE_GEMM_SIMT_KERNEL(name, T, TC)                             \
  extern "C" __global__ void __launch_bounds__(XINHE_GEMM_SIMT_THREADS) \
      name(xinhe_gemm_cuda_params_t p) {                                \
    gemm_simt<T, TC>(p);                                                \
  }

XINHE_GEMM_NAIVE_KERNEL(xinhe_gemm_naive_f32_f32, float, float)
XINHE_GEMM_NAIVE_KERNEL(xinhe_gemm_naive_f16_f16, __half, __half)
XINHE_GEMM_NAIVE_KERNEL(xinhe_gemm_naive_f16_f32, __half, float)
XINHE_GEMM_NAIVE_KERNEL(xinhe_gemm_naive_bf16_bf16, xg::bf16, xg::bf16)
XINHE_GEMM_NAIVE_KERNEL(xinhe_gemm_naive_bf16_f32, xg::bf16, float)

XINHE_GEMM_SIMT_KERNEL(xinhe_gemm_simt_f32_f32, float, float)
XINHE_GEMM_SIMT_KERNEL(xinhe_gemm_simt_f16_f16, __half, __half)
XINHE_GEMM_SIMT_KERNEL(xinhe_gemm_simt_f16_f32, __half, float)
XINHE_GEMM_SIMT_KERNEL(xinhe_gemm_simt_bf16_bf16, xg::bf16, xg::bf16)
XINHE_GEMM_SIMT_KERNEL(xinhe_gemm_simt_bf16_f32, xg::bf16, float)

#if defined(XG_CUDA)
// Declared for every target so each module exports the same names; below sm_80 (only reached
// by a PTX JIT for an older GPU, which the host never dispatches to) the body is empty.
#if defined(XG_HAS_MMA_SYNC)
#define XINHE_GEMM_TENSOROP_BODY(T, TC, TA, TB)          \
  XG_DYNAMIC_SMEM(smem, XINHE_GEMM_TENSOROP_SMEM_BYTES); \
  gemm_tensorop<T, TC, TA, TB>(p, smem);
#else
#define XINHE_GEMM_TENSOROP_BODY(T, TC, TA, TB) (void)p;
#endif
#define XINHE_GEMM_TENSOROP_KERNEL(name, T, TC, TA, TB)                     \
  extern "C" __global__ void __launch_bounds__(XINHE_GEMM_TENSOROP_THREADS) \
      name(xinhe_gemm_cuda_params_t p) {                                    \
    XINHE_GEMM_TENSOROP_BODY(T, TC, TA, TB)                                 \
  }
#define XINHE_GEMM_TENSOROP_LAYOUTS(prefix, T, TC)                  \
  XINHE_GEMM_TENSOROP_KERNEL(prefix##_nn_sm80, T, TC, false, false) \
  XINHE_GEMM_TENSOROP_KERNEL(prefix##_nt_sm80, T, TC, false, true)  \
  XINHE_GEMM_TENSOROP_KERNEL(prefix##_tn_sm80, T, TC, true, false)  \
  XINHE_GEMM_TENSOROP_KERNEL(prefix##_tt_sm80, T, TC, true, true)

XINHE_GEMM_TENSOROP_LAYOUTS(xinhe_gemm_tensorop_f16_f16, __half, __half)
XINHE_GEMM_TENSOROP_LAYOUTS(xinhe_gemm_tensorop_f16_f32, __half, float)
XINHE_GEMM_TENSOROP_LAYOUTS(xinhe_gemm_tensorop_bf16_bf16, xg::bf16, xg::bf16)
XINHE_GEMM_TENSOROP_LAYOUTS(xinhe_gemm_tensorop_bf16_f32, xg::bf16, float)

// Hopper: real bodies only in the sm_90a image (the host selects these on compute capability
// 9.0 only, where the driver loads that image, never the compute_90 PTX).
#if defined(XG_HAS_WGMMA)
#define XINHE_GEMM_WGMMA_BODY(T, TC, TA, TB)          \
  XG_DYNAMIC_SMEM(smem, XINHE_GEMM_WGMMA_SMEM_BYTES); \
  gemm_wgmma<T, TC, TA, TB>(p, smem);
#else
#define XINHE_GEMM_WGMMA_BODY(T, TC, TA, TB) (void)p;
#endif
#define XINHE_GEMM_WGMMA_KERNEL(name, T, TC, TA, TB)                        \
  extern "C" __global__ void __launch_bounds__(XINHE_GEMM_WGMMA_THREADS, 1) \
      name(const XG_GRID_CONSTANT xinhe_gemm_wgmma_params_t p) {            \
    XINHE_GEMM_WGMMA_BODY(T, TC, TA, TB)                                    \
  }
#define XINHE_GEMM_WGMMA_LAYOUTS(prefix, T, TC)                   \
  XINHE_GEMM_WGMMA_KERNEL(prefix##_nn_sm90a, T, TC, false, false) \
  XINHE_GEMM_WGMMA_KERNEL(prefix##_nt_sm90a, T, TC, false, true)  \
  XINHE_GEMM_WGMMA_KERNEL(prefix##_tn_sm90a, T, TC, true, false)  \
  XINHE_GEMM_WGMMA_KERNEL(prefix##_tt_sm90a, T, TC, true, true)

XINHE_GEMM_WGMMA_LAYOUTS(xinhe_gemm_wgmma_f16_f16, __half, __half)
XINHE_GEMM_WGMMA_LAYOUTS(xinhe_gemm_wgmma_f16_f32, __half, float)
XINHE_GEMM_WGMMA_LAYOUTS(xinhe_gemm_wgmma_bf16_bf16, xg::bf16, xg::bf16)
XINHE_GEMM_WGMMA_LAYOUTS(xinhe_gemm_wgmma_bf16_f32, xg::bf16, float)
#endif  // XG_CUDA

#if defined(XG_HIP) || defined(XG_EMULATION)
// Declared for every HIP target so each code object exports the same names. Where the target
// has no MFMA (gfx1030) the host never dispatches them; should it ever, the kernel traps
// instead of returning without having written C.
#if defined(XG_HAS_MFMA)
#define XINHE_GEMM_MFMA_BODY(T, TC, TA, TB) gemm_mfma<T, TC, TA, TB>(p);
#else
#define XINHE_GEMM_MFMA_BODY(T, TC, TA, TB) \
  (void)p;                                  \
  __builtin_trap();
#endif
#define XINHE_GEMM_MFMA_KERNEL(name, T, TC, TA, TB)                     \
  extern "C" __global__ void __launch_bounds__(XINHE_GEMM_MFMA_THREADS) \
      name(xinhe_gemm_cuda_params_t p) {                                \
    XINHE_GEMM_MFMA_BODY(T, TC, TA, TB)                                 \
  }
#define XINHE_GEMM_MFMA_LAYOUTS(prefix, T, TC)             \
  XINHE_GEMM_MFMA_KERNEL(prefix##_nn, T, TC, false, false) \
  XINHE_GEMM_MFMA_KERNEL(prefix##_nt, T, TC, false, true)  \
  XINHE_GEMM_MFMA_KERNEL(prefix##_tn, T, TC, true, false)  \
  XINHE_GEMM_MFMA_KERNEL(prefix##_tt, T, TC, true, true)

XINHE_GEMM_MFMA_LAYOUTS(xinhe_gemm_mfma_f16_f16, __half, __half)
XINHE_GEMM_MFMA_LAYOUTS(xinhe_gemm_mfma_f16_f32, __half, float)
XINHE_GEMM_MFMA_LAYOUTS(xinhe_gemm_mfma_bf16_bf16, xg::bf16, xg::bf16)
XINHE_GEMM_MFMA_LAYOUTS(xinhe_gemm_mfma_bf16_f32, xg::bf16, float)
#endif  // XG_HIP || XG_EMULATION
