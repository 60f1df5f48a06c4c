// The null backend's entry point, function table, backend and devices (see null_backend.h).
// backend_create is where a real backend loads its driver: dlopen the vendor library through a
// symbol table and fail with UNAVAILABLE and the library's name when it is missing, so that a
// machine without the driver lists the backend as skipped instead of failing to start.
#include "null_backend.h"

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

namespace null_backend {

namespace {
const xinhe_host_api_t* g_host = nullptr;
}  // namespace

const xinhe_host_api_t* host() { return g_host; }

xinhe_status_t backend_create(const xinhe_host_api_t* host_api, xinhe_be_backend_t* out_backend) {
  g_host = host_api;
  // TODO(null): load the driver here (dlopen + symbol table, as backends/cuda/cuda_driver.h
  // does), initialize it and enumerate the devices; on failure:
  //   return NULL_BACKEND_ERROR(UNAVAILABLE, "dlopen", "libmychip.so.1 not found: %s", dlerror());
  auto* backend = new (std::nothrow) xinhe_be_backend_s{host_api};
  if (backend == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "backend_create", "no memory");
  *out_backend = backend;
  return nullptr;
}

void backend_destroy(xinhe_be_backend_t backend) {
  // TODO(null): shut the driver down and dlclose it.
  delete backend;
}

xinhe_status_t device_count(xinhe_be_backend_t, uint32_t* out_count) {
  // TODO(null): the number of devices the driver reports (zero makes the core skip the backend
  // with "no device").
  *out_count = kDeviceCount;
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t, uint32_t index, xinhe_be_device_t* out_device) {
  // TODO(null): open the device and create its context.
  auto* device = new (std::nothrow) xinhe_be_device_s{};
  if (device == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "device_open", "no memory");
  device->index = index;
  *out_device = device;
  return nullptr;
}

void device_close(xinhe_be_device_t device) { delete device; }

// The core fills name and backend; everything else comes from here. The conformance suite
// holds the device to what it claims: min_alignment for every buffer, TIMING for events, and
// every dtype in dtype_caps for every op shape (claim a dtype only once its ops run).
xinhe_status_t device_properties(xinhe_be_device_t device, xinhe_device_properties_t* out) {
  // TODO(null): your device's model, vendor, driver version, memory and units.
  std::snprintf(out->description, sizeof out->description,
                "xinhe template device %u (host memory, no ops)", device->index);
  std::snprintf(out->vendor, sizeof out->vendor, "xinhe template");
  std::snprintf(out->driver_version, sizeof out->driver_version, "0");
  out->total_memory = kDeviceMemoryBytes;
  const uint64_t used = device->bytes_in_use.load();
  out->free_memory = used < kDeviceMemoryBytes ? kDeviceMemoryBytes - used : 0;
  out->compute_units = 1;
  // TODO(null): drop HOST_MEMORY when your buffers are device memory (and with it
  // buffer_host_pointer and buffer_wrap_host in the table below).
  out->flags = XINHE_DEVICE_FLAG_TIMING | XINHE_DEVICE_FLAG_HOST_MEMORY;
  // TODO(null): claim XINHE_DTYPE_CAP(XINHE_DTYPE_F32) etc. once null_ops.cpp runs them.
  out->dtype_caps = 0;
  out->min_alignment = kMinAlignment;
  // TODO(null): your device's type (XINHE_DEVICE_TYPE_GPU, _NPU, _ACCELERATOR or _CPU), written
  // only when the core's struct has the field (ABI 1.3). The default device is the first
  // accelerator by type; the template keeps UNKNOWN so that it never becomes the default.
  if (XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type)) {
    out->device_type = XINHE_DEVICE_TYPE_UNKNOWN;
  }
  // peak_flops and memory_bandwidth stay 0: unknown.
  return nullptr;
}

namespace {

xinhe_backend_api_t make_table() {
  xinhe_backend_api_t t;
  std::memset(&t, 0, sizeof t);
  t.struct_size = sizeof t;
  t.abi_major = XINHE_BACKEND_ABI_MAJOR;
  t.abi_minor = XINHE_BACKEND_ABI_MINOR;
  t.name = kBackendName;
  t.backend_create = backend_create;
  t.backend_destroy = backend_destroy;
  t.device_count = device_count;
  t.device_open = device_open;
  t.device_close = device_close;
  t.device_properties = device_properties;
  t.buffer_alloc = buffer_alloc;
  t.buffer_free = buffer_free;
  t.stream_create = stream_create;
  t.stream_destroy = stream_destroy;
  t.stream_synchronize = stream_synchronize;
  t.stream_query = stream_query;  // OPTIONAL
  t.copy_host_to_device = copy_host_to_device;
  t.copy_device_to_host = copy_device_to_host;
  t.copy_device_to_device = copy_device_to_device;
  t.fill = fill;
  t.event_create = event_create;
  t.event_destroy = event_destroy;
  t.event_record = event_record;
  t.stream_wait_event = stream_wait_event;
  t.event_synchronize = event_synchronize;
  t.event_query = event_query;            // OPTIONAL
  t.event_elapsed_ms = event_elapsed_ms;  // OPTIONAL
  t.op_create = op_create;
  t.op_destroy = op_destroy;
  t.op_check = op_check;
  t.op_workspace_size = op_workspace_size;  // OPTIONAL
  t.op_impl_name = op_impl_name;            // OPTIONAL
  t.op_run = op_run;
  t.buffer_host_pointer = buffer_host_pointer;  // OPTIONAL, host-memory devices only
  t.buffer_wrap_host = buffer_wrap_host;        // OPTIONAL, host-memory devices only
  t.buffer_address = buffer_address;            // OPTIONAL
  return t;
}

const xinhe_backend_api_t kTable = make_table();

}  // namespace
}  // namespace null_backend

// The one exported symbol. It returns the table whatever version the core passes (backend.h,
// contract point 6): the core compares abi_major itself and names both versions when they
// differ; a plugin built against a newer minor still loads (the core ignores entries past the
// struct_size it knows).
extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(uint32_t, uint32_t) {
  return &null_backend::kTable;
}
