// The plugin's one exported symbol (see include/xinhe/backend.h).
#include "level_zero_internal.h"

extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(
    uint32_t host_abi_major, uint32_t /*host_abi_minor*/) {
  // Same major: compatible. The core reads only the entries our struct_size covers.
  if (host_abi_major != XINHE_BACKEND_ABI_MAJOR) return nullptr;
  return xinhe::level_zero::backend_api();
}
