// The Level Zero backend's kernel set: which OpenCL C kernels, specialised how, are compiled
// to SPIR-V at build time (spirv_compiler.cpp) and embedded into the plugin. Each variant is
// named by its program and the exact build options the OpenCL backend would use for the same
// op (kernels/*/opencl/*_opencl.h build them), so the backend finds a variant at run time by
// computing those options for the op at hand; there is no second spelling to drift.
//
// The set (finite; docs/level_zero.md):
//   gemm_reference       5 (A/B, C) dtype pairs x 4 transposes                     = 20
//   gemm_tiled           the same 20 with level_zero_gemm_tile()                   = 20
//   attention_reference  3 dtypes x causal x LSE                                   = 12
//   attention_flash      the same 12 x head_dim {64, 128}, contiguous d,
//                        level_zero_flash_tile()                                   = 24
// Other shapes run the reference kernels (any head_dim up to 256, any strides).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attention_opencl.h"
#include "gemm_opencl.h"

namespace xinhe::level_zero {

struct SpirvVariant {
  std::string program;  // "gemm_tiled": kernels/gemm/opencl/gemm_tiled.cl
  std::string options;  // "-cl-std=CL1.2 -DAB_DTYPE=0 ..."
};

// The tiles the variants are built with: the OpenCL backend's GPU defaults (no tuning
// database can apply to kernels compiled before the device is known).
opencl_c::GemmTile level_zero_gemm_tile();
opencl_c::FlashTile level_zero_flash_tile();
// Head dimensions with a flash variant.
const std::vector<int64_t>& level_zero_flash_head_dims();

// Every variant, in a fixed order.
std::vector<SpirvVariant> level_zero_spirv_variants();

}  // namespace xinhe::level_zero
