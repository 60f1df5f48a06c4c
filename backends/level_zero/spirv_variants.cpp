// The Level Zero kernel set (spirv_variants.h), enumerated through the same option builders
// the backend calls at run time.
#include "spirv_variants.h"

namespace xinhe::level_zero {

opencl_c::GemmTile level_zero_gemm_tile() { return opencl_c::default_gemm_tile(false); }
opencl_c::FlashTile level_zero_flash_tile() { return opencl_c::default_flash_tile(false); }

const std::vector<int64_t>& level_zero_flash_head_dims() {
  static const std::vector<int64_t> dims = {64, 128};
  return dims;
}

std::vector<SpirvVariant> level_zero_spirv_variants() {
  std::vector<SpirvVariant> out;
  const xinhe_dtype_t f32 = XINHE_DTYPE_F32, f16 = XINHE_DTYPE_F16, bf16 = XINHE_DTYPE_BF16;
  const std::pair<xinhe_dtype_t, xinhe_dtype_t> pairs[] = {
      {f32, f32}, {f16, f16}, {f16, f32}, {bf16, bf16}, {bf16, f32}};
  for (const auto& [ab, c] : pairs) {
    for (int trans = 0; trans < 4; ++trans) {
      xinhe_gemm_desc_t d{};
      d.ab_dtype = ab;
      d.c_dtype = c;
      d.trans_a = trans & 2 ? 1 : 0;
      d.trans_b = trans & 1 ? 1 : 0;
      out.push_back({opencl_c::kGemmReferenceProgram, opencl_c::gemm_options(d)});
      out.push_back(
          {opencl_c::kGemmTiledProgram, opencl_c::gemm_tiled_options(d, level_zero_gemm_tile())});
    }
  }
  for (xinhe_dtype_t dt : {f32, f16, bf16}) {
    for (int causal = 0; causal < 2; ++causal) {
      for (int lse = 0; lse < 2; ++lse) {
        xinhe_attention_desc_t d{};
        d.dtype = dt;
        d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
        d.with_lse = lse;
        out.push_back({opencl_c::kAttentionReferenceProgram, opencl_c::attention_options(d)});
        for (int64_t dim : level_zero_flash_head_dims()) {
          d.head_dim = dim;
          d.q_strides[3] = d.k_strides[3] = d.v_strides[3] = d.o_strides[3] = 1;  // contiguous d
          const opencl_c::FlashTile tile = level_zero_flash_tile();
          out.push_back(
              {opencl_c::kAttentionFlashProgram,
               opencl_c::attention_flash_options(d, tile, opencl_c::flash_layout(d, tile))});
        }
      }
    }
  }
  return out;
}

}  // namespace xinhe::level_zero
