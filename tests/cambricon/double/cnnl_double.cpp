// A host double of Cambricon's CNNL operator library (libcnnl.so), written from the public CNNL
// developer guide, cnnl.h and Cambricon's own public callers (torch_mlu), over the CNRT double.
// It exports the CNNL symbols of backends/cambricon/cambricon_api.h, computes on the host, and
// enforces the documented rules:
//   - a handle runs its work on the queue bound with cnnlSetQueue; an op on a handle bound to
//     no queue is CNNL_STATUS_BAD_PARAM (the real library would use the default queue; the
//     double is stricter so that a plugin that forgets the binding is caught);
//   - tensor dimensions and strides are int32 (the API's types), at most 8 dimensions, none
//     negative; every operand must lie wholly inside one live device allocation;
//   - no fp64: CNNL_DTYPE_DOUBLE is accepted by descriptors but every op declines it with
//     CNNL_STATUS_NOT_SUPPORTED;
//   - batch matmul: the workspace passed must be at least what the heuristic result reported,
//     and it arrives poisoned (NaN bytes), as a reused device buffer would; strided operands
//     need CNNL_MATMUL_USE_STRIDE; f32 inputs are rounded to TF32 unless CNNL_MATMUL_ALLOW_TF32
//     is set to 0 (the documented default allows TF32); C is read only when CNNL_MATMUL_USE_BETA
//     is set; a batch of 1 in A or B broadcasts; accumulation is f32 and results are rounded to
//     the output type to nearest even; CNNL_MATMUL_USE_STRIDE together with CNNL_MATMUL_USE_BETA
//     is CNNL_STATUS_NOT_SUPPORTED (no public material says CNNL supports it and torch_mlu never
//     sets both); the heuristic's preference (an opaque cnnlMatMulPrefer_t) must be NULL, as no
//     preference object exists in this slice of the API;
//   - flash attention forward: pack mode only (Q, O [total_q, Hq, D], K, V [total_kv, Hkv, D],
//     cumulative sequence lengths int32 [B + 1] on the device, softmax LSE f32 [Hq, total_q]);
//     f16 and bf16 only, as Cambricon's callers check; the last dimension contiguous and, in
//     the double, the whole tensor packed; head dim at most 256; Hq a multiple of Hkv; no
//     dropout; compute type f32; rng_state a host size_t[2] (NULL is CNNL_STATUS_BAD_PARAM:
//     every public caller passes one); the sliding window set with
//     cnnlSetFlashAttentionSlidingWindowSize before the workspace query and the run, as
//     Cambricon's callers always do, and only (-1, -1, 1), no window, is modelled (a build with
//     XINHE_CNNL_DOUBLE_NO_SLIDING_WINDOW plays an older CNNL without that function). A row
//     that sees no key is not defined by the guide: the double writes NaN there so that nothing
//     relies on it. The workspace rule is as matmul's.
//   - the corner CNNL_ATTN_MASK_CAUSAL is aligned to when seq_q != seq_kv is unconfirmed: the
//     double takes it from XINHE_CNNL_DOUBLE_CAUSAL when the descriptor is set, "top_left"
//     (the default: query i sees keys j <= i, the hint of newer cnnl.h's
//     CNNL_ATTN_MASK_CAUSAL_TOP_LEFT) or "bottom_right" (j <= i + seq_kv - seq_q), so that a
//     plugin relying on either is caught.
// What it does not prove: that the real library accepts every descriptor the double accepts
// (strided matmul operands, cnnlCopy between strided views, the enum values marked unconfirmed
// in cambricon_api.h), its speed, or its rounding beyond f32 accumulation.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "double_internal.h"
#include "half.h"

struct cnnlContext {
  cnrtQueue_t queue = nullptr;
};
struct cnnlTensorStruct {
  bool set = false;
  cnnlDataType_t dtype = CNNL_DTYPE_INVALID;
  std::vector<int> dims, strides;
};
struct cnnlMatMulStruct {
  int trans_a = 0, trans_b = 0, allow_tf32 = 1, use_beta = 0, use_stride = 0;
  cnnlDataType_t compute_type = CNNL_DTYPE_FLOAT;
};
struct cnnlMatMulAlgoStruct {
  size_t workspace = 0;
};
struct cnnlMatMulHeuristicResultStruct {
  size_t workspace = 0;
  bool valid = false;
};
struct cnnlFlashAttentionStruct {
  bool set = false;
  bool window_set = false;    // cnnlSetFlashAttentionSlidingWindowSize was called
  bool bottom_right = false;  // causal alignment, from XINHE_CNNL_DOUBLE_CAUSAL
  cnnlDataType_t compute_dtype = CNNL_DTYPE_FLOAT;
  cnnlAttentionMaskMode_t mask = CNNL_ATTN_MASK_NONE;
  bool pack = false, out_zero = false, return_softmax = false;
  int max_seq_q = 0, max_seq_kv = 0;
  float dropout = 0.0f, scale = 1.0f;
};

namespace {

using xinhe::kernels::bf16_to_f32;
using xinhe::kernels::f16_to_f32;
using xinhe::kernels::f32_to_bf16;
using xinhe::kernels::f32_to_f16;

size_t dtype_size(cnnlDataType_t t) {
  switch (t) {
    case CNNL_DTYPE_HALF:
    case CNNL_DTYPE_BFLOAT16:
      return 2;
    case CNNL_DTYPE_FLOAT:
    case CNNL_DTYPE_INT32:
      return 4;
    case CNNL_DTYPE_DOUBLE:
      return 8;
    default:
      return 0;
  }
}
bool is_float_type(cnnlDataType_t t) {
  return t == CNNL_DTYPE_HALF || t == CNNL_DTYPE_BFLOAT16 || t == CNNL_DTYPE_FLOAT;
}

float load(const uint8_t* p, cnnlDataType_t t) {
  uint16_t h;
  switch (t) {
    case CNNL_DTYPE_HALF:
      std::memcpy(&h, p, 2);
      return f16_to_f32(h);
    case CNNL_DTYPE_BFLOAT16:
      std::memcpy(&h, p, 2);
      return bf16_to_f32(h);
    default: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
  }
}
void store(uint8_t* p, cnnlDataType_t t, float v) {
  uint16_t h;
  switch (t) {
    case CNNL_DTYPE_HALF:
      h = f32_to_f16(v);
      std::memcpy(p, &h, 2);
      return;
    case CNNL_DTYPE_BFLOAT16:
      h = f32_to_bf16(v);
      std::memcpy(p, &h, 2);
      return;
    default:
      std::memcpy(p, &v, 4);
  }
}

// f32 rounded to TF32 (10 mantissa bits), to nearest even.
float to_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return v;
  u += 0xfffu + ((u >> 13) & 1u);
  u &= ~0x1fffu;
  std::memcpy(&v, &u, 4);
  return v;
}

// Bytes from the first to one past the last element of a described tensor (0 when empty).
uint64_t extent_bytes(const cnnlTensorStruct& t) {
  uint64_t last = 0;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (t.dims[i] == 0) return 0;
    last += static_cast<uint64_t>(t.dims[i] - 1) * static_cast<uint64_t>(t.strides[i]);
  }
  return (last + 1) * dtype_size(t.dtype);
}
uint64_t element_count(const cnnlTensorStruct& t) {
  uint64_t n = 1;
  for (int d : t.dims) n *= static_cast<uint64_t>(d);
  return n;
}
bool contiguous(const cnnlTensorStruct& t) {
  int64_t expect = 1;
  for (size_t i = t.dims.size(); i-- > 0;) {
    if (t.dims[i] != 1 && t.strides[i] != expect) return false;
    expect *= t.dims[i];
  }
  return true;
}

// The host storage of an operand, or NULL when it is not wholly inside one device allocation.
uint8_t* operand(const cnnlTensorStruct& t, const void* device_pointer) {
  return static_cast<uint8_t*>(xinhe_double::resolve(device_pointer, extent_bytes(t)));
}

void poison(void* host, size_t bytes) { std::memset(host, 0xFF, bytes); }

}  // namespace

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlCreate(cnnlHandle_t* handle) {
  if (handle == nullptr) return CNNL_STATUS_BAD_PARAM;
  *handle = new cnnlContext();
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlDestroy(cnnlHandle_t handle) {
  if (handle == nullptr) return CNNL_STATUS_BAD_PARAM;
  delete handle;
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlSetQueue(cnnlHandle_t handle, cnrtQueue_t queue) {
  if (handle == nullptr || queue == nullptr) return CNNL_STATUS_BAD_PARAM;
  handle->queue = queue;
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT const char* cnnlGetErrorString(cnnlStatus_t status) {
  switch (status) {
    case CNNL_STATUS_SUCCESS:
      return "CNNL_STATUS_SUCCESS";
    case CNNL_STATUS_BAD_PARAM:
      return "CNNL_STATUS_BAD_PARAM";
    case CNNL_STATUS_NOT_SUPPORTED:
      return "CNNL_STATUS_NOT_SUPPORTED";
    case CNNL_STATUS_EXECUTION_FAILED:
      return "CNNL_STATUS_EXECUTION_FAILED";
    default:
      return "CNNL_STATUS_INTERNAL_ERROR";
  }
}

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlCreateTensorDescriptor(cnnlTensorDescriptor_t* desc) {
  if (desc == nullptr) return CNNL_STATUS_BAD_PARAM;
  *desc = new cnnlTensorStruct();
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlDestroyTensorDescriptor(cnnlTensorDescriptor_t desc) {
  delete desc;
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlSetTensorDescriptorEx(cnnlTensorDescriptor_t desc,
                                                           cnnlTensorLayout_t layout,
                                                           cnnlDataType_t dtype, int dim_count,
                                                           const int dims[], const int strides[]) {
  if (desc == nullptr || layout != CNNL_LAYOUT_ARRAY || dim_count < 1 || dim_count > 8 ||
      dims == nullptr || strides == nullptr || dtype_size(dtype) == 0)
    return CNNL_STATUS_BAD_PARAM;
  for (int i = 0; i < dim_count; ++i)
    if (dims[i] < 0 || strides[i] < 0) return CNNL_STATUS_BAD_PARAM;
  desc->dims.assign(dims, dims + dim_count);
  desc->strides.assign(strides, strides + dim_count);
  desc->dtype = dtype;
  desc->set = true;
  return CNNL_STATUS_SUCCESS;
}

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlCopy(cnnlHandle_t handle,
                                          const cnnlTensorDescriptor_t input_desc,
                                          const void* input,
                                          const cnnlTensorDescriptor_t output_desc, void* output) {
  if (handle == nullptr || handle->queue == nullptr || input_desc == nullptr ||
      output_desc == nullptr || !input_desc->set || !output_desc->set)
    return CNNL_STATUS_BAD_PARAM;
  if (input_desc->dtype == CNNL_DTYPE_DOUBLE) return CNNL_STATUS_NOT_SUPPORTED;
  if (input_desc->dtype != output_desc->dtype || input_desc->dims != output_desc->dims)
    return CNNL_STATUS_BAD_PARAM;
  const cnnlTensorStruct in = *input_desc, out = *output_desc;
  if (element_count(in) == 0) return CNNL_STATUS_SUCCESS;
  if (operand(in, input) == nullptr || operand(out, output) == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  xinhe_double::enqueue(handle->queue, [=]() -> std::string {
    const uint8_t* src = operand(in, input);
    uint8_t* dst = operand(out, output);
    if (src == nullptr || dst == nullptr) return "cnnlCopy: operand freed before the copy ran";
    const size_t es = dtype_size(in.dtype), rank = in.dims.size();
    std::vector<int> index(rank, 0);
    for (uint64_t n = element_count(in); n > 0; --n) {
      uint64_t si = 0, di = 0;
      for (size_t d = 0; d < rank; ++d) {
        si += static_cast<uint64_t>(index[d]) * in.strides[d];
        di += static_cast<uint64_t>(index[d]) * out.strides[d];
      }
      std::memcpy(dst + di * es, src + si * es, es);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < in.dims[d]) break;
        index[d] = 0;
      }
    }
    return "";
  });
  return CNNL_STATUS_SUCCESS;
}

// ---- Matmul --------------------------------------------------------------------------------

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlMatMulDescCreate(cnnlMatMulDescriptor_t* desc) {
  if (desc == nullptr) return CNNL_STATUS_BAD_PARAM;
  *desc = new cnnlMatMulStruct();
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlMatMulDescDestroy(cnnlMatMulDescriptor_t desc) {
  delete desc;
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlSetMatMulDescAttr(cnnlMatMulDescriptor_t desc,
                                                       cnnlMatMulDescAttribute_t attr,
                                                       const void* buffer, size_t size) {
  if (desc == nullptr || buffer == nullptr || size != sizeof(int32_t)) return CNNL_STATUS_BAD_PARAM;
  int32_t v;
  std::memcpy(&v, buffer, sizeof v);
  switch (attr) {
    case CNNL_MATMUL_DESC_COMPUTE_TYPE:
      desc->compute_type = static_cast<cnnlDataType_t>(v);
      return CNNL_STATUS_SUCCESS;
    case CNNL_MATMUL_DESC_TRANSA:
      desc->trans_a = v != 0;
      return CNNL_STATUS_SUCCESS;
    case CNNL_MATMUL_DESC_TRANSB:
      desc->trans_b = v != 0;
      return CNNL_STATUS_SUCCESS;
    case CNNL_MATMUL_ALLOW_TF32:
      desc->allow_tf32 = v != 0;
      return CNNL_STATUS_SUCCESS;
    case CNNL_MATMUL_USE_BETA:
      desc->use_beta = v != 0;
      return CNNL_STATUS_SUCCESS;
    case CNNL_MATMUL_USE_STRIDE:
      desc->use_stride = v != 0;
      return CNNL_STATUS_SUCCESS;
  }
  return CNNL_STATUS_BAD_PARAM;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlMatMulAlgoCreate(cnnlMatMulAlgo_t* algo) {
  if (algo == nullptr) return CNNL_STATUS_BAD_PARAM;
  *algo = new cnnlMatMulAlgoStruct();
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlMatMulAlgoDestroy(cnnlMatMulAlgo_t algo) {
  delete algo;
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t
cnnlCreateMatMulHeuristicResult(cnnlMatMulHeuristicResult_t* result) {
  if (result == nullptr) return CNNL_STATUS_BAD_PARAM;
  *result = new cnnlMatMulHeuristicResultStruct();
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t
cnnlDestroyMatMulHeuristicResult(cnnlMatMulHeuristicResult_t result) {
  delete result;
  return CNNL_STATUS_SUCCESS;
}

namespace {

struct MatmulShape {
  int batch_a, batch_b, batch, m, n, k;
};

// Checks a batch matmul's descriptors; fills shape on success.
cnnlStatus_t check_matmul(const cnnlMatMulStruct& d, const cnnlTensorStruct& a,
                          const cnnlTensorStruct& b, const cnnlTensorStruct& c,
                          MatmulShape* shape) {
  if (!a.set || !b.set || !c.set) return CNNL_STATUS_BAD_PARAM;
  if (a.dtype == CNNL_DTYPE_DOUBLE || b.dtype == CNNL_DTYPE_DOUBLE ||
      c.dtype == CNNL_DTYPE_DOUBLE || d.compute_type == CNNL_DTYPE_DOUBLE)
    return CNNL_STATUS_NOT_SUPPORTED;  // no fp64 on the device
  if (!is_float_type(a.dtype) || a.dtype != b.dtype ||
      (c.dtype != a.dtype && c.dtype != CNNL_DTYPE_FLOAT) || d.compute_type != CNNL_DTYPE_FLOAT)
    return CNNL_STATUS_BAD_PARAM;
  if (a.dims.size() != 3 || b.dims.size() != 3 || c.dims.size() != 3) return CNNL_STATUS_BAD_PARAM;
  if (d.use_stride && d.use_beta) return CNNL_STATUS_NOT_SUPPORTED;  // not known to be supported
  if (!d.use_stride && (!contiguous(a) || !contiguous(b) || !contiguous(c)))
    return CNNL_STATUS_BAD_PARAM;  // strided operands need CNNL_MATMUL_USE_STRIDE
  if (a.strides[2] != 1 || b.strides[2] != 1 || c.strides[2] != 1) return CNNL_STATUS_BAD_PARAM;
  MatmulShape s;
  s.batch_a = a.dims[0];
  s.batch_b = b.dims[0];
  s.batch = c.dims[0];
  s.m = d.trans_a ? a.dims[2] : a.dims[1];
  s.k = d.trans_a ? a.dims[1] : a.dims[2];
  const int kb = d.trans_b ? b.dims[2] : b.dims[1];
  s.n = d.trans_b ? b.dims[1] : b.dims[2];
  if (kb != s.k || c.dims[1] != s.m || c.dims[2] != s.n) return CNNL_STATUS_BAD_PARAM;
  if ((s.batch_a != s.batch && s.batch_a != 1) || (s.batch_b != s.batch && s.batch_b != 1))
    return CNNL_STATUS_BAD_PARAM;
  if (s.m == 0 || s.n == 0 || s.k == 0 || s.batch == 0) return CNNL_STATUS_BAD_PARAM;
  *shape = s;
  return CNNL_STATUS_SUCCESS;
}

size_t matmul_workspace(const MatmulShape& s) {
  // A per-batch f32 tile of C, capped: enough that a plugin which ignores the size notices.
  const uint64_t tile = static_cast<uint64_t>(s.m) * static_cast<uint64_t>(s.n) * 4;
  return static_cast<size_t>(256 + (tile < (1u << 20) ? tile : (1u << 20)));
}

}  // namespace

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlGetBatchMatMulAlgoHeuristic(
    cnnlHandle_t handle, cnnlMatMulDescriptor_t desc, cnnlTensorDescriptor_t a_desc,
    cnnlTensorDescriptor_t b_desc, cnnlTensorDescriptor_t c_desc, cnnlMatMulPrefer_t preference,
    int requested_algo_count, cnnlMatMulHeuristicResult_t result_array[], int* return_algo_count) {
  if (handle == nullptr || desc == nullptr || a_desc == nullptr || b_desc == nullptr ||
      preference != nullptr || c_desc == nullptr || requested_algo_count < 1 ||
      result_array == nullptr || result_array[0] == nullptr || return_algo_count == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  MatmulShape s;
  if (cnnlStatus_t st = check_matmul(*desc, *a_desc, *b_desc, *c_desc, &s)) return st;
  result_array[0]->workspace = matmul_workspace(s);
  result_array[0]->valid = true;
  *return_algo_count = 1;
  return CNNL_STATUS_SUCCESS;
}

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlGetBatchMatMulHeuristicResult(
    cnnlMatMulHeuristicResult_t result, cnnlMatMulAlgo_t algo, size_t* workspace_size) {
  if (result == nullptr || algo == nullptr || workspace_size == nullptr || !result->valid)
    return CNNL_STATUS_BAD_PARAM;
  algo->workspace = result->workspace;
  *workspace_size = result->workspace;
  return CNNL_STATUS_SUCCESS;
}

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlBatchMatMulBCast_v2(
    cnnlHandle_t handle, cnnlMatMulDescriptor_t desc, cnnlMatMulAlgo_t algo, const void* alpha,
    const cnnlTensorDescriptor_t a_desc, const void* a, const cnnlTensorDescriptor_t b_desc,
    const void* b, const void* beta, const cnnlTensorDescriptor_t c_desc, void* c, void* workspace,
    size_t workspace_size) {
  if (handle == nullptr || handle->queue == nullptr || desc == nullptr || algo == nullptr ||
      alpha == nullptr || beta == nullptr || a_desc == nullptr || b_desc == nullptr ||
      c_desc == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  MatmulShape s;
  if (cnnlStatus_t st = check_matmul(*desc, *a_desc, *b_desc, *c_desc, &s)) return st;
  const size_t required = matmul_workspace(s);
  if (workspace_size < required || algo->workspace < required) return CNNL_STATUS_BAD_PARAM;
  if (workspace == nullptr || xinhe_double::resolve(workspace, workspace_size) == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  const cnnlTensorStruct ta = *a_desc, tb = *b_desc, tc = *c_desc;
  if (operand(ta, a) == nullptr || operand(tb, b) == nullptr || operand(tc, c) == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  const cnnlMatMulStruct d = *desc;
  float alpha_v, beta_v;  // host scalars, read at the call
  std::memcpy(&alpha_v, alpha, 4);
  std::memcpy(&beta_v, beta, 4);
  xinhe_double::enqueue(handle->queue, [=]() -> std::string {
    const uint8_t* pa = operand(ta, a);
    const uint8_t* pb = operand(tb, b);
    uint8_t* pc = operand(tc, c);
    auto* ws = static_cast<uint8_t*>(xinhe_double::resolve(workspace, workspace_size));
    if (pa == nullptr || pb == nullptr || pc == nullptr || ws == nullptr)
      return "cnnlBatchMatMulBCast_v2: operand freed before the op ran";
    poison(ws, workspace_size);  // what a reused device buffer may hold
    const size_t ea = dtype_size(ta.dtype), ec = dtype_size(tc.dtype);
    const bool tf32 = d.allow_tf32 && ta.dtype == CNNL_DTYPE_FLOAT;
    // The f32 accumulators of one batch live in the workspace tile (rows that fit).
    float* acc = reinterpret_cast<float*>(ws + 256);
    const int64_t tile_rows = std::max<int64_t>(1, (workspace_size - 256) / 4 / s.n);
    for (int bi = 0; bi < s.batch; ++bi) {
      const uint8_t* ab = pa + (s.batch_a == 1 ? 0 : int64_t(bi) * ta.strides[0] * ea);
      const uint8_t* bb = pb + (s.batch_b == 1 ? 0 : int64_t(bi) * tb.strides[0] * ea);
      uint8_t* cb = pc + int64_t(bi) * tc.strides[0] * ec;
      for (int i0 = 0; i0 < s.m; i0 += static_cast<int>(tile_rows)) {
        const int i1 = static_cast<int>(std::min<int64_t>(s.m, i0 + tile_rows));
        for (int i = i0; i < i1; ++i)
          for (int j = 0; j < s.n; ++j) {
            float sum = 0.0f;
            for (int p = 0; p < s.k; ++p) {
              const int64_t ai =
                  d.trans_a ? int64_t(p) * ta.strides[1] + i : int64_t(i) * ta.strides[1] + p;
              const int64_t bi2 =
                  d.trans_b ? int64_t(j) * tb.strides[1] + p : int64_t(p) * tb.strides[1] + j;
              float x = load(ab + ai * ea, ta.dtype), y = load(bb + bi2 * ea, tb.dtype);
              if (tf32) {
                x = to_tf32(x);
                y = to_tf32(y);
              }
              sum += x * y;
            }
            acc[int64_t(i - i0) * s.n + j] = sum;
          }
        for (int i = i0; i < i1; ++i)
          for (int j = 0; j < s.n; ++j) {
            uint8_t* out = cb + (int64_t(i) * tc.strides[1] + j) * ec;
            float r = alpha_v * acc[int64_t(i - i0) * s.n + j];
            if (d.use_beta) r += beta_v * load(out, tc.dtype);
            store(out, tc.dtype, r);
          }
      }
    }
    return "";
  });
  return CNNL_STATUS_SUCCESS;
}

// ---- Flash attention -----------------------------------------------------------------------

XINHE_DOUBLE_EXPORT cnnlStatus_t
cnnlCreateFlashAttentionDescriptor(cnnlFlashAttentionDescriptor_t* desc) {
  if (desc == nullptr) return CNNL_STATUS_BAD_PARAM;
  *desc = new cnnlFlashAttentionStruct();
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t
cnnlDestroyFlashAttentionDescriptor(cnnlFlashAttentionDescriptor_t desc) {
  delete desc;
  return CNNL_STATUS_SUCCESS;
}
XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlSetFlashAttentionDescriptor(
    cnnlFlashAttentionDescriptor_t desc, cnnlDataType_t compute_dtype,
    cnnlActivationPreference_t /*preference*/, cnnlAttentionMaskMode_t mask_mode, bool is_pack_mode,
    bool is_out_zero, bool return_softmax, int max_seq_q, int max_seq_kv, float dropout_p,
    float softmax_scale) {
  if (desc == nullptr || max_seq_q < 0 || max_seq_kv < 0 || !std::isfinite(softmax_scale) ||
      (mask_mode != CNNL_ATTN_MASK_NONE && mask_mode != CNNL_ATTN_MASK_CAUSAL))
    return CNNL_STATUS_BAD_PARAM;
  desc->compute_dtype = compute_dtype;
  desc->mask = mask_mode;
  desc->pack = is_pack_mode;
  desc->out_zero = is_out_zero;
  desc->return_softmax = return_softmax;
  desc->max_seq_q = max_seq_q;
  desc->max_seq_kv = max_seq_kv;
  desc->dropout = dropout_p;
  desc->scale = softmax_scale;
  const char* causal = std::getenv("XINHE_CNNL_DOUBLE_CAUSAL");
  if (causal == nullptr || causal[0] == '\0' || std::strcmp(causal, "top_left") == 0)
    desc->bottom_right = false;
  else if (std::strcmp(causal, "bottom_right") == 0)
    desc->bottom_right = true;
  else
    return CNNL_STATUS_BAD_PARAM;  // a typo in a test's environment
  desc->set = true;
  return CNNL_STATUS_SUCCESS;
}

#ifndef XINHE_CNNL_DOUBLE_NO_SLIDING_WINDOW
XINHE_DOUBLE_EXPORT cnnlStatus_t
cnnlSetFlashAttentionSlidingWindowSize(cnnlFlashAttentionDescriptor_t desc, int window_size_left,
                                       int window_size_right, int dilation) {
  if (desc == nullptr || dilation < 1 || window_size_left < -1 || window_size_right < -1)
    return CNNL_STATUS_BAD_PARAM;
  // Windows themselves are not modelled (their alignment is not documented either).
  if (window_size_left != -1 || window_size_right != -1 || dilation != 1)
    return CNNL_STATUS_NOT_SUPPORTED;
  desc->window_set = true;
  return CNNL_STATUS_SUCCESS;
}
constexpr bool kWindowRequired = true;
#else
constexpr bool kWindowRequired = false;  // an older CNNL: no such function, no windows
#endif

namespace {

bool packed_3d(const cnnlTensorStruct& t) {
  return t.set && t.dims.size() == 3 && t.strides[2] == 1 && contiguous(t);
}

cnnlStatus_t check_attention(const cnnlFlashAttentionStruct& f, const cnnlTensorStruct& q,
                             const cnnlTensorStruct& k, const cnnlTensorStruct& v) {
  if (!f.set || !q.set || !k.set || !v.set) return CNNL_STATUS_BAD_PARAM;
  if (kWindowRequired && !f.window_set) return CNNL_STATUS_BAD_PARAM;  // window never set
  if (q.dtype == CNNL_DTYPE_DOUBLE || f.compute_dtype == CNNL_DTYPE_DOUBLE)
    return CNNL_STATUS_NOT_SUPPORTED;
  if (q.dtype != CNNL_DTYPE_HALF && q.dtype != CNNL_DTYPE_BFLOAT16)
    return CNNL_STATUS_NOT_SUPPORTED;  // f16 and bf16 only
  if (k.dtype != q.dtype || v.dtype != q.dtype || f.compute_dtype != CNNL_DTYPE_FLOAT)
    return CNNL_STATUS_BAD_PARAM;
  if (!f.pack || f.dropout != 0.0f || f.return_softmax) return CNNL_STATUS_NOT_SUPPORTED;
  if (!packed_3d(q) || !packed_3d(k) || !packed_3d(v)) return CNNL_STATUS_BAD_PARAM;  // layout
  const int hq = q.dims[1], hkv = k.dims[1], dim = q.dims[2];
  if (dim < 1 || dim > 256) return CNNL_STATUS_NOT_SUPPORTED;  // head dim at most 256
  if (k.dims[2] != dim || v.dims != k.dims || hkv < 1 || hq % hkv != 0)
    return CNNL_STATUS_BAD_PARAM;
  return CNNL_STATUS_SUCCESS;
}

size_t attention_workspace(const cnnlFlashAttentionStruct& f, const cnnlTensorStruct& q) {
  // Row statistics of one head's query block: an f32 max and sum per query row.
  return 512 + static_cast<size_t>(f.max_seq_q) * 8 * static_cast<size_t>(q.dims[1]);
}

}  // namespace

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlGetFlashAttentionForwardWorkspaceSize(
    cnnlHandle_t handle, cnnlFlashAttentionDescriptor_t desc, cnnlTensorDescriptor_t q_desc,
    cnnlTensorDescriptor_t k_desc, cnnlTensorDescriptor_t v_desc, size_t* workspace_size) {
  if (handle == nullptr || desc == nullptr || q_desc == nullptr || k_desc == nullptr ||
      v_desc == nullptr || workspace_size == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  if (cnnlStatus_t st = check_attention(*desc, *q_desc, *k_desc, *v_desc)) return st;
  *workspace_size = attention_workspace(*desc, *q_desc);
  return CNNL_STATUS_SUCCESS;
}

XINHE_DOUBLE_EXPORT cnnlStatus_t cnnlFlashAttentionForward(
    cnnlHandle_t handle, cnnlFlashAttentionDescriptor_t desc, cnnlTensorDescriptor_t q_desc,
    const void* q, cnnlTensorDescriptor_t k_desc, const void* k, cnnlTensorDescriptor_t v_desc,
    const void* v, cnnlTensorDescriptor_t cu_seqlens_q_desc, const void* cu_seqlens_q,
    cnnlTensorDescriptor_t cu_seqlens_kv_desc, const void* cu_seqlens_kv, const size_t* rng_state,
    void* workspace, size_t workspace_size, cnnlTensorDescriptor_t dropout_mask_desc,
    void* dropout_mask, cnnlTensorDescriptor_t softmax_lse_desc, void* softmax_lse,
    cnnlTensorDescriptor_t output_desc, void* output) {
  if (handle == nullptr || handle->queue == nullptr || desc == nullptr || q_desc == nullptr ||
      k_desc == nullptr || v_desc == nullptr || cu_seqlens_q_desc == nullptr ||
      cu_seqlens_kv_desc == nullptr || softmax_lse_desc == nullptr || output_desc == nullptr ||
      rng_state == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  // Host memory, read during the call (seed and offset): a device pointer faults here.
  // Without dropout the values are not used (torch_mlu zeroes them or leaves them unset).
  volatile size_t rng_read = rng_state[0] + rng_state[1];
  (void)rng_read;
  if (dropout_mask_desc != nullptr || dropout_mask != nullptr) return CNNL_STATUS_NOT_SUPPORTED;
  if (cnnlStatus_t st = check_attention(*desc, *q_desc, *k_desc, *v_desc)) return st;
  const cnnlTensorStruct tq = *q_desc, tk = *k_desc, tv = *v_desc, to = *output_desc,
                         tl = *softmax_lse_desc, tcq = *cu_seqlens_q_desc,
                         tck = *cu_seqlens_kv_desc;
  const cnnlFlashAttentionStruct f = *desc;
  if (to.dims != tq.dims || to.dtype != tq.dtype || !packed_3d(to)) return CNNL_STATUS_BAD_PARAM;
  if (!tl.set || tl.dtype != CNNL_DTYPE_FLOAT || tl.dims.size() != 2 || tl.dims[0] != tq.dims[1] ||
      tl.dims[1] != tq.dims[0] || !contiguous(tl))
    return CNNL_STATUS_BAD_PARAM;
  if (!tcq.set || !tck.set || tcq.dtype != CNNL_DTYPE_INT32 || tck.dtype != CNNL_DTYPE_INT32 ||
      tcq.dims.size() != 1 || tcq.dims != tck.dims || tcq.dims[0] < 2 || !contiguous(tcq) ||
      !contiguous(tck))
    return CNNL_STATUS_BAD_PARAM;
  const size_t required = attention_workspace(f, tq);
  if (workspace_size < required || workspace == nullptr ||
      xinhe_double::resolve(workspace, workspace_size) == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  if (operand(tq, q) == nullptr || operand(tk, k) == nullptr || operand(tv, v) == nullptr ||
      operand(to, output) == nullptr || operand(tl, softmax_lse) == nullptr ||
      operand(tcq, cu_seqlens_q) == nullptr || operand(tck, cu_seqlens_kv) == nullptr)
    return CNNL_STATUS_BAD_PARAM;
  xinhe_double::enqueue(handle->queue, [=]() -> std::string {
    const uint8_t* pq = operand(tq, q);
    const uint8_t* pk = operand(tk, k);
    const uint8_t* pv = operand(tv, v);
    uint8_t* po = operand(to, output);
    auto* pl = reinterpret_cast<float*>(operand(tl, softmax_lse));
    const uint8_t* pcq = operand(tcq, cu_seqlens_q);
    const uint8_t* pck = operand(tck, cu_seqlens_kv);
    auto* ws = static_cast<uint8_t*>(xinhe_double::resolve(workspace, workspace_size));
    if (!pq || !pk || !pv || !po || !pl || !pcq || !pck || !ws)
      return "cnnlFlashAttentionForward: operand freed before the op ran";
    poison(ws, workspace_size);
    const int batch = tcq.dims[0] - 1, total_q = tq.dims[0], total_kv = tk.dims[0];
    const int hq = tq.dims[1], hkv = tk.dims[1], dim = tq.dims[2], group = hq / hkv;
    const size_t es = dtype_size(tq.dtype);
    std::vector<int32_t> cq(batch + 1), ck(batch + 1);
    std::memcpy(cq.data(), pcq, cq.size() * 4);
    std::memcpy(ck.data(), pck, ck.size() * 4);
    if (cq[0] != 0 || ck[0] != 0 || cq[batch] > total_q || ck[batch] > total_kv)
      return "cnnlFlashAttentionForward: cumulative sequence lengths out of range";
    std::vector<float> scores, acc(dim);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int b = 0; b < batch; ++b) {
      const int q0 = cq[b], sq = cq[b + 1] - cq[b], k0 = ck[b], skv = ck[b + 1] - ck[b];
      if (sq < 0 || skv < 0 || sq > f.max_seq_q || skv > f.max_seq_kv)
        return "cnnlFlashAttentionForward: a sequence is longer than max_seq_q/max_seq_kv";
      for (int h = 0; h < hq; ++h) {
        const int hk = h / group;
        for (int i = 0; i < sq; ++i) {
          const uint8_t* qi = pq + (int64_t(q0 + i) * hq + h) * dim * es;
          uint8_t* oi = po + (int64_t(q0 + i) * hq + h) * dim * es;
          const int last = f.bottom_right ? i + skv - sq : i;  // the last key query i sees
          const int visible =
              f.mask == CNNL_ATTN_MASK_CAUSAL ? std::min(skv, std::max(0, last + 1)) : skv;
          if (visible == 0) {  // not defined by the guide: poison
            for (int d = 0; d < dim; ++d) store(oi + d * es, tq.dtype, nan);
            pl[int64_t(h) * total_q + q0 + i] = nan;
            continue;
          }
          scores.assign(visible, 0.0f);
          float best = -std::numeric_limits<float>::infinity();
          for (int j = 0; j < visible; ++j) {
            const uint8_t* kj = pk + (int64_t(k0 + j) * hkv + hk) * dim * es;
            float s = 0.0f;
            for (int d = 0; d < dim; ++d)
              s += load(qi + d * es, tq.dtype) * load(kj + d * es, tq.dtype);
            scores[j] = s;
            best = std::max(best, f.scale >= 0.0f ? s : -s);
          }
          const float m = f.scale >= 0.0f ? best : -best;
          float sum = 0.0f;
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int j = 0; j < visible; ++j) {
            const float p = std::exp(f.scale * (scores[j] - m));
            sum += p;
            const uint8_t* vj = pv + (int64_t(k0 + j) * hkv + hk) * dim * es;
            for (int d = 0; d < dim; ++d) acc[d] += p * load(vj + d * es, tq.dtype);
          }
          for (int d = 0; d < dim; ++d) store(oi + d * es, tq.dtype, acc[d] / sum);
          pl[int64_t(h) * total_q + q0 + i] = f.scale * m + std::log(sum);
        }
      }
    }
    return "";
  });
  return CNNL_STATUS_SUCCESS;
}
