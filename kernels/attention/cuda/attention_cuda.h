// Host <-> kernel contract of the CUDA-dialect attention kernels (attention_cuda.cu), shared by
// the CUDA and HIP plugins. Plain C so both device and host compilers read the same layout.
//
// Kernel names: xinhe_attention_<method>_<dtype>_d<max head dim>[_sm80|_sm90a]. Methods, fastest
// first:
//   wgmma  FlashAttention forward on Hopper (f16/bf16, head dim <= 128, sm_90a only): a block
//          owns 128 query rows (2 warpgroups x 64), K/V tiles (128 keys at d64, 64 at d128)
//          in 3 stages of 128-byte-swizzled shared memory, loaded by cp.async; S = Q K^T with
//          wgmma from shared memory, online softmax in the accumulators while the previous
//          tile's O += P V (P as wgmma's register A operand) runs. Needs
//          XINHE_ATTENTION_WGMMA_SMEM_BYTES(d) of dynamic shared memory. See attention_wgmma.cuh.
//   tensorop  FlashAttention-2 forward on tensor cores (f16/bf16, head dim <= 128, NVIDIA
//          sm_80+): a block owns 64 query rows (4 warps x 16), K/V tiles of 64 keys in shared
//          memory, double-buffered: the cp.async loads of tile j + 1 run while tile j's math
//          does. S = Q K^T and O += P V with mma.sync m16n8k16, online softmax on the S
//          fragments in registers, P re-packed as the A operand without leaving registers.
//          Needs XINHE_ATTENTION_TENSOROP_SMEM_BYTES(d) of dynamic shared memory.
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
#define XINHE_ATTENTION_TENSOROP_KEYS 64 /* keys per K/V tile */
#define XINHE_ATTENTION_TENSOROP_STAGES 2
/* Dynamic shared memory of the tensorop kernel for head-dim bucket max_d (64 or 128): stages x
 * (K, V) x 64 keys x (max_d + 8 padding) x 2 bytes = 36864 (d64) or 69632 (d128). The d128
 * figure is above the 48 KiB default, so the host opts in (cuFuncSetAttribute); sm_80 allows
 * 163 KiB per block (sm_90: 227 KiB) and an A100 SM holds two such blocks, which is also
 * what the register budget allows (ptxas: ~220 per thread at d128, 128 threads). */
#define XINHE_ATTENTION_TENSOROP_SMEM_BYTES(max_d) \
  (XINHE_ATTENTION_TENSOROP_STAGES * 2 * XINHE_ATTENTION_TENSOROP_KEYS * ((max_d) + 8) * 2)
#define XINHE_ATTENTION_NAIVE_THREADS 128
#define XINHE_ATTENTION_WGMMA_ROWS_PER_BLOCK 128 /* 2 warpgroups x 64 rows */
#define XINHE_ATTENTION_WGMMA_THREADS 256
/* Keys per K/V tile: 128 at d64, 64 at d128, so S (64 x keys) and O (64 x d) of a warpgroup
 * take 96 f32 accumulators per thread either way. */
#define XINHE_ATTENTION_WGMMA_KEYS(max_d) ((max_d) <= 64 ? 128 : 64)
/* K/V stages: tile j + 1 loads while tile j's S and tile j - 1's P V read theirs. */
#define XINHE_ATTENTION_WGMMA_STAGES 3
/* 1024 bytes of alignment slack (swizzled tiles start on 1024-byte boundaries), the Q tile
 * (128 rows) and stages x (K, V) tiles, 2-byte elements: 115712 (d64) or 132096 (d128). */
#define XINHE_ATTENTION_WGMMA_SMEM_BYTES(max_d)                                              \
  (1024 + (XINHE_ATTENTION_WGMMA_ROWS_PER_BLOCK * (max_d) +                                  \
           XINHE_ATTENTION_WGMMA_STAGES * 2 * XINHE_ATTENTION_WGMMA_KEYS(max_d) * (max_d)) * \
              2)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_KERNELS_ATTENTION_CUDA_H_ */
