// OpenBLAS loaded at run time (dlopen "libopenblas.so.0", never linked), for the
// OpenBLAS implementation (cpu.gemm.openblas_f32). Only f32 SGEMM is used.
#pragma once

#include <cstdint>

namespace xinhe::kernels::cpu {

// nullptr when libopenblas.so.0 and cblas_sgemm were found, else why not (static text).
// Loads the library on first call; thread-safe.
const char* openblas_unavailable_reason();

// C(M,N) = alpha * op(A) * op(B) + beta * C for one row-major f32 matrix, on `threads`
// OpenBLAS threads. Sizes and leading dimensions must fit in int (see openblas_fits).
void openblas_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc, int threads);

}  // namespace xinhe::kernels::cpu
