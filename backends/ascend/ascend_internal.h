// The Ascend plugin's objects and the helpers its runtime (ascend_runtime.cpp) and ops
// (ascend_ops.cpp) share.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "ascend_api.h"
#include "ascend_soc.h"
#include "xinhe/backend.h"
#include "xinhe/backend.hpp"

struct xinhe_be_backend_s {
  const xinhe_host_api_t* host = nullptr;
  xinhe::ascend::AclApi acl;
  uint32_t device_count = 0;
};

struct xinhe_be_device_s {
  xinhe_be_backend_s* backend = nullptr;
  int32_t ordinal = 0;
  aclrtContext context = nullptr;
  std::string soc;
  xinhe::ascend::SocRules rules;  // read once at device_open (ascend_soc.h)
  std::string version;
  uint64_t total_memory = 0;
  // The 2048x2048 rightDownCausal mask of aclnnFlashAttentionScore (sparseMode 3), made once.
  std::mutex mask_mutex;
  void* causal_mask = nullptr;
};

struct xinhe_be_buffer_s {
  xinhe_be_device_s* device = nullptr;
  void* raw = nullptr;         // what aclrtMalloc returned
  uint8_t* address = nullptr;  // raw aligned as requested
  uint64_t size = 0;
};

struct xinhe_be_stream_s {
  xinhe_be_device_s* device = nullptr;
  aclrtStream stream = nullptr;
};

struct xinhe_be_event_s {
  xinhe_be_device_s* device = nullptr;
  aclrtEvent event = nullptr;
};

namespace xinhe::ascend {

inline constexpr const char* kBackendName = "ascend";

// A status naming the failing call, through the one status family (xinhe::backend::make_status).
xinhe_status_t make_error(const xinhe_host_api_t* host, xinhe_status_code_t code, const char* call,
                          const char* file, int line, const std::string& message);
// An AscendCL error: the code's meaning decides the status code; the message carries the
// number and aclGetRecentErrMsg().
xinhe_status_t acl_error(const xinhe_be_device_s* device, aclError r, const char* call,
                         const char* file, int line);

// Makes the device's context current on the calling thread (AscendCL contexts are
// per-thread, and the core calls from any thread).
xinhe_status_t bind(xinhe_be_device_s* device);

// The device's sparseMode 3 mask, made on first use.
xinhe_status_t causal_mask(xinhe_be_device_s* device, void** out);

// Copies exactly the device bytes [src, src + size) to [dst, dst + size), at any addresses
// (aclnnInplaceCopy on uint8 views), in stream order.
xinhe_status_t device_byte_copy(xinhe_be_stream_s* stream, uint8_t* dst, const uint8_t* src,
                                uint64_t size);

// Ops (ascend_ops.cpp).
xinhe_status_t op_create(xinhe_be_device_t device, const xinhe_be_op_desc_t* desc,
                         xinhe_be_op_t* out_op);
void op_destroy(xinhe_be_op_t op);
xinhe_status_t op_check(xinhe_be_op_t op);
xinhe_status_t op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes);
const char* op_impl_name(xinhe_be_op_t op);
xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t stream, const xinhe_be_op_args_t* args);

const xinhe_backend_api_t* backend_api();

}  // namespace xinhe::ascend

#define XINHE_ACL_CALL(device, expr, call)                                                        \
  do {                                                                                            \
    const aclError xinhe_acl_result_ = (expr);                                                    \
    if (xinhe_acl_result_ != ACL_SUCCESS)                                                         \
      return ::xinhe::ascend::acl_error((device), xinhe_acl_result_, (call), __FILE__, __LINE__); \
  } while (0)
