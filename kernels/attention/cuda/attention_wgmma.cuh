// Hopper FlashAttention forward (sm_90a): wgmma on 128-byte-swizzled shared-memory tiles, P fed
// back as wgmma's register A operand. Included by attention_cuda.cu inside its anonymous
// namespace, only where XG_HAS_WGMMA (the instructions go through the xg:: wrappers, so the
// host emulation runs this file too). Semantics are the other attention kernels': see
// attention_cuda.cu (causal bottom-right, GQA, any strides, LSE, rows that see no key).
//
// A CTA owns 128 query rows: warpgroup w (of 2) owns rows 64 w .. 64 w + 63, and all 256
// threads load. Loads are cp.async by the same threads, not TMA from a producer warpgroup: the
// operands are 4-D strided slices (any bshd/bhsd strides, GQA head mapping, padded rows) that
// one kernel path then covers, including rows that are not 16-byte aligned (element-wise
// stores), with no tensor maps to encode per run; the price is that loads are not
// warp-specialized. Pipeline, 3 K/V stages and one barrier per tile:
//   prologue: Q (its own tile, read by every S wgmma) and K/V tile 0 in flight.
//   tile j:   wait for this thread's copies, fence.proxy.async (they were generic-proxy writes
//             that wgmma reads through the async proxy), barrier: tile j is visible to all,
//             and tile j - 2's stage, whose reads both warpgroups retired in step j - 1, is
//             free: tile j + 1 starts loading into it. Then, per warpgroup, FlashAttention-3's
//             intra-warpgroup overlap: issue S_j = Q K_j^T (wgmma SS, K-major Q and K) and
//             O += P_{j-1} V_{j-1} (wgmma RS: P from registers, V N-major) as two groups; wait
//             for S_j only and run the online softmax on its accumulators while P V runs; then
//             wait for P V, rescale O and pack P_j. The last P V follows the loop.
// Causal blocks stop at the block's last visible tile; tiles beyond one warpgroup's diagonal
// (at most one: its rows are 64 from the other's) are computed for it fully masked.
//
// Shared-memory tiles, each (rows, head dim kD) and 1024-byte aligned: 64-column slabs of
// rows x 128 bytes (kD / 64 of them); row r of a slab at r * 128, its 16-byte chunk c at
// chunk c ^ (r % 8) (the 128-byte swizzle). That one layout serves all three operands:
//   - Q (A of S, K-major) and K (B of S, K-major): 8-row atoms SBO = 1024 apart; the 16 head
//     dims of k step kk are slab kk / 4 at byte 32 (kk % 4) of each row.
//   - V (B of O += P V, N-major: keys are k, head dims n): 64-column slabs LBO = rows * 128
//     apart, 8-key atoms SBO = 1024 apart; the 16 keys of k step kk start at row 16 kk.
// Accumulators are mma.sync's 16x8 C fragment per warp and 8 columns: thread (g = lane / 4,
// t = lane % 4) of warp w holds rows 16 w + g and 16 w + g + 8, columns 8 j + 2 t + {0, 1} in
// d[4 j + {0, 1}] and d[4 j + {2, 3}]. For k step kk of P V the A fragment (rows as above,
// keys 16 kk .. 16 kk + 15) is therefore S's chunks 2 kk and 2 kk + 1: d[8 kk .. 8 kk + 7].

constexpr int kWaRows = XINHE_ATTENTION_WGMMA_ROWS_PER_BLOCK;
constexpr int kWaThreads = XINHE_ATTENTION_WGMMA_THREADS;
constexpr int kWaWarpgroupRows = 64;
constexpr int kWaRowBytes = 128;               // one swizzled row: 64 head dims
constexpr int kWaAtomBytes = 8 * kWaRowBytes;  // 8 rows: one swizzle atom
static_assert(kWaThreads == 2 * 128 && kWaRows == 2 * kWaWarpgroupRows,
              "two warpgroups of 64 rows");

// Byte offset of element (r, d) in a swizzled tile of `rows` rows.
XG_DEVICE int wa_offset(int rows, int r, int d) {
  return d / 64 * rows * kWaRowBytes + r * kWaRowBytes + ((d % 64 / 8) ^ (r % 8)) * 16 + d % 8 * 2;
}

// Starts loading rows [first, first + rows) of an (S, D) slice into a swizzled tile; zero past
// rows_total and head_dim. Chunked slices go through cp.async (complete at the caller's
// cp_async_wait), others element by element (complete on return), as tc_load_rows.
template <typename T, int kD>
XG_DEVICE void wa_load_rows(unsigned char* tile, int rows, const T* base, int64_t row_stride,
                            int64_t d_stride, int64_t first, int64_t rows_total, int64_t head_dim,
                            bool chunked) {
  const T zero = xg::from_f32<T>(0.0f);
  if (chunked) {
    constexpr int kChunksPerRow = kD / 8;
    for (int idx = threadIdx.x; idx < rows * kChunksPerRow; idx += kWaThreads) {
      const int r = idx / kChunksPerRow, d0 = idx % kChunksPerRow * 8;
      const int64_t s = first + r;
      const int64_t valid = s < rows_total ? head_dim - d0 : 0;  // elements of this chunk
      unsigned char* dst = tile + wa_offset(rows, r, d0);
      if (valid > 0) {
        xg::cp_async_16_zfill(dst, base + s * row_stride + d0,
                              valid >= 8 ? 16 : static_cast<int>(valid) * 2);
      } else {  // nothing to read: zeros, no global address formed
        for (int e = 0; e < 8; ++e) reinterpret_cast<T*>(dst)[e] = zero;
      }
    }
    return;
  }
  for (int idx = threadIdx.x; idx < rows * kD; idx += kWaThreads) {
    const int r = idx / kD, d = idx % kD;
    const int64_t s = first + r;
    *reinterpret_cast<T*>(tile + wa_offset(rows, r, d)) =
        (s < rows_total && d < head_dim) ? base[s * row_stride + d * d_stride] : zero;
  }
}

// The two accumulator widths in use: 64 x 128 (S at d64, O at d128) and 64 x 64.
template <typename T>
XG_DEVICE void wa_mma_ss(float (&d)[64], unsigned long long a, unsigned long long b) {
  xg::wgmma_m64n128k16<0, 0>(T{}, d, a, b);
}
template <typename T>
XG_DEVICE void wa_mma_ss(float (&d)[32], unsigned long long a, unsigned long long b) {
  xg::wgmma_m64n64k16<0, 0>(T{}, d, a, b);
}
template <typename T>
XG_DEVICE void wa_mma_rs(float (&d)[64], const unsigned (&a)[4], unsigned long long b) {
  xg::wgmma_m64n128k16_rs<1>(T{}, d, a, b);
}
template <typename T>
XG_DEVICE void wa_mma_rs(float (&d)[32], const unsigned (&a)[4], unsigned long long b) {
  xg::wgmma_m64n64k16_rs<1>(T{}, d, a, b);
}

template <typename T, int kD>
XG_DEVICE void attention_wgmma(const xinhe_attention_cuda_params_t& p, unsigned char* smem_raw) {
  static_assert(kD == 64 || kD == 128, "head-dim buckets of 64-column slabs");
  constexpr int kKeys = XINHE_ATTENTION_WGMMA_KEYS(kD);
  constexpr int kStages = XINHE_ATTENTION_WGMMA_STAGES;
  constexpr int kQBytes = kWaRows * kD * 2;
  constexpr int kKvBytes = kKeys * kD * 2;
  constexpr int kQSlabBytes = kWaRows * kWaRowBytes;
  constexpr int kKvSlabBytes = kKeys * kWaRowBytes;
  static_assert(XINHE_ATTENTION_WGMMA_SMEM_BYTES(kD) == 1024 + kQBytes + kStages * 2 * kKvBytes,
                "shared memory layout and the host's launch size disagree");
  static_assert(kQBytes % 1024 == 0 && kKvBytes % 1024 == 0, "tiles stay 1024-byte aligned");
  static_assert(kStages == 3, "tile j + 1 loads while tiles j and j - 1 are read");
  // Swizzled tiles need 1024-byte aligned addresses; the slack is part of the requested size.
  unsigned char* const smem = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~static_cast<uintptr_t>(1023));
  unsigned char* const q_tile = smem;  // (128 rows, kD)
  auto k_tile = [&](int stage) { return smem + kQBytes + (2 * stage) * kKvBytes; };
  auto v_tile = [&](int stage) { return smem + kQBytes + (2 * stage + 1) * kKvBytes; };

  const int warpgroup = threadIdx.x / 128, warp = threadIdx.x / 32 % 4, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kWaRows;
  const int64_t wg_row0 = row0 + kWaWarpgroupRows * warpgroup;
  const int64_t head_q = blockIdx.y;
  const int64_t head_kv = head_q / (p.heads_q / p.heads_kv);
  const int64_t block_keys = visible_keys(p, min(row0 + kWaRows, p.seq_q) - 1);
  const int64_t kv_tiles = block_keys > 0 ? (block_keys + kKeys - 1) / kKeys : 0;
  int64_t row_keys[2];  // this thread's rows g, g + 8
  for (int h = 0; h < 2; ++h) row_keys[h] = visible_keys(p, wg_row0 + warp * 16 + g + 8 * h);
  const bool q_chunked = rows_are_chunked<T>(p.q, p.q_strides);
  const bool k_chunked = rows_are_chunked<T>(p.k, p.k_strides);
  const bool v_chunked = rows_are_chunked<T>(p.v, p.v_strides);
  // Scores and row maxima m stay unscaled (times sign(scale), exact); only their difference
  // is scaled, in base 2: exp2((s - m) * |scale| log2(e)). Scaling before the max would round
  // scale * s, an error proportional to |s| (see attention_cuda.cu).
  const float sign = score_sign(p), a = score_scale(p);
  // Capped at FLT_MAX: above 2.36e38 the product is inf and (s - m) * inf is NaN at the max.
  const float scale_log2 = fminf(a * 1.4426950408889634f, 3.402823466e+38f);
  // This warpgroup's 64 Q rows in each slab.
  unsigned char* const q_rows = q_tile + warpgroup * kWaWarpgroupRows * kWaRowBytes;

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const T* q = static_cast<const T*>(p.q) + batch * p.q_strides[0] + head_q * p.q_strides[1];
    const T* k = static_cast<const T*>(p.k) + batch * p.k_strides[0] + head_kv * p.k_strides[1];
    const T* v = static_cast<const T*>(p.v) + batch * p.v_strides[0] + head_kv * p.v_strides[1];
    auto load_kv = [&](int64_t tile) {
      const int64_t kv0 = tile * kKeys;
      const int stage = static_cast<int>(tile % kStages);
      wa_load_rows<T, kD>(k_tile(stage), kKeys, k, p.k_strides[2], p.k_strides[3], kv0, p.seq_kv,
                          p.head_dim, k_chunked);
      wa_load_rows<T, kD>(v_tile(stage), kKeys, v, p.v_strides[2], p.v_strides[3], kv0, p.seq_kv,
                          p.head_dim, v_chunked);
    };
    // O += P V for the tile whose P is in p_frag (issued, not waited for).
    auto issue_pv = [&](float(&o)[kD / 2], const unsigned(&p_frag)[kKeys / 16][4], int64_t tile) {
      const unsigned char* vs = v_tile(static_cast<int>(tile % kStages));
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        wa_mma_rs<T>(o, p_frag[kk],
                     xg::wgmma_desc(vs + kk * 16 * kWaRowBytes, kKvSlabBytes, kWaAtomBytes));
      }
    };

    __syncthreads();  // the previous batch is done with Q and every stage
    wa_load_rows<T, kD>(q_tile, kWaRows, q, p.q_strides[2], p.q_strides[3], row0, p.seq_q,
                        p.head_dim, q_chunked);
    if (kv_tiles > 0) load_kv(0);
    xg::cp_async_commit();

    float o[kD / 2];  // O (64 x kD) of this warpgroup
#pragma unroll
    for (int i = 0; i < kD / 2; ++i) o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY};  // rows g, g + 8
    float l[2] = {0.0f, 0.0f};            // this thread's partial sums; quad-reduced at the end
    unsigned p_frag[kKeys / 16][4];       // P of the previous tile as wgmma A fragments

    // Tile j: S_j = Q K_j^T and O += P_{j-1} V_{j-1} are issued together; the softmax of S_j
    // runs while the tensor cores still work on P_{j-1} V_{j-1}, and O is rescaled once that
    // has retired. The last P V is issued after the loop. Tile 0 (no P V yet) is its own
    // call of step, so no wgmma sits behind a branch: ptxas serializes wgmmas whose register
    // operands it cannot prove fenced on every path (its C7520/C7519 notes), which is also why
    // both warpgroups run every tile of the block, masked, rather than skipping per warpgroup.
    auto step = [&](int64_t tile, bool after_first) {
      xg::cp_async_wait<0>();
      xg::fence_proxy_async_shared();
      __syncthreads();  // tile visible; tile - 2's stage is free (its reads retired)
      if (tile + 1 < kv_tiles) load_kv(tile + 1);
      xg::cp_async_commit();
      const int stage = static_cast<int>(tile % kStages);
      const int64_t kv0 = tile * kKeys;

      // S = Q K^T (64 x kKeys per warpgroup), both K-major.
      float s[kKeys / 2];
#pragma unroll
      for (int i = 0; i < kKeys / 2; ++i) s[i] = 0.0f;
      xg::wgmma_fence();  // S zeroed; O and p_frag written since the last wgmma
#pragma unroll
      for (int kk = 0; kk < kD / 16; ++kk) {
        const int at = kk / 4, column_bytes = kk % 4 * 32;
        wa_mma_ss<T>(
            s, xg::wgmma_desc(q_rows + at * kQSlabBytes + column_bytes, 16, kWaAtomBytes),
            xg::wgmma_desc(k_tile(stage) + at * kKvSlabBytes + column_bytes, 16, kWaAtomBytes));
      }
      xg::wgmma_commit();
      if (after_first) issue_pv(o, p_frag, tile - 1);
      xg::wgmma_commit();   // possibly empty: the waits below count uniformly
      xg::wgmma_wait<1>();  // S has landed; P V may still run

      // Online softmax on the accumulators: mask, sign, row max over the quad. In base 2
      // (|scale| folded with log2(e)): exp2 is one MUFU instruction, exp a sequence.
      float correction[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int64_t key = kv0 + j * 8 + 2 * t + e;
            float& x = s[4 * j + 2 * h + e];
            x = key < row_keys[h] ? x * sign : -INFINITY;
            tile_max = fmaxf(tile_max, x);
          }
        }
        tile_max = fmaxf(tile_max, XG_SHFL_XOR(tile_max, 1));
        tile_max = fmaxf(tile_max, XG_SHFL_XOR(tile_max, 2));
        const float m_new = fmaxf(m[h], tile_max);
        // A row with nothing visible yet keeps m = -inf and gets p = 0 (not exp(nan)).
        const float base = m_new == -INFINITY ? 0.0f : m_new;
        correction[h] = exp2f((m[h] - base) * scale_log2);
        l[h] *= correction[h];
#pragma unroll
        for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& x = s[4 * j + 2 * h + e];
            x = exp2f((x - base) * scale_log2);  // S becomes P in place
            l[h] += x;
          }
        }
        m[h] = m_new;
      }

      xg::wgmma_wait<0>();  // P_{j-1} V_{j-1} has retired: O may be rescaled, p_frag reused
#pragma unroll
      for (int j = 0; j < kD / 8; ++j) {
#pragma unroll
        for (int f = 0; f < 4; ++f) o[4 * j + f] *= correction[f / 2];
      }
      // P rounded to T as the A fragments of P V's k steps (keys 16 kk .. 16 kk + 15).
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
#pragma unroll
        for (int r = 0; r < 4; ++r)
          p_frag[kk][r] = xg::pack2<T>(s[8 * kk + 2 * r], s[8 * kk + 2 * r + 1]);
      }
    };
    if (kv_tiles > 0) step(0, false);
    for (int64_t tile = 1; tile < kv_tiles; ++tile) step(tile, true);
    if (kv_tiles > 0) {
      xg::wgmma_fence();
      issue_pv(o, p_frag, kv_tiles - 1);
      xg::wgmma_commit();
      xg::wgmma_wait<0>();
    }

#pragma unroll
    for (int h = 0; h < 2; ++h) {
      l[h] += XG_SHFL_XOR(l[h], 1);
      l[h] += XG_SHFL_XOR(l[h], 2);
      const int64_t row = wg_row0 + warp * 16 + g + 8 * h;
      if (row >= p.seq_q) continue;
      write_quad_row<T, kD / 8>(p, batch, head_q, row, l[h], m[h] * a + logf(l[h]),
                                [&](int j, int e) { return o[4 * j + 2 * h + e]; });
    }
  }
}
