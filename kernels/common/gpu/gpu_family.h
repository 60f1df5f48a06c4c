// What the CUDA-dialect kernel families (kernels/gemm/cuda/gemm_families.h,
// kernels/attention/cuda/attention_families.h) need to know about a device, and what they tell
// the launcher. Host-only plain data, shared by the GPU backend (backends/gpu/) and the host
// emulation test of the kernels (tests/gpu/), so that both launch every kernel the same way.
#pragma once

#include <cstdint>
#include <string>

namespace xinhe::kernels::gpu {

// Hardware a kernel family may need. The vendor layers (backends/cuda/cuda_driver.h,
// backends/hip/hip_driver.h) report it per device; the families say which parts they need, so
// no shared code tests vendor or architecture names.
struct DeviceCapabilities {
  std::string arch;       // "sm_90", "gfx ip 9.0": for messages only
  bool mma_sync = false;  // NVIDIA warp MMA with ldmatrix and cp.async (sm_80 and newer)
  bool wgmma = false;     // NVIDIA warpgroup MMA of the sm_90a image (compute capability 9.0)
  bool tma = false;       // the driver encodes TMA tensor maps
  bool mfma = false;      // AMD matrix cores with f16 and bf16_1k MFMA (CDNA2, CDNA3)
  int wave_size = 32;     // lanes per hardware warp or wavefront
  int compute_units = 0;  // SMs or CUs (the size of persistent grids)
  // Work-items one launch may have along a dimension (grid times block); 0: no limit beyond
  // the grid's own. HIP refuses gridDim * blockDim >= 2^32 in any dimension.
  uint64_t max_threads_per_dimension = 0;
};

// One kernel launch: grid and block in threads, dynamic shared memory in bytes.
struct Launch {
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  uint32_t dynamic_smem = 0;
};

// Grid y and z are limited to this many blocks on every target, x to kMaxGridX.
inline constexpr int64_t kMaxGridYZ = 65535;
inline constexpr int64_t kMaxGridX = 0x7fffffff;

// The most blocks of block_threads work-items a grid may have along x on a device with caps.
inline int64_t max_grid_x(const DeviceCapabilities& caps, int64_t block_threads) {
  if (caps.max_threads_per_dimension == 0) return kMaxGridX;
  const uint64_t by_threads = caps.max_threads_per_dimension / static_cast<uint64_t>(block_threads);
  return by_threads < static_cast<uint64_t>(kMaxGridX) ? static_cast<int64_t>(by_threads)
                                                        : kMaxGridX;
}

// ceil(a / b) for a >= 0, b > 0, without the (a + b - 1) that wraps near 2^63.
inline int64_t ceil_div64(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

// A grid size; the families' eligibility checks keep it within max_grid_x / kMaxGridYZ.
inline uint32_t ceil_div(int64_t a, int64_t b) { return static_cast<uint32_t>(ceil_div64(a, b)); }

// Blocks along z for batch: batches beyond max_grid_z are looped inside the kernels.
inline uint32_t batch_grid(int64_t batch, int64_t max_grid_z) {
  return static_cast<uint32_t>(batch < max_grid_z ? batch : max_grid_z);
}

}  // namespace xinhe::kernels::gpu
