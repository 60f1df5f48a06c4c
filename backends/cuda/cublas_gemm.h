// cuBLAS as an alternative GEMM implementation of the CUDA plugin ("cuda.gemm.cublas_*", pick it
// with XINHE_GEMM_IMPL=cublas). libcublas.so.13 (or .12) is dlopen'ed the first time a device
// creates a GEMM, never linked, so the plugin runs where only the driver is installed; then the
// candidate reports "libcublas.so.13/.12 not found".
//
// Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T: the operands
// swap places and keep their transposes, with no data movement. One handle per device; cuBLAS
// handles bind a stream per call, so set-stream + GEMM run under a mutex (ops may be run from
// several threads on different streams).
#pragma once

#include <cublas_api.h>
#include <dlfcn.h>

#include <climits>
#include <cstdint>
#include <mutex>
#include <string>

#include "xinhe/backend.h"

namespace xinhe::gpu {

class Cublas {
 public:
  Cublas() = default;
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
  ~Cublas() { release(); }

  void set_host(const xinhe_host_api_t* host) { host_ = host; }

  // Why cuBLAS cannot run d ("" when it can). Loads the library on first use; the device's
  // context must be current (the handle binds to it).
  std::string unsupported(const xinhe_gemm_desc_t& d) {
    std::string why = ensure_loaded();
    if (!why.empty()) return why;
    if (d.m > INT_MAX || d.n > INT_MAX || d.k > INT_MAX || d.batch > INT_MAX || d.lda > INT_MAX ||
        d.ldb > INT_MAX || d.ldc > INT_MAX) {
      return "sizes above INT_MAX";
    }
    if (d.lda < 1 || d.ldb < 1 || d.ldc < 1) return "leading dimension 0 (cuBLAS requires >= 1)";
    return "";
  }

  xinhe_status_t run(const xinhe_gemm_desc_t& d, CUdeviceptr a, CUdeviceptr b, CUdeviceptr c,
                     float alpha, float beta, CUstream stream) {
    const cudaDataType ab_type = data_type(d.ab_dtype);
    const cudaDataType c_type = data_type(d.c_dtype);
    std::lock_guard<std::mutex> lock(mutex_);
    cublasStatus_t s = set_stream_(handle_, stream);
    if (s != CUBLAS_STATUS_SUCCESS) return status(s, "cublasSetStream");
    s = gemm_(handle_, d.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, d.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
              static_cast<int>(d.n), static_cast<int>(d.m), static_cast<int>(d.k), &alpha,
              reinterpret_cast<const void*>(b), ab_type, static_cast<int>(d.ldb), d.stride_b,
              reinterpret_cast<const void*>(a), ab_type, static_cast<int>(d.lda), d.stride_a, &beta,
              reinterpret_cast<void*>(c), c_type, static_cast<int>(d.ldc), d.stride_c,
              static_cast<int>(d.batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    return s == CUBLAS_STATUS_SUCCESS ? nullptr : status(s, "cublasGemmStridedBatchedEx");
  }

  // Destroys the handle; the owning device's context must be current.
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (handle_ != nullptr) destroy_(handle_);
    handle_ = nullptr;
    if (library_ != nullptr) dlclose(library_);
    library_ = nullptr;
  }

 private:
  using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
  using DestroyFn = cublasStatus_t (*)(cublasHandle_t);
  using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
  // Spelled out: cublas_api.h overloads the name in C++, so decltype cannot pick it.
  using GemmFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                    int, const void*, const void*, cudaDataType, int, long long,
                                    const void*, cudaDataType, int, long long, const void*, void*,
                                    cudaDataType, int, long long, int, cublasComputeType_t,
                                    cublasGemmAlgo_t);

  static cudaDataType data_type(xinhe_dtype_t t) {
    switch (t) {
      case XINHE_DTYPE_F16:
        return CUDA_R_16F;
      case XINHE_DTYPE_BF16:
        return CUDA_R_16BF;
      default:
        return CUDA_R_32F;
    }
  }

  static const char* status_name(cublasStatus_t s) {
    switch (s) {
      case CUBLAS_STATUS_NOT_INITIALIZED:
        return "CUBLAS_STATUS_NOT_INITIALIZED";
      case CUBLAS_STATUS_ALLOC_FAILED:
        return "CUBLAS_STATUS_ALLOC_FAILED";
      case CUBLAS_STATUS_INVALID_VALUE:
        return "CUBLAS_STATUS_INVALID_VALUE";
      case CUBLAS_STATUS_ARCH_MISMATCH:
        return "CUBLAS_STATUS_ARCH_MISMATCH";
      case CUBLAS_STATUS_EXECUTION_FAILED:
        return "CUBLAS_STATUS_EXECUTION_FAILED";
      case CUBLAS_STATUS_INTERNAL_ERROR:
        return "CUBLAS_STATUS_INTERNAL_ERROR";
      case CUBLAS_STATUS_NOT_SUPPORTED:
        return "CUBLAS_STATUS_NOT_SUPPORTED";
      default:
        return "cublasStatus_t (other)";
    }
  }

  // The one cublasStatus_t -> xinhe status conversion.
  xinhe_status_t status(cublasStatus_t s, const char* call) const {
    xinhe_status_code_t code = XINHE_STATUS_INTERNAL;
    if (s == CUBLAS_STATUS_ALLOC_FAILED) code = XINHE_STATUS_OUT_OF_MEMORY;
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH)
      code = XINHE_STATUS_UNIMPLEMENTED;
    return host_->status_new(code, "cuda", call, __FILE__, __LINE__, status_name(s));
  }

  std::string ensure_loaded() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (handle_ != nullptr) return "";
    if (!load_error_.empty()) return load_error_;
    for (const char* name : {"libcublas.so.13", "libcublas.so.12"}) {
      library_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (library_ != nullptr) break;
    }
    if (library_ == nullptr) return load_error_ = "libcublas.so.13/.12 not found";
    create_ = reinterpret_cast<CreateFn>(dlsym(library_, "cublasCreate_v2"));
    destroy_ = reinterpret_cast<DestroyFn>(dlsym(library_, "cublasDestroy_v2"));
    set_stream_ = reinterpret_cast<SetStreamFn>(dlsym(library_, "cublasSetStream_v2"));
    gemm_ = reinterpret_cast<GemmFn>(dlsym(library_, "cublasGemmStridedBatchedEx"));
    if (create_ == nullptr || destroy_ == nullptr || set_stream_ == nullptr || gemm_ == nullptr) {
      dlclose(library_);
      library_ = nullptr;
      return load_error_ = "libcublas lacks cublasGemmStridedBatchedEx or handle calls";
    }
    const cublasStatus_t s = create_(&handle_);
    if (s != CUBLAS_STATUS_SUCCESS) {
      handle_ = nullptr;
      dlclose(library_);
      library_ = nullptr;
      return load_error_ = std::string("cublasCreate failed: ") + status_name(s);
    }
    return "";
  }

  const xinhe_host_api_t* host_ = nullptr;
  std::mutex mutex_;
  void* library_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  std::string load_error_;
  CreateFn create_ = nullptr;
  DestroyFn destroy_ = nullptr;
  SetStreamFn set_stream_ = nullptr;
  GemmFn gemm_ = nullptr;
};

}  // namespace xinhe::gpu
