// OpenBLAS loaded at run time (dlopen "libopenblas.so.0", never linked), for the
// OpenBLAS implementation (cpu.gemm.openblas_f32). Only f32 SGEMM is used.
//
// XINHE_CPU_MAX_ISA: OpenBLAS picks its own kernel set (its "core", e.g. Haswell, SkylakeX),
// which xinhe cannot cap after the library is loaded, and setting OPENBLAS_CORETYPE for the user
// would edit the process environment (and do nothing if the library is already loaded). So
// under a cap below the highest level, the implementation is declined unless the core
// OpenBLAS reports (openblas_get_corename) is known to stay within the cap; the reason names
// the core and the OPENBLAS_CORETYPE value that would fit (set before the process starts).
// Under baseline (SSE2) it is always declined: no OpenBLAS x86-64 kernel set is that narrow.
#pragma once

#include <cstdint>

namespace xinhe::kernels::cpu {

// nullptr when libopenblas.so.0 and cblas_sgemm were found and its core is within
// XINHE_CPU_MAX_ISA, else why not (text stable for the process's lifetime). Loads the library
// on first call; thread-safe.
const char* openblas_unavailable_reason();

// C(M,N) = alpha * op(A) * op(B) + beta * C for one row-major f32 matrix, on `threads`
// OpenBLAS threads. Sizes and leading dimensions must fit in int (see openblas_fits).
void openblas_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc, int threads);

}  // namespace xinhe::kernels::cpu
