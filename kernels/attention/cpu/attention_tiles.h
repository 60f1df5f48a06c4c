// Internal: flash attention built on the GEMM micro-kernels (kernels/gemm/cpu/gemm_packed.h).
//
// Per task, S = Q K^T and O += P V are two small GEMMs on packed tiles, so each unit's kernel
// (AVX-512 f32 FMA, AVX512_BF16 vdpbf16ps, AMX-BF16/FP16 tiles) serves attention as it serves
// GEMM, with the same packing (Q and P as A operands, K^T and V as B operands). The orchestration
// (attention_tiles.cpp) is baseline code that calls the kernels and the online-softmax step
// through pointers; the softmax is compiled per instruction set (attention_softmax_*.cpp).
//
// Work: a task is (batch, kv head, up to 192 query rows): the query heads of one GQA group (all
// of them when the group has at most 192) times a block of query positions, so each K/V tile is
// packed once for the whole group. Tasks run heaviest first (last query blocks, which see the
// most keys under a causal mask). When there are too few tasks for the threads (decode: Sq
// small, Skv long), each task's keys are split into ranges whose partial (O, max, sum) are
// merged afterwards, so two threads share one head's keys. A task of few query rows (decode: at
// most 16 f32 rows, or 8 bf16/f16 rows) skips the packing: its scores and P V are vector loops
// over K's and V's rows where they lie, widening 16-bit elements as they are read
// (SoftmaxKernels::scores_rows / accumulate_rows).
//
// Numerics: scores are kept raw (unscaled); the running max is subtracted from them in f32
// before the scale (times log2 e) is applied and before anything is rounded, so adding a
// constant to every logit of a row changes nothing (softmax is shift-invariant); the scale is
// applied to a small difference. A negative scale negates Q exactly instead. Rows that see no
// key (bottom-right causal with Sq > Skv) give O = 0 and LSE = -inf. The kernels that multiply
// 16-bit operands round P to the input dtype for the P V product (as FlashAttention does); sums
// use P in f32, and so does the few-rows path's P V.
#pragma once

#include <cstdint>

#include "attention_cpu.h"
#include "gemm_packed.h"

namespace xinhe::kernels::cpu {

// One key block's online-softmax step for rows [0, rows): s (rows x ld, f32) holds raw scores,
// vis[r] of them visible (a prefix); columns [vis[r], cols_pad) become 0. c = scale * log2(e)
// (> 0). Updates m (running max of raw scores), l (running sum) and writes alpha (the factor
// O's row is rescaled by); p is written over s in f32 and, with p16, rounded to bf16
// (p16_dtype = XINHE_DTYPE_BF16) or f16 into p16 (same ld). Rows with vis 0 keep m and l and
// get alpha 1.
using SoftmaxBlockFn = void (*)(float* s, int64_t ld, int64_t rows, const int64_t* vis,
                                int64_t cols_pad, float c, float* m, float* l, float* alpha,
                                uint16_t* p16, int p16_dtype);
// o[r][0:dim] *= alpha[r] for r < rows (rows with alpha 1 untouched).
using RescaleRowsFn = void (*)(float* o, int64_t ld, int64_t rows, int64_t dim, const float* alpha);

// The few-rows path (decode), on K and V where they lie, unpacked; their elements are kv_dtype
// (XINHE_DTYPE_F32, BF16 or F16), widened to f32 as they are read. s[r][j] = q[r] . k[j] (q f32
// rows dim apart, k rows k_ld elements apart, s rows lds apart).
using ScoresRowsFn = void (*)(int64_t rows, int64_t dim, const float* q, const void* k,
                              int kv_dtype, int64_t k_ld, int64_t cols, float* s, int64_t lds);
// o[r][0:dim] += sum_{j < cols} p[r][j] v[j][0:dim] (p rows ldp apart, v rows v_ld elements
// apart).
using AccumulateRowsFn = void (*)(int64_t rows, int64_t cols, const float* p, int64_t ldp,
                                  const void* v, int kv_dtype, int64_t v_ld, int64_t dim,
                                  float* o, int64_t ldo);

// The vector steps of the tile attention, compiled per instruction set.
struct SoftmaxKernels {
  SoftmaxBlockFn block;
  RescaleRowsFn rescale;
  ScoresRowsFn scores_rows;
  AccumulateRowsFn accumulate_rows;
};

// attention_softmax_avx512.cpp (needs AVX-512F), attention_softmax_avx2.cpp (AVX2, FMA, F16C)
// and attention_softmax_portable.cpp (any CPU).
const SoftmaxKernels& softmax_kernels_avx512();
const SoftmaxKernels& softmax_kernels_avx2();
const SoftmaxKernels& softmax_kernels_portable();

struct TileAttentionKernels {
  const PackedKernels* gemm;  // micro-kernels and packing; its pack_a[dtype] decides dtypes
  const SoftmaxKernels* softmax;
};

// Bytes of workspace run_tile_attention needs for desc on `threads` threads.
uint64_t tile_attention_workspace_size(const TileAttentionKernels& kernels,
                                       const xinhe_attention_desc_t& desc, int threads);
// Runs the problem; kernels.gemm must take desc.dtype (pack_a[dtype] != nullptr) and the CPU
// must run its instructions. Tests pass emulated kernels.
void run_tile_attention(const TileAttentionKernels& kernels, const AttentionProblem& problem,
                        Parallel& parallel);

}  // namespace xinhe::kernels::cpu
