// The outcome of one vendor call, as the GPU vendor layers (cuda_driver.h, hip_driver.h) return
// it to gpu_backend.cpp: the vendor's error code and the call's name, no allocation. The
// backend turns a failure into a xinhe status with Driver::to_status (plugins cannot free or
// inspect statuses once created, so failures that are only logged or ignored stay Results).
#pragma once

namespace xinhe::gpu {

struct Result {
  int code = 0;                  // vendor error code; 0 (CUDA_SUCCESS, hipSuccess) is success
  const char* call = nullptr;    // "cuMemAlloc"
  const char* detail = nullptr;  // optional context, e.g. the kernel a launch was for
  // true on failure, as a non-null xinhe_status_t is.
  explicit operator bool() const { return code != 0; }
};

}  // namespace xinhe::gpu
