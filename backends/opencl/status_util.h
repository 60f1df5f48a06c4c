// cl_int -> xinhe status, once, at the backend boundary. The message names the failing call
// and the CL error; the code follows the error's meaning and where the call is (ClSite):
// allocation failures are OUT_OF_MEMORY, failed commands seen through events are DEVICE_LOST,
// the rest INTERNAL. CL_OUT_OF_RESOURCES depends on the call: at buffer creation and enqueue
// it is an allocation failure (drivers that allocate lazily report it at the first enqueue
// touching a buffer); from a wait (clFinish, clWaitForEvents, an event's status) it is what
// drivers return after a GPU fault or hang, as is CL_INVALID_COMMAND_QUEUE for a queue this
// backend created, so both are DEVICE_LOST there (backend.h point 3); while building a kernel
// it stays INTERNAL, which only skips that implementation.
#pragma once

#include <string>

#include "cl_loader.h"
#include "xinhe/backend.hpp"

#ifndef XINHE_OPENCL_VERSION_STRING
#define XINHE_OPENCL_VERSION_STRING "0.1.0"
#endif

namespace xinhe::opencl {

// Where an OpenCL call was made, for the codes whose meaning depends on it (see above).
enum class ClSite {
  kGeneral,   // anything else, e.g. a kernel build
  kAllocate,  // clCreateBuffer and the clEnqueue* calls
  kWait,      // clFinish, clWaitForEvents, clGetEventInfo on a valid queue or event
};

inline xinhe_status_code_t cl_error_code(cl_int err, ClSite site = ClSite::kGeneral) {
  if (site == ClSite::kAllocate && err == CL_OUT_OF_RESOURCES) return XINHE_STATUS_OUT_OF_MEMORY;
  if (site != ClSite::kGeneral && err == CL_INVALID_COMMAND_QUEUE) return XINHE_STATUS_DEVICE_LOST;
  if (site == ClSite::kWait && err == CL_OUT_OF_RESOURCES) return XINHE_STATUS_DEVICE_LOST;
  switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_HOST_MEMORY:
      return XINHE_STATUS_OUT_OF_MEMORY;
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST:
      return XINHE_STATUS_DEVICE_LOST;
    case CL_DEVICE_NOT_AVAILABLE:
    case CL_COMPILER_NOT_AVAILABLE:
      return XINHE_STATUS_UNAVAILABLE;
    default:
      return XINHE_STATUS_INTERNAL;
  }
}

// A failed OpenCL call kept as data: it becomes a status at the backend boundary (to_status),
// or, when it only stops one implementation (a kernel that does not build), the reason the
// dispatch walker keeps before it falls through to the next one.
struct ClError {
  cl_int code = CL_SUCCESS;
  const char* call = nullptr;
  std::string detail;  // e.g. the build options and log
  const char* file = nullptr;
  int line = 0;
  ClSite site = ClSite::kGeneral;

  explicit operator bool() const { return code != CL_SUCCESS; }
  // "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE: <detail>"
  std::string message() const {
    std::string text = std::string(call) + " failed: " + cl_error_name(code);
    return detail.empty() ? text : text + ": " + detail;
  }
  // Out of memory or a lost device end an op's creation; anything else only rules out the
  // implementation that hit it.
  bool fatal() const {
    const xinhe_status_code_t c = cl_error_code(code, site);
    return c == XINHE_STATUS_OUT_OF_MEMORY || c == XINHE_STATUS_DEVICE_LOST;
  }
  // NULL when there is no error.
  xinhe_status_t to_status(const xinhe_host_api_t* host) const {
    if (code == CL_SUCCESS) return nullptr;
    return xinhe::backend::make_status(host, cl_error_code(code, site), "opencl", call, file, line,
                                       "%s", message().c_str());
  }
};

}  // namespace xinhe::opencl

// A ClError for err from call, at this line (no error when err is CL_SUCCESS).
#define XINHE_CL_ERROR(err, call, detail) \
  ::xinhe::opencl::ClError { (err), (call), (detail), __FILE__, __LINE__ }
// The status of an OpenCL call's result at this line, NULL for CL_SUCCESS; statuses are made and
// propagated with xinhe/backend.hpp's family, e.g.
//   XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS(host, err, "clCreateContext"));
#define XINHE_CL_STATUS(host, err, call) (XINHE_CL_ERROR((err), (call), "").to_status(host))
// The same for a call made at site (ClSite::kAllocate, ClSite::kWait).
#define XINHE_CL_ERROR_AT(err, call, detail, site) \
  ::xinhe::opencl::ClError { (err), (call), (detail), __FILE__, __LINE__, (site) }
#define XINHE_CL_STATUS_AT(host, err, call, site) \
  (XINHE_CL_ERROR_AT((err), (call), "", (site)).to_status(host))
