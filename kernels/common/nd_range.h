// An ND-range for launching an OpenCL C kernel (OpenCL's NDRange, Level Zero's group count x
// group size): global work-items per dimension and the work-group; local {0, 0, 0} lets the
// driver choose the work-group (clEnqueueNDRangeKernel with NULL, zeKernelSuggestGroupSize).
#pragma once

#include <cstddef>

namespace xinhe::opencl_c {

struct NdRange {
  size_t global[3];
  size_t local[3];
  bool driver_chooses_local() const { return local[0] == 0; }
};

}  // namespace xinhe::opencl_c
