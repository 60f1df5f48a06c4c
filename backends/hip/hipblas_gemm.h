// hipBLAS as the HIP plugin's vendor GEMM ("hip.gemm.hipblas_<dtypes>", picked by the
// implementation filter "hipblas", see ops.h): the table VendorBlasGemm<HipblasApi>
// (backends/gpu/vendor_blas_gemm.h) runs on. Debian has no hipBLAS package, so the few entry points
// and enum values used are declared here from hipBLAS's C ABI (hipblas.h of hipBLAS 0.x-2.x);
// nothing is linked. libhipblas.so.2 (ROCm 6), .so.1 (ROCm 5.x) and .so.0 (ROCm 4.x-5.2) are tried
// in turn.
//
// ABI notes. hipBLAS 2.x keeps the hipblasDatatype_t signature of hipblasGemmStridedBatchedEx
// under the plain symbol (the hipDataType / hipblasComputeType_t form is the separate _v2
// symbol, selected by HIPBLAS_V2 at compile time); hipBLAS 3 (libhipblas.so.3) changed the plain
// symbol, so .so.3 is deliberately not in the list until a table for it is written. The
// operation and data type values are cblas-style and have not changed since hipBLAS 0.x.
#pragma once

#include <array>
#include <cstdint>

#include "hip_minimal.h"
#include "vendor_blas_gemm.h"
#include "xinhe/backend.h"

namespace xinhe::gpu {

// hipblas.h's values (hipblasStatus_t, hipblasOperation_t, hipblasDatatype_t,
// hipblasGemmAlgo_t), prefixed so they cannot collide with a real hipblas.h.
enum XinheHipblasStatus : int {
  kHipblasSuccess = 0,
  kHipblasNotInitialized = 1,
  kHipblasAllocFailed = 2,
  kHipblasInvalidValue = 3,
  kHipblasMappingError = 4,
  kHipblasExecutionFailed = 5,
  kHipblasInternalError = 6,
  kHipblasNotSupported = 7,
  kHipblasArchMismatch = 8,
  kHipblasHandleIsNullptr = 9,
  kHipblasInvalidEnum = 10,
  kHipblasUnknown = 11,
};
enum XinheHipblasOperation : int { kHipblasOpN = 111, kHipblasOpT = 112 };
enum XinheHipblasDatatype : int {
  kHipblasR16F = 150,
  kHipblasR32F = 151,
  kHipblasR16B = 168,
};
enum XinheHipblasGemmAlgo : int { kHipblasGemmDefault = 160 };

struct HipblasApi {
  static constexpr const char* kTag = "hipblas";  // the method: <backend>.gemm.hipblas_<dtypes>
  static constexpr const char* kBackend = "hip";
  static constexpr std::array<const char*, 3> kLibraries = {"libhipblas.so.2", "libhipblas.so.1",
                                                            "libhipblas.so.0"};

  using Handle = void*;  // hipblasHandle_t
  using Status = XinheHipblasStatus;
  using Stream = hipStream_t;
  static constexpr Status kSuccess = kHipblasSuccess;

  static constexpr const char* kCreateSymbol = "hipblasCreate";
  static constexpr const char* kDestroySymbol = "hipblasDestroy";
  static constexpr const char* kSetStreamSymbol = "hipblasSetStream";
  static constexpr const char* kGemmSymbol = "hipblasGemmStridedBatchedEx";
  // C enums are int-sized on every ABI hipBLAS ships for, and hipblasStride is int64_t.
  struct Symbols {
    Status (*create)(Handle*);
    Status (*destroy)(Handle);
    Status (*set_stream)(Handle, hipStream_t);
    Status (*gemm)(Handle, XinheHipblasOperation trans_a, XinheHipblasOperation trans_b, int m,
                   int n, int k, const void* alpha, const void* a, XinheHipblasDatatype a_type,
                   int lda, int64_t stride_a, const void* b, XinheHipblasDatatype b_type, int ldb,
                   int64_t stride_b, const void* beta, void* c, XinheHipblasDatatype c_type,
                   int ldc, int64_t stride_c, int batch, XinheHipblasDatatype compute_type,
                   XinheHipblasGemmAlgo algo);
  };

  static XinheHipblasOperation operation(bool transpose) {
    return transpose ? kHipblasOpT : kHipblasOpN;
  }
  // The dtype pairs gemm() runs (f32 compute): the only ones the candidate offers.
  static bool supports(xinhe_dtype_t ab, xinhe_dtype_t c) { return blas_pair_supported(ab, c); }
  // hipBLAS's type of t; false for a type the table does not map (f64 among them), never a
  // default.
  static bool data_type(xinhe_dtype_t t, XinheHipblasDatatype* out) {
    switch (t) {
      case XINHE_DTYPE_F32:
        *out = kHipblasR32F;
        return true;
      case XINHE_DTYPE_F16:
        *out = kHipblasR16F;
        return true;
      case XINHE_DTYPE_BF16:
        *out = kHipblasR16B;
        return true;
      default:
        return false;
    }
  }

  // f32 accumulation whatever the storage type (alpha and beta are floats, host pointer mode,
  // the handle's default). A pair outside supports() never reaches the library:
  // HIPBLAS_STATUS_NOT_SUPPORTED.
  static Status gemm(const Symbols& s, Handle h, const BlasGemmCall& c, xinhe_dtype_t ab,
                     xinhe_dtype_t out, const void* first, const void* second, void* result,
                     const float* alpha, const float* beta) {
    XinheHipblasDatatype ab_type, c_type;
    if (!supports(ab, out) || !data_type(ab, &ab_type) || !data_type(out, &c_type)) {
      return kHipblasNotSupported;
    }
    return s.gemm(h, operation(c.transpose_first), operation(c.transpose_second), c.m, c.n, c.k,
                  alpha, first, ab_type, c.ld_first, c.stride_first, second, ab_type, c.ld_second,
                  c.stride_second, beta, result, c_type, c.ldc, c.stride_c, c.batch, kHipblasR32F,
                  kHipblasGemmDefault);
  }

  static const char* status_name(Status s) {
    switch (s) {
      case kHipblasSuccess:
        return "HIPBLAS_STATUS_SUCCESS";
      case kHipblasNotInitialized:
        return "HIPBLAS_STATUS_NOT_INITIALIZED";
      case kHipblasAllocFailed:
        return "HIPBLAS_STATUS_ALLOC_FAILED";
      case kHipblasInvalidValue:
        return "HIPBLAS_STATUS_INVALID_VALUE";
      case kHipblasMappingError:
        return "HIPBLAS_STATUS_MAPPING_ERROR";
      case kHipblasExecutionFailed:
        return "HIPBLAS_STATUS_EXECUTION_FAILED";
      case kHipblasInternalError:
        return "HIPBLAS_STATUS_INTERNAL_ERROR";
      case kHipblasNotSupported:
        return "HIPBLAS_STATUS_NOT_SUPPORTED";
      case kHipblasArchMismatch:
        return "HIPBLAS_STATUS_ARCH_MISMATCH";
      case kHipblasHandleIsNullptr:
        return "HIPBLAS_STATUS_HANDLE_IS_NULLPTR";
      case kHipblasInvalidEnum:
        return "HIPBLAS_STATUS_INVALID_ENUM";
      case kHipblasUnknown:
        return "HIPBLAS_STATUS_UNKNOWN";
    }
    return "hipblasStatus_t (other)";
  }
  static xinhe_status_code_t status_code(Status s) {
    switch (s) {
      case kHipblasAllocFailed:
        return XINHE_STATUS_OUT_OF_MEMORY;
      case kHipblasNotSupported:
      case kHipblasArchMismatch:
      case kHipblasInvalidEnum:  // a type combination this hipBLAS build does not know
        return XINHE_STATUS_UNIMPLEMENTED;
      default:
        return XINHE_STATUS_INTERNAL;
    }
  }
};

}  // namespace xinhe::gpu
