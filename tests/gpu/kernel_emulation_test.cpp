// The portable CUDA-dialect kernels (GEMM simt/naive, attention flash/naive) run on the host
// through the emulation in emulation/gpu_dialect.cuh, against the float64 reference. This checks
// the kernels' indexing, edge handling, masking and online softmax on every machine, GPU or
// not. Kernels are looked up by the names the kernel-family descriptors give them and launched
// with the descriptors' geometry (kernels/*/cuda/*_families.h), the same the GPU plugins use,
// and every case is one the descriptors call runnable on a device with the family's hardware. The
// tensor-core kernels run with their sm_80 instructions emulated, their cp.async pipelines once
// with copies landing at issue and once as late as wait_group allows; the Hopper kernels (wgmma
// GEMM and attention) with their sm_90a instructions emulated, wgmma products landing at issue or
// only at wgmma.wait_group; the AMD MFMA kernels with their matrix-core instructions emulated on
// 64-lane waves, after a test that pins that emulation to AMD's documented register layouts. What
// it cannot check: the PTX/ISA text itself, the hardware's full memory model and timing, and the
// host plugin. Cases, random data, poison, the error measure (max |got - ref| / max |ref|) and
// the tolerance table are tests/support's.
#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "attention_cuda.h"
#include "attention_families.h"
#include "gemm_cuda.h"
#include "gemm_families.h"
#include "gemm_wgmma_host.h"
#include "gpu_dialect.cuh"  // the emulation's (this test's include path comes first)
#include "half.h"
#include "numerics.h"  // tests/support
#include "op_case.h"
#include "reference.h"

extern "C" {
void xinhe_gemm_naive_f32_f32(xinhe_gemm_cuda_params_t);
void xinhe_gemm_naive_f16_f16(xinhe_gemm_cuda_params_t);
void xinhe_gemm_naive_f16_f32(xinhe_gemm_cuda_params_t);
void xinhe_gemm_naive_bf16_bf16(xinhe_gemm_cuda_params_t);
void xinhe_gemm_naive_bf16_f32(xinhe_gemm_cuda_params_t);
void xinhe_gemm_simt_f32_f32(xinhe_gemm_cuda_params_t);
void xinhe_gemm_simt_f16_f16(xinhe_gemm_cuda_params_t);
void xinhe_gemm_simt_f16_f32(xinhe_gemm_cuda_params_t);
void xinhe_gemm_simt_bf16_bf16(xinhe_gemm_cuda_params_t);
void xinhe_gemm_simt_bf16_f32(xinhe_gemm_cuda_params_t);
#define XINHE_DECLARE_TENSOROP(types)                                   \
  void xinhe_gemm_tensorop_##types##_nn_sm80(xinhe_gemm_cuda_params_t); \
  void xinhe_gemm_tensorop_##types##_nt_sm80(xinhe_gemm_cuda_params_t); \
  void xinhe_gemm_tensorop_##types##_tn_sm80(xinhe_gemm_cuda_params_t); \
  void xinhe_gemm_tensorop_##types##_tt_sm80(xinhe_gemm_cuda_params_t);
XINHE_DECLARE_TENSOROP(f16_f16)
XINHE_DECLARE_TENSOROP(f16_f32)
XINHE_DECLARE_TENSOROP(bf16_bf16)
XINHE_DECLARE_TENSOROP(bf16_f32)
#define XINHE_DECLARE_WGMMA(types)                                     \
  void xinhe_gemm_wgmma_##types##_nn_sm90a(xinhe_gemm_wgmma_params_t); \
  void xinhe_gemm_wgmma_##types##_nt_sm90a(xinhe_gemm_wgmma_params_t); \
  void xinhe_gemm_wgmma_##types##_tn_sm90a(xinhe_gemm_wgmma_params_t); \
  void xinhe_gemm_wgmma_##types##_tt_sm90a(xinhe_gemm_wgmma_params_t);
XINHE_DECLARE_WGMMA(f16_f16)
XINHE_DECLARE_WGMMA(f16_f32)
XINHE_DECLARE_WGMMA(bf16_bf16)
XINHE_DECLARE_WGMMA(bf16_f32)
#define XINHE_DECLARE_MFMA(types)                              \
  void xinhe_gemm_mfma_##types##_nn(xinhe_gemm_cuda_params_t); \
  void xinhe_gemm_mfma_##types##_nt(xinhe_gemm_cuda_params_t); \
  void xinhe_gemm_mfma_##types##_tn(xinhe_gemm_cuda_params_t); \
  void xinhe_gemm_mfma_##types##_tt(xinhe_gemm_cuda_params_t);
XINHE_DECLARE_MFMA(f16_f16)
XINHE_DECLARE_MFMA(f16_f32)
XINHE_DECLARE_MFMA(bf16_bf16)
XINHE_DECLARE_MFMA(bf16_f32)
void xinhe_attention_tensorop_f16_d64_sm80(xinhe_attention_cuda_params_t);
void xinhe_attention_tensorop_f16_d128_sm80(xinhe_attention_cuda_params_t);
void xinhe_attention_tensorop_bf16_d64_sm80(xinhe_attention_cuda_params_t);
void xinhe_attention_tensorop_bf16_d128_sm80(xinhe_attention_cuda_params_t);
void xinhe_attention_wgmma_f16_d64_sm90a(xinhe_attention_cuda_params_t);
void xinhe_attention_wgmma_f16_d128_sm90a(xinhe_attention_cuda_params_t);
void xinhe_attention_wgmma_bf16_d64_sm90a(xinhe_attention_cuda_params_t);
void xinhe_attention_wgmma_bf16_d128_sm90a(xinhe_attention_cuda_params_t);
void xinhe_attention_naive_f32(xinhe_attention_cuda_params_t);
void xinhe_attention_naive_f16(xinhe_attention_cuda_params_t);
void xinhe_attention_naive_bf16(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_f32_d64(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_f32_d128(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_f32_d256(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_f16_d64(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_f16_d128(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_f16_d256(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_bf16_d64(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_bf16_d128(xinhe_attention_cuda_params_t);
void xinhe_attention_flash_bf16_d256(xinhe_attention_cuda_params_t);
}

namespace {

using xg::emulation::kWarpLanes;
using xg::emulation::kWaveLanes;

// Runs kernel over grid x block: blocks in order, each block's threads concurrently, grouped
// into 32-lane warps and (for the MFMA kernels) 64-lane waves.
template <typename Params>
void launch(void (*kernel)(Params), dim3 grid, dim3 block, const Params& params) {
  const unsigned threads = block.x * block.y * block.z;
  const unsigned warps = (threads + kWarpLanes - 1) / kWarpLanes;
  const unsigned waves = (threads + kWaveLanes - 1) / kWaveLanes;
  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        pthread_barrier_t block_barrier;
        pthread_barrier_init(&block_barrier, nullptr, threads);
        std::vector<pthread_barrier_t> warp_barriers(warps);
        for (unsigned w = 0; w < warps; ++w) {
          pthread_barrier_init(&warp_barriers[w], nullptr,
                               std::min(kWarpLanes, threads - kWarpLanes * w));
        }
        std::vector<pthread_barrier_t> wave_barriers(waves);
        for (unsigned w = 0; w < waves; ++w) {
          pthread_barrier_init(&wave_barriers[w], nullptr,
                               std::min(kWaveLanes, threads - kWaveLanes * w));
        }
        std::vector<uint64_t> exchange(warps * kWarpLanes * xg::emulation::kExchangeWords);
        std::vector<uint64_t> wave_exchange(waves * kWaveLanes * xg::emulation::kExchangeWords);
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            xg::emulation::ThreadContext& c = xg::emulation::current;
            c.thread_idx = dim3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            c.block_idx = dim3{bx, by, bz};
            c.block_dim = block;
            c.grid_dim = grid;
            c.block_barrier = &block_barrier;
            c.warp_barrier = &warp_barriers[t / kWarpLanes];
            c.warp_exchange =
                &exchange[(t / kWarpLanes) * kWarpLanes * xg::emulation::kExchangeWords];
            c.wave_barrier = &wave_barriers[t / kWaveLanes];
            c.wave_exchange =
                &wave_exchange[(t / kWaveLanes) * kWaveLanes * xg::emulation::kExchangeWords];
            kernel(params);
          });
        }
        for (std::thread& th : pool) th.join();
        for (pthread_barrier_t& b : warp_barriers) pthread_barrier_destroy(&b);
        for (pthread_barrier_t& b : wave_barriers) pthread_barrier_destroy(&b);
        pthread_barrier_destroy(&block_barrier);
      }
    }
  }
}

// Emulated cp.async lands only when its group is waited for, until the scope ends.
struct ScopedLateCpAsync {
  ScopedLateCpAsync() { xg::emulation::cp_async_mode = xg::emulation::CpAsyncMode::kAtWait; }
  ~ScopedLateCpAsync() { xg::emulation::cp_async_mode = xg::emulation::CpAsyncMode::kAtIssue; }
  ScopedLateCpAsync(const ScopedLateCpAsync&) = delete;
  ScopedLateCpAsync& operator=(const ScopedLateCpAsync&) = delete;
};

using xinhe::test::attention_case;
using xinhe::test::AttentionCase;
using xinhe::test::AttentionLayout;
using xinhe::test::ErrorStats;
using xinhe::test::GemmCase;
using xinhe::test::HostArray;
using xinhe::test::Rng;
using xinhe::test::tolerance;
constexpr AttentionLayout kBshd = AttentionLayout::kBshd;

// An operand of count random elements; at least one, so that an empty operand (K == 0, no
// keys) still hands the kernel a valid address.
HostArray random_array(xinhe_dtype_t dtype, int64_t count, Rng& rng) {
  return HostArray::random(dtype, std::max<int64_t>(count, 1), rng);
}

using GemmKernel = void (*)(xinhe_gemm_cuda_params_t);
using WgmmaKernel = void (*)(xinhe_gemm_wgmma_params_t);
using AttentionKernel = void (*)(xinhe_attention_cuda_params_t);
using xinhe::kernels::gpu::AttentionFamily;
using xinhe::kernels::gpu::AttentionFamilyId;
using xinhe::kernels::gpu::GemmFamily;
using xinhe::kernels::gpu::GemmFamilyId;

// Every host-compiled kernel under the name it has in the device images.
#define XINHE_NAMED(kernel) \
  { #kernel, kernel }
#define XINHE_NAMED_LAYOUTS(prefix, suffix)                           \
  XINHE_NAMED(prefix##_nn##suffix), XINHE_NAMED(prefix##_nt##suffix), \
      XINHE_NAMED(prefix##_tn##suffix), XINHE_NAMED(prefix##_tt##suffix)
const std::map<std::string, GemmKernel> kGemmKernels = {
    XINHE_NAMED(xinhe_gemm_naive_f32_f32),
    XINHE_NAMED(xinhe_gemm_naive_f16_f16),
    XINHE_NAMED(xinhe_gemm_naive_f16_f32),
    XINHE_NAMED(xinhe_gemm_naive_bf16_bf16),
    XINHE_NAMED(xinhe_gemm_naive_bf16_f32),
    XINHE_NAMED(xinhe_gemm_simt_f32_f32),
    XINHE_NAMED(xinhe_gemm_simt_f16_f16),
    XINHE_NAMED(xinhe_gemm_simt_f16_f32),
    XINHE_NAMED(xinhe_gemm_simt_bf16_bf16),
    XINHE_NAMED(xinhe_gemm_simt_bf16_f32),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_tensorop_f16_f16, _sm80),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_tensorop_f16_f32, _sm80),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_tensorop_bf16_bf16, _sm80),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_tensorop_bf16_f32, _sm80),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_mfma_f16_f16, ),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_mfma_f16_f32, ),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_mfma_bf16_bf16, ),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_mfma_bf16_f32, ),
};
const std::map<std::string, WgmmaKernel> kWgmmaKernels = {
    XINHE_NAMED_LAYOUTS(xinhe_gemm_wgmma_f16_f16, _sm90a),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_wgmma_f16_f32, _sm90a),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_wgmma_bf16_bf16, _sm90a),
    XINHE_NAMED_LAYOUTS(xinhe_gemm_wgmma_bf16_f32, _sm90a),
};
const std::map<std::string, AttentionKernel> kAttentionKernels = {
    XINHE_NAMED(xinhe_attention_tensorop_f16_d64_sm80),
    XINHE_NAMED(xinhe_attention_tensorop_f16_d128_sm80),
    XINHE_NAMED(xinhe_attention_tensorop_bf16_d64_sm80),
    XINHE_NAMED(xinhe_attention_tensorop_bf16_d128_sm80),
    XINHE_NAMED(xinhe_attention_wgmma_f16_d64_sm90a),
    XINHE_NAMED(xinhe_attention_wgmma_f16_d128_sm90a),
    XINHE_NAMED(xinhe_attention_wgmma_bf16_d64_sm90a),
    XINHE_NAMED(xinhe_attention_wgmma_bf16_d128_sm90a),
    XINHE_NAMED(xinhe_attention_naive_f32),
    XINHE_NAMED(xinhe_attention_naive_f16),
    XINHE_NAMED(xinhe_attention_naive_bf16),
    XINHE_NAMED(xinhe_attention_flash_f32_d64),
    XINHE_NAMED(xinhe_attention_flash_f32_d128),
    XINHE_NAMED(xinhe_attention_flash_f32_d256),
    XINHE_NAMED(xinhe_attention_flash_f16_d64),
    XINHE_NAMED(xinhe_attention_flash_f16_d128),
    XINHE_NAMED(xinhe_attention_flash_f16_d256),
    XINHE_NAMED(xinhe_attention_flash_bf16_d64),
    XINHE_NAMED(xinhe_attention_flash_bf16_d128),
    XINHE_NAMED(xinhe_attention_flash_bf16_d256),
};
#undef XINHE_NAMED_LAYOUTS
#undef XINHE_NAMED

// The kernel a descriptor names; NULL (and a test failure) when the images have none by that
// name, so a descriptor and the kernel sources cannot disagree on names.
template <typename Kernel>
Kernel kernel_named(const std::map<std::string, Kernel>& kernels, const std::string& name) {
  const auto it = kernels.find(name);
  if (it == kernels.end()) {
    ADD_FAILURE() << "no kernel named " << name;
    return nullptr;
  }
  return it->second;
}

// A device with every feature: the descriptors' eligibility then judges only the description.
xinhe::kernels::gpu::DeviceCapabilities all_features() {
  xinhe::kernels::gpu::DeviceCapabilities caps;
  caps.arch = "emulated";
  caps.mma_sync = caps.wgmma = caps.tma = caps.mfma = true;
  caps.compute_units = 3;
  return caps;
}

// Persistent CTAs of the emulated Hopper launches: fewer than the tiles, so CTAs walk several.
constexpr int kEmulatedSms = 3;

dim3 dims(const uint32_t v[3]) { return dim3{v[0], v[1], v[2]}; }

// Launches the kernel of family id on p with the descriptor's name and geometry.
void launch_gemm(const GemmCase& g, GemmFamilyId id, const xinhe_gemm_cuda_params_t& p) {
  const GemmFamily& family = xinhe::kernels::gpu::gemm_family(id);
  const std::string kernel =
      xinhe::kernels::gpu::gemm_kernel_name(family, g.ab, g.c, g.trans_a, g.trans_b);
  // At most 2 blocks along z, so batches also take the in-kernel batch loop; the tensorop
  // cases take it with a single block.
  const int64_t max_grid_z = id == GemmFamilyId::kTensorOp ? 1 : 2;
  const xinhe::kernels::gpu::Launch l =
      xinhe::kernels::gpu::gemm_launch(family, p, max_grid_z, kEmulatedSms);
  if (id == GemmFamilyId::kWgmma) {
    xinhe_gemm_wgmma_params_t w;
    const std::string why = xinhe::kernels::wgmma::make_wgmma_params(p, g.ab == XINHE_DTYPE_BF16,
                                                                     xg::encode_tensor_map, &w);
    ASSERT_EQ(why, "");
    const WgmmaKernel k = kernel_named(kWgmmaKernels, kernel);
    ASSERT_NE(k, nullptr) << kernel;
    launch(k, dims(l.grid), dims(l.block), w);
  } else {
    const GemmKernel k = kernel_named(kGemmKernels, kernel);
    ASSERT_NE(k, nullptr) << kernel;
    launch(k, dims(l.grid), dims(l.block), p);
  }
}

void check_gemm(const GemmCase& g, GemmFamilyId id) {
  const GemmFamily& family = xinhe::kernels::gpu::gemm_family(id);
  const std::string kernel =
      xinhe::kernels::gpu::gemm_kernel_name(family, g.ab, g.c, g.trans_a, g.trans_b);
  SCOPED_TRACE(kernel + " " + g.name());
  Rng rng(42);
  const xinhe_gemm_desc_t d = g.desc();
  // A case the plugin would not hand to this family tests nothing it runs.
  EXPECT_EQ(xinhe::kernels::gpu::gemm_unsupported(family, all_features(), d), "");
  HostArray a = random_array(g.ab, g.a_span(), rng);
  HostArray b = random_array(g.ab, g.b_span(), rng);
  HostArray c_in = random_array(g.c, g.c_span(), rng);
  if (g.beta == 0.0f) c_in.poison();  // must not be read
  std::vector<double> expected(static_cast<size_t>(g.batch * g.m * g.n));
  xinhe::reference::gemm(d, a.data(), b.data(), c_in.data(), g.alpha, g.beta, expected.data());

  HostArray c = c_in;
  xinhe_gemm_cuda_params_t p = xinhe::kernels::gpu::gemm_params(d);
  p.a = a.data();
  p.b = b.data();
  p.c = c.data();
  p.alpha = g.alpha;
  p.beta = g.beta;
  launch_gemm(g, id, p);
  int64_t first = -1;
  EXPECT_EQ(xinhe::test::gemm_c_writes_outside(g, c_in, c, &first), 0)
      << "C written outside the results, first at element " << first;
  const ErrorStats error = xinhe::test::gemm_c_error(g, c, expected.data());
  EXPECT_LE(error.normalized(), tolerance(g.c, g.k)) << "worst result " << error.worst_index;
}

using xinhe::test::gemm_case;

// One test per input dtype: the emulation runs a host thread per GPU thread, which under
// ThreadSanitizer made the three dtypes together outlast the test timeout.
void gemm_simt_and_naive_cases(xinhe_dtype_t ab) {
  for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
    if (ab == XINHE_DTYPE_F32 && c != ab) continue;
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (GemmFamilyId method : {GemmFamilyId::kSimt, GemmFamilyId::kNaive}) {
          check_gemm(gemm_case(ab, c, ta, tb, 70, 37, 45)
                         .batched(3)
                         .pad_leading_dims(3)
                         .broadcast(false, true)
                         .scaled(0.5f, -1.25f),
                     method);
          check_gemm(gemm_case(ab, c, ta, tb, 19, 66, 17), method);
        }
      }
    }
    for (GemmFamilyId method : {GemmFamilyId::kSimt, GemmFamilyId::kNaive}) {
      check_gemm(gemm_case(ab, c, false, false, 9, 11, 0)  // k == 0
                     .batched(2)
                     .pad_leading_dims(1)
                     .scaled(1.0f, 0.75f),
                 method);
    }
  }
}

TEST(GpuKernelEmulation, GemmSimtAndNaiveMatchReferenceF32) {
  gemm_simt_and_naive_cases(XINHE_DTYPE_F32);
}
TEST(GpuKernelEmulation, GemmSimtAndNaiveMatchReferenceF16) {
  gemm_simt_and_naive_cases(XINHE_DTYPE_F16);
}
TEST(GpuKernelEmulation, GemmSimtAndNaiveMatchReferenceBf16) {
  gemm_simt_and_naive_cases(XINHE_DTYPE_BF16);
}

// Every layout and type of the tensor-core kernel: 4 k-tiles (the 3-stage ring wraps), ragged
// last k-tile, chunks crossing the k, m and n edges, a second row block of 2 rows, and for the
// nn/tt layouts two batches (one in-kernel batch loop iteration with gridDim.z = 1).
void gemm_tensorop_cases() {
  for (xinhe_dtype_t ab : {XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          const int64_t batch = ta == tb ? 2 : 1;  // the batch loop once per type pair is enough
          check_gemm(gemm_case(ab, c, ta, tb, 130, 68, 100)
                         .batched(batch)
                         .round_leading_dims(8)
                         .scaled(0.75f, 0.5f),
                     GemmFamilyId::kTensorOp);
        }
      }
      check_gemm(gemm_case(ab, c, false, true, 17, 24, 0).round_leading_dims(8).scaled(1.0f, 2.0f),
                 GemmFamilyId::kTensorOp);  // k == 0
    }
  }
}

TEST(GpuKernelEmulation, GemmTensorOpMatchesReference) { gemm_tensorop_cases(); }

// The 3-stage pipeline with cp.async completing as late as wait_group allows (see the
// emulation's gpu_dialect.cuh).
TEST(GpuKernelEmulation, GemmTensorOpMatchesReferenceWithLateCpAsync) {
  ScopedLateCpAsync late;
  gemm_tensorop_cases();
}

// Every layout and type of the Hopper kernel: 2 x 2 tiles of 128 x 256 with ragged edges on
// 3 persistent CTAs (CTA 0 takes two tiles, so its 4-stage ring wraps with the phase carried
// across tiles), 4 k tiles with a ragged last one (TMA zero fill), padded rows; two batches for
// nn/tt.
void gemm_wgmma_cases() {
  for (xinhe_dtype_t ab : {XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          const int64_t batch = ta == tb ? 2 : 1;
          check_gemm(gemm_case(ab, c, ta, tb, 130, 270, 200)
                         .batched(batch)
                         .round_leading_dims(8)
                         .scaled(0.75f, 0.5f),
                     GemmFamilyId::kWgmma);
        }
      }
    }
  }
  // beta == 0 (C poisoned, never read) and a single k tile.
  check_gemm(gemm_case(XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, false, false, 64, 100, 40)
                 .round_leading_dims(8),
             GemmFamilyId::kWgmma);
}

TEST(GpuKernelEmulation, GemmWgmmaMatchesReference) { gemm_wgmma_cases(); }

// The products of each wgmma land only when wait_group retires them: a stage handed back to
// the producer before its wgmmas completed is refilled first and the numerics fail.
TEST(GpuKernelEmulation, GemmWgmmaMatchesReferenceWithLateWgmma) {
  xg::emulation::wgmma_mode = xg::emulation::WgmmaMode::kAtWait;
  gemm_wgmma_cases();
  xg::emulation::wgmma_mode = xg::emulation::WgmmaMode::kAtIssue;
}

// What TMA cannot describe is refused on the host with a reason (the plugin then runs the
// sm_80 kernel), checked against the encoder's documented limits.
TEST(GpuKernelEmulation, GemmWgmmaParamsRefuseWhatTmaCannotDescribe) {
  alignas(16) static uint16_t buffer[64 * 64];
  xinhe_gemm_cuda_params_t p{buffer, buffer, buffer, 64, 64, 64, 1,    64,  64,
                             64,     0,      0,      0,  0,  0,  1.0f, 0.0f};
  xinhe_gemm_wgmma_params_t w;
  using xinhe::kernels::wgmma::make_wgmma_params;
  EXPECT_EQ(make_wgmma_params(p, true, xg::encode_tensor_map, &w), "");
  EXPECT_EQ(w.tiles_m, 1);
  EXPECT_EQ(w.tiles_n, 1);
  xinhe_gemm_cuda_params_t q = p;
  q.a = buffer + 1;  // 2 bytes past a 16-byte boundary
  EXPECT_EQ(make_wgmma_params(q, true, xg::encode_tensor_map, &w),
            "A: global address not 16-byte aligned");
  q = p;
  q.ldb = 60;  // 120-byte rows
  EXPECT_EQ(make_wgmma_params(q, true, xg::encode_tensor_map, &w),
            "B: stride not a multiple of 16 below 2^40");
  q = p;
  q.k = 0;
  EXPECT_EQ(make_wgmma_params(q, true, xg::encode_tensor_map, &w), "empty problem");
  q = p;
  q.batch = 2;
  q.stride_a = 64 * 64;
  q.stride_b = 0;
  EXPECT_NE(make_wgmma_params(q, true, xg::encode_tensor_map, &w).find("zero batch stride"),
            std::string::npos);
}

// ---- AMD MFMA ----------------------------------------------------------------------------------

// One wave's operands and results in register form: regs_a[l][e] is element e of lane l's A
// operand, regs_d[l][r] result register r of lane l (its initial value going in).
struct MfmaWaveParams {
  const uint16_t* regs_a;  // (64, 4)
  const uint16_t* regs_b;  // (64, 4)
  float* regs_d;           // (64, kRegs)
  int shape;               // 32: mfma_32x32x8, 16: mfma_16x16x16
};

template <typename T>
void mfma_one_wave(MfmaWaveParams p) {
  const unsigned l = threadIdx.x;
  xg::b16x4 a, b;
  for (unsigned e = 0; e < 4; ++e) {
    a.e[e] = p.regs_a[l * 4 + e];
    b.e[e] = p.regs_b[l * 4 + e];
  }
  if (p.shape == 32) {
    xg::f32x16 d;
    for (int r = 0; r < 16; ++r) d[r] = p.regs_d[l * 16 + r];
    xg::mfma_32x32x8<T>(d, a, b);
    for (int r = 0; r < 16; ++r) p.regs_d[l * 16 + r] = d[r];
  } else {
    xg::f32x4 d;
    for (int r = 0; r < 4; ++r) d[r] = p.regs_d[l * 4 + r];
    xg::mfma_16x16x16<T>(d, a, b);
    for (int r = 0; r < 4; ++r) p.regs_d[l * 4 + r] = d[r];
  }
}

// The emulated MFMA on a single wave equals C + A B, with the operands placed in registers and
// the results read back by AMD's layouts written from the matrix side (the AMD Matrix
// Instruction Calculator's form: element -> lane, register), the inverse of the emulation's
// lane -> element view:
//   A(i, k) -> lane i + M (k / 4), element k % 4;  B(k, j) -> lane j + M (k / 4), element k % 4
//   32x32x8:  D(i, j) -> lane j + 32 ((i / 4) % 2), register 4 (i / 8) + i % 4
//   16x16x16: D(i, j) -> lane j + 16 (i / 4),       register i % 4
template <typename T>
void check_mfma_one_wave(xinhe_dtype_t dtype, int shape) {
  SCOPED_TRACE(std::string("mfma ") + xinhe_dtype_name(dtype) + " " + std::to_string(shape) + "x" +
               std::to_string(shape) + "x" + std::to_string(shape == 32 ? 8 : 16));
  const int m = shape, k = shape == 32 ? 8 : 16, regs = m * m / 64;
  Rng rng(static_cast<uint64_t>(shape * 3 + static_cast<int>(dtype)));
  std::vector<double> a(m * k), b(k * m), c(m * m);
  std::vector<uint16_t> regs_a(64 * 4), regs_b(64 * 4);
  std::vector<float> regs_d(64 * regs, std::nanf(""));
  auto round_to = [&](float x, uint16_t* bits) {
    xinhe::reference::store(dtype, bits, 0, x);
    return xinhe::reference::load(dtype, bits, 0);
  };
  for (int i = 0; i < m; ++i) {
    for (int kk = 0; kk < k; ++kk) {
      uint16_t* at = &regs_a[(i + m * (kk / 4)) * 4 + kk % 4];
      a[i * k + kk] = round_to(static_cast<float>(rng.uniform()), at);
      uint16_t* bt = &regs_b[(i + m * (kk / 4)) * 4 + kk % 4];  // B(kk, i)
      b[kk * m + i] = round_to(static_cast<float>(rng.uniform()), bt);
    }
  }
  auto d_slot = [&](int i, int j) -> float& {
    const int lane = shape == 32 ? j + 32 * ((i / 4) % 2) : j + 16 * (i / 4);
    const int reg = shape == 32 ? 4 * (i / 8) + i % 4 : i % 4;
    return regs_d[lane * regs + reg];
  };
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < m; ++j) {
      c[i * m + j] = static_cast<float>(rng.uniform());
      d_slot(i, j) = static_cast<float>(c[i * m + j]);
    }
  }
  launch(mfma_one_wave<T>, dim3{1, 1, 1}, dim3{64, 1, 1},
         MfmaWaveParams{regs_a.data(), regs_b.data(), regs_d.data(), shape});
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < m; ++j) {
      double expected = c[i * m + j], magnitude = std::fabs(c[i * m + j]);
      for (int kk = 0; kk < k; ++kk) {
        expected += a[i * k + kk] * b[kk * m + j];
        magnitude += std::fabs(a[i * k + kk] * b[kk * m + j]);
      }
      // The products are exact in f32: only the accumulation's rounding may remain.
      ASSERT_LE(std::fabs(d_slot(i, j) - expected),
                xinhe::test::f32_accumulation_bound(XINHE_DTYPE_F32, k, magnitude, expected))
          << "D(" << i << ", " << j << ") = " << d_slot(i, j) << ", want " << expected;
    }
  }
}

TEST(GpuKernelEmulation, MfmaOneWaveMatchesMatrixProduct) {
  for (int shape : {32, 16}) {
    check_mfma_one_wave<__half>(XINHE_DTYPE_F16, shape);
    check_mfma_one_wave<xg::bf16>(XINHE_DTYPE_BF16, shape);
  }
}

// Every layout and type of the MFMA kernel: ragged m, n and k (the last k-tile partly zero
// filled, chunks crossing every edge), 4 k-tiles (both shared buffers reused), a second row
// block, three batches through the in-kernel batch loop (gridDim.z = 2), beta = 0 over a
// NaN-poisoned C, padded leading dimensions (rows rounded up to 8; 8 extra elements) and a
// broadcast B. Leading dimensions stay multiples of 8, as the host guarantees before it
// dispatches this kernel (otherwise simt runs).
void gemm_mfma_cases() {
  for (xinhe_dtype_t ab : {XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (xinhe_dtype_t c : {ab, XINHE_DTYPE_F32}) {
      for (int ta = 0; ta < 2; ++ta) {
        for (int tb = 0; tb < 2; ++tb) {
          check_gemm(gemm_case(ab, c, ta, tb, 150, 70, 100)
                         .batched(3)
                         .round_leading_dims(8)
                         .scaled(0.75f, 0.5f),
                     GemmFamilyId::kMfma);
          check_gemm(gemm_case(ab, c, ta, tb, 40, 136, 24).pad_leading_dims(8).scaled(-1.5f, 0.0f),
                     GemmFamilyId::kMfma);
        }
      }
      check_gemm(gemm_case(ab, c, true, false, 17, 24, 0)  // k == 0
                     .batched(2)
                     .round_leading_dims(8)
                     .scaled(1.0f, 2.0f),
                 GemmFamilyId::kMfma);
      check_gemm(gemm_case(ab, c, false, false, 40, 33, 48)  // broadcast B
                     .batched(2)
                     .round_leading_dims(8)
                     .broadcast(false, true)
                     .scaled(1.0f, 0.25f),
                 GemmFamilyId::kMfma);
    }
  }
}

TEST(GpuKernelEmulation, GemmMfmaMatchesReference) { gemm_mfma_cases(); }

// Changes the inputs of check_attention (after they are drawn, before the reference runs).
using AttentionInputsHook =
    std::function<void(xinhe_attention_desc_t& desc, HostArray& q, HostArray& k, HostArray& v)>;

// Elements a [B, H, S, D] tensor with these strides spans.
int64_t span_of(const xinhe_attention_desc_t& d, const int64_t strides[4], int64_t heads,
                int64_t seq) {
  const int64_t extents[4] = {d.batch, heads, seq, d.head_dim};
  return xinhe::test::tensor_span(extents, strides, 4);
}

// The case with LSE; row_pad > 0: every (s, :) row of Q, K, V, O is followed by row_pad unused
// elements.
void check_attention(const AttentionCase& a, AttentionFamilyId id, int64_t row_pad = 0,
                     const AttentionInputsHook& adjust = {}) {
  const AttentionFamily& family = xinhe::kernels::gpu::attention_family(id);
  const std::string kernel =
      xinhe::kernels::gpu::attention_kernel_name(family, a.dtype, a.head_dim);
  SCOPED_TRACE(
      kernel + " " + a.name() + " row_pad=" + std::to_string(row_pad) +
      (xg::emulation::cp_async_mode == xg::emulation::CpAsyncMode::kAtWait ? " cp.async at wait"
                                                                           : "") +
      (xg::emulation::wgmma_mode == xg::emulation::WgmmaMode::kAtWait ? " wgmma at wait" : ""));
  Rng rng(7);
  AttentionCase with_lse = a;
  with_lse.lse = true;
  xinhe_attention_desc_t d = with_lse.desc();
  if (row_pad == 0) {  // the public helpers agree with tests/support's strides
    int64_t expected[4];
    (a.layout == kBshd ? xinhe_attention_strides_bshd : xinhe_attention_strides_bhsd)(
        a.heads_q, a.seq_q, a.head_dim, expected);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(d.q_strides[i], expected[i]);
  } else {  // the same layout with rows head_dim + row_pad elements apart
    const int64_t pitch = a.head_dim + row_pad;
    xinhe::test::attention_strides(a.layout, a.heads_q, a.seq_q, pitch, d.q_strides);
    xinhe::test::attention_strides(a.layout, a.heads_kv, a.seq_kv, pitch, d.k_strides);
    xinhe::test::attention_strides(a.layout, a.heads_kv, a.seq_kv, pitch, d.v_strides);
    xinhe::test::attention_strides(a.layout, a.heads_q, a.seq_q, pitch, d.o_strides);
  }
  HostArray q = random_array(a.dtype, span_of(d, d.q_strides, a.heads_q, a.seq_q), rng);
  HostArray k = random_array(a.dtype, span_of(d, d.k_strides, a.heads_kv, a.seq_kv), rng);
  HostArray v = random_array(a.dtype, span_of(d, d.v_strides, a.heads_kv, a.seq_kv), rng);
  if (adjust) adjust(d, q, k, v);
  const int64_t rows = a.batch * a.heads_q * a.seq_q;
  std::vector<double> expected_o(static_cast<size_t>(rows * a.head_dim));
  std::vector<double> expected_lse(static_cast<size_t>(rows));
  xinhe::reference::attention(d, q.data(), k.data(), v.data(), expected_o.data(),
                              expected_lse.data());

  HostArray o(a.dtype, std::max<int64_t>(span_of(d, d.o_strides, a.heads_q, a.seq_q), 1));
  HostArray lse(XINHE_DTYPE_F32, std::max<int64_t>(with_lse.lse_span(), 1));
  o.poison();
  lse.poison();
  xinhe_attention_cuda_params_t p{};
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.o = o.data();
  p.lse = static_cast<float*>(lse.data());
  p.batch = a.batch;
  p.heads_q = a.heads_q;
  p.heads_kv = a.heads_kv;
  p.seq_q = a.seq_q;
  p.seq_kv = a.seq_kv;
  p.head_dim = a.head_dim;
  for (int i = 0; i < 4; ++i) {
    p.q_strides[i] = d.q_strides[i];
    p.k_strides[i] = d.k_strides[i];
    p.v_strides[i] = d.v_strides[i];
    p.o_strides[i] = d.o_strides[i];
  }
  for (int i = 0; i < 3; ++i) p.lse_strides[i] = d.lse_strides[i];
  p.scale = d.scale;
  p.causal = a.causal;
  // A case the plugin would not hand to this family tests nothing it runs.
  EXPECT_EQ(xinhe::kernels::gpu::attention_unsupported(family, all_features(), d), "");
  const xinhe::kernels::gpu::Launch l =
      xinhe::kernels::gpu::attention_launch(family, p, /*max_grid_z=*/2);
  const AttentionKernel run = kernel_named(kAttentionKernels, kernel);
  ASSERT_NE(run, nullptr);
  launch(run, dims(l.grid), dims(l.block), p);

  ErrorStats o_error;
  for (int64_t b = 0; b < a.batch; ++b) {
    for (int64_t h = 0; h < a.heads_q; ++h) {
      for (int64_t s = 0; s < a.seq_q; ++s) {
        const int64_t row = (b * a.heads_q + h) * a.seq_q + s;
        const double want = expected_lse[static_cast<size_t>(row)];
        const double got =
            lse.get(b * d.lse_strides[0] + h * d.lse_strides[1] + s * d.lse_strides[2]);
        // A row that sees a NaN score (the inputs hook put NaN in Q or K): all NaN (ops.h).
        const bool nan_row = std::isnan(want);
        if (nan_row) {
          EXPECT_TRUE(std::isnan(got)) << "LSE of NaN row " << row << ": " << got;
        }
        for (int64_t e = 0; e < a.head_dim; ++e) {
          const int64_t at =
              b * d.o_strides[0] + h * d.o_strides[1] + s * d.o_strides[2] + e * d.o_strides[3];
          if (nan_row) {
            EXPECT_TRUE(std::isnan(o.get(at))) << "O of NaN row " << row << ": " << o.get(at);
            continue;
          }
          o_error.add(o.get(at), expected_o[static_cast<size_t>(row * a.head_dim + e)],
                      row * a.head_dim + e);
        }
        // LSE (f32) per row, relative to its size: a row's LSE is its own softmax's scale.
        if (nan_row) {
        } else if (std::isinf(want)) {
          EXPECT_TRUE(std::isinf(got) && got < 0) << "row " << row << ": " << got;
        } else {
          EXPECT_LE(std::fabs(got - want),
                    tolerance(XINHE_DTYPE_F32, 0) * std::max(1.0, std::fabs(want)))
              << "LSE of row " << row << ": " << got << ", want " << want;
        }
      }
    }
  }
  EXPECT_LE(o_error.normalized(), tolerance(a.dtype, std::max(a.head_dim, a.seq_kv)))
      << "O, worst element " << o_error.worst_index;
}

TEST(GpuKernelEmulation, AttentionFlashAndNaiveMatchReference) {
  for (xinhe_dtype_t t : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (AttentionFamilyId flash : {AttentionFamilyId::kFlash, AttentionFamilyId::kNaive}) {
      // Kept small: every emulated shuffle is two barrier waits.
      check_attention(attention_case(t, 3, 2, 1, 18, 27, 40, true),
                      flash);  // GQA, causal, Sq < Skv, 3 batches
      check_attention(attention_case(t, 1, 2, 1, 19, 6, 80, true, kBshd),
                      flash);  // MQA, Sq > Skv: empty rows
      check_attention(attention_case(t, 1, 2, 2, 1, 21, 128, true, kBshd), flash);  // decode step
      check_attention(attention_case(t, 1, 1, 1, 17, 17, 256), flash);  // largest head dim
      check_attention(attention_case(t, 1, 2, 1, 5, 0, 32), flash);     // no keys
    }
  }
}

// The tensor-core FlashAttention (f16/bf16, D <= 128), whose K/V tiles (64 keys) are double
// buffered: causal with Sq != Skv both ways (empty rows), GQA, Skv not a multiple of the tile,
// 3 and 4 tiles (each stage reused), the batch loop, head dims padded inside the tile; the
// cp.async path (rows 16-byte aligned, including a ragged last chunk) and the element-wise
// path (rows that are not).
void attention_tensorop_cases() {
  constexpr AttentionFamilyId kTc = AttentionFamilyId::kTensorOp;
  for (xinhe_dtype_t t : {XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    check_attention(attention_case(t, 3, 2, 1, 70, 100, 40, true),
                    kTc);  // 2 row blocks, batch loop
    check_attention(attention_case(t, 1, 2, 2, 20, 9, 128, true, kBshd), kTc);  // Sq > Skv
    check_attention(attention_case(t, 1, 1, 1, 1, 77, 64, false, kBshd), kTc);  // decode, no mask
    check_attention(attention_case(t, 1, 2, 1, 5, 0, 96), kTc);                 // no keys
    check_attention(attention_case(t, 2, 4, 2, 66, 200, 64, true, kBshd),
                    kTc);                                             // GQA, 4 tiles, ragged last
    check_attention(attention_case(t, 1, 2, 1, 130, 190, 128), kTc);  // 3 tiles, 3 row blocks
    check_attention(attention_case(t, 1, 1, 1, 150, 140, 64, true),
                    kTc);  // causal Sq > Skv, 3 tiles
    // head_dim 36: 72-byte rows are not 16-byte aligned -> element-wise loads; padded to a
    // 40-element pitch they are -> cp.async with the last chunk 8 of 16 bytes, zero-filled.
    check_attention(attention_case(t, 1, 2, 1, 40, 150, 36, true), kTc);
    check_attention(attention_case(t, 1, 2, 1, 40, 150, 36, true, kBshd), kTc, 4);
  }
}

TEST(GpuKernelEmulation, AttentionTensorOpMatchesReference) { attention_tensorop_cases(); }

// The same with every cp.async performed only when its group is waited for: a tile read
// before its wait, or a wrong wait count, reads stale shared memory and fails.
TEST(GpuKernelEmulation, AttentionTensorOpMatchesReferenceWithLateCpAsync) {
  ScopedLateCpAsync late;
  attention_tensorop_cases();
}

// The Hopper FlashAttention (f16/bf16, D <= 128; 128 query rows per block, K/V tiles of 128
// keys at d64 and 64 at d128 in 3 stages): causal with Sq != Skv both ways (empty rows, and a
// warpgroup past its diagonal or past Sq), GQA, ragged last tiles, 5 tiles (stages reused, P V
// of one tile overlapping the next tile's S), the batch loop, head dims padded inside the
// 64-column slabs (40, 96), bshd and bhsd strides, the cp.async path with a ragged last chunk
// and the element-wise path for rows that are not 16-byte aligned. Shapes stay small: the
// block is 256 emulated threads.
void attention_wgmma_cases() {
  constexpr AttentionFamilyId kWg = AttentionFamilyId::kWgmma;
  for (xinhe_dtype_t t : {XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    check_attention(attention_case(t, 3, 2, 1, 70, 100, 40, true), kWg);  // GQA, batch loop, d64
    check_attention(attention_case(t, 1, 2, 2, 20, 9, 128, true, kBshd),
                    kWg);  // Sq > Skv: empty rows
    check_attention(attention_case(t, 1, 1, 1, 1, 77, 64, false, kBshd), kWg);  // decode, no mask
    check_attention(attention_case(t, 1, 2, 1, 5, 0, 96), kWg);                 // no keys
    check_attention(attention_case(t, 1, 4, 2, 130, 530, 64, true, kBshd),
                    kWg);                                                  // 2 row blocks, 5 tiles
    check_attention(attention_case(t, 1, 1, 1, 150, 300, 128), kWg);       // 5 tiles of 64, ragged
    check_attention(attention_case(t, 1, 1, 1, 200, 140, 96, true), kWg);  // causal Sq > Skv
    // head_dim 36 as for the tensorop kernel: element-wise rows, then cp.async rows padded
    // to a 40-element pitch whose last chunk is half read, half zero-filled.
    check_attention(attention_case(t, 1, 2, 1, 40, 150, 36, true), kWg);
    check_attention(attention_case(t, 1, 2, 1, 40, 150, 36, true, kBshd), kWg, 4);
  }
}

TEST(GpuKernelEmulation, AttentionWgmmaMatchesReference) { attention_wgmma_cases(); }

// wgmma products landing only at wgmma.wait_group, copies at issue: an accumulator read before
// its wait is stale, and a stage refilled while a wgmma that reads it is still in flight hands
// that wgmma the next tile's data.
TEST(GpuKernelEmulation, AttentionWgmmaMatchesReferenceWithLateWgmma) {
  xg::emulation::wgmma_mode = xg::emulation::WgmmaMode::kAtWait;
  attention_wgmma_cases();
  xg::emulation::wgmma_mode = xg::emulation::WgmmaMode::kAtIssue;
}

// Copies landing only at cp.async.wait_group as well: a tile read before its wait is stale.
TEST(GpuKernelEmulation, AttentionWgmmaMatchesReferenceWithLateCopiesAndWgmma) {
  ScopedLateCpAsync late;
  xg::emulation::wgmma_mode = xg::emulation::WgmmaMode::kAtWait;
  attention_wgmma_cases();
  xg::emulation::wgmma_mode = xg::emulation::WgmmaMode::kAtIssue;
}

// ---- Numerics the conformance suite also checks (tests/conformance/adversarial_cases.cpp) ----

// f32 -> stored dtype, round to nearest even, as bits.
uint32_t rounded_bits(xinhe_dtype_t dtype, float value) {
  if (dtype == XINHE_DTYPE_F16) return xinhe::kernels::f32_to_f16(value);
  if (dtype == XINHE_DTYPE_BF16) return xinhe::kernels::f32_to_bf16(value);
  return xinhe::kernels::f32_to_bits(value);
}

uint32_t stored_bits(const HostArray& data, int64_t i) {
  uint32_t bits = 0;
  std::memcpy(&bits, data.bytes.data() + static_cast<size_t>(i) * data.elem_size(),
              data.elem_size());
  return bits;
}

// alpha == 0 (and K == 0) with Inf and NaN in A and B: every kernel writes beta * C bit for bit,
// -0.0 and Inf in C included (ops.h, BLAS). 0 * (A B) would be NaN.
void check_gemm_blas_trivial(GemmFamilyId method, xinhe_dtype_t ab, xinhe_dtype_t c_dtype,
                             int64_t k, float alpha) {
  const bool tensor_cores = method == GemmFamilyId::kTensorOp || method == GemmFamilyId::kWgmma ||
                            method == GemmFamilyId::kMfma;
  GemmCase g = gemm_case(ab, c_dtype, false, true, 19, 21, k).scaled(alpha, 0.0f);
  if (tensor_cores) g.round_leading_dims(8);
  const xinhe_gemm_desc_t d = g.desc();
  Rng rng(11);
  HostArray a = random_array(ab, g.a_span(), rng);
  HostArray b = random_array(ab, g.b_span(), rng);
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < g.a_span(); i += 2) a.set(i, i % 4 ? inf : std::nan(""));
  for (int64_t i = 1; i < g.b_span(); i += 2) b.set(i, i % 3 ? -inf : std::nan(""));
  HostArray c_init = random_array(c_dtype, g.c_span(), rng);
  for (int64_t i = 0; i < g.c_span(); i += 5) c_init.set(i, -0.0);
  c_init.set(1, inf);
  for (const float beta : {1.0f, 0.0f, 0.5f}) {
    SCOPED_TRACE(g.name() + " beta " + std::to_string(beta));
    HostArray c = c_init;
    xinhe_gemm_cuda_params_t p{a.data(),   b.data(),  c.data(),  d.m,   d.n,        d.k,
                               d.batch,    d.lda,     d.ldb,     d.ldc, d.stride_a, d.stride_b,
                               d.stride_c, d.trans_a, d.trans_b, alpha, beta};
    launch_gemm(g, method, p);
    int64_t wrong = 0;
    for (int64_t i = 0; i < g.m; ++i) {
      for (int64_t j = 0; j < g.n; ++j) {
        const int64_t at = i * d.ldc + j;
        const float old = static_cast<float>(c_init.get(at));
        const uint32_t want = beta == 0.0f ? 0u : rounded_bits(c_dtype, beta * old);
        if (stored_bits(c, at) != want && wrong++ == 0)
          ADD_FAILURE() << "C[" << i << "][" << j << "] = " << c.get(at)
                        << ", want beta * C = " << beta * old;
      }
    }
    EXPECT_EQ(wrong, 0);
  }
}

TEST(GpuKernelEmulation, GemmAlphaZeroAndKZeroFollowBlas) {
  for (GemmFamilyId method : {GemmFamilyId::kSimt, GemmFamilyId::kNaive}) {
    check_gemm_blas_trivial(method, XINHE_DTYPE_F32, XINHE_DTYPE_F32, 33, 0.0f);
    check_gemm_blas_trivial(method, XINHE_DTYPE_F16, XINHE_DTYPE_F16, 33, 0.0f);
    check_gemm_blas_trivial(method, XINHE_DTYPE_BF16, XINHE_DTYPE_F32, 33, 0.0f);
    check_gemm_blas_trivial(method, XINHE_DTYPE_F32, XINHE_DTYPE_F32, 0, 1.5f);  // K == 0
  }
  for (GemmFamilyId method : {GemmFamilyId::kTensorOp, GemmFamilyId::kWgmma, GemmFamilyId::kMfma}) {
    check_gemm_blas_trivial(method, XINHE_DTYPE_F16, XINHE_DTYPE_F32, 40, 0.0f);
    check_gemm_blas_trivial(method, XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, 40, 0.0f);
  }
}

// Exact logits with a large common offset (Q in {-1/8, 0, 1/8}, K multiples of 1/8, last dim 1
// and `offset`, so every q . k is exact in f32 in any order) and a scale that is not a power of
// two: softmax is shift-invariant, so O must match the reference as tightly as without the
// offset. A kernel that scales (or folds log2(e) into) the scores before subtracting the row
// max drifts by ~eps * |scale * offset|: about 1% of a probability at an offset of 2e5.
AttentionInputsHook exact_logits_with_offset(double offset, float scale) {
  return [offset, scale](xinhe_attention_desc_t& d, HostArray& q, HostArray& k, HostArray&) {
    d.scale = scale;
    auto quantize = [&](HostArray& t, const int64_t strides[4], int64_t heads, int64_t seq,
                        double last) {
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < seq; ++s)
          for (int64_t e = 0; e < d.head_dim; ++e) {
            const int64_t at = h * strides[1] + s * strides[2] + e * strides[3];
            t.set(at, e == d.head_dim - 1 ? last : std::round(t.get(at) * 8.0) / 8.0);
          }
    };
    quantize(q, d.q_strides, d.heads_q, d.seq_q, 1.0);
    // Q down to {-1/8, 0, 1/8}: the logits' spread stays a few units at this scale.
    for (int64_t h = 0; h < d.heads_q; ++h)
      for (int64_t s = 0; s < d.seq_q; ++s)
        for (int64_t e = 0; e + 1 < d.head_dim; ++e) {
          const int64_t at = h * d.q_strides[1] + s * d.q_strides[2] + e * d.q_strides[3];
          q.set(at, std::round(q.get(at) * 2.0) / 8.0);
        }
    quantize(k, d.k_strides, d.heads_kv, d.seq_kv, offset);
  };
}

TEST(GpuKernelEmulation, AttentionIsShiftInvariantAtLargeLogits) {
  // check_attention holds O to the dtype's table tolerance (max |O - ref| / max |ref|), which a
  // drift of 1% of a probability exceeds.
  struct Method {
    AttentionFamilyId method;
    xinhe_dtype_t dtype;
  };
  for (const Method m : {Method{AttentionFamilyId::kFlash, XINHE_DTYPE_F32},
                         Method{AttentionFamilyId::kNaive, XINHE_DTYPE_F32},
                         Method{AttentionFamilyId::kTensorOp, XINHE_DTYPE_F16},
                         Method{AttentionFamilyId::kWgmma, XINHE_DTYPE_F16}}) {
    for (const double offset : {0.0, 49152.0}) {  // 1.5 * 2^15: exact in f16
      SCOPED_TRACE("logit offset " + std::to_string(offset * 4.37));
      check_attention(attention_case(m.dtype, 1, 2, 1, 20, 37, 64, true), m.method, 0,
                      exact_logits_with_offset(offset, 4.37f));
    }
  }
}

// Finite scales up to FLT_MAX: |scale| log2(e) overflows to inf above 2.36e38, and a kernel
// that folds it in computes (s - max) * inf = NaN at the row's max. Q and K are multiples of
// 1/16 in [-1/8, 1/8] with D = 16, so q . k is exact, |q . k| <= 1/4, and the softmax is one-hot.
TEST(GpuKernelEmulation, AttentionTakesScalesUpToFltMax) {
  const auto huge_scale = [](float scale) -> AttentionInputsHook {
    return [scale](xinhe_attention_desc_t& d, HostArray& q, HostArray& k, HostArray&) {
      d.scale = scale;
      for (HostArray* t : {&q, &k})
        for (int64_t i = 0; i < t->count; ++i) t->set(i, std::round(t->get(i) * 2.0) / 16.0);
    };
  };
  struct Method {
    AttentionFamilyId method;
    xinhe_dtype_t dtype;
  };
  for (const Method m : {Method{AttentionFamilyId::kFlash, XINHE_DTYPE_F32},
                         Method{AttentionFamilyId::kNaive, XINHE_DTYPE_F32},
                         Method{AttentionFamilyId::kTensorOp, XINHE_DTYPE_F16},
                         Method{AttentionFamilyId::kWgmma, XINHE_DTYPE_BF16}}) {
    for (const float scale :
         {2.5e38f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()}) {
      SCOPED_TRACE(testing::Message() << "scale " << scale);
      check_attention(attention_case(m.dtype, 1, 2, 1, 9, 37, 16, true), m.method, 0,
                      huge_scale(scale));
    }
  }
}

// Rows that see no key (bottom-right causal, Sq > Skv) at every position within the kernels'
// row groups: O = 0 and LSE = -inf, never NaN; also when V holds Inf (at key 0, which every row
// that sees a key sees, so their O is +Inf there): a tile's masked rows weight it by 0, and the
// kernels wrote 0 * Inf / l = NaN for them.
TEST(GpuKernelEmulation, AttentionFullyMaskedRowsAreZero) {
  const AttentionInputsHook inf_in_v = [](xinhe_attention_desc_t& d, HostArray&, HostArray&,
                                          HostArray& v) {
    if (d.seq_kv == 0) return;
    for (int64_t h = 0; h < d.heads_kv; ++h)
      v.set(h * d.v_strides[1] + 3 * d.v_strides[3], std::numeric_limits<double>::infinity());
  };
  const int64_t shapes[][2] = {{2, 1}, {3, 0}, {5, 2}, {17, 3}, {24, 7}, {24, 23}};
  for (const auto& s : shapes) {
    for (const AttentionInputsHook& hook : {AttentionInputsHook(), inf_in_v}) {
      SCOPED_TRACE(hook ? "Inf in V" : "finite V");
      check_attention(attention_case(XINHE_DTYPE_F32, 1, 2, 1, s[0], s[1], 40, true),
                      AttentionFamilyId::kFlash, 0, hook);
      check_attention(attention_case(XINHE_DTYPE_F32, 1, 2, 1, s[0], s[1], 40, true),
                      AttentionFamilyId::kNaive, 0, hook);
      check_attention(attention_case(XINHE_DTYPE_F16, 1, 2, 1, s[0], s[1], 40, true),
                      AttentionFamilyId::kTensorOp, 0, hook);
      check_attention(attention_case(XINHE_DTYPE_BF16, 1, 2, 1, s[0], s[1], 40, true),
                      AttentionFamilyId::kWgmma, 0, hook);
    }
  }
}

// NaN in Q or in a K row a query sees makes that row's O and LSE NaN (ops.h), as the float64
// reference gives; not the zeros and -inf of a row that saw no key, which the kernels wrote when
// they judged "saw keys" by l > 0 (NaN fails it) or skipped a tile whose max was -inf because
// fmaxf passes over NaN. Hooks (Sq 9, Skv 70, causal): one NaN K row, key 65, which rows 4 to 8
// see; one NaN Q row; NaN in the first 32 keys (whole tiles of NaN scores).
TEST(GpuKernelEmulation, AttentionNanScoresGiveNanRows) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const AttentionInputsHook nan_k_row = [nan](xinhe_attention_desc_t& d, HostArray&, HostArray& k,
                                              HostArray&) {
    k.set(65 * d.k_strides[2] + 5 * d.k_strides[3], nan);
  };
  const AttentionInputsHook nan_q_row = [nan](xinhe_attention_desc_t& d, HostArray& q, HostArray&,
                                              HostArray&) {
    q.set(1 * d.q_strides[1] + 5 * d.q_strides[2] + 2 * d.q_strides[3], nan);
  };
  const AttentionInputsHook nan_k_tiles = [nan](xinhe_attention_desc_t& d, HostArray&, HostArray& k,
                                                HostArray&) {
    for (int64_t j = 0; j < 32; ++j) k.set(j * d.k_strides[2] + 7 * d.k_strides[3], nan);
  };
  for (const AttentionInputsHook& hook : {nan_k_row, nan_q_row, nan_k_tiles}) {
    check_attention(attention_case(XINHE_DTYPE_F32, 1, 2, 1, 9, 70, 64, true),
                    AttentionFamilyId::kFlash, 0, hook);
    check_attention(attention_case(XINHE_DTYPE_F32, 1, 2, 1, 9, 70, 64, true),
                    AttentionFamilyId::kNaive, 0, hook);
    check_attention(attention_case(XINHE_DTYPE_F16, 1, 2, 1, 9, 70, 64, true),
                    AttentionFamilyId::kTensorOp, 0, hook);
    check_attention(attention_case(XINHE_DTYPE_BF16, 1, 2, 1, 9, 70, 64, true),
                    AttentionFamilyId::kWgmma, 0, hook);
  }
}

// The conformance sweeps through the emulated kernels: every attention (Sq, Skv) up to 24,
// causal and not, and every GEMM m, n, k up to 17 with every transpose pair. One emulated launch
// costs 0.03 to 1 s (each warp shuffle is a barrier of 32 host threads), so the full sweep takes
// hours and runs on request only: XINHE_EMULATION_SWEEP=1.
bool sweep_requested() {
  const char* env = std::getenv("XINHE_EMULATION_SWEEP");
  return env != nullptr && std::string(env) == "1";
}

TEST(GpuKernelEmulationSweep, AttentionEverySmallShape) {
  if (!sweep_requested()) GTEST_SKIP() << "hours of emulation; set XINHE_EMULATION_SWEEP=1 to run";
  for (bool causal : {false, true})
    for (int64_t sq = 1; sq <= 24; ++sq)
      for (int64_t skv = 0; skv <= 24; ++skv) {
        check_attention(attention_case(XINHE_DTYPE_F32, 1, 2, 1, sq, skv, 40, causal),
                        AttentionFamilyId::kFlash);
        check_attention(attention_case(XINHE_DTYPE_F32, 1, 2, 1, sq, skv, 40, causal),
                        AttentionFamilyId::kNaive);
        check_attention(attention_case(XINHE_DTYPE_F16, 1, 2, 1, sq, skv, 40, causal),
                        AttentionFamilyId::kTensorOp);
        check_attention(attention_case(XINHE_DTYPE_F16, 1, 2, 1, sq, skv, 40, causal),
                        AttentionFamilyId::kWgmma);
      }
}

TEST(GpuKernelEmulationSweep, GemmEverySmallShape) {
  if (!sweep_requested()) GTEST_SKIP() << "hours of emulation; set XINHE_EMULATION_SWEEP=1 to run";
  for (int t = 0; t < 4; ++t)
    for (int64_t m = 1; m <= 17; ++m)
      for (int64_t n = 1; n <= 17; ++n)
        for (int64_t k = 1; k <= 17; ++k) {
          const int ta = t / 2, tb = t % 2;
          check_gemm(
              gemm_case(XINHE_DTYPE_F32, XINHE_DTYPE_F32, ta, tb, m, n, k).pad_leading_dims(1),
              GemmFamilyId::kSimt);
          check_gemm(
              gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, ta, tb, m, n, k).scaled(1.0f, 0.5f),
              GemmFamilyId::kNaive);
          check_gemm(
              gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F16, ta, tb, m, n, k).round_leading_dims(8),
              GemmFamilyId::kTensorOp);
          check_gemm(
              gemm_case(XINHE_DTYPE_BF16, XINHE_DTYPE_F32, ta, tb, m, n, k).round_leading_dims(8),
              GemmFamilyId::kWgmma);
          check_gemm(
              gemm_case(XINHE_DTYPE_F16, XINHE_DTYPE_F32, ta, tb, m, n, k).round_leading_dims(8),
              GemmFamilyId::kMfma);
        }
}

}  // namespace
