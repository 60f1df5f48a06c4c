// The CPU attention implementation list and its reference-grade fallback.
//
// Order: the tile attention on the GEMM micro-kernels (attention_tiles.h, cpu.attention.flash_*)
// for AMX-BF16 (bf16), AMX-FP16 (f16), AVX512_BF16 (bf16), AVX-512 and AVX2 (every dtype,
// widened to f32), each where its unit is usable; then the single-pass fused kernel
// (attention_flash.inc, cpu.attention.fused_*) for AVX2+FMA and for the baseline ISA; then the
// reference (cpu.attention.reference_<dtype>), a plain per-row softmax with f32 accumulation
// that supports every valid description in f32, f16 and bf16 (strides, GQA, causal, LSE). It is
// slow by design; it exists so that every description has a correct path on every CPU.
#include "attention_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "attention_flash.h"
#include "attention_tiles.h"
#include "checked_math.h"
#include "cpu_features.h"
#include "half.h"

namespace xinhe::kernels::cpu {
namespace {

const char* flash_dtype_reason(const xinhe_attention_desc_t& desc) {
  switch (desc.dtype) {
    case XINHE_DTYPE_F32:
    case XINHE_DTYPE_F16:
    case XINHE_DTYPE_BF16:
      return nullptr;
    default:
      return "flash attention runs f32, f16 and bf16 only";
  }
}

const char* flash_avx2_unsupported(const xinhe_attention_desc_t& desc) {
  if (const char* why = cpu_feature_unavailable(CpuFeature::kAvx2)) return why;
  return flash_dtype_reason(desc);
}

// ---- Tile attention on the GEMM micro-kernels (attention_tiles.h) ---------------------------

#if defined(XINHE_ATTENTION_X86_64)
// Head dims beyond this take the other kernels: the per-thread tiles grow with head_dim.
constexpr int64_t kTileMaxHeadDim = 1024;

const char* tile_shape_reason(const xinhe_attention_desc_t& desc) {
  if (desc.head_dim > kTileMaxHeadDim) return "head_dim above 1024";
  return nullptr;
}

TileAttentionKernels tiles_f32_avx512() {
  return {&packed_kernels_avx512(), &softmax_kernels_avx512()};
}
TileAttentionKernels tiles_avx512_bf16() {
  return {&packed_kernels_avx512_bf16(), &softmax_kernels_avx512()};
}
TileAttentionKernels tiles_amx_bf16() {
  return {&packed_kernels_amx_bf16(), &softmax_kernels_avx512()};
}
TileAttentionKernels tiles_amx_fp16() {
  return {&packed_kernels_amx_fp16(), &softmax_kernels_avx512()};
}
// Head dims above 1024 and CPUs without AVX2 take the fused kernels below.
TileAttentionKernels tiles_f32_avx2() { return {&packed_kernels_avx2(), &softmax_kernels_avx2()}; }

// The 16-bit kernels multiply their one input dtype; the f32 kernel widens f16/bf16 on packing.
const char* tiles_reason(const xinhe_attention_desc_t& desc, CpuFeature feature, int only_dtype) {
  if (const char* why = flash_dtype_reason(desc)) return why;
  if (only_dtype >= 0 && desc.dtype != only_dtype) {
    return only_dtype == XINHE_DTYPE_BF16 ? "multiplies bf16 Q, K, V only"
                                          : "multiplies f16 Q, K, V only";
  }
  if (const char* why = tile_shape_reason(desc)) return why;
  return cpu_feature_unavailable(feature);
}

#define XINHE_TILE_ENTRY(fn, feature, only)                                  \
  const char* fn##_unsupported(const xinhe_attention_desc_t& desc) {         \
    return tiles_reason(desc, feature, only);                                \
  }                                                                          \
  uint64_t fn##_workspace(const xinhe_attention_desc_t& desc, int threads) { \
    return tile_attention_workspace_size(fn(), desc, threads);               \
  }                                                                          \
  void fn##_run(const AttentionProblem& problem, Parallel& parallel) {       \
    run_tile_attention(fn(), problem, parallel);                             \
  }
XINHE_TILE_ENTRY(tiles_amx_bf16, CpuFeature::kAmxBf16, XINHE_DTYPE_BF16)
XINHE_TILE_ENTRY(tiles_amx_fp16, CpuFeature::kAmxFp16, XINHE_DTYPE_F16)
XINHE_TILE_ENTRY(tiles_avx512_bf16, CpuFeature::kAvx512Bf16, XINHE_DTYPE_BF16)
XINHE_TILE_ENTRY(tiles_f32_avx512, CpuFeature::kAvx512, -1)
XINHE_TILE_ENTRY(tiles_f32_avx2, CpuFeature::kAvx2, -1)
#undef XINHE_TILE_ENTRY
#endif

// ---- reference -----------------------------------------------------------------------------

float load_f32(xinhe_dtype_t dtype, const void* base, int64_t index) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      return f16_to_f32(static_cast<const uint16_t*>(base)[index]);
    case XINHE_DTYPE_BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(base)[index]);
    default:
      return static_cast<const float*>(base)[index];
  }
}

void store_f32(xinhe_dtype_t dtype, void* base, int64_t index, float v) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      static_cast<uint16_t*>(base)[index] = f32_to_f16(v);
      return;
    case XINHE_DTYPE_BF16:
      static_cast<uint16_t*>(base)[index] = f32_to_bf16(v);
      return;
    default:
      static_cast<float*>(base)[index] = v;
  }
}

// f64 is declined rather than computed in f32: the device does not claim f64 (dtype_caps),
// and an f64 result with f32 accuracy would be a silent wrong answer.
const char* reference_unsupported(const xinhe_attention_desc_t& desc) {
  return flash_dtype_reason(desc) != nullptr ? "CPU attention runs f32, f16 and bf16 only"
                                             : nullptr;
}

// Per thread: Skv scores and a D-float output accumulator; 64 bytes of alignment slack.
// kSizeOverflow when that does not fit in 64 bits (Skv is bounded only by K's extent, and a
// K/V sequence stride of 0 leaves it unbounded).
uint64_t reference_workspace_size(const xinhe_attention_desc_t& desc, int threads) {
  using xinhe::util::CheckedSize;
  const CheckedSize floats = CheckedSize::of(desc.seq_kv) + CheckedSize::of(desc.head_dim);
  return (CheckedSize(static_cast<uint64_t>(std::max(1, threads))) * floats * sizeof(float) + 64u)
      .value_or(xinhe::util::kSizeOverflow);
}

void reference_run(const AttentionProblem& p, Parallel& parallel) {
  const xinhe_attention_desc_t& d = p.desc;
  // An empty O leaves the other sizes unbounded; a non-empty one bounds B * Hq * Sq (its
  // elements do not alias), and the workspace size was checked, so the products below fit.
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return;
  const int64_t rows = d.batch * d.heads_q * d.seq_q;
  const int64_t group = d.heads_q / d.heads_kv;
  const int64_t floats_per_slot = d.seq_kv + d.head_dim;
  const bool causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL;
  // scale * S = score_scale * (score_sign * S); with scale == 0 every score is 0.
  const float score_sign = d.scale > 0.0f ? 1.0f : d.scale < 0.0f ? -1.0f : 0.0f;
  const float score_scale = d.scale != 0.0f ? std::fabs(d.scale) : 1.0f;
  // The workspace offset is the caller's; align the slots ourselves (the size has slack).
  const uintptr_t raw = reinterpret_cast<uintptr_t>(p.workspace);
  float* slots_base = reinterpret_cast<float*>((raw + 63) & ~uintptr_t{63});
  std::atomic<int64_t> next_row{0};

  parallel.parallel_for(std::max(1, parallel.threads()), [&](int64_t slot) {
    float* scores = slots_base + slot * floats_per_slot;
    float* acc = scores + d.seq_kv;
    for (;;) {
      const int64_t row = next_row.fetch_add(1, std::memory_order_relaxed);
      if (row >= rows) return;
      const int64_t i = row % d.seq_q;
      const int64_t h = (row / d.seq_q) % d.heads_q;
      const int64_t b = row / (d.seq_q * d.heads_q);
      const int64_t hk = h / group;
      const int64_t q_row = b * d.q_strides[0] + h * d.q_strides[1] + i * d.q_strides[2];
      const int64_t o_row = b * d.o_strides[0] + h * d.o_strides[1] + i * d.o_strides[2];
      // Bottom-right causal: query i sees keys j <= i + (Skv - Sq).
      int64_t visible = d.seq_kv;
      if (causal) visible = std::clamp<int64_t>(i + d.seq_kv - d.seq_q + 1, 0, d.seq_kv);

      // Scores stay unscaled (times sign(scale), exact) until the max is subtracted, so a
      // large common offset of the logits costs no accuracy: scale * S would round first.
      float max_score = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < visible; ++j) {
        const int64_t k_row = b * d.k_strides[0] + hk * d.k_strides[1] + j * d.k_strides[2];
        float dot = 0.0f;
        for (int64_t x = 0; x < d.head_dim; ++x) {
          dot += load_f32(d.dtype, p.q, q_row + x * d.q_strides[3]) *
                 load_f32(d.dtype, p.k, k_row + x * d.k_strides[3]);
        }
        scores[j] = dot * score_sign;
        max_score = std::max(max_score, scores[j]);
      }
      float denom = 0.0f;
      for (int64_t j = 0; j < visible; ++j) {
        scores[j] = std::exp((scores[j] - max_score) * score_scale);
        denom += scores[j];
      }
      for (int64_t x = 0; x < d.head_dim; ++x) acc[x] = 0.0f;
      for (int64_t j = 0; j < visible; ++j) {
        const int64_t v_row = b * d.v_strides[0] + hk * d.v_strides[1] + j * d.v_strides[2];
        for (int64_t x = 0; x < d.head_dim; ++x) {
          acc[x] += scores[j] * load_f32(d.dtype, p.v, v_row + x * d.v_strides[3]);
        }
      }
      // visible == 0: denom is 0, so O = 0 and LSE = -inf.
      const float inv = denom > 0.0f ? 1.0f / denom : 0.0f;
      for (int64_t x = 0; x < d.head_dim; ++x)
        store_f32(d.dtype, p.o, o_row + x * d.o_strides[3], acc[x] * inv);
      if (p.lse != nullptr) {
        p.lse[b * d.lse_strides[0] + h * d.lse_strides[1] + i * d.lse_strides[2]] =
            visible > 0 ? max_score * score_scale + std::log(denom)
                        : -std::numeric_limits<float>::infinity();
      }
    }
  });
}

}  // namespace

const std::vector<AttentionImpl>& attention_impls() {
  // Never destroyed: a stream's worker thread may still run a queued op from this list while
  // the process exits and runs static destructors (a std::vector here was freed under it).
  static const std::vector<AttentionImpl>& impls = *new std::vector<AttentionImpl> {
#if defined(XINHE_ATTENTION_X86_64)
    {"flash", "amxbf16", tiles_amx_bf16_unsupported, tiles_amx_bf16_workspace, tiles_amx_bf16_run},
        {"flash", "amxfp16", tiles_amx_fp16_unsupported, tiles_amx_fp16_workspace,
         tiles_amx_fp16_run},
        {"flash", "avx512bf16", tiles_avx512_bf16_unsupported, tiles_avx512_bf16_workspace,
         tiles_avx512_bf16_run},
        {"flash", "avx512f", tiles_f32_avx512_unsupported, tiles_f32_avx512_workspace,
         tiles_f32_avx512_run},
        {"flash", "avx2", tiles_f32_avx2_unsupported, tiles_f32_avx2_workspace, tiles_f32_avx2_run},
#endif
        {"fused", "avx2", flash_avx2_unsupported, flash_avx2::workspace_size, flash_avx2::run},
        {"fused", "portable", flash_dtype_reason, flash_generic::workspace_size,
         flash_generic::run},
        {"reference", nullptr, reference_unsupported, reference_workspace_size, reference_run},
  };
  return impls;
}

}  // namespace xinhe::kernels::cpu
