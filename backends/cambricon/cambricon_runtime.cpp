// The Cambricon plugin's runtime half on CNRT: loading CNRT and CNNL, devices, buffers
// (cnrtMalloc), streams (a CNRT queue with a CNNL handle bound to it), copies with explicit
// directions (cnrtMemcpyAsync), fills, notifiers as events (with timing), and the one exported
// entry point. See cambricon_internal.h for where the libraries are looked for.
#include <dlfcn.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cambricon_internal.h"

namespace xinhe::cambricon {

// ---- Statuses ----

xinhe_status_t error(const Device* device, xinhe_status_code_t code, const char* call,
                     const char* file, int line, const std::string& message) {
  return xinhe::backend::make_status(device->host(), code, kBackendName, call, file, line, "%s",
                                     message.c_str());
}

xinhe_status_t cnrt_status(const Device* device, cnrtRet_t r, const char* call, const char* file,
                           int line) {
  xinhe_status_code_t code = XINHE_STATUS_INTERNAL;
  switch (r) {
    case cnrtErrorNoMem:
    case cnrtErrorSysNoMem:
      code = XINHE_STATUS_OUT_OF_MEMORY;
      break;
    case cnrtErrorNoDevice:
    case cnrtErrorInit:
      code = XINHE_STATUS_UNAVAILABLE;
      break;
    case cnrtErrorNotSupport:
      code = XINHE_STATUS_UNIMPLEMENTED;
      break;
    default:
      break;
  }
  const char* text = device->api().cnrtGetErrorStr(r);
  return error(device, code, call, file, line,
               std::string(text != nullptr ? text : "?") + " (" + std::to_string(r) + ")");
}

xinhe_status_t cnnl_status(const Device* device, cnnlStatus_t s, const char* call, const char* file,
                           int line) {
  xinhe_status_code_t code = XINHE_STATUS_INTERNAL;
  switch (s) {
    case CNNL_STATUS_ALLOC_FAILED:
      code = XINHE_STATUS_OUT_OF_MEMORY;
      break;
    case CNNL_STATUS_NOT_SUPPORTED:
    case CNNL_STATUS_ARCH_MISMATCH:
      code = XINHE_STATUS_UNIMPLEMENTED;
      break;
    case CNNL_STATUS_EXECUTION_FAILED:
      code = XINHE_STATUS_DEVICE_LOST;
      break;
    default:
      break;
  }
  const char* text = device->api().cnnlGetErrorString(s);
  return error(device, code, call, file, line, text != nullptr ? text : "?");
}

xinhe_status_t bind(const Device* device) {
  XINHE_CNRT(device, cnrtSetDevice, device->index);
  return nullptr;
}

namespace {

// No exception crosses the C ABI: an entry that allocates and throws returns a status instead
// (std::bad_alloc as OUT_OF_MEMORY). The host table is the one backend_create received.
std::atomic<const xinhe_host_api_t*> g_host{nullptr};

Device* to_device(xinhe_be_device_t d) { return reinterpret_cast<Device*>(d); }
Buffer* to_buffer(xinhe_be_buffer_t b) { return reinterpret_cast<Buffer*>(b); }
Stream* to_stream(xinhe_be_stream_t s) { return reinterpret_cast<Stream*>(s); }
Event* to_event(xinhe_be_event_t e) { return reinterpret_cast<Event*>(e); }

bool is_directory(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The folder to load libcnrt.so / libcnnl.so from; "" for the loader's own search path.
// XINHE_CAMBRICON_LIBRARY_DIR is the name backend.h (point 7) gives every plugin; the name this
// plugin first read, XINHE_CAMBRICON_LIBRARY_PATH, still works when the new one is unset, with
// a warning on stderr once per process.
std::string library_folder(const xinhe_host_api_t* host) {
  if (const char* dir = std::getenv("XINHE_CAMBRICON_LIBRARY_DIR"); dir != nullptr && dir[0])
    return dir;  // taken as given, even when missing: the reason then names it
  if (const char* dir = std::getenv("XINHE_CAMBRICON_LIBRARY_PATH"); dir != nullptr && dir[0]) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      host->log("load", kBackendName,
                "warning: XINHE_CAMBRICON_LIBRARY_PATH is deprecated; set "
                "XINHE_CAMBRICON_LIBRARY_DIR instead (read in its place while it is unset)");
    return dir;
  }
  if (const char* home = std::getenv("NEUWARE_HOME"); home != nullptr && home[0])
    if (is_directory(std::string(home) + "/lib64")) return std::string(home) + "/lib64";
  if (is_directory("/usr/local/neuware/lib64")) return "/usr/local/neuware/lib64";
  return "";
}

// dlopens folder/name (or name) and resolves every symbol of the list; false with *reason.
template <typename Resolve>
bool load_library(const std::string& folder, const char* name, std::string* path,
                  std::string* reason, Resolve&& resolve) {
  *path = folder.empty() ? std::string(name) : folder + "/" + name;
  void* library = dlopen(path->c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    *reason = std::string(name) + " not found (" + *path + "): " + (why != nullptr ? why : "");
    return false;
  }
  const char* missing = resolve(library);
  if (missing != nullptr) {
    *reason = *path + " lacks " + missing;
    return false;
  }
  return true;
}

xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out) {
  g_host.store(host);
  auto backend = std::make_unique<Backend>();
  backend->host = host;
  Vendor& api = backend->api;
  const std::string folder = library_folder(host);
  std::string reason;
  auto fail = [&](const std::string& why) {
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "dlopen", "%s", why.c_str());
  };
  if (!load_library(folder, "libcnrt.so", &api.cnrt_path, &reason, [&](void* lib) -> const char* {
#define XINHE_CAMBRICON_RESOLVE(name)                                 \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name)); \
  if (api.name == nullptr) return #name;
        XINHE_CNRT_SYMBOLS(XINHE_CAMBRICON_RESOLVE)
        return nullptr;
      }))
    return fail(reason);
  if (!load_library(folder, "libcnnl.so", &api.cnnl_path, &reason, [&](void* lib) -> const char* {
        XINHE_CNNL_SYMBOLS(XINHE_CAMBRICON_RESOLVE)
#undef XINHE_CAMBRICON_RESOLVE
#define XINHE_CAMBRICON_RESOLVE_OPTIONAL(name) \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(lib, #name));
        XINHE_CNNL_OPTIONAL_SYMBOLS(XINHE_CAMBRICON_RESOLVE_OPTIONAL)
#undef XINHE_CAMBRICON_RESOLVE_OPTIONAL
        return nullptr;
      }))
    return fail(reason);
  if (api.cnnlSetFlashAttentionSlidingWindowSize == nullptr && host->verbose_enabled("load"))
    host->log(
        "load", kBackendName,
        (api.cnnl_path + " lacks cnnlSetFlashAttentionSlidingWindowSize (an older CNNL): attention "
                         "descriptors keep the library's default, no window")
            .c_str());
  *out = reinterpret_cast<xinhe_be_backend_t>(backend.release());
  return nullptr;
}

void backend_destroy(xinhe_be_backend_t b) { delete reinterpret_cast<Backend*>(b); }

xinhe_status_t device_count(xinhe_be_backend_t b, uint32_t* out) {
  Backend* backend = reinterpret_cast<Backend*>(b);
  unsigned int count = 0;
  const cnrtRet_t r = backend->api.cnrtGetDeviceCount(&count);
  // No driver or no MLU: zero devices, which the core reports as "no device".
  *out = r == cnrtSuccess ? count : 0;
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t b, uint32_t index, xinhe_be_device_t* out) {
  auto device = std::make_unique<Device>();
  device->backend = reinterpret_cast<Backend*>(b);
  device->index = static_cast<int>(index);
  XINHE_BE_RETURN_IF_ERROR(bind(device.get()));
  int major = 0, minor = 0, patch = 0;
  device->api().cnrtGetLibVersion(&major, &minor, &patch);
  // With the library's path: a host double shows itself here.
  device->driver_version = "CNRT " + std::to_string(major) + "." + std::to_string(minor) + "." +
                           std::to_string(patch) + " (" + device->api().cnrt_path + ")";
  device->description = "Cambricon MLU " + std::to_string(index);
  XINHE_CNNL(device.get(), cnnlCreate, &device->query_handle);
  *out = reinterpret_cast<xinhe_be_device_t>(device.release());
  return nullptr;
}

void device_close(xinhe_be_device_t d) {
  Device* device = to_device(d);
  if (device->query_handle != nullptr) device->api().cnnlDestroy(device->query_handle);
  delete device;
}

xinhe_status_t device_properties(xinhe_be_device_t d, xinhe_device_properties_t* out) {
  Device* device = to_device(d);
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  std::snprintf(out->description, sizeof out->description, "%s", device->description.c_str());
  std::snprintf(out->vendor, sizeof out->vendor, "Cambricon");
  std::snprintf(out->driver_version, sizeof out->driver_version, "%s",
                device->driver_version.c_str());
  size_t free_bytes = 0, total_bytes = 0;
  XINHE_CNRT(device, cnrtMemGetInfo, &free_bytes, &total_bytes);
  out->total_memory = total_bytes;
  out->free_memory = free_bytes;
  int clusters = 0, cores = 0, bf16 = 0;
  if (device->api().cnrtDeviceGetAttribute(&clusters, cnrtAttrClusterCount, device->index) !=
          cnrtSuccess ||
      device->api().cnrtDeviceGetAttribute(&cores, cnrtAttrMcorePerCluster, device->index) !=
          cnrtSuccess)
    clusters = cores = 0;
  if (device->api().cnrtDeviceGetAttribute(&bf16, cnrtAttrBF16ComputingSupported, device->index) !=
      cnrtSuccess)
    bf16 = 0;
  out->compute_units = static_cast<uint32_t>(clusters * cores);
  out->flags = XINHE_DEVICE_FLAG_TIMING;  // notifiers measure elapsed time; no fp64
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16);
  if (bf16 != 0) out->dtype_caps |= XINHE_DTYPE_CAP(XINHE_DTYPE_BF16);
  out->min_alignment = kMinAlignment;
  if (XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type))
    out->device_type = XINHE_DEVICE_TYPE_NPU;
  for (double& f : out->peak_flops) f = 0.0;  // CNRT reports no peak figures
  out->memory_bandwidth = 0.0;
  return nullptr;
}

// ---- Memory ----

xinhe_status_t buffer_alloc(xinhe_be_device_t d, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out) {
  Device* device = to_device(d);
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  auto buffer = std::make_unique<Buffer>();
  buffer->device = device;
  buffer->size = size;
  // CNRT documents no alignment for cnrtMalloc: allocate exactly, and when the address is not
  // aligned as asked, again with room to round it up.
  XINHE_CNRT(device, cnrtMalloc, &buffer->allocation, static_cast<size_t>(size));
  auto aligned = [&](void* p) {
    return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + alignment - 1) &
                                      ~static_cast<uintptr_t>(alignment - 1));
  };
  if (aligned(buffer->allocation) != buffer->allocation) {
    device->api().cnrtFree(buffer->allocation);
    buffer->allocation = nullptr;
    if (size > UINT64_MAX - alignment)
      return error(device, XINHE_STATUS_OUT_OF_MEMORY, "cnrtMalloc", __FILE__, __LINE__,
                   "size plus alignment overflows");
    XINHE_CNRT(device, cnrtMalloc, &buffer->allocation, static_cast<size_t>(size + alignment));
  }
  buffer->base = aligned(buffer->allocation);
  *out = reinterpret_cast<xinhe_be_buffer_t>(buffer.release());
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t b) {
  Buffer* buffer = to_buffer(b);
  if (bind(buffer->device) == nullptr) buffer->device->api().cnrtFree(buffer->allocation);
  delete buffer;
}

xinhe_status_t buffer_address(xinhe_be_buffer_t b, uint64_t* out) {
  *out = reinterpret_cast<uintptr_t>(to_buffer(b)->base);
  return nullptr;
}

// ---- Streams ----

xinhe_status_t stream_create(xinhe_be_device_t d, xinhe_be_stream_t* out) {
  Device* device = to_device(d);
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  auto stream = std::make_unique<Stream>();
  stream->device = device;
  XINHE_CNRT(device, cnrtQueueCreate, &stream->queue);
  if (cnnlStatus_t s = device->api().cnnlCreate(&stream->handle); s != CNNL_STATUS_SUCCESS) {
    device->api().cnrtQueueDestroy(stream->queue);
    return cnnl_status(device, s, "cnnlCreate", __FILE__, __LINE__);
  }
  // A CNNL handle runs its work on the queue bound here: one handle per stream.
  if (cnnlStatus_t s = device->api().cnnlSetQueue(stream->handle, stream->queue);
      s != CNNL_STATUS_SUCCESS) {
    device->api().cnnlDestroy(stream->handle);
    device->api().cnrtQueueDestroy(stream->queue);
    return cnnl_status(device, s, "cnnlSetQueue", __FILE__, __LINE__);
  }
  *out = reinterpret_cast<xinhe_be_stream_t>(stream.release());
  return nullptr;
}

xinhe_status_t stream_synchronize(xinhe_be_stream_t s) {
  Stream* stream = to_stream(s);
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  XINHE_CNRT(stream->device, cnrtQueueSync, stream->queue);
  std::lock_guard<std::mutex> lock(stream->mu);
  // Work submitted after the sync may still hold entries; they are few and freed next time.
  if (stream->device->api().cnrtQueueQuery(stream->queue) == cnrtSuccess)
    stream->keep_alive.clear();
  return nullptr;
}

void stream_destroy(xinhe_be_stream_t s) {
  Stream* stream = to_stream(s);
  const Vendor& api = stream->device->api();
  if (bind(stream->device) == nullptr) {
    api.cnrtQueueSync(stream->queue);  // queued work first (the ABI's rule)
    api.cnnlDestroy(stream->handle);
    api.cnrtQueueDestroy(stream->queue);
  }
  delete stream;
}

xinhe_status_t stream_query(xinhe_be_stream_t s, int* out_done) {
  Stream* stream = to_stream(s);
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  const cnrtRet_t r = stream->device->api().cnrtQueueQuery(stream->queue);
  if (r == cnrtErrorNotReady || r == cnrtErrorBusy) {
    *out_done = 0;
    return nullptr;
  }
  if (r != cnrtSuccess) return cnrt_status(stream->device, r, "cnrtQueueQuery", __FILE__, __LINE__);
  *out_done = 1;
  std::lock_guard<std::mutex> lock(stream->mu);
  if (stream->device->api().cnrtQueueQuery(stream->queue) == cnrtSuccess)
    stream->keep_alive.clear();
  return nullptr;
}

// ---- Copies and fills ----

xinhe_status_t copy(xinhe_be_stream_t s, void* dst, const void* src, uint64_t size,
                    cnrtMemTransDir_t direction) {
  Stream* stream = to_stream(s);
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  std::lock_guard<std::mutex> lock(stream->mu);
  XINHE_CNRT(stream->device, cnrtMemcpyAsync, dst, const_cast<void*>(src),
             static_cast<size_t>(size), stream->queue, direction);
  return nullptr;
}

xinhe_status_t copy_host_to_device(xinhe_be_stream_t s, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  return copy(s, address(dst), src, size, cnrtMemcpyHostToDev);
}
xinhe_status_t copy_device_to_host(xinhe_be_stream_t s, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  return copy(s, dst, address(src), size, cnrtMemcpyDevToHost);
}
xinhe_status_t copy_device_to_device(xinhe_be_stream_t s, xinhe_be_mem_t dst, xinhe_be_mem_t src,
                                     uint64_t size) {
  return copy(s, address(dst), address(src), size, cnrtMemcpyDevToDev);
}

}  // namespace

xinhe_status_t fill_locked(Stream* stream, uint8_t* dst, uint64_t size, const void* pattern,
                           uint32_t pattern_size) {
  const Device* device = stream->device;
  const auto* bytes = static_cast<const uint8_t*>(pattern);
  bool uniform = true;
  for (uint32_t i = 1; i < pattern_size; ++i) uniform = uniform && bytes[i] == bytes[0];
  if (uniform) {  // cnrtMemsetAsync sets bytes only
    XINHE_CNRT(device, cnrtMemsetAsync, dst, bytes[0], static_cast<size_t>(size), stream->queue);
    return nullptr;
  }
  // Wider patterns: one block copied from the host, then doubled on the device.
  const uint64_t block = size < (64u << 10) ? size : (64u << 10);
  auto host = std::shared_ptr<uint8_t[]>(new (std::nothrow) uint8_t[block]);
  if (!host)
    return error(device, XINHE_STATUS_OUT_OF_MEMORY, "fill", __FILE__, __LINE__,
                 "host staging block");
  for (uint64_t i = 0; i < block; ++i) host[i] = bytes[i % pattern_size];
  XINHE_CNRT(device, cnrtMemcpyAsync, dst, host.get(), static_cast<size_t>(block), stream->queue,
             cnrtMemcpyHostToDev);
  stream->keep_alive.push_back(host);
  for (uint64_t done = block; done < size;) {
    const uint64_t n = done < size - done ? done : size - done;
    XINHE_CNRT(device, cnrtMemcpyAsync, dst + done, dst, static_cast<size_t>(n), stream->queue,
               cnrtMemcpyDevToDev);
    done += n;
  }
  return nullptr;
}

namespace {

xinhe_status_t fill(xinhe_be_stream_t s, xinhe_be_mem_t dst, uint64_t size, const void* pattern,
                    uint32_t pattern_size) {
  Stream* stream = to_stream(s);
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  std::lock_guard<std::mutex> lock(stream->mu);
  return fill_locked(stream, address(dst), size, pattern, pattern_size);
}

// ---- Events: CNRT notifiers ----

xinhe_status_t event_create(xinhe_be_device_t d, xinhe_be_event_t* out) {
  Device* device = to_device(d);
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  auto event = std::make_unique<Event>();
  event->device = device;
  XINHE_CNRT(device, cnrtNotifierCreate, &event->notifier);
  *out = reinterpret_cast<xinhe_be_event_t>(event.release());
  return nullptr;
}

void event_destroy(xinhe_be_event_t e) {
  Event* event = to_event(e);
  if (bind(event->device) == nullptr) event->device->api().cnrtNotifierDestroy(event->notifier);
  delete event;
}

xinhe_status_t event_record(xinhe_be_event_t e, xinhe_be_stream_t s) {
  Event* event = to_event(e);
  Stream* stream = to_stream(s);
  XINHE_BE_RETURN_IF_ERROR(bind(event->device));
  std::lock_guard<std::mutex> lock(stream->mu);
  XINHE_CNRT(event->device, cnrtPlaceNotifier, event->notifier, stream->queue);
  return nullptr;
}

xinhe_status_t stream_wait_event(xinhe_be_stream_t s, xinhe_be_event_t e) {
  Event* event = to_event(e);
  Stream* stream = to_stream(s);
  XINHE_BE_RETURN_IF_ERROR(bind(event->device));
  std::lock_guard<std::mutex> lock(stream->mu);
  XINHE_CNRT(event->device, cnrtQueueWaitNotifier, event->notifier, stream->queue, 0u);
  return nullptr;
}

xinhe_status_t event_synchronize(xinhe_be_event_t e) {
  Event* event = to_event(e);
  XINHE_BE_RETURN_IF_ERROR(bind(event->device));
  XINHE_CNRT(event->device, cnrtWaitNotifier, event->notifier);
  return nullptr;
}

xinhe_status_t event_query(xinhe_be_event_t e, int* out_done) {
  Event* event = to_event(e);
  XINHE_BE_RETURN_IF_ERROR(bind(event->device));
  const cnrtRet_t r = event->device->api().cnrtQueryNotifier(event->notifier);
  if (r == cnrtErrorNotReady || r == cnrtErrorBusy) {
    *out_done = 0;
    return nullptr;
  }
  if (r != cnrtSuccess)
    return cnrt_status(event->device, r, "cnrtQueryNotifier", __FILE__, __LINE__);
  *out_done = 1;
  return nullptr;
}

xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  Event* first = to_event(start);
  XINHE_BE_RETURN_IF_ERROR(bind(first->device));
  XINHE_CNRT(first->device, cnrtNotifierElapsedTime, first->notifier, to_event(end)->notifier,
             out_ms);
  return nullptr;
}

template <auto F>
struct Guarded;
template <typename... A, xinhe_status_t (*F)(A...)>
struct Guarded<F> {
  static xinhe_status_t call(A... args) noexcept {
    const char* what = "an exception";
    xinhe_status_code_t code = XINHE_STATUS_INTERNAL;
    try {
      return F(args...);
    } catch (const std::bad_alloc&) {
      code = XINHE_STATUS_OUT_OF_MEMORY;
      what = "host memory exhausted";
    } catch (...) {
    }
    return xinhe::backend::make_status(g_host.load(), code, kBackendName, "entry", __FILE__,
                                       __LINE__, "%s", what);
  }
};

const xinhe_backend_api_t kApi = {
    sizeof(xinhe_backend_api_t),
    XINHE_BACKEND_ABI_MAJOR,
    XINHE_BACKEND_ABI_MINOR,
    kBackendName,
    Guarded<backend_create>::call,
    backend_destroy,
    Guarded<device_count>::call,
    Guarded<device_open>::call,
    device_close,
    Guarded<device_properties>::call,
    Guarded<buffer_alloc>::call,
    buffer_free,
    Guarded<stream_create>::call,
    stream_destroy,
    Guarded<stream_synchronize>::call,
    Guarded<stream_query>::call,
    Guarded<copy_host_to_device>::call,
    Guarded<copy_device_to_host>::call,
    Guarded<copy_device_to_device>::call,
    Guarded<fill>::call,
    Guarded<event_create>::call,
    event_destroy,
    Guarded<event_record>::call,
    Guarded<stream_wait_event>::call,
    Guarded<event_synchronize>::call,
    Guarded<event_query>::call,
    Guarded<event_elapsed_ms>::call,
    Guarded<op_create>::call,
    op_destroy,
    Guarded<op_check>::call,
    Guarded<op_workspace_size>::call,
    op_impl_name,
    Guarded<op_run>::call,
    nullptr,  // buffer_host_pointer: device memory is not host-addressable
    nullptr,  // buffer_wrap_host
    buffer_address,
    nullptr,  // op_run_impl_name: every run uses the implementation chosen at create
};

}  // namespace

const xinhe_backend_api_t* backend_api() { return &kApi; }

}  // namespace xinhe::cambricon

// The table whatever the core's version (backend.h, point 6): the core compares abi_major and
// names both versions when they differ; NULL would leave it only "version unknown".
extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(
    uint32_t /*host_abi_major*/, uint32_t /*host_abi_minor*/) {
  return xinhe::cambricon::backend_api();
}
