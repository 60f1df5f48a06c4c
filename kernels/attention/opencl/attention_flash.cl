// Flash-style attention forward for OpenCL: O = softmax(scale * Q K^T + mask) V with an
// online softmax, so K and V are streamed once per group of query rows and nothing of size
// Skv is stored. Each work-item owns QWI query rows of one (batch, head): their f32 output
// accumulators stay private, and every K/V row it loads serves all QWI queries. Keys are
// taken BKV at a time so the running max and the rescale of the accumulators happen once per
// block rather than once per key.
//
// Any strides (elements, order b, h, s, d), GQA/MQA (kv head = h / (Hq / Hkv)), causal mask
// aligned bottom-right (query i sees keys j <= i + Skv - Sq), rows that see no key give O = 0
// and LSE = -inf. LSE = ln(sum_j exp(scale * q.k_j)) = |scale| * max + log(sum).
//
// Numerics: scores stay unscaled (Q is multiplied by sign(scale) only, which is exact) until
// the running max is subtracted; scaling first would round scale * S, an error proportional to
// |S| that a large common offset of the logits turns into a wrong O. A row that has seen no
// visible key yet keeps probability 0 for every key of the block (its scores are -inf, and
// -inf times V is not 0).
//
// Rows are processed DV elements at a time (floatDV vectors over d) when every d stride is 1
// and DV divides D: on SIMD CPUs that is what turns the dot products and the V accumulation
// into vector FMAs (PoCL does not vectorize across work-items that keep private arrays).
//
// Build options: DTYPE (XH_*), HEAD_DIM (compile-time D so the D loops unroll), QWI, BKV,
// CAUSAL, WITH_LSE, CONTIG_D (1 when every d stride is 1), DV (1, 4 or 8; > 1 needs
// CONTIG_D and HEAD_DIM % DV == 0).
// Global: (ceil(Sq / QWI) rounded to the work-group, Hq, B).

typedef XH_STORAGE(DTYPE) elem_t;

#define NDV (HEAD_DIM / DV)

#if DV == 1
typedef float dvec;
#define HSUM(v) (v)
#if CONTIG_D
#define LOAD_ROW(ptr, base, c, stride) XH_LOAD(DTYPE, ptr, (base) + (c))
#define STORE_ROW(ptr, base, c, stride, v) XH_STORE(DTYPE, ptr, (base) + (c), v)
#else
#define LOAD_ROW(ptr, base, c, stride) XH_LOAD(DTYPE, ptr, (base) + (c) * (stride))
#define STORE_ROW(ptr, base, c, stride, v) XH_STORE(DTYPE, ptr, (base) + (c) * (stride), v)
#endif
#else  // DV > 1: contiguous d
typedef XH_CAT(float, DV) dvec;
#if DV == 4
#define HSUM(v) dot((v), (float4)(1.0f))
#else
#define HSUM(v) dot((v).lo + (v).hi, (float4)(1.0f))
#endif
#if DTYPE == XH_F32
#define LOAD_ROW(ptr, base, c, stride) XH_CAT(vload, DV)(0, (ptr) + (base) + (c) * DV)
#define STORE_ROW(ptr, base, c, stride, v) XH_CAT(vstore, DV)(v, 0, (ptr) + (base) + (c) * DV)
#elif DTYPE == XH_F16
#define LOAD_ROW(ptr, base, c, stride) XH_CAT(vload_half, DV)(0, (ptr) + (base) + (c) * DV)
// Lane by lane, not vstore_halfN: PoCL 3.1 compiled vstore_half8_rte to an aligned 16-byte
// store, which faulted on an O row at a 2-byte-aligned address (the spec asks only for 2).
inline void store_f16_row(__global half* p, dvec v) {
  float lanes[DV];
  XH_CAT(vstore, DV)(v, 0, lanes);
  for (int l = 0; l < DV; ++l) vstore_half_rte(lanes[l], 0, p + l);
}
#define STORE_ROW(ptr, base, c, stride, v) store_f16_row((ptr) + (base) + (c) * DV, v)
#else
#define LOAD_ROW(ptr, base, c, stride)                                                 \
  XH_CAT(as_float, DV)(XH_CAT(convert_uint, DV)(XH_CAT(vload, DV)(0, (ptr) + (base) + \
                                                                     (c) * DV)) << 16)
inline void store_bf16_row(__global ushort* p, dvec v) {
  float lanes[DV];
  XH_CAT(vstore, DV)(v, 0, lanes);
  for (int l = 0; l < DV; ++l) p[l] = xh_f32_to_bf16(lanes[l]);
}
#define STORE_ROW(ptr, base, c, stride, v) store_bf16_row((ptr) + (base) + (c) * DV, v)
#endif
#endif

__kernel void xinhe_attention_flash(const long heads_q, const long heads_kv, const long seq_q,
                                    const long seq_kv, const float scale,
                                    __global const elem_t* Q, const long q_offset,
                                    const long4 q_strides,
                                    __global const elem_t* K, const long k_offset,
                                    const long4 k_strides,
                                    __global const elem_t* V, const long v_offset,
                                    const long4 v_strides,
                                    __global elem_t* O, const long o_offset,
                                    const long4 o_strides,
                                    __global float* LSE, const long lse_offset,
                                    const long4 lse_strides) {
  const long row0 = (long)get_global_id(0) * QWI;
  const long h = get_global_id(1);
  const long b = get_global_id(2);
  if (row0 >= seq_q) return;
  // scale * s = score_scale * (q_sign * q) . k; with scale == 0 every score is 0.
  const float q_sign = scale > 0.0f ? 1.0f : (scale < 0.0f ? -1.0f : 0.0f);
  const float score_scale = scale != 0.0f ? fabs(scale) : 1.0f;
  const long hk = h / (heads_q / heads_kv);
  const long q_base = q_offset + b * q_strides.s0 + h * q_strides.s1;
  const long k_base = k_offset + b * k_strides.s0 + hk * k_strides.s1;
  const long v_base = v_offset + b * v_strides.s0 + hk * v_strides.s1;

  dvec q[QWI][NDV];     // scaled queries
  dvec acc[QWI][NDV];   // unnormalized output
  float row_max[QWI], row_sum[QWI];
  long row_end[QWI];    // keys [0, row_end) are visible to the row
  long kv_end = 0;
  for (int r = 0; r < QWI; ++r) {
    const long row = min(row0 + r, seq_q - 1);  // rows past Sq repeat the last one, unstored
    const long qrow = q_base + row * q_strides.s2;
    for (int c = 0; c < NDV; ++c) {
      q[r][c] = LOAD_ROW(Q, qrow, c, q_strides.s3) * q_sign;
      acc[r][c] = (dvec)(0.0f);
    }
    row_max[r] = -INFINITY;
    row_sum[r] = 0.0f;
#if CAUSAL
    row_end[r] = clamp(row + seq_kv - seq_q + 1, 0L, seq_kv);
#else
    row_end[r] = seq_kv;
#endif
    kv_end = max(kv_end, row_end[r]);
  }

  for (long j0 = 0; j0 < kv_end; j0 += BKV) {
    float s[QWI][BKV];
    for (int jj = 0; jj < BKV; ++jj) {
      const long j = j0 + jj;
      dvec dot_v[QWI];
      for (int r = 0; r < QWI; ++r) dot_v[r] = (dvec)(0.0f);
      if (j < kv_end) {
        const long krow = k_base + j * k_strides.s2;
        for (int c = 0; c < NDV; ++c) {
          const dvec kc = LOAD_ROW(K, krow, c, k_strides.s3);
          for (int r = 0; r < QWI; ++r) dot_v[r] = fma(q[r][c], kc, dot_v[r]);
        }
      }
      for (int r = 0; r < QWI; ++r) s[r][jj] = (j < row_end[r]) ? HSUM(dot_v[r]) : -INFINITY;
    }
    for (int r = 0; r < QWI; ++r) {
      float block_max = -INFINITY;
      for (int jj = 0; jj < BKV; ++jj) block_max = fmax(block_max, s[r][jj]);
      const float new_max = fmax(row_max[r], block_max);
      if (new_max == -INFINITY) {  // nothing visible yet for this row: every P is 0,
        // but a NaN score (fmax skips it) stays NaN, so that the row's O and LSE become NaN.
        for (int jj = 0; jj < BKV; ++jj) {
          const float p = isnan(s[r][jj]) ? s[r][jj] : 0.0f;
          s[r][jj] = p;
          row_sum[r] += p;
        }
        continue;
      }
      // exp(-inf) = 0 on the first block
      const float correction = exp((row_max[r] - new_max) * score_scale);
      row_sum[r] *= correction;
      for (int c = 0; c < NDV; ++c) acc[r][c] *= correction;
      for (int jj = 0; jj < BKV; ++jj) {
        const float p = exp((s[r][jj] - new_max) * score_scale);  // masked keys: exp(-inf) = 0
        s[r][jj] = p;
        row_sum[r] += p;
      }
      row_max[r] = new_max;
    }
    for (int jj = 0; jj < BKV; ++jj) {
      const long j = j0 + jj;
      if (j >= kv_end) break;
      const long vrow = v_base + j * v_strides.s2;
      for (int c = 0; c < NDV; ++c) {
        const dvec vc = LOAD_ROW(V, vrow, c, v_strides.s3);
        for (int r = 0; r < QWI; ++r) acc[r][c] = fma((dvec)(s[r][jj]), vc, acc[r][c]);
      }
    }
  }

  for (int r = 0; r < QWI; ++r) {
    const long row = row0 + r;
    if (row >= seq_q) break;
    const long orow = o_offset + b * o_strides.s0 + h * o_strides.s1 + row * o_strides.s2;
    // A row that saw no key stores 0, not acc * 0: the rows it shares a work item with weight
    // V by its zero P, and a V holding Inf made that NaN. A row that saw keys has a sum >= 1
    // unless a score was NaN: then O and LSE are NaN (ops.h).
    const bool saw_keys = row_end[r] > 0;
    const bool finite_sum = row_sum[r] > 0.0f;
    const float inv = saw_keys ? 1.0f / row_sum[r] : 0.0f;
    for (int c = 0; c < NDV; ++c)
      STORE_ROW(O, orow, c, o_strides.s3,
                !saw_keys ? (dvec)(0.0f) : finite_sum ? acc[r][c] * inv : (dvec)(NAN));
#if WITH_LSE
    LSE[lse_offset + b * lse_strides.s0 + h * lse_strides.s1 + row * lse_strides.s2] =
        !saw_keys ? -INFINITY : finite_sum ? row_max[r] * score_scale + log(row_sum[r]) : NAN;
#endif
  }
}
