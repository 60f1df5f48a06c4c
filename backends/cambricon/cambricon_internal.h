// Shared declarations of the Cambricon plugin (libxinhe_backend_cambricon.so): the loaded vendor
// libraries, the runtime objects behind the backend ABI's opaque handles, and the helpers the
// runtime (cambricon_runtime.cpp) and the ops (cambricon_ops.cpp) both use.
//
// Vendor libraries. CNRT (libcnrt.so) and CNNL (libcnnl.so) are dlopen'ed in backend_create,
// every function through the symbol lists of cambricon_api.h, from the first folder that
// exists among $XINHE_CAMBRICON_LIBRARY_DIR (backend.h, point 7; the former name
// XINHE_CAMBRICON_LIBRARY_PATH is still read when it is unset, with a one-time deprecation
// warning on stderr), $NEUWARE_HOME/lib64 and /usr/local/neuware/lib64, else by bare name
// through the loader's search path. A missing library or required symbol makes the backend
// UNAVAILABLE, naming it; a missing optional symbol stays NULL. The libraries stay loaded until
// the process exits: CNRT keeps threads and exit handlers of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cambricon_api.h"
#include "xinhe/backend.hpp"

namespace xinhe::cambricon {

inline constexpr const char* kBackendName = "cambricon";
inline constexpr uint64_t kMinAlignment = 64;  // promised for every buffer (see buffer_alloc)

struct Vendor {
#define XINHE_CAMBRICON_DECLARE(name) decltype(&::name) name = nullptr;
  XINHE_CNRT_SYMBOLS(XINHE_CAMBRICON_DECLARE)
  XINHE_CNNL_SYMBOLS(XINHE_CAMBRICON_DECLARE)
  XINHE_CNNL_OPTIONAL_SYMBOLS(XINHE_CAMBRICON_DECLARE)  // NULL when the library lacks them
#undef XINHE_CAMBRICON_DECLARE
  std::string cnrt_path, cnnl_path;  // what was loaded, for xinhe-info
};

struct Backend {
  const xinhe_host_api_t* host = nullptr;
  Vendor api;
};

struct Device {
  Backend* backend = nullptr;
  int index = 0;
  std::string description, driver_version;
  cnnlHandle_t query_handle = nullptr;  // for heuristic and workspace queries at op_create
  std::mutex query_mu;                  // guards query_handle
  const Vendor& api() const { return backend->api; }
  const xinhe_host_api_t* host() const { return backend->host; }
};

struct Buffer {
  Device* device = nullptr;
  void* allocation = nullptr;  // what cnrtMalloc returned
  uint8_t* base = nullptr;     // allocation rounded up to the requested alignment
  uint64_t size = 0;
};

// A stream is a CNRT queue with a CNNL handle bound to it. mu orders submissions so that a
// CNNL call and the copies around it stay together. keep_alive holds host memory that queued
// copies still read (fill patterns, sequence offsets); released once the queue is seen idle.
struct Stream {
  Device* device = nullptr;
  cnrtQueue_t queue = nullptr;
  cnnlHandle_t handle = nullptr;
  std::mutex mu;
  std::vector<std::shared_ptr<const void>> keep_alive;
};

struct Event {
  Device* device = nullptr;
  cnrtNotifier_t notifier = nullptr;
};

// ---- Statuses ----
xinhe_status_t error(const Device* device, xinhe_status_code_t code, const char* call,
                     const char* file, int line, const std::string& message);
xinhe_status_t cnrt_status(const Device* device, cnrtRet_t r, const char* call, const char* file,
                           int line);
xinhe_status_t cnnl_status(const Device* device, cnnlStatus_t s, const char* call, const char* file,
                           int line);
#define XINHE_CNRT(device, call, ...)                                                             \
  do {                                                                                            \
    const cnrtRet_t xinhe_cnrt_r_ = (device)->api().call(__VA_ARGS__);                            \
    if (xinhe_cnrt_r_ != cnrtSuccess)                                                             \
      return ::xinhe::cambricon::cnrt_status((device), xinhe_cnrt_r_, #call, __FILE__, __LINE__); \
  } while (0)
#define XINHE_CNNL(device, call, ...)                                                             \
  do {                                                                                            \
    const cnnlStatus_t xinhe_cnnl_s_ = (device)->api().call(__VA_ARGS__);                         \
    if (xinhe_cnnl_s_ != CNNL_STATUS_SUCCESS)                                                     \
      return ::xinhe::cambricon::cnnl_status((device), xinhe_cnnl_s_, #call, __FILE__, __LINE__); \
  } while (0)

// Makes device current on the calling thread (CNRT's current device is per thread).
xinhe_status_t bind(const Device* device);

// Device address of a (buffer, offset) operand; NULL for an empty operand.
inline uint8_t* address(xinhe_be_mem_t mem) {
  if (mem.buffer == nullptr) return nullptr;
  return reinterpret_cast<Buffer*>(mem.buffer)->base + mem.offset;
}

// Enqueues a fill of bytes at device pointer dst with a repeated pattern of 1, 2 or 4 bytes.
// The caller holds stream->mu.
xinhe_status_t fill_locked(Stream* stream, uint8_t* dst, uint64_t bytes, const void* pattern,
                           uint32_t pattern_size);

// ---- Ops (cambricon_ops.cpp) ----
xinhe_status_t op_create(xinhe_be_device_t device, const xinhe_be_op_desc_t* desc,
                         xinhe_be_op_t* out_op);
void op_destroy(xinhe_be_op_t op);
xinhe_status_t op_check(xinhe_be_op_t op);
xinhe_status_t op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes);
const char* op_impl_name(xinhe_be_op_t op);
xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t stream, const xinhe_be_op_args_t* args);

const xinhe_backend_api_t* backend_api();

}  // namespace xinhe::cambricon
