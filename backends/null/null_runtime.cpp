// The null backend's runtime: buffers, copies, fills, streams and events on host memory.
//
// The stand-in executes every command when it is submitted, so a stream is always idle, an
// event is complete as soon as it is recorded, and its timestamp is taken then. A chip's runtime
// is asynchronous: each TODO(null) names the call that replaces the stand-in (step 4 of
// docs/porting.md maps every entry to CUDA-like, OpenCL/Level Zero and NPU runtimes). What the
// suite checks beyond the entry names (same step): buffers placed at the requested alignment,
// queries that say done only when the work is done, stream_destroy waiting for queued work,
// events usable after their stream is gone.
//
// The core has validated every argument (ranges inside buffers, sizes > 0, alignment a power of
// two >= min_alignment, events of this device): nothing here checks them again.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "null_backend.h"

namespace null_backend {

namespace {

unsigned char* at(xinhe_be_mem_t mem) { return mem.buffer->data + mem.offset; }

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Takes size bytes of the device's memory, or returns false when that would exceed it.
bool reserve(xinhe_be_device_t device, uint64_t size) {
  uint64_t used = device->bytes_in_use.load();
  do {
    if (size > kDeviceMemoryBytes - used) return false;
  } while (!device->bytes_in_use.compare_exchange_weak(used, used + size));
  return true;
}

}  // namespace

// ---- Buffers ---------------------------------------------------------------------------------

xinhe_status_t buffer_alloc(xinhe_be_device_t device, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out_buffer) {
  // TODO(null): allocate device memory (cuMemAlloc, aclrtMalloc, zeMemAllocDevice...). If your
  // allocator cannot honour `alignment`, over-allocate and offset, or decline with UNIMPLEMENTED
  // and the reason: never return a less aligned buffer.
  if (alignment > kDeviceMemoryBytes) {
    return NULL_BACKEND_ERROR(UNIMPLEMENTED, "buffer_alloc",
                              "alignment %llu exceeds the device's %llu bytes of memory",
                              static_cast<unsigned long long>(alignment),
                              static_cast<unsigned long long>(kDeviceMemoryBytes));
  }
  if (!reserve(device, size)) {
    return NULL_BACKEND_ERROR(
        OUT_OF_MEMORY, "buffer_alloc", "%llu bytes requested, %llu of %llu bytes free",
        static_cast<unsigned long long>(size),
        static_cast<unsigned long long>(kDeviceMemoryBytes - device->bytes_in_use.load()),
        static_cast<unsigned long long>(kDeviceMemoryBytes));
  }
  // size <= kDeviceMemoryBytes and alignment <= kDeviceMemoryBytes: the rounding cannot wrap.
  const uint64_t rounded = (size + alignment - 1) / alignment * alignment;
  void* data = std::aligned_alloc(static_cast<size_t>(alignment), static_cast<size_t>(rounded));
  auto* buffer = data != nullptr ? new (std::nothrow) xinhe_be_buffer_s{} : nullptr;
  if (buffer == nullptr) {
    std::free(data);
    device->bytes_in_use -= size;
    return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "aligned_alloc", "%llu bytes aligned to %llu",
                              static_cast<unsigned long long>(rounded),
                              static_cast<unsigned long long>(alignment));
  }
  *buffer = xinhe_be_buffer_s{device, static_cast<unsigned char*>(data), size, true};
  *out_buffer = buffer;
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t buffer) {
  // TODO(null): free the device memory (cuMemFree, aclrtFree...).
  if (buffer->owned) {
    std::free(buffer->data);
    buffer->device->bytes_in_use -= buffer->size;
  }
  delete buffer;
}

// Host access (OPTIONAL): only for devices whose memory the host can address directly.
xinhe_status_t buffer_host_pointer(xinhe_be_buffer_t buffer, void** out_pointer) {
  *out_pointer = buffer->data;
  return nullptr;
}

xinhe_status_t buffer_wrap_host(xinhe_be_device_t device, void* pointer, uint64_t size,
                                xinhe_be_buffer_t* out_buffer) {
  auto* buffer = new (std::nothrow) xinhe_be_buffer_s{};
  if (buffer == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "buffer_wrap_host", "no memory");
  *buffer = xinhe_be_buffer_s{device, static_cast<unsigned char*>(pointer), size, false};
  *out_buffer = buffer;
  return nullptr;
}

// The device address (OPTIONAL): the suite checks alignment through it; interop uses it.
xinhe_status_t buffer_address(xinhe_be_buffer_t buffer, uint64_t* out_address) {
  // TODO(null): the device pointer (CUdeviceptr, the value aclrtMalloc returned...).
  *out_address = reinterpret_cast<uintptr_t>(buffer->data);
  return nullptr;
}

// ---- Streams ---------------------------------------------------------------------------------

xinhe_status_t stream_create(xinhe_be_device_t device, xinhe_be_stream_t* out_stream) {
  // TODO(null): create an in-order queue (cuStreamCreate, aclrtCreateStream, an in-order
  // clCreateCommandQueue).
  auto* stream = new (std::nothrow) xinhe_be_stream_s{device};
  if (stream == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "stream_create", "no memory");
  *out_stream = stream;
  return nullptr;
}

void stream_destroy(xinhe_be_stream_t stream) {
  // TODO(null): wait for the queued work, then destroy the queue: the contract says destroying
  // a stream waits (the caller's host buffers may still be read by a queued copy).
  delete stream;
}

xinhe_status_t stream_synchronize(xinhe_be_stream_t) {
  // TODO(null): block until the queue is empty (cuStreamSynchronize, aclrtSynchronizeStream).
  return nullptr;
}

xinhe_status_t stream_query(xinhe_be_stream_t, int* out_done) {
  // TODO(null): ask the driver without blocking (cuStreamQuery); say done only when it is.
  *out_done = 1;
  return nullptr;
}

// ---- Copies and fills ------------------------------------------------------------------------
// TODO(null): enqueue on the stream and return (cuMemcpyHtoDAsync, aclrtMemcpyAsync with its
// explicit direction, clEnqueueWriteBuffer non-blocking). The caller keeps host memory alive
// until the stream reaches the copy.

xinhe_status_t copy_host_to_device(xinhe_be_stream_t, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  std::memcpy(at(dst), src, size);
  return nullptr;
}

xinhe_status_t copy_device_to_host(xinhe_be_stream_t, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  std::memcpy(dst, at(src), size);
  return nullptr;
}

xinhe_status_t copy_device_to_device(xinhe_be_stream_t, xinhe_be_mem_t dst, xinhe_be_mem_t src,
                                     uint64_t size) {
  // The core rejects overlapping ranges of one buffer, so memcpy is enough.
  std::memcpy(at(dst), at(src), size);
  return nullptr;
}

// pattern_size is 1, 2 or 4; size and dst.offset are multiples of it (checked by the core).
xinhe_status_t fill(xinhe_be_stream_t, xinhe_be_mem_t dst, uint64_t size, const void* pattern,
                    uint32_t pattern_size) {
  // TODO(null): cuMemsetD8/D16/D32Async, aclrtMemsetAsync (1-byte only: write the pattern once
  // and double it with device copies, or run a fill kernel), clEnqueueFillBuffer.
  unsigned char* out = at(dst);
  if (pattern_size == 1) {
    std::memset(out, *static_cast<const unsigned char*>(pattern), size);
    return nullptr;
  }
  for (uint64_t i = 0; i < size; i += pattern_size) std::memcpy(out + i, pattern, pattern_size);
  return nullptr;
}

// ---- Events ----------------------------------------------------------------------------------

xinhe_status_t event_create(xinhe_be_device_t, xinhe_be_event_t* out_event) {
  // TODO(null): cuEventCreate, aclrtCreateEventWithFlag (with timing), a marker-capable event.
  auto* event = new (std::nothrow) xinhe_be_event_s{};
  if (event == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "event_create", "no memory");
  *out_event = event;
  return nullptr;
}

void event_destroy(xinhe_be_event_t event) { delete event; }

xinhe_status_t event_record(xinhe_be_event_t event, xinhe_be_stream_t) {
  // TODO(null): enqueue a marker that captures the stream's work so far (cuEventRecord,
  // aclrtRecordEvent, clEnqueueMarkerWithWaitList). Re-recording replaces the capture.
  event->finished_ns = now_ns();
  return nullptr;
}

xinhe_status_t stream_wait_event(xinhe_be_stream_t, xinhe_be_event_t) {
  // TODO(null): make the stream's later work wait for the event on the device, without
  // blocking the host (cuStreamWaitEvent, aclrtStreamWaitEvent).
  return nullptr;
}

xinhe_status_t event_synchronize(xinhe_be_event_t) {
  // TODO(null): block until the captured work is done (cuEventSynchronize).
  return nullptr;
}

xinhe_status_t event_query(xinhe_be_event_t, int* out_done) {
  // TODO(null): cuEventQuery, aclrtQueryEventStatus: done only when the captured work is.
  *out_done = 1;
  return nullptr;
}

// Called with two recorded, completed events of one device. Device time between the markers.
xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  // TODO(null): cuEventElapsedTime, aclrtEventElapsedTime. Without device timestamps, remove
  // XINHE_DEVICE_FLAG_TIMING and this entry (the core then reports UNIMPLEMENTED).
  *out_ms = static_cast<float>(static_cast<double>(end->finished_ns - start->finished_ns) / 1e6);
  return nullptr;
}

}  // namespace null_backend
