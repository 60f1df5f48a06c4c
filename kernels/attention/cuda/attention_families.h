// The attention kernel families of attention_cuda.cu as data: for each, what it needs
// (hardware, dtype, head dim), the name of its kernel for a description, its shared memory and
// its launch geometry. Read by the GPU backend (backends/gpu/gpu_attention.cpp) and by the host
// emulation test (tests/gpu/kernel_emulation_test.cpp), so both launch the same kernels the same
// way. Host-only C++.
#pragma once

#include <cstdint>
#include <string>

#include "attention_cuda.h"
#include "gpu_family.h"
#include "xinhe/ops.h"

namespace xinhe::kernels::gpu {

enum class AttentionFamilyId { kWgmma, kTensorOp, kFlash, kNaive };

struct AttentionFamily {
  AttentionFamilyId id;
  const char* method;  // the implementation name's method: "flash"
  const char* arch;    // the implementation name's target: "sm80"; nullptr for portable kernels
  // Kernel names: xinhe_attention_<method>_<dtype>[_d<max head dim>]<kernel_suffix>.
  bool head_dim_in_kernel_name;
  const char* kernel_suffix;
  bool half_only;        // f16 / bf16
  int64_t max_head_dim;  // largest head dim the family runs
  std::string (*missing_hardware)(const DeviceCapabilities& caps);  // "" when present
  int64_t rows_per_block;
  uint32_t threads;
  // Shared memory the kernel opts into for a head-dim bucket (64, 128, 256); 0: none.
  uint32_t (*dynamic_smem)(int64_t max_d);
};

inline std::string attention_needs_nothing(const DeviceCapabilities&) { return ""; }
inline std::string attention_needs_wgmma(const DeviceCapabilities& c) {
  return c.wgmma ? "" : "needs wgmma (compute capability 9.0), device is " + c.arch;
}
inline std::string attention_needs_mma_sync(const DeviceCapabilities& c) {
  return c.mma_sync ? "" : "needs mma.sync (NVIDIA sm_80 or newer), device is " + c.arch;
}
inline uint32_t no_dynamic_smem(int64_t) { return 0; }
inline uint32_t wgmma_attention_smem(int64_t max_d) {
  return static_cast<uint32_t>(XINHE_ATTENTION_WGMMA_SMEM_BYTES(max_d));
}
inline uint32_t tensorop_attention_smem(int64_t max_d) {
  return static_cast<uint32_t>(XINHE_ATTENTION_TENSOROP_SMEM_BYTES(max_d));
}

// In dispatch order, fastest first; the last runs everything.
inline constexpr AttentionFamily kAttentionFamilies[] = {
    {AttentionFamilyId::kWgmma, "wgmma", "sm90a", true, "_sm90a", true, 128, attention_needs_wgmma,
     XINHE_ATTENTION_WGMMA_ROWS_PER_BLOCK, XINHE_ATTENTION_WGMMA_THREADS, wgmma_attention_smem},
    {AttentionFamilyId::kTensorOp, "tensorop", "sm80", true, "_sm80", true, 128,
     attention_needs_mma_sync, XINHE_ATTENTION_TENSOROP_ROWS_PER_BLOCK,
     XINHE_ATTENTION_TENSOROP_THREADS, tensorop_attention_smem},
    {AttentionFamilyId::kFlash, "flash", nullptr, true, "", false, 256, attention_needs_nothing,
     XINHE_ATTENTION_FLASH_ROWS_PER_BLOCK, XINHE_ATTENTION_FLASH_THREADS, no_dynamic_smem},
    {AttentionFamilyId::kNaive, "naive", nullptr, false, "", false, 256, attention_needs_nothing,
     XINHE_ATTENTION_NAIVE_ROWS_PER_BLOCK, XINHE_ATTENTION_NAIVE_THREADS, no_dynamic_smem},
};

inline const AttentionFamily& attention_family(AttentionFamilyId id) {
  for (const AttentionFamily& f : kAttentionFamilies) {
    if (f.id == id) return f;
  }
  return kAttentionFamilies[0];  // unreachable: every id has an entry
}

// The head-dim bucket of the kernels: 64, 128 or 256.
inline int64_t attention_max_d(int64_t head_dim) {
  return head_dim <= 64 ? 64 : head_dim <= 128 ? 128 : 256;
}

// "xinhe_attention_tensorop_bf16_d128_sm80"
inline std::string attention_kernel_name(const AttentionFamily& f, xinhe_dtype_t dtype,
                                         int64_t head_dim) {
  const char* tag = dtype == XINHE_DTYPE_F32    ? "f32"
                    : dtype == XINHE_DTYPE_F16  ? "f16"
                    : dtype == XINHE_DTYPE_BF16 ? "bf16"
                                                : "?";
  std::string name = std::string("xinhe_attention_") + f.method + "_" + tag;
  if (f.head_dim_in_kernel_name) name += "_d" + std::to_string(attention_max_d(head_dim));
  return name + f.kernel_suffix;
}

// Why family f cannot run d on a device with caps, "" when it can.
inline std::string attention_unsupported(const AttentionFamily& f, const DeviceCapabilities& caps,
                                         const xinhe_attention_desc_t& d) {
  if (d.dtype != XINHE_DTYPE_F32 && d.dtype != XINHE_DTYPE_F16 && d.dtype != XINHE_DTYPE_BF16) {
    return std::string("no kernel for ") + (d.dtype == XINHE_DTYPE_F64 ? "f64" : "this dtype") +
           " (the GPU kernels take f32, f16 and bf16)";
  }
  if (f.half_only && d.dtype == XINHE_DTYPE_F32) return "needs f16 or bf16";
  if (std::string missing = f.missing_hardware(caps); !missing.empty()) return missing;
  if (d.head_dim > f.max_head_dim) return "head_dim > " + std::to_string(f.max_head_dim);
  if (d.heads_q > kMaxGridYZ) return "more than 65535 query heads";
  const int64_t max_blocks = max_grid_x(caps, f.threads);
  if (ceil_div64(d.seq_q, f.rows_per_block) > max_blocks) {
    return "seq_q too large for the grid (> " + std::to_string(max_blocks * f.rows_per_block) +
           ")";
  }
  return "";
}

// The launch of family f for p; max_grid_z as for gemm_launch.
inline Launch attention_launch(const AttentionFamily& f, const xinhe_attention_cuda_params_t& p,
                               int64_t max_grid_z) {
  Launch l;
  l.grid[0] = ceil_div(p.seq_q, f.rows_per_block);
  l.grid[1] = static_cast<uint32_t>(p.heads_q);
  l.grid[2] = batch_grid(p.batch, max_grid_z);
  l.block[0] = f.threads;
  l.dynamic_smem = f.dynamic_smem(attention_max_d(p.head_dim));
  return l;
}

}  // namespace xinhe::kernels::gpu
