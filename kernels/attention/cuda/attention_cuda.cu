// Attention forward kernels in the CUDA dialect, compiled into the CUDA plugin's fat binary
// and (through kernels/common/gpu/gpu_dialect.cuh) the HIP plugin's code objects. Every kernel
// takes one xinhe_attention_cuda_params_t by value; see attention_cuda.h for the families (the
// Hopper wgmma family lives in attention_wgmma.cuh).
//
// Both families compute, per (batch, query head, query row i), with the kv head h / (Hq / Hkv):
//   t_j = sign(scale) q_i . k_j for visible keys j (all, or j <= i + Skv - Sq when causal)
//   O_i = sum_j exp(a (t_j - m)) v_j / l,  l = sum_j exp(a (t_j - m)),  LSE_i = a m + log(l)
// with a = |scale| (1 when scale == 0, where t = 0), m the running max of t (rescaling O and l
// when it grows), f32 throughout. The max is subtracted before anything is scaled: rounding
// scale * q.k first is an error proportional to |q.k|, which a large common offset of the
// logits turns into a wrong O although softmax is shift-invariant.
// A row with no visible key writes O = 0 and LSE = -inf. Each query row is owned by one warp
// (32 lanes); lane l holds head dims l, l + 32, ... so reductions are warp shuffles.
#include <math.h>

#include "attention_cuda.h"
#include "gpu_dialect.cuh"

namespace {

using xg::bf16;
constexpr int kMaxPerLane = 8;  // head_dim <= 256 = 32 lanes x 8

struct RowIndex {
  int64_t batch, head_q, head_kv, row;
};

// sign(scale), applied to the scores (exact), and the factor a of the exponent (see the top).
XG_DEVICE float score_sign(const xinhe_attention_cuda_params_t& p) {
  return p.scale > 0.0f ? 1.0f : (p.scale < 0.0f ? -1.0f : 0.0f);
}
XG_DEVICE float score_scale(const xinhe_attention_cuda_params_t& p) {
  return p.scale != 0.0f ? fabsf(p.scale) : 1.0f;
}

// Last visible key + 1 for query row i (may be <= 0: nothing visible).
XG_DEVICE int64_t visible_keys(const xinhe_attention_cuda_params_t& p, int64_t row) {
  if (!p.causal) return p.seq_kv;
  const int64_t end = row + (p.seq_kv - p.seq_q) + 1;
  return end < p.seq_kv ? end : p.seq_kv;
}

// How a row ends (ops.h): one that saw no key stores O = 0 (not o * 0: V rows weighted 0 may
// hold Inf or NaN) and LSE = -inf; one that saw keys has l >= 1 unless a score was NaN (NaN or
// Inf in Q or a seen K row), and then stores NaN, never an empty row's zeros.
struct FinalRow {
  bool use_o;  // O = o * inv_l, LSE from m and l; otherwise O = fill, LSE = lse
  float inv_l, fill, lse;
};
XG_DEVICE FinalRow final_row(bool saw_keys, float l) {
  if (!saw_keys) return {false, 0.0f, 0.0f, -INFINITY};
  if (!(l > 0.0f)) return {false, 0.0f, NAN, NAN};
  return {true, 1.0f / l, 0.0f, 0.0f};
}

// m: the row's running max of the unscaled scores t (see the top).
template <typename T, int kPerLane>
XG_DEVICE void write_row(const xinhe_attention_cuda_params_t& p, const RowIndex& r,
                         const float (&o)[kPerLane], float m, float l) {
  const int lane = threadIdx.x % 32;
  T* out = static_cast<T*>(p.o) + r.batch * p.o_strides[0] + r.head_q * p.o_strides[1] +
           r.row * p.o_strides[2];
  const FinalRow f = final_row(visible_keys(p, r.row) > 0, l);
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    const int64_t d = lane + 32 * e;
    if (d < p.head_dim)
      out[d * p.o_strides[3]] = xg::from_f32<T>(f.use_o ? o[e] * f.inv_l : f.fill);
  }
  if (p.lse != nullptr && lane == 0) {
    p.lse[r.batch * p.lse_strides[0] + r.head_q * p.lse_strides[1] + r.row * p.lse_strides[2]] =
        f.use_o ? m * score_scale(p) + logf(l) : f.lse;
  }
}

// One query row of a tensor-core kernel (mma.sync or wgmma accumulators): the 4 lanes of a
// quad hold it, lane t columns 8 j + 2 t + {0, 1} of every 8-column block j as value(j, e);
// l is the row's full softmax sum, lse its log-sum-exp (used only when l > 0).
template <typename T, int kColumnBlocks, typename Value>
XG_DEVICE void write_quad_row(const xinhe_attention_cuda_params_t& p, int64_t batch, int64_t head_q,
                              int64_t row, float l, float lse, const Value& value) {
  const int t = threadIdx.x % 4;
  T* out = static_cast<T*>(p.o) + batch * p.o_strides[0] + head_q * p.o_strides[1] +
           row * p.o_strides[2];
  const FinalRow f = final_row(visible_keys(p, row) > 0, l);
#pragma unroll
  for (int j = 0; j < kColumnBlocks; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int64_t d = j * 8 + 2 * t + e;
      if (d < p.head_dim)
        out[d * p.o_strides[3]] = xg::from_f32<T>(f.use_o ? value(j, e) * f.inv_l : f.fill);
    }
  }
  if (p.lse != nullptr && t == 0) {
    p.lse[batch * p.lse_strides[0] + head_q * p.lse_strides[1] + row * p.lse_strides[2]] =
        f.use_o ? lse : f.lse;
  }
}

// ---- naive: one warp per query row, K and V read from global memory key by key ----------------
template <typename T>
XG_DEVICE void attention_naive(const xinhe_attention_cuda_params_t& p) {
  const int lane = threadIdx.x % 32;
  RowIndex r;
  r.row =
      static_cast<int64_t>(blockIdx.x) * XINHE_ATTENTION_NAIVE_ROWS_PER_BLOCK + threadIdx.x / 32;
  r.head_q = blockIdx.y;
  r.head_kv = r.head_q / (p.heads_q / p.heads_kv);
  if (r.row >= p.seq_q) return;  // whole warp leaves together
  for (r.batch = blockIdx.z; r.batch < p.batch; r.batch += gridDim.z) {
    const T* q = static_cast<const T*>(p.q) + r.batch * p.q_strides[0] + r.head_q * p.q_strides[1] +
                 r.row * p.q_strides[2];
    const T* k = static_cast<const T*>(p.k) + r.batch * p.k_strides[0] + r.head_kv * p.k_strides[1];
    const T* v = static_cast<const T*>(p.v) + r.batch * p.v_strides[0] + r.head_kv * p.v_strides[1];
    float qv[kMaxPerLane], o[kMaxPerLane];
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int64_t d = lane + 32 * e;
      qv[e] = d < p.head_dim ? xg::to_f32(q[d * p.q_strides[3]]) : 0.0f;
      o[e] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const float sign = score_sign(p), a = score_scale(p);
    const int64_t keys = visible_keys(p, r.row);
    for (int64_t j = 0; j < keys; ++j) {
      float dot = 0.0f;
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int64_t d = lane + 32 * e;
        if (d < p.head_dim)
          dot = fmaf(qv[e], xg::to_f32(k[j * p.k_strides[2] + d * p.k_strides[3]]), dot);
      }
      const float s = sign * xg::warp_sum(dot);
      const float m_new = fmaxf(m, s);
      const float correction = expf((m - m_new) * a);  // 0 on the first key (m = -inf)
      const float weight = expf((s - m_new) * a);
      l = l * correction + weight;
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int64_t d = lane + 32 * e;
        const float vd =
            d < p.head_dim ? xg::to_f32(v[j * p.v_strides[2] + d * p.v_strides[3]]) : 0.0f;
        o[e] = fmaf(weight, vd, o[e] * correction);
      }
      m = m_new;
    }
    write_row<T, kMaxPerLane>(p, r, o, m, l);
  }
}

// ---- flash: 16 query rows per block share K/V tiles staged in shared memory -------------------
constexpr int kFlashWarps = XINHE_ATTENTION_FLASH_THREADS / 32;
constexpr int kFlashRowsPerWarp = XINHE_ATTENTION_FLASH_ROWS_PER_BLOCK / kFlashWarps;
constexpr int kFlashTileKv = 16;

template <typename T, int kMaxD>
XG_DEVICE void attention_flash(const xinhe_attention_cuda_params_t& p) {
  constexpr int kPerLane = kMaxD / 32;
  __shared__ float k_tile[kFlashTileKv][kMaxD];  // (key, d), f32
  __shared__ float v_tile[kFlashTileKv][kMaxD];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * XINHE_ATTENTION_FLASH_ROWS_PER_BLOCK;
  const int64_t head_q = blockIdx.y;
  const int64_t head_kv = head_q / (p.heads_q / p.heads_kv);
  // Keys any row of this block can see; causal blocks stop early.
  const int64_t last_row = min(row0 + XINHE_ATTENTION_FLASH_ROWS_PER_BLOCK, p.seq_q) - 1;
  const int64_t block_keys = visible_keys(p, last_row);
  const float sign = score_sign(p), a = score_scale(p);

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const T* k = static_cast<const T*>(p.k) + batch * p.k_strides[0] + head_kv * p.k_strides[1];
    const T* v = static_cast<const T*>(p.v) + batch * p.v_strides[0] + head_kv * p.v_strides[1];
    float q[kFlashRowsPerWarp][kPerLane], o[kFlashRowsPerWarp][kPerLane];
    float m[kFlashRowsPerWarp], l[kFlashRowsPerWarp];
#pragma unroll
    for (int rr = 0; rr < kFlashRowsPerWarp; ++rr) {
      const int64_t row = row0 + warp * kFlashRowsPerWarp + rr;
      const T* qrow = static_cast<const T*>(p.q) + batch * p.q_strides[0] +
                      head_q * p.q_strides[1] + row * p.q_strides[2];
#pragma unroll
      for (int e = 0; e < kPerLane; ++e) {
        const int64_t d = lane + 32 * e;
        // sign(scale) folded into q (exact); |scale| applies after the max is subtracted
        q[rr][e] =
            (row < p.seq_q && d < p.head_dim) ? sign * xg::to_f32(qrow[d * p.q_strides[3]]) : 0.0f;
        o[rr][e] = 0.0f;
      }
      m[rr] = -INFINITY;
      l[rr] = 0.0f;
    }

    for (int64_t kv0 = 0; kv0 < block_keys; kv0 += kFlashTileKv) {
      __syncthreads();  // previous tile fully consumed
      for (int idx = threadIdx.x; idx < kFlashTileKv * kMaxD;
           idx += XINHE_ATTENTION_FLASH_THREADS) {
        const int j = idx / kMaxD, d = idx % kMaxD;
        const bool in = kv0 + j < p.seq_kv && d < p.head_dim;
        const int64_t kj = kv0 + j;
        k_tile[j][d] = in ? xg::to_f32(k[kj * p.k_strides[2] + d * p.k_strides[3]]) : 0.0f;
        v_tile[j][d] = in ? xg::to_f32(v[kj * p.v_strides[2] + d * p.v_strides[3]]) : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int rr = 0; rr < kFlashRowsPerWarp; ++rr) {
        const int64_t row = row0 + warp * kFlashRowsPerWarp + rr;
        if (row >= p.seq_q) continue;  // uniform per warp
        const int64_t row_keys = visible_keys(p, row);
        float s[kFlashTileKv];
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kFlashTileKv; ++j) {
          float dot = 0.0f;
#pragma unroll
          for (int e = 0; e < kPerLane; ++e) dot = fmaf(q[rr][e], k_tile[j][lane + 32 * e], dot);
          dot = xg::warp_sum(dot);
          s[j] = kv0 + j < row_keys ? dot : -INFINITY;
          tile_max = fmaxf(tile_max, s[j]);
        }
        const float m_new = fmaxf(m[rr], tile_max);
        if (m_new == -INFINITY) {  // nothing visible yet for this row, or only NaN (fmaxf
          // skips it): a NaN score makes l NaN, and the row's output NaN (final_row).
#pragma unroll
          for (int j = 0; j < kFlashTileKv; ++j)
            if (isnan(s[j])) l[rr] = s[j];
          continue;
        }
        const float correction = expf((m[rr] - m_new) * a);
        l[rr] *= correction;
#pragma unroll
        for (int e = 0; e < kPerLane; ++e) o[rr][e] *= correction;
#pragma unroll
        for (int j = 0; j < kFlashTileKv; ++j) {
          const float weight = expf((s[j] - m_new) * a);  // 0 for masked keys
          l[rr] += weight;
#pragma unroll
          for (int e = 0; e < kPerLane; ++e)
            o[rr][e] = fmaf(weight, v_tile[j][lane + 32 * e], o[rr][e]);
        }
        m[rr] = m_new;
      }
    }
#pragma unroll
    for (int rr = 0; rr < kFlashRowsPerWarp; ++rr) {
      RowIndex r{batch, head_q, head_kv, row0 + warp * kFlashRowsPerWarp + rr};
      if (r.row < p.seq_q) write_row<T, kPerLane>(p, r, o[rr], m[rr], l[rr]);
    }
  }
}

#if defined(XG_HAS_MMA_SYNC)
// ---- tensorop: FlashAttention-2 on tensor cores (f16/bf16, D <= 128, sm_80+) ------------------
// Fragment layouts are mma.sync m16n8k16's: a thread holds rows g and g + 8 (g = lane / 4) and
// columns 2t, 2t + 1 (t = lane % 4) of every 16x8 accumulator tile, so row statistics reduce
// over the 4 lanes of a quad. The S accumulators of two adjacent key tiles are exactly the A
// fragment of P for one 16-key step of O += P V (the FA2 register trick).
constexpr int kTcRows = XINHE_ATTENTION_TENSOROP_ROWS_PER_BLOCK;  // 16 per warp
constexpr int kTcKeys = XINHE_ATTENTION_TENSOROP_KEYS;            // keys per K/V tile
constexpr int kTcStages = XINHE_ATTENTION_TENSOROP_STAGES;
constexpr int kTcThreads = XINHE_ATTENTION_TENSOROP_THREADS;
static_assert(kTcStages == 2, "the pipeline below is written for a double buffer");

// True when every row of the (S, D) slices of an operand can be moved as 16-byte chunks:
// contiguous head dim, 16-byte aligned base, and batch / head / row strides that keep it so.
template <typename T>
XG_DEVICE bool rows_are_chunked(const void* base, const int64_t (&strides)[4]) {
  constexpr int64_t kChunk = 16 / sizeof(T);
  return strides[3] == 1 && strides[0] % kChunk == 0 && strides[1] % kChunk == 0 &&
         strides[2] % kChunk == 0 && reinterpret_cast<uintptr_t>(base) % 16 == 0;
}

// Starts loading rows [first, first + 64) of an (S, D) slice into tile (row, d), pitch kD + 8;
// zero past rows_total and head_dim, so padded rows and dims contribute nothing. Chunked slices
// go through cp.async (complete at the caller's cp_async_wait; src-size zero-fills a ragged
// head dim), others element by element with plain loads (complete on return).
template <typename T, int kD>
XG_DEVICE void tc_load_rows(T* tile, const T* base, int64_t row_stride, int64_t d_stride,
                            int64_t first, int64_t rows_total, int64_t head_dim, bool chunked) {
  constexpr int kPitch = kD + 8;
  if (chunked) {
    constexpr int kChunksPerRow = kD / 8;
    for (int idx = threadIdx.x; idx < kTcKeys * kChunksPerRow; idx += kTcThreads) {
      const int r = idx / kChunksPerRow, d0 = (idx % kChunksPerRow) * 8;
      const int64_t s = first + r;
      const int64_t valid = s < rows_total ? head_dim - d0 : 0;  // elements of this chunk
      T* dst = tile + r * kPitch + d0;
      if (valid > 0) {
        xg::cp_async_16_zfill(dst, base + s * row_stride + d0,
                              valid >= 8 ? 16 : static_cast<int>(valid) * 2);
      } else {  // nothing to read (the operand may even be empty): zeros, no global address
        const T zero = xg::from_f32<T>(0.0f);
        for (int e = 0; e < 8; ++e) dst[e] = zero;
      }
    }
    return;
  }
  const T zero = xg::from_f32<T>(0.0f);
  for (int idx = threadIdx.x; idx < kTcKeys * kD; idx += kTcThreads) {
    const int r = idx / kD, d = idx % kD;
    const int64_t s = first + r;
    tile[r * kPitch + d] =
        (s < rows_total && d < head_dim) ? base[s * row_stride + d * d_stride] : zero;
  }
}

// smem: kTcStages x (K tile, V tile), each (key, d) with pitch kD + 8 (rows stay 16-byte
// aligned and the 8 rows of one ldmatrix hit distinct banks). Pipeline, one barrier per tile:
//   prologue: Q -> K tile of stage 1 and tile 0 -> stage 0 in flight together; wait for Q,
//             barrier, Q fragments to registers.
//   tile j:   wait for tile j; barrier (tile j visible to all warps, and every warp is done
//             with stage (j + 1) % 2: tile j - 1, or Q); start tile j + 1 into that stage;
//             S = Q K^T, online softmax, O += P V on stage j % 2 while tile j + 1 lands.
template <typename T, int kD>
XG_DEVICE void attention_tensorop(const xinhe_attention_cuda_params_t& p, unsigned char* smem) {
  static_assert(kTcRows == kTcKeys, "Q is staged in a K tile");
  constexpr int kPitch = kD + 8;
  constexpr int kTileElems = kTcKeys * kPitch;
  static_assert(XINHE_ATTENTION_TENSOROP_SMEM_BYTES(kD) == kTcStages * 2 * kTileElems * 2,
                "shared memory layout and the host's launch size disagree");
  constexpr int kDSteps = kD / 16;              // k-steps of S = Q K^T
  constexpr int kDTiles = kD / 8;               // n-tiles of O
  constexpr int kKeyTiles = kTcKeys / 8;        // n-tiles of S
  T* const tiles = reinterpret_cast<T*>(smem);  // [stage][K, V][kTileElems]
  auto k_tile = [&](int stage) { return tiles + (2 * stage) * kTileElems; };
  auto v_tile = [&](int stage) { return tiles + (2 * stage + 1) * kTileElems; };
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kTcRows;
  const int64_t head_q = blockIdx.y;
  const int64_t head_kv = head_q / (p.heads_q / p.heads_kv);
  const int64_t block_keys = visible_keys(p, min(row0 + kTcRows, p.seq_q) - 1);
  const int64_t kv_tiles = block_keys > 0 ? (block_keys + kTcKeys - 1) / kTcKeys : 0;
  const bool q_chunked = rows_are_chunked<T>(p.q, p.q_strides);
  const bool k_chunked = rows_are_chunked<T>(p.k, p.k_strides);
  const bool v_chunked = rows_are_chunked<T>(p.v, p.v_strides);

  for (int64_t batch = blockIdx.z; batch < p.batch; batch += gridDim.z) {
    const T* q = static_cast<const T*>(p.q) + batch * p.q_strides[0] + head_q * p.q_strides[1];
    const T* k = static_cast<const T*>(p.k) + batch * p.k_strides[0] + head_kv * p.k_strides[1];
    const T* v = static_cast<const T*>(p.v) + batch * p.v_strides[0] + head_kv * p.v_strides[1];
    auto load_kv = [&](int64_t tile, int stage) {
      const int64_t kv0 = tile * kTcKeys;
      tc_load_rows<T, kD>(k_tile(stage), k, p.k_strides[2], p.k_strides[3], kv0, p.seq_kv,
                          p.head_dim, k_chunked);
      tc_load_rows<T, kD>(v_tile(stage), v, p.v_strides[2], p.v_strides[3], kv0, p.seq_kv,
                          p.head_dim, v_chunked);
    };

    __syncthreads();  // the previous batch is done with every stage
    tc_load_rows<T, kD>(k_tile(1), q, p.q_strides[2], p.q_strides[3], row0, p.seq_q, p.head_dim,
                        q_chunked);
    xg::cp_async_commit();
    if (kv_tiles > 0) load_kv(0, 0);
    xg::cp_async_commit();   // committed even when empty: the wait counts below stay uniform
    xg::cp_async_wait<1>();  // Q has landed; tile 0 may still be in flight
    __syncthreads();
    // Q fragments stay in registers for the whole row block.
    unsigned q_frag[kDSteps][4];
#pragma unroll
    for (int ds = 0; ds < kDSteps; ++ds) {
      xg::ldmatrix_x4(q_frag[ds],
                      k_tile(1) + (warp * 16 + (lane & 15)) * kPitch + ds * 16 + (lane >> 4) * 8);
    }

    float o[kDTiles][4] = {};
    float m[2] = {-INFINITY, -INFINITY};  // rows g, g + 8; max of the unscaled scores
    float l[2] = {0.0f, 0.0f};            // this thread's partial sums; quad-reduced at the end
    const float sign = score_sign(p), a = score_scale(p);
    int64_t row_keys[2];
    for (int h = 0; h < 2; ++h) row_keys[h] = visible_keys(p, row0 + warp * 16 + g + 8 * h);

    for (int64_t tile = 0; tile < kv_tiles; ++tile) {
      const int stage = static_cast<int>(tile % kTcStages);
      xg::cp_async_wait<0>();  // this thread's part of tile `tile` has landed
      __syncthreads();
      if (tile + 1 < kv_tiles) load_kv(tile + 1, 1 - stage);
      xg::cp_async_commit();
      const T* ks = k_tile(stage);
      const T* vs = v_tile(stage);
      const int64_t kv0 = tile * kTcKeys;

      float s[kKeyTiles][4] = {};
#pragma unroll
      for (int ds = 0; ds < kDSteps; ++ds) {
#pragma unroll
        for (int j = 0; j < kKeyTiles / 2; ++j) {  // K tile is (key = n, d = k): non-transposed
          unsigned r[4];
          xg::ldmatrix_x4(r, ks + (j * 16 + (lane & 7) + (lane >> 4) * 8) * kPitch + ds * 16 +
                                 ((lane >> 3) & 1) * 8);
          xg::mma_16816<T>(s[2 * j], q_frag[ds], r[0], r[1]);
          xg::mma_16816<T>(s[2 * j + 1], q_frag[ds], r[2], r[3]);
        }
      }

      // Online softmax on the fragments: mask, sign, row max over the quad, rescale; |scale|
      // multiplies only the difference to the max.
      float p_val[kKeyTiles][4];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float tile_max = -INFINITY;
#pragma unroll
        for (int jt = 0; jt < kKeyTiles; ++jt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int64_t key = kv0 + jt * 8 + 2 * t + e;
            float& x = s[jt][2 * h + e];
            x = key < row_keys[h] ? x * sign : -INFINITY;
            tile_max = fmaxf(tile_max, x);
          }
        }
        tile_max = fmaxf(tile_max, XG_SHFL_XOR(tile_max, 1));
        tile_max = fmaxf(tile_max, XG_SHFL_XOR(tile_max, 2));
        const float m_new = fmaxf(m[h], tile_max);
        // A row with nothing visible yet keeps m = -inf and gets p = 0 (not exp(nan)).
        const float base = m_new == -INFINITY ? 0.0f : m_new;
        const float correction = expf((m[h] - base) * a);
        l[h] *= correction;
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt) {
          o[dt][2 * h] *= correction;
          o[dt][2 * h + 1] *= correction;
        }
#pragma unroll
        for (int jt = 0; jt < kKeyTiles; ++jt) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            p_val[jt][2 * h + e] = expf((s[jt][2 * h + e] - base) * a);
            l[h] += p_val[jt][2 * h + e];
          }
        }
        m[h] = m_new;
      }

      // O += P V, P from registers, V tile (key = k, d = n) through ldmatrix.trans.
#pragma unroll
      for (int kk = 0; kk < kTcKeys / 16; ++kk) {
        const unsigned a[4] = {xg::pack2<T>(p_val[2 * kk][0], p_val[2 * kk][1]),
                               xg::pack2<T>(p_val[2 * kk][2], p_val[2 * kk][3]),
                               xg::pack2<T>(p_val[2 * kk + 1][0], p_val[2 * kk + 1][1]),
                               xg::pack2<T>(p_val[2 * kk + 1][2], p_val[2 * kk + 1][3])};
#pragma unroll
        for (int dj = 0; dj < kDTiles / 2; ++dj) {
          unsigned r[4];
          xg::ldmatrix_x4_trans(r, vs + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kPitch +
                                       dj * 16 + (lane >> 4) * 8);
          xg::mma_16816<T>(o[2 * dj], a, r[0], r[1]);
          xg::mma_16816<T>(o[2 * dj + 1], a, r[2], r[3]);
        }
      }
    }

#pragma unroll
    for (int h = 0; h < 2; ++h) {
      l[h] += XG_SHFL_XOR(l[h], 1);
      l[h] += XG_SHFL_XOR(l[h], 2);
      const int64_t row = row0 + warp * 16 + g + 8 * h;
      if (row >= p.seq_q) continue;
      write_quad_row<T, kDTiles>(p, batch, head_q, row, l[h], m[h] * a + logf(l[h]),
                                 [&](int j, int e) { return o[j][2 * h + e]; });
    }
  }
}
#endif  // XG_HAS_MMA_SYNC

#if defined(XG_HAS_WGMMA)
#include "attention_wgmma.cuh"
#endif

}  // namespace

// ---- Entry points (extern "C": names are looked up in the loaded module) ---------------------
#define XINHE_ATTENTION_NAIVE_KERNEL(name, T)                                 \
  extern "C" __global__ void __launch_bounds__(XINHE_ATTENTION_NAIVE_THREADS) \
      name(xinhe_attention_cuda_params_t p) {                                 \
    attention_naive<T>(p);                                                    \
  }
#define XINHE_ATTENTION_FLASH_KERNEL(name, T, D)                              \
  extern "C" __global__ void __launch_bounds__(XINHE_ATTENTION_FLASH_THREADS) \
      name(xinhe_attention_cuda_params_t p) {                                 \
    attention_flash<T, D>(p);                                                 \
  }

XINHE_ATTENTION_NAIVE_KERNEL(xinhe_attention_naive_f32, float)
XINHE_ATTENTION_NAIVE_KERNEL(xinhe_attention_naive_f16, __half)
XINHE_ATTENTION_NAIVE_KERNEL(xinhe_attention_naive_bf16, bf16)

XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_f32_d64, float, 64)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_f32_d128, float, 128)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_f32_d256, float, 256)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_f16_d64, __half, 64)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_f16_d128, __half, 128)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_f16_d256, __half, 256)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_bf16_d64, bf16, 64)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_bf16_d128, bf16, 128)
XINHE_ATTENTION_FLASH_KERNEL(xinhe_attention_flash_bf16_d256, bf16, 256)

#if defined(XG_CUDA)
// Declared for every target so each module exports the same names; empty below sm_80 (the
// host dispatches them only to sm_80+).
#if defined(XG_HAS_MMA_SYNC)
#define XINHE_ATTENTION_TENSOROP_BODY(T, D)                      \
  XG_DYNAMIC_SMEM(smem, XINHE_ATTENTION_TENSOROP_SMEM_BYTES(D)); \
  attention_tensorop<T, D>(p, smem);
#else
#define XINHE_ATTENTION_TENSOROP_BODY(T, D) (void)p;
#endif
#define XINHE_ATTENTION_TENSOROP_KERNEL(name, T, D)                              \
  extern "C" __global__ void __launch_bounds__(XINHE_ATTENTION_TENSOROP_THREADS) \
      name(xinhe_attention_cuda_params_t p) {                                    \
    XINHE_ATTENTION_TENSOROP_BODY(T, D)                                          \
  }
XINHE_ATTENTION_TENSOROP_KERNEL(xinhe_attention_tensorop_f16_d64_sm80, __half, 64)
XINHE_ATTENTION_TENSOROP_KERNEL(xinhe_attention_tensorop_f16_d128_sm80, __half, 128)
XINHE_ATTENTION_TENSOROP_KERNEL(xinhe_attention_tensorop_bf16_d64_sm80, bf16, 64)
XINHE_ATTENTION_TENSOROP_KERNEL(xinhe_attention_tensorop_bf16_d128_sm80, bf16, 128)

// Likewise empty except on sm_90a (the host dispatches them only to compute capability 9.0).
#if defined(XG_HAS_WGMMA)
#define XINHE_ATTENTION_WGMMA_BODY(T, D)                      \
  XG_DYNAMIC_SMEM(smem, XINHE_ATTENTION_WGMMA_SMEM_BYTES(D)); \
  attention_wgmma<T, D>(p, smem);
#else
#define XINHE_ATTENTION_WGMMA_BODY(T, D) (void)p;
#endif
#define XINHE_ATTENTION_WGMMA_KERNEL(name, T, D)                                 \
  extern "C" __global__ void __launch_bounds__(XINHE_ATTENTION_WGMMA_THREADS, 1) \
      name(xinhe_attention_cuda_params_t p) {                                    \
    XINHE_ATTENTION_WGMMA_BODY(T, D)                                             \
  }
XINHE_ATTENTION_WGMMA_KERNEL(xinhe_attention_wgmma_f16_d64_sm90a, __half, 64)
XINHE_ATTENTION_WGMMA_KERNEL(xinhe_attention_wgmma_f16_d128_sm90a, __half, 128)
XINHE_ATTENTION_WGMMA_KERNEL(xinhe_attention_wgmma_bf16_d64_sm90a, bf16, 64)
XINHE_ATTENTION_WGMMA_KERNEL(xinhe_attention_wgmma_bf16_d128_sm90a, bf16, 128)
#endif  // XG_CUDA
