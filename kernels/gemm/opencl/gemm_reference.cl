// Reference-grade OpenCL GEMM: one work-item per element of C, a plain K loop with f32
// accumulation. Slow and obviously right; it runs every shape the API allows and is the last
// entry of the OpenCL GEMM list. BLAS semantics (ops.h): beta == 0 does not read C; alpha == 0
// or K == 0 gives beta * C without the product. Build options: AB_DTYPE, C_DTYPE, TRANS_A,
// TRANS_B.
// Global: (n, m, batch).

typedef XH_STORAGE(AB_DTYPE) ab_t;
typedef XH_STORAGE(C_DTYPE) c_t;

__kernel void xinhe_gemm_reference(const long m, const long n, const long k,
                                   __global const ab_t* A, const long a_offset, const long lda,
                                   const long stride_a,
                                   __global const ab_t* B, const long b_offset, const long ldb,
                                   const long stride_b,
                                   __global c_t* C, const long c_offset, const long ldc,
                                   const long stride_c, const float alpha, const float beta) {
  const long j = get_global_id(0);
  const long i = get_global_id(1);
  const long batch = get_global_id(2);
  if (i >= m || j >= n) return;
  A += a_offset + batch * stride_a;
  B += b_offset + batch * stride_b;
  C += c_offset + batch * stride_c;
  float out = 0.0f;  // beta 0: C unread
  if (alpha == 0.0f || k == 0) {
    if (beta != 0.0f) out = beta * XH_LOAD(C_DTYPE, C, i * ldc + j);
  } else {
    float sum = 0.0f;
    for (long kk = 0; kk < k; ++kk) {
      const float a = XH_LOAD(AB_DTYPE, A, TRANS_A ? kk * lda + i : i * lda + kk);
      const float b = XH_LOAD(AB_DTYPE, B, TRANS_B ? j * ldb + kk : kk * ldb + j);
      sum = fma(a, b, sum);
    }
    out = alpha * sum;
    if (beta != 0.0f) out += beta * XH_LOAD(C_DTYPE, C, i * ldc + j);
  }
  XH_STORE(C_DTYPE, C, i * ldc + j, out);
}
