// Helpers shared by the OpenCL op implementations: implementation filters, dispatch logging,
// byte -> element offsets, and a kernel launcher that serializes argument setting (cl_kernel
// arguments are per-object state, and op handles may be run from several threads).
#pragma once

#include <cstdlib>
#include <mutex>
#include <string>

#include "opencl_internal.h"
#include "status_util.h"

namespace xinhe::opencl {

inline const char* dtype_short_name(xinhe_dtype_t t) {
  switch (t) {
    case XINHE_DTYPE_F32:
      return "f32";
    case XINHE_DTYPE_F16:
      return "f16";
    case XINHE_DTYPE_BF16:
      return "bf16";
    case XINHE_DTYPE_F64:
      return "f64";
    default:
      return "?";
  }
}

inline size_t dtype_bytes(xinhe_dtype_t t) {
  return t == XINHE_DTYPE_F32 ? 4 : t == XINHE_DTYPE_F64 ? 8 : 2;
}

// The implementation filter: the override when given, else the environment variable.
inline std::string impl_filter(const char* override_value, const char* env_name) {
  if (override_value != nullptr) return override_value;
  const char* v = std::getenv(env_name);
  return v ? v : "";
}

inline void log_dispatch(const Device* device, const std::string& message) {
  if (device->host()->verbose_enabled("dispatch"))
    device->host()->log("dispatch", "opencl", message.c_str());
}

// Byte offset -> element offset; false when it is not a whole number of elements.
inline bool element_offset(uint64_t bytes, size_t elem_size, cl_long* out) {
  if (bytes % elem_size != 0) return false;
  *out = static_cast<cl_long>(bytes / elem_size);
  return true;
}

inline size_t round_up(size_t v, size_t multiple) {
  return (v + multiple - 1) / multiple * multiple;
}

// A built kernel plus the lock that makes set-args + enqueue atomic per op.
class KernelLauncher {
 public:
  KernelLauncher() = default;
  ~KernelLauncher() { reset(); }
  KernelLauncher(const KernelLauncher&) = delete;
  KernelLauncher& operator=(const KernelLauncher&) = delete;

  // Builds (through the device's program cache) and creates the named kernel.
  xinhe_status_t init(Device* device, const std::string& source, const std::string& options,
                      const char* kernel_name) {
    device_ = device;
    cl_program program = nullptr;
    if (xinhe_status_t st = device->programs->get(source, options, kernel_name, &program))
      return st;
    cl_int err = CL_SUCCESS;
    kernel_ = device->cl().clCreateKernel(program, kernel_name, &err);
    device->cl().clReleaseProgram(program);  // the kernel keeps the program alive
    XINHE_CL_RETURN_IF_ERROR(device->host(), err, "clCreateKernel");
    return nullptr;
  }
  void reset() {
    if (kernel_ != nullptr) device_->cl().clReleaseKernel(kernel_);
    kernel_ = nullptr;
  }
  bool ready() const { return kernel_ != nullptr; }

  struct Arg {
    size_t size;
    const void* value;
  };
  template <typename T>
  static Arg arg(const T& v) {
    return Arg{sizeof(T), &v};
  }

  // local == nullptr lets the driver pick the work-group.
  xinhe_status_t launch(cl_command_queue queue, const Arg* args, size_t arg_count,
                        const size_t global[3], const size_t* local) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < arg_count; ++i) {
      XINHE_CL_RETURN_IF_ERROR(device_->host(),
                               device_->cl().clSetKernelArg(kernel_, static_cast<cl_uint>(i),
                                                            args[i].size, args[i].value),
                               "clSetKernelArg");
    }
    XINHE_CL_RETURN_IF_ERROR(device_->host(),
                             device_->cl().clEnqueueNDRangeKernel(
                                 queue, kernel_, 3, nullptr, global, local, 0, nullptr, nullptr),
                             "clEnqueueNDRangeKernel");
    return nullptr;
  }

 private:
  Device* device_ = nullptr;
  cl_kernel kernel_ = nullptr;
  std::mutex mutex_;
};

}  // namespace xinhe::opencl
