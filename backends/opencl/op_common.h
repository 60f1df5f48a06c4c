// Helpers shared by the OpenCL op implementations: dispatch logging, byte -> element offsets,
// and a kernel launcher that serializes argument setting (cl_kernel arguments are per-object
// state, and op handles may be run from several threads). The implementation lists themselves
// are walked by the dispatch service of xinhe/backend.hpp.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>

#include "opencl_internal.h"
#include "status_util.h"
#include "xinhe/backend.hpp"

namespace xinhe::opencl {

using xinhe::backend::dtype_tag;

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
  // Whether a work-group of local_items work-items fits this kernel: "" or why not, in *why
  // (an error when the query fails). Drivers lower CL_KERNEL_WORK_GROUP_SIZE below the
  // device's CL_DEVICE_MAX_WORK_GROUP_SIZE for kernels with many registers or much private
  // memory (Intel Xe, Mali, Adreno, ROCm without reqd_work_group_size), and then reject the
  // launch with CL_INVALID_WORK_GROUP_SIZE: an entry launched with an explicit work-group
  // asks here when it is built, so a misfit skips it instead of failing every run.
  ClError check_fits(size_t local_items, const char* kernel_name, std::string* why) const {
    why->clear();
    const ClApi& cl = device_->cl();
    size_t max_items = 0;
    cl_ulong local_bytes = 0, private_bytes = 0;
    cl_int err = cl.clGetKernelWorkGroupInfo(kernel_, device_->id, CL_KERNEL_WORK_GROUP_SIZE,
                                             sizeof(max_items), &max_items, nullptr);
    if (err == CL_SUCCESS) {
      err = cl.clGetKernelWorkGroupInfo(kernel_, device_->id, CL_KERNEL_LOCAL_MEM_SIZE,
                                        sizeof(local_bytes), &local_bytes, nullptr);
    }
    if (err != CL_SUCCESS) return XINHE_CL_ERROR(err, "clGetKernelWorkGroupInfo", kernel_name);
    // Only for the reason's text: no portable limit bounds it.
    if (cl.clGetKernelWorkGroupInfo(kernel_, device_->id, CL_KERNEL_PRIVATE_MEM_SIZE,
                                    sizeof(private_bytes), &private_bytes, nullptr) != CL_SUCCESS) {
      private_bytes = 0;
    }
    const std::string usage = " (" + std::string(kernel_name) + " uses " +
                              std::to_string(private_bytes) + " bytes of private memory per " +
                              "work-item, " + std::to_string(local_bytes) + " of local memory)";
    if (local_items > max_items) {
      *why = "work-group of " + std::to_string(local_items) +
             " work-items exceeds CL_KERNEL_WORK_GROUP_SIZE " + std::to_string(max_items) + usage;
    } else if (device_->info.local_memory != 0 && local_bytes > device_->info.local_memory) {
      *why = "CL_KERNEL_LOCAL_MEM_SIZE " + std::to_string(local_bytes) +
             " exceeds the device's CL_DEVICE_LOCAL_MEM_SIZE " +
             std::to_string(device_->info.local_memory) + usage;
    }
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

  // local == nullptr lets the driver pick the work-group. Dimension 2 (the batch in every
  // kernel, with a work-group of 1) is launched in slices of at most kMaxBatchSlice, the
  // kernels seeing the whole range through get_global_id's offset: NVIDIA maps the ND-range
  // to a CUDA grid, whose z dimension stops at 65535 groups.
  static constexpr size_t kMaxBatchSlice = 65535;
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
    const size_t slice_step =
        local == nullptr ? kMaxBatchSlice : kMaxBatchSlice / local[2] * local[2];
    size_t first = 0;
    do {
      const size_t count = std::min(global[2] - first, slice_step);
      const size_t offset[3] = {0, 0, first};
      const size_t slice[3] = {global[0], global[1], count};
      XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
          device_->host(),
          device_->cl().clEnqueueNDRangeKernel(queue, kernel_, 3, first == 0 ? nullptr : offset,
                                               slice, local, 0, nullptr, nullptr),
          "clEnqueueNDRangeKernel", ClSite::kAllocate));
      first += count;
    } while (first < global[2]);
    return nullptr;
  }

 private:
  Device* device_ = nullptr;
  cl_kernel kernel_ = nullptr;
  std::mutex mutex_;
};

}  // namespace xinhe::opencl
