// A host stand-in for a GPU vendor layer, with the shape of backends/cuda/cuda_driver.h and
// backends/hip/hip_driver.h, so that the shared GPU backend (backends/gpu/) builds as a test
// plugin ("fakegpu") and its dispatch runs in CI without a GPU: capabilities, implementation
// lists, kernel binding, launch geometry and the per-run kernel swaps. Device memory is host
// memory and every call completes at once; launches run nothing; they are appended to a file so
// that tests can see which kernel ran with which geometry.
//
// Set before the plugin loads (the device is described once):
//   XINHE_FAKEGPU_CAPS         comma list of mma_sync, wgmma, tma, mfma (default: none)
// Read on every call:
//   XINHE_FAKEGPU_MISSING      comma list of kernel names the "image" lacks
//   XINHE_FAKEGPU_REFUSE_TMA   1: tensor maps are refused as a driver could
//   XINHE_FAKEGPU_LAUNCH_LOG   file to append "<kernel> grid=x,y,z block=x,y,z smem=n" lines to
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "gemm_wgmma_host.h"
#include "gpu_family.h"
#include "gpu_result.h"
#include "xinhe/backend.h"

namespace xinhe::gpu {

inline constexpr const char* kBackendName = "fakegpu";
inline constexpr const char* kVendorName = "xinhe tests";

using DevicePtr = uint64_t;
using Stream = void*;
using Event = std::chrono::steady_clock::time_point*;
using Module = const void*;
using Function = const char*;  // the kernel's name (interned per module lookup)

enum FakeResult { kFakeSuccess = 0, kFakeOutOfMemory = 2, kFakeNotSupported = 801 };

inline bool fake_list_has(const char* variable, const std::string& item) {
  const char* list = std::getenv(variable);
  if (list == nullptr) return false;
  const std::string text = std::string(",") + list + ",";
  return text.find("," + item + ",") != std::string::npos;
}

class Driver {
 public:
  xinhe_status_t load(const xinhe_host_api_t* host) {
    host_ = host;
    return nullptr;
  }
  static Result check(int r, const char* call, const char* detail = nullptr) {
    return Result{r, call, detail};
  }
  xinhe_status_t to_status(const Result& r, const char* file, int line) const {
    if (!r) return nullptr;
    const std::string message = describe(r);
    return host_->status_new(
        r.code == kFakeOutOfMemory ? XINHE_STATUS_OUT_OF_MEMORY : XINHE_STATUS_INTERNAL,
        kBackendName, r.call, file, line, message.c_str());
  }
  std::string describe(const Result& r) const {
    return std::string(r.call) + ": fake error " + std::to_string(r.code) +
           (r.detail != nullptr ? std::string(" (") + r.detail + ")" : "");
  }

  struct Context {
    int ordinal = -1;
    bool valid() const { return ordinal >= 0; }
  };
  Result driver_version(std::string* out) const {
    *out = "fake GPU driver";
    return Result{};
  }
  Result device_count(int* out) const {
    *out = 1;
    return Result{};
  }
  Result context_open(int ordinal, Context* out) const {
    out->ordinal = ordinal;
    return Result{};
  }
  void context_close(const Context&) const {}
  Result context_make_current(const Context&) const { return Result{}; }

  struct DeviceInfo {
    std::string name;
    std::string arch;
    uint64_t total_memory = 0;
    int compute_units = 0;
    int clock_khz = 0;
    int memory_clock_khz = 0;
    int memory_bus_bits = 0;
    int cc_major = 0, cc_minor = 0;
    xinhe::kernels::gpu::DeviceCapabilities caps;
  };
  Result device_info(const Context&, DeviceInfo* out) const {
    out->name = "fake GPU";
    out->arch = "fake arch";
    out->total_memory = 1ull << 30;
    out->compute_units = 4;
    out->caps.arch = out->arch;
    out->caps.compute_units = out->compute_units;
    out->caps.mma_sync = fake_list_has("XINHE_FAKEGPU_CAPS", "mma_sync");
    out->caps.wgmma = fake_list_has("XINHE_FAKEGPU_CAPS", "wgmma");
    out->caps.tma = fake_list_has("XINHE_FAKEGPU_CAPS", "tma");
    out->caps.mfma = fake_list_has("XINHE_FAKEGPU_CAPS", "mfma");
    out->caps.wave_size = out->caps.mfma ? 64 : 32;
    return Result{};
  }
  Result memory_info(uint64_t* free_bytes) const {
    *free_bytes = 1ull << 29;
    return Result{};
  }

  Result mem_alloc(uint64_t size, DevicePtr* out) const {
    void* p = std::malloc(size);
    if (p == nullptr) return check(kFakeOutOfMemory, "malloc");
    *out = reinterpret_cast<uintptr_t>(p);
    return Result{};
  }
  void mem_free(DevicePtr p) const { std::free(reinterpret_cast<void*>(p)); }
  static DevicePtr ptr_add(DevicePtr p, uint64_t offset) { return p + offset; }
  static uint64_t ptr_bits(DevicePtr p) { return p; }

  Result copy_h2d(DevicePtr dst, const void* src, uint64_t size, Stream) const {
    std::memcpy(reinterpret_cast<void*>(dst), src, size);
    return Result{};
  }
  Result copy_d2h(void* dst, DevicePtr src, uint64_t size, Stream) const {
    std::memcpy(dst, reinterpret_cast<const void*>(src), size);
    return Result{};
  }
  Result copy_d2d(DevicePtr dst, DevicePtr src, uint64_t size, Stream) const {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), size);
    return Result{};
  }
  template <typename T>
  static void fill(DevicePtr dst, T value, uint64_t count) {
    T* p = reinterpret_cast<T*>(dst);
    for (uint64_t i = 0; i < count; ++i) p[i] = value;
  }
  Result fill8(DevicePtr dst, uint8_t value, uint64_t count, Stream) const {
    fill(dst, value, count);
    return Result{};
  }
  Result fill16(DevicePtr dst, uint16_t value, uint64_t count, Stream) const {
    fill(dst, value, count);
    return Result{};
  }
  Result fill32(DevicePtr dst, uint32_t value, uint64_t count, Stream) const {
    fill(dst, value, count);
    return Result{};
  }

  Result stream_create(Stream* out) const {
    *out = reinterpret_cast<Stream>(uintptr_t{1});
    return Result{};
  }
  void stream_destroy(Stream) const {}
  Result stream_synchronize(Stream) const { return Result{}; }
  Result stream_query(Stream, int* done) const {
    *done = 1;
    return Result{};
  }
  Result stream_wait_event(Stream, Event) const { return Result{}; }

  Result event_create(Event* out) const {
    *out = new std::chrono::steady_clock::time_point(std::chrono::steady_clock::now());
    return Result{};
  }
  void event_destroy(Event e) const { delete e; }
  Result event_record(Event e, Stream) const {
    *e = std::chrono::steady_clock::now();
    return Result{};
  }
  Result event_synchronize(Event) const { return Result{}; }
  Result event_query(Event, int* done) const {
    *done = 1;
    return Result{};
  }
  Result event_elapsed_ms(Event start, Event end, float* out) const {
    *out = std::chrono::duration<float, std::milli>(*end - *start).count();
    return Result{};
  }

  Result module_load(const void* image, Module* out) const {
    *out = image;
    return Result{};
  }
  void module_unload(Module) const {}
  // Every kernel name the families can give exists, unless XINHE_FAKEGPU_MISSING lists it.
  Function module_function(Module, const char* name) const {
    if (fake_list_has("XINHE_FAKEGPU_MISSING", name)) return nullptr;
    static std::mutex mutex;
    static std::set<std::string> names;  // the handles: interned names, alive for the process
    std::lock_guard<std::mutex> lock(mutex);
    return names.insert(name).first->c_str();
  }
  Result function_set_dynamic_smem(Function, int) const { return Result{}; }
  bool has_tensor_maps() const { return true; }
  Result tensor_map_encode(void*, bool bf16, const void* base, const uint64_t dims[3],
                           const uint64_t strides[2], const uint32_t box[3]) const {
    const char* refuse = std::getenv("XINHE_FAKEGPU_REFUSE_TMA");
    if (refuse != nullptr && std::strcmp(refuse, "1") == 0) {
      return check(kFakeNotSupported, "tensor_map_encode", "refused by XINHE_FAKEGPU_REFUSE_TMA");
    }
    kernels::wgmma::TensorMapRequest r;
    r.base = base;
    r.bf16 = bf16;
    for (int i = 0; i < 3; ++i) r.dims[i] = dims[i], r.box[i] = box[i];
    r.strides[0] = strides[0];
    r.strides[1] = strides[1];
    const std::string refused = kernels::wgmma::tensor_map_limits(r);
    return refused.empty() ? Result{} : check(kFakeNotSupported, "tensor_map_encode", "limits");
  }
  Result launch(Function f, const uint32_t grid[3], const uint32_t block[3], uint32_t smem_bytes,
                Stream, void**, const char*) const {
    if (const char* path = std::getenv("XINHE_FAKEGPU_LAUNCH_LOG")) {
      if (FILE* out = std::fopen(path, "a")) {
        std::fprintf(out, "%s grid=%u,%u,%u block=%u,%u,%u smem=%u\n", f, grid[0], grid[1], grid[2],
                     block[0], block[1], block[2], smem_bytes);
        std::fclose(out);
      }
    }
    return Result{};
  }

 private:
  const xinhe_host_api_t* host_ = nullptr;
};

struct ArchRates {
  int cc;
  double f32, f16, bf16, f64;
};
inline ArchRates arch_rates(int, int) { return ArchRates{0, 0, 0, 0, 0}; }

}  // namespace xinhe::gpu
