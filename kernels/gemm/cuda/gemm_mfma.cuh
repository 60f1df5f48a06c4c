// The MFMA GEMM: f16/bf16 GEMM on AMD CDNA2/CDNA3 matrix cores (gfx90a, gfx94x), in the CUDA
// dialect, included by gemm_cuda.cu after the helpers it shares with the other kernels
// (store_output). Compiled only where XG_HAS_MFMA is defined (HIP device code for those
// targets, and the host emulation); see gemm_cuda.h for the entry-point names and geometry.
//
// Block tile 128x128x32, 256 threads = 4 waves of 64 lanes as 2 (M) x 2 (N); each wave owns a
// 64x64 tile = 2 x 2 v_mfma_f32_32x32x8 tiles (64 f32 accumulators per lane). The wave, not
// the 32-lane warp, is the unit here: MFMA operands and results are spread over 64 lanes.
//
// Shared memory holds both operands k-contiguous, A as (m, k) and B as (n, k), because an MFMA
// lane takes 4 consecutive k of one row of A and of one column of B (one 8-byte LDS read).
// Operands stored that way in global memory (A not transposed, B transposed) are copied in
// 16-byte chunks; the others are transposed while being written to shared memory. Two shared
// buffers with the next tile staged in registers: the global loads of tile k+1 are in flight
// while tile k is multiplied, and one barrier per tile suffices.
#pragma once

namespace {

#if defined(XG_HAS_MFMA)
constexpr int kMfmaBM = XINHE_GEMM_MFMA_BLOCK_M;
constexpr int kMfmaBN = XINHE_GEMM_MFMA_BLOCK_N;
constexpr int kMfmaBK = 32;
constexpr int kMfmaThreads = XINHE_GEMM_MFMA_THREADS;
constexpr int kWaveLanes = 64;
// Row pitch of the k-contiguous tiles: 4 elements of padding keep 8-byte fragment reads
// aligned and move consecutive rows to different banks.
constexpr int kMfmaPitch = kMfmaBK + 4;
constexpr int kMfmaTileElems = kMfmaBM * kMfmaPitch;
static_assert(kMfmaBM == kMfmaBN, "one tile size serves both operands");
static_assert(kMfmaThreads == 4 * kWaveLanes, "2 x 2 waves");
// Each operand tile is 128 x 32 = 512 chunks of 8 elements: 2 per thread.
constexpr int kMfmaChunksPerThread = kMfmaBM * kMfmaBK / 8 / kMfmaThreads;

// Eight 16-bit elements: one 16-byte global load.
struct alignas(16) MfmaChunk {
  unsigned short e[8];
};

// Chunk (row, col .. col + 7) of a stored matrix with rows_total x cols_total elements and
// leading dimension ld: one 16-byte load when it lies wholly inside, else element-wise with
// zeros outside (ragged edges; the zeros contribute nothing to the products).
XG_DEVICE MfmaChunk mfma_fetch_chunk(const unsigned short* x, int64_t ld, int64_t row, int64_t col,
                                     int64_t rows_total, int64_t cols_total) {
  if (row < rows_total && col + 8 <= cols_total) {
    return *reinterpret_cast<const MfmaChunk*>(x + row * ld + col);
  }
  MfmaChunk c;
  for (int e = 0; e < 8; ++e) {
    c.e[e] = (row < rows_total && col + e < cols_total) ? x[row * ld + col + e] : 0;
  }
  return c;
}

// The chunks this thread moves for one k-tile, between the global load and the shared store.
struct MfmaStage {
  MfmaChunk a[kMfmaChunksPerThread];
  MfmaChunk b[kMfmaChunksPerThread];
};

// Chunk index -> (row, col) of the stored operand tile: rows of 32 k (4 chunks) when the
// operand is k-contiguous in memory, rows of 128 m or n (16 chunks) otherwise.
template <bool kKContiguous>
XG_DEVICE void mfma_chunk_position(int chunk, int* row, int* col) {
  constexpr int kChunksPerRow = (kKContiguous ? kMfmaBK : kMfmaBM) / 8;
  *row = chunk / kChunksPerRow;
  *col = (chunk % kChunksPerRow) * 8;
}

template <bool kTransA, bool kTransB>
XG_DEVICE void mfma_fetch(const xinhe_gemm_cuda_params_t& p, const unsigned short* a,
                          const unsigned short* b, int64_t m0, int64_t n0, int64_t k0,
                          MfmaStage* stage) {
  for (int r = 0; r < kMfmaChunksPerThread; ++r) {
    const int chunk = static_cast<int>(threadIdx.x) + r * kMfmaThreads;
    int row, col;
    mfma_chunk_position<!kTransA>(chunk, &row, &col);
    stage->a[r] = kTransA ? mfma_fetch_chunk(a, p.lda, k0 + row, m0 + col, p.k, p.m)   // A (K, M)
                          : mfma_fetch_chunk(a, p.lda, m0 + row, k0 + col, p.m, p.k);  // A (M, K)
    mfma_chunk_position<kTransB>(chunk, &row, &col);
    stage->b[r] = kTransB ? mfma_fetch_chunk(b, p.ldb, n0 + row, k0 + col, p.n, p.k)   // B (N, K)
                          : mfma_fetch_chunk(b, p.ldb, k0 + row, n0 + col, p.k, p.n);  // B (K, N)
  }
}

// Writes one chunk into a (rows, k) tile with pitch kMfmaPitch: as two 8-byte stores when the
// chunk runs along k, element by element (transposing) when it runs along the rows.
template <bool kKContiguous>
XG_DEVICE void mfma_store_chunk(unsigned short* tile, int row, int col, const MfmaChunk& c) {
  if (kKContiguous) {  // (row = m or n, col = k)
    xg::b16x4* dst = reinterpret_cast<xg::b16x4*>(tile + row * kMfmaPitch + col);
    dst[0] = xg::b16x4{{c.e[0], c.e[1], c.e[2], c.e[3]}};
    dst[1] = xg::b16x4{{c.e[4], c.e[5], c.e[6], c.e[7]}};
  } else {  // (row = k, col = m or n)
    for (int e = 0; e < 8; ++e) tile[(col + e) * kMfmaPitch + row] = c.e[e];
  }
}

template <bool kTransA, bool kTransB>
XG_DEVICE void mfma_store(const MfmaStage& stage, unsigned short* a_tile, unsigned short* b_tile) {
  for (int r = 0; r < kMfmaChunksPerThread; ++r) {
    const int chunk = static_cast<int>(threadIdx.x) + r * kMfmaThreads;
    int row, col;
    mfma_chunk_position<!kTransA>(chunk, &row, &col);
    mfma_store_chunk<!kTransA>(a_tile, row, col, stage.a[r]);
    mfma_chunk_position<kTransB>(chunk, &row, &col);
    mfma_store_chunk<kTransB>(b_tile, row, col, stage.b[r]);
  }
}

template <typename T, typename TC, bool kTransA, bool kTransB>
XG_DEVICE void gemm_mfma(const xinhe_gemm_cuda_params_t& p) {
  // 16-byte aligned: fragments and k-contiguous chunk halves are 8-byte accesses.
  __shared__ __align__(16) unsigned short a_tiles[2][kMfmaTileElems];  // (m, k), kMfmaPitch
  __shared__ __align__(16) unsigned short b_tiles[2][kMfmaTileElems];  // (n, k), kMfmaPitch
  const int lane = static_cast<int>(threadIdx.x) % kWaveLanes;
  const int wave = static_cast<int>(threadIdx.x) / kWaveLanes;
  const int wave_m = wave / 2;  // rows wave_m * 64
  const int wave_n = wave % 2;  // cols wave_n * 64
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kMfmaBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kMfmaBN;
  const int64_t k_tiles = (p.k + kMfmaBK - 1) / kMfmaBK;

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const auto* a = static_cast<const unsigned short*>(p.a) + batch * p.stride_a;
    const auto* b = static_cast<const unsigned short*>(p.b) + batch * p.stride_b;
    TC* c = static_cast<TC*>(p.c) + batch * p.stride_c;
    xg::f32x16 acc[2][2] = {};  // [m tile][n tile], result register r in acc[i][j][r]

    MfmaStage stage;
    if (k_tiles > 0) {
      mfma_fetch<kTransA, kTransB>(p, a, b, m0, n0, 0, &stage);
      mfma_store<kTransA, kTransB>(stage, a_tiles[0], b_tiles[0]);
    }
    __syncthreads();
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      const bool has_next = kt + 1 < k_tiles;
      if (has_next) mfma_fetch<kTransA, kTransB>(p, a, b, m0, n0, (kt + 1) * kMfmaBK, &stage);

      const unsigned short* as = a_tiles[kt % 2];
      const unsigned short* bs = b_tiles[kt % 2];
#pragma unroll
      for (int kk = 0; kk < kMfmaBK; kk += 8) {
        // Lane l: row (or column) l % 32 of its 32x32 tile, k kk + 4 (l / 32) .. + 3.
        const int k_at = kk + 4 * (lane / 32);
        xg::b16x4 a_frag[2], b_frag[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          const int row = wave_m * 64 + i * 32 + lane % 32;
          a_frag[i] = *reinterpret_cast<const xg::b16x4*>(as + row * kMfmaPitch + k_at);
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int col = wave_n * 64 + j * 32 + lane % 32;
          b_frag[j] = *reinterpret_cast<const xg::b16x4*>(bs + col * kMfmaPitch + k_at);
        }
#pragma unroll
        for (int i = 0; i < 2; ++i) {
#pragma unroll
          for (int j = 0; j < 2; ++j) xg::mfma_32x32x8<T>(acc[i][j], a_frag[i], b_frag[j]);
        }
      }
      // The other buffer was last read in iteration kt - 1, which every wave finished before
      // the barrier that ended it; this barrier publishes tile kt + 1 and retires tile kt.
      if (has_next)
        mfma_store<kTransA, kTransB>(stage, a_tiles[(kt + 1) % 2], b_tiles[(kt + 1) % 2]);
      __syncthreads();
    }

    // Result register r of lane l: row 8 (r / 4) + 4 (l / 32) + r % 4, column l % 32.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int64_t col = n0 + wave_n * 64 + j * 32 + lane % 32;
#pragma unroll
        for (int r = 0; r < 16; ++r) {
          const int64_t row = m0 + wave_m * 64 + i * 32 + 8 * (r / 4) + 4 * (lane / 32) + r % 4;
          if (row < p.m && col < p.n) store_output(p, c, row, col, acc[i][j][r]);
        }
      }
    }
  }
}
#endif  // XG_HAS_MFMA

}  // namespace
