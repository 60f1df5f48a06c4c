// Driving the OpenCL plugin table directly (without libxinhe), through the recording test host
// of tests/support (statuses recorded, XINHE_VERBOSE honoured like the core does, log lines
// both printed and kept so tests can assert on them). The host serves no implementation filter
// unless a test sets one: tests and xinhe-tune pick implementations with
// OpOverrides::impl_filter. Also a Session that opens backend, device 0 and one stream, and
// an upload helper. Random data, poison, tolerances and the error measure are tests/support's
// (numerics.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "opencl_internal.h"
#include "recording_host.h"

namespace xinhe::opencl::testing {

// The test host API: tests/support's recording host (statuses and log lines recorded; every
// topic enabled, printed as XINHE_VERBOSE asks).
using TestHost = xinhe::test::RecordingHost;

// A status taken back from the test host; "" and OK for success.
struct Status {
  explicit Status(xinhe_status_t s = nullptr) : taken_(TestHost::get().take(s)) {}
  bool ok() const { return taken_.ok(); }
  xinhe_status_code_t code() const { return taken_.code; }
  std::string message() const { return ok() ? "" : taken_.call + ": " + taken_.message; }

 private:
  xinhe::test::TakenStatus taken_;
};

// Backend + device 0 + a stream; available() false (with reason) when there is no OpenCL.
// All three are released in reverse order.
class Session {
 public:
  Session() {
    const xinhe_backend_api_t* api = backend_api();
    Status st(api->backend_create(TestHost::get().api(), &backend_));
    if (!st.ok()) {
      reason_ = st.message();
      backend_ = nullptr;
      return;
    }
    Status dev(api->device_open(backend_, 0, &device_));
    if (!dev.ok()) {
      reason_ = dev.message();
      return;
    }
    Status str(api->stream_create(device_, &stream_));
    if (!str.ok()) reason_ = str.message();
  }
  // Takes ownership of an opened device and its stream (the backend stays the caller's).
  Session(xinhe_be_device_t device, xinhe_be_stream_t stream) : device_(device), stream_(stream) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    const xinhe_backend_api_t* api = backend_api();
    if (stream_) api->stream_destroy(stream_);
    if (device_) api->device_close(device_);
    if (backend_) api->backend_destroy(backend_);
  }
  bool available() const { return stream_ != nullptr; }
  const std::string& reason() const { return reason_; }
  Device* device() const { return to_device(device_); }
  xinhe_be_device_t be_device() const { return device_; }
  xinhe_be_stream_t stream() const { return stream_; }
  const xinhe_backend_api_t* api() const { return backend_api(); }

 private:
  xinhe_be_backend_t backend_ = nullptr;
  xinhe_be_device_t device_ = nullptr;
  xinhe_be_stream_t stream_ = nullptr;
  std::string reason_;
};

// A device buffer that frees itself.
class DeviceBuffer {
 public:
  DeviceBuffer(const Session& s, uint64_t size) : api_(s.api()) {
    if (size > 0) status_ = Status(api_->buffer_alloc(s.be_device(), size, 0, &buffer_));
  }
  ~DeviceBuffer() {
    if (buffer_) api_->buffer_free(buffer_);
  }
  xinhe_be_buffer_t get() const { return buffer_; }
  const Status& status() const { return status_; }

 private:
  const xinhe_backend_api_t* api_;
  xinhe_be_buffer_t buffer_ = nullptr;
  Status status_;
};

// Uploads host bytes into a fresh buffer at byte offset `pad` (so operands do not start at
// 0), synchronously.
inline std::unique_ptr<DeviceBuffer> upload(const Session& s, const std::vector<uint8_t>& bytes,
                                            uint64_t pad, Status* st) {
  if (!st->ok()) return std::make_unique<DeviceBuffer>(s, 0);  // keep the first error
  auto buf = std::make_unique<DeviceBuffer>(s, bytes.size() + pad);
  if (!buf->status().ok() || bytes.empty()) return buf;
  *st = Status(
      s.api()->copy_host_to_device(s.stream(), {buf->get(), pad}, bytes.data(), bytes.size()));
  // The copy is asynchronous and callers often pass a temporary: wait before returning.
  if (st->ok()) *st = Status(s.api()->stream_synchronize(s.stream()));
  return buf;
}

}  // namespace xinhe::opencl::testing
