// Compile-time check that hip_minimal.h matches the installed HIP headers: every enum value (the
// prototypes are C declarations and cannot be compared in one translation unit). Built (never
// linked into anything) only when HIP headers are found.
#include <hip/hip_runtime_api.h>

#define XINHE_HIP_MINIMAL_TYPES_ONLY
namespace mine {
#include "hip_minimal.h"
}

#define XINHE_SAME_VALUE(name) \
  static_assert(static_cast<int>(::name) == static_cast<int>(mine::name), #name " differs");
XINHE_SAME_VALUE(hipSuccess)
XINHE_SAME_VALUE(hipErrorInvalidValue)
XINHE_SAME_VALUE(hipErrorOutOfMemory)
XINHE_SAME_VALUE(hipErrorNotInitialized)
XINHE_SAME_VALUE(hipErrorDeinitialized)
XINHE_SAME_VALUE(hipErrorInsufficientDriver)
XINHE_SAME_VALUE(hipErrorInvalidDeviceFunction)
XINHE_SAME_VALUE(hipErrorNoDevice)
XINHE_SAME_VALUE(hipErrorInvalidDevice)
XINHE_SAME_VALUE(hipErrorInvalidImage)
XINHE_SAME_VALUE(hipErrorNoBinaryForGpu)
XINHE_SAME_VALUE(hipErrorECCNotCorrectable)
XINHE_SAME_VALUE(hipErrorInvalidKernelFile)
XINHE_SAME_VALUE(hipErrorSharedObjectInitFailed)
XINHE_SAME_VALUE(hipErrorNotFound)
XINHE_SAME_VALUE(hipErrorNotReady)
XINHE_SAME_VALUE(hipErrorIllegalAddress)
XINHE_SAME_VALUE(hipErrorLaunchTimeOut)
XINHE_SAME_VALUE(hipErrorContextIsDestroyed)
XINHE_SAME_VALUE(hipErrorAssert)
XINHE_SAME_VALUE(hipErrorLaunchFailure)
XINHE_SAME_VALUE(hipErrorNotSupported)
XINHE_SAME_VALUE(hipDeviceAttributeClockRate)
XINHE_SAME_VALUE(hipDeviceAttributeComputeCapabilityMajor)
XINHE_SAME_VALUE(hipDeviceAttributeMemoryBusWidth)
XINHE_SAME_VALUE(hipDeviceAttributeMemoryClockRate)
XINHE_SAME_VALUE(hipDeviceAttributeComputeCapabilityMinor)
XINHE_SAME_VALUE(hipDeviceAttributeMultiprocessorCount)
static_assert(hipStreamNonBlocking == mine::xinhe_hipStreamNonBlocking, "hipStreamNonBlocking");
static_assert(hipEventDefault == mine::xinhe_hipEventDefault, "hipEventDefault");
