// The Level Zero entry points xinhe uses, loaded at run time from the loader
// (libze_loader.so.1) through an X-macro symbol list, after IREE's dynamic symbol tables: the
// plugin has no link-time dependency on Level Zero, and a machine without the loader reports
// "unavailable" instead of failing to load the plugin. Only calls of the Level Zero 1.4
// specification (the loader Debian 12 ships) are listed; ze_api.h is used for types only.
#pragma once

#include <level_zero/ze_api.h>

#include <string>

namespace xinhe::level_zero {

// X(name): every ze* function called anywhere in the backend. Adding a call means adding it
// here; loading fails with the missing symbol's name when the loader lacks it.
#define XINHE_ZE_SYMBOLS(X)                 \
  X(zeInit)                                 \
  X(zeDriverGet)                            \
  X(zeDriverGetApiVersion)                  \
  X(zeDriverGetProperties)                  \
  X(zeDeviceGet)                            \
  X(zeDeviceGetProperties)                  \
  X(zeDeviceGetComputeProperties)           \
  X(zeDeviceGetModuleProperties)            \
  X(zeDeviceGetMemoryProperties)            \
  X(zeDeviceGetCommandQueueGroupProperties) \
  X(zeContextCreate)                        \
  X(zeContextDestroy)                       \
  X(zeCommandQueueCreate)                   \
  X(zeCommandQueueDestroy)                  \
  X(zeCommandQueueExecuteCommandLists)      \
  X(zeCommandQueueSynchronize)              \
  X(zeCommandListCreate)                    \
  X(zeCommandListCreateImmediate)           \
  X(zeCommandListDestroy)                   \
  X(zeCommandListClose)                     \
  X(zeCommandListReset)                     \
  X(zeCommandListAppendBarrier)             \
  X(zeCommandListAppendMemoryCopy)          \
  X(zeCommandListAppendMemoryFill)          \
  X(zeCommandListAppendWaitOnEvents)        \
  X(zeCommandListAppendLaunchKernel)        \
  X(zeFenceCreate)                          \
  X(zeFenceDestroy)                         \
  X(zeFenceHostSynchronize)                 \
  X(zeFenceQueryStatus)                     \
  X(zeFenceReset)                           \
  X(zeEventPoolCreate)                      \
  X(zeEventPoolDestroy)                     \
  X(zeEventCreate)                          \
  X(zeEventDestroy)                         \
  X(zeEventHostSynchronize)                 \
  X(zeEventQueryStatus)                     \
  X(zeEventHostReset)                       \
  X(zeEventQueryKernelTimestamp)            \
  X(zeMemAllocDevice)                       \
  X(zeMemAllocHost)                         \
  X(zeMemAllocShared)                       \
  X(zeMemFree)                              \
  X(zeModuleCreate)                         \
  X(zeModuleDestroy)                        \
  X(zeModuleGetNativeBinary)                \
  X(zeModuleBuildLogGetString)              \
  X(zeModuleBuildLogDestroy)                \
  X(zeKernelCreate)                         \
  X(zeKernelDestroy)                        \
  X(zeKernelSetArgumentValue)               \
  X(zeKernelSetGroupSize)                   \
  X(zeKernelSuggestGroupSize)

struct ZeApi {
#define XINHE_ZE_DECLARE(name) decltype(&::name) name = nullptr;
  XINHE_ZE_SYMBOLS(XINHE_ZE_DECLARE)
#undef XINHE_ZE_DECLARE
  void* library = nullptr;
};

// Loads library_name (normally "libze_loader.so.1") into *api. On failure returns false and
// sets *reason ("libze_loader.so.1 not found: <dlerror>" or "libze_loader.so.1 lacks zeFoo").
bool ze_api_load(const char* library_name, ZeApi* api, std::string* reason);

// A zeroed descriptor or property struct with its stype set, as every Level Zero call wants.
template <typename T>
T ze_struct(ze_structure_type_t stype) {
  T value{};
  value.stype = stype;
  return value;
}

// "ZE_RESULT_ERROR_DEVICE_LOST"; "ZE_RESULT(0x12345)" for codes this table does not know.
std::string ze_result_name(ze_result_t result);

}  // namespace xinhe::level_zero
