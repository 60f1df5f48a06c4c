// Status objects, version, dtype helpers and the attention stride helpers: the parts of the
// public API that need no registry.
//
// A status is a heap object owned by whoever receives it; NULL means success, so every
// accessor treats NULL as OK with empty strings. Backends create statuses through the host
// API (registry.cpp), which lands in make_status below, so one allocator frees them all.
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

#include "core.h"

namespace xinhe::core {

xinhe_status_t make_status_v(xinhe_status_code_t code, const char* backend, const char* call,
                             const char* file, int line, const char* format, va_list args) {
  // An allocation failure here cannot be reported any better than by a static object; the
  // core never builds statuses in that state, so a failed `new` terminates as usual.
  auto* status = new xinhe_status_s{};
  status->code = code;
  if (format != nullptr) {
    va_list measure;
    va_copy(measure, args);
    const int length = std::vsnprintf(nullptr, 0, format, measure);
    va_end(measure);
    if (length > 0) {
      status->message.resize(static_cast<size_t>(length) + 1);
      std::vsnprintf(&status->message[0], status->message.size(), format, args);
      status->message.resize(static_cast<size_t>(length));
    }
  }
  if (backend != nullptr) status->backend = backend;
  if (call != nullptr) status->call = call;
  if (file != nullptr) status->file = file;
  status->line = line;
  return status;
}

xinhe_status_t make_status(xinhe_status_code_t code, const char* backend, const char* call,
                           const char* file, int line, const char* format, ...) {
  va_list args;
  va_start(args, format);
  xinhe_status_t status = make_status_v(code, backend, call, file, line, format, args);
  va_end(args);
  return status;
}

xinhe_status_t clone_status(xinhe_status_t status) {
  if (status == nullptr) return nullptr;
  return new xinhe_status_s(*status);
}

}  // namespace xinhe::core

extern "C" {

const char* xinhe_version_string(void) {
#define XINHE_STRINGIFY_(x) #x
#define XINHE_STRINGIFY(x) XINHE_STRINGIFY_(x)
  return XINHE_STRINGIFY(XINHE_VERSION_MAJOR) "." XINHE_STRINGIFY(
      XINHE_VERSION_MINOR) "." XINHE_STRINGIFY(XINHE_VERSION_PATCH);
#undef XINHE_STRINGIFY
#undef XINHE_STRINGIFY_
}

}  // extern "C"

namespace {

// C callers may pass any int as a dtype; reading it as the enum would be undefined when it is
// out of range, so the switch looks at the stored integer.
int64_t raw_dtype(const xinhe_dtype_t& dtype) {
  std::underlying_type_t<xinhe_dtype_t> value;
  std::memcpy(&value, &dtype, sizeof(value));
  return static_cast<int64_t>(value);
}

}  // namespace

extern "C" {

xinhe_status_code_t xinhe_status_code(xinhe_status_t status) {
  return status == nullptr ? XINHE_STATUS_OK : status->code;
}

const char* xinhe_status_message(xinhe_status_t status) {
  return status == nullptr ? "" : status->message.c_str();
}

const char* xinhe_status_backend(xinhe_status_t status) {
  return status == nullptr ? "" : status->backend.c_str();
}

const char* xinhe_status_call(xinhe_status_t status) {
  return status == nullptr ? "" : status->call.c_str();
}

const char* xinhe_status_file(xinhe_status_t status) {
  return status == nullptr ? "" : status->file.c_str();
}

int xinhe_status_line(xinhe_status_t status) { return status == nullptr ? 0 : status->line; }

void xinhe_status_free(xinhe_status_t status) { delete status; }

const char* xinhe_status_code_name(xinhe_status_code_t code) {
  switch (code) {
    case XINHE_STATUS_OK:
      return "OK";
    case XINHE_STATUS_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case XINHE_STATUS_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case XINHE_STATUS_UNAVAILABLE:
      return "UNAVAILABLE";
    case XINHE_STATUS_OUT_OF_MEMORY:
      return "OUT_OF_MEMORY";
    case XINHE_STATUS_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case XINHE_STATUS_NOT_FOUND:
      return "NOT_FOUND";
    case XINHE_STATUS_INTERNAL:
      return "INTERNAL";
    case XINHE_STATUS_DEVICE_LOST:
      return "DEVICE_LOST";
  }
  return "UNKNOWN";
}

size_t xinhe_dtype_size(xinhe_dtype_t dtype) {
  switch (raw_dtype(dtype)) {
    case XINHE_DTYPE_F32:
      return 4;
    case XINHE_DTYPE_F16:
      return 2;
    case XINHE_DTYPE_BF16:
      return 2;
    case XINHE_DTYPE_F64:
      return 8;
  }
  return 0;
}

const char* xinhe_dtype_name(xinhe_dtype_t dtype) {
  switch (raw_dtype(dtype)) {
    case XINHE_DTYPE_F32:
      return "f32";
    case XINHE_DTYPE_F16:
      return "f16";
    case XINHE_DTYPE_BF16:
      return "bf16";
    case XINHE_DTYPE_F64:
      return "f64";
  }
  return "?";
}

namespace {

// a * b, or INT64_MAX when the product does not fit: a stride that large makes create report
// the tensor's extent as overflowing (INVALID_ARGUMENT) instead of taking a wrapped value.
int64_t stride_product(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

}  // namespace

// Strides are in elements, ordered (b, h, s, d) whatever the memory layout.
void xinhe_attention_strides_bhsd(int64_t heads, int64_t seq, int64_t head_dim,
                                  int64_t out_strides[4]) {
  if (out_strides == nullptr) return;
  out_strides[3] = 1;
  out_strides[2] = head_dim;
  out_strides[1] = stride_product(seq, head_dim);
  out_strides[0] = stride_product(heads, out_strides[1]);
}

void xinhe_attention_strides_bshd(int64_t heads, int64_t seq, int64_t head_dim,
                                  int64_t out_strides[4]) {
  if (out_strides == nullptr) return;
  out_strides[3] = 1;
  out_strides[1] = head_dim;
  out_strides[2] = stride_product(heads, head_dim);
  out_strides[0] = stride_product(seq, out_strides[2]);
}

}  // extern "C"
