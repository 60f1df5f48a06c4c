// A vendor BLAS library (cuBLAS, hipBLAS) as an alternative GEMM implementation of a GPU plugin,
// written once for both. Each library is described by a small table (an Api struct: sonames,
// symbol names, prototypes, enum values, status names); cublas_gemm.h and
// backends/hip/hipblas_gemm.h are those tables, VendorBlasGemm<Api> is the logic:
//
//  - the library is dlopen'ed the first time a device creates a GEMM, never linked, so the
//    plugin loads where only the driver is installed; a missing library makes the candidate
//    report "libhipblas.so.2/.1/.0 not found: <dlerror>", a missing symbol "<soname> lacks
//    <symbol>", never a loader error;
//  - row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T: the
//    operands swap places and keep their transposes, with no data movement
//    (column_major_call, a pure function the tests check);
//  - the dtype pairs the table declares (Api::supports) are the only ones offered: any other
//    pair (f64 above all) is declined when the op is created, never converted or failed at run;
//  - one handle per (device, stream): a handle binds its stream once, when it is created for
//    that stream on its first run, and is destroyed with the stream (release_stream) or the
//    device (release). A handle is never switched between streams, since rocBLAS requires the
//    old stream to be synchronized first (GEMMs still queued there share the handle's
//    workspace) and cuBLAS may then pick other workspace and give bitwise different results;
//    runs on different streams therefore overlap on the GPU. The table lookup and the enqueue
//    run under a mutex (host side only: ops may run from several threads);
//  - every vendor status is converted once, by Api::status_code, into a status naming the call.
#pragma once

#include <dlfcn.h>

#include <climits>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xinhe/backend.h"
#include "xinhe/backend.hpp"

namespace xinhe::gpu {

// One strided-batched GEMM in the column-major terms of the BLAS call. "first" and "second"
// are the BLAS A and B operands: our B and our A.
struct BlasGemmCall {
  bool transpose_first = false, transpose_second = false;
  int m = 0, n = 0, k = 0;  // m = our n, n = our m
  int ld_first = 0, ld_second = 0, ldc = 0;
  int64_t stride_first = 0, stride_second = 0, stride_c = 0;
  int batch = 0;
};

// The A/B -> C dtype pairs both tables map (f32 compute): f32->f32, f16->f16, f16->f32,
// bf16->bf16, bf16->f32. No f64: the tables' GEMM call has f32 alpha, beta and compute.
inline bool blas_pair_supported(xinhe_dtype_t ab, xinhe_dtype_t c) {
  switch (ab) {
    case XINHE_DTYPE_F32:
      return c == XINHE_DTYPE_F32;
    case XINHE_DTYPE_F16:
    case XINHE_DTYPE_BF16:
      return c == ab || c == XINHE_DTYPE_F32;
    default:
      return false;
  }
}

// Why a vendor BLAS cannot take d ("" when it can): its C ABI has 32-bit sizes.
inline std::string blas_gemm_unsupported(const xinhe_gemm_desc_t& d) {
  if (d.m > INT_MAX || d.n > INT_MAX || d.k > INT_MAX || d.batch > INT_MAX || d.lda > INT_MAX ||
      d.ldb > INT_MAX || d.ldc > INT_MAX) {
    return "sizes above INT_MAX";
  }
  if (d.lda < 1 || d.ldb < 1 || d.ldc < 1) return "leading dimension 0 (BLAS requires >= 1)";
  return "";
}

// The column-major call computing the row-major d. A row-major (r x c) matrix with leading
// dimension ld is, read column-major, its (c x r) transpose with the same ld, so
// C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m) needs no copies. d must pass
// blas_gemm_unsupported.
inline BlasGemmCall column_major_call(const xinhe_gemm_desc_t& d) {
  BlasGemmCall c;
  c.transpose_first = d.trans_b != 0;
  c.transpose_second = d.trans_a != 0;
  c.m = static_cast<int>(d.n);
  c.n = static_cast<int>(d.m);
  c.k = static_cast<int>(d.k);
  c.ld_first = static_cast<int>(d.ldb);
  c.ld_second = static_cast<int>(d.lda);
  c.ldc = static_cast<int>(d.ldc);
  c.stride_first = d.stride_b;
  c.stride_second = d.stride_a;
  c.stride_c = d.stride_c;
  c.batch = static_cast<int>(d.batch);
  return c;
}

// "libhipblas.so.2/.1/.0" for {libhipblas.so.2, libhipblas.so.1, libhipblas.so.0}: later names
// sharing the first one's "<stem>.so" are shortened to their version suffix.
inline std::string library_list_text(const std::vector<std::string>& names) {
  if (names.empty()) return "(no library names)";
  const std::string& first = names.front();
  const size_t so = first.find(".so");
  const std::string stem = so == std::string::npos ? std::string() : first.substr(0, so + 3);
  std::string text = first;
  for (size_t i = 1; i < names.size(); ++i) {
    const std::string& n = names[i];
    const bool same_stem =
        !stem.empty() && n.size() > stem.size() && n.compare(0, stem.size(), stem) == 0;
    text += "/" + (same_stem ? n.substr(stem.size()) : n);
  }
  return text;
}

// Opens the first loadable name and sets *opened to it. On failure returns null and sets *why to
// "<list> not found: <dlerror>", with the most telling dlerror: one that is not plain
// "no such file" (a library that exists but cannot load, e.g. a missing dependency) if any.
inline void* open_first_library(const std::vector<std::string>& names, std::string* opened,
                                std::string* why) {
  std::string first_error, telling_error;
  for (const std::string& name : names) {
    void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) {
      *opened = name;
      return library;
    }
    const char* error = dlerror();
    const std::string text = error != nullptr ? error : name + ": dlopen failed";
    if (first_error.empty()) first_error = text;
    if (telling_error.empty() && text.find("No such file") == std::string::npos)
      telling_error = text;
  }
  *why = library_list_text(names) +
         " not found: " + (telling_error.empty() ? first_error : telling_error);
  return nullptr;
}

// Api is the per-library table (CublasApi in cublas_gemm.h, HipblasApi in
// backends/hip/hipblas_gemm.h), with no logic of its own:
//   kTag        "cublas": the implementation's method, <backend>.gemm.<kTag>_<dtypes>
//   kBackend    the plugin's name, for statuses
//   kLibraries  sonames, most preferred first
//   Handle, Status, Stream, kSuccess
//   supports(ab, c) whether gemm() maps the dtype pair (data_type() has no default: an
//               unmapped type makes gemm() return the library's NOT_SUPPORTED status)
//   kCreateSymbol, kDestroySymbol, kSetStreamSymbol, kGemmSymbol and Symbols {create, destroy,
//               set_stream, gemm}: the exported names and their prototypes
//   gemm(symbols, handle, BlasGemmCall, ab dtype, c dtype, first, second, c, &alpha, &beta):
//               the one strided-batched call, f32 compute
//   status_name(Status), status_code(Status): the vendor status as text and as a xinhe code
template <typename Api>
class VendorBlasGemm {
 public:
  using Handle = typename Api::Handle;
  using Status = typename Api::Status;

  VendorBlasGemm() : libraries_(Api::kLibraries.begin(), Api::kLibraries.end()) {}
  // Tests point the loader at other names (a missing library, one without the symbols).
  explicit VendorBlasGemm(std::vector<std::string> libraries) : libraries_(std::move(libraries)) {}
  VendorBlasGemm(const VendorBlasGemm&) = delete;
  VendorBlasGemm& operator=(const VendorBlasGemm&) = delete;
  ~VendorBlasGemm() { release(); }

  void set_host(const xinhe_host_api_t* host) { host_ = host; }

  // Why the library cannot run d ("" when it can). A dtype pair the table does not map is
  // declined without loading anything. Otherwise loads the library and creates a first handle
  // on first use (which the first stream to run adopts); the device must be current on the
  // calling thread (handles bind to it).
  std::string unsupported(const xinhe_gemm_desc_t& d) {
    if (!Api::supports(d.ab_dtype, d.c_dtype)) {
      return std::string(Api::kTag) + " GEMM takes f32->f32, f16->f16, f16->f32, bf16->bf16 or " +
             "bf16->f32, not " + xinhe::backend::dtype_tag(d.ab_dtype) + "->" +
             xinhe::backend::dtype_tag(d.c_dtype);
    }
    std::string why = ensure_loaded();
    if (!why.empty()) return why;
    return blas_gemm_unsupported(d);
  }

  // Enqueues d on stream with that stream's handle (created on its first run). a, b, c are
  // device addresses; d passed unsupported(); the device is current.
  xinhe_status_t run(const xinhe_gemm_desc_t& d, const void* a, const void* b, void* c, float alpha,
                     float beta, typename Api::Stream stream) {
    const BlasGemmCall call = column_major_call(d);
    std::lock_guard<std::mutex> lock(mutex_);
    Handle handle = nullptr;
    if (xinhe_status_t s = handle_for(stream, &handle)) return s;
    const Status s = Api::gemm(symbols_, handle, call, d.ab_dtype, d.c_dtype, /*first=*/b,
                               /*second=*/a, c, &alpha, &beta);
    return s == Api::kSuccess ? nullptr : status(s, Api::kGemmSymbol);
  }

  // Destroys the handle of stream, if it has one. Called when the stream is destroyed, after
  // its work finished, with the owning device current.
  void release_stream(typename Api::Stream stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = streams_.begin(); it != streams_.end(); ++it) {
      if (it->first == stream) {
        symbols_.destroy(it->second);
        streams_.erase(it);
        return;
      }
    }
  }

  // Destroys every handle and closes the library; the owning device must be current.
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : streams_) symbols_.destroy(entry.second);
    streams_.clear();
    if (spare_ != nullptr) symbols_.destroy(spare_);
    spare_ = nullptr;
    loaded_ = false;
    if (library_ != nullptr) dlclose(library_);
    library_ = nullptr;
  }

 private:
  // The one vendor status -> xinhe status conversion.
  xinhe_status_t status(Status s, const char* call) const {
    return host_->status_new(Api::status_code(s), Api::kBackend, call, __FILE__, __LINE__,
                             Api::status_name(s));
  }

  // The handle bound to stream: its own, the spare one bound to it now, or a new one. Called
  // with mutex_ held.
  xinhe_status_t handle_for(typename Api::Stream stream, Handle* out) {
    for (const auto& entry : streams_) {
      if (entry.first == stream) {
        *out = entry.second;
        return nullptr;
      }
    }
    Handle handle = spare_;
    spare_ = nullptr;
    if (handle == nullptr) {
      const Status s = symbols_.create(&handle);
      if (s != Api::kSuccess) return status(s, Api::kCreateSymbol);
    }
    const Status s = symbols_.set_stream(handle, stream);
    if (s != Api::kSuccess) {
      spare_ = handle;  // still unbound: the next stream may take it
      return status(s, Api::kSetStreamSymbol);
    }
    streams_.emplace_back(stream, handle);
    *out = handle;
    return nullptr;
  }

  std::string ensure_loaded() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (loaded_) return "";
    if (!load_error_.empty()) return load_error_;  // failures are sticky: one dlopen per device
    std::string opened;
    library_ = open_first_library(libraries_, &opened, &load_error_);
    if (library_ == nullptr) return load_error_;
    std::string missing;
    auto resolve = [&](auto* member, const char* symbol) {
      *member =
          reinterpret_cast<std::remove_reference_t<decltype(*member)>>(dlsym(library_, symbol));
      if (*member == nullptr && missing.empty()) missing = symbol;
    };
    resolve(&symbols_.create, Api::kCreateSymbol);
    resolve(&symbols_.destroy, Api::kDestroySymbol);
    resolve(&symbols_.set_stream, Api::kSetStreamSymbol);
    resolve(&symbols_.gemm, Api::kGemmSymbol);
    if (!missing.empty()) {
      load_error_ = opened + " lacks " + missing;
      dlclose(library_);
      library_ = nullptr;
      return load_error_;
    }
    const Status s = symbols_.create(&spare_);
    if (s != Api::kSuccess) {
      load_error_ = std::string(Api::kCreateSymbol) + " failed: " + Api::status_name(s);
      spare_ = nullptr;
      dlclose(library_);
      library_ = nullptr;
      return load_error_;
    }
    loaded_ = true;
    return "";
  }

  const xinhe_host_api_t* host_ = nullptr;
  const std::vector<std::string> libraries_;
  std::mutex mutex_;
  void* library_ = nullptr;
  bool loaded_ = false;     // the symbols resolved and a handle could be created
  Handle spare_ = nullptr;  // created by the load check, not yet bound to a stream
  std::vector<std::pair<typename Api::Stream, Handle>> streams_;  // one handle per stream
  std::string load_error_;
  typename Api::Symbols symbols_{};
};

}  // namespace xinhe::gpu
