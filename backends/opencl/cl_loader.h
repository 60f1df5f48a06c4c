// The OpenCL entry points xinhe uses, loaded at run time from the ICD loader (libOpenCL.so.1)
// through an X-macro symbol list, so the plugin has no link-time dependency on OpenCL and a
// machine without a loader reports "unavailable" instead of failing to load the plugin.
// The OpenCL headers are used for types and constants only.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>

namespace xinhe::opencl {

// X(name): every cl* function called anywhere in the backend. Adding a call means adding it
// here; the loader fails with the missing symbol's name when the ICD loader lacks it.
#define XINHE_CL_SYMBOLS(X)       \
  X(clGetPlatformIDs)             \
  X(clGetPlatformInfo)            \
  X(clGetDeviceIDs)               \
  X(clGetDeviceInfo)              \
  X(clCreateContext)              \
  X(clReleaseContext)             \
  X(clCreateCommandQueue)         \
  X(clReleaseCommandQueue)        \
  X(clFlush)                      \
  X(clFinish)                     \
  X(clCreateBuffer)               \
  X(clReleaseMemObject)           \
  X(clEnqueueWriteBuffer)         \
  X(clEnqueueReadBuffer)          \
  X(clEnqueueCopyBuffer)          \
  X(clEnqueueFillBuffer)          \
  X(clEnqueueMarkerWithWaitList)  \
  X(clEnqueueBarrierWithWaitList) \
  X(clGetEventInfo)               \
  X(clGetEventProfilingInfo)      \
  X(clWaitForEvents)              \
  X(clRetainEvent)                \
  X(clReleaseEvent)               \
  X(clCreateProgramWithSource)    \
  X(clCreateProgramWithBinary)    \
  X(clBuildProgram)               \
  X(clGetProgramInfo)             \
  X(clGetProgramBuildInfo)        \
  X(clRetainProgram)              \
  X(clReleaseProgram)             \
  X(clCreateKernel)               \
  X(clGetKernelWorkGroupInfo)     \
  X(clReleaseKernel)              \
  X(clSetKernelArg)               \
  X(clEnqueueNDRangeKernel)

struct ClApi {
#define XINHE_CL_DECLARE(name) decltype(&::name) name = nullptr;
  XINHE_CL_SYMBOLS(XINHE_CL_DECLARE)
#undef XINHE_CL_DECLARE
  void* library = nullptr;
};

// Loads library_name (normally "libOpenCL.so.1") into *api. On failure returns false and sets
// *reason ("libOpenCL.so.1 not found: <dlerror>" or "libOpenCL.so.1 lacks clFoo").
bool cl_api_load(const char* library_name, ClApi* api, std::string* reason);
// Forgets the entry points (the library itself stays loaded; see the definition).
void cl_api_unload(ClApi* api);

// "CL_OUT_OF_RESOURCES"; "CL_ERROR(-1234)" for codes this table does not know.
std::string cl_error_name(cl_int error);

}  // namespace xinhe::opencl
