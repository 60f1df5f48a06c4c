// Host <-> kernel contract of the CUDA-dialect attention kernels (attention_cuda.cu), shared by
// the CUDA and HIP plugins. Plain C so both device and host compilers read the same layout.
//
// Kernel names: xinhe_attention_<method>_<dtype>_d<max head dim>[_sm80]. Methods, fastest first:
//   tensorop  FlashAttention-2 forward on tensor cores (f16/bf16, head dim <= 128, NVIDIA
//          sm_80+): a block owns 64 query rows (4 warps x 16), K/V tiles of 64 keys in shared
//          memory, S = Q K^T and O += P V with mma.sync m16n8k16, online softmax on the S
//          fragments in registers, P re-packed as the A operand without leaving registers.
//   flash  FlashAttention-2 style forward on CUDA cores: a block owns 16 query rows (4 warps x
//          4 rows), streams K/V through shared memory in tiles of 16 keys with an online
//          softmax, f32 statistics. Head dim <= 64, 128 or 256 variants.
//   naive  one warp per query row reading K/V straight from global memory; reference-grade.
// Both cover every case the API allows: causal bottom-right with Sq != Skv, GQA/MQA, any
// element strides, LSE, rows that see no key (O = 0, LSE = -inf).
#ifndef XINHE_KERNELS_ATTENTION_CUDA_H_
#define XINHE_KERNELS_ATTENTION_CUDA_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xinhe_attention_cuda_params_t {
  const void* q; /* [B, Hq, Sq, D] with q_strides (b, h, s, d) in elements */
  const void* k; /* [B, Hkv, Skv, D] */
  const void* v; /* [B, Hkv, Skv, D] */
  void* o;       /* [B, Hq, Sq, D] */
  float* lse;    /* [B, Hq, Sq] f32, or NULL */
  int64_t batch, heads_q, heads_kv, seq_q, seq_kv, head_dim;
  int64_t q_strides[4], k_strides[4], v_strides[4], o_strides[4];
  int64_t lse_strides[3];
  float scale;
  int32_t causal; /* bottom-right aligned: query i sees keys j <= i + (Skv - Sq) */
} xinhe_attention_cuda_params_t;

#define XINHE_ATTENTION_FLASH_ROWS_PER_BLOCK 16
#define XINHE_ATTENTION_FLASH_THREADS 128
#define XINHE_ATTENTION_NAIVE_ROWS_PER_BLOCK 4 /* one warp per row */
#define XINHE_ATTENTION_TENSOROP_ROWS_PER_BLOCK 64
#define XINHE_ATTENTION_TENSOROP_THREADS 128
#define XINHE_ATTENTION_NAIVE_THREADS 128

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_KERNELS_ATTENTION_CUDA_H_ */
