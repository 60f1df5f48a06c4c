// The Ascend plugin's runtime on AscendCL: one context per device, streams, device memory from
// aclrtMalloc, copies with explicit directions, fills (aclrtMemsetAsync), events with timing
// (ACL_EVENT_TIME_LINE), and the backend table.
//
// Copies follow CANN 8.0-8.2, the oldest releases the plugin supports. aclrtMemcpyAsync there
// needs 64-byte aligned source and destination, and host memory from aclrtMallocHost for
// host<->device copies (pageable memory gives unpredictable results; it is supported only from
// 8.3.RC1). The caller's host memory is pageable and of any alignment, so host<->device copies
// wait for the stream (aclrtSynchronizeStream: everything queued before the copy is done, which
// keeps xinhe's stream order) and then copy synchronously with aclrtMemcpy, which documents
// neither rule. Device addresses are kept 64-byte aligned all the same: an unaligned write is
// an exact byte copy on the device (aclnnInplaceCopy on uint8 views) from an aligned scratch
// buffer; an unaligned read is widened down to the 64-byte line into aclrtMallocHost staging.
// Device-to-device copies and memsets stay asynchronous.
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "ascend_internal.h"

namespace xinhe::ascend {

xinhe_status_t make_error(const xinhe_host_api_t* host, xinhe_status_code_t code, const char* call,
                          const char* file, int line, const std::string& message) {
  return xinhe::backend::make_status(host, code, kBackendName, call, file, line, "%s",
                                     message.c_str());
}

namespace {

xinhe_status_code_t acl_status_code(aclError r) {
  switch (r) {
    case ACL_ERROR_BAD_ALLOC:
    case ACL_ERROR_RT_MEMORY_ALLOCATION:
      return XINHE_STATUS_OUT_OF_MEMORY;
    case ACL_ERROR_RT_INVALID_DEVICEID:
    case ACL_ERROR_RT_NO_DEVICE:
    case ACL_ERROR_UNINITIALIZE:
      return XINHE_STATUS_UNAVAILABLE;
    case ACL_ERROR_API_NOT_SUPPORT:
    case ACL_ERROR_RT_FEATURE_NOT_SUPPORT:
      return XINHE_STATUS_UNIMPLEMENTED;
    default:
      // 5xxxxx: the device or its driver failed (an AI Core exception needs a device reset).
      return r >= 500000 && r < 600000 ? XINHE_STATUS_DEVICE_LOST : XINHE_STATUS_INTERNAL;
  }
}

const AclApi& acl(const xinhe_be_device_s* d) { return d->backend->acl; }
const xinhe_host_api_t* host(const xinhe_be_device_s* d) { return d->backend->host; }

constexpr uint64_t kCopyAlignment = 64;  // aclrtMemcpyAsync / aclrtMemsetAsync device addresses

}  // namespace

xinhe_status_t acl_error(const xinhe_be_device_s* device, aclError r, const char* call,
                         const char* file, int line) {
  const char* recent = device->backend->acl.aclGetRecentErrMsg();
  return make_error(device->backend->host, acl_status_code(r), call, file, line,
                    std::string(call) + " failed: error " + std::to_string(r) +
                        (recent && *recent ? std::string(": ") + recent : ""));
}

xinhe_status_t bind(xinhe_be_device_s* device) {
  XINHE_ACL_CALL(device, acl(device).aclrtSetCurrentContext(device->context),
                 "aclrtSetCurrentContext");
  return nullptr;
}

xinhe_status_t causal_mask(xinhe_be_device_s* device, void** out) {
  std::lock_guard<std::mutex> lock(device->mask_mutex);
  if (device->causal_mask == nullptr) {
    constexpr size_t kSide = 2048;
    std::vector<uint8_t> mask(kSide * kSide);
    for (size_t r = 0; r < kSide; ++r)
      for (size_t c = 0; c < kSide; ++c) mask[r * kSide + c] = c > r ? 1 : 0;
    void* p = nullptr;
    XINHE_ACL_CALL(device, acl(device).aclrtMalloc(&p, mask.size(), ACL_MEM_MALLOC_HUGE_FIRST),
                   "aclrtMalloc");
    // Synchronous: the mask is pageable host memory (see the top of the file).
    const aclError r = acl(device).aclrtMemcpy(p, mask.size(), mask.data(), mask.size(),
                                               ACL_MEMCPY_HOST_TO_DEVICE);
    if (r != ACL_SUCCESS) {
      acl(device).aclrtFree(p);
      return acl_error(device, r, "aclrtMemcpy", __FILE__, __LINE__);
    }
    device->causal_mask = p;
  }
  *out = device->causal_mask;
  return nullptr;
}

namespace {

// ---- Backend and devices ----

xinhe_status_t backend_create(const xinhe_host_api_t* h, xinhe_be_backend_t* out) {
  auto* backend = new (std::nothrow) xinhe_be_backend_s;
  if (backend == nullptr)
    return make_error(h, XINHE_STATUS_OUT_OF_MEMORY, "backend_create", __FILE__, __LINE__,
                      "no memory");
  backend->host = h;
  std::string reason;
  if (!acl_api_load(&backend->acl, &reason)) {
    delete backend;
    return make_error(h, XINHE_STATUS_UNAVAILABLE, "dlopen", __FILE__, __LINE__, reason);
  }
  const AclApi& api = backend->acl;
  // aclInit may only run once per process; another library (a framework adapter) may have
  // done it already, which is fine. The plugin never calls aclFinalize: see backend_destroy.
  const aclError r = api.aclInit(nullptr);
  if (r != ACL_SUCCESS && r != ACL_ERROR_REPEAT_INITIALIZE) {
    const char* recent = api.aclGetRecentErrMsg();
    delete backend;
    return make_error(
        h, XINHE_STATUS_UNAVAILABLE, "aclInit", __FILE__, __LINE__,
        "aclInit failed: error " + std::to_string(r) + (recent ? std::string(": ") + recent : ""));
  }
  const aclError c = api.aclrtGetDeviceCount(&backend->device_count);
  if (c != ACL_SUCCESS) {
    delete backend;
    return make_error(h, XINHE_STATUS_UNAVAILABLE, "aclrtGetDeviceCount", __FILE__, __LINE__,
                      "aclrtGetDeviceCount failed: error " + std::to_string(c));
  }
  *out = backend;
  return nullptr;
}

// The CANN libraries stay loaded and initialised: aclFinalize cannot be undone by a later
// aclInit in the same process, and the core may create the backend again.
void backend_destroy(xinhe_be_backend_t backend) { delete backend; }

xinhe_status_t device_count(xinhe_be_backend_t backend, uint32_t* out) {
  *out = backend->device_count;
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t backend, uint32_t index, xinhe_be_device_t* out) {
  auto* device = new (std::nothrow) xinhe_be_device_s;
  if (device == nullptr)
    return make_error(backend->host, XINHE_STATUS_OUT_OF_MEMORY, "device_open", __FILE__, __LINE__,
                      "no memory");
  device->backend = backend;
  device->ordinal = static_cast<int32_t>(index);
  const AclApi& api = backend->acl;
  aclError r = api.aclrtSetDevice(device->ordinal);
  const char* call = "aclrtSetDevice";
  if (r == ACL_SUCCESS) {
    call = "aclrtCreateContext";
    r = api.aclrtCreateContext(&device->context, device->ordinal);
  }
  size_t free_bytes = 0, total_bytes = 0;
  if (r == ACL_SUCCESS) {
    call = "aclrtGetMemInfo";
    r = api.aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes);
  }
  int32_t major = 0, minor = 0, patch = 0;
  if (r == ACL_SUCCESS) {
    call = "aclrtGetVersion";
    r = api.aclrtGetVersion(&major, &minor, &patch);
  }
  if (r != ACL_SUCCESS) {
    xinhe_status_t status = acl_error(device, r, call, __FILE__, __LINE__);
    if (device->context) api.aclrtDestroyContext(device->context);
    delete device;
    return status;
  }
  const char* soc = api.aclrtGetSocName();
  device->rules = soc_rules(soc);
  device->soc = device->rules.soc.empty() ? "Ascend (unknown SoC)" : device->rules.soc;
  if (!device->rules.unknown_note.empty() && backend->host->verbose_enabled("load"))
    backend->host->log("load", kBackendName, device->rules.unknown_note.c_str());
  device->version = "AscendCL " + std::to_string(major) + "." + std::to_string(minor) + "." +
                    std::to_string(patch);
  device->total_memory = total_bytes;
  *out = device;
  return nullptr;
}

void device_close(xinhe_be_device_t device) {
  if (bind(device) == nullptr && device->causal_mask) acl(device).aclrtFree(device->causal_mask);
  acl(device).aclrtDestroyContext(device->context);
  delete device;
}

void copy_text(char* out, size_t size, const std::string& text) {
  std::snprintf(out, size, "%s", text.c_str());
}

xinhe_status_t device_properties(xinhe_be_device_t device, xinhe_device_properties_t* out) {
  copy_text(out->description, sizeof out->description, device->soc);
  copy_text(out->vendor, sizeof out->vendor, "Huawei");
  copy_text(out->driver_version, sizeof out->driver_version, device->version);
  out->total_memory = device->total_memory;
  size_t free_bytes = 0, total_bytes = 0;
  if (bind(device) == nullptr &&
      acl(device).aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total_bytes) == ACL_SUCCESS)
    out->free_memory = free_bytes;
  out->compute_units = 0;  // not in AscendCL's device queries
  out->flags = XINHE_DEVICE_FLAG_TIMING;
  // What some op runs in on this SoC (ascend_soc.h); no fp64 anywhere in aclnn. f16 GEMM runs
  // everywhere; f32 and bf16 only where the cube unit takes them (A2/A3).
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F16);
  if (device->rules.f32_cube) out->dtype_caps |= XINHE_DTYPE_CAP(XINHE_DTYPE_F32);
  if (device->rules.bf16) out->dtype_caps |= XINHE_DTYPE_CAP(XINHE_DTYPE_BF16);
  out->min_alignment = kCopyAlignment;
  if (XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type))
    out->device_type = XINHE_DEVICE_TYPE_NPU;
  for (double& f : out->peak_flops) f = 0.0;
  out->memory_bandwidth = 0.0;
  return nullptr;
}

// ---- Memory ----

xinhe_status_t buffer_alloc(xinhe_be_device_t device, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out) {
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  const uint64_t want = alignment > kCopyAlignment ? alignment : kCopyAlignment;
  const uint64_t extra = want - kCopyAlignment;  // aclrtMalloc's addresses are 64-aligned
  if (size > UINT64_MAX - extra || size + extra > device->total_memory)
    return make_error(host(device), XINHE_STATUS_OUT_OF_MEMORY, "aclrtMalloc", __FILE__, __LINE__,
                      std::to_string(size) + " bytes aligned to " + std::to_string(want) +
                          " exceed the device's " + std::to_string(device->total_memory));
  void* raw = nullptr;
  XINHE_ACL_CALL(device, acl(device).aclrtMalloc(&raw, size + extra, ACL_MEM_MALLOC_HUGE_FIRST),
                 "aclrtMalloc");
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + want - 1) / want * want;
  if (aligned + size > start + size + extra) {
    acl(device).aclrtFree(raw);
    return make_error(host(device), XINHE_STATUS_INTERNAL, "aclrtMalloc", __FILE__, __LINE__,
                      "aclrtMalloc returned an address not 64-byte aligned");
  }
  auto* buffer =
      new (std::nothrow) xinhe_be_buffer_s{device, raw, reinterpret_cast<uint8_t*>(aligned), size};
  if (buffer == nullptr) {
    acl(device).aclrtFree(raw);
    return make_error(host(device), XINHE_STATUS_OUT_OF_MEMORY, "buffer_alloc", __FILE__, __LINE__,
                      "no host memory");
  }
  *out = buffer;
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t buffer) {
  if (bind(buffer->device) == nullptr) acl(buffer->device).aclrtFree(buffer->raw);
  delete buffer;
}

xinhe_status_t buffer_address(xinhe_be_buffer_t buffer, uint64_t* out) {
  *out = reinterpret_cast<uint64_t>(buffer->address);
  return nullptr;
}

// ---- Streams ----

xinhe_status_t stream_create(xinhe_be_device_t device, xinhe_be_stream_t* out) {
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  auto* stream = new (std::nothrow) xinhe_be_stream_s;
  if (stream == nullptr)
    return make_error(host(device), XINHE_STATUS_OUT_OF_MEMORY, "stream_create", __FILE__, __LINE__,
                      "no memory");
  stream->device = device;
  const aclError r = acl(device).aclrtCreateStream(&stream->stream);
  if (r != ACL_SUCCESS) {
    delete stream;
    return acl_error(device, r, "aclrtCreateStream", __FILE__, __LINE__);
  }
  *out = stream;
  return nullptr;
}

void stream_destroy(xinhe_be_stream_t stream) {
  xinhe_be_device_s* device = stream->device;
  if (bind(device) == nullptr) {
    acl(device).aclrtSynchronizeStream(stream->stream);  // the contract: wait, then release
    acl(device).aclrtDestroyStream(stream->stream);
  }
  delete stream;
}

xinhe_status_t stream_synchronize(xinhe_be_stream_t stream) {
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  XINHE_ACL_CALL(stream->device, acl(stream->device).aclrtSynchronizeStream(stream->stream),
                 "aclrtSynchronizeStream");
  return nullptr;
}

// ---- Copies ----

uint8_t* address_of(xinhe_be_mem_t mem) { return mem.buffer->address + mem.offset; }

// Waits for everything queued on the stream, so that a synchronous copy after it keeps the
// stream order xinhe promises (backend.h, base.h).
xinhe_status_t wait_for(xinhe_be_stream_t stream) {
  XINHE_ACL_CALL(stream->device, acl(stream->device).aclrtSynchronizeStream(stream->stream),
                 "aclrtSynchronizeStream");
  return nullptr;
}

xinhe_status_t memcpy_sync(xinhe_be_device_s* device, void* dst, const void* src, uint64_t size,
                           aclrtMemcpyKind kind) {
  XINHE_ACL_CALL(device, acl(device).aclrtMemcpy(dst, size, src, size, kind), "aclrtMemcpy");
  return nullptr;
}

// Page-locked host memory (aclrtMallocHost: 64-byte aligned), freed on scope exit.
class HostStaging {
 public:
  explicit HostStaging(xinhe_be_device_s* device) : device_(device) {}
  ~HostStaging() {
    if (bytes_ != nullptr) acl(device_).aclrtFreeHost(bytes_);
  }
  HostStaging(const HostStaging&) = delete;
  HostStaging& operator=(const HostStaging&) = delete;
  xinhe_status_t allocate(uint64_t size) {
    void* p = nullptr;
    XINHE_ACL_CALL(device_, acl(device_).aclrtMallocHost(&p, size), "aclrtMallocHost");
    bytes_ = static_cast<uint8_t*>(p);
    return nullptr;
  }
  uint8_t* bytes() const { return bytes_; }

 private:
  xinhe_be_device_s* device_;
  uint8_t* bytes_ = nullptr;
};

// Device bytes [dst, dst + size) from host memory, at any device address, after the work
// queued before it. An unaligned range goes through an aligned device scratch buffer and a
// device-side byte copy, so no byte outside it is written (another stream may be writing its
// neighbours).
xinhe_status_t write_device(xinhe_be_stream_t stream, uint8_t* dst, const void* src,
                            uint64_t size) {
  xinhe_be_device_s* device = stream->device;
  if (reinterpret_cast<uintptr_t>(dst) % kCopyAlignment == 0) {
    XINHE_BE_RETURN_IF_ERROR(wait_for(stream));
    return memcpy_sync(device, dst, src, size, ACL_MEMCPY_HOST_TO_DEVICE);
  }
  void* scratch = nullptr;
  XINHE_ACL_CALL(device, acl(device).aclrtMalloc(&scratch, size, ACL_MEM_MALLOC_HUGE_FIRST),
                 "aclrtMalloc");
  // The scratch is new, so filling it needs no wait; the byte copy into dst is in stream order.
  xinhe_status_t status = memcpy_sync(device, scratch, src, size, ACL_MEMCPY_HOST_TO_DEVICE);
  if (status == nullptr)
    status = device_byte_copy(stream, dst, static_cast<const uint8_t*>(scratch), size);
  const aclError r = acl(device).aclrtSynchronizeStream(stream->stream);  // scratch in use
  acl(device).aclrtFree(scratch);
  if (status == nullptr && r != ACL_SUCCESS)
    status = acl_error(device, r, "aclrtSynchronizeStream", __FILE__, __LINE__);
  return status;
}

// Host bytes from device bytes [src, src + size), at any device address, after the work queued
// before it.
xinhe_status_t read_device(xinhe_be_stream_t stream, void* dst, const uint8_t* src, uint64_t size) {
  xinhe_be_device_s* device = stream->device;
  XINHE_BE_RETURN_IF_ERROR(wait_for(stream));
  const uint64_t head = reinterpret_cast<uintptr_t>(src) % kCopyAlignment;
  if (head == 0) return memcpy_sync(device, dst, src, size, ACL_MEMCPY_DEVICE_TO_HOST);
  HostStaging staging(device);
  XINHE_BE_RETURN_IF_ERROR(staging.allocate(head + size));
  XINHE_BE_RETURN_IF_ERROR(
      memcpy_sync(device, staging.bytes(), src - head, head + size, ACL_MEMCPY_DEVICE_TO_HOST));
  std::memcpy(dst, staging.bytes() + head, size);
  return nullptr;
}

xinhe_status_t copy_host_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  return write_device(stream, address_of(dst), src, size);
}

xinhe_status_t copy_device_to_host(xinhe_be_stream_t stream, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  return read_device(stream, dst, address_of(src), size);
}

xinhe_status_t copy_device_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                     xinhe_be_mem_t src, uint64_t size) {
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  uint8_t* d = address_of(dst);
  const uint8_t* s = address_of(src);
  if (reinterpret_cast<uintptr_t>(d) % kCopyAlignment == 0 &&
      reinterpret_cast<uintptr_t>(s) % kCopyAlignment == 0) {
    XINHE_ACL_CALL(
        stream->device,
        acl(stream->device)
            .aclrtMemcpyAsync(d, size, s, size, ACL_MEMCPY_DEVICE_TO_DEVICE, stream->stream),
        "aclrtMemcpyAsync");
    return nullptr;
  }
  return device_byte_copy(stream, d, s, size);
}

xinhe_status_t fill(xinhe_be_stream_t stream, xinhe_be_mem_t dst, uint64_t size,
                    const void* pattern, uint32_t pattern_size) {
  xinhe_be_device_s* device = stream->device;
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  const uint8_t* p = static_cast<const uint8_t*>(pattern);
  bool one_byte = true;
  for (uint32_t i = 1; i < pattern_size; ++i) one_byte = one_byte && p[i] == p[0];
  uint8_t* d = address_of(dst);
  if (one_byte && reinterpret_cast<uintptr_t>(d) % kCopyAlignment == 0) {
    XINHE_ACL_CALL(device, acl(device).aclrtMemsetAsync(d, size, p[0], size, stream->stream),
                   "aclrtMemsetAsync");
    return nullptr;
  }
  HostStaging bytes(device);
  XINHE_BE_RETURN_IF_ERROR(bytes.allocate(size));
  for (uint64_t i = 0; i < size; ++i) bytes.bytes()[i] = p[i % pattern_size];
  return write_device(stream, d, bytes.bytes(), size);
}

// ---- Events ----

xinhe_status_t event_create(xinhe_be_device_t device, xinhe_be_event_t* out) {
  XINHE_BE_RETURN_IF_ERROR(bind(device));
  aclrtEvent event = nullptr;
  XINHE_ACL_CALL(device,
                 acl(device).aclrtCreateEventWithFlag(&event, ACL_EVENT_SYNC | ACL_EVENT_TIME_LINE),
                 "aclrtCreateEventWithFlag");
  auto* e = new (std::nothrow) xinhe_be_event_s{device, event};
  if (e == nullptr) {
    acl(device).aclrtDestroyEvent(event);
    return make_error(host(device), XINHE_STATUS_OUT_OF_MEMORY, "event_create", __FILE__, __LINE__,
                      "no memory");
  }
  *out = e;
  return nullptr;
}

void event_destroy(xinhe_be_event_t event) {
  if (bind(event->device) == nullptr) acl(event->device).aclrtDestroyEvent(event->event);
  delete event;
}

xinhe_status_t event_record(xinhe_be_event_t event, xinhe_be_stream_t stream) {
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  XINHE_ACL_CALL(stream->device, acl(stream->device).aclrtRecordEvent(event->event, stream->stream),
                 "aclrtRecordEvent");
  return nullptr;
}

xinhe_status_t stream_wait_event(xinhe_be_stream_t stream, xinhe_be_event_t event) {
  XINHE_BE_RETURN_IF_ERROR(bind(stream->device));
  XINHE_ACL_CALL(stream->device,
                 acl(stream->device).aclrtStreamWaitEvent(stream->stream, event->event),
                 "aclrtStreamWaitEvent");
  return nullptr;
}

xinhe_status_t event_synchronize(xinhe_be_event_t event) {
  XINHE_BE_RETURN_IF_ERROR(bind(event->device));
  XINHE_ACL_CALL(event->device, acl(event->device).aclrtSynchronizeEvent(event->event),
                 "aclrtSynchronizeEvent");
  return nullptr;
}

xinhe_status_t event_query(xinhe_be_event_t event, int* out_done) {
  XINHE_BE_RETURN_IF_ERROR(bind(event->device));
  aclrtEventRecordedStatus status = ACL_EVENT_RECORDED_STATUS_NOT_READY;
  XINHE_ACL_CALL(event->device, acl(event->device).aclrtQueryEventStatus(event->event, &status),
                 "aclrtQueryEventStatus");
  *out_done = status == ACL_EVENT_RECORDED_STATUS_COMPLETE;
  return nullptr;
}

xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  XINHE_BE_RETURN_IF_ERROR(bind(start->device));
  XINHE_ACL_CALL(start->device,
                 acl(start->device).aclrtEventElapsedTime(out_ms, start->event, end->event),
                 "aclrtEventElapsedTime");
  return nullptr;
}

const xinhe_backend_api_t kApi = {
    sizeof(xinhe_backend_api_t),
    XINHE_BACKEND_ABI_MAJOR,
    XINHE_BACKEND_ABI_MINOR,
    kBackendName,
    backend_create,
    backend_destroy,
    device_count,
    device_open,
    device_close,
    device_properties,
    buffer_alloc,
    buffer_free,
    stream_create,
    stream_destroy,
    stream_synchronize,
    nullptr,  // stream_query: a record-and-query would race the record; the core synchronizes
    copy_host_to_device,
    copy_device_to_host,
    copy_device_to_device,
    fill,
    event_create,
    event_destroy,
    event_record,
    stream_wait_event,
    event_synchronize,
    event_query,
    event_elapsed_ms,
    op_create,
    op_destroy,
    op_check,
    op_workspace_size,
    op_impl_name,
    op_run,
    nullptr,  // buffer_host_pointer: device memory is not host memory
    nullptr,  // buffer_wrap_host: AscendCL cannot adopt caller-owned host memory as device memory
    buffer_address,
    nullptr,  // op_run_impl_name: runs use the implementation chosen at create
};

}  // namespace

const xinhe_backend_api_t* backend_api() { return &kApi; }

}  // namespace xinhe::ascend

// The table whatever the core's version: the core compares the versions and says which differ
// (backend.h), where a NULL would only say "returned NULL".
extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(
    uint32_t /*host_abi_major*/, uint32_t /*host_abi_minor*/) {
  return xinhe::ascend::backend_api();
}
