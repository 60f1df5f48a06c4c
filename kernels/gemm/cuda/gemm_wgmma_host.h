// Host side of the Hopper wgmma GEMM kernels (gemm_wgmma.cuh): the TMA tensor maps of A and B
// and the tile counts, built from the launch's xinhe_gemm_cuda_params_t. The boxes here and the
// shared-memory descriptors in the kernel describe the same tiles, so they change together.
//
// The encoder is passed in: the CUDA plugin hands over cuTensorMapEncodeTiled (through its
// driver table), the kernel emulation test an emulated encoder that checks the same documented
// limits. Both therefore run the box and stride choices made here.
#pragma once

#include <cstdint>
#include <string>

#include "gemm_cuda.h"

namespace xinhe::kernels::wgmma {

// One operand as TMA sees it: 16-bit elements in a (inner, outer, batch) view, loaded in boxes
// into 128-byte-swizzled shared memory; elements outside the dims read as zero.
struct TensorMapRequest {
  const void* base = nullptr;
  bool bf16 = false;         // else f16
  uint64_t dims[3] = {};     // elements: inner (contiguous), outer, batch
  uint64_t strides[2] = {};  // bytes between consecutive outer rows, batches
  uint32_t box[3] = {};      // elements per load
};

// Box of one load, per operand layout. K-major tiles (A as stored (M, K), B as (N, K)) come in
// one load of 64 k x rows; M/N-major tiles in 64-wide column slabs of 64 k rows each, so every
// swizzled row is 128 bytes, as the descriptors assume.
inline constexpr uint32_t kBoxInner = 64;  // 64 x 2 bytes = one 128-byte swizzle row
static_assert(kBoxInner == XINHE_GEMM_WGMMA_BLOCK_K, "one K-major box row is the k tile");

// A stored operand of rows x cols (cols contiguous, ld apart) per batch, loaded in boxes of
// box_rows rows of one 128-byte swizzle row each.
inline TensorMapRequest operand_request(const void* base, bool bf16, int64_t rows, int64_t cols,
                                        int64_t ld, int64_t batch, int64_t batch_stride,
                                        uint32_t box_rows) {
  TensorMapRequest r;
  r.base = base;
  r.bf16 = bf16;
  r.dims[0] = static_cast<uint64_t>(cols);
  r.dims[1] = static_cast<uint64_t>(rows);
  r.dims[2] = static_cast<uint64_t>(batch);
  r.strides[0] = static_cast<uint64_t>(ld) * 2;
  // A single batch still needs a valid stride: one past the matrix.
  r.strides[1] = batch > 1 ? static_cast<uint64_t>(batch_stride) * 2 : r.strides[0] * r.dims[1];
  r.box[0] = kBoxInner;
  r.box[1] = box_rows;
  r.box[2] = 1;
  return r;
}

// Why cuTensorMapEncodeTiled refuses r by the limits its documentation states, "" when it does
// not: dimensions in [1, 2^32], strides multiples of 16 bytes below 2^40, boxes in [1, 256]
// with a 16-byte multiple inner row no wider than the 128-byte swizzle span, a 16-byte
// aligned base. The emulation's encoder and the plugin's create-time check both apply it.
inline std::string tensor_map_limits(const TensorMapRequest& r) {
  if (reinterpret_cast<uintptr_t>(r.base) % 16 != 0) return "global address not 16-byte aligned";
  for (uint64_t d : r.dims) {
    if (d == 0 || d > (1ull << 32)) return "dimension out of [1, 2^32]";
  }
  for (uint64_t s : r.strides) {
    if (s % 16 != 0 || s >= (1ull << 40)) return "stride not a multiple of 16 below 2^40";
  }
  for (uint32_t b : r.box) {
    if (b == 0 || b > 256) return "box dimension out of [1, 256]";
  }
  if (r.box[0] * 2 > 128) return "box inner dimension wider than the 128-byte swizzle span";
  if (r.box[0] * 2 % 16 != 0) return "box inner dimension not a multiple of 16 bytes";
  return "";
}

// Fills out (tensor maps, parameters, tile counts) for p, whose A and B are 16-bit (bf16 when
// bf16, else f16). Returns "" or why TMA cannot describe these operands (the caller then runs
// another kernel). encode(const TensorMapRequest&, xinhe_gemm_tensor_map_t*) -> "" or a reason.
template <typename Encode>
std::string make_wgmma_params(const xinhe_gemm_cuda_params_t& p, bool bf16, Encode&& encode,
                              xinhe_gemm_wgmma_params_t* out) {
  if (p.k <= 0 || p.m <= 0 || p.n <= 0 || p.batch <= 0) return "empty problem";
  constexpr int64_t kMaxCoordinate = 0x7fffffff;  // TMA coordinates are signed 32-bit
  if (p.m > kMaxCoordinate || p.n > kMaxCoordinate || p.k > kMaxCoordinate ||
      p.batch > kMaxCoordinate)
    return "a dimension beyond TMA's 32-bit coordinates";
  if (p.batch > 1 && (p.stride_a == 0 || p.stride_b == 0))
    return "a zero batch stride (broadcast operand) cannot be a TMA dimension";
  // op(A) is (M, K): stored (M, K) K-major, or (K, M) M-major when trans_a.
  const TensorMapRequest a =
      operand_request(p.a, bf16, p.trans_a ? p.k : p.m, p.trans_a ? p.m : p.k, p.lda, p.batch,
                      p.stride_a, p.trans_a ? XINHE_GEMM_WGMMA_BLOCK_K : XINHE_GEMM_WGMMA_BLOCK_M);
  // op(B) is (K, N): stored (K, N) N-major, or (N, K) K-major when trans_b.
  const TensorMapRequest b =
      operand_request(p.b, bf16, p.trans_b ? p.n : p.k, p.trans_b ? p.k : p.n, p.ldb, p.batch,
                      p.stride_b, p.trans_b ? XINHE_GEMM_WGMMA_BLOCK_N : XINHE_GEMM_WGMMA_BLOCK_K);
  std::string why = encode(a, &out->a_map);
  if (!why.empty()) return "A: " + why;
  why = encode(b, &out->b_map);
  if (!why.empty()) return "B: " + why;
  out->gemm = p;
  // Without the (x + block - 1) that wraps for sizes near 2^63.
  out->tiles_m = p.m / XINHE_GEMM_WGMMA_BLOCK_M + (p.m % XINHE_GEMM_WGMMA_BLOCK_M != 0);
  out->tiles_n = p.n / XINHE_GEMM_WGMMA_BLOCK_N + (p.n % XINHE_GEMM_WGMMA_BLOCK_N != 0);
  return "";
}

// Why the Hopper kernel cannot take operands laid out as p describes (the addresses aside,
// which only a run knows), "" when it can: what make_wgmma_params would refuse for any 16-byte
// aligned A and B of that layout. The plugin asks at create time, so that only an unexpected
// driver refusal is left for run time.
inline std::string wgmma_layout_unsupported(xinhe_gemm_cuda_params_t p, bool bf16) {
  p.a = reinterpret_cast<const void*>(uintptr_t{256});
  p.b = reinterpret_cast<const void*>(uintptr_t{256});
  xinhe_gemm_wgmma_params_t w;
  return make_wgmma_params(
      p, bf16,
      [](const TensorMapRequest& r, xinhe_gemm_tensor_map_t*) { return tensor_map_limits(r); }, &w);
}

// Persistent grid: one CTA per SM at most (each holds ~193 KiB of shared memory), never more
// CTAs than tiles.
inline uint32_t wgmma_grid_size(const xinhe_gemm_wgmma_params_t& w, int sm_count) {
  int64_t tiles = 0;  // saturates: more tiles than CTAs only means every SM gets one
  if (__builtin_mul_overflow(w.tiles_m, w.tiles_n, &tiles) ||
      __builtin_mul_overflow(tiles, static_cast<int64_t>(w.gemm.batch), &tiles)) {
    tiles = INT64_MAX;
  }
  const int64_t ctas = sm_count > 0 ? (tiles < sm_count ? tiles : sm_count) : tiles;
  return static_cast<uint32_t>(ctas < 1 ? 1 : ctas > 0x7fffffff ? 0x7fffffff : ctas);
}

}  // namespace xinhe::kernels::wgmma
