// Host emulation of the sm_90a instructions behind the xg:: wrappers of the Hopper GEMM
// (kernels/gemm/cuda/gemm_wgmma.cuh) and attention (kernels/attention/cuda/attention_wgmma.cuh),
// included at the end of this folder's gpu_dialect.cuh.
// Each is built from its PTX definition, independently of how the kernel uses it:
//
//  - mbarrier: arrival count, transaction bytes and phase; wait(parity) blocks until the phase
//    of that parity has completed (a fresh barrier has "completed" parity 1). A wait that
//    never ends (a kernel deadlock) aborts the test after 30 s with the barrier's state.
//  - TMA: the tensor map is the encoder's arguments (encode_tensor_map checks the limits the
//    driver documents for cuTensorMapEncodeTiled); a load copies the box with zero fill
//    outside the tensor, writes it with the 128-byte swizzle (16-byte chunk c of 128-byte row
//    r at chunk c ^ (r % 8), on shared addresses) and then completes its bytes on the barrier.
//  - wgmma m64nNk16 (N = 64, 128, 256): each thread computes its own N / 2 accumulators from
//    shared memory, reading A and B through the descriptors with the PTX canonical layouts
//    (K-major: 8-row atoms SBO apart, k contiguous; M/N-major: 64-element slabs LBO apart, 8-k
//    atoms SBO apart) and the same swizzle. The RS forms take A from registers instead: the
//    warp's 16 rows in mma.sync m16n8k16's A fragment layout, gathered from the 32 lanes when
//    the instruction issues (the values the hardware reads; a kernel may not change those
//    registers before the wait, and ptxas keeps them live until then). Like the hardware's
//    .sync.aligned, each wgmma instruction synchronizes its warp. In kAtWait mode the products
//    are computed only when wgmma.wait_group retires their group, so a stage freed too early is
//    read after it was refilled, and accumulators read before the wait are stale.
//  - fence.proxy.async is a no-op: the emulated wgmma reads shared memory like any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gemm_cuda.h"
#include "gemm_wgmma_host.h"

namespace xg {
namespace emulation {

// The block's dynamic shared memory: shared addresses are offsets from here (1024-aligned).
inline thread_local unsigned char* shared_base = nullptr;
inline uint32_t shared_offset(const void* p) {
  return static_cast<uint32_t>(static_cast<const unsigned char*>(p) - shared_base);
}
inline uint32_t swizzle_128b(uint32_t offset) { return offset ^ (((offset >> 7) & 7u) << 4); }

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "wgmma emulation: %s\n", what.c_str());
  std::abort();
}

struct Mbarrier {
  unsigned count = 0, pending = 0;
  int64_t tx = 0;
  unsigned phase = 0;  // completed phases
};
struct MbarrierTable {
  std::mutex mutex;
  std::condition_variable changed;
  std::unordered_map<const void*, Mbarrier> barriers;
};
inline MbarrierTable& mbarriers() {
  static MbarrierTable table;
  return table;
}
// Applies an arrival (arrivals 0 or 1) and a transaction-count change under the table's lock.
inline void mbarrier_update(const void* bar, unsigned arrivals, int64_t tx_delta) {
  MbarrierTable& t = mbarriers();
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    auto it = t.barriers.find(bar);
    if (it == t.barriers.end()) fail("mbarrier used before mbarrier.init");
    Mbarrier& b = it->second;
    if (arrivals > b.pending) fail("more arrivals than the mbarrier's count");
    b.pending -= arrivals;
    b.tx += tx_delta;
    if (b.pending == 0 && b.tx == 0) {
      ++b.phase;
      b.pending = b.count;
    }
  }
  t.changed.notify_all();
}

// What encode_tensor_map stores in the 128 opaque bytes.
struct TensorMap {
  const unsigned char* base;
  uint64_t dims[3];
  uint64_t strides[2];
  uint32_t box[3];
};
static_assert(sizeof(TensorMap) <= sizeof(xinhe_gemm_tensor_map_t), "fits the opaque map");

enum class WgmmaMode { kAtIssue, kAtWait };
inline std::atomic<WgmmaMode> wgmma_mode{WgmmaMode::kAtIssue};

// One queued wgmma of this thread (kAtWait mode).
struct PendingWgmma {
  float* d;
  int accumulators;  // N / 2 of m64nNk16
  uint64_t desc_a, desc_b;
  int trans_a, trans_b;
  bool bf16;
  bool a_in_registers;    // RS form: A is a_rows, not desc_a
  float a_rows[2][16]{};  // RS form: this lane's rows g and g + 8 of the warp's A (16 x 16)
};
inline thread_local std::vector<std::vector<PendingWgmma>> wgmma_groups{{}};

// Element (mn, k) of a descriptor's operand (A: mn = row of 64; B: mn = column of 256).
inline float descriptor_element(uint64_t desc, int trans, bool bf16, uint32_t mn, uint32_t k) {
  if ((desc >> 62) != 1) fail("descriptor is not 128-byte swizzled");
  const uint32_t start = static_cast<uint32_t>(desc & 0x3fff) << 4;
  const uint32_t leading = static_cast<uint32_t>((desc >> 16) & 0x3fff) << 4;
  const uint32_t stride = static_cast<uint32_t>((desc >> 32) & 0x3fff) << 4;
  const uint32_t offset =
      trans ? start + mn / 64 * leading + mn % 64 * 2 + k / 8 * stride + k % 8 * 128
            : start + mn / 8 * stride + mn % 8 * 128 + k * 2;
  uint16_t bits;
  std::memcpy(&bits, shared_base + swizzle_128b(offset), 2);
  return bf16 ? xinhe::kernels::bf16_to_f32(bits) : xinhe::kernels::f16_to_f32(bits);
}

inline void perform(const PendingWgmma& w) {
  const unsigned warp = (current.thread_idx.x / 32) % 4, lane = current.thread_idx.x % 32;
  for (int i = 0; i < w.accumulators; ++i) {
    const uint32_t row = 16 * warp + lane / 4 + 8 * ((i / 2) % 2);
    const uint32_t col = 8 * (i / 4) + 2 * (lane % 4) + i % 2;
    float sum = w.d[i];
    for (uint32_t k = 0; k < 16; ++k) {
      const float a = w.a_in_registers ? w.a_rows[(i / 2) % 2][k]
                                       : descriptor_element(w.desc_a, w.trans_a, w.bf16, row, k);
      sum += a * descriptor_element(w.desc_b, w.trans_b, w.bf16, col, k);
    }
    w.d[i] = sum;
  }
}

}  // namespace emulation

// Host side: the emulated cuTensorMapEncodeTiled, with the driver's documented limits for a
// 2-byte, 128-byte-swizzled, non-interleaved map.
inline std::string encode_tensor_map(const xinhe::kernels::wgmma::TensorMapRequest& r,
                                     xinhe_gemm_tensor_map_t* out) {
  if (reinterpret_cast<uintptr_t>(out) % 64 != 0) return "tensor map not 64-byte aligned";
  const std::string refused = xinhe::kernels::wgmma::tensor_map_limits(r);
  if (!refused.empty()) return refused;
  emulation::TensorMap map{static_cast<const unsigned char*>(r.base),
                           {r.dims[0], r.dims[1], r.dims[2]},
                           {r.strides[0], r.strides[1]},
                           {r.box[0], r.box[1], r.box[2]}};
  std::memset(out, 0, sizeof *out);
  std::memcpy(out, &map, sizeof map);
  return "";
}

inline void mbarrier_init(unsigned long long* bar, unsigned count) {
  emulation::MbarrierTable& t = emulation::mbarriers();
  std::lock_guard<std::mutex> lock(t.mutex);
  emulation::Mbarrier b;
  b.count = b.pending = count;
  t.barriers[bar] = b;
}
inline void fence_barrier_init() {}
inline void mbarrier_arrive(unsigned long long* bar) { emulation::mbarrier_update(bar, 1, 0); }
inline void mbarrier_arrive_expect_tx(unsigned long long* bar, unsigned bytes) {
  emulation::mbarrier_update(bar, 1, bytes);
}
inline void mbarrier_wait(unsigned long long* bar, unsigned parity) {
  emulation::MbarrierTable& t = emulation::mbarriers();
  std::unique_lock<std::mutex> lock(t.mutex);
  const bool done = t.changed.wait_for(lock, std::chrono::seconds(30),
                                       [&] { return (t.barriers.at(bar).phase & 1u) != parity; });
  if (!done) {
    const emulation::Mbarrier& b = t.barriers.at(bar);
    for (const auto& [address, state] : t.barriers)
      std::fprintf(stderr, "  barrier %p phase %u pending %u tx %lld\n", address, state.phase,
                   state.pending, static_cast<long long>(state.tx));
    emulation::fail("mbarrier wait timed out (deadlock?): thread " +
                    std::to_string(emulation::current.thread_idx.x) + " parity " +
                    std::to_string(parity) + ", barrier phase " + std::to_string(b.phase) +
                    " pending " + std::to_string(b.pending) + " tx " + std::to_string(b.tx));
  }
}

inline void tma_load_3d(void* smem, const void* map_address, int c0, int c1, int c2,
                        unsigned long long* bar) {
  emulation::TensorMap map;
  std::memcpy(&map, map_address, sizeof map);
  const uint32_t dst = emulation::shared_offset(smem);
  if (dst % 1024 != 0) emulation::fail("128-byte-swizzled TMA destination not 1024-byte aligned");
  const int64_t at[3] = {c0, c1, c2};
  uint32_t offset = 0;
  for (uint32_t z = 0; z < map.box[2]; ++z) {
    for (uint32_t y = 0; y < map.box[1]; ++y) {
      for (uint32_t x = 0; x < map.box[0]; ++x, offset += 2) {
        const int64_t i[3] = {at[0] + x, at[1] + y, at[2] + z};
        uint16_t bits = 0;
        if (i[0] >= 0 && i[1] >= 0 && i[2] >= 0 && static_cast<uint64_t>(i[0]) < map.dims[0] &&
            static_cast<uint64_t>(i[1]) < map.dims[1] &&
            static_cast<uint64_t>(i[2]) < map.dims[2]) {
          std::memcpy(&bits, map.base + i[2] * map.strides[1] + i[1] * map.strides[0] + i[0] * 2,
                      2);
        }
        std::memcpy(emulation::shared_base + emulation::swizzle_128b(dst + offset), &bits, 2);
      }
    }
  }
  emulation::mbarrier_update(bar, 0, -static_cast<int64_t>(offset));
}

inline unsigned long long wgmma_desc(const void* smem, unsigned leading_bytes,
                                     unsigned stride_bytes) {
  const uint32_t address = emulation::shared_offset(smem);
  if (address >= (1u << 18)) emulation::fail("shared address beyond the descriptor's 18 bits");
  return (address >> 4) | (static_cast<unsigned long long>(leading_bytes >> 4) << 16) |
         (static_cast<unsigned long long>(stride_bytes >> 4) << 32) | (1ull << 62);
}
// The wgmma instructions are .sync.aligned: a warp executes them together, so no lane runs
// ahead of another past one (a lane that frees a stage vouches for its whole warp).
inline void wgmma_fence() { emulation::sync_warp(); }
inline void wgmma_commit() {
  emulation::sync_warp();
  emulation::wgmma_groups.emplace_back();
}
template <int kPending>
inline void wgmma_wait() {
  emulation::sync_warp();
  emulation::retire_groups(emulation::wgmma_groups, kPending);
  emulation::sync_warp();  // the retired groups are complete for the whole warp
}
template <int kRegisters>
inline void setmaxnreg_dec() {}
template <int kRegisters>
inline void setmaxnreg_inc() {}

namespace emulation {

inline void issue(const PendingWgmma& w) {
  if (wgmma_mode.load(std::memory_order_relaxed) == WgmmaMode::kAtIssue) {
    perform(w);
  } else {
    wgmma_groups.back().push_back(w);
  }
}

template <int kTransA, int kTransB, typename T, int kAccumulators>
inline void wgmma_ss(float (&d)[kAccumulators], uint64_t desc_a, uint64_t desc_b) {
  sync_warp();
  PendingWgmma w{
      d, kAccumulators, desc_a, desc_b, kTransA, kTransB, std::is_same<T, bf16>::value, false};
  issue(w);
}

// RS form: every lane publishes its 4 A registers; lane (g, t) keeps rows g and g + 8, which
// lanes 4g .. 4g + 3 hold (register 0: row g, columns 2t', 2t' + 1; 1: row g + 8; 2 and 3: the
// same at columns 8 + 2t'), low half first.
template <int kTransB, typename T, int kAccumulators>
inline void wgmma_rs(float (&d)[kAccumulators], const unsigned (&a)[4], uint64_t desc_b) {
  sync_warp();
  uint64_t* mine = slots(lane());
  for (int r = 0; r < 4; ++r) mine[r] = a[r];
  sync_warp();
  PendingWgmma w{d, kAccumulators, 0, desc_b, 0, kTransB, std::is_same<T, bf16>::value, true};
  const unsigned g = lane() / 4;
  for (unsigned t = 0; t < 4; ++t) {
    const uint64_t* f = slots(4 * g + t);
    for (unsigned e = 0; e < 2; ++e) {
      const auto element = [&](uint64_t word) {
        return element_to_f32(T{}, static_cast<uint16_t>(word >> (16 * e)));
      };
      w.a_rows[0][2 * t + e] = element(f[0]);
      w.a_rows[1][2 * t + e] = element(f[1]);
      w.a_rows[0][8 + 2 * t + e] = element(f[2]);
      w.a_rows[1][8 + 2 * t + e] = element(f[3]);
    }
  }
  sync_warp();  // nobody overwrites a slot still being read
  issue(w);
}

}  // namespace emulation

template <int kTransA, int kTransB, typename T>
inline void wgmma_m64n256k16(T, float (&d)[128], unsigned long long desc_a,
                             unsigned long long desc_b) {
  emulation::wgmma_ss<kTransA, kTransB, T>(d, desc_a, desc_b);
}
template <int kTransA, int kTransB, typename T>
inline void wgmma_m64n128k16(T, float (&d)[64], unsigned long long desc_a,
                             unsigned long long desc_b) {
  emulation::wgmma_ss<kTransA, kTransB, T>(d, desc_a, desc_b);
}
template <int kTransA, int kTransB, typename T>
inline void wgmma_m64n64k16(T, float (&d)[32], unsigned long long desc_a,
                            unsigned long long desc_b) {
  emulation::wgmma_ss<kTransA, kTransB, T>(d, desc_a, desc_b);
}
template <int kTransB, typename T>
inline void wgmma_m64n128k16_rs(T, float (&d)[64], const unsigned (&a)[4],
                                unsigned long long desc_b) {
  emulation::wgmma_rs<kTransB, T>(d, a, desc_b);
}
template <int kTransB, typename T>
inline void wgmma_m64n64k16_rs(T, float (&d)[32], const unsigned (&a)[4],
                               unsigned long long desc_b) {
  emulation::wgmma_rs<kTransB, T>(d, a, desc_b);
}
inline void fence_proxy_async_shared() {}

}  // namespace xg
