// A host stand-in for a GPU vendor layer, with the shape of backends/cuda/cuda_driver.h and
// backends/hip/hip_driver.h, so that the shared GPU backend (backends/gpu/) builds as a test
// plugin ("fakegpu") and its dispatch runs in CI without a GPU: capabilities, implementation
// lists, kernel binding, launch geometry and the per-run kernel swaps. Device memory is host
// memory and every call completes at once; launches run nothing; they are appended to a file so
// that tests can see which kernel ran with which geometry.
//
// Current context: like a CUDA thread's current context, a thread-local value (0: none; device
// i's context is i + 1) that the plugin's xinhe_fakegpu_current_context /
// xinhe_fakegpu_set_current_context (fake_gpu_images.c) read and set, so tests can give a thread
// another context and see that xinhe calls leave it as it was. Calls that touch the device
// (memory, copies, fills, streams, modules, launches) fail unless a fakegpu context is current.
// Streams are distinct objects (of hipStream_t's type, so the hipBLAS table can take them).
//
// Set before the plugin loads (the device is described once):
//   XINHE_FAKEGPU_CAPS         comma list of mma_sync, wgmma, tma, mfma (default: none)
// Read on every call:
//   XINHE_FAKEGPU_MISSING      comma list of kernel names the "image" lacks
//   XINHE_FAKEGPU_REFUSE_TMA   1: tensor maps are refused as a driver could
//   XINHE_FAKEGPU_LAUNCH_LOG   file to append "<kernel> grid=x,y,z block=x,y,z smem=n" lines to
// Read at device open:
//   XINHE_FAKEGPU_FAIL_IMAGE   gemm or attention: that kernel image does not load
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

extern "C" {
// fake_gpu_images.c: the images, and the calling thread's current fake context.
extern const unsigned char xinhe_gpu_gemm_image[];
extern const unsigned char xinhe_gpu_attention_image[];
int xinhe_fakegpu_current_context(void);
void xinhe_fakegpu_set_current_context(int context);
}
struct ihipStream_t;  // hipStream_t is ihipStream_t* (hip_minimal.h)

namespace xinhe::gpu {

inline constexpr const char* kBackendName = "fakegpu";
inline constexpr const char* kVendorName = "xinhe tests";

using DevicePtr = uint64_t;
using Stream = ihipStream_t*;
using Event = std::chrono::steady_clock::time_point*;
using Module = const void*;
using Function = const char*;  // the kernel's name (interned per module lookup)

enum FakeResult {
  kFakeSuccess = 0,
  kFakeOutOfMemory = 2,
  kFakeInvalidImage = 200,
  kFakeNoContext = 201,
  kFakeNotSupported = 801
};

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
  struct SavedContext {
    int previous = 0;
    bool switched = false;
  };
  Result context_enter(const Context& c, SavedContext* saved) const {
    saved->previous = xinhe_fakegpu_current_context();
    saved->switched = saved->previous != c.ordinal + 1;
    if (saved->switched) xinhe_fakegpu_set_current_context(c.ordinal + 1);
    return Result{};
  }
  void context_leave(const SavedContext& saved) const {
    if (saved.switched) xinhe_fakegpu_set_current_context(saved.previous);
  }
  // Success when a fakegpu context (of the one device) is current on the calling thread.
  static Result need_context(const char* call) {
    return xinhe_fakegpu_current_context() == 1
               ? Result{}
               : check(kFakeNoContext, call, "no fakegpu context is current");
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
    if (out->caps.mfma) out->caps.max_threads_per_dimension = 0xffffffffull;  // as HIP's
    return Result{};
  }
  Result memory_info(uint64_t* free_bytes) const {
    *free_bytes = 1ull << 29;
    return Result{};
  }

  Result mem_alloc(uint64_t size, DevicePtr* out) const {
    if (Result r = need_context("mem_alloc")) return r;
    void* p = std::malloc(size);
    if (p == nullptr) return check(kFakeOutOfMemory, "malloc");
    *out = reinterpret_cast<uintptr_t>(p);
    return Result{};
  }
  void mem_free(DevicePtr p) const { std::free(reinterpret_cast<void*>(p)); }
  static DevicePtr ptr_add(DevicePtr p, uint64_t offset) { return p + offset; }
  static uint64_t ptr_bits(DevicePtr p) { return p; }

  Result copy_h2d(DevicePtr dst, const void* src, uint64_t size, Stream) const {
    if (Result r = need_context("copy_h2d")) return r;
    std::memcpy(reinterpret_cast<void*>(dst), src, size);
    return Result{};
  }
  Result copy_d2h(void* dst, DevicePtr src, uint64_t size, Stream) const {
    if (Result r = need_context("copy_d2h")) return r;
    std::memcpy(dst, reinterpret_cast<const void*>(src), size);
    return Result{};
  }
  Result copy_d2d(DevicePtr dst, DevicePtr src, uint64_t size, Stream) const {
    if (Result r = need_context("copy_d2d")) return r;
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), size);
    return Result{};
  }
  template <typename T>
  static void fill(DevicePtr dst, T value, uint64_t count) {
    T* p = reinterpret_cast<T*>(dst);
    for (uint64_t i = 0; i < count; ++i) p[i] = value;
  }
  Result fill8(DevicePtr dst, uint8_t value, uint64_t count, Stream) const {
    if (Result r = need_context("fill8")) return r;
    fill(dst, value, count);
    return Result{};
  }
  Result fill16(DevicePtr dst, uint16_t value, uint64_t count, Stream) const {
    if (Result r = need_context("fill16")) return r;
    fill(dst, value, count);
    return Result{};
  }
  Result fill32(DevicePtr dst, uint32_t value, uint64_t count, Stream) const {
    if (Result r = need_context("fill32")) return r;
    fill(dst, value, count);
    return Result{};
  }

  Result stream_create(Stream* out) const {
    if (Result r = need_context("stream_create")) return r;
    *out = reinterpret_cast<Stream>(new char);  // a distinct address per stream
    return Result{};
  }
  void stream_destroy(Stream s) const { delete reinterpret_cast<char*>(s); }
  Result stream_synchronize(Stream) const { return need_context("stream_synchronize"); }
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
    if (Result r = need_context("module_load")) return r;
    const char* fail = std::getenv("XINHE_FAKEGPU_FAIL_IMAGE");
    const char* which = image == xinhe_gpu_gemm_image        ? "gemm"
                        : image == xinhe_gpu_attention_image ? "attention"
                                                             : "";
    if (fail != nullptr && std::strcmp(fail, which) == 0) {
      return check(kFakeInvalidImage, "module_load", "refused by XINHE_FAKEGPU_FAIL_IMAGE");
    }
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
    if (Result r = need_context("launch")) return r;
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
