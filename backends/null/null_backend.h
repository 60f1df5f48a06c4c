// The null backend: a template for a new chip's xinhe backend (after IREE's drivers/null). Its
// runtime works on host memory, so it passes the runtime part of the conformance suite as it
// stands; every op is declined with UNIMPLEMENTED and a reason. Copy the folder, rename it (see
// README.md) and replace each host stand-in marked TODO(null) with your driver's call.
//
// This header holds the backend's objects (the xinhe_be_*_s structs the core sees only as opaque
// handles) and the entries each .cpp file contributes to the table in null_backend.cpp:
//   null_backend.cpp  entry symbol, table, backend and devices
//   null_runtime.cpp  buffers, copies, fills, streams and events
//   null_ops.cpp      GEMM and attention: the implementation lists (empty of kernels)
// Ownership: the core creates and destroys every object through the table; a plugin never frees
// what the core owns (statuses it returns become the core's).
#ifndef XINHE_NULL_BACKEND_H_
#define XINHE_NULL_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "xinhe/backend.h"
#include "xinhe/backend.hpp"

namespace null_backend {

// The backend's name: the device names' prefix ("null:0") and every status's backend.
inline constexpr const char kBackendName[] = "null";

// TODO(null): the numbers your driver reports (device memory size, units, alignment).
inline constexpr uint64_t kDeviceMemoryBytes = uint64_t{4} << 30;
inline constexpr uint64_t kMinAlignment = 64;
inline constexpr uint32_t kDeviceCount = 1;

// A status of code XINHE_STATUS_<code> from this backend, naming the failing call, printf-style,
// through the one status family of xinhe/backend.hpp.
#define NULL_BACKEND_ERROR(code, call, ...) \
  XINHE_BE_ERROR(::null_backend::host(), code, ::null_backend::kBackendName, (call), __VA_ARGS__)

// The host API backend_create received (it outlives the backend).
const xinhe_host_api_t* host();

}  // namespace null_backend

// TODO(null): add your driver's handles to each object (context, queue, allocation, event...).
struct xinhe_be_backend_s {
  const xinhe_host_api_t* host;
};

struct xinhe_be_device_s {
  uint32_t index;
  // Bytes allocated: the stand-in for the device's memory, so that a request beyond
  // kDeviceMemoryBytes fails with OUT_OF_MEMORY as it would on a chip.
  std::atomic<uint64_t> bytes_in_use{0};
};

struct xinhe_be_buffer_s {
  xinhe_be_device_t device;
  unsigned char* data;  // host memory standing in for device memory
  uint64_t size;
  bool owned;  // false for buffer_wrap_host: the caller's memory
};

struct xinhe_be_stream_s {
  xinhe_be_device_t device;
};

struct xinhe_be_event_s {
  // When the work before the event finished (steady clock, nanoseconds). Work runs at
  // submission, so that is when event_record is called.
  std::atomic<int64_t> finished_ns{0};
};

struct xinhe_be_op_s {
  xinhe_op_kind_t kind;
  std::string impl_name;  // what op_impl_name reports
  std::string declined;   // why no implementation runs the op ("" when one does)
};

namespace null_backend {

// null_backend.cpp
xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out_backend);
void backend_destroy(xinhe_be_backend_t backend);
xinhe_status_t device_count(xinhe_be_backend_t backend, uint32_t* out_count);
xinhe_status_t device_open(xinhe_be_backend_t backend, uint32_t index,
                           xinhe_be_device_t* out_device);
void device_close(xinhe_be_device_t device);
xinhe_status_t device_properties(xinhe_be_device_t device, xinhe_device_properties_t* out);

// null_runtime.cpp
xinhe_status_t buffer_alloc(xinhe_be_device_t device, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out_buffer);
void buffer_free(xinhe_be_buffer_t buffer);
xinhe_status_t buffer_host_pointer(xinhe_be_buffer_t buffer, void** out_pointer);
xinhe_status_t buffer_wrap_host(xinhe_be_device_t device, void* pointer, uint64_t size,
                                xinhe_be_buffer_t* out_buffer);
xinhe_status_t buffer_address(xinhe_be_buffer_t buffer, uint64_t* out_address);
xinhe_status_t stream_create(xinhe_be_device_t device, xinhe_be_stream_t* out_stream);
void stream_destroy(xinhe_be_stream_t stream);
xinhe_status_t stream_synchronize(xinhe_be_stream_t stream);
xinhe_status_t stream_query(xinhe_be_stream_t stream, int* out_done);
xinhe_status_t copy_host_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size);
xinhe_status_t copy_device_to_host(xinhe_be_stream_t stream, void* dst, xinhe_be_mem_t src,
                                   uint64_t size);
xinhe_status_t copy_device_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                     xinhe_be_mem_t src, uint64_t size);
xinhe_status_t fill(xinhe_be_stream_t stream, xinhe_be_mem_t dst, uint64_t size,
                    const void* pattern, uint32_t pattern_size);
xinhe_status_t event_create(xinhe_be_device_t device, xinhe_be_event_t* out_event);
void event_destroy(xinhe_be_event_t event);
xinhe_status_t event_record(xinhe_be_event_t event, xinhe_be_stream_t stream);
xinhe_status_t stream_wait_event(xinhe_be_stream_t stream, xinhe_be_event_t event);
xinhe_status_t event_synchronize(xinhe_be_event_t event);
xinhe_status_t event_query(xinhe_be_event_t event, int* out_done);
xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms);

// null_ops.cpp
xinhe_status_t op_create(xinhe_be_device_t device, const xinhe_be_op_desc_t* desc,
                         xinhe_be_op_t* out_op);
void op_destroy(xinhe_be_op_t op);
xinhe_status_t op_check(xinhe_be_op_t op);
xinhe_status_t op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes);
const char* op_impl_name(xinhe_be_op_t op);
xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t stream, const xinhe_be_op_args_t* args);

}  // namespace null_backend

#endif  // XINHE_NULL_BACKEND_H_
