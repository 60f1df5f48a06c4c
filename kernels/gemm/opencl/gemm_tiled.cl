// Tuned GEMM for OpenCL devices: C = alpha * op(A) op(B) + beta * C, f32 accumulation,
// A/B in f32, f16 or bf16 storage, C in that dtype or f32, strided batch (stride 0 broadcasts).
// BLAS semantics (ops.h): beta == 0 does not read C; alpha == 0 or K == 0 gives beta * C with
// the product unused (Inf or NaN in A or B cannot reach C; beta == 0 then writes +0).
//
// Each work-item owns an MWI x NWI register tile of C (NWI = NV vectors of VW lanes) and
// walks K with vector loads of B rows and broadcasts of A, with no barriers and no local
// memory (USE_LOCAL=0). That is what CPU-like devices want: PoCL turns a work-group into a
// loop over work-items, so barriers split the body and spill every private value to memory,
// while a wide register tile of floatVW maps to the host's SIMD registers. For GPUs,
// USE_LOCAL=1 stages MWG x KWG tiles of A and KWG x NWG tiles of B in local memory, shared by
// the (NWG/NWI) x (MWG/MWI) work-items of a group.
//
// Build options (all required): AB_DTYPE, C_DTYPE (XH_* codes), TRANS_A, TRANS_B (0/1), MWI,
// NWI, VW (1, 2, 4, 8 or 16; NWI % VW == 0), KWI (K unroll), MWG, NWG, KWG, USE_LOCAL, PACK.
// Work-group: (NWG / NWI, MWG / MWI, 1); global: (tiles_n, tiles_m, batch) rounded up.

typedef XH_STORAGE(AB_DTYPE) ab_t;
typedef XH_STORAGE(C_DTYPE) c_t;

#define NV (NWI / VW)

#if VW == 1
typedef float floatv;
#define XH_VLOAD_F32(p) (*(p))
#define XH_VLOAD_F16(p) vload_half(0, (p))
#define XH_VLOAD_BF16(p) xh_bf16_to_f32(*(p))
#define XH_VLOAD_PRIVATE(p) (*(p))
#define XH_VLOAD_LOCAL(p) (*(p))
#else
typedef XH_CAT(float, VW) floatv;
#define XH_VLOAD_F32(p) XH_CAT(vload, VW)(0, (p))
#define XH_VLOAD_F16(p) XH_CAT(vload_half, VW)(0, (p))
#define XH_VLOAD_BF16(p) \
  XH_CAT(as_float, VW)(XH_CAT(convert_uint, VW)(XH_CAT(vload, VW)(0, (p))) << 16)
#define XH_VLOAD_PRIVATE(p) XH_CAT(vload, VW)(0, (p))
#define XH_VLOAD_LOCAL(p) XH_CAT(vload, VW)(0, (p))
#endif

#if AB_DTYPE == XH_F32
#define LOAD_AB_VEC(p) XH_VLOAD_F32(p)
#elif AB_DTYPE == XH_F16
#define LOAD_AB_VEC(p) XH_VLOAD_F16(p)
#else
#define LOAD_AB_VEC(p) XH_VLOAD_BF16(p)
#endif

// op(A)(i, k) and op(B)(k, j) as element indices.
#if TRANS_A
#define A_INDEX(i, k) ((long)(k) * lda + (i))
#else
#define A_INDEX(i, k) ((long)(i) * lda + (k))
#endif
#if TRANS_B
#define B_INDEX(k, j) ((long)(j) * ldb + (k))
#else
#define B_INDEX(k, j) ((long)(k) * ldb + (j))
#endif

// VW consecutive columns j..j+VW-1 of op(B) row k; contiguous only without TRANS_B.
inline floatv load_b_vec(__global const ab_t* B, long ldb, long k, long j) {
#if TRANS_B || VW == 1
  float lanes[VW];
  for (int l = 0; l < VW; ++l) lanes[l] = XH_LOAD(AB_DTYPE, B, B_INDEX(k, j + l));
  return XH_VLOAD_PRIVATE(lanes);
#else
  return LOAD_AB_VEC(B + B_INDEX(k, j));
#endif
}

// Same, for a tile at the right edge: columns >= n read column n - 1 (their results are
// never stored), so no load leaves the matrix.
inline floatv load_b_vec_edge(__global const ab_t* B, long ldb, long k, long j, long n) {
  float lanes[VW];
  for (int l = 0; l < VW; ++l) {
    const long jj = min(j + l, n - 1);
    lanes[l] = XH_LOAD(AB_DTYPE, B, B_INDEX(k, jj));
  }
  return XH_VLOAD_PRIVATE(lanes);
}

// One element of C from its accumulated product; alpha is 0 when K == 0 (the callers pass
// xh_gemm_alpha). beta == 0 must not read C (it may hold NaN).
inline float xh_gemm_output(__global const c_t* C, long at, float product, float alpha,
                            float beta) {
  if (alpha == 0.0f) return beta == 0.0f ? 0.0f : beta * XH_LOAD(C_DTYPE, C, at);
  const float out = alpha * product;
  return beta == 0.0f ? out : out + beta * XH_LOAD(C_DTYPE, C, at);
}
#define xh_gemm_alpha(alpha, k) ((k) == 0 ? 0.0f : (alpha))

inline void store_tile(__global c_t* C, long ldc, long i0, long j0, long m, long n,
                       floatv acc[MWI][NV], float alpha, float beta) {
#pragma unroll
  for (int r = 0; r < MWI; ++r) {
    const long i = i0 + r;
    if (i >= m) break;
    float lanes[NWI];
#pragma unroll
    for (int v = 0; v < NV; ++v) {
#if VW == 1
      lanes[v] = acc[r][v];
#else
      XH_CAT(vstore, VW)(acc[r][v], 0, lanes + v * VW);
#endif
    }
    for (int c = 0; c < NWI; ++c) {
      const long j = j0 + c;
      if (j >= n) break;
      XH_STORE(C_DTYPE, C, i * ldc + j, xh_gemm_output(C, i * ldc + j, lanes[c], alpha, beta));
    }
  }
}

#if !USE_LOCAL

__kernel void xinhe_gemm_tiled(const long m, const long n, const long k,
                               __global const ab_t* A, const long a_offset, const long lda,
                               const long stride_a,
                               __global const ab_t* B, const long b_offset, const long ldb,
                               const long stride_b,
                               __global c_t* C, const long c_offset, const long ldc,
                               const long stride_c, const float alpha, const float beta) {
  const long j0 = (long)get_global_id(0) * NWI;
  const long i0 = (long)get_global_id(1) * MWI;
  const long batch = get_global_id(2);
  if (i0 >= m || j0 >= n) return;
  A += a_offset + batch * stride_a;
  B += b_offset + batch * stride_b;
  C += c_offset + batch * stride_c;

  floatv acc[MWI][NV];
#pragma unroll
  for (int r = 0; r < MWI; ++r)
#pragma unroll
    for (int v = 0; v < NV; ++v) acc[r][v] = (floatv)(0.0f);

  if (i0 + MWI <= m && j0 + NWI <= n) {
    long kk = 0;
    // Tile loops fully unrolled so the accumulators live in registers (see xinhe_gemm_packed).
    for (; kk + KWI <= k; kk += KWI) {
#pragma unroll
      for (int u = 0; u < KWI; ++u) {
        floatv b[NV];
#pragma unroll
        for (int v = 0; v < NV; ++v) b[v] = load_b_vec(B, ldb, kk + u, j0 + v * VW);
#pragma unroll
        for (int r = 0; r < MWI; ++r) {
          const floatv a = (floatv)(XH_LOAD(AB_DTYPE, A, A_INDEX(i0 + r, kk + u)));
#pragma unroll
          for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, b[v], acc[r][v]);
        }
      }
    }
    for (; kk < k; ++kk) {
      floatv b[NV];
#pragma unroll
      for (int v = 0; v < NV; ++v) b[v] = load_b_vec(B, ldb, kk, j0 + v * VW);
#pragma unroll
      for (int r = 0; r < MWI; ++r) {
        const floatv a = (floatv)(XH_LOAD(AB_DTYPE, A, A_INDEX(i0 + r, kk)));
#pragma unroll
        for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, b[v], acc[r][v]);
      }
    }
  } else {
    // Edge tile: clamp rows and columns so every load stays inside op(A) and op(B).
    for (long kk = 0; kk < k; ++kk) {
      floatv b[NV];
      for (int v = 0; v < NV; ++v) b[v] = load_b_vec_edge(B, ldb, kk, j0 + v * VW, n);
      for (int r = 0; r < MWI; ++r) {
        const long i = min(i0 + r, m - 1);
        const floatv a = (floatv)(XH_LOAD(AB_DTYPE, A, A_INDEX(i, kk)));
        for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, b[v], acc[r][v]);
      }
    }
  }
  store_tile(C, ldc, i0, j0, m, n, acc, xh_gemm_alpha(alpha, k), beta);
}

#else  // USE_LOCAL

#define WGX (NWG / NWI)
#define WGY (MWG / MWI)

__kernel __attribute__((reqd_work_group_size(WGX, WGY, 1)))
void xinhe_gemm_tiled(const long m, const long n, const long k,
                      __global const ab_t* A, const long a_offset, const long lda,
                      const long stride_a,
                      __global const ab_t* B, const long b_offset, const long ldb,
                      const long stride_b,
                      __global c_t* C, const long c_offset, const long ldc,
                      const long stride_c, const float alpha, const float beta) {
  __local float a_tile[KWG][MWG];  // (KWG, MWG): op(A) block, transposed for broadcast reads
  __local float b_tile[KWG][NWG];  // (KWG, NWG): op(B) block
  const int lx = get_local_id(0), ly = get_local_id(1);
  const int lid = ly * WGX + lx;
  const long tile_i = (long)get_group_id(1) * MWG;
  const long tile_j = (long)get_group_id(0) * NWG;
  const long batch = get_global_id(2);
  A += a_offset + batch * stride_a;
  B += b_offset + batch * stride_b;
  C += c_offset + batch * stride_c;

  floatv acc[MWI][NV];
  for (int r = 0; r < MWI; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = (floatv)(0.0f);

  for (long k0 = 0; k0 < k; k0 += KWG) {
    // Cooperative loads; out-of-range elements are zero so they add nothing.
    for (int e = lid; e < KWG * MWG; e += WGX * WGY) {
      const int kk = e / MWG, ii = e % MWG;
      const long gi = tile_i + ii, gk = k0 + kk;
      a_tile[kk][ii] = (gi < m && gk < k) ? XH_LOAD(AB_DTYPE, A, A_INDEX(gi, gk)) : 0.0f;
    }
    for (int e = lid; e < KWG * NWG; e += WGX * WGY) {
      const int kk = e / NWG, jj = e % NWG;
      const long gj = tile_j + jj, gk = k0 + kk;
      b_tile[kk][jj] = (gj < n && gk < k) ? XH_LOAD(AB_DTYPE, B, B_INDEX(gk, gj)) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < KWG; ++kk) {
      floatv b[NV];
      for (int v = 0; v < NV; ++v) b[v] = XH_VLOAD_LOCAL(&b_tile[kk][lx * NWI + v * VW]);
      for (int r = 0; r < MWI; ++r) {
        const floatv a = (floatv)(a_tile[kk][ly * MWI + r]);
        for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, b[v], acc[r][v]);
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const long i0 = tile_i + ly * MWI, j0 = tile_j + lx * NWI;
  if (i0 < m && j0 < n) store_tile(C, ldc, i0, j0, m, n, acc, xh_gemm_alpha(alpha, k), beta);
}

#endif  // USE_LOCAL

#if PACK
// Packed path (CPU-like devices, large problems). op(A) and op(B) of one batch are first
// copied, widened to f32 and zero-padded, into panels that the tile kernel then reads
// strictly sequentially:
//   a_packed: (ceil(M / MWI), K, MWI)   b_packed: (ceil(N / NWI), K, NWI)
// This removes the strided row accesses of the direct kernel, whose power-of-two leading
// dimensions map every row of a panel to the same L1 set and defeat the prefetchers. The
// tile kernel then needs no edge clamping in its K loop (padding is zero).

// Global: (MWI * K, tiles_m).
__kernel void xinhe_gemm_pack_a(const long m, const long k, __global const ab_t* A,
                                const long a_offset, const long lda, const long stride_a,
                                const long batch, __global float* a_packed,
                                const long packed_offset) {
  const long x = get_global_id(0);
  const long tile = get_global_id(1);
  if (x >= MWI * k) return;
  const long kk = x / MWI, r = x % MWI;
  const long i = tile * MWI + r;
  A += a_offset + batch * stride_a;
  a_packed[packed_offset + tile * k * MWI + x] =
      i < m ? XH_LOAD(AB_DTYPE, A, A_INDEX(i, kk)) : 0.0f;
}

// Global: (NWI * K, tiles_n).
__kernel void xinhe_gemm_pack_b(const long n, const long k, __global const ab_t* B,
                                const long b_offset, const long ldb, const long stride_b,
                                const long batch, __global float* b_packed,
                                const long packed_offset) {
  const long x = get_global_id(0);
  const long tile = get_global_id(1);
  if (x >= NWI * k) return;
  const long kk = x / NWI, c = x % NWI;
  const long j = tile * NWI + c;
  B += b_offset + batch * stride_b;
  b_packed[packed_offset + tile * k * NWI + x] =
      j < n ? XH_LOAD(AB_DTYPE, B, B_INDEX(kk, j)) : 0.0f;
}

// Global: (tiles_n, tiles_m) rounded up to the work-group, one batch per launch.
__kernel void xinhe_gemm_packed(const long m, const long n, const long k,
                                __global const float* a_packed, const long a_packed_offset,
                                __global const float* b_packed, const long b_packed_offset,
                                __global c_t* C, const long c_offset, const long ldc,
                                const long stride_c, const long batch, const float alpha,
                                const float beta) {
  const long tile_j = get_global_id(0);
  const long tile_i = get_global_id(1);
  const long i0 = tile_i * MWI, j0 = tile_j * NWI;
  if (i0 >= m || j0 >= n) return;
  __global const float* ap = a_packed + a_packed_offset + tile_i * k * MWI;
  __global const float* bp = b_packed + b_packed_offset + tile_j * k * NWI;
  C += c_offset + batch * stride_c;
  // Every loop over the tile is fully unrolled: PoCL does not unroll them by itself, and
  // with a variable index the accumulators stay in memory (a load and store per FMA).
  floatv acc[MWI][NV];
#pragma unroll
  for (int r = 0; r < MWI; ++r)
#pragma unroll
    for (int v = 0; v < NV; ++v) acc[r][v] = (floatv)(0.0f);
  for (long kk = 0; kk < k; ++kk) {
    floatv b[NV];
#pragma unroll
    for (int v = 0; v < NV; ++v) b[v] = XH_VLOAD_F32(bp + kk * NWI + v * VW);
#pragma unroll
    for (int r = 0; r < MWI; ++r) {
      const floatv a = (floatv)(ap[kk * MWI + r]);
#pragma unroll
      for (int v = 0; v < NV; ++v) acc[r][v] = fma(a, b[v], acc[r][v]);
    }
  }
  store_tile(C, ldc, i0, j0, m, n, acc, xh_gemm_alpha(alpha, k), beta);
}
#endif  // PACK
