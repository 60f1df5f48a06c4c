// Host <-> kernel contract of the OpenCL C attention kernels (attention_flash.cl and
// attention_reference.cl, behind the xinhe_dtype.cl prelude), shared by the OpenCL backend
// (built at run time) and the Level Zero backend (SPIR-V variants compiled at build time), as
// gemm_opencl.h is for GEMM: valid and default parameters, the build options that specialise
// a kernel for an op, the argument order and the launch geometry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "opencl_c_launch.h"
#include "xinhe/ops.h"

namespace xinhe::opencl_c {

inline constexpr const char* kAttentionFlashProgram = "attention_flash";
inline constexpr const char* kAttentionReferenceProgram = "attention_reference";
inline constexpr const char* kAttentionFlashKernel = "xinhe_attention_flash";
inline constexpr const char* kAttentionReferenceKernel = "xinhe_attention_reference";

// head_dim is chosen per op, after the parameters: bounds assume the largest one allowed.
constexpr int kMaxAttentionHeadDim = 256;

// Parameters of attention_flash.cl; the OpenCL backend's tuning database
// (backends/opencl/tuning_db.h) tunes them per device.
struct FlashTile {
  int qwi = 2, bkv = 16, wg = 8;  // query rows per work-item, key block, work-group size
  int dv = 8;                     // d-vector width (1, 4, 8); narrowed when D or strides need
  // "" when consistent and within the device's limits, else what is wrong.
  std::string validate(const KernelLimits& limits) const;
  std::string to_string() const;
  uint64_t private_bytes_per_work_item() const;  // at kMaxAttentionHeadDim
};

// Safe defaults by device kind (CPU-like: PoCL; otherwise GPU).
FlashTile default_flash_tile(bool cpu_like);

// How the flash kernel reads rows for an op: d vectors of dv lanes need every d stride to be
// 1 and dv to divide D; dv narrows (8 -> 4 -> 1) until both hold.
struct FlashLayout {
  bool contiguous_d = false;
  int dv = 1;
};
FlashLayout flash_layout(const xinhe_attention_desc_t& d, const FlashTile& p);

// Build options for attention_reference.cl, and for attention_flash.cl:
// "-cl-std=CL1.2 -DDTYPE=0 -DCAUSAL=1 -DWITH_LSE=1[ -DHEAD_DIM=128 -DQWI=1 ...]".
std::string attention_options(const xinhe_attention_desc_t& d);
std::string attention_flash_options(const xinhe_attention_desc_t& d, const FlashTile& p,
                                    const FlashLayout& layout);

// xinhe_attention_flash: ceil(Sq / QWI) rows rounded up to the work-group, Hq, B.
NdRange attention_flash_range(const xinhe_attention_desc_t& d, const FlashTile& p);
// xinhe_attention_reference: (Sq, Hq, B).
NdRange attention_reference_range(const xinhe_attention_desc_t& d);

// The arguments of both kernels in kernel order (the reference kernel also takes head_dim,
// after seq_kv); visit(value) is called once per argument. Mem is the backend's buffer
// argument (cl_mem, a USM pointer), Long4 its 4 x int64 vector type (cl_long4, int64_t[4]
// wrapped in a struct); offsets are in elements. lse may be a null Mem when d.with_lse is 0.
template <typename Mem, typename Long4, typename Visit>
void attention_kernel_args(const xinhe_attention_desc_t& d, bool reference, Mem q, int64_t q_offset,
                           Mem k, int64_t k_offset, Mem v, int64_t v_offset, Mem o,
                           int64_t o_offset, Mem lse, int64_t lse_offset, Visit&& visit) {
  const auto long4 = [](const int64_t s[4]) {
    Long4 out{};
    for (int i = 0; i < 4; ++i) out.s[i] = s[i];
    return out;
  };
  const int64_t lse3[4] = {d.lse_strides[0], d.lse_strides[1], d.lse_strides[2], 0};
  const int64_t hq = d.heads_q, hkv = d.heads_kv, sq = d.seq_q, skv = d.seq_kv, dim = d.head_dim;
  const Long4 qs = long4(d.q_strides), ks = long4(d.k_strides), vs = long4(d.v_strides),
              os = long4(d.o_strides), ls = long4(lse3);
  const float scale = d.scale;
  visit(hq), visit(hkv), visit(sq), visit(skv);
  if (reference) visit(dim);
  visit(scale);
  visit(q), visit(q_offset), visit(qs);
  visit(k), visit(k_offset), visit(ks);
  visit(v), visit(v_offset), visit(vs);
  visit(o), visit(o_offset), visit(os);
  visit(lse), visit(lse_offset), visit(ls);
}

}  // namespace xinhe::opencl_c
