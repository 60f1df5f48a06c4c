// Run-time loading of the Level Zero loader and the ze_result_t -> name table used in statuses.
#include "ze_loader.h"

#include <dlfcn.h>

#include <cstdio>

namespace xinhe::level_zero {

bool ze_api_load(const char* library_name, ZeApi* api, std::string* reason) {
  *api = ZeApi{};
  void* lib = dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    *reason = std::string(library_name) + " not found" + (err ? std::string(": ") + err : "");
    return false;
  }
#define XINHE_ZE_RESOLVE(name)                                                        \
  api->name = reinterpret_cast<decltype(api->name)>(dlsym(lib, #name));               \
  if (api->name == nullptr) {                                                         \
    *reason = std::string(library_name) + " lacks " #name " (Level Zero 1.4 needed)"; \
    dlclose(lib);                                                                     \
    *api = ZeApi{};                                                                   \
    return false;                                                                     \
  }
  XINHE_ZE_SYMBOLS(XINHE_ZE_RESOLVE)
#undef XINHE_ZE_RESOLVE
  // The loader stays mapped for the life of the process (see Backend's destructor): drivers
  // keep threads and atexit handlers, and dlopen refcounts, so a later load maps nothing new.
  api->library = lib;
  return true;
}

std::string ze_result_name(ze_result_t result) {
  switch (result) {
#define XINHE_ZE_RESULT_CASE(code) \
  case code:                       \
    return #code;
    XINHE_ZE_RESULT_CASE(ZE_RESULT_SUCCESS)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_NOT_READY)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_DEVICE_LOST)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_MODULE_BUILD_FAILURE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_MODULE_LINK_FAILURE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_DEVICE_REQUIRES_RESET)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_DEVICE_IN_LOW_POWER_STATE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INSUFFICIENT_PERMISSIONS)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_NOT_AVAILABLE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_DEPENDENCY_UNAVAILABLE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNINITIALIZED)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNSUPPORTED_VERSION)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNSUPPORTED_FEATURE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_ARGUMENT)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_NULL_HANDLE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_NULL_POINTER)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_SIZE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNSUPPORTED_SIZE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_SYNCHRONIZATION_OBJECT)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_ENUMERATION)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNSUPPORTED_ENUMERATION)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNSUPPORTED_IMAGE_FORMAT)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_NATIVE_BINARY)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_GLOBAL_NAME)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_KERNEL_NAME)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_FUNCTION_NAME)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_GLOBAL_WIDTH_DIMENSION)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_KERNEL_ATTRIBUTE_VALUE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_MODULE_UNLINKED)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_INVALID_COMMAND_LIST_TYPE)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_OVERLAPPING_REGIONS)
    XINHE_ZE_RESULT_CASE(ZE_RESULT_ERROR_UNKNOWN)
#undef XINHE_ZE_RESULT_CASE
    default: {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "ZE_RESULT(0x%x)", static_cast<unsigned>(result));
      return buffer;
    }
  }
}

}  // namespace xinhe::level_zero
