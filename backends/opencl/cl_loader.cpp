// Run-time loading of the OpenCL ICD loader and the cl_int -> name table used in statuses.
#include "cl_loader.h"

#include <dlfcn.h>

namespace xinhe::opencl {

bool cl_api_load(const char* library_name, ClApi* api, std::string* reason) {
  *api = ClApi{};
  void* lib = dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    *reason = std::string(library_name) + " not found" + (err ? std::string(": ") + err : "");
    return false;
  }
#define XINHE_CL_RESOLVE(name)                                                    \
  api->name = reinterpret_cast<decltype(api->name)>(dlsym(lib, #name));           \
  if (api->name == nullptr) {                                                     \
    *reason = std::string(library_name) + " lacks " #name " (OpenCL 1.2 needed)"; \
    dlclose(lib);                                                                 \
    *api = ClApi{};                                                               \
    return false;                                                                 \
  }
  XINHE_CL_SYMBOLS(XINHE_CL_RESOLVE)
#undef XINHE_CL_RESOLVE
  api->library = lib;
  return true;
}

void cl_api_unload(ClApi* api) {
  // The loader stays mapped on purpose: ICD drivers (PoCL included) keep worker threads and
  // atexit handlers that would run unmapped code after a dlclose, and keeping it mapped lets
  // leak reports at exit name the driver's frames. dlopen refcounts, so a later
  // backend_create maps nothing new.
  *api = ClApi{};
}

std::string cl_error_name(cl_int error) {
  switch (error) {
#define XINHE_CL_ERROR_CASE(code) \
  case code:                      \
    return #code;
    XINHE_CL_ERROR_CASE(CL_SUCCESS)
    XINHE_CL_ERROR_CASE(CL_DEVICE_NOT_FOUND)
    XINHE_CL_ERROR_CASE(CL_DEVICE_NOT_AVAILABLE)
    XINHE_CL_ERROR_CASE(CL_COMPILER_NOT_AVAILABLE)
    XINHE_CL_ERROR_CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    XINHE_CL_ERROR_CASE(CL_OUT_OF_RESOURCES)
    XINHE_CL_ERROR_CASE(CL_OUT_OF_HOST_MEMORY)
    XINHE_CL_ERROR_CASE(CL_PROFILING_INFO_NOT_AVAILABLE)
    XINHE_CL_ERROR_CASE(CL_MEM_COPY_OVERLAP)
    XINHE_CL_ERROR_CASE(CL_IMAGE_FORMAT_MISMATCH)
    XINHE_CL_ERROR_CASE(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    XINHE_CL_ERROR_CASE(CL_BUILD_PROGRAM_FAILURE)
    XINHE_CL_ERROR_CASE(CL_MAP_FAILURE)
    XINHE_CL_ERROR_CASE(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    XINHE_CL_ERROR_CASE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    XINHE_CL_ERROR_CASE(CL_COMPILE_PROGRAM_FAILURE)
    XINHE_CL_ERROR_CASE(CL_LINKER_NOT_AVAILABLE)
    XINHE_CL_ERROR_CASE(CL_LINK_PROGRAM_FAILURE)
    XINHE_CL_ERROR_CASE(CL_DEVICE_PARTITION_FAILED)
    XINHE_CL_ERROR_CASE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    XINHE_CL_ERROR_CASE(CL_INVALID_VALUE)
    XINHE_CL_ERROR_CASE(CL_INVALID_DEVICE_TYPE)
    XINHE_CL_ERROR_CASE(CL_INVALID_PLATFORM)
    XINHE_CL_ERROR_CASE(CL_INVALID_DEVICE)
    XINHE_CL_ERROR_CASE(CL_INVALID_CONTEXT)
    XINHE_CL_ERROR_CASE(CL_INVALID_QUEUE_PROPERTIES)
    XINHE_CL_ERROR_CASE(CL_INVALID_COMMAND_QUEUE)
    XINHE_CL_ERROR_CASE(CL_INVALID_HOST_PTR)
    XINHE_CL_ERROR_CASE(CL_INVALID_MEM_OBJECT)
    XINHE_CL_ERROR_CASE(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    XINHE_CL_ERROR_CASE(CL_INVALID_IMAGE_SIZE)
    XINHE_CL_ERROR_CASE(CL_INVALID_SAMPLER)
    XINHE_CL_ERROR_CASE(CL_INVALID_BINARY)
    XINHE_CL_ERROR_CASE(CL_INVALID_BUILD_OPTIONS)
    XINHE_CL_ERROR_CASE(CL_INVALID_PROGRAM)
    XINHE_CL_ERROR_CASE(CL_INVALID_PROGRAM_EXECUTABLE)
    XINHE_CL_ERROR_CASE(CL_INVALID_KERNEL_NAME)
    XINHE_CL_ERROR_CASE(CL_INVALID_KERNEL_DEFINITION)
    XINHE_CL_ERROR_CASE(CL_INVALID_KERNEL)
    XINHE_CL_ERROR_CASE(CL_INVALID_ARG_INDEX)
    XINHE_CL_ERROR_CASE(CL_INVALID_ARG_VALUE)
    XINHE_CL_ERROR_CASE(CL_INVALID_ARG_SIZE)
    XINHE_CL_ERROR_CASE(CL_INVALID_KERNEL_ARGS)
    XINHE_CL_ERROR_CASE(CL_INVALID_WORK_DIMENSION)
    XINHE_CL_ERROR_CASE(CL_INVALID_WORK_GROUP_SIZE)
    XINHE_CL_ERROR_CASE(CL_INVALID_WORK_ITEM_SIZE)
    XINHE_CL_ERROR_CASE(CL_INVALID_GLOBAL_OFFSET)
    XINHE_CL_ERROR_CASE(CL_INVALID_EVENT_WAIT_LIST)
    XINHE_CL_ERROR_CASE(CL_INVALID_EVENT)
    XINHE_CL_ERROR_CASE(CL_INVALID_OPERATION)
    XINHE_CL_ERROR_CASE(CL_INVALID_GL_OBJECT)
    XINHE_CL_ERROR_CASE(CL_INVALID_BUFFER_SIZE)
    XINHE_CL_ERROR_CASE(CL_INVALID_MIP_LEVEL)
    XINHE_CL_ERROR_CASE(CL_INVALID_GLOBAL_WORK_SIZE)
    XINHE_CL_ERROR_CASE(CL_INVALID_PROPERTY)
    XINHE_CL_ERROR_CASE(CL_INVALID_IMAGE_DESCRIPTOR)
    XINHE_CL_ERROR_CASE(CL_INVALID_COMPILER_OPTIONS)
    XINHE_CL_ERROR_CASE(CL_INVALID_LINKER_OPTIONS)
    XINHE_CL_ERROR_CASE(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef XINHE_CL_ERROR_CASE
    default:
      return "CL_ERROR(" + std::to_string(error) + ")";
  }
}

}  // namespace xinhe::opencl
