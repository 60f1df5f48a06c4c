// GEMM and attention on aclnn's two-phase operators. An op is a plan: a short sequence of aclnn
// calls (casts, matmul, scaling, flash attention, the LSE epilogue) over views of the caller's
// buffers and of the xinhe workspace. The same plan code runs twice:
//   at create (sizing), phase one only, with tensors that have no data: it proves the shape is
//     one aclnn accepts (a refusal becomes the op's UNIMPLEMENTED reason) and finds the largest
//     workspace any call asks for; each executor is released unrun (Plan::release_unrun);
//   at run, both phases with the real addresses; each executor runs once, as aclnn wants.
// xinhe's workspace holds, 64-byte aligned: the plan's f32 temporaries, then the aclnn
// workspace, so an operator's (poisoned, scratch) workspace never overlaps a temporary.
//
// GEMM: transposes as strides; alpha/beta and C's dtype are applied by aclnnInplaceMuls /
// aclnnInplaceAdd / aclnnInplaceCopy in f32, with one rounding to C's dtype. alpha == 0 or
// K == 0 never touches A or B (BLAS): C = beta * C, beta == 0 writes +0. The matmul itself
// depends on the SoC (ascend_soc.h):
//   Atlas A2/A3: f16/bf16 inputs are first copied to f32 (exact) and multiplied with
//     cubeMathType KEEP_DTYPE on aclnnMatmul (batch 1) or aclnnBatchMatMul (batched);
//   Atlas training/inference series (and unknown SoCs): the cube unit takes no FLOAT with
//     KEEP_DTYPE and no BFLOAT16, so f16 inputs go to aclnnMatmul as they are, with the f32
//     output its reference allows for f16 inputs (rank 3 when batched: aclnnBatchMatMul
//     documents no f32 output for f16 inputs); f32 and bf16 GEMMs are declined.
//
// Attention (A2/A3 only, as aclnnFlashAttentionScore is): BNSD layout (the strides of the
// caller's views describe BSHD and padded tensors as well), sparseMode 3 (rightDownCausal,
// xinhe's bottom-right causal mask) with the 2048x2048 mask, GQA through Nq/Nkv. Rows that see
// no key (Skv == 0, or causal with Sq > Skv) are not given to the operator, whose output for
// them is undefined: O is filled with 0 and LSE with -inf. LSE = softmaxMax + ln(softmaxSum),
// from column 0 of the operator's [B, N, Sq, 8] statistics.
#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <vector>

#include "ascend_internal.h"
#include "xinhe/backend.hpp"

struct xinhe_be_op_s {
  xinhe_be_device_s* device = nullptr;
  xinhe_op_kind_t kind = XINHE_OP_GEMM;
  xinhe_gemm_desc_t gemm{};
  xinhe_attention_desc_t attention{};
  std::string name;
  std::string unsupported;  // why not, or ""
  uint64_t scratch = 0;     // the plan's temporaries
  uint64_t aclnn_workspace = 0;
};

namespace xinhe::ascend {
namespace {

constexpr uint64_t kAlign = 64;
uint64_t round_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

aclDataType acl_dtype(xinhe_dtype_t d) {
  switch (d) {
    case XINHE_DTYPE_F32:
      return ACL_FLOAT;
    case XINHE_DTYPE_F16:
      return ACL_FLOAT16;
    case XINHE_DTYPE_BF16:
      return ACL_BF16;
    default:
      return ACL_DOUBLE;
  }
}
int64_t element_size(xinhe_dtype_t d) {
  return d == XINHE_DTYPE_F64 ? 8 : d == XINHE_DTYPE_F32 ? 4 : 2;
}

// A view: sizes and element strides.
struct Shape {
  std::vector<int64_t> dims, strides;
};
Shape contiguous(std::vector<int64_t> dims) {
  Shape s{dims, std::vector<int64_t>(dims.size(), 1)};
  for (size_t i = dims.size() - 1; i-- > 0;) s.strides[i] = s.strides[i + 1] * dims[i + 1];
  return s;
}

// An operand's first element: a device address and an element offset from it. base is NULL
// while sizing.
struct Operand {
  uint8_t* base = nullptr;
  int64_t offset = 0;
  Operand at(int64_t elements) const { return Operand{base, offset + elements}; }
};
Operand scratch_at(uint8_t* ws, uint64_t byte_offset) {
  return Operand{ws ? ws + byte_offset : nullptr, 0};
}

using Phase2 = aclnnStatus (*)(void*, uint64_t, aclOpExecutor*, aclrtStream);

// Issues aclnn calls, sizing or running (see the top of the file). Owns its descriptors.
class Plan {
 public:
  Plan(xinhe_be_device_s* device, bool sizing, aclrtStream stream = nullptr,
       uint8_t* workspace = nullptr, uint64_t workspace_size = 0)
      : device_(device),
        api_(device->backend->acl),
        sizing_(sizing),
        stream_(stream),
        workspace_(workspace),
        workspace_size_(workspace_size) {}
  ~Plan() {
    for (aclTensor* t : tensors_) api_.aclDestroyTensor(t);
    for (aclScalar* s : scalars_) api_.aclDestroyScalar(s);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  const std::string& declined() const { return declined_; }
  uint64_t largest_workspace() const { return largest_; }

  aclTensor* tensor(aclDataType dtype, const Shape& shape, Operand where) {
    int64_t last = where.offset;
    for (size_t i = 0; i < shape.dims.size(); ++i)
      last += (std::max<int64_t>(shape.dims[i], 1) - 1) * shape.strides[i];
    const int64_t storage = last + 1;
    aclTensor* t =
        api_.aclCreateTensor(shape.dims.data(), shape.dims.size(), dtype, shape.strides.data(),
                             where.offset, ACL_FORMAT_ND, &storage, 1, where.base);
    if (t) tensors_.push_back(t);
    return t;
  }
  aclScalar* scalar(float value) {
    aclScalar* s = api_.aclCreateScalar(&value, ACL_FLOAT);
    if (s) scalars_.push_back(s);
    return s;
  }

  xinhe_status_t copy(aclTensor* dst, const aclTensor* src) {
    return call("aclnnInplaceCopy", api_.aclnnInplaceCopy, [&](uint64_t* w, aclOpExecutor** e) {
      return api_.aclnnInplaceCopyGetWorkspaceSize(dst, src, w, e);
    });
  }
  xinhe_status_t muls(aclTensor* t, float value) {
    aclScalar* s = scalar(value);
    return call("aclnnInplaceMuls", api_.aclnnInplaceMuls, [&](uint64_t* w, aclOpExecutor** e) {
      return api_.aclnnInplaceMulsGetWorkspaceSize(t, s, w, e);
    });
  }
  xinhe_status_t add(aclTensor* t, const aclTensor* other, float alpha) {
    aclScalar* s = scalar(alpha);
    return call("aclnnInplaceAdd", api_.aclnnInplaceAdd, [&](uint64_t* w, aclOpExecutor** e) {
      return api_.aclnnInplaceAddGetWorkspaceSize(t, other, s, w, e);
    });
  }
  xinhe_status_t log(aclTensor* t) {
    return call("aclnnInplaceLog", api_.aclnnInplaceLog, [&](uint64_t* w, aclOpExecutor** e) {
      return api_.aclnnInplaceLogGetWorkspaceSize(t, w, e);
    });
  }
  xinhe_status_t fill(aclTensor* t, float value) {
    aclScalar* s = scalar(value);
    return call("aclnnInplaceFillScalar", api_.aclnnInplaceFillScalar,
                [&](uint64_t* w, aclOpExecutor** e) {
                  return api_.aclnnInplaceFillScalarGetWorkspaceSize(t, s, w, e);
                });
  }
  xinhe_status_t matmul(bool batch_op, const aclTensor* a, const aclTensor* b, aclTensor* out) {
    if (batch_op)
      return call("aclnnBatchMatMul", api_.aclnnBatchMatMul, [&](uint64_t* w, aclOpExecutor** e) {
        return api_.aclnnBatchMatMulGetWorkspaceSize(a, b, out, KEEP_DTYPE, w, e);
      });
    return call("aclnnMatmul", api_.aclnnMatmul, [&](uint64_t* w, aclOpExecutor** e) {
      return api_.aclnnMatmulGetWorkspaceSize(a, b, out, KEEP_DTYPE, w, e);
    });
  }
  xinhe_status_t flash_attention(const aclTensor* q, const aclTensor* k, const aclTensor* v,
                                 const aclTensor* mask, double scale, int64_t heads,
                                 const aclTensor* max, const aclTensor* sum, aclTensor* out) {
    char layout[] = "BNSD";
    const int64_t all_tokens = std::numeric_limits<int32_t>::max();
    return call("aclnnFlashAttentionScore", api_.aclnnFlashAttentionScore,
                [&](uint64_t* w, aclOpExecutor** e) {
                  return api_.aclnnFlashAttentionScoreGetWorkspaceSize(
                      q, k, v, nullptr, nullptr, nullptr, mask, nullptr, scale, 1.0, all_tokens,
                      all_tokens, heads, layout, 0, mask ? 3 : 0, max, sum, nullptr, out, w, e);
                });
  }

 private:
  template <typename Phase1>
  xinhe_status_t call(const char* name, Phase2 phase2, Phase1 phase1) {
    if (!declined_.empty()) return nullptr;
    uint64_t size = 0;
    aclOpExecutor* executor = nullptr;
    aclnnStatus status = phase1(&size, &executor);
    if (status != ACLNN_SUCCESS) {
      const char* recent = api_.aclGetRecentErrMsg();
      const std::string why = std::string(name) + "GetWorkspaceSize refused the op: error " +
                              std::to_string(status) + (recent ? std::string(": ") + recent : "");
      if (sizing_) {
        declined_ = why;
        return nullptr;
      }
      return make_error(device_->backend->host, XINHE_STATUS_INTERNAL, name, __FILE__, __LINE__,
                        why);
    }
    if (sizing_ || size > workspace_size_) {
      release_unrun(name, executor);
      largest_ = std::max(largest_, size);
      if (sizing_) return nullptr;
      return make_error(device_->backend->host, XINHE_STATUS_INTERNAL, name, __FILE__, __LINE__,
                        std::string(name) + " asks for " + std::to_string(size) +
                            " bytes of workspace at run, more than the " +
                            std::to_string(workspace_size_) + " it asked for at create");
    }
    status = phase2(size ? workspace_ : nullptr, size, executor, stream_);
    if (status != ACLNN_SUCCESS) {
      const char* recent = api_.aclGetRecentErrMsg();
      return make_error(device_->backend->host, XINHE_STATUS_INTERNAL, name, __FILE__, __LINE__,
                        std::string(name) + " failed: error " + std::to_string(status) +
                            (recent ? std::string(": ") + recent : ""));
    }
    return nullptr;
  }

  // An executor phase two will not run. aclnn frees an executor when phase two runs it;
  // otherwise the only documented release is aclDestroyAclOpExecutor, and only for one that
  // aclSetAclOpExecutorRepeatable accepted. When that is refused, no documented call frees it:
  // it is left to aclnn (one per sizing call of that operator) rather than destroyed against
  // the documentation.
  void release_unrun(const char* name, aclOpExecutor* executor) {
    const xinhe_host_api_t* host = device_->backend->host;
    const aclnnStatus r = api_.aclSetAclOpExecutorRepeatable(executor);
    std::string note;
    if (r != ACLNN_SUCCESS) {
      note = std::string(name) + ": aclSetAclOpExecutorRepeatable refused an unrun executor " +
             "(error " + std::to_string(r) + "); no documented call frees it, so it is left";
    } else if (const aclnnStatus d = api_.aclDestroyAclOpExecutor(executor); d != ACLNN_SUCCESS) {
      note = std::string(name) + ": aclDestroyAclOpExecutor failed: error " + std::to_string(d);
    }
    if (!note.empty() && host->verbose_enabled("dispatch"))
      host->log("dispatch", kBackendName, note.c_str());
  }

  xinhe_be_device_s* device_;
  const AclApi& api_;
  bool sizing_;
  aclrtStream stream_;
  uint8_t* workspace_;
  uint64_t workspace_size_;
  uint64_t largest_ = 0;
  std::string declined_;
  std::vector<aclTensor*> tensors_;
  std::vector<aclScalar*> scalars_;
};

// ---- GEMM ----

struct GemmScratch {
  uint64_t a32 = 0, b32 = 0, t = 0, u = 0, total = 0;
};
// Where the matmul runs on the device's SoC (see the top of the file).
struct GemmRoute {
  bool widen = false;     // f16/bf16 inputs copied to f32 first (A2/A3)
  bool batch_op = false;  // aclnnBatchMatMul rather than aclnnMatmul
};
GemmRoute gemm_route(const SocRules& rules, const xinhe_gemm_desc_t& g) {
  GemmRoute r;
  r.widen = rules.f32_cube && g.ab_dtype != XINHE_DTYPE_F32;
  r.batch_op = rules.f32_cube && g.batch > 1;
  return r;
}

GemmScratch gemm_scratch(const xinhe_gemm_desc_t& g, const GemmRoute& route) {
  GemmScratch s;
  const bool cast = route.widen;
  const uint64_t a = cast ? round_up(4ull * g.batch * g.m * g.k) : 0;
  const uint64_t b = cast ? round_up(4ull * g.batch * g.k * g.n) : 0;
  const uint64_t t = round_up(4ull * g.batch * g.m * g.n);
  const uint64_t u = g.c_dtype != XINHE_DTYPE_F32 ? t : 0;
  s.a32 = 0;
  s.b32 = a;
  s.t = a + b;
  s.u = a + b + t;
  s.total = a + b + t + u;
  return s;
}

xinhe_status_t gemm_plan(Plan& p, const xinhe_gemm_desc_t& g, const GemmRoute& route, Operand a_at,
                         Operand b_at, Operand c_at, uint8_t* ws, float alpha, float beta) {
  const bool batched = g.batch > 1;
  auto view = [&](int64_t d0, int64_t d1, int64_t s0, int64_t s1, int64_t s2) {
    return batched ? Shape{{g.batch, d0, d1}, {s0, s1, s2}} : Shape{{d0, d1}, {s1, s2}};
  };
  auto dense = [&](int64_t d0, int64_t d1) {
    return batched ? contiguous({g.batch, d0, d1}) : contiguous({d0, d1});
  };
  const aclDataType ab = acl_dtype(g.ab_dtype), cd = acl_dtype(g.c_dtype);
  const Shape c_shape = view(g.m, g.n, g.stride_c, g.ldc, 1);
  aclTensor* c = p.tensor(cd, c_shape, c_at);
  if (alpha == 0.0f || g.k == 0) {
    if (beta == 1.0f) return nullptr;
    return beta == 0.0f ? p.fill(c, 0.0f) : p.muls(c, beta);
  }
  const GemmScratch s = gemm_scratch(g, route);
  aclTensor* a = p.tensor(
      ab, g.trans_a ? view(g.m, g.k, g.stride_a, 1, g.lda) : view(g.m, g.k, g.stride_a, g.lda, 1),
      a_at);
  aclTensor* b = p.tensor(
      ab, g.trans_b ? view(g.k, g.n, g.stride_b, 1, g.ldb) : view(g.k, g.n, g.stride_b, g.ldb, 1),
      b_at);
  if (route.widen) {  // exact widening: the products then accumulate in f32
    aclTensor* a32 = p.tensor(ACL_FLOAT, dense(g.m, g.k), scratch_at(ws, s.a32));
    aclTensor* b32 = p.tensor(ACL_FLOAT, dense(g.k, g.n), scratch_at(ws, s.b32));
    XINHE_BE_RETURN_IF_ERROR(p.copy(a32, a));
    XINHE_BE_RETURN_IF_ERROR(p.copy(b32, b));
    a = a32;
    b = b32;
  }
  aclTensor* t = p.tensor(ACL_FLOAT, dense(g.m, g.n), scratch_at(ws, s.t));
  XINHE_BE_RETURN_IF_ERROR(p.matmul(route.batch_op, a, b, t));
  if (beta == 0.0f) {  // C is not read
    if (alpha != 1.0f) XINHE_BE_RETURN_IF_ERROR(p.muls(t, alpha));
    return p.copy(c, t);
  }
  aclTensor* acc = c;
  if (cd != ACL_FLOAT) {  // beta * C + alpha * T in f32, rounded once
    acc = p.tensor(ACL_FLOAT, dense(g.m, g.n), scratch_at(ws, s.u));
    XINHE_BE_RETURN_IF_ERROR(p.copy(acc, c));
  }
  if (beta != 1.0f) XINHE_BE_RETURN_IF_ERROR(p.muls(acc, beta));
  XINHE_BE_RETURN_IF_ERROR(p.add(acc, t, alpha));
  return acc == c ? nullptr : p.copy(c, acc);
}

// ---- Attention ----

uint64_t attention_rows(const xinhe_attention_desc_t& d) {  // rows given to the operator
  if (d.seq_kv == 0) return 0;
  return d.mask == XINHE_ATTENTION_MASK_CAUSAL && d.seq_q > d.seq_kv ? d.seq_kv : d.seq_q;
}
uint64_t attention_scratch(const xinhe_attention_desc_t& d) {
  return 2 * round_up(4ull * 8 * d.batch * d.heads_q * attention_rows(d));
}

Shape bhsd(const int64_t dims[4], const int64_t strides[4]) {
  return Shape{{dims[0], dims[1], dims[2], dims[3]},
               {strides[0], strides[1], strides[2], strides[3]}};
}

xinhe_status_t attention_plan(Plan& p, const xinhe_attention_desc_t& d, Operand q_at, Operand k_at,
                              Operand v_at, Operand o_at, Operand lse_at, uint8_t* ws,
                              void* mask_address) {
  const aclDataType dt = acl_dtype(d.dtype);
  const int64_t rows = static_cast<int64_t>(attention_rows(d));
  const int64_t dead = d.seq_q - rows;  // leading query rows that see no key
  if (dead > 0) {
    const int64_t o_dims[4] = {d.batch, d.heads_q, dead, d.head_dim};
    XINHE_BE_RETURN_IF_ERROR(p.fill(p.tensor(dt, bhsd(o_dims, d.o_strides), o_at), 0.0f));
    if (d.with_lse) {
      const Shape lse{{d.batch, d.heads_q, dead},
                      {d.lse_strides[0], d.lse_strides[1], d.lse_strides[2]}};
      XINHE_BE_RETURN_IF_ERROR(
          p.fill(p.tensor(ACL_FLOAT, lse, lse_at), -std::numeric_limits<float>::infinity()));
    }
  }
  if (rows == 0) return nullptr;
  const int64_t q_dims[4] = {d.batch, d.heads_q, rows, d.head_dim};
  const int64_t kv_dims[4] = {d.batch, d.heads_kv, d.seq_kv, d.head_dim};
  aclTensor* q = p.tensor(dt, bhsd(q_dims, d.q_strides), q_at.at(dead * d.q_strides[2]));
  aclTensor* k = p.tensor(dt, bhsd(kv_dims, d.k_strides), k_at);
  aclTensor* v = p.tensor(dt, bhsd(kv_dims, d.v_strides), v_at);
  aclTensor* o = p.tensor(dt, bhsd(q_dims, d.o_strides), o_at.at(dead * d.o_strides[2]));
  const Shape stats = contiguous({d.batch, d.heads_q, rows, 8});
  const uint64_t stats_bytes = round_up(4ull * 8 * d.batch * d.heads_q * rows);
  aclTensor* max = p.tensor(ACL_FLOAT, stats, scratch_at(ws, 0));
  aclTensor* sum = p.tensor(ACL_FLOAT, stats, scratch_at(ws, stats_bytes));
  aclTensor* mask = nullptr;
  if (d.mask == XINHE_ATTENTION_MASK_CAUSAL)
    mask = p.tensor(ACL_UINT8, contiguous({2048, 2048}),
                    Operand{static_cast<uint8_t*>(mask_address), 0});
  XINHE_BE_RETURN_IF_ERROR(p.flash_attention(q, k, v, mask, d.scale, d.heads_q, max, sum, o));
  if (!d.with_lse) return nullptr;
  // Column 0 of the statistics: LSE = max + ln(sum).
  const Shape column{{d.batch, d.heads_q, rows}, {stats.strides[0], stats.strides[1], 8}};
  aclTensor* max0 = p.tensor(ACL_FLOAT, column, scratch_at(ws, 0));
  aclTensor* sum0 = p.tensor(ACL_FLOAT, column, scratch_at(ws, stats_bytes));
  XINHE_BE_RETURN_IF_ERROR(p.log(sum0));
  XINHE_BE_RETURN_IF_ERROR(p.add(max0, sum0, 1.0f));
  const Shape lse{{d.batch, d.heads_q, rows},
                  {d.lse_strides[0], d.lse_strides[1], d.lse_strides[2]}};
  return p.copy(p.tensor(ACL_FLOAT, lse, lse_at.at(dead * d.lse_strides[2])), max0);
}

// What aclnnFlashAttentionScore documents it cannot take, checked before asking it.
std::string attention_limits(const xinhe_attention_desc_t& d) {
  if (d.heads_q > 256)
    return "aclnnFlashAttentionScore takes 1..256 query heads (N), this op has " +
           std::to_string(d.heads_q);
  if (d.batch > (int64_t{2} << 20)) return "aclnnFlashAttentionScore takes a batch up to 2M";
  if (d.seq_q > (int64_t{1} << 20) || d.seq_kv > (int64_t{1} << 20))
    return "aclnnFlashAttentionScore takes sequences up to 1M";
  return "";
}

bool empty_output(const xinhe_be_op_s& op) {
  if (op.kind == XINHE_OP_GEMM) return op.gemm.m == 0 || op.gemm.n == 0;
  const xinhe_attention_desc_t& d = op.attention;
  return d.batch == 0 || d.heads_q == 0 || d.seq_q == 0;
}

Operand operand(const xinhe_be_mem_t& mem, xinhe_dtype_t dtype) {
  return Operand{mem.buffer ? mem.buffer->address : nullptr,
                 static_cast<int64_t>(mem.offset) / element_size(dtype)};
}

}  // namespace

xinhe_status_t device_byte_copy(xinhe_be_stream_s* stream, uint8_t* dst, const uint8_t* src,
                                uint64_t size) {
  xinhe_be_device_s* device = stream->device;
  const AclApi& api = device->backend->acl;
  // uint8 views from the 64-byte line below each address: the bytes [dst, dst + size) exactly.
  auto line = [](const uint8_t* p) { return reinterpret_cast<uintptr_t>(p) / kAlign * kAlign; };
  const Shape bytes = contiguous({static_cast<int64_t>(size)});
  Plan sizing(device, /*sizing=*/true);
  aclTensor* d =
      sizing.tensor(ACL_UINT8, bytes, {nullptr, static_cast<int64_t>(dst - (uint8_t*)line(dst))});
  aclTensor* s = sizing.tensor(ACL_UINT8, bytes,
                               {nullptr, static_cast<int64_t>(src - (const uint8_t*)line(src))});
  sizing.copy(d, s);
  if (!sizing.declined().empty())
    return make_error(device->backend->host, XINHE_STATUS_INTERNAL, "aclnnInplaceCopy", __FILE__,
                      __LINE__, sizing.declined());
  void* workspace = nullptr;
  const uint64_t workspace_size = sizing.largest_workspace();
  if (workspace_size > 0)
    XINHE_ACL_CALL(device, api.aclrtMalloc(&workspace, workspace_size, ACL_MEM_MALLOC_HUGE_FIRST),
                   "aclrtMalloc");
  xinhe_status_t status;
  {
    Plan run(device, /*sizing=*/false, stream->stream, static_cast<uint8_t*>(workspace),
             workspace_size);
    status = run.copy(run.tensor(ACL_UINT8, bytes,
                                 {reinterpret_cast<uint8_t*>(line(dst)),
                                  static_cast<int64_t>(dst - (uint8_t*)line(dst))}),
                      run.tensor(ACL_UINT8, bytes,
                                 {reinterpret_cast<uint8_t*>(line(src)),
                                  static_cast<int64_t>(src - (const uint8_t*)line(src))}));
  }
  if (workspace != nullptr) {  // the copy must be done before its workspace goes
    const aclError r = api.aclrtSynchronizeStream(stream->stream);
    api.aclrtFree(workspace);
    if (status == nullptr && r != ACL_SUCCESS)
      status = acl_error(device, r, "aclrtSynchronizeStream", __FILE__, __LINE__);
  }
  return status;
}

namespace {

// The implementation lists, walked by the dispatch service (xinhe/backend.hpp), which applies the
// filter the core serves and writes the dispatch line. Names: ascend.<op>.<method>_<dtypes>.
struct ImplEntry {
  const char* method;
  const char* arch;
};
constexpr ImplEntry kGemmList[] = {{"aclnn_matmul", nullptr}, {"aclnn_batch_matmul", nullptr}};
constexpr ImplEntry kAttentionList[] = {{"aclnn_flash_attention_score", nullptr}};

// The SoC's documented limits on a GEMM (ascend_soc.h), before aclnn is asked.
std::string soc_gemm_limits(const SocRules& rules, const xinhe_gemm_desc_t& g) {
  const std::string on = " on " + rules.soc + " (" + rules.product + ")";
  const std::string unknown = rules.unknown_note.empty() ? "" : "; " + rules.unknown_note;
  if (!rules.bf16 && (g.ab_dtype == XINHE_DTYPE_BF16 || g.c_dtype == XINHE_DTYPE_BF16))
    return "bf16 GEMM" + on + ": aclnnMatmul documents BFLOAT16 for Atlas A2/A3 products only" +
           unknown;
  if (!rules.f32_cube && g.ab_dtype == XINHE_DTYPE_F32)
    return "f32 GEMM" + on +
           ": aclnnMatmul documents that this cube unit takes no FLOAT with cubeMathType "
           "KEEP_DTYPE, and the down-precision modes would not match the f32 reference" +
           unknown;
  return "";
}

std::string why_not(const ImplEntry& e, const xinhe_gemm_desc_t& g, const SocRules& rules) {
  if (g.ab_dtype == XINHE_DTYPE_F64 || g.c_dtype == XINHE_DTYPE_F64)
    return "aclnn has no fp64 operators (the device does not claim f64)";
  if (std::string why = soc_gemm_limits(rules, g); !why.empty()) return why;
  const bool batch_entry = std::string(e.method) == "aclnn_batch_matmul";
  if (batch_entry && g.batch <= 1) return "batch 1 runs on aclnnMatmul";
  if (batch_entry && !rules.f32_cube)
    return "aclnnBatchMatMul documents only an f16 output for f16 inputs on " + rules.soc + " (" +
           rules.product +
           "); batched f16 runs on aclnnMatmul, whose f32 output keeps "
           "the products unrounded";
  if (!batch_entry && g.batch > 1 && rules.f32_cube) return "batched GEMM runs on aclnnBatchMatMul";
  return "";
}
std::string why_not(const ImplEntry&, const xinhe_attention_desc_t& d, const SocRules& rules) {
  if (d.dtype == XINHE_DTYPE_F64)
    return "aclnn has no fp64 operators (the device does not claim f64)";
  if (!rules.flash_attention)
    return "aclnnFlashAttentionScore is documented for Atlas A2/A3 products only, and " +
           (rules.soc.empty() ? std::string("this SoC") : rules.soc) + " is " + rules.product +
           (rules.unknown_note.empty() ? "" : "; " + rules.unknown_note);
  return attention_limits(d);
}

// Phase one of every call the op's runs make (see the top of the file): a refusal skips the
// entry with aclnn's reason; the workspace found is the op's.
xinhe::backend::Built size_plan(xinhe_be_op_s* op) {
  if (empty_output(*op)) return xinhe::backend::Built::ok();
  if (xinhe_status_t status = bind(op->device)) return xinhe::backend::Built::fatal(status);
  Plan plan(op->device, /*sizing=*/true);
  if (op->kind == XINHE_OP_GEMM) {
    const GemmRoute route = gemm_route(op->device->rules, op->gemm);
    op->scratch = gemm_scratch(op->gemm, route).total;
    // Every path a run may take: alpha and beta general, beta == 0, alpha == 0.
    for (const auto& [alpha, beta] : {std::pair{0.5f, 0.5f}, {0.5f, 0.0f}, {0.0f, 0.5f}})
      gemm_plan(plan, op->gemm, route, {}, {}, {}, nullptr, alpha, beta);
  } else {
    op->scratch = attention_scratch(op->attention);
    attention_plan(plan, op->attention, {}, {}, {}, {}, {}, nullptr, nullptr);
  }
  if (!plan.declined().empty()) return xinhe::backend::Built::skip(plan.declined());
  op->aclnn_workspace = plan.largest_workspace();
  return xinhe::backend::Built::ok();
}

template <typename Desc, typename List>
xinhe::backend::Selection select(xinhe_be_op_s* op, const Desc& desc, const List& list) {
  xinhe::backend::DispatchRequest request(op->device->backend->host, kBackendName, desc);
  request.device = op->device->soc;
  return xinhe::backend::select_impl(
      request, list, [&](const ImplEntry& e) { return why_not(e, desc, op->device->rules); },
      [&](const ImplEntry&) { return size_plan(op); });
}

}  // namespace

xinhe_status_t op_create(xinhe_be_device_t device, const xinhe_be_op_desc_t* desc,
                         xinhe_be_op_t* out_op) {
  auto* op = new (std::nothrow) xinhe_be_op_s;
  if (op == nullptr)
    return make_error(device->backend->host, XINHE_STATUS_OUT_OF_MEMORY, "op_create", __FILE__,
                      __LINE__, "no memory");
  op->device = device;
  op->kind = desc->kind;
  xinhe::backend::Selection chosen;
  if (desc->kind == XINHE_OP_GEMM) {
    op->gemm = *desc->gemm;
    chosen = select(op, op->gemm, kGemmList);
  } else if (desc->kind == XINHE_OP_ATTENTION) {
    op->attention = *desc->attention;
    chosen = select(op, op->attention, kAttentionList);
  } else {
    // A kind from a later ABI minor: declined, never guessed at.
    chosen.name = "ascend.unknown";
    chosen.unsupported = "op kind " + std::to_string(desc->kind) + " is not known to this plugin";
  }
  if (chosen.fatal != nullptr) {
    delete op;
    return chosen.fatal;
  }
  op->name = chosen.name.empty() ? std::string(kBackendName) : chosen.name;
  op->unsupported = chosen.unsupported;
  *out_op = op;
  return nullptr;
}

void op_destroy(xinhe_be_op_t op) { delete op; }

xinhe_status_t op_check(xinhe_be_op_t op) {
  if (op->unsupported.empty()) return nullptr;
  return make_error(op->device->backend->host, XINHE_STATUS_UNIMPLEMENTED, "op_check", __FILE__,
                    __LINE__, op->unsupported);
}

xinhe_status_t op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes) {
  const uint64_t used = op->scratch + op->aclnn_workspace;
  *out_bytes = used == 0 ? 0 : used + kAlign;  // the workspace offset may be any byte
  return nullptr;
}

const char* op_impl_name(xinhe_be_op_t op) { return op->name.c_str(); }

xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t stream, const xinhe_be_op_args_t* args) {
  if (!op->unsupported.empty())
    return make_error(op->device->backend->host, XINHE_STATUS_UNIMPLEMENTED, "op_run", __FILE__,
                      __LINE__, op->unsupported);
  if (empty_output(*op)) return nullptr;
  XINHE_BE_RETURN_IF_ERROR(bind(op->device));
  const bool gemm = op->kind == XINHE_OP_GEMM;
  const int ws_slot = gemm ? static_cast<int>(XINHE_GEMM_ARG_WORKSPACE)
                           : static_cast<int>(XINHE_ATTENTION_ARG_WORKSPACE);
  const xinhe_be_mem_t& ws_mem = args->mem[ws_slot];
  uint8_t* ws = nullptr;
  if (ws_mem.buffer != nullptr) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(ws_mem.buffer->address) + ws_mem.offset;
    ws = reinterpret_cast<uint8_t*>((at + kAlign - 1) / kAlign * kAlign);
  }
  Plan plan(op->device, /*sizing=*/false, stream->stream, ws ? ws + op->scratch : nullptr,
            op->aclnn_workspace);
  if (gemm) {
    const xinhe_gemm_desc_t& g = op->gemm;
    return gemm_plan(plan, g, gemm_route(op->device->rules, g),
                     operand(args->mem[XINHE_GEMM_ARG_A], g.ab_dtype),
                     operand(args->mem[XINHE_GEMM_ARG_B], g.ab_dtype),
                     operand(args->mem[XINHE_GEMM_ARG_C], g.c_dtype), ws, args->alpha, args->beta);
  }
  const xinhe_attention_desc_t& d = op->attention;
  void* mask = nullptr;
  if (d.mask == XINHE_ATTENTION_MASK_CAUSAL && attention_rows(d) > 0)
    XINHE_BE_RETURN_IF_ERROR(causal_mask(op->device, &mask));
  return attention_plan(plan, d, operand(args->mem[XINHE_ATTENTION_ARG_Q], d.dtype),
                        operand(args->mem[XINHE_ATTENTION_ARG_K], d.dtype),
                        operand(args->mem[XINHE_ATTENTION_ARG_V], d.dtype),
                        operand(args->mem[XINHE_ATTENTION_ARG_O], d.dtype),
                        operand(args->mem[XINHE_ATTENTION_ARG_LSE], XINHE_DTYPE_F32), ws, mask);
}

}  // namespace xinhe::ascend
