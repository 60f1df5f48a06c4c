// The GEMM kernel families of gemm_cuda.cu as data: for each, what it needs (hardware, dtypes,
// operand layout), the name of its kernel for a description, the shared memory it opts into,
// its launch geometry, and which family runs the operands it cannot take at run time. Read by
// the GPU backend (backends/gpu/gpu_gemm.cpp) to build its implementation list and to launch,
// and by the host emulation test (tests/gpu/kernel_emulation_test.cpp) to launch the same
// kernels the same way, so the two cannot drift. Host-only C++.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "gemm_cuda.h"
#include "gemm_wgmma_host.h"
#include "gpu_family.h"
#include "xinhe/ops.h"

namespace xinhe::kernels::gpu {

enum class GemmFamilyId { kWgmma, kMfma, kTensorOp, kSimt, kNaive };

struct GemmFamily {
  GemmFamilyId id;
  const char* method;  // the implementation name's method: "tensorop"
  const char* arch;    // the implementation name's target: "sm80"; nullptr for portable kernels
  // Kernel names: xinhe_gemm_<method>_<ab>_<c>[_<layout>]<kernel_suffix> (gemm_cuda.h).
  bool layout_in_kernel_name;
  const char* kernel_suffix;
  bool half_inputs_only;  // f16 / bf16 A and B
  // A and B rows start on 16 bytes: lda, ldb and the batch strides are multiples of
  // XINHE_GEMM_TENSOROP_ALIGN_ELEMENTS (checked at create) and so must the base addresses be
  // (known only at run: misaligned_fallback runs those).
  bool aligned_rows;
  // Why a device with caps lacks the hardware the family needs, "" when it has it.
  std::string (*missing_hardware)(const DeviceCapabilities& caps);
  uint32_t dynamic_smem;  // shared memory the kernel opts into (cuFuncSetAttribute); 0: none
  GemmFamilyId misaligned_fallback;  // == id: none needed
  // wgmma: the family that runs operands whose tensor maps the driver refuses to encode.
  GemmFamilyId tma_fallback;
};

inline std::string no_special_hardware(const DeviceCapabilities&) { return ""; }
inline std::string needs_wgmma_and_tma(const DeviceCapabilities& c) {
  if (!c.wgmma) return "needs wgmma (compute capability 9.0), device is " + c.arch;
  if (!c.tma) return "the driver cannot encode TMA tensor maps";
  return "";
}
inline std::string needs_mfma(const DeviceCapabilities& c) {
  return c.mfma ? "" : "needs MFMA (AMD gfx90a or gfx94x), device is " + c.arch;
}
inline std::string needs_mma_sync(const DeviceCapabilities& c) {
  return c.mma_sync ? "" : "needs mma.sync (NVIDIA sm_80 or newer), device is " + c.arch;
}

// In dispatch order, fastest first; a backend inserts a vendor library before simt.
inline constexpr GemmFamily kGemmFamilies[] = {
    {GemmFamilyId::kWgmma, "wgmma", "sm90a", true, "_sm90a", true, true, needs_wgmma_and_tma,
     XINHE_GEMM_WGMMA_SMEM_BYTES, GemmFamilyId::kSimt, GemmFamilyId::kTensorOp},
    {GemmFamilyId::kMfma, "mfma", "gfx90a", true, "", true, true, needs_mfma, 0,
     GemmFamilyId::kSimt, GemmFamilyId::kMfma},
    {GemmFamilyId::kTensorOp, "tensorop", "sm80", true, "_sm80", true, true, needs_mma_sync,
     XINHE_GEMM_TENSOROP_SMEM_BYTES, GemmFamilyId::kSimt, GemmFamilyId::kTensorOp},
    {GemmFamilyId::kSimt, "simt", nullptr, false, "", false, false, no_special_hardware, 0,
     GemmFamilyId::kSimt, GemmFamilyId::kSimt},
    {GemmFamilyId::kNaive, "naive", nullptr, false, "", false, false, no_special_hardware, 0,
     GemmFamilyId::kNaive, GemmFamilyId::kNaive},
};

inline const GemmFamily& gemm_family(GemmFamilyId id) {
  for (const GemmFamily& f : kGemmFamilies) {
    if (f.id == id) return f;
  }
  return kGemmFamilies[0];  // unreachable: every id has an entry
}

inline const char* kernel_dtype_tag(xinhe_dtype_t t) {
  return t == XINHE_DTYPE_F32    ? "f32"
         : t == XINHE_DTYPE_F16  ? "f16"
         : t == XINHE_DTYPE_BF16 ? "bf16"
                                 : "?";
}

// "xinhe_gemm_tensorop_f16_f32_nt_sm80"
inline std::string gemm_kernel_name(const GemmFamily& f, xinhe_dtype_t ab, xinhe_dtype_t c,
                                    int trans_a, int trans_b) {
  std::string name = std::string("xinhe_gemm_") + f.method + "_" + kernel_dtype_tag(ab) + "_" +
                     kernel_dtype_tag(c);
  if (f.layout_in_kernel_name) {
    name += std::string("_") + (trans_a ? "t" : "n") + (trans_b ? "t" : "n");
  }
  return name + f.kernel_suffix;
}

// The kernel parameters of d, operands not yet bound (a, b, c NULL; alpha 1, beta 0).
inline xinhe_gemm_cuda_params_t gemm_params(const xinhe_gemm_desc_t& d) {
  xinhe_gemm_cuda_params_t p{};
  p.m = d.m;
  p.n = d.n;
  p.k = d.k;
  p.batch = d.batch;
  p.lda = d.lda;
  p.ldb = d.ldb;
  p.ldc = d.ldc;
  p.stride_a = d.stride_a;
  p.stride_b = d.stride_b;
  p.stride_c = d.stride_c;
  p.trans_a = d.trans_a;
  p.trans_b = d.trans_b;
  p.alpha = 1.0f;
  p.beta = 0.0f;
  return p;
}

// The largest m and n the launch of family f (gemm_launch) covers on a device with caps: M
// blocks on grid y (at most kMaxGridYZ), N blocks on grid x (max_grid_x of its threads along
// x). The persistent wgmma kernel walks its tiles with gridDim.x CTAs and int64 indices, so its
// grid sets no limit.
struct GemmGridLimit {
  int64_t max_m, max_n;
};
inline GemmGridLimit gemm_grid_limit(const GemmFamily& f, const DeviceCapabilities& caps) {
  int64_t block_m = 0, block_n = 0, threads_x = 0;
  switch (f.id) {
    case GemmFamilyId::kWgmma:
      return {INT64_MAX, INT64_MAX};
    case GemmFamilyId::kMfma:
      block_m = XINHE_GEMM_MFMA_BLOCK_M;
      block_n = XINHE_GEMM_MFMA_BLOCK_N;
      threads_x = XINHE_GEMM_MFMA_THREADS;
      break;
    case GemmFamilyId::kTensorOp:
      block_m = XINHE_GEMM_TENSOROP_BLOCK_M;
      block_n = XINHE_GEMM_TENSOROP_BLOCK_N;
      threads_x = XINHE_GEMM_TENSOROP_THREADS;
      break;
    case GemmFamilyId::kSimt:
      block_m = XINHE_GEMM_SIMT_BLOCK_M;
      block_n = XINHE_GEMM_SIMT_BLOCK_N;
      threads_x = XINHE_GEMM_SIMT_THREADS;
      break;
    case GemmFamilyId::kNaive:
      block_m = block_n = threads_x = XINHE_GEMM_NAIVE_BLOCK;
      break;
  }
  return {kMaxGridYZ * block_m, max_grid_x(caps, threads_x) * block_n};
}

// Why the grid of family f cannot cover d on a device with caps ("" when it can); role names
// what f does for the family being checked ("" for the family itself).
inline std::string gemm_grid_unsupported(const GemmFamily& f, const DeviceCapabilities& caps,
                                         const xinhe_gemm_desc_t& d, const std::string& role) {
  const GemmGridLimit limit = gemm_grid_limit(f, caps);
  const std::string whose = role.empty() ? std::string("the grid") : "the grid of " + role;
  if (d.m > limit.max_m)
    return "m too large for " + whose + " (> " + std::to_string(limit.max_m) + ")";
  if (d.n > limit.max_n)
    return "n too large for " + whose + " (> " + std::to_string(limit.max_n) + ")";
  return "";
}

// Why family f cannot run d on a device with caps, "" when it can.
inline std::string gemm_unsupported(const GemmFamily& f, const DeviceCapabilities& caps,
                                    const xinhe_gemm_desc_t& d) {
  const bool half = d.ab_dtype == XINHE_DTYPE_F16 || d.ab_dtype == XINHE_DTYPE_BF16;
  const int64_t align = XINHE_GEMM_TENSOROP_ALIGN_ELEMENTS;
  const bool rows_aligned = d.lda % align == 0 && d.ldb % align == 0 &&
                            (d.batch <= 1 || (d.stride_a % align == 0 && d.stride_b % align == 0));
  // The kernels are compiled for f32, f16 and bf16 storage (f32 accumulation) only.
  for (const xinhe_dtype_t t : {d.ab_dtype, d.c_dtype}) {
    if (std::string(kernel_dtype_tag(t)) == "?") {
      return std::string("no ") + f.method + " kernel for " +
             (t == XINHE_DTYPE_F64 ? "f64" : "this dtype") +
             " (the GPU kernels take f32, f16 and bf16)";
    }
  }
  if (f.half_inputs_only && !half) return "needs f16 or bf16 inputs";
  if (std::string missing = f.missing_hardware(caps); !missing.empty()) return missing;
  if (f.aligned_rows && !rows_aligned) {
    return "lda, ldb and batch strides must be multiples of 8 elements";
  }
  if (f.id == GemmFamilyId::kWgmma) {
    if (d.k == 0) return "k == 0";
    const std::string tma =
        wgmma::wgmma_layout_unsupported(gemm_params(d), d.ab_dtype == XINHE_DTYPE_BF16);
    if (!tma.empty()) return "TMA cannot describe the operands: " + tma;
  }
  // The family's own launch, and those of the families it hands runs to (decided per run, so
  // they must fit too).
  if (std::string grid = gemm_grid_unsupported(f, caps, d, ""); !grid.empty()) return grid;
  if (f.misaligned_fallback != f.id) {
    const GemmFamily& fallback = gemm_family(f.misaligned_fallback);
    std::string grid =
        gemm_grid_unsupported(fallback, caps, d, std::string(fallback.method) + " (misaligned A or B)");
    if (!grid.empty()) return grid;
  }
  if (f.tma_fallback != f.id) {
    const GemmFamily& fallback = gemm_family(f.tma_fallback);
    std::string grid =
        gemm_grid_unsupported(fallback, caps, d, std::string(fallback.method) + " (tensor maps refused)");
    if (!grid.empty()) return grid;
  }
  return "";
}

// The launch of family f for p. max_grid_z: blocks along z (batches beyond are looped in the
// kernel; the backend passes XINHE_GPU_MAX_GRID_Z); compute_units: the persistent wgmma grid.
inline Launch gemm_launch(const GemmFamily& f, const xinhe_gemm_cuda_params_t& p,
                          int64_t max_grid_z, int compute_units) {
  Launch l;
  l.dynamic_smem = f.dynamic_smem;
  l.grid[2] = batch_grid(p.batch, max_grid_z);
  switch (f.id) {
    case GemmFamilyId::kWgmma: {
      xinhe_gemm_wgmma_params_t w{};
      w.gemm = p;
      w.tiles_m = ceil_div64(p.m, XINHE_GEMM_WGMMA_BLOCK_M);
      w.tiles_n = ceil_div64(p.n, XINHE_GEMM_WGMMA_BLOCK_N);
      l.grid[0] = wgmma::wgmma_grid_size(w, compute_units);
      l.grid[2] = 1;
      l.block[0] = XINHE_GEMM_WGMMA_THREADS;
      break;
    }
    case GemmFamilyId::kTensorOp:
      l.grid[0] = ceil_div(p.n, XINHE_GEMM_TENSOROP_BLOCK_N);
      l.grid[1] = ceil_div(p.m, XINHE_GEMM_TENSOROP_BLOCK_M);
      l.block[0] = XINHE_GEMM_TENSOROP_THREADS;
      break;
    case GemmFamilyId::kMfma:
      l.grid[0] = ceil_div(p.n, XINHE_GEMM_MFMA_BLOCK_N);
      l.grid[1] = ceil_div(p.m, XINHE_GEMM_MFMA_BLOCK_M);
      l.block[0] = XINHE_GEMM_MFMA_THREADS;
      break;
    case GemmFamilyId::kSimt:
      l.grid[0] = ceil_div(p.n, XINHE_GEMM_SIMT_BLOCK_N);
      l.grid[1] = ceil_div(p.m, XINHE_GEMM_SIMT_BLOCK_M);
      l.block[0] = XINHE_GEMM_SIMT_THREADS;
      break;
    case GemmFamilyId::kNaive:
      l.grid[0] = ceil_div(p.n, XINHE_GEMM_NAIVE_BLOCK);
      l.grid[1] = ceil_div(p.m, XINHE_GEMM_NAIVE_BLOCK);
      l.block[0] = l.block[1] = XINHE_GEMM_NAIVE_BLOCK;
      break;
  }
  return l;
}

}  // namespace xinhe::kernels::gpu
