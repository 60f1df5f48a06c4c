// The HIP vendor layer of the shared GPU plugin (backends/gpu/): the HIP runtime (libamdhip64)
// loaded at run time through an X-macro symbol table, hipError_t -> xinhe status conversion in
// one place, the same vendor-neutral wrappers as backends/cuda/cuda_driver.h, and what each
// device offers the kernel families (DeviceInfo::caps: MFMA, wavefront size).
//
// Declarations come from hip_minimal.h (our own, C ABI only) instead of the HIP headers: the
// plugin's host code then builds with any C++ compiler and no ROCm install, and the C++
// overloads in hip_runtime_api.h (hipMalloc<T>) cannot make decltype ambiguous.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "gpu_family.h"
#include "gpu_result.h"
#include "hip_minimal.h"
#include "xinhe/backend.hpp"

namespace xinhe::gpu {

inline constexpr const char* kBackendName = "hip";
inline constexpr const char* kVendorName = "AMD";

using DevicePtr = hipDeviceptr_t;
using Stream = hipStream_t;
using Event = hipEvent_t;
using Module = hipModule_t;
using Function = hipFunction_t;

#define XINHE_HIP_SYMBOLS(X)  \
  X(hipInit)                  \
  X(hipDriverGetVersion)      \
  X(hipGetErrorName)          \
  X(hipGetErrorString)        \
  X(hipGetDeviceCount)        \
  X(hipDeviceGet)             \
  X(hipDeviceGetName)         \
  X(hipDeviceGetAttribute)    \
  X(hipDeviceTotalMem)        \
  X(hipGetDevice)             \
  X(hipSetDevice)             \
  X(hipMemGetInfo)            \
  X(hipMalloc)                \
  X(hipFree)                  \
  X(hipMemcpyHtoDAsync)       \
  X(hipMemcpyDtoHAsync)       \
  X(hipMemcpyDtoDAsync)       \
  X(hipMemsetD8Async)         \
  X(hipMemsetD16Async)        \
  X(hipMemsetD32Async)        \
  X(hipStreamCreateWithFlags) \
  X(hipStreamDestroy)         \
  X(hipStreamSynchronize)     \
  X(hipStreamQuery)           \
  X(hipStreamWaitEvent)       \
  X(hipEventCreateWithFlags)  \
  X(hipEventDestroy)          \
  X(hipEventRecord)           \
  X(hipEventSynchronize)      \
  X(hipEventQuery)            \
  X(hipEventElapsedTime)      \
  X(hipModuleLoadData)        \
  X(hipModuleUnload)          \
  X(hipModuleGetFunction)     \
  X(hipModuleLaunchKernel)

// Errors after which the device cannot be trusted for this process.
inline bool result_poisons_context(hipError_t r) {
  switch (r) {
    case hipErrorIllegalAddress:
    case hipErrorLaunchFailure:
    case hipErrorLaunchTimeOut:
    case hipErrorAssert:
    case hipErrorECCNotCorrectable:
    case hipErrorContextIsDestroyed:
      return true;
    default:
      return false;
  }
}

inline xinhe_status_code_t code_from_result(hipError_t r) {
  if (result_poisons_context(r)) return XINHE_STATUS_DEVICE_LOST;
  switch (r) {
    case hipErrorOutOfMemory:
      return XINHE_STATUS_OUT_OF_MEMORY;
    case hipErrorNoDevice:
    case hipErrorNotInitialized:
    case hipErrorDeinitialized:
    case hipErrorInsufficientDriver:
    case hipErrorNoBinaryForGpu:
    case hipErrorInvalidImage:
    case hipErrorInvalidKernelFile:
    case hipErrorSharedObjectInitFailed:
      return XINHE_STATUS_UNAVAILABLE;
    case hipErrorNotSupported:
      return XINHE_STATUS_UNIMPLEMENTED;
    default:
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

  // Opens the HIP runtime (ROCm 6, 5, or the unversioned development name), resolves every
  // symbol and calls hipInit(0).
  xinhe_status_t load(const xinhe_host_api_t* host) {
    host_ = host;
    for (const char* name : {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"}) {
      library_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (library_ != nullptr) break;
    }
    if (library_ == nullptr) {
      return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "dlopen",
                            "libamdhip64.so not found (no ROCm HIP runtime)");
    }
#define XINHE_HIP_RESOLVE(symbol)                                             \
  symbol = reinterpret_cast<decltype(symbol)>(dlsym(library_, #symbol));      \
  if (symbol == nullptr) {                                                    \
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "dlsym",           \
                          "libamdhip64 lacks " #symbol " (runtime too old)"); \
  }
    XINHE_HIP_SYMBOLS(XINHE_HIP_RESOLVE)
#undef XINHE_HIP_RESOLVE
    const hipError_t r = hipInit(0);
    if (r != hipSuccess) {
      // Without a GPU (no /dev/kfd) ROCm 5 reports hipErrorInvalidDevice, ROCm 6 hipErrorNoDevice.
      const bool no_gpu = r == hipErrorNoDevice || r == hipErrorInvalidDevice;
      const std::string message =
          (no_gpu ? "no AMD GPU found (" : "HIP runtime not usable (") + describe(r) + ")";
      return xinhe::backend::make_status(
          host, r == hipErrorOutOfMemory ? XINHE_STATUS_OUT_OF_MEMORY : XINHE_STATUS_UNAVAILABLE,
          kBackendName, "hipInit", __FILE__, __LINE__, "%s", message.c_str());
    }
    return nullptr;
  }

  static Result check(hipError_t r, const char* call, const char* detail = nullptr) {
    return Result{static_cast<int>(r), call, detail};
  }

  // The one conversion of a vendor failure into a xinhe status naming the failing call.
  xinhe_status_t to_status(const Result& r, const char* file, int line) const {
    if (!r) return nullptr;
    std::string message = describe(static_cast<hipError_t>(r.code));
    if (r.detail != nullptr) message += std::string(" (") + r.detail + ")";
    return host_->status_new(code_from_result(static_cast<hipError_t>(r.code)), kBackendName,
                             r.call, file, line, message.c_str());
  }
  // "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY: out of memory", for reasons and logs.
  std::string describe(const Result& r) const {
    return std::string(r.call) + ": " + describe(static_cast<hipError_t>(r.code));
  }

  std::string describe(hipError_t r) const {
    const char* name = hipGetErrorName != nullptr ? hipGetErrorName(r) : nullptr;
    const char* text = hipGetErrorString != nullptr ? hipGetErrorString(r) : nullptr;
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "hipError_t %d", static_cast<int>(r));
    std::string out = name != nullptr ? name : buffer;
    if (text != nullptr && out != text) out += std::string(": ") + text;
    return out;
  }

  // ---- Vendor-neutral calls used by the shared GPU code ----
  // HIP has no user-visible context here: "current" is the runtime's current device.
  struct Context {
    int ordinal = -1;
    bool valid() const { return ordinal >= 0; }
  };

  Result driver_version(std::string* out) const {
    int version = 0;
    if (Result s = check(hipDriverGetVersion(&version), "hipDriverGetVersion")) return s;
    *out = "HIP driver " + std::to_string(version);
    return Result{};
  }
  Result device_count(int* out) const { return check(hipGetDeviceCount(out), "hipGetDeviceCount"); }
  Result context_open(int ordinal, Context* out) const {
    hipDevice_t device = 0;
    if (Result s = check(hipDeviceGet(&device, ordinal), "hipDeviceGet")) return s;
    out->ordinal = device;
    return Result{};
  }
  void context_close(const Context&) const {}
  // Every entry makes its device current on the calling thread (context_enter) and gives the
  // caller's back when it returns (context_leave): the host application's HIP calls use the
  // thread's current device, so xinhe must not leave its own there.
  struct SavedContext {
    int previous = 0;
    bool switched = false;
  };
  Result context_enter(const Context& c, SavedContext* saved) const {
    if (Result s = check(hipGetDevice(&saved->previous), "hipGetDevice")) return s;
    saved->switched = saved->previous != c.ordinal;
    if (!saved->switched) return Result{};
    return check(hipSetDevice(c.ordinal), "hipSetDevice");
  }
  void context_leave(const SavedContext& saved) const {
    if (saved.switched) hipSetDevice(saved.previous);
  }

  struct DeviceInfo {
    std::string name;
    std::string arch;
    uint64_t total_memory = 0;
    int compute_units = 0;
    int clock_khz = 0;
    int memory_clock_khz = 0;
    int memory_bus_bits = 0;
    int cc_major = 0, cc_minor = 0;
    xinhe::kernels::gpu::DeviceCapabilities caps;  // what the kernel families may use
  };
  // Whether a device has the matrix cores of the MFMA GEMM: gfx90a (CDNA2) or gfx94x (CDNA3; its
  // ops report unloadable kernels while the bundle has no code for it). Drivers that cannot read
  // the gfx name report the gfx IP version instead: 9.0 for gfx90a, and also for gfx906 and
  // gfx908, which the default bundle (XINHE_HIP_ARCHS) has no code for, so nothing loads there;
  // a bundle that adds them needs the gfx name here (their mfma entry points trap).
  static bool has_mfma(const std::string& arch) {
    return arch.rfind("gfx90a", 0) == 0 || arch.rfind("gfx94", 0) == 0 || arch == "gfx ip 9.0" ||
           arch == "gfx ip 9.4";
  }
  Result device_info(const Context& c, DeviceInfo* out) const {
    char name[256] = {};
    if (Result s = check(hipDeviceGetName(name, sizeof name - 1, c.ordinal), "hipDeviceGetName"))
      return s;
    out->name = name;
    size_t total = 0;
    if (Result s = check(hipDeviceTotalMem(&total, c.ordinal), "hipDeviceTotalMem")) return s;
    out->total_memory = total;
    struct {
      hipDeviceAttribute_t attribute;
      int* value;
    } const queries[] = {
        {hipDeviceAttributeMultiprocessorCount, &out->compute_units},
        {hipDeviceAttributeClockRate, &out->clock_khz},
        {hipDeviceAttributeMemoryClockRate, &out->memory_clock_khz},
        {hipDeviceAttributeMemoryBusWidth, &out->memory_bus_bits},
        {hipDeviceAttributeComputeCapabilityMajor, &out->cc_major},
        {hipDeviceAttributeComputeCapabilityMinor, &out->cc_minor},
    };
    for (const auto& q : queries) {
      if (hipDeviceGetAttribute(q.value, q.attribute, c.ordinal) != hipSuccess) *q.value = 0;
    }
    // HIP's "compute capability" is the gfx IP version (9.0 for gfx90a); the exact gfx name
    // needs hipDeviceProp_t, whose layout changed in ROCm 6, so it is not queried.
    out->arch = "gfx ip " + std::to_string(out->cc_major) + "." + std::to_string(out->cc_minor);
    out->caps.arch = out->arch;
    out->caps.compute_units = out->compute_units;
    out->caps.mfma = has_mfma(out->arch);
    // GCN/CDNA (gfx9) run 64-lane wavefronts; RDNA (gfx10 and newer) runs HIP kernels in wave32.
    out->caps.wave_size = out->cc_major == 9 ? 64 : 32;
    // hipModuleLaunchKernel: "HIP does not support kernel launch with total work items defined
    // in dimension with size gridDim x blockDim >= 2^32".
    out->caps.max_threads_per_dimension = 0xffffffffull;
    return Result{};
  }
  Result memory_info(uint64_t* free_bytes) const {
    size_t free_b = 0, total_b = 0;
    if (Result s = check(hipMemGetInfo(&free_b, &total_b), "hipMemGetInfo")) return s;
    *free_bytes = free_b;
    return Result{};
  }

  Result mem_alloc(uint64_t size, DevicePtr* out) const {
    return check(hipMalloc(out, size), "hipMalloc");
  }
  void mem_free(DevicePtr p) const { hipFree(p); }
  static DevicePtr ptr_add(DevicePtr p, uint64_t offset) { return static_cast<char*>(p) + offset; }
  static uint64_t ptr_bits(DevicePtr p) { return reinterpret_cast<uintptr_t>(p); }

  Result copy_h2d(DevicePtr dst, const void* src, uint64_t size, Stream s) const {
    // hipMemcpyHtoDAsync takes a non-const source but only reads it.
    return check(hipMemcpyHtoDAsync(dst, const_cast<void*>(src), size, s), "hipMemcpyHtoDAsync");
  }
  Result copy_d2h(void* dst, DevicePtr src, uint64_t size, Stream s) const {
    return check(hipMemcpyDtoHAsync(dst, src, size, s), "hipMemcpyDtoHAsync");
  }
  Result copy_d2d(DevicePtr dst, DevicePtr src, uint64_t size, Stream s) const {
    return check(hipMemcpyDtoDAsync(dst, src, size, s), "hipMemcpyDtoDAsync");
  }
  Result fill8(DevicePtr dst, uint8_t value, uint64_t count, Stream s) const {
    return check(hipMemsetD8Async(dst, value, count, s), "hipMemsetD8Async");
  }
  Result fill16(DevicePtr dst, uint16_t value, uint64_t count, Stream s) const {
    return check(hipMemsetD16Async(dst, value, count, s), "hipMemsetD16Async");
  }
  Result fill32(DevicePtr dst, uint32_t value, uint64_t count, Stream s) const {
    return check(hipMemsetD32Async(dst, static_cast<int>(value), count, s), "hipMemsetD32Async");
  }

  Result stream_create(Stream* out) const {
    return check(hipStreamCreateWithFlags(out, xinhe_hipStreamNonBlocking),
                 "hipStreamCreateWithFlags");
  }
  void stream_destroy(Stream s) const { hipStreamDestroy(s); }
  Result stream_synchronize(Stream s) const {
    return check(hipStreamSynchronize(s), "hipStreamSynchronize");
  }
  Result stream_query(Stream s, int* done) const {
    const hipError_t r = hipStreamQuery(s);
    if (r == hipErrorNotReady) {
      *done = 0;
      return Result{};
    }
    *done = 1;
    return check(r, "hipStreamQuery");
  }
  Result stream_wait_event(Stream s, Event e) const {
    return check(hipStreamWaitEvent(s, e, 0), "hipStreamWaitEvent");
  }

  Result event_create(Event* out) const {
    return check(hipEventCreateWithFlags(out, xinhe_hipEventDefault), "hipEventCreateWithFlags");
  }
  void event_destroy(Event e) const { hipEventDestroy(e); }
  Result event_record(Event e, Stream s) const {
    return check(hipEventRecord(e, s), "hipEventRecord");
  }
  Result event_synchronize(Event e) const {
    return check(hipEventSynchronize(e), "hipEventSynchronize");
  }
  Result event_query(Event e, int* done) const {
    const hipError_t r = hipEventQuery(e);
    if (r == hipErrorNotReady) {
      *done = 0;
      return Result{};
    }
    *done = 1;
    return check(r, "hipEventQuery");
  }
  Result event_elapsed_ms(Event start, Event end, float* out) const {
    return check(hipEventElapsedTime(out, start, end), "hipEventElapsedTime");
  }

  Result module_load(const void* image, Module* out) const {
    return check(hipModuleLoadData(out, image), "hipModuleLoadData");
  }
  void module_unload(Module m) const { hipModuleUnload(m); }
  Function module_function(Module m, const char* name) const {
    hipFunction_t f = nullptr;
    if (hipModuleGetFunction(&f, m, name) != hipSuccess) return nullptr;
    return f;
  }
  // AMD GPUs give every block the full LDS (64 KiB) without an opt-in, and the only kernels
  // that use more than 48 KiB (tensorop) are CUDA-only.
  Result function_set_dynamic_smem(Function, int) const { return Result{}; }
  // HIP has no TMA: the families that need tensor maps are never eligible here.
  bool has_tensor_maps() const { return false; }
  Result tensor_map_encode(void*, bool, const void*, const uint64_t[3], const uint64_t[2],
                           const uint32_t[3]) const {
    return check(hipErrorNotSupported, "tensor_map_encode", "HIP has no TMA");
  }
  Result launch(Function f, const uint32_t grid[3], const uint32_t block[3], uint32_t smem_bytes,
                Stream s, void** params, const char* kernel) const {
    const hipError_t r = hipModuleLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1],
                                               block[2], smem_bytes, s, params, nullptr);
    return check(r, "hipModuleLaunchKernel", kernel);
  }

 private:
  const xinhe_host_api_t* host_ = nullptr;
  void* library_ = nullptr;

#define XINHE_HIP_MEMBER(symbol) decltype(&::symbol) symbol = nullptr;
  XINHE_HIP_SYMBOLS(XINHE_HIP_MEMBER)
#undef XINHE_HIP_MEMBER
};

// Peak rates are only known per CU for the vector f32 path (64 lanes x FMA = 128 FLOPs/clock,
// unpacked); the matrix-core rates depend on the exact gfx part, which is not queried.
struct ArchRates {
  int cc;
  double f32, f16, bf16, f64;
};
inline ArchRates arch_rates(int, int) { return ArchRates{0, 128, 0, 0, 0}; }

}  // namespace xinhe::gpu
