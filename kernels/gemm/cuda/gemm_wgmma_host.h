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
  TensorMapRequest a;
  a.base = p.a;
  a.bf16 = bf16;
  a.dims[0] = static_cast<uint64_t>(p.trans_a ? p.m : p.k);
  a.dims[1] = static_cast<uint64_t>(p.trans_a ? p.k : p.m);
  a.dims[2] = static_cast<uint64_t>(p.batch);
  a.strides[0] = static_cast<uint64_t>(p.lda) * 2;
  a.strides[1] = p.batch > 1 ? static_cast<uint64_t>(p.stride_a) * 2 : a.strides[0] * a.dims[1];
  a.box[0] = kBoxInner;
  a.box[1] = p.trans_a ? XINHE_GEMM_WGMMA_BLOCK_K : XINHE_GEMM_WGMMA_BLOCK_M;
  a.box[2] = 1;
  // op(B) is (K, N): stored (K, N) N-major, or (N, K) K-major when trans_b.
  TensorMapRequest b;
  b.base = p.b;
  b.bf16 = bf16;
  b.dims[0] = static_cast<uint64_t>(p.trans_b ? p.k : p.n);
  b.dims[1] = static_cast<uint64_t>(p.trans_b ? p.n : p.k);
  b.dims[2] = static_cast<uint64_t>(p.batch);
  b.strides[0] = static_cast<uint64_t>(p.ldb) * 2;
  b.strides[1] = p.batch > 1 ? static_cast<uint64_t>(p.stride_b) * 2 : b.strides[0] * b.dims[1];
  b.box[0] = kBoxInner;
  b.box[1] = p.trans_b ? XINHE_GEMM_WGMMA_BLOCK_N : XINHE_GEMM_WGMMA_BLOCK_K;
  b.box[2] = 1;
  std::string why = encode(a, &out->a_map);
  if (!why.empty()) return "A: " + why;
  why = encode(b, &out->b_map);
  if (!why.empty()) return "B: " + why;
  out->gemm = p;
  out->tiles_m = (p.m + XINHE_GEMM_WGMMA_BLOCK_M - 1) / XINHE_GEMM_WGMMA_BLOCK_M;
  out->tiles_n = (p.n + XINHE_GEMM_WGMMA_BLOCK_N - 1) / XINHE_GEMM_WGMMA_BLOCK_N;
  return "";
}

// Persistent grid: one CTA per SM at most (each holds ~193 KiB of shared memory), never more
// CTAs than tiles.
inline uint32_t wgmma_grid_size(const xinhe_gemm_wgmma_params_t& w, int sm_count) {
  const int64_t tiles = w.tiles_m * w.tiles_n * w.gemm.batch;
  const int64_t ctas = sm_count > 0 ? (tiles < sm_count ? tiles : sm_count) : tiles;
  return static_cast<uint32_t>(ctas < 1 ? 1 : ctas > 0x7fffffff ? 0x7fffffff : ctas);
}

}  // namespace xinhe::kernels::wgmma
