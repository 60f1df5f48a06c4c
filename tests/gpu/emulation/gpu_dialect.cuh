// Host emulation of the CUDA dialect, for testing the portable kernels without a GPU. It stands
// in for kernels/common/gpu/gpu_dialect.cuh (this folder comes first on the include path of
// xinhe_gpu_kernel_emulation_test) and provides the same xg:: helpers on top of plain C++:
//
//  - every CUDA thread of a block is a std::thread; blocks run one after another, so
//    `__shared__` locals can simply be function-local statics (one per kernel instantiation);
//  - __syncthreads() is a barrier over the block, XG_SHFL_XOR a barrier-synchronized exchange
//    over the 32-lane warp (kernels only shuffle with whole warps, as on hardware);
//  - __half is its bit pattern, converted with the same routines as the CPU code;
//  - the sm_80 instructions behind the xg:: wrappers (cp.async, ldmatrix, mma.sync) are
//    emulated from their PTX definitions: the warp exchanges fragments or row addresses
//    through shared slots, so the tensor-core GEMM's fragment bookkeeping is checked too.
//  - cp.async has two modes (cp_async_mode): kAtIssue copies at once; kAtWait queues the
//    copies per thread and performs them only when cp.async.wait_group retires their group,
//    the latest point the PTX memory model allows. A kernel that reads a stage before waiting
//    for it (or waits for the wrong group count) then sees the stale contents and fails the
//    numerics, deterministically; kAtIssue is the mode in which overwriting a stage another
//    warp still reads can show up (that one depends on thread timing, so it may slip through).
//  - the sm_90a instructions of the Hopper GEMM (mbarrier, TMA, wgmma) are in
//    wgmma_emulation.h, included at the end.
#pragma once

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "half.h"

#define XG_EMULATION 1
#define XG_CUDA 1
#define XG_HAS_MMA_SYNC 1
#define XG_HAS_WGMMA 1
#define XG_GRID_CONSTANT
#define XG_HAS_MFMA 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

namespace xg::emulation {

// The current CUDA thread's coordinates and its block's synchronization objects.
struct ThreadContext {
  dim3 thread_idx, block_idx, block_dim, grid_dim;
  pthread_barrier_t* block_barrier = nullptr;
  pthread_barrier_t* warp_barrier = nullptr;  // this thread's warp
  uint64_t* warp_exchange = nullptr;          // kExchangeWords per lane of this thread's warp
  pthread_barrier_t* wave_barrier = nullptr;  // this thread's 64-lane wave
  uint64_t* wave_exchange = nullptr;          // kExchangeWords per lane of this thread's wave
};
inline constexpr int kExchangeWords = 8;
inline constexpr unsigned kWarpLanes = 32;
inline constexpr unsigned kWaveLanes = 64;
inline thread_local ThreadContext current;

inline void sync_block() { pthread_barrier_wait(current.block_barrier); }

inline unsigned lane() { return current.thread_idx.x % 32; }
inline uint64_t* slots(unsigned lane_index) {
  return current.warp_exchange + lane_index * kExchangeWords;
}
inline void sync_warp() { pthread_barrier_wait(current.warp_barrier); }

inline unsigned wave_lane() { return current.thread_idx.x % kWaveLanes; }
inline uint64_t* wave_slots(unsigned lane_index) {
  return current.wave_exchange + lane_index * kExchangeWords;
}
inline void sync_wave() { pthread_barrier_wait(current.wave_barrier); }

inline float shuffle_xor(float value, int mask) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  slots(lane())[0] = bits;
  sync_warp();
  bits = static_cast<uint32_t>(slots(lane() ^ static_cast<unsigned>(mask))[0]);
  sync_warp();  // nobody overwrites a slot still being read
  float other;
  std::memcpy(&other, &bits, 4);
  return other;
}

}  // namespace xg::emulation

#define threadIdx (::xg::emulation::current.thread_idx)
#define blockIdx (::xg::emulation::current.block_idx)
#define blockDim (::xg::emulation::current.block_dim)
#define gridDim (::xg::emulation::current.grid_dim)
#define __syncthreads() ::xg::emulation::sync_block()
#define XG_SHFL_XOR(value, mask) ::xg::emulation::shuffle_xor((value), (mask))
#define XG_DEVICE inline
// 1024-aligned like the swizzled tiles need; its start is shared address 0 (wgmma_emulation.h).
#define XG_DYNAMIC_SMEM(name, max_bytes)              \
  alignas(1024) static unsigned char name[max_bytes]; \
  ::xg::emulation::shared_base = name

using std::max;
using std::min;

struct __half {
  uint16_t bits;
};
inline float __half2float(__half h) { return xinhe::kernels::f16_to_f32(h.bits); }
inline __half __float2half_rn(float f) { return __half{xinhe::kernels::f32_to_f16(f)}; }
inline unsigned short __half_as_ushort(__half h) { return h.bits; }
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}

namespace xg {

struct bf16 {
  unsigned short bits;
};

XG_DEVICE float to_f32(float x) { return x; }
XG_DEVICE float to_f32(__half x) { return __half2float(x); }
XG_DEVICE float to_f32(bf16 x) { return __uint_as_float(static_cast<unsigned>(x.bits) << 16); }

template <typename T>
XG_DEVICE T from_f32(float x);
template <>
XG_DEVICE float from_f32<float>(float x) {
  return x;
}
template <>
XG_DEVICE __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}
template <>
XG_DEVICE bf16 from_f32<bf16>(float x) {
  return bf16{xinhe::kernels::f32_to_bf16(x)};
}

XG_DEVICE unsigned short bits_of(__half x) { return __half_as_ushort(x); }
XG_DEVICE unsigned short bits_of(bf16 x) { return x.bits; }
template <typename T>
XG_DEVICE unsigned pack2(float lo, float hi) {
  return static_cast<unsigned>(bits_of(from_f32<T>(lo))) |
         (static_cast<unsigned>(bits_of(from_f32<T>(hi))) << 16);
}

struct alignas(8) b16x4 {
  unsigned short e[4];
};

XG_DEVICE float warp_sum(float v) {
  for (int mask = 16; mask > 0; mask >>= 1) v += XG_SHFL_XOR(v, mask);
  return v;
}
XG_DEVICE float warp_max(float v) {
  for (int mask = 16; mask > 0; mask >>= 1) v = fmaxf(v, XG_SHFL_XOR(v, mask));
  return v;
}

// ---- sm_80 instructions, emulated from the PTX ISA's fragment layouts ----
namespace emulation {

enum class CpAsyncMode { kAtIssue, kAtWait };
// Set by the test before a launch; read by every emulated thread.
inline std::atomic<CpAsyncMode> cp_async_mode{CpAsyncMode::kAtIssue};

struct PendingCopy {
  void* smem;
  const void* global;
  int src_bytes;  // copied; the rest of the 16 bytes is zero-filled
};
inline void perform(const PendingCopy& c) {
  std::memcpy(c.smem, c.global, static_cast<size_t>(c.src_bytes));
  std::memset(static_cast<unsigned char*>(c.smem) + c.src_bytes, 0, 16 - c.src_bytes);
}
// This thread's copies in kAtWait mode: committed groups, oldest first, then the open group.
// Each emulated CUDA thread is a fresh std::thread, so a launch starts empty.
inline thread_local std::vector<std::vector<PendingCopy>> pending_groups{{}};

// Performs every committed group of asynchronous operations but the newest `pending` (the
// open group, last in the list, is not waited for): PTX's wait_group for cp.async and wgmma.
template <typename Op>
inline void retire_groups(std::vector<std::vector<Op>>& groups, size_t pending) {
  const size_t committed = groups.size() - 1;
  const size_t retire = committed > pending ? committed - pending : 0;
  for (size_t g = 0; g < retire; ++g) {
    for (const Op& op : groups[g]) perform(op);
  }
  groups.erase(groups.begin(), groups.begin() + static_cast<std::ptrdiff_t>(retire));
}

inline void cp_async(void* smem, const void* global, int src_bytes) {
  const PendingCopy c{smem, global, src_bytes};
  if (cp_async_mode.load(std::memory_order_relaxed) == CpAsyncMode::kAtIssue) {
    perform(c);
  } else {
    pending_groups.back().push_back(c);
  }
}

}  // namespace emulation

inline void cp_async_16(void* smem, const void* global) { emulation::cp_async(smem, global, 16); }
inline void cp_async_16_zfill(void* smem, const void* global, int src_bytes) {
  emulation::cp_async(smem, global, src_bytes);
}
inline void cp_async_commit() { emulation::pending_groups.emplace_back(); }
template <int kPending>
inline void cp_async_wait() {
  emulation::retire_groups(emulation::pending_groups, kPending);
}

inline void ldmatrix_x4(unsigned (&r)[4], const void* smem) {
  using namespace xg::emulation;
  slots(lane())[0] = reinterpret_cast<uintptr_t>(smem);
  sync_warp();
  for (unsigned i = 0; i < 4; ++i) {
    // Row lane / 4 of matrix i, 32-bit word lane % 4.
    const auto* row = reinterpret_cast<const unsigned char*>(slots(8 * i + lane() / 4)[0]);
    std::memcpy(&r[i], row + 4 * (lane() % 4), 4);
  }
  sync_warp();
}

inline void ldmatrix_x4_trans(unsigned (&r)[4], const void* smem) {
  using namespace xg::emulation;
  slots(lane())[0] = reinterpret_cast<uintptr_t>(smem);
  sync_warp();
  for (unsigned i = 0; i < 4; ++i) {
    // Column lane / 4 of rows 2 (lane % 4) and 2 (lane % 4) + 1 of matrix i.
    const auto* row0 = reinterpret_cast<const uint16_t*>(slots(8 * i + 2 * (lane() % 4))[0]);
    const auto* row1 = reinterpret_cast<const uint16_t*>(slots(8 * i + 2 * (lane() % 4) + 1)[0]);
    r[i] =
        static_cast<unsigned>(row0[lane() / 4]) | (static_cast<unsigned>(row1[lane() / 4]) << 16);
  }
  sync_warp();
}

inline float element_to_f32(__half, uint16_t bits) { return xinhe::kernels::f16_to_f32(bits); }
inline float element_to_f32(bf16, uint16_t bits) { return xinhe::kernels::bf16_to_f32(bits); }

template <typename T>
inline void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  using namespace xg::emulation;
  uint64_t* mine = slots(lane());
  for (int i = 0; i < 4; ++i) mine[i] = a[i];
  mine[4] = b0;
  mine[5] = b1;
  sync_warp();
  // Rebuild A (16x16) and B (16x8) from every lane's fragments.
  float A[16][16], B[16][8];
  auto half_of = [](uint64_t word, int which) {
    return static_cast<uint16_t>(word >> (16 * which));
  };
  for (unsigned l = 0; l < 32; ++l) {
    const uint64_t* f = slots(l);
    const unsigned g = l / 4, t = l % 4;
    for (int e = 0; e < 2; ++e) {
      A[g][2 * t + e] = element_to_f32(T{}, half_of(f[0], e));
      A[g + 8][2 * t + e] = element_to_f32(T{}, half_of(f[1], e));
      A[g][2 * t + 8 + e] = element_to_f32(T{}, half_of(f[2], e));
      A[g + 8][2 * t + 8 + e] = element_to_f32(T{}, half_of(f[3], e));
      B[2 * t + e][g] = element_to_f32(T{}, half_of(f[4], e));
      B[2 * t + 8 + e][g] = element_to_f32(T{}, half_of(f[5], e));
    }
  }
  sync_warp();
  const unsigned g = lane() / 4, t = lane() % 4;
  for (int f = 0; f < 4; ++f) {
    const unsigned row = g + 8 * (f / 2), col = 2 * t + (f % 2);
    float sum = d[f];
    for (int k = 0; k < 16; ++k) sum += A[row][k] * B[k][col];
    d[f] = sum;
  }
}

// ---- AMD MFMA instructions, emulated from AMD's register layouts on a 64-lane wave ----
// The accumulator vectors (clang ext_vector_type on the device) as indexable arrays.
struct f32x16 {
  float v[16];
  float& operator[](int i) { return v[i]; }
  float operator[](int i) const { return v[i]; }
};
struct f32x4 {
  float v[4];
  float& operator[](int i) { return v[i]; }
  float operator[](int i) const { return v[i]; }
};

namespace emulation {

inline uint64_t pack_b16x4(b16x4 x) {
  uint64_t word = 0;
  for (int e = 0; e < 4; ++e) word |= static_cast<uint64_t>(x.e[e]) << (16 * e);
  return word;
}
inline uint16_t element_of(uint64_t word, unsigned e) {
  return static_cast<uint16_t>(word >> (16 * e));
}

// D (kM x kM f32) += A (kM x kK) B (kK x kM) for the v_mfma_f32_<kM>x<kM>x<kK> forms with one
// block and 4 elements per lane: lane l holds A(l % kM, 4 (l / kM) + e) and B(4 (l / kM) + e,
// l % kM) (e = 0..3), and result register r holds D(row_of(l, r), l % kM).
template <typename T, unsigned kM, unsigned kK, int kRegs, typename RowOf>
inline void mfma(float (&d)[kRegs], b16x4 a, b16x4 b, RowOf row_of) {
  static_assert(kM * (kK / 4) == kWaveLanes, "4 elements per lane fill the wave");
  static_assert(kM * kM == kRegs * kWaveLanes, "kRegs results per lane");
  uint64_t* mine = wave_slots(wave_lane());
  mine[0] = pack_b16x4(a);
  mine[1] = pack_b16x4(b);
  sync_wave();
  float A[kM][kK], B[kK][kM];
  for (unsigned l = 0; l < kWaveLanes; ++l) {
    const uint64_t* f = wave_slots(l);
    for (unsigned e = 0; e < 4; ++e) {
      A[l % kM][4 * (l / kM) + e] = element_to_f32(T{}, element_of(f[0], e));
      B[4 * (l / kM) + e][l % kM] = element_to_f32(T{}, element_of(f[1], e));
    }
  }
  sync_wave();  // nobody overwrites a slot still being read
  const unsigned l = wave_lane();
  for (int r = 0; r < kRegs; ++r) {
    const unsigned row = row_of(l, static_cast<unsigned>(r)), col = l % kM;
    float sum = d[r];
    for (unsigned k = 0; k < kK; ++k) sum += A[row][k] * B[k][col];
    d[r] = sum;
  }
}

}  // namespace emulation

template <typename T>
inline void mfma_32x32x8(f32x16& d, b16x4 a, b16x4 b) {
  emulation::mfma<T, 32, 8>(
      d.v, a, b, [](unsigned l, unsigned r) { return 8 * (r / 4) + 4 * (l / 32) + r % 4; });
}
template <typename T>
inline void mfma_16x16x16(f32x4& d, b16x4 a, b16x4 b) {
  emulation::mfma<T, 16, 16>(d.v, a, b, [](unsigned l, unsigned r) { return 4 * (l / 16) + r; });
}

}  // namespace xg

#include "wgmma_emulation.h"  // the sm_90a instructions of the Hopper GEMM
