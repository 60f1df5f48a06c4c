// The GPU backend shared by CUDA and HIP (and any further CUDA-like vendor): the objects behind
// the plugin ABI's opaque handles and what the runtime (gpu_runtime.cpp), GEMM (gpu_gemm.cpp) and
// attention (gpu_attention.cpp) parts share. Written once against a vendor layer (a Driver class
// and a few type aliases): the CUDA plugin compiles these files with backends/cuda/cuda_driver.h,
// the HIP plugin with backends/hip/hip_driver.h (XINHE_GPU_DRIVER_HEADER picks one), just as
// both compile the same CUDA-dialect kernels. The vendor layer also reports what each device
// offers the kernel families (DeviceInfo::caps); nothing here tests vendor or architecture
// names. A further vendor adds a driver header; see docs/porting-cuda-like.md.
//
// Kernels are compiled ahead of time into one image per op (a CUDA fat binary or a HIP
// code-object bundle), embedded as xinhe_gpu_<op>_image, and loaded once per device at
// device_open. Each op's implementation list is built from the kernel-family descriptors of
// kernels/*/cuda/*_families.h and walked by the dispatch service (xinhe/backend.hpp); the
// selected kernel, and the ones it falls back to per run, are looked up when the op is created.
//
// Threading: the driver and the objects here are safe to use from several threads; every entry
// that touches a device makes that device's context (CUDA) or device (HIP) current on the
// calling thread for the duration of the call (CurrentScope) and restores the caller's when it
// returns, so a host application's own current context or device is never changed. Ops
// hold no device memory and pass their parameters by value at launch, so an op may be destroyed
// while its runs are still queued.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include XINHE_GPU_DRIVER_HEADER
#include "attention_families.h"
#include "gemm_families.h"
#include "xinhe/backend.hpp"

// The vendor BLAS of this plugin (cuBLAS, hipBLAS), when it has one: a header declaring the
// table XINHE_GPU_VENDOR_BLAS_API for VendorBlasGemm (vendor_blas_gemm.h).
#if defined(XINHE_GPU_VENDOR_BLAS_HEADER)
#include XINHE_GPU_VENDOR_BLAS_HEADER
namespace xinhe::gpu {
using VendorBlas = VendorBlasGemm<XINHE_GPU_VENDOR_BLAS_API>;
}
#endif

struct xinhe_be_backend_s {
  const xinhe_host_api_t* host = nullptr;
  xinhe::gpu::Driver driver;
  int device_count = 0;
  std::string driver_version;
};

struct xinhe_be_device_s {
  xinhe_be_backend_t backend = nullptr;
  int ordinal = 0;
  xinhe::gpu::Driver::Context context;
  xinhe::gpu::Driver::DeviceInfo info;
  xinhe::gpu::Module gemm_module = nullptr;
  xinhe::gpu::Module attention_module = nullptr;
  // Why each op's kernel image did not load ("" when it did): each op names its own image.
  std::string gemm_unavailable;
  std::string attention_unavailable;
#if defined(XINHE_GPU_VENDOR_BLAS_HEADER)
  xinhe::gpu::VendorBlas vendor_blas;
#endif
};

struct xinhe_be_buffer_s {
  xinhe_be_device_t device = nullptr;
  xinhe::gpu::DevicePtr allocation{};  // what mem_alloc returned
  xinhe::gpu::DevicePtr base{};        // allocation rounded up to the requested alignment
};

struct xinhe_be_stream_s {
  xinhe_be_device_t device = nullptr;
  xinhe::gpu::Stream stream = nullptr;
};

struct xinhe_be_event_s {
  xinhe_be_device_t device = nullptr;
  xinhe::gpu::Event event = nullptr;
};

namespace xinhe::gpu {

using kernels::gpu::AttentionFamily;
using kernels::gpu::GemmFamily;

// A kernel of the device's image bound to an implementation.
struct BoundKernel {
  std::string impl_name;  // "cuda.gemm.simt_f16_f32"
  std::string kernel;     // "xinhe_gemm_simt_f16_f32"
  Function function = nullptr;
  const GemmFamily* gemm = nullptr;            // GEMM ops
  const AttentionFamily* attention = nullptr;  // attention ops
};

// A kernel swap decided per run (see op_run_impl_name), logged on its first occurrence.
struct RunSwap {
  BoundKernel kernel;
  std::atomic<bool> logged{false};
};

}  // namespace xinhe::gpu

struct xinhe_be_op_s {
  xinhe_be_device_t device = nullptr;
  xinhe_op_kind_t kind = XINHE_OP_GEMM;
  xinhe_gemm_desc_t gemm{};
  xinhe_attention_desc_t attention{};
  xinhe::backend::DispatchRequest request;  // the op as dispatch lines show it
  std::string impl_name;           // the selected implementation, or the backend's name when none
  std::string reason;              // why none can run ("" when one was selected)
  bool vendor_blas = false;        // GEMM: the vendor library runs it
  xinhe::gpu::BoundKernel kernel;  // otherwise the selected kernel
  // GEMM runs whose A or B does not start on 16 bytes (wgmma, tensorop, mfma): simt.
  xinhe::gpu::RunSwap misaligned;
  // wgmma runs whose tensor maps the driver refuses: the sm_80 kernel.
  xinhe::gpu::RunSwap tma_refused;
  // Vendor BLAS runs with alpha == 0: the simt kernel, whose BLAS semantics (C = beta * C, A and
  // B unused) do not depend on what the vendor library does with them (ops.h). Unbound
  // (function NULL) when the kernel image did not load: the library runs them.
  xinhe::gpu::RunSwap alpha_zero;
};

namespace xinhe::gpu {

// The status of a vendor call's Result, attributed to this line: NULL on success. Statuses are
// made and propagated with xinhe/backend.hpp's family (XINHE_BE_ERROR, XINHE_BE_RETURN_IF_ERROR);
// this is only the vendor's code conversion, once, at the boundary:
//   const CurrentScope current(device);
//   XINHE_BE_RETURN_IF_ERROR(XG_STATUS_OF(device, current.result()));
#define XG_STATUS_OF(device, expr) \
  ::xinhe::gpu::driver_of(device).to_status((expr), __FILE__, __LINE__)

inline const Driver& driver_of(xinhe_be_device_t d) { return d->backend->driver; }
inline const xinhe_host_api_t* host_of(xinhe_be_device_t d) { return d->backend->host; }

// Makes d's context current on the calling thread for the scope's lifetime and then restores
// the one the caller had (the vendor layer saves it: cuCtxGetCurrent / hipGetDevice). result()
// says whether d's context could be made current; on failure nothing is restored, since nothing
// was changed. Holds the driver, not the device, so the device may be closed inside the scope.
class CurrentScope {
 public:
  explicit CurrentScope(xinhe_be_device_t d) : driver_(&driver_of(d)) {
    result_ = driver_->context_enter(d->context, &saved_);
  }
  ~CurrentScope() {
    if (!result_) driver_->context_leave(saved_);
  }
  CurrentScope(const CurrentScope&) = delete;
  CurrentScope& operator=(const CurrentScope&) = delete;
  const Result& result() const { return result_; }

 private:
  const Driver* driver_;
  Driver::SavedContext saved_{};
  Result result_;
};

inline DevicePtr resolve(const xinhe_be_mem_t& m) {
  if (m.buffer == nullptr) return DevicePtr{};  // zero-byte operand: never dereferenced
  return Driver::ptr_add(m.buffer->base, m.offset);
}

inline void* as_kernel_pointer(DevicePtr p) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(Driver::ptr_bits(p)));
}

// Looks up the kernel of impl in module: "" or why it cannot be used.
std::string bind_kernel(xinhe_be_device_t device, Module module, BoundKernel* kernel);

// Fills op (desc already copied) from its implementation list: impl_name and the bound kernels,
// or reason. Returns a status only for failures that end op creation.
xinhe_status_t create_gemm(xinhe_be_op_t op);
xinhe_status_t create_attention(xinhe_be_op_t op);

xinhe_status_t run_gemm(xinhe_be_op_t op, xinhe_be_stream_t stream, const xinhe_be_op_args_t* args);
xinhe_status_t run_attention(xinhe_be_op_t op, xinhe_be_stream_t stream,
                             const xinhe_be_op_args_t* args);

// The implementation a GEMM run with args uses (the selected one, or a per-run swap).
const std::string& gemm_impl_for_run(xinhe_be_op_t op, const xinhe_be_op_args_t* args);

}  // namespace xinhe::gpu
