// xinhe C++ layer: header-only RAII over the C API (include/xinhe/xinhe.h).
//
// Failing calls throw xinhe::Error carrying the status code, backend, failing call and message;
// xinhe::check() does the same for a status from a C call. Device is a cheap copyable handle
// (the registry owns devices). Stream, Event, Gemm and Attention are move-only owners; Buffer is
// move-only. Destructors never throw.
//
// Synchronization: everything is asynchronous on its stream, as in the C API, except the
// one-line helpers xinhe::gemm and xinhe::attention, which always return with the result
// written (they synchronize the stream), whatever the backend, shape or workspace.
//
// Needs C++14 or later (the C headers alone need C99).
#ifndef XINHE_XINHE_HPP_
#define XINHE_XINHE_HPP_

#if defined(__cplusplus) && __cplusplus < 201402L && !defined(_MSVC_LANG)
#error "xinhe/xinhe.hpp needs C++14 or later (-std=c++14); the C API (xinhe/xinhe.h) needs C99"
#endif

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "xinhe/xinhe.h"

namespace xinhe {

using DType = xinhe_dtype_t;
using StatusCode = xinhe_status_code_t;

class Error : public std::runtime_error {
 public:
  Error(StatusCode code, std::string backend, std::string call, std::string message)
      : std::runtime_error(format(code, backend, call, message)),
        code_(code),
        backend_(std::move(backend)),
        call_(std::move(call)),
        message_(std::move(message)) {}

  StatusCode code() const noexcept { return code_; }
  const std::string& backend() const noexcept { return backend_; }
  const std::string& call() const noexcept { return call_; }
  const std::string& message() const noexcept { return message_; }

 private:
  static std::string format(StatusCode code, const std::string& backend, const std::string& call,
                            const std::string& message) {
    std::string s = xinhe_status_code_name(code);
    if (!backend.empty()) s += " [" + backend + "]";
    if (!call.empty()) s += " in " + call;
    return s + ": " + message;
  }
  StatusCode code_;
  std::string backend_, call_, message_;
};

// Takes ownership of a status returned by a C call: frees it, and throws it as xinhe::Error
// when it is an error. For mixing C calls into C++ code:
//   xinhe::check(xinhe_buffer_fill(stream.get(), buffer.get(), 0, bytes, &zero, 4));
inline void check(xinhe_status_t status) {
  if (status == nullptr) return;
  Error error(xinhe_status_code(status), xinhe_status_backend(status), xinhe_status_call(status),
              xinhe_status_message(status));
  xinhe_status_free(status);
  throw error;
}

namespace detail {
using xinhe::check;  // kept for code written before check() was public

// a * b for the descriptor helpers, which would otherwise overflow int64 silently (undefined
// behaviour) on sizes the C API rejects cleanly. Throws INVALID_ARGUMENT naming what.
inline int64_t checked_mul(int64_t a, int64_t b, const char* helper, const char* what) {
  int64_t product = 0;
#if defined(__GNUC__) || defined(__clang__)
  const bool overflow = __builtin_mul_overflow(a, b, &product);
#else
  const bool overflow =
      a != 0 && b != 0 &&
      ((a > 0) == (b > 0) ? (a > 0 ? a > std::numeric_limits<int64_t>::max() / b
                                   : a < std::numeric_limits<int64_t>::max() / b)
                          : (a > 0 ? b < std::numeric_limits<int64_t>::min() / a
                                   : a < std::numeric_limits<int64_t>::min() / b));
  if (!overflow) product = a * b;
#endif
  if (overflow) {
    throw Error(XINHE_STATUS_INVALID_ARGUMENT, "", helper,
                std::string(what) + " (" + std::to_string(a) + " * " + std::to_string(b) +
                    ") overflows int64");
  }
  return product;
}

// Move-only owner of a C handle released by Release.
template <typename Handle, void (*Release)(Handle)>
class Owner {
 public:
  Owner() = default;
  explicit Owner(Handle h) : h_(h) {}
  Owner(Owner&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Owner& operator=(Owner&& o) noexcept {
    if (this != &o) reset(std::exchange(o.h_, nullptr));
    return *this;
  }
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;
  ~Owner() { reset(); }
  Handle get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  void reset(Handle h = nullptr) noexcept {
    if (h_) Release(h_);
    h_ = h;
  }

 private:
  Handle h_ = nullptr;
};
}  // namespace detail

struct BackendInfo {
  std::string name, path, reason;
  bool loaded = false;
  StatusCode code = XINHE_STATUS_OK;
  uint32_t abi_major = 0, abi_minor = 0, device_count = 0;
};

inline std::vector<BackendInfo> backends() {
  size_t n = 0;
  xinhe::check(xinhe_backend_count(&n));
  std::vector<BackendInfo> out;
  for (size_t i = 0; i < n; ++i) {
    xinhe_backend_info_t info{};
    info.struct_size = sizeof(info);
    xinhe::check(xinhe_backend_info(i, &info));
    out.push_back({info.name, info.path, info.reason, info.loaded != 0, info.code, info.abi_major,
                   info.abi_minor, info.device_count});
  }
  return out;
}

class Stream;
class Buffer;
class Event;

class Device {
 public:
  Device() = default;
  explicit Device(xinhe_device_t d) : d_(d) {}

  // The device named "cpu:0", "opencl:1"...
  static Device get(const std::string& name) {
    xinhe_device_t d = nullptr;
    xinhe::check(xinhe_device_get_by_name(name.c_str(), &d));
    return Device(d);
  }
  // XINHE_DEVICE, else the documented default order (see runtime.h).
  static Device get_default() {
    xinhe_device_t d = nullptr;
    xinhe::check(xinhe_device_get_default(&d));
    return Device(d);
  }
  static std::vector<Device> all() {
    size_t n = 0;
    xinhe::check(xinhe_device_count(&n));
    std::vector<Device> out;
    for (size_t i = 0; i < n; ++i) {
      xinhe_device_t d = nullptr;
      xinhe::check(xinhe_device_get(i, &d));
      out.emplace_back(d);
    }
    return out;
  }

  xinhe_device_properties_t properties() const {
    xinhe_device_properties_t p{};
    p.struct_size = sizeof(p);
    xinhe::check(xinhe_device_properties(d_, &p));
    return p;
  }
  std::string name() const { return xinhe_device_name(d_); }
  xinhe_device_t get() const noexcept { return d_; }
  explicit operator bool() const noexcept { return d_ != nullptr; }

  inline Stream create_stream() const;
  inline Buffer alloc(uint64_t size, uint64_t alignment = 0) const;
  inline Event create_event() const;

 private:
  xinhe_device_t d_ = nullptr;
};

class BufferRef;

class Buffer : public detail::Owner<xinhe_buffer_t, xinhe_buffer_free> {
 public:
  using Owner::Owner;
  uint64_t size() const { return xinhe_buffer_size(get()); }
  Device device() const { return Device(xinhe_buffer_device(get())); }
  // The device address of the first byte (CPU, CUDA, HIP); throws UNIMPLEMENTED where buffers
  // are opaque (OpenCL).
  uint64_t address() const {
    uint64_t a = 0;
    xinhe::check(xinhe_buffer_address(get(), &a));
    return a;
  }
  // An op operand at a byte offset inside this buffer: gemm.run(stream, a.at(256), b, c).
  inline BufferRef at(uint64_t offset) const;
};

// An op operand: a buffer (borrowed, not owned) and a byte offset into it. Built implicitly
// from a Buffer (offset 0), from a Buffer pointer (nullptr: no operand, e.g. no LSE or no
// workspace), or explicitly as {buffer, offset}. Offsets must be whole elements of the
// operand's dtype; a workspace offset may be any byte (ops.h).
class BufferRef {
 public:
  BufferRef() = default;
  BufferRef(const Buffer& buffer, uint64_t offset = 0) : buffer_(buffer.get()), offset_(offset) {}
  BufferRef(const Buffer* buffer, uint64_t offset = 0)
      : buffer_(buffer != nullptr ? buffer->get() : nullptr), offset_(offset) {}
  xinhe_buffer_t get() const noexcept { return buffer_; }
  uint64_t offset() const noexcept { return offset_; }

 private:
  xinhe_buffer_t buffer_ = nullptr;
  uint64_t offset_ = 0;
};

inline BufferRef Buffer::at(uint64_t offset) const { return BufferRef(*this, offset); }

class Event : public detail::Owner<xinhe_event_t, xinhe_event_destroy> {
 public:
  using Owner::Owner;
  inline void record(const Stream& stream);
  void synchronize() const { xinhe::check(xinhe_event_synchronize(get())); }
  bool query() const {
    int done = 0;
    xinhe::check(xinhe_event_query(get(), &done));
    return done != 0;
  }
  // Milliseconds from start to this event.
  float elapsed_ms_since(const Event& start) const {
    float ms = 0;
    xinhe::check(xinhe_event_elapsed_ms(start.get(), get(), &ms));
    return ms;
  }
};

class Stream : public detail::Owner<xinhe_stream_t, xinhe_stream_destroy> {
 public:
  using Owner::Owner;
  Device device() const { return Device(xinhe_stream_device(get())); }
  void synchronize() const { xinhe::check(xinhe_stream_synchronize(get())); }
  bool query() const {
    int done = 0;
    xinhe::check(xinhe_stream_query(get(), &done));
    return done != 0;
  }
  void wait(const Event& event) const { xinhe::check(xinhe_stream_wait_event(get(), event.get())); }

  // Asynchronous copies: host memory must stay valid until the stream reaches them. A Buffer
  // is a handle, so a const Buffer& is a destination here as it is an op's output.
  void copy_from_host(const Buffer& dst, const void* src, uint64_t size,
                      uint64_t dst_offset = 0) const {
    xinhe::check(xinhe_copy_host_to_device(get(), dst.get(), dst_offset, src, size));
  }
  void copy_to_host(void* dst, const Buffer& src, uint64_t size, uint64_t src_offset = 0) const {
    xinhe::check(xinhe_copy_device_to_host(get(), dst, src.get(), src_offset, size));
  }
  void copy(const Buffer& dst, const Buffer& src, uint64_t size, uint64_t dst_offset = 0,
            uint64_t src_offset = 0) const {
    xinhe::check(
        xinhe_copy_device_to_device(get(), dst.get(), dst_offset, src.get(), src_offset, size));
  }
  void fill(const Buffer& dst, uint32_t pattern, uint32_t pattern_size, uint64_t offset,
            uint64_t size) const {
    xinhe::check(xinhe_buffer_fill(get(), dst.get(), offset, size, &pattern, pattern_size));
  }
};

inline Stream Device::create_stream() const {
  xinhe_stream_t s = nullptr;
  xinhe::check(xinhe_stream_create(d_, &s));
  return Stream(s);
}
inline Buffer Device::alloc(uint64_t size, uint64_t alignment) const {
  xinhe_buffer_t b = nullptr;
  xinhe::check(xinhe_buffer_alloc(d_, size, alignment, &b));
  return Buffer(b);
}
inline Event Device::create_event() const {
  xinhe_event_t e = nullptr;
  xinhe::check(xinhe_event_create(d_, &e));
  return Event(e);
}
inline void Event::record(const Stream& stream) {
  xinhe::check(xinhe_event_record(get(), stream.get()));
}

// ---- Ops -------------------------------------------------------------------------------------

// Contiguous row-major GEMM description: C(M,N) = op(A) op(B), batch packed densely. Sizes
// whose element counts overflow int64 throw INVALID_ARGUMENT; other bad sizes are reported by
// the Gemm constructor (xinhe_gemm_create).
inline xinhe_gemm_desc_t gemm_desc(DType ab_dtype, DType c_dtype, int64_t m, int64_t n, int64_t k,
                                   bool trans_a = false, bool trans_b = false, int64_t batch = 1) {
  constexpr const char* kHelper = "xinhe::gemm_desc";
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.ab_dtype = ab_dtype;
  d.c_dtype = c_dtype;
  d.trans_a = trans_a;
  d.trans_b = trans_b;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = batch;
  d.lda = trans_a ? m : k;
  d.ldb = trans_b ? k : n;
  d.ldc = n;
  d.stride_a = detail::checked_mul(m, k, kHelper, "stride_a = m * k");
  d.stride_b = detail::checked_mul(k, n, kHelper, "stride_b = k * n");
  d.stride_c = detail::checked_mul(m, n, kHelper, "stride_c = m * n");
  return d;
}

class Gemm : public detail::Owner<xinhe_gemm_t, xinhe_gemm_destroy> {
 public:
  using Owner::Owner;
  Gemm(const Device& device, const xinhe_gemm_desc_t& desc) {
    xinhe_gemm_t g = nullptr;
    xinhe::check(xinhe_gemm_create(device.get(), &desc, &g));
    reset(g);
  }
  // Returns an empty string when supported, else the reason.
  std::string unsupported_reason() const {
    xinhe_status_t s = xinhe_gemm_check(get());
    if (!s) return {};
    std::string why = xinhe_status_message(s);
    xinhe_status_free(s);
    return why;
  }
  void check() const { xinhe::check(xinhe_gemm_check(get())); }
  uint64_t workspace_size() const {
    uint64_t n = 0;
    xinhe::check(xinhe_gemm_workspace_size(get(), &n));
    return n;
  }
  std::string impl_name() const { return xinhe_gemm_impl_name(get()); }
  // Asynchronous on stream. Each operand is a buffer or {buffer, byte offset} (BufferRef);
  // the workspace is needed when workspace_size() > 0.
  void run(const Stream& stream, BufferRef a, BufferRef b, BufferRef c, float alpha = 1.f,
           float beta = 0.f, BufferRef workspace = {}) const {
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof(args);
    args.a = a.get();
    args.a_offset = a.offset();
    args.b = b.get();
    args.b_offset = b.offset();
    args.c = c.get();
    args.c_offset = c.offset();
    args.workspace = workspace.get();
    args.workspace_offset = workspace.offset();
    args.alpha = alpha;
    args.beta = beta;
    xinhe::check(xinhe_gemm_run(get(), stream.get(), &args));
  }
};

// One-line GEMM on contiguous row-major operands (allocates a workspace when the op needs
// one). Synchronous: it returns once C is written (it synchronizes the stream, so any work
// queued on it before finishes too), on every backend and shape.
inline void gemm(const Stream& stream, DType ab_dtype, DType c_dtype, int64_t m, int64_t n,
                 int64_t k, BufferRef a, BufferRef b, BufferRef c, float alpha = 1.f,
                 float beta = 0.f, bool trans_a = false, bool trans_b = false) {
  Gemm op(stream.device(), gemm_desc(ab_dtype, c_dtype, m, n, k, trans_a, trans_b));
  op.check();
  Buffer ws;
  if (uint64_t bytes = op.workspace_size()) ws = stream.device().alloc(bytes);
  op.run(stream, a, b, c, alpha, beta, ws);
  stream.synchronize();
}

// Contiguous BHSD attention description with scale 1/sqrt(D). Sizes whose element counts
// overflow int64 throw INVALID_ARGUMENT; other bad sizes are reported by the Attention
// constructor (xinhe_attention_create).
inline xinhe_attention_desc_t attention_desc(DType dtype, int64_t b, int64_t hq, int64_t hkv,
                                             int64_t sq, int64_t skv, int64_t d,
                                             bool causal = false, bool with_lse = false) {
  constexpr const char* kHelper = "xinhe::attention_desc";
  // Every stride below is a factor of one of these products, so none of them can overflow.
  const int64_t q_elements =
      detail::checked_mul(detail::checked_mul(hq, sq, kHelper, "heads_q * seq_q"), d, kHelper,
                          "heads_q * seq_q * head_dim");
  detail::checked_mul(detail::checked_mul(hkv, skv, kHelper, "heads_kv * seq_kv"), d, kHelper,
                      "heads_kv * seq_kv * head_dim");
  detail::checked_mul(q_elements, b, kHelper, "the element count of Q");
  xinhe_attention_desc_t a{};
  a.struct_size = sizeof(a);
  a.dtype = dtype;
  a.batch = b;
  a.heads_q = hq;
  a.heads_kv = hkv;
  a.seq_q = sq;
  a.seq_kv = skv;
  a.head_dim = d;
  xinhe_attention_strides_bhsd(hq, sq, d, a.q_strides);
  xinhe_attention_strides_bhsd(hkv, skv, d, a.k_strides);
  xinhe_attention_strides_bhsd(hkv, skv, d, a.v_strides);
  xinhe_attention_strides_bhsd(hq, sq, d, a.o_strides);
  a.scale = d > 0 ? 1.0f / std::sqrt(static_cast<float>(d)) : 1.0f;
  a.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  a.with_lse = with_lse;
  a.lse_strides[0] = detail::checked_mul(hq, sq, kHelper, "heads_q * seq_q");
  a.lse_strides[1] = sq;
  a.lse_strides[2] = 1;
  return a;
}

class Attention : public detail::Owner<xinhe_attention_t, xinhe_attention_destroy> {
 public:
  using Owner::Owner;
  Attention(const Device& device, const xinhe_attention_desc_t& desc) {
    xinhe_attention_t a = nullptr;
    xinhe::check(xinhe_attention_create(device.get(), &desc, &a));
    reset(a);
  }
  std::string unsupported_reason() const {
    xinhe_status_t s = xinhe_attention_check(get());
    if (!s) return {};
    std::string why = xinhe_status_message(s);
    xinhe_status_free(s);
    return why;
  }
  void check() const { xinhe::check(xinhe_attention_check(get())); }
  uint64_t workspace_size() const {
    uint64_t n = 0;
    xinhe::check(xinhe_attention_workspace_size(get(), &n));
    return n;
  }
  std::string impl_name() const { return xinhe_attention_impl_name(get()); }
  // Asynchronous on stream. Each operand is a buffer or {buffer, byte offset} (BufferRef);
  // lse only when the description has with_lse, the workspace when workspace_size() > 0.
  void run(const Stream& stream, BufferRef q, BufferRef k, BufferRef v, BufferRef o,
           BufferRef lse = {}, BufferRef workspace = {}) const {
    xinhe_attention_args_t args{};
    args.struct_size = sizeof(args);
    args.q = q.get();
    args.q_offset = q.offset();
    args.k = k.get();
    args.k_offset = k.offset();
    args.v = v.get();
    args.v_offset = v.offset();
    args.o = o.get();
    args.o_offset = o.offset();
    args.lse = lse.get();
    args.lse_offset = lse.offset();
    args.workspace = workspace.get();
    args.workspace_offset = workspace.offset();
    xinhe::check(xinhe_attention_run(get(), stream.get(), &args));
  }
};

// One-line attention on contiguous BHSD operands with scale 1/sqrt(D) (allocates a workspace
// when the op needs one; lse: an f32 [B, Hq, Sq] buffer, or nullptr). Synchronous, as
// xinhe::gemm: it returns once O (and LSE) are written.
inline void attention(const Stream& stream, DType dtype, int64_t batch, int64_t heads_q,
                      int64_t heads_kv, int64_t seq_q, int64_t seq_kv, int64_t head_dim,
                      BufferRef q, BufferRef k, BufferRef v, BufferRef o, bool causal = false,
                      BufferRef lse = {}) {
  const Attention op(stream.device(), attention_desc(dtype, batch, heads_q, heads_kv, seq_q, seq_kv,
                                                     head_dim, causal, lse.get() != nullptr));
  op.check();
  Buffer ws;
  if (uint64_t bytes = op.workspace_size()) ws = stream.device().alloc(bytes);
  op.run(stream, q, k, v, o, lse, ws);
  stream.synchronize();
}

}  // namespace xinhe

#endif  // XINHE_XINHE_HPP_
