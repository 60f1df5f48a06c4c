// GEMM and attention: the core side of ops.h, over one internal op object.
//
// create validates the description completely (sizes, dtypes, leading dimensions, strides,
// aliasing of outputs, and every element and byte extent with overflow checks), then hands a
// copy to the backend's op_create. The byte extent of every operand is computed here once, so
// run can check each operand's range against its buffer, and outputs against overlap with any
// other operand, before the backend sees anything. A well-formed op the backend cannot run is
// still created; check and run report the backend's UNIMPLEMENTED reason.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "core.h"

namespace {

using xinhe::core::Status;

// Operand slots used by both ops; indices match XINHE_GEMM_ARG_* / XINHE_ATTENTION_ARG_*.
struct Op {
  xinhe_device_t device = nullptr;
  xinhe_op_kind_t kind = XINHE_OP_GEMM;
  xinhe_gemm_desc_t gemm{};
  xinhe_attention_desc_t attention{};
  xinhe_be_op_t be = nullptr;  // NULL when op_create said UNIMPLEMENTED
  Status unsupported;          // why check/run fail; empty when the op can run
  uint64_t operand_bytes[XINHE_OP_MAX_OPERANDS] = {};
  uint64_t operand_element_size[XINHE_OP_MAX_OPERANDS] = {};
  uint64_t workspace_bytes = 0;
  std::string impl_name;

  ~Op() {
    if (be != nullptr) device->api->op_destroy(be);
  }
};

}  // namespace

struct xinhe_gemm_s {
  Op op;
};
struct xinhe_attention_s {
  Op op;
};

namespace {

const char* backend_of(xinhe_device_t device) {
  return device != nullptr ? device->backend_name.c_str() : "";
}

#define XH_FAIL(code, device, ...)                                                               \
  ::xinhe::core::make_status(XINHE_STATUS_##code, backend_of(device), kCall, __FILE__, __LINE__, \
                             __VA_ARGS__)

using u64 = uint64_t;

// One tensor dimension: its size and element stride.
struct Dim {
  int64_t size;
  int64_t stride;
};

// Elements spanned by a strided tensor: 1 + sum (size - 1) * stride, or 0 when any size is
// 0. False on uint64 overflow. Sizes and strides are already known to be >= 0.
bool span_elements(const Dim* dims, int rank, u64* out) {
  for (int i = 0; i < rank; ++i) {
    if (dims[i].size == 0) {
      *out = 0;
      return true;
    }
  }
  u64 span = 1;
  for (int i = 0; i < rank; ++i) {
    u64 term = 0;
    if (__builtin_mul_overflow(static_cast<u64>(dims[i].size - 1), static_cast<u64>(dims[i].stride),
                               &term) ||
        __builtin_add_overflow(span, term, &span)) {
      return false;
    }
  }
  *out = span;
  return true;
}

// True when no two index tuples of the tensor map to the same element. Sufficient check:
// sort the dimensions of size > 1 by stride; each stride must be at least the span of all
// smaller dimensions. Assumes span_elements succeeded (no overflow).
bool has_no_self_alias(const Dim* dims, int rank) {
  Dim sorted[4];
  int count = 0;
  for (int i = 0; i < rank; ++i) {
    if (dims[i].size == 0) return true;  // an empty tensor has no elements to alias
    if (dims[i].size > 1) sorted[count++] = dims[i];
  }
  // Insertion sort: at most 4 entries (std::sort here trips a GCC 12 -Warray-bounds false
  // positive).
  for (int i = 1; i < count; ++i) {
    for (int j = i; j > 0 && sorted[j].stride < sorted[j - 1].stride; --j) {
      std::swap(sorted[j], sorted[j - 1]);
    }
  }
  u64 span = 1;
  for (int i = 0; i < count; ++i) {
    if (static_cast<u64>(sorted[i].stride) < span) return false;
    span += static_cast<u64>(sorted[i].size - 1) * static_cast<u64>(sorted[i].stride);
  }
  return true;
}

bool to_bytes(u64 elements, xinhe_dtype_t dtype, u64* out) {
  return !__builtin_mul_overflow(elements, static_cast<u64>(xinhe_dtype_size(dtype)), out);
}

// The integer a caller stored in an enum field. C callers may store any int there, and loading
// an out-of-range value as the C++ enum type is undefined, so the bytes are read as the
// underlying integer instead.
template <typename Enum>
int64_t raw_enum(const Enum& field) {
  std::underlying_type_t<Enum> value;
  std::memcpy(&value, &field, sizeof(value));
  return static_cast<int64_t>(value);
}

bool is_known_dtype(const xinhe_dtype_t& dtype) {
  const int64_t value = raw_enum(dtype);
  return value >= 0 && value < XINHE_DTYPE_COUNT;
}

// ---- GEMM description -------------------------------------------------------------------------

// Leading dimensions must be >= max(1, columns) even for an empty matrix, as in BLAS: a zero
// ld is never meaningful and rejecting it keeps every backend's address math simple.
xinhe_status_t validate_gemm(const char* kCall, xinhe_device_t device, const xinhe_gemm_desc_t& d,
                             Op* op) {
  if (!is_known_dtype(d.ab_dtype)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "ab_dtype %lld is not a known dtype",
                   static_cast<long long>(raw_enum(d.ab_dtype)));
  }
  if (!is_known_dtype(d.c_dtype)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "c_dtype %lld is not a known dtype",
                   static_cast<long long>(raw_enum(d.c_dtype)));
  }
  if (d.c_dtype != d.ab_dtype && d.c_dtype != XINHE_DTYPE_F32) {
    return XH_FAIL(INVALID_ARGUMENT, device, "c_dtype %s must be ab_dtype (%s) or f32",
                   xinhe_dtype_name(d.c_dtype), xinhe_dtype_name(d.ab_dtype));
  }
  if ((d.trans_a != 0 && d.trans_a != 1) || (d.trans_b != 0 && d.trans_b != 1)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "trans_a (%d) and trans_b (%d) must be 0 or 1",
                   d.trans_a, d.trans_b);
  }
  if (d.m < 0 || d.n < 0 || d.k < 0) {
    return XH_FAIL(INVALID_ARGUMENT, device, "m, n, k (%lld, %lld, %lld) must be >= 0",
                   static_cast<long long>(d.m), static_cast<long long>(d.n),
                   static_cast<long long>(d.k));
  }
  if (d.batch < 1) {
    return XH_FAIL(INVALID_ARGUMENT, device, "batch %lld must be >= 1",
                   static_cast<long long>(d.batch));
  }
  if (d.stride_a < 0 || d.stride_b < 0 || d.stride_c < 0) {
    return XH_FAIL(INVALID_ARGUMENT, device, "batch strides must be >= 0");
  }
  struct Matrix {
    const char* name;
    int64_t rows, cols, ld, stride;
    xinhe_dtype_t dtype;
    int slot;
  };
  const Matrix matrices[3] = {
      {"A", d.trans_a ? d.k : d.m, d.trans_a ? d.m : d.k, d.lda, d.stride_a, d.ab_dtype,
       XINHE_GEMM_ARG_A},
      {"B", d.trans_b ? d.n : d.k, d.trans_b ? d.k : d.n, d.ldb, d.stride_b, d.ab_dtype,
       XINHE_GEMM_ARG_B},
      {"C", d.m, d.n, d.ldc, d.stride_c, d.c_dtype, XINHE_GEMM_ARG_C},
  };
  for (const Matrix& mat : matrices) {
    const int64_t min_ld = mat.cols;  // ops.h: ld >= cols; an empty matrix may use 0
    if (mat.ld < min_ld) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "ld%c %lld is too small: %s is (%lld, %lld) row-major, needs ld >= %lld",
                     mat.name[0] + ('a' - 'A'), static_cast<long long>(mat.ld), mat.name,
                     static_cast<long long>(mat.rows), static_cast<long long>(mat.cols),
                     static_cast<long long>(min_ld));
    }
    const Dim dims[3] = {{d.batch, mat.stride}, {mat.rows, mat.ld}, {mat.cols, 1}};
    u64 elements = 0, bytes = 0;
    if (!span_elements(dims, 3, &elements) || !to_bytes(elements, mat.dtype, &bytes)) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "the extent of %s overflows 64 bits (rows %lld, cols %lld, ld %lld, "
                     "batch %lld, stride %lld)",
                     mat.name, static_cast<long long>(mat.rows), static_cast<long long>(mat.cols),
                     static_cast<long long>(mat.ld), static_cast<long long>(d.batch),
                     static_cast<long long>(mat.stride));
    }
    if (mat.slot == XINHE_GEMM_ARG_C && !has_no_self_alias(dims, 3)) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "stride_c %lld may make batches of C overlap (ldc %lld, C is (%lld, %lld)): "
                     "an output's strides, sorted, must each cover the span of the smaller "
                     "dimensions (ops.h)",
                     static_cast<long long>(d.stride_c), static_cast<long long>(d.ldc),
                     static_cast<long long>(d.m), static_cast<long long>(d.n));
    }
    op->operand_bytes[mat.slot] = bytes;
    op->operand_element_size[mat.slot] = xinhe_dtype_size(mat.dtype);
  }
  return nullptr;
}

// ---- Attention description --------------------------------------------------------------------

xinhe_status_t validate_attention(const char* kCall, xinhe_device_t device,
                                  const xinhe_attention_desc_t& d, Op* op) {
  if (!is_known_dtype(d.dtype)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "dtype %lld is not a known dtype",
                   static_cast<long long>(raw_enum(d.dtype)));
  }
  if (d.batch < 0 || d.heads_q < 0 || d.heads_kv < 0 || d.seq_q < 0 || d.seq_kv < 0) {
    return XH_FAIL(INVALID_ARGUMENT, device,
                   "batch, heads_q, heads_kv, seq_q, seq_kv (%lld, %lld, %lld, %lld, %lld) must "
                   "be >= 0",
                   static_cast<long long>(d.batch), static_cast<long long>(d.heads_q),
                   static_cast<long long>(d.heads_kv), static_cast<long long>(d.seq_q),
                   static_cast<long long>(d.seq_kv));
  }
  if (d.heads_q > 0 && d.heads_kv < 1) {
    return XH_FAIL(INVALID_ARGUMENT, device, "heads_kv must be >= 1 when heads_q > 0");
  }
  if (d.heads_kv > 0 && d.heads_q % d.heads_kv != 0) {
    return XH_FAIL(INVALID_ARGUMENT, device, "heads_q %lld is not a multiple of heads_kv %lld",
                   static_cast<long long>(d.heads_q), static_cast<long long>(d.heads_kv));
  }
  if (d.head_dim < 1 || d.head_dim > 256) {
    return XH_FAIL(INVALID_ARGUMENT, device, "head_dim %lld is not in [1, 256]",
                   static_cast<long long>(d.head_dim));
  }
  if (!std::isfinite(d.scale)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "scale must be finite");
  }
  const int64_t mask = raw_enum(d.mask);
  if (mask != XINHE_ATTENTION_MASK_NONE && mask != XINHE_ATTENTION_MASK_CAUSAL) {
    return XH_FAIL(INVALID_ARGUMENT, device, "mask %lld is not a valid xinhe_attention_mask_t",
                   static_cast<long long>(mask));
  }
  if (d.with_lse != 0 && d.with_lse != 1) {
    return XH_FAIL(INVALID_ARGUMENT, device, "with_lse %d must be 0 or 1", d.with_lse);
  }
  struct Tensor {
    const char* name;
    int64_t heads, seq;
    const int64_t* strides;
    int slot;
    bool output;
  };
  const Tensor tensors[4] = {
      {"Q", d.heads_q, d.seq_q, d.q_strides, XINHE_ATTENTION_ARG_Q, false},
      {"K", d.heads_kv, d.seq_kv, d.k_strides, XINHE_ATTENTION_ARG_K, false},
      {"V", d.heads_kv, d.seq_kv, d.v_strides, XINHE_ATTENTION_ARG_V, false},
      {"O", d.heads_q, d.seq_q, d.o_strides, XINHE_ATTENTION_ARG_O, true},
  };
  const u64 element_size = xinhe_dtype_size(d.dtype);
  for (const Tensor& t : tensors) {
    for (int i = 0; i < 4; ++i) {
      if (t.strides[i] < 0) {
        return XH_FAIL(INVALID_ARGUMENT, device, "%s stride %d is %lld, must be >= 0", t.name, i,
                       static_cast<long long>(t.strides[i]));
      }
    }
    const Dim dims[4] = {{d.batch, t.strides[0]},
                         {t.heads, t.strides[1]},
                         {t.seq, t.strides[2]},
                         {d.head_dim, t.strides[3]}};
    u64 elements = 0, bytes = 0;
    if (!span_elements(dims, 4, &elements) || !to_bytes(elements, d.dtype, &bytes)) {
      return XH_FAIL(INVALID_ARGUMENT, device, "the extent of %s overflows 64 bits", t.name);
    }
    if (t.output && !has_no_self_alias(dims, 4)) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "O strides (%lld, %lld, %lld, %lld) may make elements of O alias each "
                     "other: an output's strides, sorted, must each cover the span of the "
                     "smaller dimensions (ops.h)",
                     static_cast<long long>(t.strides[0]), static_cast<long long>(t.strides[1]),
                     static_cast<long long>(t.strides[2]), static_cast<long long>(t.strides[3]));
    }
    op->operand_bytes[t.slot] = bytes;
    op->operand_element_size[t.slot] = element_size;
  }
  if (d.with_lse) {
    for (int i = 0; i < 3; ++i) {
      if (d.lse_strides[i] < 0) {
        return XH_FAIL(INVALID_ARGUMENT, device, "LSE stride %d is %lld, must be >= 0", i,
                       static_cast<long long>(d.lse_strides[i]));
      }
    }
    const Dim dims[3] = {
        {d.batch, d.lse_strides[0]}, {d.heads_q, d.lse_strides[1]}, {d.seq_q, d.lse_strides[2]}};
    u64 elements = 0, bytes = 0;
    if (!span_elements(dims, 3, &elements) || !to_bytes(elements, XINHE_DTYPE_F32, &bytes)) {
      return XH_FAIL(INVALID_ARGUMENT, device, "the extent of LSE overflows 64 bits");
    }
    if (!has_no_self_alias(dims, 3)) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "LSE strides (%lld, %lld, %lld) may make elements of LSE alias each other: "
                     "an output's strides, sorted, must each cover the span of the smaller "
                     "dimensions (ops.h)",
                     static_cast<long long>(d.lse_strides[0]),
                     static_cast<long long>(d.lse_strides[1]),
                     static_cast<long long>(d.lse_strides[2]));
    }
    op->operand_bytes[XINHE_ATTENTION_ARG_LSE] = bytes;
    op->operand_element_size[XINHE_ATTENTION_ARG_LSE] = 4;
  }
  return nullptr;
}

// ---- Shared create / check / run --------------------------------------------------------------

// backend.h: entries must not throw. What escapes one anyway (a C++ plugin's std::bad_alloc) is
// caught here, at the boundary, and becomes INTERNAL naming the entry, so a plugin bug cannot
// unwind through the core into the caller.
template <typename Call>
xinhe_status_t guarded(const char* kCall, xinhe_device_t device, const char* entry, Call&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return XH_FAIL(INTERNAL, device, "backend entry %s threw: %s", entry, e.what());
  } catch (...) {
    return XH_FAIL(INTERNAL, device, "backend entry %s threw a non-standard exception", entry);
  }
}

// An op whose output has no element: the core never calls op_run for it (backend.h). K == 0
// and Skv == 0 still have outputs (C = beta * C; O = 0, LSE = -inf) and are run.
bool output_is_empty(const Op& op) {
  if (op.kind == XINHE_OP_GEMM) return op.gemm.m == 0 || op.gemm.n == 0;
  return op.attention.batch == 0 || op.attention.heads_q == 0 || op.attention.seq_q == 0;
}

// After validation: asks the backend for its op and records whether it can run.
xinhe_status_t create_backend_op(const char* kCall, Op* op) {
  xinhe_device_t device = op->device;
  if (xinhe_status_t lost = xinhe::core::device_lost_status(device, kCall)) return lost;
  xinhe_be_op_desc_t desc;
  std::memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.kind = op->kind;
  desc.gemm = op->kind == XINHE_OP_GEMM ? &op->gemm : nullptr;
  desc.attention = op->kind == XINHE_OP_ATTENTION ? &op->attention : nullptr;
  const xinhe_backend_api_t* api = device->api;

  Status status(xinhe::core::track_device_status(device, guarded(kCall, device, "op_create", [&] {
                                                   return api->op_create(device->be, &desc,
                                                                         &op->be);
                                                 })));
  if (!status.ok()) {
    op->be = nullptr;  // a failed create leaves nothing to destroy
    if (status.code() != XINHE_STATUS_UNIMPLEMENTED) return status.release();
    op->unsupported = std::move(status);
    op->impl_name = device->backend_name;
    return nullptr;
  }
  if (op->be == nullptr) {
    return XH_FAIL(INTERNAL, device, "backend op_create returned no op");
  }
  // Op handles are immutable, so the backend's verdict and workspace are taken once.
  op->unsupported.reset(xinhe::core::track_device_status(
      device, guarded(kCall, device, "op_check", [&] { return api->op_check(op->be); })));
  if (op->unsupported.ok() && api->op_workspace_size != nullptr) {
    Status ws(xinhe::core::track_device_status(
        device, guarded(kCall, device, "op_workspace_size",
                        [&] { return api->op_workspace_size(op->be, &op->workspace_bytes); })));
    if (!ws.ok()) return ws.release();
  }
  const char* impl = nullptr;
  if (api->op_impl_name != nullptr) {
    try {
      impl = api->op_impl_name(op->be);
    } catch (...) {
      impl = nullptr;  // the backend name stands in
    }
  }
  // ops.h: the backend's name when check fails, whatever the backend reports then.
  op->impl_name = impl != nullptr && op->unsupported.ok() ? impl : device->backend_name;
  return nullptr;
}

xinhe_status_t check_op(const char* kCall, const Op& op) {
  if (xinhe_status_t lost = xinhe::core::device_lost_status(op.device, kCall)) return lost;
  return xinhe::core::clone_status(op.unsupported.get());
}

struct Operand {
  const char* name;
  int slot;
  xinhe_buffer_t buffer;
  uint64_t offset;
  bool output;  // must not overlap any other operand
};

// Validates every operand of a run against op's extents and builds the backend arguments
// (stream is NULL when only the arguments are asked about, as by xinhe_*_run_impl_name).
// Operand offsets must be multiples of the element size (no backend can address a misaligned
// element efficiently, and GPU loads require it); the workspace only has to fit. An operand
// covering zero bytes may be NULL. Outputs (C, O, LSE, workspace) must not overlap any other
// operand; inputs may share memory.
xinhe_status_t validate_run(const char* kCall, const Op& op, xinhe_stream_t stream,
                            const Operand* operands, int count, xinhe_be_op_args_t* out_args) {
  xinhe_device_t device = op.device;
  if (stream != nullptr && stream->device != device) {
    return XH_FAIL(INVALID_ARGUMENT, device, "stream belongs to device %s, the op to device %s",
                   stream->device->name.c_str(), device->name.c_str());
  }
  uint64_t bytes[XINHE_OP_MAX_OPERANDS] = {};
  for (int i = 0; i < count; ++i) {
    const Operand& o = operands[i];
    const bool is_workspace =
        (op.kind == XINHE_OP_GEMM && o.slot == XINHE_GEMM_ARG_WORKSPACE) ||
        (op.kind == XINHE_OP_ATTENTION && o.slot == XINHE_ATTENTION_ARG_WORKSPACE);
    bytes[i] = is_workspace ? op.workspace_bytes : op.operand_bytes[o.slot];
    if (o.buffer == nullptr) {
      if (bytes[i] > 0) {
        return XH_FAIL(INVALID_ARGUMENT, device, "%s is NULL but needs %llu bytes", o.name,
                       static_cast<unsigned long long>(bytes[i]));
      }
      out_args->mem[o.slot] = xinhe_be_mem_t{nullptr, 0};
      continue;
    }
    if (o.buffer->device != device) {
      return XH_FAIL(INVALID_ARGUMENT, device, "%s belongs to device %s, the op to device %s",
                     o.name, o.buffer->device->name.c_str(), device->name.c_str());
    }
    const uint64_t element_size = is_workspace ? 1 : op.operand_element_size[o.slot];
    if (element_size > 1 && o.offset % element_size != 0) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "%s offset %llu is not a multiple of its element size %llu", o.name,
                     static_cast<unsigned long long>(o.offset),
                     static_cast<unsigned long long>(element_size));
    }
    if (!xinhe::core::range_fits(o.offset, bytes[i], o.buffer->size)) {
      return XH_FAIL(INVALID_ARGUMENT, device,
                     "%s needs %llu bytes at offset %llu, but its buffer holds %llu bytes", o.name,
                     static_cast<unsigned long long>(bytes[i]),
                     static_cast<unsigned long long>(o.offset),
                     static_cast<unsigned long long>(o.buffer->size));
    }
    out_args->mem[o.slot] = xinhe_be_mem_t{o.buffer->be, o.offset};
  }
  for (int i = 0; i < count; ++i) {
    if (!operands[i].output || operands[i].buffer == nullptr) continue;
    for (int j = 0; j < count; ++j) {
      if (j == i || operands[j].buffer != operands[i].buffer) continue;
      if (xinhe::core::ranges_overlap(operands[i].offset, bytes[i], operands[j].offset, bytes[j])) {
        return XH_FAIL(INVALID_ARGUMENT, device,
                       "%s [%llu, +%llu) overlaps %s [%llu, +%llu) in the same buffer",
                       operands[i].name, static_cast<unsigned long long>(operands[i].offset),
                       static_cast<unsigned long long>(bytes[i]), operands[j].name,
                       static_cast<unsigned long long>(operands[j].offset),
                       static_cast<unsigned long long>(bytes[j]));
      }
    }
  }
  return nullptr;
}

xinhe_status_t submit(const char* kCall, const Op& op, xinhe_stream_t stream,
                      const xinhe_be_op_args_t& args) {
  if (xinhe_status_t status = check_op(kCall, op)) return status;
  if (output_is_empty(op)) return nullptr;
  return xinhe::core::track_device_status(op.device, guarded(kCall, op.device, "op_run", [&] {
                                            return op.device->api->op_run(op.be, stream->be, &args);
                                          }));
}

// The implementation a run with args uses (backend.h's op_run_impl_name, else impl_name).
xinhe_status_t run_impl_name(const char* kCall, const Op& op, const xinhe_be_op_args_t& args,
                             const char** out_name) {
  if (xinhe_status_t status = check_op(kCall, op)) return status;
  const auto entry = op.device->api->op_run_impl_name;
  const char* name = entry != nullptr ? entry(op.be, &args) : nullptr;
  *out_name = name != nullptr ? name : op.impl_name.c_str();
  return nullptr;
}

// A GEMM run's arguments, validated, as the backend takes them.
xinhe_status_t gemm_backend_args(const char* kCall, const Op& op, xinhe_stream_t stream,
                                 const xinhe_gemm_args_t* args, xinhe_be_op_args_t* out) {
  if (args == nullptr) return XH_FAIL(INVALID_ARGUMENT, op.device, "args is NULL");
  if (args->struct_size < sizeof(xinhe_gemm_args_t)) {
    return XH_FAIL(INVALID_ARGUMENT, op.device, "args->struct_size is %zu, expected at least %zu",
                   args->struct_size, sizeof(xinhe_gemm_args_t));
  }
  const Operand operands[] = {
      {"A", XINHE_GEMM_ARG_A, args->a, args->a_offset, false},
      {"B", XINHE_GEMM_ARG_B, args->b, args->b_offset, false},
      {"C", XINHE_GEMM_ARG_C, args->c, args->c_offset, true},
      {"workspace", XINHE_GEMM_ARG_WORKSPACE, args->workspace, args->workspace_offset, true},
  };
  std::memset(out, 0, sizeof(*out));
  out->struct_size = sizeof(*out);
  out->kind = XINHE_OP_GEMM;
  out->alpha = args->alpha;
  out->beta = args->beta;
  return validate_run(kCall, op, stream, operands, 4, out);
}

// An attention run's arguments, validated, as the backend takes them.
xinhe_status_t attention_backend_args(const char* kCall, const Op& op, xinhe_stream_t stream,
                                      const xinhe_attention_args_t* args, xinhe_be_op_args_t* out) {
  if (args == nullptr) return XH_FAIL(INVALID_ARGUMENT, op.device, "args is NULL");
  if (args->struct_size < sizeof(xinhe_attention_args_t)) {
    return XH_FAIL(INVALID_ARGUMENT, op.device, "args->struct_size is %zu, expected at least %zu",
                   args->struct_size, sizeof(xinhe_attention_args_t));
  }
  if (!op.attention.with_lse && args->lse != nullptr) {
    return XH_FAIL(INVALID_ARGUMENT, op.device, "lse is given but the op has with_lse = 0");
  }
  const Operand operands[] = {
      {"Q", XINHE_ATTENTION_ARG_Q, args->q, args->q_offset, false},
      {"K", XINHE_ATTENTION_ARG_K, args->k, args->k_offset, false},
      {"V", XINHE_ATTENTION_ARG_V, args->v, args->v_offset, false},
      {"O", XINHE_ATTENTION_ARG_O, args->o, args->o_offset, true},
      {"LSE", XINHE_ATTENTION_ARG_LSE, args->lse, args->lse_offset, true},
      {"workspace", XINHE_ATTENTION_ARG_WORKSPACE, args->workspace, args->workspace_offset, true},
  };
  std::memset(out, 0, sizeof(*out));
  out->struct_size = sizeof(*out);
  out->kind = XINHE_OP_ATTENTION;
  return validate_run(kCall, op, stream, operands, 6, out);
}

}  // namespace

extern "C" {

// ---- GEMM -------------------------------------------------------------------------------------

xinhe_status_t xinhe_gemm_create(xinhe_device_t device, const xinhe_gemm_desc_t* desc,
                                 xinhe_gemm_t* out_gemm) {
  static const char* kCall = "xinhe_gemm_create";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (desc == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "desc is NULL");
  if (out_gemm == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "out_gemm is NULL");
  if (desc->struct_size < sizeof(xinhe_gemm_desc_t)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "desc->struct_size is %zu, expected at least %zu",
                   desc->struct_size, sizeof(xinhe_gemm_desc_t));
  }
  auto* gemm = new (std::nothrow) xinhe_gemm_s();
  if (gemm == nullptr) return XH_FAIL(OUT_OF_MEMORY, device, "host allocation failed");
  Op& op = gemm->op;
  op.device = device;
  op.kind = XINHE_OP_GEMM;
  std::memcpy(&op.gemm, desc, sizeof(op.gemm));
  op.gemm.struct_size = sizeof(op.gemm);
  xinhe_status_t status = validate_gemm(kCall, device, op.gemm, &op);
  if (status == nullptr) status = create_backend_op(kCall, &op);
  if (status != nullptr) {
    delete gemm;
    return status;
  }
  *out_gemm = gemm;
  return nullptr;
}

void xinhe_gemm_destroy(xinhe_gemm_t gemm) { delete gemm; }

xinhe_status_t xinhe_gemm_check(xinhe_gemm_t gemm) {
  static const char* kCall = "xinhe_gemm_check";
  if (gemm == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "gemm is NULL");
  return check_op(kCall, gemm->op);
}

xinhe_status_t xinhe_gemm_workspace_size(xinhe_gemm_t gemm, uint64_t* out_bytes) {
  static const char* kCall = "xinhe_gemm_workspace_size";
  if (gemm == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "gemm is NULL");
  if (out_bytes == nullptr) {
    return XH_FAIL(INVALID_ARGUMENT, gemm->op.device, "out_bytes is NULL");
  }
  *out_bytes = gemm->op.workspace_bytes;
  return nullptr;
}

const char* xinhe_gemm_impl_name(xinhe_gemm_t gemm) {
  return gemm == nullptr ? "" : gemm->op.impl_name.c_str();
}

xinhe_status_t xinhe_gemm_run(xinhe_gemm_t gemm, xinhe_stream_t stream,
                              const xinhe_gemm_args_t* args) {
  static const char* kCall = "xinhe_gemm_run";
  if (gemm == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "gemm is NULL");
  const Op& op = gemm->op;
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, op.device, "stream is NULL");
  xinhe_be_op_args_t be_args;
  if (xinhe_status_t s = gemm_backend_args(kCall, op, stream, args, &be_args)) return s;
  return submit(kCall, op, stream, be_args);
}

xinhe_status_t xinhe_gemm_run_impl_name(xinhe_gemm_t gemm, const xinhe_gemm_args_t* args,
                                        const char** out_name) {
  static const char* kCall = "xinhe_gemm_run_impl_name";
  if (gemm == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "gemm is NULL");
  const Op& op = gemm->op;
  if (out_name == nullptr) return XH_FAIL(INVALID_ARGUMENT, op.device, "out_name is NULL");
  xinhe_be_op_args_t be_args;
  if (xinhe_status_t s = gemm_backend_args(kCall, op, nullptr, args, &be_args)) return s;
  return run_impl_name(kCall, op, be_args, out_name);
}

// ---- Attention --------------------------------------------------------------------------------

xinhe_status_t xinhe_attention_create(xinhe_device_t device, const xinhe_attention_desc_t* desc,
                                      xinhe_attention_t* out_attention) {
  static const char* kCall = "xinhe_attention_create";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (desc == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "desc is NULL");
  if (out_attention == nullptr) {
    return XH_FAIL(INVALID_ARGUMENT, device, "out_attention is NULL");
  }
  if (desc->struct_size < sizeof(xinhe_attention_desc_t)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "desc->struct_size is %zu, expected at least %zu",
                   desc->struct_size, sizeof(xinhe_attention_desc_t));
  }
  auto* attention = new (std::nothrow) xinhe_attention_s();
  if (attention == nullptr) return XH_FAIL(OUT_OF_MEMORY, device, "host allocation failed");
  Op& op = attention->op;
  op.device = device;
  op.kind = XINHE_OP_ATTENTION;
  std::memcpy(&op.attention, desc, sizeof(op.attention));
  op.attention.struct_size = sizeof(op.attention);
  xinhe_status_t status = validate_attention(kCall, device, op.attention, &op);
  if (status == nullptr) status = create_backend_op(kCall, &op);
  if (status != nullptr) {
    delete attention;
    return status;
  }
  *out_attention = attention;
  return nullptr;
}

void xinhe_attention_destroy(xinhe_attention_t attention) { delete attention; }

xinhe_status_t xinhe_attention_check(xinhe_attention_t attention) {
  static const char* kCall = "xinhe_attention_check";
  if (attention == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "attention is NULL");
  return check_op(kCall, attention->op);
}

xinhe_status_t xinhe_attention_workspace_size(xinhe_attention_t attention, uint64_t* out_bytes) {
  static const char* kCall = "xinhe_attention_workspace_size";
  if (attention == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "attention is NULL");
  if (out_bytes == nullptr) {
    return XH_FAIL(INVALID_ARGUMENT, attention->op.device, "out_bytes is NULL");
  }
  *out_bytes = attention->op.workspace_bytes;
  return nullptr;
}

const char* xinhe_attention_impl_name(xinhe_attention_t attention) {
  return attention == nullptr ? "" : attention->op.impl_name.c_str();
}

xinhe_status_t xinhe_attention_run(xinhe_attention_t attention, xinhe_stream_t stream,
                                   const xinhe_attention_args_t* args) {
  static const char* kCall = "xinhe_attention_run";
  if (attention == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "attention is NULL");
  const Op& op = attention->op;
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, op.device, "stream is NULL");
  xinhe_be_op_args_t be_args;
  if (xinhe_status_t s = attention_backend_args(kCall, op, stream, args, &be_args)) return s;
  return submit(kCall, op, stream, be_args);
}

xinhe_status_t xinhe_attention_run_impl_name(xinhe_attention_t attention,
                                             const xinhe_attention_args_t* args,
                                             const char** out_name) {
  static const char* kCall = "xinhe_attention_run_impl_name";
  if (attention == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "attention is NULL");
  const Op& op = attention->op;
  if (out_name == nullptr) return XH_FAIL(INVALID_ARGUMENT, op.device, "out_name is NULL");
  xinhe_be_op_args_t be_args;
  if (xinhe_status_t s = attention_backend_args(kCall, op, nullptr, args, &be_args)) return s;
  return run_impl_name(kCall, op, be_args, out_name);
}

}  // extern "C"
