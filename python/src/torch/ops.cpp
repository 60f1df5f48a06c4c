// xinhe.torch ATen kernels for the PrivateUse1 ("xinhe") device: tensor creation, views and
// copies; mm, addmm and bmm on xinhe_gemm; scaled_dot_product_attention on xinhe_attention
// through PyTorch's SDPA hook for PrivateUse1 (_fused_sdp_choice -> overrideable); every other
// op through a CPU fallback. Each op call is counted by where it ran (xinhe or the fallback),
// with the FLOPs of the routed ops; XINHE_VERBOSE=dispatch logs each call; strict mode raises
// on a fallback. Python reads and controls this through torch.ops.xinhe_torch.*.
#include <ATen/ATen.h>
#include <ATen/EmptyTensor.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/SDPBackend.h>
#include <ATen/autocast_mode.h>
#include <ATen/native/CPUFallback.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/native/Resize.h>
#include <ATen/native/transformers/attention.h>
#include <ATen/ops/unfold_native.h>
#include <ATen/ops/view_as_complex_native.h>
#include <ATen/ops/view_as_real_native.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime.h"

namespace xinhe_torch {

// ---- Counters, log, strict mode ---------------------------------------------------------------

namespace {

struct OpCount {
  int64_t xinhe = 0, fallback = 0;
  double xinhe_flops = 0, fallback_flops = 0;
};
std::mutex g_count_mutex;
std::map<std::string, OpCount> g_counts;
// Strict mode is process-wide on purpose: the ops of a backward pass run on autograd's device
// threads, which a thread-local setting would miss. Each active strict() block is a token; the
// level in force is that of the block entered last among those still active (so a nested
// strict("off") relaxes an outer block, as the old save-and-restore did), else the base
// (set_strict). Blocks that interleave across threads then restore correctly whichever leaves
// first. Levels: 0 off, 1 routed, 2 all.
std::mutex g_strict_mutex;
int g_strict_base = 0;                   // guarded by g_strict_mutex
std::map<int64_t, int> g_strict_tokens;  // token (entry order) -> level; g_strict_mutex
int64_t g_strict_next_token = 1;         // guarded by g_strict_mutex
std::atomic<int> g_strict{0};            // the effective level, read by every op
const char* const kStrictNames[] = {"off", "routed", "all"};

int strict_level(const std::string& mode) {
  TORCH_CHECK(mode == "off" || mode == "routed" || mode == "all",
              "strict mode is 'off', 'routed' or 'all', not '", mode, "'");
  return mode == "off" ? 0 : mode == "routed" ? 1 : 2;
}

// With g_strict_mutex held.
void update_strict() {
  g_strict.store(g_strict_tokens.empty() ? g_strict_base : g_strict_tokens.rbegin()->second);
}
// XINHE_TORCH_COPY_FALLBACK=1 turns the in-place fallback on host memory off (for comparison).
const bool g_zero_copy_fallback = [] {
  const char* v = std::getenv("XINHE_TORCH_COPY_FALLBACK");
  return v == nullptr || std::string(v) != "1";
}();

bool verbose_dispatch() {
  static const bool on = [] {
    const char* v = std::getenv("XINHE_VERBOSE");
    if (v == nullptr) return false;
    const std::string s(v);
    return s.find("dispatch") != std::string::npos || s.find("all") != std::string::npos;
  }();
  return on;
}

const char* const kRoutedOps[] = {"aten::mm", "aten::addmm", "aten::bmm",
                                  "aten::_scaled_dot_product_fused_attention_overrideable",
                                  "aten::scaled_dot_product_attention"};

bool is_routed(const std::string& op) {
  for (const char* r : kRoutedOps) {
    if (op == r) return true;
  }
  return false;
}

}  // namespace

const char* strict_mode() { return kStrictNames[g_strict.load()]; }

void record_op(const char* op, Where where, double flops, const std::string& detail) {
  {
    std::lock_guard<std::mutex> lock(g_count_mutex);
    OpCount& c = g_counts[op];
    if (where == Where::kXinhe) {
      ++c.xinhe;
      c.xinhe_flops += flops;
    } else {
      ++c.fallback;
      c.fallback_flops += flops;
    }
  }
  if (verbose_dispatch()) {
    std::fprintf(stderr, "xinhe[dispatch] torch: %s ran on %s%s%s\n", op,
                 where == Where::kXinhe ? "xinhe" : "the CPU (fallback)",
                 detail.empty() ? "" : ": ", detail.c_str());
  }
  const int strict = g_strict.load();
  if (where == Where::kFallback && (strict == 2 || (strict == 1 && is_routed(op)))) {
    TORCH_CHECK(false, "xinhe strict mode (", kStrictNames[strict], "): ", op,
                " fell back to the CPU", detail.empty() ? "" : " (", detail,
                detail.empty() ? "" : ")");
  }
}

namespace {

// ---- Helpers ------------------------------------------------------------------------------------

int index_of(const at::Tensor& t) { return t.device().index(); }

xinhe_dtype_t to_xinhe(at::ScalarType t, bool* ok) {
  *ok = true;
  switch (t) {
    case at::kFloat:
      return XINHE_DTYPE_F32;
    case at::kHalf:
      return XINHE_DTYPE_F16;
    case at::kBFloat16:
      return XINHE_DTYPE_BF16;
    default:
      *ok = false;
      return XINHE_DTYPE_F32;
  }
}

bool supports(int device, xinhe_dtype_t dtype) {
  return (device_properties(device).dtype_caps & XINHE_DTYPE_CAP(dtype)) != 0;
}

// A CPU tensor with the same sizes and strides over a xinhe tensor's data: the memory itself
// where it is host-addressable, else a staging copy of the span that write_back() uploads.
struct HostView {
  at::Tensor cpu;
  at::Tensor staging;  // uint8 span copy (non-host devices only)
  Location where;
  void write_back() {
    if (!staging.defined() || staging.numel() == 0) return;
    xinhe_stream_t stream = current_stream(where.device);
    check(xinhe_copy_host_to_device(stream, where.buffer, where.offset, staging.data_ptr(),
                                    uint64_t(staging.numel())),
          "xinhe_copy_host_to_device");
    check(xinhe_stream_synchronize(stream), "xinhe_stream_synchronize");
  }
};

HostView host_view(const at::Tensor& t, bool read) {
  HostView v;
  v.where = locate(t);
  sync_device(index_of(t));
  const auto options = t.options().device(at::kCPU);
  if (host_addressable(index_of(t)) || t.numel() == 0) {
    v.cpu = t.numel() == 0 ? at::empty(t.sizes(), options)
                           : at::from_blob(t.data_ptr(), t.sizes(), t.strides(), options);
    return v;
  }
  const uint64_t bytes = span_bytes(t);
  v.staging = at::empty({int64_t(bytes)}, at::TensorOptions().dtype(at::kByte));
  if (read) {
    xinhe_stream_t stream = current_stream(v.where.device);
    check(xinhe_copy_device_to_host(stream, v.staging.data_ptr(), v.where.buffer, v.where.offset,
                                    bytes),
          "xinhe_copy_device_to_host");
    check(xinhe_stream_synchronize(stream), "xinhe_stream_synchronize");
  }
  v.cpu = at::from_blob(v.staging.data_ptr(), t.sizes(), t.strides(), options);
  return v;
}

bool dense(const at::Tensor& t) { return t.is_contiguous(); }

// ---- Creation, views, copies --------------------------------------------------------------------

at::Tensor empty_memory_format(c10::IntArrayRef size, std::optional<at::ScalarType> dtype,
                               std::optional<at::Layout> layout, std::optional<at::Device> device,
                               std::optional<bool> pin_memory,
                               std::optional<at::MemoryFormat> memory_format) {
  const at::Device d = c10::device_or_default(device);
  TORCH_CHECK(d.is_privateuseone(), "xinhe empty on ", d);
  TORCH_CHECK(c10::layout_or_default(layout) == at::Layout::Strided, "xinhe tensors are strided");
  TORCH_CHECK(!c10::pinned_memory_or_default(pin_memory), "pinned memory is a CPU notion");
  const c10::DeviceGuard guard(d);
  constexpr c10::DispatchKeySet keys(c10::DispatchKey::PrivateUse1);
  return at::detail::empty_generic(size, allocator(), keys, c10::dtype_or_default(dtype),
                                   memory_format);
}

at::Tensor empty_strided(c10::IntArrayRef size, c10::IntArrayRef stride,
                         std::optional<at::ScalarType> dtype, std::optional<at::Layout> layout,
                         std::optional<at::Device> device, std::optional<bool> pin_memory) {
  const at::Device d = c10::device_or_default(device);
  TORCH_CHECK(d.is_privateuseone(), "xinhe empty_strided on ", d);
  TORCH_CHECK(c10::layout_or_default(layout) == at::Layout::Strided, "xinhe tensors are strided");
  TORCH_CHECK(!c10::pinned_memory_or_default(pin_memory), "pinned memory is a CPU notion");
  const c10::DeviceGuard guard(d);
  constexpr c10::DispatchKeySet keys(c10::DispatchKey::PrivateUse1);
  return at::detail::empty_strided_generic(size, stride, allocator(), keys,
                                           c10::dtype_or_default(dtype));
}

at::Tensor as_strided(const at::Tensor& self, c10::SymIntArrayRef size, c10::SymIntArrayRef stride,
                      std::optional<c10::SymInt> storage_offset) {
  return at::native::as_strided_tensorimpl(
      self, C10_AS_INTARRAYREF_SLOW(size), C10_AS_INTARRAYREF_SLOW(stride),
      storage_offset ? std::optional<int64_t>(storage_offset->expect_int()) : std::nullopt);
}

at::Tensor view(const at::Tensor& self, c10::SymIntArrayRef size) {
  return at::native::view(self, C10_AS_INTARRAYREF_SLOW(size));
}

at::Tensor reshape_alias(const at::Tensor& self, c10::SymIntArrayRef size,
                         c10::SymIntArrayRef stride) {
  return at::native::_reshape_alias(self, C10_AS_INTARRAYREF_SLOW(size),
                                    C10_AS_INTARRAYREF_SLOW(stride));
}

// As at::native::resize_ on the CPU: the same sizes leave the tensor alone (PyTorch's copying
// fallback writes results back through _copy_from_and_resize onto strided views, whose strides
// must survive), a byte count past int64 raises instead of wrapping, and a memory format
// restrides even when the sizes are unchanged.
const at::Tensor& resize_(const at::Tensor& self, c10::SymIntArrayRef size,
                          std::optional<at::MemoryFormat> memory_format) {
  const auto sizes = C10_AS_INTARRAYREF_SLOW(size);
  at::TensorImpl* impl = self.unsafeGetTensorImpl();
  if (self.sizes() != sizes) {
    for (const int64_t s : sizes)
      TORCH_CHECK(s >= 0, "Trying to create tensor with negative dimension ", s, ": ", sizes);
    // Raises "Storage size calculation overflowed" past int64, like the CPU.
    const uint64_t needed = at::detail::computeStorageNbytesContiguous(
        sizes, self.element_size(), size_t(self.storage_offset()));
    if (c10::multiply_integers(sizes) > 0 && needed > self.storage().nbytes()) {
      const c10::DeviceGuard guard(self.device());
      c10::DataPtr fresh = allocator()->allocate(needed);
      const uint64_t keep = self.storage().nbytes();
      if (keep > 0) allocator()->copy_data(fresh.get(), self.storage().data(), keep);
      self.storage().unsafeGetStorageImpl()->set_data_ptr_noswap(std::move(fresh));
      self.storage().unsafeGetStorageImpl()->set_nbytes(needed);
    }
    impl->set_sizes_contiguous(sizes);
  }
  if (memory_format) {
    TORCH_CHECK(*memory_format != at::MemoryFormat::Preserve, "Unsupported memory format ",
                *memory_format);
    impl->empty_tensor_restride(*memory_format);
  }
  return self;
}

// A host view of t's memory with t's conjugate and negative bits (host_view reads raw
// memory), so that the CPU's copy_ applies them.
at::Tensor with_math_bits_of(const at::Tensor& t, at::Tensor view) {
  if (t.is_conj()) view = at::_conj(view);  // each flips the bit, which the view lacks
  if (t.is_neg()) view = at::_neg_view(view);
  return view;
}

// Copies between xinhe and CPU tensors and between xinhe tensors, in any dtype and layout:
// one xinhe copy when both sides are dense with one dtype, else through host views.
at::Tensor copy_from(const at::Tensor& self, const at::Tensor& dst, bool /*non_blocking*/) {
  if (self.numel() == 0) return dst;
  // z.conj() and neg views carry math bits that raw memory copies would drop: such copies take
  // the host path below, where the CPU's copy_ applies them (PyTorch's conjugate and negative
  // fallbacks would clone the source instead, and a clone copies through this kernel again:
  // it recursed until the stack overflowed).
  const bool math_bits = self.is_conj() || self.is_neg() || dst.is_conj() || dst.is_neg();
  // As at::native::copy_ (its TensorIterator) on the CPU: a destination whose elements share
  // memory, or a source that partially overlaps it, raises; a source that is the same memory
  // with the same layout (a view of the same data) is a no-op.
  at::assert_no_internal_overlap(dst);
  if (self.scalar_type() == dst.scalar_type() && self.is_conj() == dst.is_conj() &&
      self.is_neg() == dst.is_neg() &&
      at::get_overlap_status(dst, self) == at::MemOverlapStatus::Full)
    return dst;
  at::assert_no_partial_overlap(dst, self);
  const bool src_x = self.is_privateuseone(), dst_x = dst.is_privateuseone();
  const bool same_dtype = self.scalar_type() == dst.scalar_type();
  const bool direct =
      !math_bits && same_dtype && dense(self) && dense(dst) && self.sizes() == dst.sizes();
  const uint64_t bytes = uint64_t(self.numel()) * self.element_size();
  if (direct && src_x && dst_x && self.device() == dst.device()) {
    const Location s = locate(self), d = locate(dst);
    const bool overlap =
        s.buffer == d.buffer && s.offset < d.offset + bytes && d.offset < s.offset + bytes;
    if (!overlap) {
      xinhe_stream_t stream = current_stream(index_of(dst));
      check(xinhe_copy_device_to_device(stream, d.buffer, d.offset, s.buffer, s.offset, bytes),
            "xinhe_copy_device_to_device");
      note_pending(index_of(dst));
      return dst;
    }
  }
  if (direct && !src_x && dst_x) {
    const Location d = locate(dst);
    sync_device(index_of(dst));  // the host data must be read before it may change
    xinhe_stream_t stream = current_stream(index_of(dst));
    check(xinhe_copy_host_to_device(stream, d.buffer, d.offset, self.data_ptr(), bytes),
          "xinhe_copy_host_to_device");
    check(xinhe_stream_synchronize(stream), "xinhe_stream_synchronize");
    return dst;
  }
  if (direct && src_x && !dst_x) {
    const Location s = locate(self);
    sync_device(index_of(self));
    xinhe_stream_t stream = current_stream(index_of(self));
    check(xinhe_copy_device_to_host(stream, dst.data_ptr(), s.buffer, s.offset, bytes),
          "xinhe_copy_device_to_host");
    check(xinhe_stream_synchronize(stream), "xinhe_stream_synchronize");
    return dst;
  }
  // General case on the host.
  HostView src_view, dst_view;
  at::Tensor src_cpu = self, dst_cpu = dst;
  if (src_x) {
    src_view = host_view(self, /*read=*/true);
    src_cpu = with_math_bits_of(self, src_view.cpu);
  }
  if (dst_x) {
    dst_view = host_view(dst, /*read=*/!dense(dst) || dst.is_conj() || dst.is_neg());
    dst_cpu = with_math_bits_of(dst, dst_view.cpu);
  }
  dst_cpu.copy_(src_cpu);
  if (dst_x) dst_view.write_back();
  return dst;
}

at::Tensor copy_from_and_resize(const at::Tensor& self, const at::Tensor& dst) {
  resize_(dst, self.sym_sizes(), std::nullopt);
  return copy_from(self, dst, false);
}

at::Scalar local_scalar_dense(const at::Tensor& self) {
  HostView v = host_view(self, true);
  return at::_local_scalar_dense(v.cpu);
}

at::Tensor& set_source_tensor(at::Tensor& self, const at::Tensor& source) {
  return at::native::set_tensor_(self, source);
}
at::Tensor& set_source_storage(at::Tensor& self, at::Storage source) {
  return at::native::set_(self, source);
}
at::Tensor& set_source_storage_offset(at::Tensor& self, at::Storage source, c10::SymInt offset,
                                      c10::SymIntArrayRef size, c10::SymIntArrayRef stride) {
  return at::native::set_storage_cpu_(self, source, offset.expect_int(),
                                      C10_AS_INTARRAYREF_SLOW(size),
                                      C10_AS_INTARRAYREF_SLOW(stride));
}

// fill_ with a repeated 1/2/4-byte pattern on the device when the tensor is dense, else on
// host views.
at::Tensor& fill_scalar(at::Tensor& self, const at::Scalar& value) {
  if (self.numel() == 0) return self;
  // Complex128 (16 bytes) has no pattern the device fill takes: it goes through the host.
  if (dense(self) && self.element_size() <= 8) {
    at::Tensor one = at::empty({}, self.options().device(at::kCPU)).fill_(value);
    const size_t size = one.element_size();
    uint64_t bits = 0;
    std::memcpy(&bits, one.data_ptr(), size);
    uint32_t pattern_size = uint32_t(size);
    if (size == 8 && uint32_t(bits) == uint32_t(bits >> 32)) pattern_size = 4;  // e.g. zero
    if (pattern_size <= 4) {
      const Location l = locate(self);
      const uint32_t pattern = uint32_t(bits);
      check(xinhe_buffer_fill(current_stream(index_of(self)), l.buffer, l.offset,
                              uint64_t(self.numel()) * size, &pattern, pattern_size),
            "xinhe_buffer_fill");
      note_pending(index_of(self));
      record_op("aten::fill_", Where::kXinhe, 0, "xinhe_buffer_fill");
      return self;
    }
  }
  HostView v = host_view(self, /*read=*/!dense(self));
  v.cpu.fill_(value);
  v.write_back();
  record_op("aten::fill_", Where::kFallback, 0, "strided or 8-byte pattern, filled on the host");
  return self;
}

at::Tensor& fill_tensor(at::Tensor& self, const at::Tensor& value) {
  TORCH_CHECK(value.dim() == 0, "fill_ expects a 0-dim value tensor");
  return fill_scalar(self, value.item());
}

at::Tensor& zero_(at::Tensor& self) { return fill_scalar(self, 0); }

// ---- GEMM ---------------------------------------------------------------------------------------

// A 2-D operand as xinhe sees it: row-major (trans = 0) or a transposed view (trans = 1).
struct MatrixView {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

MatrixView matrix_view(const at::Tensor& t, int64_t rows_dim, int64_t cols_dim) {
  const int64_t rows = t.size(rows_dim), cols = t.size(cols_dim);
  const int64_t rs = t.stride(rows_dim), cs = t.stride(cols_dim);
  MatrixView v;
  if (cs == 1 || cols == 1) {
    v.ok = true;
    v.ld = rows > 1 ? rs : std::max<int64_t>(cols, 1);
    if (v.ld < cols) v.ok = false;
  } else if (rs == 1 || rows == 1) {
    v.ok = true;
    v.trans = true;
    v.ld = cols > 1 ? cs : std::max<int64_t>(rows, 1);
    if (v.ld < rows) v.ok = false;
  }
  return v;
}

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "] " + std::string(c10::toString(t.scalar_type()));
}

// C[b] = alpha A[b] B[b] + beta C[b] on xinhe, with A (batch, m, k), B (batch, k, n) and C a
// dense (batch, m, n) tensor; batch stride 0 broadcasts A or B. Returns false (nothing run)
// when xinhe cannot take these operands, with the reason.
bool run_gemm(const at::Tensor& a, const at::Tensor& b, const at::Tensor& c, float alpha,
              float beta, std::string* why) {
  const int device = index_of(c);
  bool ok_ab = false, ok_c = false;
  const xinhe_dtype_t ab = to_xinhe(a.scalar_type(), &ok_ab);
  const xinhe_dtype_t cd = to_xinhe(c.scalar_type(), &ok_c);
  if (!ok_ab || !ok_c || a.scalar_type() != b.scalar_type() ||
      !(cd == ab || cd == XINHE_DTYPE_F32)) {
    *why = "dtype " + std::string(c10::toString(a.scalar_type())) + " is not a xinhe GEMM dtype";
    return false;
  }
  if (!supports(device, ab)) {
    *why = "the device does not run this dtype";
    return false;
  }
  if (a.device() != c.device() || b.device() != c.device()) {
    *why = "operands on different devices";
    return false;
  }
  const bool batched = a.dim() == 3;
  const int64_t batch = batched ? c.size(0) : 1;
  const int64_t m = c.size(-2), n = c.size(-1), k = a.size(-1);
  const MatrixView va = matrix_view(a, a.dim() - 2, a.dim() - 1);
  const MatrixView vb = matrix_view(b, b.dim() - 2, b.dim() - 1);
  if (!va.ok || !vb.ok || !c.is_contiguous()) {
    *why = "an operand has no unit stride in its last two dimensions";
    return false;
  }
  xinhe_gemm_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.ab_dtype = ab;
  d.c_dtype = cd;
  d.trans_a = va.trans;
  d.trans_b = vb.trans;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = batch;
  d.lda = va.ld;
  d.ldb = vb.ld;
  d.ldc = n;
  d.stride_a = batched && a.size(0) > 1 ? a.stride(0) : 0;
  d.stride_b = batched && b.size(0) > 1 ? b.stride(0) : 0;
  d.stride_c = m * n;
  xinhe_gemm_t op = nullptr;
  xinhe_status_t status = xinhe_gemm_create(xinhe_device(device), &d, &op);
  if (status == nullptr) status = xinhe_gemm_check(op);
  uint64_t ws_bytes = 0;
  if (status == nullptr) status = xinhe_gemm_workspace_size(op, &ws_bytes);
  if (status != nullptr) {
    *why = xinhe_status_message(status);
    xinhe_status_free(status);
    xinhe_gemm_destroy(op);
    return false;
  }
  at::Tensor workspace;
  xinhe_gemm_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  const Location la = locate(a), lb = locate(b), lc = locate(c);
  args.a = la.buffer;
  args.a_offset = la.offset;
  args.b = lb.buffer;
  args.b_offset = lb.offset;
  args.c = lc.buffer;
  args.c_offset = lc.offset;
  if (ws_bytes > 0) {
    workspace = at::empty({int64_t(ws_bytes)}, c.options().dtype(at::kByte));
    const Location lw = locate(workspace);
    args.workspace = lw.buffer;
    args.workspace_offset = lw.offset;
  }
  args.alpha = alpha;
  args.beta = beta;
  status = xinhe_gemm_run(op, current_stream(device), &args);
  const std::string impl = xinhe_gemm_impl_name(op);
  xinhe_gemm_destroy(op);  // queued runs keep what they need (ops.h)
  check(status, "xinhe_gemm_run");
  note_pending(device);
  if (workspace.defined()) sync_device(device);  // the workspace is freed on return
  *why = impl;
  return true;
}

double gemm_flops(int64_t batch, int64_t m, int64_t n, int64_t k) {
  return 2.0 * batch * m * n * k;
}

// PyTorch's own check and words: operands on two devices (two xinhe devices, or a xinhe and a
// CPU tensor) are an error, not something to compute wherever the first operand lives. A 0-dim
// CPU tensor is a scalar and may go with any device, as in PyTorch.
void check_same_device(const char* op, std::initializer_list<const at::Tensor*> tensors) {
  const at::Tensor* first = nullptr;
  for (const at::Tensor* t : tensors) {
    if (!t->defined() || (t->dim() == 0 && t->is_cpu())) continue;
    if (first == nullptr) {
      first = t;
      continue;
    }
    TORCH_CHECK(t->device() == first->device(),
                "Expected all tensors to be on the same device, but found at least two devices, ",
                first->device(), " and ", t->device(), "! (when checking arguments for ", op, ")");
  }
}

at::Tensor mm(const at::Tensor& self, const at::Tensor& mat2) {
  check_same_device("mm", {&self, &mat2});
  TORCH_CHECK(self.dim() == 2 && mat2.dim() == 2 && self.size(1) == mat2.size(0), "mm: shapes ",
              self.sizes(), " and ", mat2.sizes(), " cannot be multiplied");
  at::Tensor out = at::empty({self.size(0), mat2.size(1)}, self.options());
  const double flops = gemm_flops(1, self.size(0), mat2.size(1), self.size(1));
  std::string why;
  if (run_gemm(self, mat2, out, 1.f, 0.f, &why)) {
    record_op("aten::mm", Where::kXinhe, flops,
              shape_text(self) + " x " + shape_text(mat2) + " by " + why);
    return out;
  }
  record_op("aten::mm", Where::kFallback, flops, why);
  return at::mm(self.cpu(), mat2.cpu()).to(self.device());
}

at::Tensor bmm(const at::Tensor& self, const at::Tensor& mat2) {
  check_same_device("bmm", {&self, &mat2});
  TORCH_CHECK(self.dim() == 3 && mat2.dim() == 3 && self.size(0) == mat2.size(0) &&
                  self.size(2) == mat2.size(1),
              "bmm: shapes ", self.sizes(), " and ", mat2.sizes(), " cannot be multiplied");
  at::Tensor out = at::empty({self.size(0), self.size(1), mat2.size(2)}, self.options());
  const double flops = gemm_flops(self.size(0), self.size(1), mat2.size(2), self.size(2));
  std::string why;
  if (run_gemm(self, mat2, out, 1.f, 0.f, &why)) {
    record_op("aten::bmm", Where::kXinhe, flops,
              shape_text(self) + " x " + shape_text(mat2) + " by " + why);
    return out;
  }
  record_op("aten::bmm", Where::kFallback, flops, why);
  return at::bmm(self.cpu(), mat2.cpu()).to(self.device());
}

at::Tensor addmm(const at::Tensor& self, const at::Tensor& mat1, const at::Tensor& mat2,
                 const at::Scalar& beta, const at::Scalar& alpha) {
  check_same_device("addmm", {&self, &mat1, &mat2});
  TORCH_CHECK(mat1.dim() == 2 && mat2.dim() == 2 && mat1.size(1) == mat2.size(0), "addmm: shapes ",
              mat1.sizes(), " and ", mat2.sizes(), " cannot be multiplied");
  const int64_t m = mat1.size(0), n = mat2.size(1);
  const double flops = gemm_flops(1, m, n, mat1.size(1));
  at::Tensor out = at::empty({m, n}, mat1.options());
  const float beta_f = beta.toFloat(), alpha_f = alpha.toFloat();
  std::string why;
  bool ran = false;
  if (beta_f == 0.f) {
    ran = run_gemm(mat1, mat2, out, alpha_f, 0.f, &why);
  } else if (self.scalar_type() == mat1.scalar_type() && self.dim() <= 2 &&
             at::infer_size(self.sizes(), {m, n}) == std::vector<int64_t>{m, n}) {
    // C = beta * broadcast(self): a rank-1 GEMM ones(m, 1) x self(1, n) for a bias row (the
    // common linear layer), a device copy for a full matrix, else a host broadcast; then
    // C = alpha A B + C.
    const at::Tensor bias = self.dim() == 0   ? self.reshape({1, 1})
                            : self.dim() == 1 ? self.reshape({1, self.size(0)})
                                              : self;
    std::string bias_why;
    bool bias_ok = false;
    if (bias.size(0) == 1 && (bias.size(1) == n || bias.size(1) == 1) && bias.size(1) == n) {
      at::Tensor ones = at::empty({m, 1}, mat1.options());
      fill_scalar(ones, 1);
      bias_ok = run_gemm(ones, bias, out, beta_f, 0.f, &bias_why);
    } else if (bias.sizes() == out.sizes() && beta_f == 1.f) {
      copy_from(bias, out, false);
      bias_ok = true;
    }
    if (!bias_ok) {
      copy_from(bias.expand({m, n}), out, false);
      if (beta_f != 1.f) {
        HostView v = host_view(out, true);
        v.cpu.mul_(beta_f);
        v.write_back();
      }
    }
    ran = run_gemm(mat1, mat2, out, alpha_f, 1.f, &why);
  } else {
    why = "bias shape or dtype xinhe does not broadcast";
  }
  if (ran) {
    record_op(
        "aten::addmm", Where::kXinhe, flops,
        shape_text(mat1) + " x " + shape_text(mat2) + " + " + shape_text(self) + " by " + why);
    return out;
  }
  record_op("aten::addmm", Where::kFallback, flops, why);
  return at::addmm(self.cpu(), mat1.cpu(), mat2.cpu(), beta, alpha).to(mat1.device());
}

// ---- Attention ----------------------------------------------------------------------------------

// What xinhe_attention cannot take, or "" when it can.
std::string attention_unsupported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const std::optional<at::Tensor>& mask, double dropout_p,
                                  bool is_causal, bool enable_gqa) {
  if (mask.has_value() && mask->defined()) return "attention masks other than causal";
  if (dropout_p > 0.0) return "dropout";
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) return "operands that are not [B, H, S, D]";
  bool ok = false;
  const xinhe_dtype_t dt = to_xinhe(q.scalar_type(), &ok);
  if (!ok || k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type())
    return "dtype " + std::string(c10::toString(q.scalar_type()));
  if (!q.is_privateuseone() || k.device() != q.device() || v.device() != q.device())
    return "operands on different devices";
  if (!supports(index_of(q), dt)) return "the device does not run this dtype";
  if (k.size(3) != q.size(3) || v.size(3) != q.size(3))
    return "value head size differs from the query's";
  if (k.size(0) != q.size(0) || v.sizes() != k.sizes()) return "batch or key/value shapes differ";
  if (q.size(1) != k.size(1) && (!enable_gqa || k.size(1) == 0 || q.size(1) % k.size(1) != 0))
    return "query heads not a multiple of key/value heads";
  // PyTorch's is_causal aligns the mask top-left, xinhe bottom-right: equal only when Sq == Skv.
  if (is_causal && q.size(2) != k.size(2)) return "causal attention with Sq != Skv (top-left mask)";
  if (q.size(3) < 1 || q.size(3) > 256) return "head size outside [1, 256]";
  return "";
}

int64_t fused_sdp_choice(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const std::optional<at::Tensor>& mask, double dropout_p, bool is_causal,
                         std::optional<double> /*scale*/, bool enable_gqa) {
  std::string why = attention_unsupported(q, k, v, mask, dropout_p, is_causal, enable_gqa);
  // xinhe has no attention backward: when autograd will need one, the math path's bmm and
  // softmax (each with its own backward) keep training working.
  if (why.empty() && at::GradMode::is_enabled() &&
      (q.requires_grad() || k.requires_grad() || v.requires_grad()))
    why = "inputs that require grad (xinhe has no attention backward)";
  if (why.empty()) return int64_t(at::SDPBackend::overrideable);
  // The math path decomposes into bmm/softmax on the device; count that SDPA call here.
  const double flops = 4.0 * q.size(0) * q.size(1) * q.size(2) * k.size(2) * q.size(3);
  record_op("aten::scaled_dot_product_attention", Where::kFallback, flops,
            "math decomposition: " + why);
  return int64_t(at::SDPBackend::math);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, c10::SymInt, c10::SymInt, at::Tensor,
           at::Tensor, at::Tensor>
sdpa_overrideable(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const std::optional<at::Tensor>& attn_bias, double dropout_p, bool is_causal,
                  bool return_debug_mask, std::optional<double> scale) {
  const std::string unsupported =
      attention_unsupported(q, k, v, attn_bias, dropout_p, is_causal, true);
  TORCH_CHECK(unsupported.empty(), "xinhe attention cannot take ", unsupported);
  TORCH_CHECK(!return_debug_mask, "xinhe attention has no debug mask");
  const int device = index_of(q);
  const int64_t B = q.size(0), Hq = q.size(1), Sq = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), Skv = k.size(2);
  at::Tensor out = at::empty({B, Hq, Sq, D}, q.options());
  at::Tensor lse = at::empty({B, Hq, Sq}, q.options().dtype(at::kFloat));
  bool ok = false;
  xinhe_attention_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.dtype = to_xinhe(q.scalar_type(), &ok);
  d.batch = B;
  d.heads_q = Hq;
  d.heads_kv = Hkv;
  d.seq_q = Sq;
  d.seq_kv = Skv;
  d.head_dim = D;
  for (int i = 0; i < 4; ++i) {
    d.q_strides[i] = q.stride(i);
    d.k_strides[i] = k.stride(i);
    d.v_strides[i] = v.stride(i);
    d.o_strides[i] = out.stride(i);
  }
  d.scale = float(scale ? *scale : 1.0 / std::sqrt(double(D)));
  d.mask = is_causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  d.with_lse = 1;
  d.lse_strides[0] = Hq * Sq;
  d.lse_strides[1] = Sq;
  d.lse_strides[2] = 1;
  // Counted as PyTorch's FlopCounterMode does (no causal halving), so shares compare.
  const double flops = 4.0 * B * Hq * Sq * Skv * D;
  xinhe_attention_t op = nullptr;
  xinhe_status_t status = xinhe_attention_create(xinhe_device(device), &d, &op);
  if (status == nullptr) status = xinhe_attention_check(op);
  uint64_t ws_bytes = 0;
  if (status == nullptr) status = xinhe_attention_workspace_size(op, &ws_bytes);
  check(status, "xinhe attention");
  at::Tensor workspace;
  xinhe_attention_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  if (out.numel() > 0) {
    const Location lq = locate(q), lk = locate(k), lv = locate(v), lo = locate(out),
                   ll = locate(lse);
    args.q = lq.buffer;
    args.q_offset = lq.offset;
    args.k = lk.buffer;
    args.k_offset = lk.offset;
    args.v = lv.buffer;
    args.v_offset = lv.offset;
    args.o = lo.buffer;
    args.o_offset = lo.offset;
    args.lse = ll.buffer;
    args.lse_offset = ll.offset;
    if (ws_bytes > 0) {
      workspace = at::empty({int64_t(ws_bytes)}, q.options().dtype(at::kByte));
      const Location lw = locate(workspace);
      args.workspace = lw.buffer;
      args.workspace_offset = lw.offset;
    }
    status = xinhe_attention_run(op, current_stream(device), &args);
  }
  const std::string impl = xinhe_attention_impl_name(op);
  xinhe_attention_destroy(op);
  check(status, "xinhe_attention_run");
  note_pending(device);
  if (workspace.defined()) sync_device(device);
  record_op("aten::_scaled_dot_product_fused_attention_overrideable", Where::kXinhe, flops,
            "q " + shape_text(q) + ", kv heads " + std::to_string(Hkv) + ", Skv " +
                std::to_string(Skv) + (is_causal ? ", causal" : "") + " by " + impl);
  const auto empty_long = at::empty({}, at::TensorOptions().dtype(at::kLong));
  return {out,        lse,        at::Tensor(), at::Tensor(), c10::SymInt(Sq), c10::SymInt(Skv),
          empty_long, empty_long, at::Tensor()};
}

// ---- Kernels with no CPU counterpart to fall back to ---------------------------------------------

// A CPU tensor over a xinhe tensor's data for reading: the memory itself where it is
// host-addressable (as the in-place fallback does), else a copy.
at::Tensor host_operand(const at::Tensor& t) {
  if (!t.defined() || !t.is_privateuseone()) return t;
  if (!host_addressable(index_of(t)) || t.numel() == 0) return t.cpu();
  sync_device(index_of(t));
  return at::from_blob(t.data_ptr(), t.sizes(), t.strides(), t.options().device(at::kCPU));
}

// A CPU result as a xinhe tensor on device: adopted without a copy where the device can use
// host memory in place, else copied.
at::Tensor to_device(const at::Tensor& r, const at::Device& device) {
  if (!r.defined()) return r;
  if (host_addressable(device.index())) {
    at::Tensor adopted = adopt_host_tensor(r, device.index());
    if (adopted.defined()) return adopted;
  }
  return r.to(device);
}

// convolution_overrideable is the hook at::convolution calls for a backend without its own
// convolution (PyTorch's default raises "convolution_overrideable not implemented"); it has no
// CPU kernel for the fallback to redispatch to, so it runs at::convolution on CPU operands.
at::Tensor convolution_overrideable(const at::Tensor& input, const at::Tensor& weight,
                                    const std::optional<at::Tensor>& bias,
                                    c10::SymIntArrayRef stride, c10::SymIntArrayRef padding,
                                    c10::SymIntArrayRef dilation, bool transposed,
                                    c10::SymIntArrayRef output_padding, c10::SymInt groups) {
  const std::optional<at::Tensor> b =
      bias && bias->defined() ? std::optional<at::Tensor>(*bias) : std::nullopt;
  check_same_device("convolution", {&input, &weight, b ? &*b : &input});
  record_op("aten::convolution_overrideable", Where::kFallback, 0,
            "at::convolution on the CPU, input " + shape_text(input));
  const at::Tensor out = at::convolution_symint(
      host_operand(input), host_operand(weight),
      b ? std::optional<at::Tensor>(host_operand(*b)) : std::nullopt, stride, padding, dilation,
      transposed, output_padding, std::move(groups));
  return to_device(out, input.device());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> convolution_backward_overrideable(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    c10::SymIntArrayRef stride, c10::SymIntArrayRef padding, c10::SymIntArrayRef dilation,
    bool transposed, c10::SymIntArrayRef output_padding, c10::SymInt groups,
    std::array<bool, 3> output_mask) {
  check_same_device("convolution_backward", {&grad_output, &input, &weight});
  record_op("aten::convolution_backward_overrideable", Where::kFallback, 0,
            "at::convolution_backward on the CPU, input " + shape_text(input));
  // The bias has one element per output channel (grad_output's dimension 1).
  std::optional<std::vector<c10::SymInt>> bias_sizes;
  if (output_mask[2]) bias_sizes = std::vector<c10::SymInt>{grad_output.sym_size(1)};
  auto [gi, gw, gb] = at::convolution_backward_symint(
      host_operand(grad_output), host_operand(input), host_operand(weight),
      bias_sizes ? at::OptionalSymIntArrayRef(*bias_sizes) : std::nullopt, stride, padding,
      dilation, transposed, output_padding, std::move(groups), output_mask);
  const at::Device d = input.device();
  return {to_device(gi, d), to_device(gw, d), to_device(gb, d)};
}

// The fused RNN cells that ATen's LSTM/GRU (and LSTMCell/GRUCell) call for a PrivateUse1
// input, as its CUDA kernels compute them, from at:: ops on the device (each through the
// fallback). Autograd uses derivatives.yaml: _thnn_fused_*_backward* below, or, when the
// backward itself is differentiated, ATen's composite _thnn_differentiable_*_backward.
at::Tensor gates_sum(const at::Tensor& input_gates, const at::Tensor& hidden_gates,
                     const std::optional<at::Tensor>& input_bias,
                     const std::optional<at::Tensor>& hidden_bias) {
  at::Tensor g = input_gates + hidden_gates;
  if (input_bias && input_bias->defined()) g = g + *input_bias;
  if (hidden_bias && hidden_bias->defined()) g = g + *hidden_bias;
  return g;
}

// Returns (hy, cy, workspace); the workspace holds the activated gates [i, f, g, o].
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_lstm_cell(
    const at::Tensor& input_gates, const at::Tensor& hidden_gates, const at::Tensor& cx,
    const std::optional<at::Tensor>& input_bias, const std::optional<at::Tensor>& hidden_bias) {
  check_same_device("_thnn_fused_lstm_cell", {&input_gates, &hidden_gates, &cx});
  const auto chunks = gates_sum(input_gates, hidden_gates, input_bias, hidden_bias).chunk(4, 1);
  const at::Tensor ig = chunks[0].sigmoid(), fg = chunks[1].sigmoid(), cg = chunks[2].tanh(),
                   og = chunks[3].sigmoid();
  const at::Tensor cy = fg * cx + ig * cg;
  const at::Tensor hy = og * cy.tanh();
  return {hy, cy, at::cat({ig, fg, cg, og}, 1)};
}

// Returns (grad_gates, grad_cx, grad_bias); an undefined grad_hy or grad_cy is zero.
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_lstm_cell_backward_impl(
    const std::optional<at::Tensor>& grad_hy, const std::optional<at::Tensor>& grad_cy,
    const at::Tensor& cx, const at::Tensor& cy, const at::Tensor& workspace, bool has_bias) {
  const auto w = workspace.chunk(4, 1);
  const at::Tensor &ig = w[0], &fg = w[1], &cg = w[2], &og = w[3];
  const bool has_ghy = grad_hy && grad_hy->defined(), has_gcy = grad_cy && grad_cy->defined();
  const at::Tensor tcy = cy.tanh();
  const at::Tensor ghy = has_ghy ? *grad_hy : at::zeros_like(cy);
  at::Tensor gcx = ghy * og * (1 - tcy * tcy);
  if (has_gcy) gcx = gcx + *grad_cy;
  const at::Tensor gig = gcx * cg * ig * (1 - ig);
  const at::Tensor gfg = gcx * cx * fg * (1 - fg);
  const at::Tensor gcg = gcx * ig * (1 - cg * cg);
  const at::Tensor gog = ghy * tcy * og * (1 - og);
  const at::Tensor grad_gates = at::cat({gig, gfg, gcg, gog}, 1);
  const at::Tensor grad_bias = has_bias ? grad_gates.sum(0) : at::Tensor();
  return {grad_gates, gcx * fg, grad_bias};
}

// Returns (hy, workspace); the workspace holds [r, z, n, hidden n gate + its bias, hx].
std::tuple<at::Tensor, at::Tensor> fused_gru_cell(const at::Tensor& input_gates,
                                                  const at::Tensor& hidden_gates,
                                                  const at::Tensor& hx,
                                                  const std::optional<at::Tensor>& input_bias,
                                                  const std::optional<at::Tensor>& hidden_bias) {
  check_same_device("_thnn_fused_gru_cell", {&input_gates, &hidden_gates, &hx});
  at::Tensor ig = input_gates, hg = hidden_gates;
  if (input_bias && input_bias->defined()) ig = ig + *input_bias;
  if (hidden_bias && hidden_bias->defined()) hg = hg + *hidden_bias;
  const auto i = ig.chunk(3, 1), h = hg.chunk(3, 1);
  const at::Tensor rg = (i[0] + h[0]).sigmoid(), zg = (i[1] + h[1]).sigmoid();
  const at::Tensor ng = (i[2] + rg * h[2]).tanh();
  const at::Tensor hy = ng + zg * (hx - ng);
  return {hy, at::cat({rg, zg, ng, h[2], hx}, 1)};
}

// Returns (grad_input_gates, grad_hidden_gates, grad_hx, grad_input_bias, grad_hidden_bias).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> fused_gru_cell_backward(
    const at::Tensor& grad_hy, const at::Tensor& workspace, bool has_bias) {
  const auto w = workspace.chunk(5, 1);
  const at::Tensor &rg = w[0], &zg = w[1], &ng = w[2], &hn = w[3], &hx = w[4];
  const at::Tensor gzg = grad_hy * (hx - ng) * zg * (1 - zg);
  const at::Tensor ghx = grad_hy * zg;
  const at::Tensor gin = grad_hy * (1 - zg) * (1 - ng * ng);
  const at::Tensor ghn = gin * rg;
  const at::Tensor grg = gin * hn * rg * (1 - rg);
  const at::Tensor grad_input_gates = at::cat({grg, gzg, gin}, 1);
  const at::Tensor grad_hidden_gates = at::cat({grg, gzg, ghn}, 1);
  at::Tensor gib, ghb;
  if (has_bias) {
    gib = grad_input_gates.sum(0);
    ghb = grad_hidden_gates.sum(0);
  }
  return {grad_input_gates, grad_hidden_gates, ghx, gib, ghb};
}

// Nothing to record: freeing xinhe memory waits for the device's queued work on all its
// streams first (free_allocation in runtime.cpp), so memory used on another stream is never
// reused while that stream may still touch it, which is what record_stream guards against.
void record_stream(at::Tensor& /*self*/, at::Stream /*stream*/) {}

// ---- CPU fallback -------------------------------------------------------------------------------

// On devices whose memory is host-addressable (cpu:0) the CPU kernel runs on the xinhe
// memory itself: every xinhe tensor argument becomes a CPU tensor over the same bytes, in-place
// results land in place, results that alias an input become views of that input, and fresh
// results are adopted as xinhe tensors without a copy. out= arguments are written in place
// too: PyTorch 2.x reaches a backend without kernels for a structured op (mul, add, pow...)
// through its .out overload with an output it allocated at the right size, and copying every
// input and that output through the CPU cost more than the model's GEMMs. An out= tensor the
// kernel must grow (a non-resizable view over xinhe memory) takes the copying path after all.
// Returns -1 for what it does not cover: other devices, factory ops with a device argument,
// empty out= tensors, written tensor lists; PyTorch's copying fallback takes those.
int host_fallback_device(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& schema_args = op.schema().arguments();
  const size_t n = schema_args.size();
  const size_t begin = stack->size() - n;
  int device = -1;
  auto eligible = [&](const at::Tensor& t) {
    if (!t.defined() || !t.is_privateuseone()) return true;
    if (!host_addressable(index_of(t))) return false;
    if (device >= 0 && device != index_of(t)) return false;
    device = index_of(t);
    return true;
  };
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& iv = (*stack)[begin + i];
    const c10::AliasInfo* alias = schema_args[i].alias_info();
    const bool written = alias != nullptr && alias->isWrite();
    if (iv.isTensor()) {
      if (written && i != 0) {
        if (!schema_args[i].is_out()) return -1;
        const at::Tensor& out = iv.toTensor();
        if (!out.defined() || !out.is_privateuseone() || out.numel() == 0) return -1;
      }
      if (!eligible(iv.toTensor())) return -1;
    } else if (iv.isTensorList()) {
      if (written) return -1;
      for (const at::Tensor& t : iv.toTensorVector()) {
        if (!eligible(t)) return -1;
      }
    } else if (iv.isOptionalTensorList()) {
      if (written) return -1;
      for (const auto& t : iv.toOptionalTensorVector()) {
        if (t.has_value() && !eligible(*t)) return -1;
      }
    } else if (iv.isDevice()) {
      return -1;
    }
  }
  return device;
}

std::string op_full_name(const c10::OperatorHandle& op) {
  const auto& name = op.schema().operator_name();
  return name.overload_name.empty() ? name.name : name.name + "." + name.overload_name;
}

// A fallback result that is not a plain strided tensor (quantized, sparse, nested, mkldnn)
// cannot become a xinhe tensor: wrapped as one, its bytes were read as a plain tensor of its
// dtype (quantize_per_tensor(...).dequantize() crashed).
void refuse_non_plain(const c10::OperatorHandle& op, const at::Tensor& result) {
  const std::string kind = non_plain_kind(result);
  TORCH_CHECK(kind.empty(), "xinhe: ", op_full_name(op), " (run on the CPU) returned a ", kind,
              " tensor, which the xinhe device does not support (xinhe tensors are plain "
              "strided tensors); run this op on CPU tensors instead");
}

// Runs op on the CPU over views of the xinhe memory. Returns false, with the stack as it came,
// when the kernel refused to write an out= argument in place (it had to grow it).
bool host_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack, int device) {
  const auto& schema_args = op.schema().arguments();
  const size_t n = schema_args.size();
  const size_t begin = stack->size() - n;
  sync_all_devices();
  bool has_out = false;
  for (const auto& arg : schema_args) has_out = has_out || arg.is_out();
  std::vector<c10::IValue> original_args;
  if (has_out) original_args.assign(stack->begin() + long(begin), stack->end());

  std::vector<std::pair<at::Tensor, at::Tensor>> aliases;  // (CPU view, xinhe original)
  auto to_cpu = [&](const at::Tensor& t) -> at::Tensor {
    if (!t.defined() || !t.is_privateuseone()) return t;
    at::Tensor view = t.numel() == 0 ? at::empty(t.sizes(), t.options().device(at::kCPU))
                                     : at::from_blob(t.data_ptr(), t.sizes(), t.strides(),
                                                     t.options().device(at::kCPU));
    aliases.emplace_back(view, t);
    return view;
  };
  for (size_t i = 0; i < n; ++i) {
    c10::IValue& iv = (*stack)[begin + i];
    if (iv.isTensor()) {
      iv = c10::IValue(to_cpu(iv.toTensor()));
    } else if (iv.isTensorList()) {
      std::vector<at::Tensor> list;
      for (const at::Tensor& t : iv.toTensorVector()) list.push_back(to_cpu(t));
      iv = c10::IValue(c10::List<at::Tensor>(list));
    } else if (iv.isOptionalTensorList()) {
      std::vector<std::optional<at::Tensor>> list;
      for (const auto& t : iv.toOptionalTensorVector())
        list.push_back(t.has_value() ? std::optional<at::Tensor>(to_cpu(*t)) : std::nullopt);
      iv = c10::IValue(c10::List<std::optional<at::Tensor>>(list));
    }
  }

  try {
    op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::CPU), stack);
  } catch (const c10::Error&) {
    if (!has_out) throw;
    stack->resize(begin);
    stack->insert(stack->end(), original_args.begin(), original_args.end());
    return false;
  }
  // An out= tensor the kernel reshaped within its storage: the xinhe tensor takes the shape.
  for (size_t i = 0; i < n; ++i) {
    if (!schema_args[i].is_out() || !original_args[i].isTensor()) continue;
    const at::Tensor& original = original_args[i].toTensor();
    for (const auto& [view, xt] : aliases) {
      if (!xt.is_same(original)) continue;
      if (view.sizes() != original.sizes() || view.strides() != original.strides() ||
          view.storage_offset() != 0) {
        original.unsafeGetTensorImpl()->set_sizes_and_strides(
            view.sizes(), view.strides(), original.storage_offset() + view.storage_offset());
      }
    }
  }

  auto to_xinhe = [&](const at::Tensor& r) -> at::Tensor {
    if (!r.defined() || !r.is_cpu()) return r;
    refuse_non_plain(op, r);
    for (const auto& [view, original] : aliases) {
      if (r.unsafeGetTensorImpl() == view.unsafeGetTensorImpl()) return original;  // in place
    }
    for (const auto& [view, original] : aliases) {
      if (view.numel() > 0 &&
          r.storage().unsafeGetStorageImpl() == view.storage().unsafeGetStorageImpl() &&
          r.scalar_type() == original.scalar_type()) {
        return original.as_strided(r.sizes(), r.strides(),
                                   original.storage_offset() + r.storage_offset());
      }
    }
    at::Tensor adopted = adopt_host_tensor(r, device);
    if (adopted.defined()) return adopted;
    return r.to(at::Device(c10::DeviceType::PrivateUse1, c10::DeviceIndex(device)));
  };
  const size_t returns = op.schema().returns().size();
  const size_t rbegin = stack->size() - returns;
  for (size_t i = 0; i < returns; ++i) {
    c10::IValue& iv = (*stack)[rbegin + i];
    if (iv.isTensor()) {
      iv = c10::IValue(to_xinhe(iv.toTensor()));
    } else if (iv.isTensorList()) {
      std::vector<at::Tensor> list;
      for (const at::Tensor& t : iv.toTensorVector()) list.push_back(to_xinhe(t));
      iv = c10::IValue(c10::List<at::Tensor>(list));
    }
  }
  return true;
}

// Ops whose operands may legitimately be on different devices, as on CUDA: copies and
// conversions between devices, indexing with CPU indices, set_ and item(). Most have their own
// kernels and never reach the fallback; they are listed so that it never refuses them.
const char* const kMixedDeviceOps[] = {
    "aten::copy_",         "aten::_copy_from",       "aten::_copy_from_and_resize",
    "aten::_to_copy",      "aten::to",               "aten::index",
    "aten::index_put_",    "aten::index_put",        "aten::_index_put_impl_",
    "aten::_index_put_impl", "aten::set_",           "aten::_local_scalar_dense",
    "aten::record_stream", "aten::_has_compatible_shallow_copy_type",
};

// Every tensor argument on the stack, with whether the schema marks it written (out= arguments
// and in-place self).
void for_each_tensor_arg(const c10::OperatorHandle& op, const torch::jit::Stack& stack,
                         const std::function<void(const at::Tensor&, bool)>& f) {
  const auto& schema_args = op.schema().arguments();
  const size_t n = schema_args.size();
  const size_t begin = stack.size() - n;
  for (size_t i = 0; i < n; ++i) {
    const c10::IValue& iv = stack[begin + i];
    const c10::AliasInfo* alias = schema_args[i].alias_info();
    const bool written = alias != nullptr && alias->isWrite();
    if (iv.isTensor()) {
      f(iv.toTensor(), written);
    } else if (iv.isTensorList()) {
      for (const at::Tensor& t : iv.toTensorVector()) f(t, written);
    } else if (iv.isOptionalTensorList()) {
      for (const auto& t : iv.toOptionalTensorVector()) {
        if (t.has_value()) f(*t, written);
      }
    }
  }
}

// PyTorch's check and words for operands on two devices (two xinhe devices, or a xinhe and a
// non-scalar CPU tensor): the fallback computed cat([xinhe:0, xinhe:1]) wherever the first
// operand lived, and a non-scalar CPU operand failed later with an unrelated
// _copy_from_and_resize error. A 0-dim CPU tensor is a scalar and goes with any device.
void check_fallback_devices(const c10::OperatorHandle& op, const torch::jit::Stack& stack) {
  const std::string& name = op.schema().name();
  for (const char* allowed : kMixedDeviceOps) {
    if (name == allowed) return;
  }
  std::optional<at::Device> first;
  for_each_tensor_arg(op, stack, [&](const at::Tensor& t, bool) {
    if (!t.defined() || (t.dim() == 0 && t.is_cpu())) return;
    if (!first) {
      first = t.device();
      return;
    }
    TORCH_CHECK(t.device() == *first,
                "Expected all tensors to be on the same device, but found at least two devices, ",
                *first, " and ", t.device(), "! (when checking arguments for ", op_full_name(op),
                ")");
  });
}

// As the CPU kernels' TensorIterator checks (at::assert_no_internal_overlap /
// assert_no_partial_overlap): a written tensor (an out= argument or in-place self) whose
// elements share memory, or that partially overlaps an input, raises. The fallback ran such
// calls on separate CPU views or copies of the operands, where the CPU's own check cannot see
// the overlap, and gave answers that differed between devices.
void check_fallback_overlap(const c10::OperatorHandle& op, const torch::jit::Stack& stack) {
  std::vector<at::Tensor> written, inputs;
  for_each_tensor_arg(op, stack, [&](const at::Tensor& t, bool w) {
    if (!t.defined() || !t.is_privateuseone()) return;
    (w ? written : inputs).push_back(t);
  });
  // index_put_ into an expanded tensor only warns on the CPU (deprecated), so it is not
  // refused here either.
  const std::string& name = op.schema().name();
  const bool internal = name != "aten::index_put_" && name != "aten::_index_put_impl_";
  for (const at::Tensor& w : written) {
    if (internal) at::assert_no_internal_overlap(w);
    for (const at::Tensor& in : inputs) at::assert_no_partial_overlap(w, in);
  }
}

void cpu_fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& name = op.schema().operator_name();
  const std::string full = op_full_name(op);
  check_fallback_devices(op, *stack);
  check_fallback_overlap(op, *stack);
  const int device = g_zero_copy_fallback ? host_fallback_device(op, stack) : -1;
  if (device >= 0) {
    record_op(name.name.c_str(), Where::kFallback, 0, full + ", in place on host memory");
    if (host_fallback(op, stack, device)) return;
    // An out= tensor had to grow: copied through the CPU after all (counted once, above).
    at::native::cpu_fallback(op, stack);
    return;
  }
  record_op(name.name.c_str(), Where::kFallback, 0, full + ", copied through the CPU");
  sync_all_devices();
  at::native::cpu_fallback(op, stack);
}

// ---- Python-facing control (torch.ops.xinhe_torch.*) ---------------------------------------

std::vector<std::string> op_names() {
  std::lock_guard<std::mutex> lock(g_count_mutex);
  std::vector<std::string> out;
  for (const auto& [k, v] : g_counts) out.push_back(k);
  return out;
}

std::vector<double> op_counts() {
  // Per op, in op_names() order: xinhe calls, fallback calls, xinhe FLOPs, fallback FLOPs.
  std::lock_guard<std::mutex> lock(g_count_mutex);
  std::vector<double> out;
  for (const auto& [k, v] : g_counts) {
    out.push_back(double(v.xinhe));
    out.push_back(double(v.fallback));
    out.push_back(v.xinhe_flops);
    out.push_back(v.fallback_flops);
  }
  return out;
}

void reset_counts() {
  std::lock_guard<std::mutex> lock(g_count_mutex);
  g_counts.clear();
}

// The base level, under any strict() blocks; returns the previous base.
std::string set_strict(std::string mode) {
  const int level = strict_level(mode);
  std::lock_guard<std::mutex> lock(g_strict_mutex);
  const int old = g_strict_base;
  g_strict_base = level;
  update_strict();
  return kStrictNames[old];
}

// A strict() block: registers its level and returns the token strict_exit removes.
int64_t strict_enter(std::string mode) {
  const int level = strict_level(mode);
  std::lock_guard<std::mutex> lock(g_strict_mutex);
  const int64_t token = g_strict_next_token++;
  g_strict_tokens[token] = level;
  update_strict();
  return token;
}

void strict_exit(int64_t token) {
  std::lock_guard<std::mutex> lock(g_strict_mutex);
  g_strict_tokens.erase(token);
  update_strict();
}

std::vector<std::string> device_names() {
  std::vector<std::string> out;
  for (int i = 0; i < device_count(); ++i) out.push_back(xinhe_device_name(xinhe_device(i)));
  return out;
}

bool device_host_addressable(int64_t index) { return host_addressable(int(index)); }

int64_t device_memory_allocated(int64_t index) { return memory_allocated(int(index)); }

void synchronize(int64_t index) {
  if (index < 0) {
    for (int i = 0; i < device_count(); ++i) {
      note_pending(i);
      sync_device(i);
    }
    return;
  }
  note_pending(int(index));
  sync_device(int(index));
}

}  // namespace
}  // namespace xinhe_torch

namespace at::native {
REGISTER_PRIVATEUSE1_DISPATCH(_fused_sdp_choice_stub, &xinhe_torch::fused_sdp_choice)
}  // namespace at::native

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  using namespace xinhe_torch;
  m.impl("empty.memory_format", empty_memory_format);
  m.impl("empty_strided", empty_strided);
  m.impl("as_strided", as_strided);
  m.impl("view", view);
  m.impl("_reshape_alias", reshape_alias);
  // The other views with per-backend kernels: PyTorch's own are device-agnostic (they only
  // restride the same storage). Through the fallback they were copies, so writes were lost.
  m.impl("unfold", TORCH_FN(at::native::unfold));
  m.impl("view_as_real", TORCH_FN(at::native::view_as_real));
  m.impl("view_as_complex", TORCH_FN(at::native::view_as_complex));
  m.impl("resize_", resize_);
  m.impl("_copy_from", copy_from);
  m.impl("_copy_from_and_resize", copy_from_and_resize);
  m.impl("_local_scalar_dense", local_scalar_dense);
  m.impl("set_.source_Tensor", set_source_tensor);
  m.impl("set_.source_Storage", set_source_storage);
  m.impl("set_.source_Storage_storage_offset", set_source_storage_offset);
  m.impl("fill_.Scalar", fill_scalar);
  m.impl("fill_.Tensor", fill_tensor);
  m.impl("zero_", zero_);
  m.impl("mm", mm);
  m.impl("bmm", bmm);
  m.impl("addmm", addmm);
  m.impl("_fused_sdp_choice", fused_sdp_choice);
  m.impl("_scaled_dot_product_fused_attention_overrideable", sdpa_overrideable);
  m.impl("convolution_overrideable", convolution_overrideable);
  m.impl("convolution_backward_overrideable", convolution_backward_overrideable);
  m.impl("_thnn_fused_lstm_cell", fused_lstm_cell);
  m.impl("_thnn_fused_lstm_cell_backward_impl", fused_lstm_cell_backward_impl);
  m.impl("_thnn_fused_gru_cell", fused_gru_cell);
  m.impl("_thnn_fused_gru_cell_backward", fused_gru_cell_backward);
  m.impl("record_stream", record_stream);
}

// The conjugate and negative bits of a copy's operands are resolved by copy_from itself; the
// keys' fallbacks would clone the source, and a clone copies through copy_from again.
TORCH_LIBRARY_IMPL(aten, Conjugate, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}
TORCH_LIBRARY_IMPL(aten, Negative, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}

// Autocast ("with torch.autocast('xinhe')"): the ops and policies of CUDA's autocast, from
// ATen's lists. Matmul-like ops (mm, addmm, bmm, baddbmm, matmul, linear, addmv, convolutions,
// SDPA, RNN cells) run in the autocast dtype; precision-sensitive ones (softmax, log_softmax,
// layer_norm, losses, sum, cumsum, exp, log, pow...) in float32; the rest take the widest input
// type or pass through.
// In at::autocast, as ATen's own registrations: the lists name types unqualified.
namespace at::autocast {
namespace {
#define ADD_NS(RAW_OP) at::RAW_OP
TORCH_LIBRARY_IMPL(aten, AutocastPrivateUse1, m) {
#define XINHE_KERNEL_LOWER_PRECISION_FP(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, lower_precision_fp)
  AT_FORALL_LOWER_PRECISION_FP(XINHE_KERNEL_LOWER_PRECISION_FP)
  KERNEL_PRIVATEUSEONE(_scaled_dot_product_fused_attention_overrideable, lower_precision_fp)
#define XINHE_KERNEL_FP32(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, fp32)
  AT_FORALL_FP32(XINHE_KERNEL_FP32)
  KERNEL_PRIVATEUSEONE(cross_entropy_loss, fp32)
#define XINHE_KERNEL_FP32_SET_OPT_DTYPE(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, fp32_set_opt_dtype)
  AT_FORALL_FP32_SET_OPT_DTYPE(XINHE_KERNEL_FP32_SET_OPT_DTYPE)
  AT_FORALL_DIFFERENT_REDISPATCH_SIGNATURE(KERNEL_DIFFERENT_REDISPATCH_SIGNATURE_PRIVATEUSEONE)
#define XINHE_KERNEL_PROMOTE(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, promote)
  AT_FORALL_PROMOTE(XINHE_KERNEL_PROMOTE)
}
#undef ADD_NS
}  // namespace
}  // namespace at::autocast

// Every op without an autocast policy runs unchanged.
TORCH_LIBRARY_IMPL(_, AutocastPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFallthrough());
}

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&xinhe_torch::cpu_fallback>());
}

TORCH_LIBRARY(xinhe_torch, m) {
  using namespace xinhe_torch;
  m.def("op_names", &op_names);
  m.def("op_counts", &op_counts);
  m.def("reset_counts", &reset_counts);
  m.def("set_strict", &set_strict);
  m.def("strict_enter", &strict_enter);
  m.def("strict_exit", &strict_exit);
  m.def("device_names", &device_names);
  m.def("host_addressable", &device_host_addressable);
  m.def("synchronize", &synchronize);
  m.def("memory_allocated", &device_memory_allocated);
}
