// Devices, streams, buffers, events and copies: the core side of runtime.h.
//
// Every entry validates its arguments completely before a backend sees them (backend.h: the
// backend trusts what it receives): NULL handles and outputs, handles of another device,
// byte ranges outside a buffer or overflowing, overlapping device-to-device ranges, fill
// patterns, alignments. Outputs are written only on success. The core also owns two pieces of
// state the backends do not: whether an event was ever recorded (an unrecorded event is
// complete), and whether a device is lost (sticky; later calls fail fast without reaching the
// backend).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

#include "core.h"

namespace xinhe::core {

xinhe_status_t track_device_status(xinhe_device_t device, xinhe_status_t status) {
  if (status != nullptr && device != nullptr &&
      xinhe_status_code(status) == XINHE_STATUS_DEVICE_LOST) {
    device->lost.store(true, std::memory_order_release);
  }
  return status;
}

xinhe_status_t device_lost_status(xinhe_device_t device, const char* call) {
  if (!device->lost.load(std::memory_order_acquire)) return nullptr;
  return make_status(XINHE_STATUS_DEVICE_LOST, device->backend_name.c_str(), call, __FILE__,
                     __LINE__, "device %s was lost earlier; it cannot be used any more",
                     device->name.c_str());
}

}  // namespace xinhe::core

namespace {

using xinhe::core::range_fits;
using xinhe::core::ranges_overlap;
using xinhe::core::track_device_status;

const char* backend_of(xinhe_device_t device) {
  return device != nullptr ? device->backend_name.c_str() : "";
}

// A status from the core for entry kCall (a local in every entry), naming device's backend.
#define XH_FAIL(code, device, ...)                                                               \
  ::xinhe::core::make_status(XINHE_STATUS_##code, backend_of(device), kCall, __FILE__, __LINE__, \
                             __VA_ARGS__)

#define XH_RETURN_IF_LOST(device)                                                    \
  do {                                                                               \
    if (xinhe_status_t lost_ = ::xinhe::core::device_lost_status((device), kCall)) { \
      return lost_;                                                                  \
    }                                                                                \
  } while (0)

// Checks that buffer belongs to the stream's device; NULL when it does.
xinhe_status_t check_same_device(const char* kCall, xinhe_stream_t stream, xinhe_buffer_t buffer,
                                 const char* what) {
  if (buffer->device != stream->device) {
    return XH_FAIL(INVALID_ARGUMENT, stream->device,
                   "%s belongs to device %s, the stream to device %s", what,
                   buffer->device->name.c_str(), stream->device->name.c_str());
  }
  return nullptr;
}

xinhe_status_t check_range(const char* kCall, xinhe_buffer_t buffer, uint64_t offset, uint64_t size,
                           const char* what) {
  if (!range_fits(offset, size, buffer->size)) {
    return XH_FAIL(INVALID_ARGUMENT, buffer->device,
                   "%s range [%llu, +%llu) does not fit in its buffer of %llu bytes", what,
                   static_cast<unsigned long long>(offset), static_cast<unsigned long long>(size),
                   static_cast<unsigned long long>(buffer->size));
  }
  return nullptr;
}

xinhe_be_mem_t be_mem(xinhe_buffer_t buffer, uint64_t offset) {
  return xinhe_be_mem_t{buffer->be, offset};
}

}  // namespace

extern "C" {

// ---- Device properties ------------------------------------------------------------------------

xinhe_status_t xinhe_device_properties(xinhe_device_t device,
                                       xinhe_device_properties_t* out_properties) {
  static const char* kCall = "xinhe_device_properties";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (out_properties == nullptr) {
    return XH_FAIL(INVALID_ARGUMENT, device, "out_properties is NULL");
  }
  // Callers built against 0.1.0 pass the struct without device_type; they get what they know.
  if (out_properties->struct_size < XINHE_DEVICE_PROPERTIES_SIZE_V0_1) {
    return XH_FAIL(INVALID_ARGUMENT, device,
                   "out_properties->struct_size is %zu, expected at least %zu",
                   out_properties->struct_size, XINHE_DEVICE_PROPERTIES_SIZE_V0_1);
  }
  XH_RETURN_IF_LOST(device);
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  xinhe_status_t status =
      track_device_status(device, device->api->device_properties(device->be, &props));
  if (status != nullptr) return status;
  props.struct_size = sizeof(props);
  std::snprintf(props.name, sizeof(props.name), "%s", device->name.c_str());
  std::snprintf(props.backend, sizeof(props.backend), "%s", device->backend_name.c_str());
  props.min_alignment = device->min_alignment;
  props.device_type = device->type;  // as the registry checked it at load
  const size_t filled = std::min(out_properties->struct_size, sizeof(props));
  props.struct_size = filled;
  std::memcpy(out_properties, &props, filled);
  return nullptr;
}

const char* xinhe_device_type_name(xinhe_device_type_t type) {
  // Read as the integer a C caller may have stored, in or out of the enum's range.
  uint32_t value = 0;
  static_assert(sizeof(type) == sizeof(value), "xinhe_device_type_t is 32 bits");
  std::memcpy(&value, &type, sizeof(value));
  switch (value) {
    case XINHE_DEVICE_TYPE_CPU:
      return "cpu";
    case XINHE_DEVICE_TYPE_GPU:
      return "gpu";
    case XINHE_DEVICE_TYPE_NPU:
      return "npu";
    case XINHE_DEVICE_TYPE_ACCELERATOR:
      return "accelerator";
    default:
      return "unknown";
  }
}

const char* xinhe_device_name(xinhe_device_t device) {
  return device == nullptr ? "" : device->name.c_str();
}

// ---- Streams ----------------------------------------------------------------------------------

xinhe_status_t xinhe_stream_create(xinhe_device_t device, xinhe_stream_t* out_stream) {
  static const char* kCall = "xinhe_stream_create";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (out_stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "out_stream is NULL");
  XH_RETURN_IF_LOST(device);
  xinhe_be_stream_t be = nullptr;
  xinhe_status_t status = track_device_status(device, device->api->stream_create(device->be, &be));
  if (status != nullptr) return status;
  auto* stream = new (std::nothrow) xinhe_stream_s{device, be};
  if (stream == nullptr) {
    device->api->stream_destroy(be);
    return XH_FAIL(OUT_OF_MEMORY, device, "host allocation of the stream failed");
  }
  *out_stream = stream;
  return nullptr;
}

void xinhe_stream_destroy(xinhe_stream_t stream) {
  if (stream == nullptr) return;
  // Even on a lost device the backend must release its host-side state.
  stream->device->api->stream_destroy(stream->be);
  delete stream;
}

xinhe_status_t xinhe_stream_synchronize(xinhe_stream_t stream) {
  static const char* kCall = "xinhe_stream_synchronize";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  XH_RETURN_IF_LOST(stream->device);
  return track_device_status(stream->device, stream->device->api->stream_synchronize(stream->be));
}

xinhe_status_t xinhe_stream_query(xinhe_stream_t stream, int* out_done) {
  static const char* kCall = "xinhe_stream_query";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  if (out_done == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "out_done is NULL");
  XH_RETURN_IF_LOST(stream->device);
  const xinhe_backend_api_t* api = stream->device->api;
  int done = 0;
  xinhe_status_t status = nullptr;
  if (api->stream_query != nullptr) {
    status = api->stream_query(stream->be, &done);
  } else {
    status = api->stream_synchronize(stream->be);  // documented default (backend.h)
    done = 1;
  }
  status = track_device_status(stream->device, status);
  if (status != nullptr) return status;
  *out_done = done != 0 ? 1 : 0;
  return nullptr;
}

xinhe_device_t xinhe_stream_device(xinhe_stream_t stream) {
  return stream == nullptr ? nullptr : stream->device;
}

// ---- Buffers ----------------------------------------------------------------------------------

xinhe_status_t xinhe_buffer_alloc(xinhe_device_t device, uint64_t size, uint64_t alignment,
                                  xinhe_buffer_t* out_buffer) {
  static const char* kCall = "xinhe_buffer_alloc";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (out_buffer == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "out_buffer is NULL");
  if (alignment != 0 && !xinhe::core::is_pow2(alignment)) {
    return XH_FAIL(INVALID_ARGUMENT, device, "alignment %llu is not a power of two",
                   static_cast<unsigned long long>(alignment));
  }
  XH_RETURN_IF_LOST(device);
  const uint64_t effective_alignment = std::max(alignment, device->min_alignment);
  xinhe_be_buffer_t be = nullptr;
  if (size > 0) {  // 0-byte buffers have no backend allocation (backend.h)
    xinhe_status_t status = track_device_status(
        device, device->api->buffer_alloc(device->be, size, effective_alignment, &be));
    if (status != nullptr) return status;
  }
  auto* buffer = new (std::nothrow) xinhe_buffer_s{device, be, size, effective_alignment};
  if (buffer == nullptr) {
    if (be != nullptr) device->api->buffer_free(be);
    return XH_FAIL(OUT_OF_MEMORY, device, "host allocation of the buffer handle failed");
  }
  *out_buffer = buffer;
  return nullptr;
}

void xinhe_buffer_free(xinhe_buffer_t buffer) {
  if (buffer == nullptr) return;
  if (buffer->be != nullptr) buffer->device->api->buffer_free(buffer->be);
  delete buffer;
}

uint64_t xinhe_buffer_size(xinhe_buffer_t buffer) { return buffer == nullptr ? 0 : buffer->size; }

xinhe_device_t xinhe_buffer_device(xinhe_buffer_t buffer) {
  return buffer == nullptr ? nullptr : buffer->device;
}

// ---- Host access ------------------------------------------------------------------------------

xinhe_status_t xinhe_buffer_host_pointer(xinhe_buffer_t buffer, void** out_pointer) {
  static const char* kCall = "xinhe_buffer_host_pointer";
  if (buffer == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "buffer is NULL");
  xinhe_device_t device = buffer->device;
  if (out_pointer == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "out_pointer is NULL");
  XH_RETURN_IF_LOST(device);
  if (device->api->buffer_host_pointer == nullptr) {
    return XH_FAIL(UNIMPLEMENTED, device,
                   "buffers of %s are not host-addressable memory; copy them to the host instead",
                   device->name.c_str());
  }
  if (buffer->be == nullptr) {  // 0-byte buffer: nothing to address
    *out_pointer = nullptr;
    return nullptr;
  }
  void* pointer = nullptr;
  xinhe_status_t status =
      track_device_status(device, device->api->buffer_host_pointer(buffer->be, &pointer));
  if (status != nullptr) return status;
  *out_pointer = pointer;
  return nullptr;
}

xinhe_status_t xinhe_buffer_wrap_host(xinhe_device_t device, void* pointer, uint64_t size,
                                      xinhe_buffer_t* out_buffer) {
  static const char* kCall = "xinhe_buffer_wrap_host";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (out_buffer == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "out_buffer is NULL");
  if (pointer == nullptr && size > 0) {
    return XH_FAIL(INVALID_ARGUMENT, device, "pointer is NULL for %llu bytes",
                   static_cast<unsigned long long>(size));
  }
  if (size > UINTPTR_MAX - reinterpret_cast<uintptr_t>(pointer)) {
    return XH_FAIL(INVALID_ARGUMENT, device,
                   "host range %p + %llu bytes runs past the end of the address space", pointer,
                   static_cast<unsigned long long>(size));
  }
  XH_RETURN_IF_LOST(device);
  if (device->api->buffer_wrap_host == nullptr) {
    return XH_FAIL(UNIMPLEMENTED, device,
                   "%s cannot use host memory as device memory; copy it to a buffer instead",
                   device->name.c_str());
  }
  if (reinterpret_cast<uintptr_t>(pointer) % device->min_alignment != 0) {
    return XH_FAIL(INVALID_ARGUMENT, device,
                   "host pointer %p is not aligned to the device's %llu-byte minimum alignment",
                   pointer, static_cast<unsigned long long>(device->min_alignment));
  }
  xinhe_be_buffer_t be = nullptr;
  if (size > 0) {
    xinhe_status_t status =
        track_device_status(device, device->api->buffer_wrap_host(device->be, pointer, size, &be));
    if (status != nullptr) return status;
  }
  auto* buffer = new (std::nothrow) xinhe_buffer_s{device, be, size, device->min_alignment};
  if (buffer == nullptr) {
    if (be != nullptr) device->api->buffer_free(be);
    return XH_FAIL(OUT_OF_MEMORY, device, "host allocation of the buffer handle failed");
  }
  *out_buffer = buffer;
  return nullptr;
}

xinhe_status_t xinhe_buffer_address(xinhe_buffer_t buffer, uint64_t* out_address) {
  static const char* kCall = "xinhe_buffer_address";
  if (buffer == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "buffer is NULL");
  if (out_address == nullptr) {
    return XH_FAIL(INVALID_ARGUMENT, buffer->device, "out_address is NULL");
  }
  XH_RETURN_IF_LOST(buffer->device);
  if (buffer->be == nullptr) {
    return XH_FAIL(UNIMPLEMENTED, buffer->device, "a 0-byte buffer has no memory and no address");
  }
  const xinhe_backend_api_t* api = buffer->device->api;
  if (api->buffer_address == nullptr) {
    return XH_FAIL(UNIMPLEMENTED, buffer->device,
                   "backend %s exposes no buffer addresses (its buffers are opaque handles)",
                   buffer->device->backend_name.c_str());
  }
  uint64_t address = 0;
  xinhe_status_t status =
      track_device_status(buffer->device, api->buffer_address(buffer->be, &address));
  if (status != nullptr) return status;
  *out_address = address;
  return nullptr;
}

// ---- Copies and fill --------------------------------------------------------------------------

xinhe_status_t xinhe_copy_host_to_device(xinhe_stream_t stream, xinhe_buffer_t dst,
                                         uint64_t dst_offset, const void* src, uint64_t size) {
  static const char* kCall = "xinhe_copy_host_to_device";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  if (dst == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "dst is NULL");
  if (src == nullptr && size > 0) {
    return XH_FAIL(INVALID_ARGUMENT, stream->device, "src is NULL");
  }
  if (xinhe_status_t s = check_same_device(kCall, stream, dst, "dst")) return s;
  if (xinhe_status_t s = check_range(kCall, dst, dst_offset, size, "dst")) return s;
  XH_RETURN_IF_LOST(stream->device);
  if (size == 0) return nullptr;
  return track_device_status(stream->device, stream->device->api->copy_host_to_device(
                                                 stream->be, be_mem(dst, dst_offset), src, size));
}

xinhe_status_t xinhe_copy_device_to_host(xinhe_stream_t stream, void* dst, xinhe_buffer_t src,
                                         uint64_t src_offset, uint64_t size) {
  static const char* kCall = "xinhe_copy_device_to_host";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  if (src == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "src is NULL");
  if (dst == nullptr && size > 0) {
    return XH_FAIL(INVALID_ARGUMENT, stream->device, "dst is NULL");
  }
  if (xinhe_status_t s = check_same_device(kCall, stream, src, "src")) return s;
  if (xinhe_status_t s = check_range(kCall, src, src_offset, size, "src")) return s;
  XH_RETURN_IF_LOST(stream->device);
  if (size == 0) return nullptr;
  return track_device_status(stream->device, stream->device->api->copy_device_to_host(
                                                 stream->be, dst, be_mem(src, src_offset), size));
}

xinhe_status_t xinhe_copy_device_to_device(xinhe_stream_t stream, xinhe_buffer_t dst,
                                           uint64_t dst_offset, xinhe_buffer_t src,
                                           uint64_t src_offset, uint64_t size) {
  static const char* kCall = "xinhe_copy_device_to_device";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  if (dst == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "dst is NULL");
  if (src == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "src is NULL");
  if (xinhe_status_t s = check_same_device(kCall, stream, dst, "dst")) return s;
  if (xinhe_status_t s = check_same_device(kCall, stream, src, "src")) return s;
  if (xinhe_status_t s = check_range(kCall, dst, dst_offset, size, "dst")) return s;
  if (xinhe_status_t s = check_range(kCall, src, src_offset, size, "src")) return s;
  if (dst == src && ranges_overlap(dst_offset, size, src_offset, size)) {
    return XH_FAIL(
        INVALID_ARGUMENT, stream->device,
        "dst [%llu, +%llu) and src [%llu, +%llu) overlap in the same buffer",
        static_cast<unsigned long long>(dst_offset), static_cast<unsigned long long>(size),
        static_cast<unsigned long long>(src_offset), static_cast<unsigned long long>(size));
  }
  XH_RETURN_IF_LOST(stream->device);
  if (size == 0) return nullptr;
  return track_device_status(
      stream->device, stream->device->api->copy_device_to_device(
                          stream->be, be_mem(dst, dst_offset), be_mem(src, src_offset), size));
}

xinhe_status_t xinhe_buffer_fill(xinhe_stream_t stream, xinhe_buffer_t dst, uint64_t offset,
                                 uint64_t size, const void* pattern, uint32_t pattern_size) {
  static const char* kCall = "xinhe_buffer_fill";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  if (dst == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "dst is NULL");
  if (pattern == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "pattern is NULL");
  if (pattern_size != 1 && pattern_size != 2 && pattern_size != 4) {
    return XH_FAIL(INVALID_ARGUMENT, stream->device, "pattern_size %u is not 1, 2 or 4",
                   pattern_size);
  }
  if (offset % pattern_size != 0 || size % pattern_size != 0) {
    return XH_FAIL(INVALID_ARGUMENT, stream->device,
                   "offset %llu and size %llu must be multiples of pattern_size %u",
                   static_cast<unsigned long long>(offset), static_cast<unsigned long long>(size),
                   pattern_size);
  }
  if (xinhe_status_t s = check_same_device(kCall, stream, dst, "dst")) return s;
  if (xinhe_status_t s = check_range(kCall, dst, offset, size, "dst")) return s;
  XH_RETURN_IF_LOST(stream->device);
  if (size == 0) return nullptr;
  return track_device_status(
      stream->device,
      stream->device->api->fill(stream->be, be_mem(dst, offset), size, pattern, pattern_size));
}

// ---- Events -----------------------------------------------------------------------------------

xinhe_status_t xinhe_event_create(xinhe_device_t device, xinhe_event_t* out_event) {
  static const char* kCall = "xinhe_event_create";
  if (device == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "device is NULL");
  if (out_event == nullptr) return XH_FAIL(INVALID_ARGUMENT, device, "out_event is NULL");
  XH_RETURN_IF_LOST(device);
  xinhe_be_event_t be = nullptr;
  xinhe_status_t status = track_device_status(device, device->api->event_create(device->be, &be));
  if (status != nullptr) return status;
  auto* event = new (std::nothrow) xinhe_event_s{};
  if (event == nullptr) {
    device->api->event_destroy(be);
    return XH_FAIL(OUT_OF_MEMORY, device, "host allocation of the event failed");
  }
  event->device = device;
  event->be = be;
  *out_event = event;
  return nullptr;
}

void xinhe_event_destroy(xinhe_event_t event) {
  if (event == nullptr) return;
  event->device->api->event_destroy(event->be);
  delete event;
}

xinhe_status_t xinhe_event_record(xinhe_event_t event, xinhe_stream_t stream) {
  static const char* kCall = "xinhe_event_record";
  if (event == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "event is NULL");
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, event->device, "stream is NULL");
  if (event->device != stream->device) {
    return XH_FAIL(INVALID_ARGUMENT, stream->device,
                   "event belongs to device %s, the stream to device %s",
                   event->device->name.c_str(), stream->device->name.c_str());
  }
  XH_RETURN_IF_LOST(stream->device);
  xinhe_status_t status =
      track_device_status(stream->device, stream->device->api->event_record(event->be, stream->be));
  if (status != nullptr) return status;
  event->recorded.store(true, std::memory_order_release);
  return nullptr;
}

xinhe_status_t xinhe_stream_wait_event(xinhe_stream_t stream, xinhe_event_t event) {
  static const char* kCall = "xinhe_stream_wait_event";
  if (stream == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "stream is NULL");
  if (event == nullptr) return XH_FAIL(INVALID_ARGUMENT, stream->device, "event is NULL");
  XH_RETURN_IF_LOST(stream->device);
  if (event->device != stream->device) {
    // Another device: backends cannot wait on each other's events, so the host waits
    // (runtime.h). Work submitted to the stream after this returns cannot start earlier.
    XH_RETURN_IF_LOST(event->device);
    if (!event->recorded.load(std::memory_order_acquire)) return nullptr;
    return track_device_status(event->device, event->device->api->event_synchronize(event->be));
  }
  if (!event->recorded.load(std::memory_order_acquire)) return nullptr;  // already complete
  return track_device_status(stream->device,
                             stream->device->api->stream_wait_event(stream->be, event->be));
}

xinhe_status_t xinhe_event_synchronize(xinhe_event_t event) {
  static const char* kCall = "xinhe_event_synchronize";
  if (event == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "event is NULL");
  XH_RETURN_IF_LOST(event->device);
  if (!event->recorded.load(std::memory_order_acquire)) return nullptr;
  return track_device_status(event->device, event->device->api->event_synchronize(event->be));
}

}  // extern "C"

namespace {

// Completion of a recorded event, with the documented default when event_query is absent.
xinhe_status_t query_recorded_event(xinhe_event_t event, int* out_done) {
  const xinhe_backend_api_t* api = event->device->api;
  xinhe_status_t status = nullptr;
  int done = 0;
  if (api->event_query != nullptr) {
    status = api->event_query(event->be, &done);
  } else {
    status = api->event_synchronize(event->be);
    done = 1;
  }
  status = track_device_status(event->device, status);
  if (status == nullptr) *out_done = done != 0 ? 1 : 0;
  return status;
}

}  // namespace

extern "C" {

xinhe_status_t xinhe_event_query(xinhe_event_t event, int* out_done) {
  static const char* kCall = "xinhe_event_query";
  if (event == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "event is NULL");
  if (out_done == nullptr) return XH_FAIL(INVALID_ARGUMENT, event->device, "out_done is NULL");
  XH_RETURN_IF_LOST(event->device);
  if (!event->recorded.load(std::memory_order_acquire)) {
    *out_done = 1;
    return nullptr;
  }
  return query_recorded_event(event, out_done);
}

xinhe_status_t xinhe_event_elapsed_ms(xinhe_event_t start, xinhe_event_t end, float* out_ms) {
  static const char* kCall = "xinhe_event_elapsed_ms";
  if (start == nullptr) return XH_FAIL(INVALID_ARGUMENT, nullptr, "start is NULL");
  if (end == nullptr) return XH_FAIL(INVALID_ARGUMENT, start->device, "end is NULL");
  if (out_ms == nullptr) return XH_FAIL(INVALID_ARGUMENT, start->device, "out_ms is NULL");
  xinhe_device_t device = start->device;
  if (end->device != device) {
    return XH_FAIL(INVALID_ARGUMENT, device, "start is on device %s, end on device %s",
                   device->name.c_str(), end->device->name.c_str());
  }
  XH_RETURN_IF_LOST(device);
  if ((device->flags & XINHE_DEVICE_FLAG_TIMING) == 0 || device->api->event_elapsed_ms == nullptr) {
    return XH_FAIL(UNIMPLEMENTED, device, "timing not supported by device %s",
                   device->name.c_str());
  }
  if (!start->recorded.load(std::memory_order_acquire) ||
      !end->recorded.load(std::memory_order_acquire)) {
    return XH_FAIL(FAILED_PRECONDITION, device, "%s event was never recorded",
                   start->recorded.load() ? "end" : "start");
  }
  for (xinhe_event_t event : {start, end}) {
    int done = 0;
    if (xinhe_status_t status = query_recorded_event(event, &done)) return status;
    if (!done) {
      return XH_FAIL(FAILED_PRECONDITION, device, "%s event has not completed",
                     event == start ? "start" : "end");
    }
  }
  float ms = 0.0f;
  xinhe_status_t status =
      track_device_status(device, device->api->event_elapsed_ms(start->be, end->be, &ms));
  if (status != nullptr) return status;
  *out_ms = ms;
  return nullptr;
}

}  // extern "C"
