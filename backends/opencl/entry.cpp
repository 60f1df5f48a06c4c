// The plugin's one exported symbol (see include/xinhe/backend.h).
#include "opencl_internal.h"

// The table whatever the core's version (backend.h, contract point 6): the core compares the
// versions and names both, where a NULL would only say "returned NULL".
extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(
    uint32_t /*host_abi_major*/, uint32_t /*host_abi_minor*/) {
  return xinhe::opencl::backend_api();
}
