// Hopper GEMM (sm_90a): TMA -> 128-byte-swizzled shared memory -> wgmma, warp-specialized and
// persistent. Included by gemm_cuda.cu inside its anonymous namespace, only where XG_HAS_WGMMA
// (the instructions go through the xg:: wrappers, so the host emulation runs this file too).
//
// Block tile 128x256x64, 4 stages (48 KiB each). Warpgroup 0 is the producer: one thread
// waits for a free stage, announces its bytes on the stage's "full" mbarrier and issues the
// TMA loads. Warpgroups 1 and 2 are consumers, 64 rows each: they wait for a full stage, run
// four wgmma m64n256k16 on it, and free the stage on its "empty" mbarrier once the next stage's
// wgmmas are issued and this one's have retired (wgmma_wait<1>), so one k tile of tensor-core
// work is always queued. CTAs are persistent: CTA i takes tiles i, i + gridDim.x, ...; the
// stage/phase counters run on across tiles, so the producer loads the next tile while the
// consumers store this one.
//
// Shared-memory tiles (the host boxes in gemm_wgmma_host.h match these):
//  - K-major operand (A as (M, K), B as (N, K)): one box of 64 k x rows; row r is 128 bytes at
//    r * 128. Descriptor: 8-row atoms SBO = 1024 bytes apart; the 16 k of step kk start at
//    byte 32 kk of each row (the swizzle is applied by the hardware on the address bits).
//  - M/N-major operand (A as (K, M), B as (K, N)): 64-column slabs of 64 k rows, 8 KiB apart
//    (LBO); k row r of a slab at r * 128, so 8-k atoms are SBO = 1024 apart, and step kk starts
//    at k row 16 kk.

constexpr int kWgBM = XINHE_GEMM_WGMMA_BLOCK_M;
constexpr int kWgBN = XINHE_GEMM_WGMMA_BLOCK_N;
constexpr int kWgBK = XINHE_GEMM_WGMMA_BLOCK_K;
constexpr int kWgStages = XINHE_GEMM_WGMMA_STAGES;
constexpr int kWgRowBytes = 128;                // one swizzled row
constexpr int kWgAtomBytes = 8 * kWgRowBytes;   // 8 rows: one swizzle atom
constexpr int kWgSlabBytes = 64 * kWgRowBytes;  // 64 rows: one M/N-major box
constexpr int kWgAStageBytes = kWgBM * kWgBK * 2;
constexpr int kWgBStageBytes = kWgBN * kWgBK * 2;
constexpr int kWgConsumerWarps = 8;  // arrivals that free a stage: every consumer warp
static_assert(XINHE_GEMM_WGMMA_SMEM_BYTES ==
                  1024 + kWgStages * (kWgAStageBytes + kWgBStageBytes) + 2 * kWgStages * 8,
              "shared memory layout");
static_assert(XINHE_GEMM_WGMMA_THREADS == 3 * 128, "one producer and two consumer warpgroups");

struct WgmmaTile {
  int64_t batch, m0, n0;
};

// Tile t of the persistent walk. Within a batch, groups of 8 tile rows are walked column by
// column, so CTAs running at the same time share A rows and B columns in L2.
XG_DEVICE WgmmaTile wgmma_tile(const xinhe_gemm_wgmma_params_t& p, int64_t t) {
  constexpr int64_t kGroupRows = 8;
  const int64_t per_batch = p.tiles_m * p.tiles_n;
  const int64_t r = t % per_batch;
  const int64_t first_row = r / (kGroupRows * p.tiles_n) * kGroupRows;
  const int64_t rows = p.tiles_m - first_row < kGroupRows ? p.tiles_m - first_row : kGroupRows;
  const int64_t in_group = r % (kGroupRows * p.tiles_n);
  return WgmmaTile{t / per_batch, (first_row + in_group % rows) * kWgBM, in_group / rows * kWgBN};
}

template <bool kTransA, bool kTransB>
XG_DEVICE void wgmma_produce(const xinhe_gemm_wgmma_params_t& p, unsigned char* a_smem,
                             unsigned char* b_smem, unsigned long long* full,
                             unsigned long long* empty) {
  const int64_t k_tiles = (p.gemm.k + kWgBK - 1) / kWgBK;
  const int64_t tiles = p.tiles_m * p.tiles_n * p.gemm.batch;
  int stage = 0;
  unsigned phase = 0;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const WgmmaTile tile = wgmma_tile(p, t);
    // The host limits m, n, k and batch to int32 (TMA coordinates are signed 32-bit).
    const int m0 = static_cast<int>(tile.m0), n0 = static_cast<int>(tile.n0);
    const int batch = static_cast<int>(tile.batch);
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      const int k0 = static_cast<int>(kt * kWgBK);
      xg::mbarrier_wait(&empty[stage], phase ^ 1u);
      unsigned long long* bar = &full[stage];
      xg::mbarrier_arrive_expect_tx(bar, kWgAStageBytes + kWgBStageBytes);
      unsigned char* a = a_smem + stage * kWgAStageBytes;
      unsigned char* b = b_smem + stage * kWgBStageBytes;
      if (!kTransA) {
        xg::tma_load_3d(a, &p.a_map, k0, m0, batch, bar);
      } else {
        for (int s = 0; s < kWgBM / 64; ++s)
          xg::tma_load_3d(a + s * kWgSlabBytes, &p.a_map, m0 + 64 * s, k0, batch, bar);
      }
      if (kTransB) {
        xg::tma_load_3d(b, &p.b_map, k0, n0, batch, bar);
      } else {
        for (int s = 0; s < kWgBN / 64; ++s)
          xg::tma_load_3d(b + s * kWgSlabBytes, &p.b_map, n0 + 64 * s, k0, batch, bar);
      }
      if (++stage == kWgStages) {
        stage = 0;
        phase ^= 1u;
      }
    }
  }
}

template <typename T, typename TC, bool kTransA, bool kTransB>
XG_DEVICE void wgmma_consume(const xinhe_gemm_wgmma_params_t& p, int consumer,
                             const unsigned char* a_smem, const unsigned char* b_smem,
                             unsigned long long* full, unsigned long long* empty) {
  const int64_t k_tiles = (p.gemm.k + kWgBK - 1) / kWgBK;
  const int64_t tiles = p.tiles_m * p.tiles_n * p.gemm.batch;
  const int warp = (threadIdx.x / 32) % 4;  // within the warpgroup: rows 16 warp ..
  const int lane = threadIdx.x % 32;
  // This consumer's 64 rows of A: 64 K-major rows, or the second M-major slab; 8 KiB either way.
  const int a_offset = consumer * 64 * kWgRowBytes;
  // K-major descriptors ignore the leading offset; 16 bytes is the conventional filler.
  const unsigned a_leading = kTransA ? kWgSlabBytes : 16;
  const unsigned b_leading = kTransB ? 16 : kWgSlabBytes;
  int stage = 0;
  unsigned phase = 0;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const WgmmaTile tile = wgmma_tile(p, t);
    float acc[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) acc[i] = 0.0f;
    int previous = -1;
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      xg::mbarrier_wait(&full[stage], phase);
      const unsigned char* a = a_smem + stage * kWgAStageBytes + a_offset;
      const unsigned char* b = b_smem + stage * kWgBStageBytes;
      xg::wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kWgBK / 16; ++kk) {
        const int a_step = kTransA ? kk * 16 * kWgRowBytes : kk * 32;
        const int b_step = kTransB ? kk * 32 : kk * 16 * kWgRowBytes;
        xg::wgmma_m64n256k16<kTransA ? 1 : 0, kTransB ? 0 : 1>(
            T{}, acc, xg::wgmma_desc(a + a_step, a_leading, kWgAtomBytes),
            xg::wgmma_desc(b + b_step, b_leading, kWgAtomBytes));
      }
      xg::wgmma_commit();
      xg::wgmma_wait<1>();  // the previous k tile's wgmmas have read their stage
      if (previous >= 0 && lane == 0) xg::mbarrier_arrive(&empty[previous]);
      previous = stage;
      if (++stage == kWgStages) {
        stage = 0;
        phase ^= 1u;
      }
    }
    xg::wgmma_wait<0>();
    if (previous >= 0 && lane == 0) xg::mbarrier_arrive(&empty[previous]);

    // Accumulator layout: per 8 columns j, mma.sync's 16x8 C fragment of this warp's 16 rows.
    TC* c = static_cast<TC*>(p.gemm.c) + tile.batch * p.gemm.stride_c;
    const int64_t row0 = tile.m0 + consumer * 64 + warp * 16 + lane / 4;
    const int64_t col0 = tile.n0 + 2 * (lane % 4);
#pragma unroll
    for (int j = 0; j < 32; ++j) {
#pragma unroll
      for (int f = 0; f < 4; ++f) {
        const int64_t row = row0 + 8 * (f / 2), col = col0 + 8 * j + f % 2;
        if (row < p.gemm.m && col < p.gemm.n) store_output(p.gemm, c, row, col, acc[4 * j + f]);
      }
    }
  }
}

template <typename T, typename TC, bool kTransA, bool kTransB>
XG_DEVICE void gemm_wgmma(const xinhe_gemm_wgmma_params_t& p, unsigned char* smem_raw) {
  // Swizzled tiles need 1024-byte aligned addresses; the slack is part of the requested size.
  unsigned char* smem = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~static_cast<uintptr_t>(1023));
  unsigned char* a_smem = smem;
  unsigned char* b_smem = a_smem + kWgStages * kWgAStageBytes;
  auto* full = reinterpret_cast<unsigned long long*>(b_smem + kWgStages * kWgBStageBytes);
  unsigned long long* empty = full + kWgStages;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kWgStages; ++s) {
      xg::mbarrier_init(&full[s], 1);  // the producer's arrive_expect_tx (+ the TMA bytes)
      xg::mbarrier_init(&empty[s], kWgConsumerWarps);
    }
    xg::fence_barrier_init();
  }
  __syncthreads();
  const int warpgroup = threadIdx.x / 128;
  if (warpgroup == 0) {
    xg::setmaxnreg_dec<40>();  // the producer needs few registers; the consumers take them
    if (threadIdx.x == 0) wgmma_produce<kTransA, kTransB>(p, a_smem, b_smem, full, empty);
  } else {
    xg::setmaxnreg_inc<232>();
    wgmma_consume<T, TC, kTransA, kTransB>(p, warpgroup - 1, a_smem, b_smem, full, empty);
  }
}
