// Host <-> kernel contract of the OpenCL C GEMM kernels (gemm_tiled.cl and gemm_reference.cl,
// behind the xinhe_dtype.cl prelude), shared by the two backends that run them: OpenCL, which
// builds them at run time, and Level Zero, which finds them among the SPIR-V variants compiled
// at build time. One place says how an op specialises a kernel (the build options), which tile
// parameters are valid and which are the defaults, the argument order, and the launch
// geometry, so the two backends cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "opencl_c_launch.h"
#include "xinhe/ops.h"

namespace xinhe::opencl_c {

// Program names (the .cl file without extension) and kernel names.
inline constexpr const char* kGemmTiledProgram = "gemm_tiled";
inline constexpr const char* kGemmReferenceProgram = "gemm_reference";
inline constexpr const char* kGemmTiledKernel = "xinhe_gemm_tiled";
inline constexpr const char* kGemmReferenceKernel = "xinhe_gemm_reference";
inline constexpr const char* kGemmPackAKernel = "xinhe_gemm_pack_a";
inline constexpr const char* kGemmPackBKernel = "xinhe_gemm_pack_b";
inline constexpr const char* kGemmPackedKernel = "xinhe_gemm_packed";

// Tile parameters of gemm_tiled.cl (the build options of the same names); the OpenCL
// backend's tuning database (backends/opencl/tuning_db.h) tunes them per device.
struct GemmTile {
  int mwi = 8, nwi = 8, vw = 8, kwi = 2;  // per-work-item tile, vector width, K unroll
  int mwg = 128, nwg = 8, kwg = 16;       // work-group tile (KWG: local-memory K step)
  int use_local = 0;
  int pack = 1;  // 1: pack op(A)/op(B) into f32 panels in the workspace first (large problems)
  // "" when consistent and within the device's limits, else what is wrong (e.g.
  // "NWI % VW != 0", "local tiles need 1310720 bytes, the device has 1048576").
  std::string validate(const KernelLimits& limits) const;
  std::string to_string() const;  // "MWI=4,NWI=16,..."
  // Bytes of local memory and of private memory per work-item the tiled kernel uses.
  uint64_t local_memory_bytes() const;
  uint64_t private_bytes_per_work_item() const;
};

// Safe defaults by device kind: CPU-like devices (PoCL) get barrier-free register tiles and
// packing; GPUs get local-memory tiles shared by a 16 x 16 work-group.
GemmTile default_gemm_tile(bool cpu_like);

// Build options for gemm_reference.cl, and for gemm_tiled.cl with tile parameters p:
// "-cl-std=CL1.2 -DAB_DTYPE=1 -DC_DTYPE=0 -DTRANS_A=0 -DTRANS_B=1[ -DMWI=4 ...]".
std::string gemm_options(const xinhe_gemm_desc_t& d);
std::string gemm_tiled_options(const xinhe_gemm_desc_t& d, const GemmTile& p);

// Whether gemm_tiled packs op(A) and op(B) first: PACK=1 and a problem large enough to repay
// the extra O(MK + NK) traffic and two launches per batch.
bool gemm_tiled_packs(const xinhe_gemm_desc_t& d, const GemmTile& p);

// xinhe_gemm_tiled (and xinhe_gemm_packed, batch 1 per launch when packing).
NdRange gemm_tiled_range(const xinhe_gemm_desc_t& d, const GemmTile& p);
// xinhe_gemm_reference: one work-item per element of C, (n, m, batch).
NdRange gemm_reference_range(const xinhe_gemm_desc_t& d);

// The arguments of xinhe_gemm_tiled and xinhe_gemm_reference in kernel order; visit(value)
// is called once per argument. Mem is the backend's buffer argument (cl_mem, a USM pointer);
// offsets are in elements.
template <typename Mem, typename Visit>
void gemm_kernel_args(const xinhe_gemm_desc_t& d, Mem a, int64_t a_offset, Mem b, int64_t b_offset,
                      Mem c, int64_t c_offset, float alpha, float beta, Visit&& visit) {
  const int64_t m = d.m, n = d.n, k = d.k, lda = d.lda, ldb = d.ldb, ldc = d.ldc;
  const int64_t sa = d.stride_a, sb = d.stride_b, sc = d.stride_c;
  visit(m), visit(n), visit(k);
  visit(a), visit(a_offset), visit(lda), visit(sa);
  visit(b), visit(b_offset), visit(ldb), visit(sb);
  visit(c), visit(c_offset), visit(ldc), visit(sc);
  visit(alpha), visit(beta);
}

}  // namespace xinhe::opencl_c
