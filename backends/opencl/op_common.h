// Helpers shared by the OpenCL op implementations: dispatch logging, byte -> element offsets,
// and a kernel launcher that serializes argument setting (cl_kernel arguments are per-object
// state, and op handles may be run from several threads). The implementation lists themselves
// are walked by the dispatch service of xinhe/backend.hpp.
#pragma once

#include <mutex>
#include <string>

#include "opencl_internal.h"
#include "status_util.h"
#include "xinhe/backend.hpp"

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

inline void log_dispatch(const Device* device, const std::string& message) {
  xinhe::backend::log_dispatch(device->host(), "opencl", message);
}

// OpenCL C the compiler rejects, appended to the source of an implementation whose name
// contains OpOverrides::break_build: tests make a kernel fail to build as a real one would.
inline std::string maybe_broken(const std::string& source, const std::string& impl_name,
                                const char* break_build) {
  if (break_build == nullptr || break_build[0] == '\0' ||
      impl_name.find(break_build) == std::string::npos)
    return source;
  return source + "\n#error \"build failure injected by a test\"\n";
}

// A kernel build's error as the dispatch walker takes it: out of memory or a lost device end
// the op's creation; anything else (a program that does not compile) skips to the next entry.
inline xinhe::backend::Built built_or_skip(const Device* device, const ClError& error) {
  if (error.fatal()) return xinhe::backend::Built::fatal(error.to_status(device->host()));
  return xinhe::backend::Built::skip(error.message());
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

  // Builds (through the device's program cache) and creates the named kernel, replacing any
  // kernel this launcher held.
  ClError init(Device* device, const std::string& source, const std::string& options,
               const char* kernel_name) {
    reset();
    device_ = device;
    cl_program program = nullptr;
    if (ClError error = device->programs->get(source, options, kernel_name, &program)) return error;
    cl_int err = CL_SUCCESS;
    cl_kernel kernel = device->cl().clCreateKernel(program, kernel_name, &err);
    device->cl().clReleaseProgram(program);  // the kernel keeps the program alive
    if (err != CL_SUCCESS) return XINHE_CL_ERROR(err, "clCreateKernel", kernel_name);
    kernel_ = kernel;
    return ClError{};
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
      XINHE_BE_RETURN_IF_ERROR(
          XINHE_CL_STATUS(device_->host(),
                          device_->cl().clSetKernelArg(kernel_, static_cast<cl_uint>(i),
                                                       args[i].size, args[i].value),
                          "clSetKernelArg"));
    }
    XINHE_BE_RETURN_IF_ERROR(
        XINHE_CL_STATUS(device_->host(),
                        device_->cl().clEnqueueNDRangeKernel(queue, kernel_, 3, nullptr, global,
                                                             local, 0, nullptr, nullptr),
                        "clEnqueueNDRangeKernel"));
    return nullptr;
  }

 private:
  Device* device_ = nullptr;
  cl_kernel kernel_ = nullptr;
  std::mutex mutex_;
};

}  // namespace xinhe::opencl
