// The Cambricon plugin's ops on CNNL, mapped onto describe -> check -> workspace -> run:
//
//   GEMM       cambricon.gemm.cnnl_batch_matmul_<dtypes>: cnnlBatchMatMulBCast_v2 over strided
//              3-D descriptors ([batch, rows, cols] with the leading dimension as the row
//              stride; a batch stride of 0 becomes a batch of 1, which CNNL broadcasts). At
//              create: the descriptors, cnnlGetBatchMatMulAlgoHeuristic and the workspace it
//              asks for. BLAS's alpha == 0 / K == 0 rule (A and B not read) is kept by running
//              a K = 1 product of zeros instead, with alpha = -1 so that the product is -0.0 and
//              beta * C passes through exactly (-0.0 + x == x, also for x = -0.0); beta == 1
//              then skips the op. TF32 is switched off: f32 means f32. Stride mode
//              (CNNL_MATMUL_USE_STRIDE) is used with beta == 0 only, as torch_mlu does: no public
//              material says CNNL combines it with CNNL_MATMUL_USE_BETA, so a run with beta != 0
//              uses dense descriptors, and an operand that is not dense is copied (cnnlCopy) into
//              the workspace first (C also back afterwards).
//   attention  cambricon.attention.cnnl_flash_fwd_<dtype>: cnnlFlashAttentionForward in pack
//              mode. Q, K and V are packed from their four strides into [B*S, H, D] in the
//              workspace with cnnlCopy, O and LSE unpacked the same way. Query rows that see
//              no key (Skv = 0, or causal with Sq > Skv) are never given to CNNL, whose guide
//              leaves them undefined: the plugin writes 0 and -inf there itself. Causal masks
//              reach CNNL square only (Sq == Skv per sequence), where top-left and bottom-right
//              alignment agree, because which one CNNL_ATTN_MASK_CAUSAL means is unconfirmed:
//              Sq > Skv drops the hidden rows, Sq == 1 needs no mask (the row sees every key),
//              and 1 < Sq < Skv pads each sequence's query block at the front with Skv - Sq
//              zero rows whose results are dropped (declined when that is over kMaxCausalPad
//              times the work).
//
// Declined at create, with the reason (op_check reports it): f64 (the device has none);
// attention in f32 (CNNL's flash attention takes f16 and bf16 only); any dimension, stride or
// packed extent above INT32_MAX (CNNL's dimensions are int32); anything the vendor's own
// queries reject (their status is the reason).
//
// The implementation lists below are walked by the dispatch service (xinhe/backend.hpp).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "cambricon_internal.h"

namespace xinhe::cambricon {
namespace {

namespace be = xinhe::backend;

constexpr uint64_t kAlign = 64;  // of every region placed in a workspace
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
// Causal attention with 1 < Sq < Skv runs Skv query rows per sequence instead of Sq (see the
// top): taken up to this factor, declined beyond it rather than silently running slow.
constexpr int64_t kMaxCausalPad = 4;

uint64_t round_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

uint64_t elem_size(xinhe_dtype_t t) {
  return t == XINHE_DTYPE_F32 ? 4 : t == XINHE_DTYPE_F64 ? 8 : 2;
}

cnnlDataType_t cnnl_type(xinhe_dtype_t t) {
  switch (t) {
    case XINHE_DTYPE_F32:
      return CNNL_DTYPE_FLOAT;
    case XINHE_DTYPE_F16:
      return CNNL_DTYPE_HALF;
    case XINHE_DTYPE_BF16:
      return CNNL_DTYPE_BFLOAT16;
    default:
      return CNNL_DTYPE_DOUBLE;
  }
}

// "" when every value fits CNNL's int32 dimensions, else which does not.
std::string int32_reason(std::initializer_list<std::pair<const char*, int64_t>> values) {
  for (const auto& [name, value] : values)
    if (value > kInt32Max)
      return std::string("CNNL dimensions and strides are int32; ") + name + "=" +
             std::to_string(value) + " does not fit";
  return "";
}

// A CNNL tensor descriptor owned by an op.
struct Tensor {
  const Vendor* api = nullptr;
  cnnlTensorDescriptor_t desc = nullptr;
  ~Tensor() {
    if (desc != nullptr) api->cnnlDestroyTensorDescriptor(desc);
  }
};

// A vendor query at create: NOT_SUPPORTED declines the op (the build returns with op->decline
// set, and the walk falls through); any other failure is returned.
#define XINHE_CNNL_QUERY(op, call, ...)                                            \
  do {                                                                             \
    const cnnlStatus_t xinhe_query_s_ = (op)->api().call(__VA_ARGS__);             \
    if (xinhe_query_s_ == CNNL_STATUS_NOT_SUPPORTED) {                             \
      (op)->decline = #call " says CNNL_STATUS_NOT_SUPPORTED";                     \
      return nullptr;                                                              \
    }                                                                              \
    if (xinhe_query_s_ != CNNL_STATUS_SUCCESS)                                     \
      return cnnl_status((op)->device, xinhe_query_s_, #call, __FILE__, __LINE__); \
  } while (0)

// ---- The op object ----

struct MatmulPlan {
  cnnlMatMulDescriptor_t desc = nullptr;
  cnnlMatMulAlgo_t algo = nullptr;
  cnnlMatMulHeuristicResult_t heuristic = nullptr;
  size_t workspace = 0;
};

struct Op {
  Device* device = nullptr;
  xinhe_op_kind_t kind = XINHE_OP_GEMM;
  std::string name;         // selected implementation ("" when none)
  std::string unsupported;  // check's reason when none
  std::string decline;      // a vendor query said CNNL_STATUS_NOT_SUPPORTED: why
  uint64_t workspace = 0;
  std::vector<std::unique_ptr<Tensor>> tensors;  // every descriptor, freed with the op

  // GEMM
  xinhe_gemm_desc_t gemm{};
  cnnlTensorDescriptor_t a = nullptr, b = nullptr, c = nullptr;  // the product
  cnnlTensorDescriptor_t a_zero = nullptr, b_zero = nullptr;     // the K = 1 product of zeros
  MatmulPlan product[2], scale[2];                               // [use_beta]
  uint64_t zero_bytes = 0;  // of the K = 1 operands, at the start of the workspace
  // beta != 0 runs without stride mode, on dense descriptors of A, B and C; an operand whose
  // own layout is not dense is packed at at_pack_* (beyond everything else in the workspace).
  cnnlTensorDescriptor_t a_dense = nullptr, b_dense = nullptr, c_dense = nullptr;
  bool pack_a = false, pack_b = false, pack_c = false;
  uint64_t at_pack_a = 0, at_pack_b = 0, at_pack_c = 0;

  // Attention
  xinhe_attention_desc_t attention{};
  int64_t hidden_rows = 0;  // leading query rows that see no key
  int64_t pad_rows = 0;     // zero query rows put before each sequence's block (causal, Sq < Skv)
  cnnlFlashAttentionDescriptor_t flash = nullptr;
  size_t flash_workspace = 0;
  std::shared_ptr<std::vector<int32_t>> offsets;  // cumulative lengths: q [B + 1], kv [B + 1]
  cnnlTensorDescriptor_t q_view = nullptr, k_view = nullptr, v_view = nullptr, o_view = nullptr,
                         q_pack4 = nullptr, k_pack4 = nullptr, o_pack4 = nullptr, q3 = nullptr,
                         k3 = nullptr, o3 = nullptr, lse2 = nullptr, lse_pack_view = nullptr,
                         lse_view = nullptr, offsets_desc = nullptr, o_hidden = nullptr,
                         o_hidden_src = nullptr, lse_hidden = nullptr, lse_hidden_src = nullptr;
  uint64_t at_q = 0, at_k = 0, at_v = 0, at_o = 0, at_lse = 0, at_offsets = 0, at_zero = 0,
           at_ninf = 0, at_flash = 0;  // workspace regions
  uint64_t zero_region = 0, ninf_region = 0;

  const Vendor& api() const { return device->api(); }

  ~Op() {
    const Vendor& v = api();
    for (MatmulPlan* plan : {&product[0], &product[1], &scale[0], &scale[1]}) {
      if (plan->heuristic != nullptr) v.cnnlDestroyMatMulHeuristicResult(plan->heuristic);
      if (plan->algo != nullptr) v.cnnlMatMulAlgoDestroy(plan->algo);
      if (plan->desc != nullptr) v.cnnlMatMulDescDestroy(plan->desc);
    }
    if (flash != nullptr) v.cnnlDestroyFlashAttentionDescriptor(flash);
  }

  // A new descriptor of dims/strides (outermost first), owned by the op.
  xinhe_status_t tensor(cnnlDataType_t dtype, std::initializer_list<int64_t> dims,
                        std::initializer_list<int64_t> strides, cnnlTensorDescriptor_t* out) {
    auto t = std::make_unique<Tensor>();
    t->api = &api();
    XINHE_CNNL(device, cnnlCreateTensorDescriptor, &t->desc);
    std::vector<int> d(dims.begin(), dims.end()), s(strides.begin(), strides.end());
    XINHE_CNNL(device, cnnlSetTensorDescriptorEx, t->desc, CNNL_LAYOUT_ARRAY, dtype,
               static_cast<int>(d.size()), d.data(), s.data());
    *out = t->desc;
    tensors.push_back(std::move(t));
    return nullptr;
  }
};

Op* to_op(xinhe_be_op_t op) { return reinterpret_cast<Op*>(op); }

struct Impl {
  const char* method;
  const char* arch;
};

// ---- GEMM ----

const Impl kGemmImpls[] = {{"cnnl_batch_matmul", nullptr}};

std::string gemm_unsupported(const xinhe_gemm_desc_t& d) {
  if (d.ab_dtype == XINHE_DTYPE_F64 || d.c_dtype == XINHE_DTYPE_F64)
    return "CNNL has no fp64 matmul and the device claims no F64";
  return int32_reason({{"m", d.m},
                       {"m*n (C's dense batch stride, for beta != 0)", d.m * d.n},
                       {"m*k (A's dense batch stride, for beta != 0)", d.m * d.k},
                       {"k*n (B's dense batch stride, for beta != 0)", d.k * d.n},
                       {"n", d.n},
                       {"k", d.k},
                       {"batch", d.batch},
                       {"lda", d.lda},
                       {"ldb", d.ldb},
                       {"ldc", d.ldc},
                       {"stride_a", d.stride_a},
                       {"stride_b", d.stride_b},
                       {"stride_c", d.stride_c}});
}

// True when a [batch, rows, cols] operand with these strides is packed densely (what a
// descriptor without CNNL_MATMUL_USE_STRIDE describes).
bool dense(int64_t batch, int64_t rows, int64_t cols, int64_t batch_stride, int64_t ld) {
  return (rows <= 1 || ld == cols) && (batch <= 1 || batch_stride == rows * cols);
}

// One matmul descriptor with its heuristic algorithm and workspace. Stride mode goes with
// beta == 0 only (torch_mlu's rule, use_stride = beta == 0): the beta plans get dense operands.
xinhe_status_t make_plan(Op* op, bool trans_a, bool trans_b, bool use_beta,
                         cnnlTensorDescriptor_t a, cnnlTensorDescriptor_t b,
                         cnnlTensorDescriptor_t c, MatmulPlan* plan) {
  Device* device = op->device;
  XINHE_CNNL(device, cnnlMatMulDescCreate, &plan->desc);
  const int32_t use_stride = use_beta ? 0 : 1;
  const int32_t values[] = {CNNL_DTYPE_FLOAT, trans_a, trans_b, 0, use_beta, use_stride};
  const cnnlMatMulDescAttribute_t attrs[] = {CNNL_MATMUL_DESC_COMPUTE_TYPE, CNNL_MATMUL_DESC_TRANSA,
                                             CNNL_MATMUL_DESC_TRANSB,       CNNL_MATMUL_ALLOW_TF32,
                                             CNNL_MATMUL_USE_BETA,          CNNL_MATMUL_USE_STRIDE};
  for (int i = 0; i < 6; ++i)
    XINHE_CNNL(device, cnnlSetMatMulDescAttr, plan->desc, attrs[i], &values[i], sizeof(int32_t));
  XINHE_CNNL(device, cnnlMatMulAlgoCreate, &plan->algo);
  XINHE_CNNL(device, cnnlCreateMatMulHeuristicResult, &plan->heuristic);
  int returned = 0;
  std::lock_guard<std::mutex> lock(device->query_mu);
  XINHE_CNNL_QUERY(op, cnnlGetBatchMatMulAlgoHeuristic, device->query_handle, plan->desc, a, b, c,
                   /*preference=*/nullptr, 1, &plan->heuristic, &returned);
  if (returned < 1) {
    op->decline = "cnnlGetBatchMatMulAlgoHeuristic returned no algorithm";
    return nullptr;
  }
  XINHE_CNNL(device, cnnlGetBatchMatMulHeuristicResult, plan->heuristic, plan->algo,
             &plan->workspace);
  return nullptr;
}

xinhe_status_t build_gemm(Op* op) {
  const xinhe_gemm_desc_t& d = op->gemm;
  if (d.m == 0 || d.n == 0) return nullptr;  // nothing to compute, nothing to describe
  const cnnlDataType_t ab = cnnl_type(d.ab_dtype), ct = cnnl_type(d.c_dtype);
  const int64_t a_rows = d.trans_a ? d.k : d.m, a_cols = d.trans_a ? d.m : d.k;
  const int64_t b_rows = d.trans_b ? d.n : d.k, b_cols = d.trans_b ? d.k : d.n;
  auto batch_of = [&](int64_t stride) { return stride == 0 ? int64_t{1} : d.batch; };
  const int64_t batch_a = batch_of(d.stride_a), batch_b = batch_of(d.stride_b);
  XINHE_BE_RETURN_IF_ERROR(op->tensor(ct, {d.batch, d.m, d.n}, {d.stride_c, d.ldc, 1}, &op->c));
  XINHE_BE_RETURN_IF_ERROR(op->tensor(ct, {d.batch, d.m, d.n}, {d.m * d.n, d.n, 1}, &op->c_dense));
  op->pack_c = !dense(d.batch, d.m, d.n, d.stride_c, d.ldc);
  uint64_t needed = 0;
  if (d.k > 0) {
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(ab, {batch_a, a_rows, a_cols}, {d.stride_a, d.lda, 1}, &op->a));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(ab, {batch_b, b_rows, b_cols}, {d.stride_b, d.ldb, 1}, &op->b));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(ab, {batch_a, a_rows, a_cols}, {a_rows * a_cols, a_cols, 1}, &op->a_dense));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(ab, {batch_b, b_rows, b_cols}, {b_rows * b_cols, b_cols, 1}, &op->b_dense));
    op->pack_a = !dense(batch_a, a_rows, a_cols, d.stride_a, d.lda);
    op->pack_b = !dense(batch_b, b_rows, b_cols, d.stride_b, d.ldb);
    XINHE_BE_RETURN_IF_ERROR(
        make_plan(op, d.trans_a, d.trans_b, false, op->a, op->b, op->c, &op->product[0]));
    if (!op->decline.empty()) return nullptr;
    XINHE_BE_RETURN_IF_ERROR(make_plan(op, d.trans_a, d.trans_b, true, op->a_dense, op->b_dense,
                                       op->c_dense, &op->product[1]));
    if (!op->decline.empty()) return nullptr;
    needed = std::max(op->product[0].workspace, op->product[1].workspace);
  }
  // The K = 1 product of zeros for alpha == 0 and K == 0: A' [1, M, 1], B' [1, 1, N].
  XINHE_BE_RETURN_IF_ERROR(op->tensor(ab, {1, d.m, 1}, {d.m, 1, 1}, &op->a_zero));
  XINHE_BE_RETURN_IF_ERROR(op->tensor(ab, {1, 1, d.n}, {d.n, d.n, 1}, &op->b_zero));
  op->zero_bytes = round_up(static_cast<uint64_t>(d.m + d.n) * elem_size(d.ab_dtype));
  for (int beta = 0; beta < 2; ++beta) {
    XINHE_BE_RETURN_IF_ERROR(make_plan(op, false, false, beta, op->a_zero, op->b_zero,
                                       beta ? op->c_dense : op->c, &op->scale[beta]));
    if (!op->decline.empty()) return nullptr;
    needed = std::max<uint64_t>(needed, op->zero_bytes + op->scale[beta].workspace);
  }
  uint64_t at = round_up(needed);
  auto region = [&](bool used, int64_t elements, xinhe_dtype_t t) {
    const uint64_t start = at;
    if (used) at += round_up(static_cast<uint64_t>(elements) * elem_size(t));
    return start;
  };
  op->at_pack_a = region(op->pack_a, batch_a * a_rows * a_cols, d.ab_dtype);
  op->at_pack_b = region(op->pack_b, batch_b * b_rows * b_cols, d.ab_dtype);
  op->at_pack_c = region(op->pack_c, d.batch * d.m * d.n, d.c_dtype);
  op->workspace = kAlign + at;  // slack: the workspace offset may be any byte
  return nullptr;
}

xinhe_status_t run_gemm(Op* op, Stream* stream, const xinhe_be_op_args_t* args) {
  const xinhe_gemm_desc_t& d = op->gemm;
  if (d.m == 0 || d.n == 0) return nullptr;  // operands may be NULL here
  const bool scale_only = d.k == 0 || args->alpha == 0.0f;
  if (scale_only && args->beta == 1.0f) return nullptr;  // C stays as it is, bit for bit
  Device* device = op->device;
  const int use_beta = args->beta != 0.0f;
  auto* ws = reinterpret_cast<uint8_t*>(
      round_up(reinterpret_cast<uintptr_t>(address(args->mem[XINHE_GEMM_ARG_WORKSPACE]))));
  uint8_t* c = address(args->mem[XINHE_GEMM_ARG_C]);
  uint8_t* a = address(args->mem[XINHE_GEMM_ARG_A]);
  uint8_t* b = address(args->mem[XINHE_GEMM_ARG_B]);
  cnnlHandle_t h = stream->handle;
  std::lock_guard<std::mutex> lock(stream->mu);
  // beta != 0: dense operands (no stride mode), packed into the workspace where they are not.
  cnnlTensorDescriptor_t a_desc = op->a, b_desc = op->b, c_desc = op->c;
  uint8_t* c_run = c;
  if (use_beta) {
    a_desc = op->a_dense;
    b_desc = op->b_dense;
    c_desc = op->c_dense;
    if (op->pack_c) {
      c_run = ws + op->at_pack_c;
      XINHE_CNNL(device, cnnlCopy, h, op->c, c, op->c_dense, c_run);
    }
    if (!scale_only && op->pack_a) {
      XINHE_CNNL(device, cnnlCopy, h, op->a, a, op->a_dense, ws + op->at_pack_a);
      a = ws + op->at_pack_a;
    }
    if (!scale_only && op->pack_b) {
      XINHE_CNNL(device, cnnlCopy, h, op->b, b, op->b_dense, ws + op->at_pack_b);
      b = ws + op->at_pack_b;
    }
  }
  if (!scale_only) {
    const MatmulPlan& plan = op->product[use_beta];
    XINHE_CNNL(device, cnnlBatchMatMulBCast_v2, h, plan.desc, plan.algo, &args->alpha, a_desc, a,
               b_desc, b, &args->beta, c_desc, c_run, ws, plan.workspace);
  } else {
    // C = beta * C without reading A or B: (-1) * (0 * 0) is -0.0, the identity of addition.
    const MatmulPlan& plan = op->scale[use_beta];
    const float alpha = use_beta ? -1.0f : 1.0f;  // beta == 0 writes +0.0
    XINHE_CNRT(device, cnrtMemsetAsync, ws, 0, static_cast<size_t>(op->zero_bytes), stream->queue);
    const uint8_t* b_zero = ws + static_cast<uint64_t>(d.m) * elem_size(d.ab_dtype);
    XINHE_CNNL(device, cnnlBatchMatMulBCast_v2, h, plan.desc, plan.algo, &alpha, op->a_zero, ws,
               op->b_zero, b_zero, &args->beta, c_desc, c_run, ws + op->zero_bytes, plan.workspace);
  }
  if (c_run != c) XINHE_CNNL(device, cnnlCopy, h, op->c_dense, c_run, op->c, c);
  return nullptr;
}

// ---- Attention ----

const Impl kAttentionImpls[] = {{"cnnl_flash_fwd", nullptr}};

// Leading query rows of each sequence that see no key (O = 0, LSE = -inf, written by the plugin).
int64_t hidden_rows(const xinhe_attention_desc_t& d) {
  if (d.seq_kv == 0) return d.seq_q;
  return d.mask == XINHE_ATTENTION_MASK_CAUSAL && d.seq_q > d.seq_kv ? d.seq_q - d.seq_kv : 0;
}

// Zero query rows put before each sequence's visible rows so that a causal mask reaches CNNL
// square: with Sq == Skv, top-left and bottom-right alignment are the same mask, and which one
// CNNL_ATTN_MASK_CAUSAL means for Sq != Skv is not confirmed by public material.
int64_t pad_rows(const xinhe_attention_desc_t& d) {
  const int64_t sq = d.seq_q - hidden_rows(d);
  if (d.mask != XINHE_ATTENTION_MASK_CAUSAL || sq <= 1 || sq >= d.seq_kv) return 0;
  return d.seq_kv - sq;
}

std::string attention_unsupported(const xinhe_attention_desc_t& d) {
  if (d.dtype == XINHE_DTYPE_F64) return "CNNL has no fp64 attention and the device claims no F64";
  if (d.dtype == XINHE_DTYPE_F32)
    return "cnnlFlashAttentionForward takes f16 and bf16 only (no f32 path in this plugin)";
  const int64_t sq_visible = d.seq_q - hidden_rows(d);
  if (pad_rows(d) > 0 && d.seq_kv > kMaxCausalPad * sq_visible)
    return "causal attention with 1 < seq_q < seq_kv: whether CNNL_ATTN_MASK_CAUSAL is aligned "
           "bottom-right (xinhe's mask) is unconfirmed, and padding the queries to seq_kv = " +
           std::to_string(d.seq_kv) + " rows would cost more than " +
           std::to_string(kMaxCausalPad) + "x the work (docs/cambricon.md)";
  const int64_t tq = d.batch * (sq_visible + pad_rows(d)), tkv = d.batch * d.seq_kv;
  std::string why =
      int32_reason({{"batch", d.batch},
                    {"heads_q", d.heads_q},
                    {"seq_q", d.seq_q},
                    {"seq_kv", d.seq_kv},
                    {"batch*seq_q*heads_q*head_dim", tq * d.heads_q * d.head_dim},
                    {"batch*seq_kv*heads_kv*head_dim", tkv * d.heads_kv * d.head_dim}});
  for (const int64_t* strides : {d.q_strides, d.k_strides, d.v_strides, d.o_strides})
    for (int i = 0; i < 4 && why.empty(); ++i) why = int32_reason({{"a stride", strides[i]}});
  for (int i = 0; i < 3 && why.empty() && d.with_lse; ++i)
    why = int32_reason({{"an LSE stride", d.lse_strides[i]}});
  return why;
}

xinhe_status_t build_attention(Op* op) {
  const xinhe_attention_desc_t& d = op->attention;
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return nullptr;  // nothing to compute
  Device* device = op->device;
  const cnnlDataType_t t = cnnl_type(d.dtype);
  const int64_t B = d.batch, Hq = d.heads_q, Hkv = d.heads_kv, D = d.head_dim;
  op->hidden_rows = hidden_rows(d);
  op->pad_rows = pad_rows(d);
  // Sq: the rows CNNL computes per sequence (the visible ones after P zero rows).
  const int64_t R = op->hidden_rows, P = op->pad_rows, Sv = d.seq_q - R, Sq = Sv + P,
                Skv = d.seq_kv;
  const uint64_t es = elem_size(d.dtype);
  uint64_t at = 0;
  auto region = [&](uint64_t bytes) {
    const uint64_t start = at;
    at += round_up(bytes);
    return start;
  };
  const int64_t* q = d.q_strides;
  const int64_t* o = d.o_strides;
  const int64_t* l = d.lse_strides;
  if (Sv > 0) {
    const int64_t Tq = B * Sq, Tkv = B * Skv;
    // Views over the caller's tensors in (b, s, h, d) order, and their packed copies.
    XINHE_BE_RETURN_IF_ERROR(op->tensor(t, {B, Sv, Hq, D}, {q[0], q[2], q[1], q[3]}, &op->q_view));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(t, {B, Skv, Hkv, D},
                   {d.k_strides[0], d.k_strides[2], d.k_strides[1], d.k_strides[3]}, &op->k_view));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(t, {B, Skv, Hkv, D},
                   {d.v_strides[0], d.v_strides[2], d.v_strides[1], d.v_strides[3]}, &op->v_view));
    XINHE_BE_RETURN_IF_ERROR(op->tensor(t, {B, Sv, Hq, D}, {o[0], o[2], o[1], o[3]}, &op->o_view));
    // The visible rows' place in the packed Q and O (after P pad rows in each sequence).
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(t, {B, Sv, Hq, D}, {Sq * Hq * D, Hq * D, D, 1}, &op->q_pack4));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(t, {B, Skv, Hkv, D}, {Skv * Hkv * D, Hkv * D, D, 1}, &op->k_pack4));
    op->o_pack4 = op->q_pack4;
    XINHE_BE_RETURN_IF_ERROR(op->tensor(t, {Tq, Hq, D}, {Hq * D, D, 1}, &op->q3));
    XINHE_BE_RETURN_IF_ERROR(op->tensor(t, {Tkv, Hkv, D}, {Hkv * D, D, 1}, &op->k3));
    op->o3 = op->q3;
    XINHE_BE_RETURN_IF_ERROR(op->tensor(CNNL_DTYPE_FLOAT, {Hq, Tq}, {Tq, 1}, &op->lse2));
    XINHE_BE_RETURN_IF_ERROR(op->tensor(CNNL_DTYPE_INT32, {B + 1}, {1}, &op->offsets_desc));
    if (d.with_lse) {
      XINHE_BE_RETURN_IF_ERROR(
          op->tensor(CNNL_DTYPE_FLOAT, {B, Hq, Sv}, {Sq, Tq, 1}, &op->lse_pack_view));
      XINHE_BE_RETURN_IF_ERROR(
          op->tensor(CNNL_DTYPE_FLOAT, {B, Hq, Sv}, {l[0], l[1], l[2]}, &op->lse_view));
    }
    // Causal reaches CNNL square only (pad_rows): Sq == Skv, or one visible row (Sq == 1 <=
    // Skv), which sees every key under xinhe's bottom-right mask and so needs none.
    const bool causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL && Sq == Skv;
    XINHE_CNNL(device, cnnlCreateFlashAttentionDescriptor, &op->flash);
    XINHE_CNNL(device, cnnlSetFlashAttentionDescriptor, op->flash, CNNL_DTYPE_FLOAT,
               CNNL_ACTIVATION_HIGH_PRECISION, causal ? CNNL_ATTN_MASK_CAUSAL : CNNL_ATTN_MASK_NONE,
               /*is_pack_mode=*/true, /*is_out_zero=*/false, /*return_softmax=*/false,
               static_cast<int>(Sq), static_cast<int>(Skv), 0.0f, d.scale);
    // No window (-1, -1, dilation 1), as Cambricon's callers set it; an older CNNL without the
    // setter has no windows, so its default is that already.
    if (op->api().cnnlSetFlashAttentionSlidingWindowSize != nullptr)
      XINHE_CNNL(device, cnnlSetFlashAttentionSlidingWindowSize, op->flash, -1, -1, 1);
    {
      std::lock_guard<std::mutex> lock(device->query_mu);
      XINHE_CNNL_QUERY(op, cnnlGetFlashAttentionForwardWorkspaceSize, device->query_handle,
                       op->flash, op->q3, op->k3, op->k3, &op->flash_workspace);
    }
    auto offsets = std::make_shared<std::vector<int32_t>>(2 * (B + 1));
    for (int64_t b = 0; b <= B; ++b) {
      (*offsets)[b] = static_cast<int32_t>(b * Sq);
      (*offsets)[B + 1 + b] = static_cast<int32_t>(b * Skv);
    }
    op->offsets = offsets;
    op->at_q = region(Tq * Hq * D * es);
    op->at_k = region(Tkv * Hkv * D * es);
    op->at_v = region(Tkv * Hkv * D * es);
    op->at_o = region(Tq * Hq * D * es);
    op->at_lse = region(Tq * Hq * 4);
    op->at_offsets = region(offsets->size() * 4);
    op->at_flash = region(op->flash_workspace);
  }
  if (R > 0) {  // rows that see no key: 0 in O, -inf in LSE, from zeroed and filled regions
    XINHE_BE_RETURN_IF_ERROR(op->tensor(t, {B, R, Hq, D}, {o[0], o[2], o[1], o[3]}, &op->o_hidden));
    XINHE_BE_RETURN_IF_ERROR(
        op->tensor(t, {B, R, Hq, D}, {R * Hq * D, Hq * D, D, 1}, &op->o_hidden_src));
    op->zero_region = static_cast<uint64_t>(B * R * Hq * D) * es;
    op->at_zero = region(op->zero_region);
    if (d.with_lse) {
      XINHE_BE_RETURN_IF_ERROR(
          op->tensor(CNNL_DTYPE_FLOAT, {B, Hq, R}, {l[0], l[1], l[2]}, &op->lse_hidden));
      XINHE_BE_RETURN_IF_ERROR(
          op->tensor(CNNL_DTYPE_FLOAT, {B, Hq, R}, {Hq * R, R, 1}, &op->lse_hidden_src));
      op->ninf_region = static_cast<uint64_t>(B * Hq * R) * 4;
      op->at_ninf = region(op->ninf_region);
    }
  }
  op->workspace = kAlign + at;
  return nullptr;
}

xinhe_status_t run_attention(Op* op, Stream* stream, const xinhe_be_op_args_t* args) {
  const xinhe_attention_desc_t& d = op->attention;
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return nullptr;
  Device* device = op->device;
  const uint64_t es = elem_size(d.dtype);
  auto* ws = reinterpret_cast<uint8_t*>(
      round_up(reinterpret_cast<uintptr_t>(address(args->mem[XINHE_ATTENTION_ARG_WORKSPACE]))));
  const int64_t R = op->hidden_rows;
  // The first visible query row of each tensor (element offsets along s).
  uint8_t* q = address(args->mem[XINHE_ATTENTION_ARG_Q]) + R * d.q_strides[2] * es;
  // Where the visible rows start in the packed Q, O and LSE (after the pad rows).
  const uint64_t pad_qo = static_cast<uint64_t>(op->pad_rows * d.heads_q * d.head_dim) * es;
  const uint64_t pad_lse = static_cast<uint64_t>(op->pad_rows) * 4;
  uint8_t* o = address(args->mem[XINHE_ATTENTION_ARG_O]);
  uint8_t* lse = address(args->mem[XINHE_ATTENTION_ARG_LSE]);
  std::lock_guard<std::mutex> lock(stream->mu);
  if (op->flash != nullptr) {
    XINHE_CNRT(device, cnrtMemcpyAsync, ws + op->at_offsets, op->offsets->data(),
               op->offsets->size() * 4, stream->queue, cnrtMemcpyHostToDev);
    stream->keep_alive.push_back(op->offsets);  // read when the queue reaches the copy
    cnnlHandle_t h = stream->handle;
    if (op->pad_rows > 0)  // the pad rows' scores must be finite: zero queries
      XINHE_CNRT(device, cnrtMemsetAsync, ws + op->at_q, 0,
                 static_cast<size_t>(op->at_k - op->at_q), stream->queue);
    XINHE_CNNL(device, cnnlCopy, h, op->q_view, q, op->q_pack4, ws + op->at_q + pad_qo);
    XINHE_CNNL(device, cnnlCopy, h, op->k_view, address(args->mem[XINHE_ATTENTION_ARG_K]),
               op->k_pack4, ws + op->at_k);
    XINHE_CNNL(device, cnnlCopy, h, op->v_view, address(args->mem[XINHE_ATTENTION_ARG_V]),
               op->k_pack4, ws + op->at_v);
    const uint8_t* offsets = ws + op->at_offsets;
    // Philox seed and offset, read on the host during the call: zero, as there is no dropout.
    // Every public caller passes this array (torch_mlu, DIOPI's camb implementation).
    const size_t rng_state[2] = {0, 0};
    XINHE_CNNL(device, cnnlFlashAttentionForward, h, op->flash, op->q3, ws + op->at_q, op->k3,
               ws + op->at_k, op->k3, ws + op->at_v, op->offsets_desc, offsets, op->offsets_desc,
               offsets + (d.batch + 1) * 4, rng_state, ws + op->at_flash, op->flash_workspace,
               nullptr, nullptr, op->lse2, ws + op->at_lse, op->o3, ws + op->at_o);
    XINHE_CNNL(device, cnnlCopy, h, op->o_pack4, ws + op->at_o + pad_qo, op->o_view,
               o + R * d.o_strides[2] * es);
    if (d.with_lse)
      XINHE_CNNL(device, cnnlCopy, h, op->lse_pack_view, ws + op->at_lse + pad_lse, op->lse_view,
                 lse + R * d.lse_strides[2] * 4);
  }
  if (R > 0) {
    XINHE_CNRT(device, cnrtMemsetAsync, ws + op->at_zero, 0, static_cast<size_t>(op->zero_region),
               stream->queue);
    XINHE_CNNL(device, cnnlCopy, stream->handle, op->o_hidden_src, ws + op->at_zero, op->o_hidden,
               o);
    if (d.with_lse) {
      const float ninf = -std::numeric_limits<float>::infinity();
      XINHE_BE_RETURN_IF_ERROR(fill_locked(stream, ws + op->at_ninf, op->ninf_region, &ninf, 4));
      XINHE_CNNL(device, cnnlCopy, stream->handle, op->lse_hidden_src, ws + op->at_ninf,
                 op->lse_hidden, lse);
    }
  }
  return nullptr;
}

}  // namespace

// ---- The ABI entries ----

xinhe_status_t op_create(xinhe_be_device_t d, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out) {
  auto op = std::make_unique<Op>();
  op->device = reinterpret_cast<Device*>(d);
  op->kind = desc->kind;
  XINHE_BE_RETURN_IF_ERROR(bind(op->device));
  // A failing vendor query ends the walk; one that declined the entry falls through.
  const auto built = [&](xinhe_status_t s) {
    if (s != nullptr) return be::Built::fatal(s);
    return op->decline.empty() ? be::Built::ok() : be::Built::skip(op->decline);
  };
  be::Selection chosen;
  if (desc->kind == XINHE_OP_GEMM) {
    op->gemm = *desc->gemm;
    be::DispatchRequest request(op->device->host(), kBackendName, op->gemm);
    request.device = op->device->description;
    chosen = be::select_impl(
        request, kGemmImpls, [&](const Impl&) { return gemm_unsupported(op->gemm); },
        [&](const Impl&) { return built(build_gemm(op.get())); });
  } else if (desc->kind == XINHE_OP_ATTENTION) {
    op->attention = *desc->attention;
    be::DispatchRequest request(op->device->host(), kBackendName, op->attention);
    request.device = op->device->description;
    chosen = be::select_impl(
        request, kAttentionImpls, [&](const Impl&) { return attention_unsupported(op->attention); },
        [&](const Impl&) { return built(build_attention(op.get())); });
  } else {
    chosen.unsupported = "op kind " + std::to_string(desc->kind) + " is unknown to this plugin";
  }
  if (chosen.fatal != nullptr) return chosen.fatal;
  op->name = chosen.name;
  op->unsupported = chosen.unsupported;
  *out = reinterpret_cast<xinhe_be_op_t>(op.release());
  return nullptr;
}

void op_destroy(xinhe_be_op_t op) {
  // Queued CNNL work does not refer to the descriptors after the call that queued it, and the
  // host memory queued copies read is held by the stream: the op can go now.
  delete to_op(op);
}

xinhe_status_t op_check(xinhe_be_op_t o) {
  Op* op = to_op(o);
  if (!op->name.empty()) return nullptr;
  return error(op->device, XINHE_STATUS_UNIMPLEMENTED, "op_check", __FILE__, __LINE__,
               op->unsupported);
}

xinhe_status_t op_workspace_size(xinhe_be_op_t o, uint64_t* out_bytes) {
  *out_bytes = to_op(o)->workspace;
  return nullptr;
}

const char* op_impl_name(xinhe_be_op_t o) {
  Op* op = to_op(o);
  return op->name.empty() ? kBackendName : op->name.c_str();
}

xinhe_status_t op_run(xinhe_be_op_t o, xinhe_be_stream_t s, const xinhe_be_op_args_t* args) {
  Op* op = to_op(o);
  Stream* stream = reinterpret_cast<Stream*>(s);
  XINHE_BE_RETURN_IF_ERROR(bind(op->device));
  return op->kind == XINHE_OP_GEMM ? run_gemm(op, stream, args) : run_attention(op, stream, args);
}

}  // namespace xinhe::cambricon
