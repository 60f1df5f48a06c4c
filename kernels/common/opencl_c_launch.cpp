// Device-limit checks shared by the OpenCL C kernels' host contracts (opencl_c_launch.h).
#include "opencl_c_launch.h"

namespace xinhe::opencl_c {

std::string check_work_group(uint64_t x, uint64_t y, const KernelLimits& limits) {
  const uint64_t size = x * y;  // both small (tile parameters are bounded when parsed)
  if (size > limits.max_work_group_size) {
    return "work-group of " + std::to_string(size) + " work-items, the device allows " +
           std::to_string(limits.max_work_group_size);
  }
  const uint64_t* items = limits.max_work_item_sizes;
  if ((items[0] != 0 && x > items[0]) || (items[1] != 0 && y > items[1])) {
    return "work-group (" + std::to_string(x) + ", " + std::to_string(y) +
           ") exceeds the device's work-item sizes (" + std::to_string(items[0]) + ", " +
           std::to_string(items[1]) + ")";
  }
  return "";
}

std::string check_private_memory(uint64_t per_item, uint64_t items, const KernelLimits& limits) {
  if (!limits.cpu_like || per_item * items <= kCpuWorkGroupPrivateBytes) return "";
  return "work-group keeps " + std::to_string(per_item * items) +
         " bytes of private arrays, more than the " + std::to_string(kCpuWorkGroupPrivateBytes) +
         " allowed on a CPU device";
}

}  // namespace xinhe::opencl_c
