// ze_result_t -> xinhe status, once, at the backend boundary. The message names the failing
// call and the result; the code follows the result's meaning: allocation failures are
// OUT_OF_MEMORY, a lost device is DEVICE_LOST (the core makes it sticky), a missing or
// unusable driver is UNAVAILABLE, an unsupported feature is UNIMPLEMENTED, the rest INTERNAL
// (arguments were validated by the core, so anything else is unexpected).
#pragma once

#include <string>

#include "xinhe/backend.hpp"
#include "ze_loader.h"

namespace xinhe::level_zero {

inline constexpr const char* kBackendName = "level_zero";

inline xinhe_status_code_t ze_error_code(ze_result_t r) {
  switch (r) {
    case ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY:
    case ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY:
      return XINHE_STATUS_OUT_OF_MEMORY;
    case ZE_RESULT_ERROR_DEVICE_LOST:
    case ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET:
      return XINHE_STATUS_DEVICE_LOST;
    case ZE_RESULT_ERROR_UNINITIALIZED:
    case ZE_RESULT_ERROR_UNSUPPORTED_VERSION:
    case ZE_RESULT_ERROR_DEVICE_IN_LOW_POWER_STATE:
    case ZE_RESULT_ERROR_INSUFFICIENT_PERMISSIONS:
    case ZE_RESULT_ERROR_NOT_AVAILABLE:
    case ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE:
      return XINHE_STATUS_UNAVAILABLE;
    case ZE_RESULT_ERROR_UNSUPPORTED_FEATURE:
      return XINHE_STATUS_UNIMPLEMENTED;
    default:
      return XINHE_STATUS_INTERNAL;
  }
}

// The one conversion of a Level Zero result, through the status family of xinhe/backend.hpp.
inline xinhe_status_t ze_status(const xinhe_host_api_t* host, ze_result_t r, const char* call,
                                const char* file, int line, const std::string& detail = "") {
  std::string message = std::string(call) + " failed: " + ze_result_name(r);
  if (!detail.empty()) message += ": " + detail;
  return xinhe::backend::make_status(host, ze_error_code(r), kBackendName, call, file, line, "%s",
                                     message.c_str());
}

// A failed Level Zero call kept as data (result and call name) by internal helpers, so that
// a caller that must ignore it (a destructor, a best-effort flush) has no status to free.
struct ZeCall {
  ZeCall() = default;
  ZeCall(ze_result_t r, const char* c, std::string d = {})
      : result(r), call(c), detail(std::move(d)) {}
  ze_result_t result = ZE_RESULT_SUCCESS;
  const char* call = "";
  std::string detail;  // e.g. a module's build flags and build log
  explicit operator bool() const { return result != ZE_RESULT_SUCCESS; }
  // Failures no other implementation can avoid: out of memory, a lost device.
  bool fatal() const {
    const xinhe_status_code_t code = ze_error_code(result);
    return code == XINHE_STATUS_OUT_OF_MEMORY || code == XINHE_STATUS_DEVICE_LOST;
  }
  // "zeModuleCreate failed: ZE_RESULT_ERROR_MODULE_BUILD_FAILURE: <detail>", the words of the
  // status ze_status makes of the same failure.
  std::string describe() const {
    return std::string(call) + " failed: " + ze_result_name(result) +
           (detail.empty() ? "" : ": " + detail);
  }
};

inline xinhe_status_t to_status(const xinhe_host_api_t* host, const ZeCall& c, const char* file,
                                int line) {
  return c ? ze_status(host, c.result, c.call, file, line, c.detail) : nullptr;
}

}  // namespace xinhe::level_zero

// Returns ZeCall{result, call} from the enclosing function when the call failed.
#define XINHE_ZE_TRY(expr, call)                                    \
  do {                                                              \
    const ze_result_t xinhe_ze_result_ = (expr);                    \
    if (xinhe_ze_result_ != ZE_RESULT_SUCCESS)                      \
      return ::xinhe::level_zero::ZeCall{xinhe_ze_result_, (call)}; \
  } while (0)

// Returns the converted status from the enclosing function when the call failed.
#define XINHE_ZE_RETURN_IF_ERROR(host, expr, call)                                                 \
  do {                                                                                             \
    const ze_result_t xinhe_ze_result_ = (expr);                                                   \
    if (xinhe_ze_result_ != ZE_RESULT_SUCCESS)                                                     \
      return ::xinhe::level_zero::ze_status((host), xinhe_ze_result_, (call), __FILE__, __LINE__); \
  } while (0)
