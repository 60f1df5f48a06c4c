// Reference-grade OpenCL attention: one work-item per query row, exact two-pass softmax
// (max, then sum and weighted V), head_dim a run-time value up to 256. Slow and obviously
// right; the last entry of the OpenCL attention list. Same arguments and semantics as
// xinhe_attention_flash, including its numerics: the max is subtracted from unscaled scores
// (times sign(scale)), and only the difference is scaled. Build options: DTYPE, CAUSAL,
// WITH_LSE. Global: (Sq, Hq, B).

typedef XH_STORAGE(DTYPE) elem_t;

#define XH_MAX_HEAD_DIM 256

__kernel void xinhe_attention_reference(const long heads_q, const long heads_kv,
                                        const long seq_q, const long seq_kv, const long head_dim,
                                        const float scale,
                                        __global const elem_t* Q, const long q_offset,
                                        const long4 qs,
                                        __global const elem_t* K, const long k_offset,
                                        const long4 ks,
                                        __global const elem_t* V, const long v_offset,
                                        const long4 vs,
                                        __global elem_t* O, const long o_offset, const long4 os,
                                        __global float* LSE, const long lse_offset,
                                        const long4 lse_strides) {
  const long row = get_global_id(0);
  const long h = get_global_id(1);
  const long b = get_global_id(2);
  if (row >= seq_q) return;
  const long hk = h / (heads_q / heads_kv);
  const long qrow = q_offset + b * qs.s0 + h * qs.s1 + row * qs.s2;
  const long kbase = k_offset + b * ks.s0 + hk * ks.s1;
  const long vbase = v_offset + b * vs.s0 + hk * vs.s1;
#if CAUSAL
  const long end = clamp(row + seq_kv - seq_q + 1, 0L, seq_kv);
#else
  const long end = seq_kv;
#endif
  // scale * s = score_scale * (score_sign * s); with scale == 0 every score is 0.
  const float score_sign = scale > 0.0f ? 1.0f : (scale < 0.0f ? -1.0f : 0.0f);
  const float score_scale = scale != 0.0f ? fabs(scale) : 1.0f;
  float mx = -INFINITY;
  for (long j = 0; j < end; ++j) {
    float dot = 0.0f;
    for (long d = 0; d < head_dim; ++d)
      dot += XH_LOAD(DTYPE, Q, qrow + d * qs.s3) * XH_LOAD(DTYPE, K, kbase + j * ks.s2 + d * ks.s3);
    mx = fmax(mx, dot * score_sign);
  }
  float acc[XH_MAX_HEAD_DIM];
  for (long d = 0; d < head_dim; ++d) acc[d] = 0.0f;
  float sum = 0.0f;
  for (long j = 0; j < end; ++j) {
    float dot = 0.0f;
    for (long d = 0; d < head_dim; ++d)
      dot += XH_LOAD(DTYPE, Q, qrow + d * qs.s3) * XH_LOAD(DTYPE, K, kbase + j * ks.s2 + d * ks.s3);
    const float p = exp((dot * score_sign - mx) * score_scale);
    sum += p;
    for (long d = 0; d < head_dim; ++d)
      acc[d] += p * XH_LOAD(DTYPE, V, vbase + j * vs.s2 + d * vs.s3);
  }
  const long orow = o_offset + b * os.s0 + h * os.s1 + row * os.s2;
  const float inv = end > 0 ? 1.0f / sum : 0.0f;
  for (long d = 0; d < head_dim; ++d) XH_STORE(DTYPE, O, orow + d * os.s3, acc[d] * inv);
#if WITH_LSE
  LSE[lse_offset + b * lse_strides.s0 + h * lse_strides.s1 + row * lse_strides.s2] =
      end > 0 ? mx * score_scale + log(sum) : -INFINITY;
#endif
}
