// The float64 reference: simple, obviously right, and the oracle every backend is tested
// against. Inputs are host arrays in their stored dtype; results are dense float64.
#pragma once

#include <cstdint>

#include "xinhe/ops.h"

namespace xinhe::reference {

// Element i of an array of dtype, widened to double.
double load(xinhe_dtype_t dtype, const void* base, int64_t index);
// Rounds v to dtype and stores it as element i.
void store(xinhe_dtype_t dtype, void* base, int64_t index, double v);

// C_out[b][i][j] (dense, batch*M*N doubles) = alpha * sum_k op(A)[i][k] op(B)[k][j]
//                                            + beta * C_in[b][i][j] (C_in read with ldc/stride_c,
//                                              in c_dtype; not read when beta == 0).
// alpha == 0 or K == 0 gives beta * C_in (0 when beta == 0) without reading A or B, as BLAS.
void gemm(const xinhe_gemm_desc_t& desc, const void* a, const void* b, const void* c_in,
          double alpha, double beta, double* c_out);

// O_out dense [B, Hq, Sq, D]; LSE_out dense [B, Hq, Sq] (may be nullptr). Rows that see no
// key give O = 0 and LSE = -inf.
void attention(const xinhe_attention_desc_t& desc, const void* q, const void* k, const void* v,
               double* o_out, double* lse_out);

}  // namespace xinhe::reference
