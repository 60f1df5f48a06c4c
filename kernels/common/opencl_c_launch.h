// What the host needs to launch an OpenCL C kernel on OpenCL or Level Zero: an ND-range, and
// the device's limits a kernel's work-group and tiles must fit in (checked before a kernel is
// built: a work-group or tile the device cannot hold crashes some drivers instead of failing
// the build or the launch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace xinhe::opencl_c {

// Global work-items per dimension and the work-group; local {0, 0, 0} lets the driver choose
// the work-group (clEnqueueNDRangeKernel with NULL, zeKernelSuggestGroupSize).
struct NdRange {
  size_t global[3];
  size_t local[3];
  bool driver_chooses_local() const { return local[0] == 0; }
};

struct KernelLimits {
  uint64_t max_work_group_size = 1;             // work-items in one group
  uint64_t max_work_item_sizes[3] = {0, 0, 0};  // per dimension; 0 when unknown
  uint64_t local_memory_bytes = 0;              // shared local memory per group
  // CPU drivers (PoCL) run a work-group's work-items in one thread and keep their private
  // arrays together; kCpuWorkGroupPrivateBytes bounds that total there.
  bool cpu_like = false;
};
constexpr uint64_t kCpuWorkGroupPrivateBytes = uint64_t{1} << 20;

// A work-group of (x, y) work-items within the limits: "" or what is wrong.
std::string check_work_group(uint64_t x, uint64_t y, const KernelLimits& limits);
// per_item bytes of private arrays in each of items work-items within the limits: "" or what
// is wrong (only CPU-like devices are bounded).
std::string check_private_memory(uint64_t per_item, uint64_t items, const KernelLimits& limits);

}  // namespace xinhe::opencl_c
