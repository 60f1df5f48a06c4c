// The pure parts of a GPU vendor layer (backends/cuda/cuda_driver.h or backends/hip/hip_driver.h,
// one per executable: XINHE_TEST_CUDA_LAYER / XINHE_TEST_HIP_LAYER), checked against the
// vendor's own enum values without a GPU or driver:
//  - error-code mapping: every error its header documents as leaving the process or context
//    unusable is DEVICE_LOST (the core then marks the device lost), never INTERNAL;
//  - peak rates (CUDA): only known architectures have rates; any other reports zeros (unknown),
//    as docs/porting-cuda-like.md asks, never the rates of an older one.
#include <gtest/gtest.h>

#include <utility>

#if defined(XINHE_TEST_CUDA_LAYER)
#include "cuda_driver.h"
#else
#include "hip_driver.h"
#endif

namespace {

using xinhe::gpu::code_from_result;

#if defined(XINHE_TEST_CUDA_LAYER)

TEST(CudaLayer, StickyErrorsAreDeviceLost) {
  // cuda.h (13.0): "This leaves the process in an inconsistent state and any further CUDA work
  // will return the same error" (CONTAINED, TENSOR_MEMORY_LEAK, EXTERNAL_DEVICE); an
  // uncorrectable NVLink error is a hardware fault of the same kind.
  // The newer codes by value (cuda_driver.h names them so for older toolkits' cuda.h).
#if CUDA_VERSION >= 13000
  static_assert(xinhe::gpu::kCudaErrorContained == CUDA_ERROR_CONTAINED, "cuda.h value");
  static_assert(xinhe::gpu::kCudaErrorTensorMemoryLeak == CUDA_ERROR_TENSOR_MEMORY_LEAK,
                "cuda.h value");
  static_assert(xinhe::gpu::kCudaErrorExternalDevice == CUDA_ERROR_EXTERNAL_DEVICE, "cuda.h value");
  static_assert(xinhe::gpu::kCudaErrorNvlinkUncorrectable == CUDA_ERROR_NVLINK_UNCORRECTABLE,
                "cuda.h value");
#endif
  for (const CUresult r : {static_cast<CUresult>(xinhe::gpu::kCudaErrorContained),
                           static_cast<CUresult>(xinhe::gpu::kCudaErrorTensorMemoryLeak),
                           static_cast<CUresult>(xinhe::gpu::kCudaErrorExternalDevice),
                           static_cast<CUresult>(xinhe::gpu::kCudaErrorNvlinkUncorrectable),
                           CUDA_ERROR_ILLEGAL_ADDRESS, CUDA_ERROR_LAUNCH_FAILED,
                           CUDA_ERROR_ECC_UNCORRECTABLE, CUDA_ERROR_CONTEXT_IS_DESTROYED}) {
    EXPECT_EQ(code_from_result(r), XINHE_STATUS_DEVICE_LOST) << "CUresult " << static_cast<int>(r);
  }
}

TEST(CudaLayer, OtherErrorsKeepTheirCodes) {
  EXPECT_EQ(code_from_result(CUDA_ERROR_OUT_OF_MEMORY), XINHE_STATUS_OUT_OF_MEMORY);
  EXPECT_EQ(code_from_result(CUDA_ERROR_NO_BINARY_FOR_GPU), XINHE_STATUS_UNAVAILABLE);
  EXPECT_EQ(code_from_result(CUDA_ERROR_UNSUPPORTED_PTX_VERSION), XINHE_STATUS_UNAVAILABLE);
  EXPECT_EQ(code_from_result(CUDA_ERROR_NOT_SUPPORTED), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(code_from_result(CUDA_ERROR_INVALID_VALUE), XINHE_STATUS_INTERNAL);
}

TEST(CudaLayer, PeakRatesOnlyForKnownArchitectures) {
  const xinhe::gpu::ArchRates h100 = xinhe::gpu::arch_rates(9, 0);
  EXPECT_EQ(h100.f32, 256);
  EXPECT_EQ(h100.f16, 4096);
  EXPECT_EQ(h100.bf16, 4096);
  EXPECT_EQ(h100.f64, 128);
  EXPECT_EQ(xinhe::gpu::arch_rates(10, 0).f16, 8192);  // B200
  EXPECT_EQ(xinhe::gpu::arch_rates(8, 0).f16, 2048);   // A100
  // Unknown (newer or in-between) architectures: zeros, i.e. unknown, not B200's or A100's.
  for (const auto& [major, minor] :
       {std::pair<int, int>{12, 0}, {12, 1}, {10, 3}, {11, 0}, {8, 7}, {9, 1}, {6, 1}, {0, 0}}) {
    const xinhe::gpu::ArchRates r = xinhe::gpu::arch_rates(major, minor);
    EXPECT_EQ(r.f32, 0) << "sm_" << major << minor;
    EXPECT_EQ(r.f16, 0) << "sm_" << major << minor;
    EXPECT_EQ(r.bf16, 0) << "sm_" << major << minor;
    EXPECT_EQ(r.f64, 0) << "sm_" << major << minor;
  }
}

#else

TEST(HipLayer, StickyErrorsAreDeviceLost) {
  for (const hipError_t r :
       {hipErrorIllegalAddress, hipErrorLaunchFailure, hipErrorLaunchTimeOut, hipErrorAssert,
        hipErrorECCNotCorrectable, hipErrorContextIsDestroyed}) {
    EXPECT_EQ(code_from_result(r), XINHE_STATUS_DEVICE_LOST)
        << "hipError_t " << static_cast<int>(r);
  }
  EXPECT_EQ(code_from_result(hipErrorOutOfMemory), XINHE_STATUS_OUT_OF_MEMORY);
  EXPECT_EQ(code_from_result(hipErrorNoBinaryForGpu), XINHE_STATUS_UNAVAILABLE);
  EXPECT_EQ(code_from_result(hipErrorInvalidValue), XINHE_STATUS_INTERNAL);
}

#endif

}  // namespace
