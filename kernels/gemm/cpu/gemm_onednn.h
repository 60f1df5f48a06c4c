// oneDNN loaded at run time (dlopen "libdnnl.so.2", the 2.x C API, never linked), for the
// "cpu.gemm.onednn" implementation: dnnl_matmul on f32 and bf16 (oneDNN 2.x has no f16 matmul
// on x86). Built only when the oneDNN 2.x headers were found (XINHE_HAVE_ONEDNN); otherwise
// every entry says so.
#pragma once

#include <cstdint>

#include "gemm_cpu.h"

namespace xinhe::kernels::cpu {

// nullptr when libdnnl.so.2 and its functions were found and a CPU engine was created, else
// why not. Loads the library on first call; thread-safe.
const char* onednn_unavailable_reason();

// nullptr when oneDNN runs desc (a matmul primitive descriptor can be created for it), else
// why not. Creates a primitive descriptor on first use of a description.
const char* onednn_unsupported_reason(const xinhe_gemm_desc_t& desc);

// Bytes of workspace (oneDNN's scratchpad, passed in user mode, plus alignment slack) a run on
// `threads` threads needs.
uint64_t onednn_workspace_size(const xinhe_gemm_desc_t& desc, int threads);

// Runs the problem (K > 0, alpha != 0, non-empty C: the caller handles the trivial cases) on
// `threads` OpenMP threads. false when oneDNN refused it after all (the caller then computes
// it another way).
bool onednn_gemm(const GemmProblem& problem, int threads);

// "oneDNN 2.6.3 (cpu_runtime OpenMP)" or the unavailable reason.
const char* onednn_version();

}  // namespace xinhe::kernels::cpu
