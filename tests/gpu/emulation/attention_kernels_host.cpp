// The attention kernels compiled for the host emulation (see gpu_dialect.cuh in this folder).
#include "attention_cuda.cu"
