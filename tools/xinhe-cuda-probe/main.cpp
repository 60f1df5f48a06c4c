// xinhe-cuda-probe: the host cost xinhe adds per op on CUDA, against a raw cuLaunchKernel of the
// same kernel from the same image (issue #4: at most 1 us per op).
//
//   overhead [--kernel simt|tensorop|wgmma] [--samples N] [--launches L]
//
// Raw: libcuda loaded here, the plugin's own GEMM image (linked from xinhe_backend_cuda_kernels)
// loaded with cuModuleLoadData in the device's primary context, the kernel launched with the
// parameter block the plugin would build (tensor maps encoded once, outside the timing).
// xinhe: xinhe_gemm_run with XINHE_GEMM_IMPL selecting that kernel. Each sample times L
// back-to-back launches on the host (the queue does not fill at these sizes), then synchronizes
// untimed; the per-op cost is the sample's time / L, reported as the median of N samples after
// one warm-up sample, the two paths alternating sample by sample.
#include <cuda.h>
#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli_parse.h"
#include "gemm_cuda.h"
#include "gemm_families.h"
#include "gemm_wgmma_host.h"
#include "xinhe/xinhe.hpp"

extern "C" const unsigned char xinhe_gpu_gemm_image[];

namespace {

constexpr int kSkip = 77;  // no GPU here: ctest's skip code
using Clock = std::chrono::steady_clock;

// The driver calls the raw path needs, by their versioned ABI names.
#define PROBE_CUDA_SYMBOLS(X)                                  \
  X(cuInit, "cuInit")                                          \
  X(cuGetErrorName, "cuGetErrorName")                          \
  X(cuDeviceGet, "cuDeviceGet")                                \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute")              \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")      \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2") \
  X(cuCtxSetCurrent, "cuCtxSetCurrent")                        \
  X(cuMemAlloc, "cuMemAlloc_v2")                               \
  X(cuMemFree, "cuMemFree_v2")                                 \
  X(cuMemsetD8, "cuMemsetD8_v2")                               \
  X(cuStreamCreate, "cuStreamCreate")                          \
  X(cuStreamDestroy, "cuStreamDestroy_v2")                     \
  X(cuStreamSynchronize, "cuStreamSynchronize")                \
  X(cuModuleLoadData, "cuModuleLoadData")                      \
  X(cuModuleUnload, "cuModuleUnload")                          \
  X(cuModuleGetFunction, "cuModuleGetFunction")                \
  X(cuFuncSetAttribute, "cuFuncSetAttribute")                  \
  X(cuLaunchKernel, "cuLaunchKernel")                          \
  X(cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled")

struct Cuda {
#define PROBE_MEMBER(member, symbol) decltype(&::member) member = nullptr;
  PROBE_CUDA_SYMBOLS(PROBE_MEMBER)
#undef PROBE_MEMBER
  void* library = nullptr;

  // "" or why the driver is not usable.
  std::string load() {
    library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) return "libcuda.so.1 not found (no NVIDIA driver)";
#define PROBE_RESOLVE(member, symbol)                                  \
  member = reinterpret_cast<decltype(member)>(dlsym(library, symbol)); \
  if (member == nullptr) return "libcuda.so.1 lacks " symbol " (driver too old)";
    PROBE_CUDA_SYMBOLS(PROBE_RESOLVE)
#undef PROBE_RESOLVE
    if (const CUresult r = cuInit(0)) return "cuInit: " + name(r);
    return "";
  }
  std::string name(CUresult r) const {
    const char* text = nullptr;
    if (cuGetErrorName == nullptr || cuGetErrorName(r, &text) != CUDA_SUCCESS || text == nullptr)
      return "CUresult " + std::to_string(static_cast<int>(r));
    return text;
  }
  ~Cuda() {
    if (library != nullptr) dlclose(library);
  }
};

// Throws with the failing call named.
void check(const Cuda& cuda, CUresult r, const char* call) {
  if (r != CUDA_SUCCESS) throw std::runtime_error(std::string(call) + ": " + cuda.name(r));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The kernel family of --kernel, from the descriptors the plugin launches from.
const xinhe::kernels::gpu::GemmFamily& choose(const std::string& family) {
  using xinhe::kernels::gpu::GemmFamilyId;
  if (family == "simt") return xinhe::kernels::gpu::gemm_family(GemmFamilyId::kSimt);
  if (family == "tensorop") return xinhe::kernels::gpu::gemm_family(GemmFamilyId::kTensorOp);
  return xinhe::kernels::gpu::gemm_family(GemmFamilyId::kWgmma);
}

// Why cuda:0 is missing: the CUDA plugin's own skip reason when it was found but not loaded,
// else the lookup error (e.g. the plugin is not on XINHE_BACKEND_PATH).
std::string cuda_backend_reason(const xinhe::Error& lookup) {
  size_t count = 0;
  if (xinhe_status_t s = xinhe_backend_count(&count)) {
    xinhe_status_free(s);
    return lookup.what();
  }
  for (size_t i = 0; i < count; ++i) {
    xinhe_backend_info_t info{};
    info.struct_size = sizeof info;
    if (xinhe_status_t s = xinhe_backend_info(i, &info)) {
      xinhe_status_free(s);
      continue;
    }
    if (std::string(info.name) == "cuda" && info.reason[0] != '\0') return info.reason;
  }
  return lookup.what();
}

int overhead(const std::string& family, int samples, int launches, int64_t size) {
  // xinhe side first: its device lookup says best why there is no CUDA device.
  xinhe::Device device;
  try {
    device = xinhe::Device::get("cuda:0");
  } catch (const xinhe::Error& e) {
    std::fprintf(stderr, "xinhe-cuda-probe: no CUDA device: %s\n", cuda_backend_reason(e).c_str());
    return kSkip;
  }
  Cuda cuda;
  if (const std::string why = cuda.load(); !why.empty()) {
    std::fprintf(stderr, "xinhe-cuda-probe: %s\n", why.c_str());
    return kSkip;
  }
  const xinhe::kernels::gpu::GemmFamily& choice = choose(family);
  const std::string kernel =
      xinhe::kernels::gpu::gemm_kernel_name(choice, XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, 0, 0);
  const int64_t m = size, n = size, k = size;

  // xinhe path: the implementation filter selects the family's implementation.
  setenv("XINHE_GEMM_IMPL", (std::string(choice.method) + "_").c_str(), 1);
  const xinhe_gemm_desc_t desc =
      xinhe::gemm_desc(XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, m, n, k, false, false);
  xinhe::Gemm op(device, desc);
  unsetenv("XINHE_GEMM_IMPL");
  if (const std::string why = op.unsupported_reason(); !why.empty()) {
    std::fprintf(stderr, "xinhe-cuda-probe: %s is not available here: %s\n", family.c_str(),
                 why.c_str());
    return kSkip;
  }
  xinhe::Stream stream = device.create_stream();
  xinhe::Buffer a = device.alloc(static_cast<uint64_t>(m * k * 2));
  xinhe::Buffer b = device.alloc(static_cast<uint64_t>(k * n * 2));
  xinhe::Buffer c = device.alloc(static_cast<uint64_t>(m * n * 2));
  for (xinhe::Buffer* buf : {&a, &b, &c}) stream.fill(*buf, 0x3f80, 2, 0, buf->size());  // 1.0

  // Raw path, in the same (primary) context the plugin uses.
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  check(cuda, cuda.cuDeviceGet(&dev, 0), "cuDeviceGet");
  check(cuda, cuda.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  check(cuda, cuda.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  int sms = 0;
  check(cuda, cuda.cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev),
        "cuDeviceGetAttribute");
  CUmodule module = nullptr;
  check(cuda, cuda.cuModuleLoadData(&module, xinhe_gpu_gemm_image), "cuModuleLoadData");
  CUfunction function = nullptr;
  check(cuda, cuda.cuModuleGetFunction(&function, module, kernel.c_str()),
        "cuModuleGetFunction");
  CUdeviceptr ra = 0, rb = 0, rc = 0;
  const size_t bytes[3] = {static_cast<size_t>(m * k * 2), static_cast<size_t>(k * n * 2),
                           static_cast<size_t>(m * n * 2)};
  CUdeviceptr* raw_buffers[3] = {&ra, &rb, &rc};
  for (int i = 0; i < 3; ++i) {
    check(cuda, cuda.cuMemAlloc(raw_buffers[i], bytes[i]), "cuMemAlloc");
    check(cuda, cuda.cuMemsetD8(*raw_buffers[i], 0, bytes[i]), "cuMemsetD8");
  }
  CUstream raw_stream = nullptr;
  check(cuda, cuda.cuStreamCreate(&raw_stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");

  xinhe_gemm_cuda_params_t p = xinhe::kernels::gpu::gemm_params(
      xinhe::gemm_desc(XINHE_DTYPE_BF16, XINHE_DTYPE_BF16, m, n, k, false, false));
  p.a = reinterpret_cast<const void*>(ra);
  p.b = reinterpret_cast<const void*>(rb);
  p.c = reinterpret_cast<void*>(rc);
  alignas(128) xinhe_gemm_wgmma_params_t w;
  void* params[] = {&p};
  const xinhe::kernels::gpu::Launch launch =
      xinhe::kernels::gpu::gemm_launch(choice, p, XINHE_GPU_MAX_GRID_Z, sms);
  const uint32_t* grid = launch.grid;
  const uint32_t* block = launch.block;
  const uint32_t smem = launch.dynamic_smem;
  if (choice.id == xinhe::kernels::gpu::GemmFamilyId::kWgmma) {
    auto encode = [&](const xinhe::kernels::wgmma::TensorMapRequest& r,
                      xinhe_gemm_tensor_map_t* map) -> std::string {
      const cuuint64_t dims[3] = {r.dims[0], r.dims[1], r.dims[2]};
      const cuuint64_t strides[2] = {r.strides[0], r.strides[1]};
      const cuuint32_t box[3] = {r.box[0], r.box[1], r.box[2]};
      const cuuint32_t ones[3] = {1, 1, 1};
      const CUresult e = cuda.cuTensorMapEncodeTiled(
          reinterpret_cast<CUtensorMap*>(map), CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3,
          const_cast<void*>(r.base), dims, strides, box, ones, CU_TENSOR_MAP_INTERLEAVE_NONE,
          CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
          CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
      return e == CUDA_SUCCESS ? "" : cuda.name(e);
    };
    const std::string why = xinhe::kernels::wgmma::make_wgmma_params(p, true, encode, &w);
    if (!why.empty()) throw std::runtime_error("tensor maps: " + why);
    params[0] = &w;
  }
  if (smem > 0) {
    check(cuda,
          cuda.cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                  static_cast<int>(smem)),
          "cuFuncSetAttribute");
  }

  std::vector<double> raw_us, xinhe_us;
  for (int s = 0; s <= samples; ++s) {
    auto t0 = Clock::now();
    for (int l = 0; l < launches; ++l) {
      check(cuda,
            cuda.cuLaunchKernel(function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                smem, raw_stream, params, nullptr),
            "cuLaunchKernel");
    }
    const double raw = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    check(cuda, cuda.cuStreamSynchronize(raw_stream), "cuStreamSynchronize");
    t0 = Clock::now();
    for (int l = 0; l < launches; ++l) op.run(stream, a, b, c);
    const double ours = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    stream.synchronize();
    if (s > 0) {  // sample 0 warms both paths up
      raw_us.push_back(raw / launches);
      xinhe_us.push_back(ours / launches);
    }
  }
  const double raw = median(raw_us), ours = median(xinhe_us), added = ours - raw;
  std::printf(
      "overhead %s (%s) bf16 %lldx%lldx%lld: raw cuLaunchKernel %.2f us/op, xinhe_gemm_run "
      "%.2f us/op, added %.2f us/op (median of %d samples of %d launches); target <= 1 us: %s\n",
      family.c_str(), op.impl_name().c_str(), static_cast<long long>(m), static_cast<long long>(n),
      static_cast<long long>(k), raw, ours, added, samples, launches,
      added <= 1.0 ? "met" : "MISSED");

  cuda.cuStreamDestroy(raw_stream);
  for (CUdeviceptr ptr : {ra, rb, rc}) cuda.cuMemFree(ptr);
  cuda.cuModuleUnload(module);
  cuda.cuDevicePrimaryCtxRelease(dev);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xinhe-cuda-probe: host cost per op of the CUDA plugin vs a raw cuLaunchKernel"};
  app.require_subcommand(1);
  auto* cmd = app.add_subcommand(
      "overhead", "per-op host time of xinhe_gemm_run vs cuLaunchKernel of the same kernel");
  std::string family = "simt";
  int samples = 21, launches = 200;
  int64_t size = 256;
  cmd->add_option("--kernel", family, "GEMM kernel family (bf16, nn)")
      ->check(CLI::IsMember({"simt", "tensorop", "wgmma"}))
      ->capture_default_str();
  cmd->add_option("--samples", samples, "timed samples (median), after one warm-up sample")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--launches", launches, "back-to-back launches per sample")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--size", size, "M = N = K (multiple of 8)")
      ->check(CLI::Range(8, 4096))
      ->capture_default_str();
  XINHE_TOOL_PARSE(app, argc, argv);
  if (size % 8 != 0) {
    std::fprintf(stderr, "xinhe-cuda-probe: --size must be a multiple of 8\n");
    return 2;
  }
  try {
    return overhead(family, samples, launches, size);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xinhe-cuda-probe: %s\n", e.what());
    return 1;
  }
}
