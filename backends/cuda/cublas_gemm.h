// cuBLAS as an alternative GEMM implementation of the CUDA plugin ("cuda.gemm.cublas_<dtypes>",
// picked by the implementation filter "cublas", see ops.h): the table VendorBlasGemm<CublasApi>
// (backends/gpu/vendor_blas_gemm.h) runs on. libcublas.so.13 (or .12) is dlopen'ed on first use;
// cublas_api.h gives the types and enum values, nothing is linked.
#pragma once

#include <cublas_api.h>

#include <array>

#include "vendor_blas_gemm.h"
#include "xinhe/backend.h"

namespace xinhe::gpu {

struct CublasApi {
  static constexpr const char* kTag = "cublas";  // the method: <backend>.gemm.cublas_<dtypes>
  static constexpr const char* kBackend = "cuda";
  static constexpr std::array<const char*, 2> kLibraries = {"libcublas.so.13", "libcublas.so.12"};

  using Handle = cublasHandle_t;
  using Status = cublasStatus_t;
  using Stream = cudaStream_t;  // == CUstream
  static constexpr Status kSuccess = CUBLAS_STATUS_SUCCESS;

  // Versioned ABI names, the ones cublas_api.h's #defines map the plain names to.
  static constexpr const char* kCreateSymbol = "cublasCreate_v2";
  static constexpr const char* kDestroySymbol = "cublasDestroy_v2";
  static constexpr const char* kSetStreamSymbol = "cublasSetStream_v2";
  static constexpr const char* kGemmSymbol = "cublasGemmStridedBatchedEx";
  struct Symbols {
    cublasStatus_t (*create)(cublasHandle_t*);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    // Spelled out: cublas_api.h overloads the name in C++, so decltype cannot pick it.
    cublasStatus_t (*gemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                           const void*, const void*, cudaDataType, int, long long, const void*,
                           cudaDataType, int, long long, const void*, void*, cudaDataType, int,
                           long long, int, cublasComputeType_t, cublasGemmAlgo_t);
  };

  static cublasOperation_t operation(bool transpose) {
    return transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
  }
  // The dtype pairs gemm() runs (f32 compute): the only ones the candidate offers.
  static bool supports(xinhe_dtype_t ab, xinhe_dtype_t c) { return blas_pair_supported(ab, c); }
  // cuBLAS's type of t; false for a type the table does not map (f64 among them), never a
  // default.
  static bool data_type(xinhe_dtype_t t, cudaDataType* out) {
    switch (t) {
      case XINHE_DTYPE_F32:
        *out = CUDA_R_32F;
        return true;
      case XINHE_DTYPE_F16:
        *out = CUDA_R_16F;
        return true;
      case XINHE_DTYPE_BF16:
        *out = CUDA_R_16BF;
        return true;
      default:
        return false;
    }
  }

  // f32 accumulation whatever the storage type (alpha and beta are floats). A pair outside
  // supports() never reaches the library: CUBLAS_STATUS_NOT_SUPPORTED.
  static Status gemm(const Symbols& s, Handle h, const BlasGemmCall& c, xinhe_dtype_t ab,
                     xinhe_dtype_t out, const void* first, const void* second, void* result,
                     const float* alpha, const float* beta) {
    cudaDataType ab_type, c_type;
    if (!supports(ab, out) || !data_type(ab, &ab_type) || !data_type(out, &c_type)) {
      return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return s.gemm(h, operation(c.transpose_first), operation(c.transpose_second), c.m, c.n, c.k,
                  alpha, first, ab_type, c.ld_first, c.stride_first, second, ab_type, c.ld_second,
                  c.stride_second, beta, result, c_type, c.ldc, c.stride_c, c.batch,
                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }

  static const char* status_name(Status s) {
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
  static xinhe_status_code_t status_code(Status s) {
    switch (s) {
      case CUBLAS_STATUS_ALLOC_FAILED:
        return XINHE_STATUS_OUT_OF_MEMORY;
      case CUBLAS_STATUS_NOT_SUPPORTED:
      case CUBLAS_STATUS_ARCH_MISMATCH:
        return XINHE_STATUS_UNIMPLEMENTED;
      default:
        return XINHE_STATUS_INTERNAL;
    }
  }
};

}  // namespace xinhe::gpu
