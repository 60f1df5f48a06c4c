// The CUDA vendor layer of the shared GPU plugin (backends/gpu/): libcuda.so.1 loaded at run
// time through an X-macro symbol table (after IREE's cuda_dynamic_symbol_table.h), CUresult ->
// xinhe status conversion in one place, thin wrappers with the vendor-neutral signatures the
// shared code calls (the HIP layer, backends/hip/hip_driver.h, has the same shape), and what each
// device offers the kernel families (DeviceInfo::caps: mma.sync, wgmma, TMA, warp size).
//
// Only cuda.h's types and prototypes are used, never linked: a machine without the NVIDIA
// driver loads the plugin fine and gets UNAVAILABLE "libcuda.so.1 not found (no NVIDIA
// driver)" from backend_create. Symbols are looked up by their versioned ABI names (the ones
// cuda.h's #defines map to), present in drivers of CUDA 11.x and newer; but the embedded kernel
// images set the real floor: built by nvcc 13.0, the compute_90 PTX is PTX ISA 9.0, which only
// a CUDA 13.0 driver (R580) or newer can JIT, and a CUDA 13 toolkit's cubins are only
// guaranteed to load on a CUDA 13 driver. On an older driver the plugin loads, serves memory,
// streams and events, and its ops report that the kernel images do not load (build the images
// with an older toolkit to support older drivers; see docs/porting-cuda-like.md).
#pragma once

#include <cuda.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "gpu_family.h"
#include "gpu_result.h"
#include "xinhe/backend.hpp"

namespace xinhe::gpu {

inline constexpr const char* kBackendName = "cuda";
inline constexpr const char* kVendorName = "NVIDIA";

using DevicePtr = CUdeviceptr;
using Stream = CUstream;
using Event = CUevent;
using Module = CUmodule;
using Function = CUfunction;

// (member, exported symbol). The member's type is the prototype cuda.h declares for it.
#define XINHE_CUDA_SYMBOLS(X)                                  \
  X(cuInit, "cuInit")                                          \
  X(cuDriverGetVersion, "cuDriverGetVersion")                  \
  X(cuGetErrorName, "cuGetErrorName")                          \
  X(cuGetErrorString, "cuGetErrorString")                      \
  X(cuDeviceGetCount, "cuDeviceGetCount")                      \
  X(cuDeviceGet, "cuDeviceGet")                                \
  X(cuDeviceGetName, "cuDeviceGetName")                        \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute")              \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2")                   \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")      \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2") \
  X(cuCtxGetCurrent, "cuCtxGetCurrent")                        \
  X(cuCtxSetCurrent, "cuCtxSetCurrent")                        \
  X(cuMemGetInfo, "cuMemGetInfo_v2")                           \
  X(cuMemAlloc, "cuMemAlloc_v2")                               \
  X(cuMemFree, "cuMemFree_v2")                                 \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")                 \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")                 \
  X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")                 \
  X(cuMemsetD8Async, "cuMemsetD8Async")                        \
  X(cuMemsetD16Async, "cuMemsetD16Async")                      \
  X(cuMemsetD32Async, "cuMemsetD32Async")                      \
  X(cuStreamCreate, "cuStreamCreate")                          \
  X(cuStreamDestroy, "cuStreamDestroy_v2")                     \
  X(cuStreamSynchronize, "cuStreamSynchronize")                \
  X(cuStreamQuery, "cuStreamQuery")                            \
  X(cuStreamWaitEvent, "cuStreamWaitEvent")                    \
  X(cuEventCreate, "cuEventCreate")                            \
  X(cuEventDestroy, "cuEventDestroy_v2")                       \
  X(cuEventRecord, "cuEventRecord")                            \
  X(cuEventSynchronize, "cuEventSynchronize")                  \
  X(cuEventQuery, "cuEventQuery")                              \
  X(cuEventElapsedTime, "cuEventElapsedTime")                  \
  X(cuModuleLoadData, "cuModuleLoadData")                      \
  X(cuModuleUnload, "cuModuleUnload")                          \
  X(cuModuleGetFunction, "cuModuleGetFunction")                \
  X(cuFuncSetAttribute, "cuFuncSetAttribute")                  \
  X(cuLaunchKernel, "cuLaunchKernel")

// Errors after which the context is unusable: the device is lost for this process. Besides the
// kernel faults, the ones cuda.h documents as leaving "the process in an inconsistent state"
// (any further CUDA work returns the same error): contained errors (Hopper error containment),
// a tensor memory leak (sm_100), an external device's error, and an uncorrectable NVLink error.
// Sticky errors newer toolkits name (CUDA_ERROR_CONTAINED 226, CUDA_ERROR_TENSOR_MEMORY_LEAK
// 721, CUDA_ERROR_EXTERNAL_DEVICE 911, CUDA_ERROR_NVLINK_UNCORRECTABLE 220), by value, so that
// the plugin still builds against an older cuda.h; a driver of any version returns the value.
inline constexpr int kCudaErrorNvlinkUncorrectable = 220;
inline constexpr int kCudaErrorContained = 226;
inline constexpr int kCudaErrorTensorMemoryLeak = 721;
inline constexpr int kCudaErrorExternalDevice = 911;

inline bool result_poisons_context(CUresult r) {
  switch (static_cast<int>(r)) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
    case CUDA_ERROR_DEVICE_UNAVAILABLE:
    case kCudaErrorContained:
    case kCudaErrorTensorMemoryLeak:
    case kCudaErrorExternalDevice:
    case kCudaErrorNvlinkUncorrectable:
      return true;
    default:
      return false;
  }
}

inline xinhe_status_code_t code_from_result(CUresult r) {
  if (result_poisons_context(r)) return XINHE_STATUS_DEVICE_LOST;
  switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY:
      return XINHE_STATUS_OUT_OF_MEMORY;
    case CUDA_ERROR_NO_DEVICE:
    case CUDA_ERROR_NOT_INITIALIZED:
    case CUDA_ERROR_DEINITIALIZED:
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
    case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_OPERATING_SYSTEM:
      return XINHE_STATUS_UNAVAILABLE;
    case CUDA_ERROR_NOT_SUPPORTED:
      return XINHE_STATUS_UNIMPLEMENTED;
    default:  // arguments were validated by the core, so anything else is unexpected
      return XINHE_STATUS_INTERNAL;
  }
}

class Driver {
 public:
  Driver() = default;
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;
  ~Driver() {
    if (library_ != nullptr) dlclose(library_);
  }

  // Opens libcuda.so.1, resolves every symbol and calls cuInit(0).
  xinhe_status_t load(const xinhe_host_api_t* host) {
    host_ = host;
    library_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library_ == nullptr) {
      return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "dlopen",
                            "libcuda.so.1 not found (no NVIDIA driver)");
    }
#define XINHE_CUDA_RESOLVE(member, symbol)                                   \
  member = reinterpret_cast<decltype(member)>(dlsym(library_, symbol));      \
  if (member == nullptr) {                                                   \
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "dlsym",          \
                          "libcuda.so.1 lacks " symbol " (driver too old)"); \
  }
    XINHE_CUDA_SYMBOLS(XINHE_CUDA_RESOLVE)
#undef XINHE_CUDA_RESOLVE
    // Optional (CUDA 12+ drivers): without it the TMA-based Hopper GEMM is not offered.
    cuTensorMapEncodeTiled = reinterpret_cast<decltype(cuTensorMapEncodeTiled)>(
        dlsym(library_, "cuTensorMapEncodeTiled"));
    const CUresult r = cuInit(0);
    if (r != CUDA_SUCCESS) {
      // cuInit's usual failures (no device, driver/library mismatch) mean "not usable here".
      const std::string message =
          (r == CUDA_ERROR_NO_DEVICE ? "no NVIDIA GPU found (" : "NVIDIA driver not usable (") +
          describe(r) + ")";
      return xinhe::backend::make_status(
          host,
          r == CUDA_ERROR_OUT_OF_MEMORY ? XINHE_STATUS_OUT_OF_MEMORY : XINHE_STATUS_UNAVAILABLE,
          kBackendName, "cuInit", __FILE__, __LINE__, "%s", message.c_str());
    }
    return nullptr;
  }

  static Result check(CUresult r, const char* call, const char* detail = nullptr) {
    return Result{static_cast<int>(r), call, detail};
  }

  // The one conversion of a vendor failure into a xinhe status naming the failing call.
  xinhe_status_t to_status(const Result& r, const char* file, int line) const {
    if (!r) return nullptr;
    std::string message = describe(static_cast<CUresult>(r.code));
    if (r.detail != nullptr) message += std::string(" (") + r.detail + ")";
    return host_->status_new(code_from_result(static_cast<CUresult>(r.code)), kBackendName, r.call,
                             file, line, message.c_str());
  }
  // "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY: out of memory", for reasons and logs.
  std::string describe(const Result& r) const {
    return std::string(r.call) + ": " + describe(static_cast<CUresult>(r.code));
  }

  std::string describe(CUresult r) const {
    const char* name = nullptr;
    const char* text = nullptr;
    if (cuGetErrorName == nullptr || cuGetErrorName(r, &name) != CUDA_SUCCESS) name = nullptr;
    if (cuGetErrorString == nullptr || cuGetErrorString(r, &text) != CUDA_SUCCESS) text = nullptr;
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "CUresult %d", static_cast<int>(r));
    std::string out = name != nullptr ? name : buffer;
    if (text != nullptr && out != text) out += std::string(": ") + text;
    return out;
  }

  // ---- Vendor-neutral calls used by the shared GPU code ----
  // A device's execution context; for CUDA the device's primary context.
  struct Context {
    CUdevice device = 0;
    CUcontext context = nullptr;
    bool valid() const { return context != nullptr; }
  };

  Result driver_version(std::string* out) const {
    int version = 0;
    if (Result s = check(cuDriverGetVersion(&version), "cuDriverGetVersion")) return s;
    *out = "CUDA " + std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
    return Result{};
  }
  Result device_count(int* out) const { return check(cuDeviceGetCount(out), "cuDeviceGetCount"); }
  Result context_open(int ordinal, Context* out) const {
    Context c;
    if (Result s = check(cuDeviceGet(&c.device, ordinal), "cuDeviceGet")) return s;
    if (Result s =
            check(cuDevicePrimaryCtxRetain(&c.context, c.device), "cuDevicePrimaryCtxRetain"))
      return s;
    *out = c;
    return Result{};
  }
  void context_close(const Context& c) const {
    if (c.context != nullptr) cuDevicePrimaryCtxRelease(c.device);
  }
  // Every entry that touches the device makes its context current on the calling thread
  // (context_enter) and gives the caller's back when it returns (context_leave): CUDA runtime
  // calls of the host application operate on the thread's current context, so xinhe must not
  // leave its own there. Only the top of the thread's context stack is swapped, as
  // cuCtxSetCurrent does; nothing is pushed.
  struct SavedContext {
    CUcontext previous = nullptr;
    bool switched = false;
  };
  Result context_enter(const Context& c, SavedContext* saved) const {
    if (Result s = check(cuCtxGetCurrent(&saved->previous), "cuCtxGetCurrent")) return s;
    saved->switched = saved->previous != c.context;
    if (!saved->switched) return Result{};
    return check(cuCtxSetCurrent(c.context), "cuCtxSetCurrent");
  }
  void context_leave(const SavedContext& saved) const {
    if (saved.switched) cuCtxSetCurrent(saved.previous);  // NULL: the thread had none
  }

  struct DeviceInfo {
    std::string name;
    std::string arch;  // "sm_90"
    uint64_t total_memory = 0;
    int compute_units = 0;
    int clock_khz = 0;
    int memory_clock_khz = 0;
    int memory_bus_bits = 0;
    int cc_major = 0, cc_minor = 0;
    xinhe::kernels::gpu::DeviceCapabilities caps;  // what the kernel families may use
  };
  Result device_info(const Context& c, DeviceInfo* out) const {
    char name[256] = {};
    if (Result s = check(cuDeviceGetName(name, sizeof name - 1, c.device), "cuDeviceGetName"))
      return s;
    out->name = name;
    size_t total = 0;
    if (Result s = check(cuDeviceTotalMem(&total, c.device), "cuDeviceTotalMem")) return s;
    out->total_memory = total;
    struct {
      CUdevice_attribute attribute;
      int* value;
    } const queries[] = {
        {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &out->compute_units},
        {CU_DEVICE_ATTRIBUTE_CLOCK_RATE, &out->clock_khz},
        {CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, &out->memory_clock_khz},
        {CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, &out->memory_bus_bits},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &out->cc_major},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &out->cc_minor},
        {CU_DEVICE_ATTRIBUTE_WARP_SIZE, &out->caps.wave_size},
    };
    for (const auto& q : queries) {
      // Some attributes (clocks) are not reported by every driver; 0 means unknown.
      if (cuDeviceGetAttribute(q.value, q.attribute, c.device) != CUDA_SUCCESS) *q.value = 0;
    }
    out->arch = "sm_" + std::to_string(out->cc_major) + std::to_string(out->cc_minor);
    out->caps.arch = out->arch;
    out->caps.compute_units = out->compute_units;
    out->caps.mma_sync = out->cc_major >= 8;
    // The sm_90a image runs on compute capability 9.0 only; newer GPUs JIT the compute_90 PTX,
    // which has no wgmma.
    out->caps.wgmma = out->cc_major == 9 && out->cc_minor == 0;
    out->caps.tma = has_tensor_maps();
    out->caps.mfma = false;
    if (out->caps.wave_size == 0) out->caps.wave_size = 32;
    return Result{};
  }
  Result memory_info(uint64_t* free_bytes) const {
    size_t free_b = 0, total_b = 0;
    if (Result s = check(cuMemGetInfo(&free_b, &total_b), "cuMemGetInfo")) return s;
    *free_bytes = free_b;
    return Result{};
  }

  Result mem_alloc(uint64_t size, DevicePtr* out) const {
    return check(cuMemAlloc(out, size), "cuMemAlloc");
  }
  void mem_free(DevicePtr p) const { cuMemFree(p); }
  static DevicePtr ptr_add(DevicePtr p, uint64_t offset) { return p + offset; }
  static uint64_t ptr_bits(DevicePtr p) { return static_cast<uint64_t>(p); }

  Result copy_h2d(DevicePtr dst, const void* src, uint64_t size, Stream s) const {
    return check(cuMemcpyHtoDAsync(dst, src, size, s), "cuMemcpyHtoDAsync");
  }
  Result copy_d2h(void* dst, DevicePtr src, uint64_t size, Stream s) const {
    return check(cuMemcpyDtoHAsync(dst, src, size, s), "cuMemcpyDtoHAsync");
  }
  Result copy_d2d(DevicePtr dst, DevicePtr src, uint64_t size, Stream s) const {
    return check(cuMemcpyDtoDAsync(dst, src, size, s), "cuMemcpyDtoDAsync");
  }
  Result fill8(DevicePtr dst, uint8_t value, uint64_t count, Stream s) const {
    return check(cuMemsetD8Async(dst, value, count, s), "cuMemsetD8Async");
  }
  Result fill16(DevicePtr dst, uint16_t value, uint64_t count, Stream s) const {
    return check(cuMemsetD16Async(dst, value, count, s), "cuMemsetD16Async");
  }
  Result fill32(DevicePtr dst, uint32_t value, uint64_t count, Stream s) const {
    return check(cuMemsetD32Async(dst, value, count, s), "cuMemsetD32Async");
  }

  Result stream_create(Stream* out) const {
    // Non-blocking: no implicit ordering with the legacy default stream of other libraries.
    return check(cuStreamCreate(out, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  }
  void stream_destroy(Stream s) const { cuStreamDestroy(s); }
  Result stream_synchronize(Stream s) const {
    return check(cuStreamSynchronize(s), "cuStreamSynchronize");
  }
  Result stream_query(Stream s, int* done) const {
    const CUresult r = cuStreamQuery(s);
    if (r == CUDA_ERROR_NOT_READY) {
      *done = 0;
      return Result{};
    }
    *done = 1;
    return check(r, "cuStreamQuery");
  }
  Result stream_wait_event(Stream s, Event e) const {
    return check(cuStreamWaitEvent(s, e, 0), "cuStreamWaitEvent");
  }

  Result event_create(Event* out) const {
    return check(cuEventCreate(out, CU_EVENT_DEFAULT), "cuEventCreate");
  }
  void event_destroy(Event e) const { cuEventDestroy(e); }
  Result event_record(Event e, Stream s) const {
    return check(cuEventRecord(e, s), "cuEventRecord");
  }
  Result event_synchronize(Event e) const {
    return check(cuEventSynchronize(e), "cuEventSynchronize");
  }
  Result event_query(Event e, int* done) const {
    const CUresult r = cuEventQuery(e);
    if (r == CUDA_ERROR_NOT_READY) {
      *done = 0;
      return Result{};
    }
    *done = 1;
    return check(r, "cuEventQuery");
  }
  Result event_elapsed_ms(Event start, Event end, float* out) const {
    return check(cuEventElapsedTime(out, start, end), "cuEventElapsedTime");
  }

  Result module_load(const void* image, Module* out) const {
    return check(cuModuleLoadData(out, image), "cuModuleLoadData");
  }
  void module_unload(Module m) const { cuModuleUnload(m); }
  // NOT_FOUND-style misses are reported as a null function, not an error: the image may
  // legitimately lack a kernel family (the HIP build has no tensor-core kernels).
  Function module_function(Module m, const char* name) const {
    CUfunction f = nullptr;
    if (cuModuleGetFunction(&f, m, name) != CUDA_SUCCESS) return nullptr;
    return f;
  }
  Result function_set_dynamic_smem(Function f, int bytes) const {
    return check(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                 "cuFuncSetAttribute");
  }
  // TMA tensor maps, of the one kind the wgmma GEMM uses: 3-D, 2-byte elements, loaded in boxes
  // into 128-byte-swizzled shared memory, zeros outside the tensor.
  bool has_tensor_maps() const { return cuTensorMapEncodeTiled != nullptr; }
  Result tensor_map_encode(void* map, bool bf16, const void* base, const uint64_t dims[3],
                           const uint64_t strides[2], const uint32_t box[3]) const {
    if (cuTensorMapEncodeTiled == nullptr) {
      return check(CUDA_ERROR_NOT_SUPPORTED, "cuTensorMapEncodeTiled", "driver older than CUDA 12");
    }
    const cuuint64_t global_dims[3] = {dims[0], dims[1], dims[2]};
    const cuuint64_t global_strides[2] = {strides[0], strides[1]};
    const cuuint32_t box_dims[3] = {box[0], box[1], box[2]};
    const cuuint32_t element_strides[3] = {1, 1, 1};
    return check(cuTensorMapEncodeTiled(
                     static_cast<CUtensorMap*>(map),
                     bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
                     const_cast<void*>(base), global_dims, global_strides, box_dims,
                     element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                     CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                 "cuTensorMapEncodeTiled");
  }

  Result launch(Function f, const uint32_t grid[3], const uint32_t block[3], uint32_t smem_bytes,
                Stream s, void** params, const char* kernel) const {
    const CUresult r = cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                      smem_bytes, s, params, nullptr);
    return check(r, "cuLaunchKernel", kernel);
  }

 private:
  const xinhe_host_api_t* host_ = nullptr;
  void* library_ = nullptr;

#define XINHE_CUDA_MEMBER(member, symbol) decltype(&::member) member = nullptr;
  XINHE_CUDA_SYMBOLS(XINHE_CUDA_MEMBER)
#undef XINHE_CUDA_MEMBER
  decltype(&::cuTensorMapEncodeTiled) cuTensorMapEncodeTiled = nullptr;  // optional
};

// Dense FLOPs per clock per SM (FMA = 2), from NVIDIA's architecture whitepapers, for the
// peak_flops property: f32 on CUDA cores, f16/bf16 on tensor cores with f32 accumulation
// (dense, data-centre rate where GeForce parts differ). Only the compute capabilities listed
// have rates: any other (a newer architecture, sm_103, sm_110, sm_120, ...) gets zeros, which
// the property reports as unknown, rather than a guess from an older entry.
// peak = SMs x clock x rate.
struct ArchRates {
  int cc;  // major * 10 + minor
  double f32, f16, bf16, f64;
};
inline ArchRates arch_rates(int cc_major, int cc_minor) {
  static const ArchRates kTable[] = {
      {70, 128, 1024, 0, 64},       // V100
      {75, 128, 1024, 0, 4},        // T4
      {80, 128, 2048, 2048, 64},    // A100
      {86, 256, 1024, 1024, 4},     // GA10x
      {89, 256, 1024, 1024, 4},     // AD10x
      {90, 256, 4096, 4096, 128},   // H100 / H200
      {100, 256, 8192, 8192, 128},  // B200
  };
  const int cc = cc_major * 10 + cc_minor;
  for (const ArchRates& r : kTable) {
    if (r.cc == cc) return r;
  }
  return ArchRates{cc, 0, 0, 0, 0};
}

}  // namespace xinhe::gpu
