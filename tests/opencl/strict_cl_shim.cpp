// A libOpenCL.so.1 for the strict-driver tests: it forwards every call to the real ICD loader
// (XINHE_REAL_OPENCL, the path CMake found) and, when the environment asks, behaves as real
// GPU drivers do where PoCL is lenient. The variables are read at every call, so a test sets
// them (setenv) around the calls it means to affect:
//   XSHIM_GPU=1              CL_DEVICE_TYPE reads CL_DEVICE_TYPE_GPU (the GPU defaults apply)
//   XSHIM_KERNEL_WG=N        CL_KERNEL_WORK_GROUP_SIZE is at most N, and clEnqueueNDRangeKernel
//                            with a larger explicit work-group fails with
//                            CL_INVALID_WORK_GROUP_SIZE (register-heavy kernels on Intel Xe,
//                            Mali, Adreno)
//   XSHIM_MAX_GRID_Z=N       clEnqueueNDRangeKernel with more than N groups in dimension 2
//                            fails with CL_INVALID_GLOBAL_WORK_SIZE (a CUDA grid's z limit)
//   XSHIM_FINISH_ERR=E       clFinish returns E (after finishing)
//   XSHIM_WAIT_ERR=E         clWaitForEvents returns E (after waiting)
//   XSHIM_CREATE_BUFFER_ERR=E  clCreateBuffer fails with E
//   XSHIM_FILL_ERR=E         clEnqueueFillBuffer fails with E
//   XSHIM_NO_PROF=1          clGetEventProfilingInfo returns CL_PROFILING_INFO_NOT_AVAILABLE
//   XSHIM_DEVICE_VERSION=S   CL_DEVICE_VERSION reads S
//   XSHIM_C_VERSION=S        CL_DEVICE_OPENCL_C_VERSION reads S
//   XSHIM_DIMS=N             CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS reads N (> 3), and
//                            CL_DEVICE_MAX_WORK_ITEM_SIZES needs room for N entries
//   XSHIM_FAIL_BUILD_SOURCE=S  clBuildProgram of a program whose source contains S fails with
//                            CL_BUILD_PROGRAM_FAILURE
//   XSHIM_CRASH_ON_BINARY=1  clCreateProgramWithBinary kills the process (a driver that
//                            crashes on a damaged cached binary)
// CLBlast links against libOpenCL.so.1 too and gets this library, so its symbols (versioned
// OPENCL_1.0, see strict_cl_shim.map) are forwarded as well. Calls not changed here go
// through one-instruction trampolines (x86-64), so no signature has to be restated.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef XINHE_REAL_OPENCL
#error "XINHE_REAL_OPENCL must name the real ICD loader"
#endif

namespace {

void* real_library() {
  static void* handle = [] {
    void* h = dlopen(XINHE_REAL_OPENCL, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::fprintf(stderr, "strict_cl_shim: cannot load %s: %s\n", XINHE_REAL_OPENCL, dlerror());
      std::abort();
    }
    return h;
  }();
  return handle;
}

void* real_symbol(const char* name) {
  void* f = dlsym(real_library(), name);
  if (f == nullptr) {
    std::fprintf(stderr, "strict_cl_shim: %s lacks %s\n", XINHE_REAL_OPENCL, name);
    std::abort();
  }
  return f;
}

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(real_symbol(name));
}

long env_long(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : 0;
}

const char* env_string(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

cl_int copy_string(const char* s, size_t size, void* value, size_t* size_ret) {
  const size_t n = std::strlen(s) + 1;
  if (size_ret != nullptr) *size_ret = n;
  if (value == nullptr) return CL_SUCCESS;
  if (size < n) return CL_INVALID_VALUE;
  std::memcpy(value, s, n);
  return CL_SUCCESS;
}

}  // namespace

// Pass-through calls: each symbol jumps through a pointer filled from the real loader.
#define XSHIM_PASS(name)                                                                         \
  extern "C" __attribute__((visibility("hidden"))) void* xshim_real_##name;                      \
  void* xshim_real_##name = nullptr;                                                             \
  __attribute__((constructor)) static void xshim_init_##name() {                                 \
    xshim_real_##name = real_symbol(#name);                                                      \
  }                                                                                              \
  asm(".text\n.globl " #name "\n.type " #name ",@function\n" #name ":\n  jmp *xshim_real_" #name \
      "(%rip)\n.size " #name ", .-" #name "\n");

XSHIM_PASS(clGetPlatformIDs)
XSHIM_PASS(clGetPlatformInfo)
XSHIM_PASS(clGetDeviceIDs)
XSHIM_PASS(clCreateContext)
XSHIM_PASS(clReleaseContext)
XSHIM_PASS(clCreateCommandQueue)
XSHIM_PASS(clReleaseCommandQueue)
XSHIM_PASS(clGetCommandQueueInfo)
XSHIM_PASS(clFlush)
XSHIM_PASS(clReleaseMemObject)
XSHIM_PASS(clGetMemObjectInfo)
XSHIM_PASS(clEnqueueWriteBuffer)
XSHIM_PASS(clEnqueueReadBuffer)
XSHIM_PASS(clEnqueueCopyBuffer)
XSHIM_PASS(clEnqueueMarkerWithWaitList)
XSHIM_PASS(clEnqueueBarrierWithWaitList)
XSHIM_PASS(clGetEventInfo)
XSHIM_PASS(clRetainEvent)
XSHIM_PASS(clReleaseEvent)
XSHIM_PASS(clCreateProgramWithSource)
XSHIM_PASS(clGetProgramInfo)
XSHIM_PASS(clGetProgramBuildInfo)
XSHIM_PASS(clRetainProgram)
XSHIM_PASS(clReleaseProgram)
XSHIM_PASS(clCreateKernel)
XSHIM_PASS(clReleaseKernel)
XSHIM_PASS(clGetKernelInfo)
XSHIM_PASS(clSetKernelArg)

extern "C" {

CL_API_ENTRY cl_int CL_API_CALL clGetDeviceInfo(cl_device_id device, cl_device_info param,
                                                size_t size, void* value, size_t* size_ret) {
  static const auto f = real<decltype(&::clGetDeviceInfo)>("clGetDeviceInfo");
  const char* version = env_string("XSHIM_DEVICE_VERSION");
  if (param == CL_DEVICE_VERSION && version != nullptr)
    return copy_string(version, size, value, size_ret);
  const char* c_version = env_string("XSHIM_C_VERSION");
  if (param == CL_DEVICE_OPENCL_C_VERSION && c_version != nullptr)
    return copy_string(c_version, size, value, size_ret);
  const long dims = env_long("XSHIM_DIMS");
  if (dims > 3 && param == CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS) {
    if (size_ret != nullptr) *size_ret = sizeof(cl_uint);
    if (value == nullptr) return CL_SUCCESS;
    if (size < sizeof(cl_uint)) return CL_INVALID_VALUE;
    *static_cast<cl_uint*>(value) = static_cast<cl_uint>(dims);
    return CL_SUCCESS;
  }
  if (dims > 3 && param == CL_DEVICE_MAX_WORK_ITEM_SIZES) {
    const size_t needed = static_cast<size_t>(dims) * sizeof(size_t);
    if (size_ret != nullptr) *size_ret = needed;
    if (value == nullptr) return CL_SUCCESS;
    if (size < needed) return CL_INVALID_VALUE;  // as the spec says for a short buffer
    size_t* sizes = static_cast<size_t*>(value);
    const cl_int err = f(device, param, 3 * sizeof(size_t), sizes, nullptr);
    for (long i = 3; i < dims; ++i) sizes[i] = 1;
    return err;
  }
  const cl_int err = f(device, param, size, value, size_ret);
  if (err == CL_SUCCESS && param == CL_DEVICE_TYPE && value != nullptr && env_long("XSHIM_GPU"))
    *static_cast<cl_device_type*>(value) = CL_DEVICE_TYPE_GPU;
  return err;
}

CL_API_ENTRY cl_int CL_API_CALL clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                                         cl_kernel_work_group_info param,
                                                         size_t size, void* value,
                                                         size_t* size_ret) {
  static const auto f = real<decltype(&::clGetKernelWorkGroupInfo)>("clGetKernelWorkGroupInfo");
  const cl_int err = f(kernel, device, param, size, value, size_ret);
  const long limit = env_long("XSHIM_KERNEL_WG");
  if (err == CL_SUCCESS && limit > 0 && param == CL_KERNEL_WORK_GROUP_SIZE && value != nullptr) {
    size_t* items = static_cast<size_t*>(value);
    if (*items > static_cast<size_t>(limit)) *items = static_cast<size_t>(limit);
  }
  return err;
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel,
                                                       cl_uint dims, const size_t* offset,
                                                       const size_t* global, const size_t* local,
                                                       cl_uint wait_count, const cl_event* waits,
                                                       cl_event* event) {
  static const auto f = real<decltype(&::clEnqueueNDRangeKernel)>("clEnqueueNDRangeKernel");
  const long limit = env_long("XSHIM_KERNEL_WG");
  if (limit > 0 && local != nullptr) {
    size_t items = 1;
    for (cl_uint i = 0; i < dims; ++i) items *= local[i];
    if (items > static_cast<size_t>(limit)) return CL_INVALID_WORK_GROUP_SIZE;
  }
  const long grid_z = env_long("XSHIM_MAX_GRID_Z");
  if (grid_z > 0 && dims == 3) {
    const size_t groups = global[2] / (local != nullptr ? local[2] : 1);
    if (groups > static_cast<size_t>(grid_z)) return CL_INVALID_GLOBAL_WORK_SIZE;
  }
  return f(queue, kernel, dims, offset, global, local, wait_count, waits, event);
}

CL_API_ENTRY cl_int CL_API_CALL clFinish(cl_command_queue queue) {
  static const auto f = real<decltype(&::clFinish)>("clFinish");
  const cl_int err = f(queue);
  const long forced = env_long("XSHIM_FINISH_ERR");
  return forced != 0 ? static_cast<cl_int>(forced) : err;
}

CL_API_ENTRY cl_int CL_API_CALL clWaitForEvents(cl_uint count, const cl_event* events) {
  static const auto f = real<decltype(&::clWaitForEvents)>("clWaitForEvents");
  const cl_int err = f(count, events);
  const long forced = env_long("XSHIM_WAIT_ERR");
  return forced != 0 ? static_cast<cl_int>(forced) : err;
}

CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size,
                                               void* host, cl_int* err) {
  static const auto f = real<decltype(&::clCreateBuffer)>("clCreateBuffer");
  const long forced = env_long("XSHIM_CREATE_BUFFER_ERR");
  if (forced != 0) {
    if (err != nullptr) *err = static_cast<cl_int>(forced);
    return nullptr;
  }
  return f(context, flags, size, host, err);
}

CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithBinary(
    cl_context context, cl_uint num_devices, const cl_device_id* devices, const size_t* lengths,
    const unsigned char** binaries, cl_int* binary_status, cl_int* errcode_ret) {
  static const auto f = real<decltype(&::clCreateProgramWithBinary)>("clCreateProgramWithBinary");
  if (env_long("XSHIM_CRASH_ON_BINARY") == 1) raise(SIGKILL);
  return f(context, num_devices, devices, lengths, binaries, binary_status, errcode_ret);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueFillBuffer(cl_command_queue queue, cl_mem buffer,
                                                    const void* pattern, size_t pattern_size,
                                                    size_t offset, size_t size, cl_uint wait_count,
                                                    const cl_event* waits, cl_event* event) {
  static const auto f = real<decltype(&::clEnqueueFillBuffer)>("clEnqueueFillBuffer");
  const long forced = env_long("XSHIM_FILL_ERR");
  if (forced != 0) return static_cast<cl_int>(forced);
  return f(queue, buffer, pattern, pattern_size, offset, size, wait_count, waits, event);
}

CL_API_ENTRY cl_int CL_API_CALL clGetEventProfilingInfo(cl_event event, cl_profiling_info param,
                                                        size_t size, void* value,
                                                        size_t* size_ret) {
  static const auto f = real<decltype(&::clGetEventProfilingInfo)>("clGetEventProfilingInfo");
  if (env_long("XSHIM_NO_PROF")) return CL_PROFILING_INFO_NOT_AVAILABLE;
  return f(event, param, size, value, size_ret);
}

CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program program, cl_uint device_count,
                                               const cl_device_id* devices, const char* options,
                                               void(CL_CALLBACK* notify)(cl_program, void*),
                                               void* user_data) {
  static const auto f = real<decltype(&::clBuildProgram)>("clBuildProgram");
  static const auto info = real<decltype(&::clGetProgramInfo)>("clGetProgramInfo");
  if (const char* needle = env_string("XSHIM_FAIL_BUILD_SOURCE")) {
    size_t n = 0;
    if (info(program, CL_PROGRAM_SOURCE, 0, nullptr, &n) == CL_SUCCESS && n > 1) {
      std::string source(n, '\0');
      if (info(program, CL_PROGRAM_SOURCE, n, source.data(), nullptr) == CL_SUCCESS &&
          source.find(needle) != std::string::npos)
        return CL_BUILD_PROGRAM_FAILURE;
    }
  }
  return f(program, device_count, devices, options, notify, user_data);
}

}  // extern "C"
