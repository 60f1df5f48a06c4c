// xinhe C++ layer: header-only RAII over the C API (include/xinhe/xinhe.h).
//
// Failing calls throw xinhe::Error carrying the status code, backend, failing call and message.
// Device is a cheap copyable handle (the registry owns devices). Stream, Event, Gemm and
// Attention are move-only owners; Buffer is move-only. Destructors never throw.
#ifndef XINHE_XINHE_HPP_
#define XINHE_XINHE_HPP_

#include <cmath>
#include <cstdint>
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

namespace detail {
// Takes ownership of status; throws when it is an error.
inline void check(xinhe_status_t status) {
  if (status == nullptr) return;
  Error error(xinhe_status_code(status), xinhe_status_backend(status), xinhe_status_call(status),
              xinhe_status_message(status));
  xinhe_status_free(status);
  throw error;
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
  detail::check(xinhe_backend_count(&n));
  std::vector<BackendInfo> out;
  for (size_t i = 0; i < n; ++i) {
    xinhe_backend_info_t info{};
    info.struct_size = sizeof(info);
    detail::check(xinhe_backend_info(i, &info));
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
    detail::check(xinhe_device_get_by_name(name.c_str(), &d));
    return Device(d);
  }
  // XINHE_DEVICE, else the documented default order (see runtime.h).
  static Device get_default() {
    xinhe_device_t d = nullptr;
    detail::check(xinhe_device_get_default(&d));
    return Device(d);
  }
  static std::vector<Device> all() {
    size_t n = 0;
    detail::check(xinhe_device_count(&n));
    std::vector<Device> out;
    for (size_t i = 0; i < n; ++i) {
      xinhe_device_t d = nullptr;
      detail::check(xinhe_device_get(i, &d));
      out.emplace_back(d);
    }
    return out;
  }

  xinhe_device_properties_t properties() const {
    xinhe_device_properties_t p{};
    p.struct_size = sizeof(p);
    detail::check(xinhe_device_properties(d_, &p));
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

class Buffer : public detail::Owner<xinhe_buffer_t, xinhe_buffer_free> {
 public:
  using Owner::Owner;
  uint64_t size() const { return xinhe_buffer_size(get()); }
  Device device() const { return Device(xinhe_buffer_device(get())); }
};

class Event : public detail::Owner<xinhe_event_t, xinhe_event_destroy> {
 public:
  using Owner::Owner;
  inline void record(const Stream& stream);
  void synchronize() const { detail::check(xinhe_event_synchronize(get())); }
  bool query() const {
    int done = 0;
    detail::check(xinhe_event_query(get(), &done));
    return done != 0;
  }
  // Milliseconds from start to this event.
  float elapsed_ms_since(const Event& start) const {
    float ms = 0;
    detail::check(xinhe_event_elapsed_ms(start.get(), get(), &ms));
    return ms;
  }
};

class Stream : public detail::Owner<xinhe_stream_t, xinhe_stream_destroy> {
 public:
  using Owner::Owner;
  Device device() const { return Device(xinhe_stream_device(get())); }
  void synchronize() const { detail::check(xinhe_stream_synchronize(get())); }
  bool query() const {
    int done = 0;
    detail::check(xinhe_stream_query(get(), &done));
    return done != 0;
  }
  void wait(const Event& event) const { detail::check(xinhe_stream_wait_event(get(), event.get())); }

  // Asynchronous copies: host memory must stay valid until the stream reaches them.
  void copy_from_host(Buffer& dst, const void* src, uint64_t size, uint64_t dst_offset = 0) const {
    detail::check(xinhe_copy_host_to_device(get(), dst.get(), dst_offset, src, size));
  }
  void copy_to_host(void* dst, const Buffer& src, uint64_t size, uint64_t src_offset = 0) const {
    detail::check(xinhe_copy_device_to_host(get(), dst, src.get(), src_offset, size));
  }
  void copy(Buffer& dst, const Buffer& src, uint64_t size, uint64_t dst_offset = 0,
            uint64_t src_offset = 0) const {
    detail::check(
        xinhe_copy_device_to_device(get(), dst.get(), dst_offset, src.get(), src_offset, size));
  }
  void fill(Buffer& dst, uint32_t pattern, uint32_t pattern_size, uint64_t offset, uint64_t size) const {
    detail::check(xinhe_buffer_fill(get(), dst.get(), offset, size, &pattern, pattern_size));
  }
};

inline Stream Device::create_stream() const {
  xinhe_stream_t s = nullptr;
  detail::check(xinhe_stream_create(d_, &s));
  return Stream(s);
}
inline Buffer Device::alloc(uint64_t size, uint64_t alignment) const {
  xinhe_buffer_t b = nullptr;
  detail::check(xinhe_buffer_alloc(d_, size, alignment, &b));
  return Buffer(b);
}
inline Event Device::create_event() const {
  xinhe_event_t e = nullptr;
  detail::check(xinhe_event_create(d_, &e));
  return Event(e);
}
inline void Event::record(const Stream& stream) {
  detail::check(xinhe_event_record(get(), stream.get()));
}

// ---- Ops -------------------------------------------------------------------------------------

// Contiguous row-major GEMM description: C(M,N) = op(A) op(B), batch packed densely.
inline xinhe_gemm_desc_t gemm_desc(DType ab_dtype, DType c_dtype, int64_t m, int64_t n, int64_t k,
                                   bool trans_a = false, bool trans_b = false, int64_t batch = 1) {
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
  d.stride_a = m * k;
  d.stride_b = k * n;
  d.stride_c = m * n;
  return d;
}

class Gemm : public detail::Owner<xinhe_gemm_t, xinhe_gemm_destroy> {
 public:
  using Owner::Owner;
  Gemm(const Device& device, const xinhe_gemm_desc_t& desc) {
    xinhe_gemm_t g = nullptr;
    detail::check(xinhe_gemm_create(device.get(), &desc, &g));
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
  void check() const { detail::check(xinhe_gemm_check(get())); }
  uint64_t workspace_size() const {
    uint64_t n = 0;
    detail::check(xinhe_gemm_workspace_size(get(), &n));
    return n;
  }
  std::string impl_name() const { return xinhe_gemm_impl_name(get()); }
  void run(const Stream& stream, const Buffer& a, const Buffer& b, Buffer& c, float alpha = 1.f,
           float beta = 0.f, const Buffer* workspace = nullptr) const {
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof(args);
    args.a = a.get();
    args.b = b.get();
    args.c = c.get();
    args.workspace = workspace ? workspace->get() : nullptr;
    args.alpha = alpha;
    args.beta = beta;
    detail::check(xinhe_gemm_run(get(), stream.get(), &args));
  }
};

// One-line GEMM on contiguous row-major buffers (allocates workspace when the op needs it).
inline void gemm(const Stream& stream, DType ab_dtype, DType c_dtype, int64_t m, int64_t n,
                 int64_t k, const Buffer& a, const Buffer& b, Buffer& c, float alpha = 1.f,
                 float beta = 0.f, bool trans_a = false, bool trans_b = false) {
  Gemm op(stream.device(), gemm_desc(ab_dtype, c_dtype, m, n, k, trans_a, trans_b));
  op.check();
  Buffer ws;
  if (uint64_t bytes = op.workspace_size()) ws = stream.device().alloc(bytes);
  op.run(stream, a, b, c, alpha, beta, ws ? &ws : nullptr);
  // The op handle may be destroyed while queued work still runs: backends keep what they need.
  if (ws) stream.synchronize();
}

// Contiguous BHSD attention description with scale 1/sqrt(D).
inline xinhe_attention_desc_t attention_desc(DType dtype, int64_t b, int64_t hq, int64_t hkv,
                                             int64_t sq, int64_t skv, int64_t d,
                                             bool causal = false, bool with_lse = false) {
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
  a.lse_strides[0] = hq * sq;
  a.lse_strides[1] = sq;
  a.lse_strides[2] = 1;
  return a;
}

class Attention : public detail::Owner<xinhe_attention_t, xinhe_attention_destroy> {
 public:
  using Owner::Owner;
  Attention(const Device& device, const xinhe_attention_desc_t& desc) {
    xinhe_attention_t a = nullptr;
    detail::check(xinhe_attention_create(device.get(), &desc, &a));
    reset(a);
  }
  std::string unsupported_reason() const {
    xinhe_status_t s = xinhe_attention_check(get());
    if (!s) return {};
    std::string why = xinhe_status_message(s);
    xinhe_status_free(s);
    return why;
  }
  void check() const { detail::check(xinhe_attention_check(get())); }
  uint64_t workspace_size() const {
    uint64_t n = 0;
    detail::check(xinhe_attention_workspace_size(get(), &n));
    return n;
  }
  std::string impl_name() const { return xinhe_attention_impl_name(get()); }
  void run(const Stream& stream, const Buffer& q, const Buffer& k, const Buffer& v, Buffer& o,
           Buffer* lse = nullptr, const Buffer* workspace = nullptr) const {
    xinhe_attention_args_t args{};
    args.struct_size = sizeof(args);
    args.q = q.get();
    args.k = k.get();
    args.v = v.get();
    args.o = o.get();
    args.lse = lse ? lse->get() : nullptr;
    args.workspace = workspace ? workspace->get() : nullptr;
    detail::check(xinhe_attention_run(get(), stream.get(), &args));
  }
};

}  // namespace xinhe

#endif  // XINHE_XINHE_HPP_
