/* xinhe ops: GEMM and attention as first-class calls with one host shape, after CUTLASS's
 * device adapters and the two-phase NPU libraries (aclnn, CNNL):
 *
 *   describe  xinhe_<op>_create(device, &desc, &op)   validates the description
 *   check     xinhe_<op>_check(op)                    NULL, or UNIMPLEMENTED with the reason
 *   workspace xinhe_<op>_workspace_size(op, &bytes)   caller allocates; kernels never do
 *                                                     (0 for an op whose check fails)
 *   run       xinhe_<op>_run(op, stream, &args)       asynchronous on the stream
 *
 * A description that is malformed (negative sizes, leading dimensions too small, byte counts
 * that overflow) fails at create with INVALID_ARGUMENT. A well-formed description that the
 * device cannot run is created fine; check and run then return UNIMPLEMENTED with the same
 * reason. Op handles are immutable and may be run concurrently on different streams.
 *
 * Every backend keeps an ordered implementation list per op (fastest first, a reference-grade
 * fallback last) and selects at create time, falling through to the next entry when one cannot
 * be built. Implementations are named <backend>.<op>.<method>_<dtypes>[_<arch>]. Set
 * XINHE_VERBOSE=dispatch to print which implementation each op selected and why each earlier
 * one was skipped. XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL, when set and non-empty at create
 * time, restrict the choice to implementations whose name contains the value ("openblas",
 * "clblast", "cublas"); when none matches, check reports that, naming the filter.
 *
 * An op handle may be destroyed while runs of it are still queued: backends keep what queued
 * work needs.
 *
 * Operand byte offsets (a_offset, q_offset...) must be whole elements: multiples of the
 * operand's element size (2 for f16/bf16, 4 for f32 and for LSE, 8 for f64); anything else is
 * INVALID_ARGUMENT at run. The workspace offset may be any byte: workspace_size already
 * includes what the backend needs to align its data inside the range it is given.
 * Overlap is judged on byte ranges: each operand spans from its offset over every byte its
 * description can reach (padding and gaps included). An output (C, O, LSE, the workspace)
 * whose range meets any other operand's in the same buffer is INVALID_ARGUMENT at run; inputs
 * may share memory freely. An operand whose range is empty may be a NULL buffer.
 *
 * dtypes: every op takes f32, f16 and bf16 where the device claims them in dtype_caps. f64 is
 * valid in a description, but runs only on a device that claims XINHE_DTYPE_CAP(F64), and
 * then accumulates in f64; a device that does not claim it declines with UNIMPLEMENTED (none
 * of the in-tree backends claims it today). */
#ifndef XINHE_OPS_H_
#define XINHE_OPS_H_

#include "xinhe/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM ----------------------------------------------------------------------------------
 * C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],  b in [0, batch)
 * Row-major. op(A) is (M, K): A is (M, K) with lda >= K, or (K, M) with lda >= M when
 * trans_a. op(B) is (K, N): B is (K, N) with ldb >= N, or (N, K) with ldb >= K when trans_b.
 * C is (M, N) with ldc >= N. Batch strides are in elements; 0 broadcasts A or B; C's stride
 * must keep batches from overlapping ("Output layouts", below). A and B share one dtype (f32,
 * f16, bf16); C is that dtype or f32; accumulation is f32. Results are rounded to C's dtype to
 * nearest, ties to even.
 * Subnormals: f32 and f16 subnormal inputs and results are kept. With bf16 inputs a backend may
 * treat subnormal inputs and products as zero, as Intel's AVX512_BF16 and AMX units do by
 * definition (VDPBF16PS and TDPBF16PS ignore MXCSR); the conformance suite accepts either.
 * alpha and beta follow BLAS on every backend:
 *   beta == 0: C is not read (NaN or Inf in C is ignored).
 *   alpha == 0 or K == 0: C = beta * C, and A and B are not read (Inf or NaN in them cannot
 *     reach C). beta == 1 then leaves C as it is (-0.0 and Inf bit for bit, NaN stays NaN);
 *     beta == 0 writes +0.0; any other beta writes beta * C (so -0.0 * 0.5 stays -0.0). */
typedef struct xinhe_gemm_desc_t {
  size_t struct_size;     /* sizeof(xinhe_gemm_desc_t) */
  xinhe_dtype_t ab_dtype; /* A and B */
  xinhe_dtype_t c_dtype;  /* C: ab_dtype or XINHE_DTYPE_F32 */
  int32_t trans_a;        /* 0 or 1 */
  int32_t trans_b;
  int64_t m, n, k;        /* >= 0; zero sizes are valid no-ops (k == 0 gives C = beta*C) */
  int64_t batch;          /* >= 1 */
  int64_t lda, ldb, ldc;  /* elements */
  int64_t stride_a, stride_b, stride_c; /* elements between batches */
} xinhe_gemm_desc_t;

typedef struct xinhe_gemm_args_t {
  size_t struct_size;     /* sizeof(xinhe_gemm_args_t) */
  xinhe_buffer_t a;  uint64_t a_offset; /* bytes */
  xinhe_buffer_t b;  uint64_t b_offset;
  xinhe_buffer_t c;  uint64_t c_offset; /* must not overlap A or B */
  xinhe_buffer_t workspace; uint64_t workspace_offset; /* may be NULL when workspace_size is 0 */
  float alpha;
  float beta;
} xinhe_gemm_args_t;

typedef struct xinhe_gemm_s* xinhe_gemm_t;

XINHE_API xinhe_status_t xinhe_gemm_create(xinhe_device_t device, const xinhe_gemm_desc_t* desc,
                                           xinhe_gemm_t* out_gemm);
XINHE_API void xinhe_gemm_destroy(xinhe_gemm_t gemm);
XINHE_API xinhe_status_t xinhe_gemm_check(xinhe_gemm_t gemm);
XINHE_API xinhe_status_t xinhe_gemm_workspace_size(xinhe_gemm_t gemm, uint64_t* out_bytes);
/* Name of the selected implementation, <backend>.<op>.<method>_<dtypes>[_<arch>]
 * ("cpu.gemm.packed_f32_avx2", "cuda.gemm.tensorop_f16_f32_sm80"); the backend's name when
 * check fails. Owned by the op. */
XINHE_API const char* xinhe_gemm_impl_name(xinhe_gemm_t gemm);
XINHE_API xinhe_status_t xinhe_gemm_run(xinhe_gemm_t gemm, xinhe_stream_t stream,
                                        const xinhe_gemm_args_t* args);
/* The implementation a run with args uses: xinhe_gemm_impl_name's, unless the backend picks a
 * kernel per run. The GPU backends do for three cases only: A or B not starting on 16 bytes runs
 * the selected family's simt kernel, tensor maps the driver refuses to encode run the sm_80
 * kernel instead of the Hopper one, and alpha == 0 on the vendor BLAS runs the simt kernel (BLAS
 * semantics whatever the library does). The OpenCL backend's CLBlast entry hands runs with
 * alpha == 0 and ops with k == 0 to its reference kernel for the same reason.
 * XINHE_VERBOSE=dispatch logs the first such run of an op.
 * args is validated as xinhe_gemm_run validates it; nothing is enqueued. The check's status
 * when the op cannot run. *out_name is owned by the op. */
XINHE_API xinhe_status_t xinhe_gemm_run_impl_name(xinhe_gemm_t gemm, const xinhe_gemm_args_t* args,
                                                  const char** out_name);

/* ---- Attention (forward) -------------------------------------------------------------------
 * O = softmax(scale * Q K^T + mask) V per (batch, query head).
 * Q, O: [B, Hq, Sq, D]; K, V: [B, Hkv, Skv, D]; each tensor described by four element strides
 * in the order (b, h, s, d), so BSHD and BHSD layouts both work. Hq must be a multiple of Hkv
 * (query head h reads kv head h / (Hq / Hkv)): MHA, GQA and MQA. Q, K, V, O share one dtype
 * (f32, f16, bf16); softmax statistics are f32. Causal masking is aligned to the bottom-right:
 * query i sees keys j <= i + (Skv - Sq), so a decode step (Sq = 1) sees every key; a query row
 * that sees no key (possible when Sq > Skv) yields zeros and LSE = -inf, whatever K and V hold.
 * Inf or NaN in a K row a query does not see never reaches that query's row. A V row it does not
 * see may: tiled kernels weight it by 0, and 0 * Inf is NaN (as in PyTorch's SDPA kernels), so
 * V rows that some query of the call cannot see should be finite. NaN in a query's Q row, or
 * NaN or Inf in a K row it sees, makes that query's O row and LSE NaN (never the zeros and -inf
 * of a row that sees no key); other rows keep their values.
 * LSE (optional) is f32 [B, Hq, Sq] with its own strides:
 *   LSE[b, h, i] = ln( sum over the keys j that query i sees of exp(scale * q_i . k_j) ),
 * the natural log of the softmax denominator before any max is subtracted (so O_i =
 * sum_j exp(scale * q_i . k_j - LSE_i) v_j), and -inf for a row that sees no key. LSE is f32:
 * a row whose largest logit lies beyond the f32 range (|scale| near FLT_MAX) gets LSE = +inf,
 * while its O is still right.
 * Softmax is evaluated shift-invariantly: every backend subtracts the row maximum of
 * sign(scale) * q . k (f32) from each sign(scale) * q . k and scales only the difference by
 * |scale|, so the shift is the row's largest logit without forming logits that overflow, and
 * adding a constant to every logit of a row, however large, leaves O unchanged to the dtype's
 * accuracy (LSE moves by the constant).
 *
 * Output layouts (GEMM's C with batches, attention's O and LSE): create refuses strides it
 * cannot prove free of self-aliasing. The rule: sort the dimensions of size > 1 by stride; each
 * stride must be at least the span (1 + sum of (size - 1) * stride) of the dimensions before it.
 * Dense, padded, permuted (BHSD, BSHD) and evenly interleaved layouts pass (ldc = batch * N
 * with stride_c = N); strides that do not nest are refused with that reason even where no two
 * elements meet (C rows 4 apart with batches 6 apart: offsets 0, 4, 8 and 6, 10, 14). */
typedef enum xinhe_attention_mask_t {
  XINHE_ATTENTION_MASK_NONE = 0,
  XINHE_ATTENTION_MASK_CAUSAL = 1, /* bottom-right aligned */
} xinhe_attention_mask_t;

typedef struct xinhe_attention_desc_t {
  size_t struct_size;   /* sizeof(xinhe_attention_desc_t) */
  xinhe_dtype_t dtype;
  int64_t batch;        /* B  >= 0 */
  int64_t heads_q;      /* Hq >= 0 */
  int64_t heads_kv;     /* Hkv >= 1 when Hq > 0; Hq % Hkv == 0 */
  int64_t seq_q;        /* Sq >= 0 */
  int64_t seq_kv;       /* Skv >= 0 */
  int64_t head_dim;     /* D in [1, 256] */
  int64_t q_strides[4]; /* elements, (b, h, s, d); >= 0 */
  int64_t k_strides[4];
  int64_t v_strides[4];
  int64_t o_strides[4]; /* O's elements must not alias each other (output layouts, above) */
  float scale;          /* usually 1/sqrt(D); must be finite */
  xinhe_attention_mask_t mask;
  int32_t with_lse;     /* 1: write LSE */
  int64_t lse_strides[3]; /* elements, (b, h, s) */
} xinhe_attention_desc_t;

typedef struct xinhe_attention_args_t {
  size_t struct_size;   /* sizeof(xinhe_attention_args_t) */
  xinhe_buffer_t q;   uint64_t q_offset; /* bytes */
  xinhe_buffer_t k;   uint64_t k_offset;
  xinhe_buffer_t v;   uint64_t v_offset;
  xinhe_buffer_t o;   uint64_t o_offset;   /* must not overlap Q, K, V or LSE */
  xinhe_buffer_t lse; uint64_t lse_offset; /* NULL unless with_lse (else INVALID_ARGUMENT);
                                              must not overlap Q, K, V */
  xinhe_buffer_t workspace; uint64_t workspace_offset; /* may be NULL when workspace_size is 0 */
} xinhe_attention_args_t;

typedef struct xinhe_attention_s* xinhe_attention_t;

XINHE_API xinhe_status_t xinhe_attention_create(xinhe_device_t device,
                                                const xinhe_attention_desc_t* desc,
                                                xinhe_attention_t* out_attention);
XINHE_API void xinhe_attention_destroy(xinhe_attention_t attention);
XINHE_API xinhe_status_t xinhe_attention_check(xinhe_attention_t attention);
XINHE_API xinhe_status_t xinhe_attention_workspace_size(xinhe_attention_t attention,
                                                        uint64_t* out_bytes);
XINHE_API const char* xinhe_attention_impl_name(xinhe_attention_t attention);
XINHE_API xinhe_status_t xinhe_attention_run(xinhe_attention_t attention, xinhe_stream_t stream,
                                             const xinhe_attention_args_t* args);
/* As xinhe_gemm_run_impl_name, for attention (no in-tree backend swaps attention kernels per
 * run). */
XINHE_API xinhe_status_t xinhe_attention_run_impl_name(xinhe_attention_t attention,
                                                       const xinhe_attention_args_t* args,
                                                       const char** out_name);

/* Fills contiguous strides for a [B, H, S, D] (BHSD) or [B, S, H, D] (BSHD) tensor into
 * out_strides (b, h, s, d). Helpers for callers; no device involved. A NULL out_strides is
 * ignored; a stride that would overflow int64 is INT64_MAX (and a negative size gives negative
 * strides), which xinhe_attention_create rejects with INVALID_ARGUMENT. */
XINHE_API void xinhe_attention_strides_bhsd(int64_t heads, int64_t seq, int64_t head_dim,
                                            int64_t out_strides[4]);
XINHE_API void xinhe_attention_strides_bshd(int64_t heads, int64_t seq, int64_t head_dim,
                                            int64_t out_strides[4]);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_OPS_H_ */
