// xinhe core internals: the status object, the handle structs that wrap backend handles, and
// the registry interface shared by status.cpp, registry.cpp, device.cpp and ops.cpp.
//
// Every public handle (device, stream, buffer, event, op) is a core struct that remembers its
// device, so the core can reject foreign handles before a backend ever sees them. Devices are
// owned by the registry and never freed (see base.h). Nothing here is installed.
#ifndef XINHE_RUNTIME_CORE_H_
#define XINHE_RUNTIME_CORE_H_

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <string>
#include <vector>

#include "xinhe/backend.h"

struct xinhe_status_s {
  xinhe_status_code_t code;
  std::string message;
  std::string backend;
  std::string call;
  std::string file;
  int line;
};

namespace xinhe::core {

// Makes a heap status; message is printf-style. backend/call may be NULL.
xinhe_status_t make_status(xinhe_status_code_t code, const char* backend, const char* call,
                           const char* file, int line, const char* format, ...)
    __attribute__((format(printf, 6, 7)));
xinhe_status_t make_status_v(xinhe_status_code_t code, const char* backend, const char* call,
                             const char* file, int line, const char* format, va_list args);

// A status made by the core, carrying file:line of the caller. Backends use xinhe/backend.hpp's
// XINHE_BE_ERROR (same arguments after the host table) instead: they reach the constructor only
// through xinhe_host_api_t.status_new.
#define XH_ERROR(code, backend, call, ...)                                               \
  ::xinhe::core::make_status(XINHE_STATUS_##code, (backend), (call), __FILE__, __LINE__, \
                             __VA_ARGS__)

// Owns a status so that early returns cannot leak it. release() hands it to the caller.
class Status {
 public:
  Status() = default;
  explicit Status(xinhe_status_t status) : status_(status) {}
  Status(const Status&) = delete;
  Status& operator=(const Status&) = delete;
  Status(Status&& other) noexcept : status_(other.release()) {}
  Status& operator=(Status&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Status() { xinhe_status_free(status_); }

  bool ok() const { return status_ == nullptr; }
  xinhe_status_code_t code() const { return xinhe_status_code(status_); }
  const char* message() const { return xinhe_status_message(status_); }
  xinhe_status_t get() const { return status_; }
  xinhe_status_t release() {
    xinhe_status_t s = status_;
    status_ = nullptr;
    return s;
  }
  void reset(xinhe_status_t status = nullptr) {
    xinhe_status_free(status_);
    status_ = status;
  }

 private:
  xinhe_status_t status_ = nullptr;
};

// Deep copy (used to hand out a stored status more than once).
xinhe_status_t clone_status(xinhe_status_t status);

// 1 when XINHE_VERBOSE (a comma list; "all" enables everything) names topic.
int verbose_enabled(const char* topic);
// "xinhe[<topic>] <backend>: <message>" on stderr, one line, serialized.
void log_line(const char* topic, const char* backend, const char* message);

struct Backend;

}  // namespace xinhe::core

struct xinhe_device_s {
  xinhe::core::Backend* backend = nullptr;
  const xinhe_backend_api_t* api = nullptr;  // the backend's normalized table
  xinhe_be_device_t be = nullptr;
  std::string name;  // "<backend>:<index>"
  std::string backend_name;
  uint32_t index_in_backend = 0;
  uint32_t flags = 0;          // cached XINHE_DEVICE_FLAG_*
  uint32_t type = 0;           // cached xinhe_device_type_t (0: UNKNOWN)
  uint64_t min_alignment = 1;  // cached; a power of two
  std::atomic<bool> lost{false};
};

struct xinhe_stream_s {
  xinhe_device_t device;
  xinhe_be_stream_t be;
};

struct xinhe_buffer_s {
  xinhe_device_t device;
  xinhe_be_buffer_t be;  // NULL for a 0-byte buffer
  uint64_t size;
  uint64_t alignment;
};

struct xinhe_event_s {
  xinhe_device_t device;
  xinhe_be_event_t be;
  std::atomic<bool> recorded{false};
};

namespace xinhe::core {

struct Backend {
  std::string name;
  std::string path;  // "" for the built-in backend
  std::string real_path;
  std::string reason;
  xinhe_status_code_t code = XINHE_STATUS_OK;
  bool loaded = false;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  void* dl_handle = nullptr;
  xinhe_backend_api_t api{};  // zero-filled past the plugin's struct_size
  xinhe_be_backend_t be = nullptr;
  std::vector<xinhe_device_s*> devices;
};

// Records DEVICE_LOST (sticky) and passes the status through.
xinhe_status_t track_device_status(xinhe_device_t device, xinhe_status_t status);
// DEVICE_LOST status when the device was lost earlier, else NULL.
xinhe_status_t device_lost_status(xinhe_device_t device, const char* call);

// True for a power of two (0 is not).
inline bool is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

// end = offset + size without overflow and end <= limit.
inline bool range_fits(uint64_t offset, uint64_t size, uint64_t limit) {
  uint64_t end = 0;
  if (__builtin_add_overflow(offset, size, &end)) return false;
  return end <= limit;
}

// Half-open ranges [a, a + a_size) and [b, b + b_size) intersect; empty ranges never do.
inline bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  if (a_size == 0 || b_size == 0) return false;
  return a < b + b_size && b < a + a_size;
}

}  // namespace xinhe::core

#endif  // XINHE_RUNTIME_CORE_H_
