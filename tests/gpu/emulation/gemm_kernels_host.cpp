// The GEMM kernels compiled for the host emulation (see gpu_dialect.cuh in this folder).
#include "gemm_cuda.cu"
