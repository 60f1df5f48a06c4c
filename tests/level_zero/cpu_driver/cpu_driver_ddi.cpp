// The only symbols the CPU test driver exports: the DDI table getters the Level Zero loader
// looks up in every driver it loads (ze*, zet* and zes* tables; the 1.8 loader's zeInit fails
// unless some driver answers each one). Tables are cleared first: an entry this driver does
// not implement stays NULL, and the loader turns a call to it into
// ZE_RESULT_ERROR_UNSUPPORTED_FEATURE.
#include <level_zero/ze_ddi.h>
#include <level_zero/zes_ddi.h>
#include <level_zero/zet_ddi.h>

#include <cstring>

#include "cpu_driver.h"

namespace {

namespace a = xinhe::ze_cpu::api;

ze_result_t check_version(ze_api_version_t version, const void* table) {
  if (table == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (ZE_MAJOR_VERSION(version) != ZE_MAJOR_VERSION(ZE_API_VERSION_CURRENT))
    return ZE_RESULT_ERROR_UNSUPPORTED_VERSION;
  return ZE_RESULT_SUCCESS;
}

}  // namespace

// Getters whose tables this driver fills.
#define XINHE_ZE_CPU_GETTER(getter, table_type)                                                    \
  extern "C" ZE_DLLEXPORT ze_result_t ZE_APICALL getter(ze_api_version_t version, table_type* t) { \
    if (ze_result_t r = check_version(version, t); r != ZE_RESULT_SUCCESS) return r;               \
    std::memset(t, 0, sizeof(*t));                                                                 \
    fill(t);                                                                                       \
    return ZE_RESULT_SUCCESS;                                                                      \
  }

namespace {

void fill(ze_global_dditable_t* t) { t->pfnInit = a::init; }

void fill(ze_driver_dditable_t* t) {
  t->pfnGet = a::driver_get;
  t->pfnGetApiVersion = a::driver_get_api_version;
  t->pfnGetProperties = a::driver_get_properties;
  t->pfnGetIpcProperties = a::driver_get_ipc_properties;
  t->pfnGetExtensionProperties = a::driver_get_extension_properties;
}

void fill(ze_device_dditable_t* t) {
  t->pfnGet = a::device_get;
  t->pfnGetSubDevices = a::device_get_sub_devices;
  t->pfnGetProperties = a::device_get_properties;
  t->pfnGetComputeProperties = a::device_get_compute_properties;
  t->pfnGetModuleProperties = a::device_get_module_properties;
  t->pfnGetCommandQueueGroupProperties = a::device_get_command_queue_group_properties;
  t->pfnGetMemoryProperties = a::device_get_memory_properties;
  t->pfnGetMemoryAccessProperties = a::device_get_memory_access_properties;
  t->pfnGetStatus = a::device_get_status;
  t->pfnGetGlobalTimestamps = a::device_get_global_timestamps;
}

void fill(ze_context_dditable_t* t) {
  t->pfnCreate = a::context_create;
  t->pfnDestroy = a::context_destroy;
  t->pfnGetStatus = a::context_get_status;
}

void fill(ze_command_queue_dditable_t* t) {
  t->pfnCreate = a::command_queue_create;
  t->pfnDestroy = a::command_queue_destroy;
  t->pfnExecuteCommandLists = a::command_queue_execute_command_lists;
  t->pfnSynchronize = a::command_queue_synchronize;
}

void fill(ze_command_list_dditable_t* t) {
  t->pfnCreate = a::command_list_create;
  t->pfnCreateImmediate = a::command_list_create_immediate;
  t->pfnDestroy = a::command_list_destroy;
  t->pfnClose = a::command_list_close;
  t->pfnReset = a::command_list_reset;
  t->pfnAppendBarrier = a::command_list_append_barrier;
  t->pfnAppendMemoryCopy = a::command_list_append_memory_copy;
  t->pfnAppendMemoryFill = a::command_list_append_memory_fill;
  t->pfnAppendSignalEvent = a::command_list_append_signal_event;
  t->pfnAppendWaitOnEvents = a::command_list_append_wait_on_events;
  t->pfnAppendEventReset = a::command_list_append_event_reset;
  t->pfnAppendLaunchKernel = a::command_list_append_launch_kernel;
}

void fill(ze_event_pool_dditable_t* t) {
  t->pfnCreate = a::event_pool_create;
  t->pfnDestroy = a::event_pool_destroy;
}

void fill(ze_event_dditable_t* t) {
  t->pfnCreate = a::event_create;
  t->pfnDestroy = a::event_destroy;
  t->pfnHostSignal = a::event_host_signal;
  t->pfnHostSynchronize = a::event_host_synchronize;
  t->pfnQueryStatus = a::event_query_status;
  t->pfnHostReset = a::event_host_reset;
  t->pfnQueryKernelTimestamp = a::event_query_kernel_timestamp;
}

void fill(ze_fence_dditable_t* t) {
  t->pfnCreate = a::fence_create;
  t->pfnDestroy = a::fence_destroy;
  t->pfnHostSynchronize = a::fence_host_synchronize;
  t->pfnQueryStatus = a::fence_query_status;
  t->pfnReset = a::fence_reset;
}

void fill(ze_mem_dditable_t* t) {
  t->pfnAllocShared = a::mem_alloc_shared;
  t->pfnAllocDevice = a::mem_alloc_device;
  t->pfnAllocHost = a::mem_alloc_host;
  t->pfnFree = a::mem_free;
  t->pfnGetAllocProperties = a::mem_get_alloc_properties;
  t->pfnGetAddressRange = a::mem_get_address_range;
}

void fill(ze_module_dditable_t* t) {
  t->pfnCreate = a::module_create;
  t->pfnDestroy = a::module_destroy;
  t->pfnGetNativeBinary = a::module_get_native_binary;
  t->pfnGetKernelNames = a::module_get_kernel_names;
  t->pfnGetProperties = a::module_get_properties;
}

void fill(ze_module_build_log_dditable_t* t) {
  t->pfnDestroy = a::module_build_log_destroy;
  t->pfnGetString = a::module_build_log_get_string;
}

void fill(ze_kernel_dditable_t* t) {
  t->pfnCreate = a::kernel_create;
  t->pfnDestroy = a::kernel_destroy;
  t->pfnSetGroupSize = a::kernel_set_group_size;
  t->pfnSuggestGroupSize = a::kernel_suggest_group_size;
  t->pfnSetArgumentValue = a::kernel_set_argument_value;
  t->pfnGetProperties = a::kernel_get_properties;
  t->pfnGetName = a::kernel_get_name;
}

// Tables with nothing implemented: answered, all entries NULL.
template <typename T>
void fill(T*) {}

}  // namespace

XINHE_ZE_CPU_GETTER(zeGetGlobalProcAddrTable, ze_global_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetDriverProcAddrTable, ze_driver_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetDeviceProcAddrTable, ze_device_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetContextProcAddrTable, ze_context_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetCommandQueueProcAddrTable, ze_command_queue_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetCommandListProcAddrTable, ze_command_list_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetEventPoolProcAddrTable, ze_event_pool_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetEventProcAddrTable, ze_event_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetFenceProcAddrTable, ze_fence_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetMemProcAddrTable, ze_mem_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetModuleProcAddrTable, ze_module_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetModuleBuildLogProcAddrTable, ze_module_build_log_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetKernelProcAddrTable, ze_kernel_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetDeviceExpProcAddrTable, ze_device_exp_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetEventExpProcAddrTable, ze_event_exp_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetImageProcAddrTable, ze_image_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetImageExpProcAddrTable, ze_image_exp_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetKernelExpProcAddrTable, ze_kernel_exp_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetPhysicalMemProcAddrTable, ze_physical_mem_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetSamplerProcAddrTable, ze_sampler_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetVirtualMemProcAddrTable, ze_virtual_mem_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetFabricEdgeExpProcAddrTable, ze_fabric_edge_exp_dditable_t)
XINHE_ZE_CPU_GETTER(zeGetFabricVertexExpProcAddrTable, ze_fabric_vertex_exp_dditable_t)

XINHE_ZE_CPU_GETTER(zetGetDeviceProcAddrTable, zet_device_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetContextProcAddrTable, zet_context_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetCommandListProcAddrTable, zet_command_list_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetKernelProcAddrTable, zet_kernel_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetModuleProcAddrTable, zet_module_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetDebugProcAddrTable, zet_debug_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetMetricProcAddrTable, zet_metric_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetMetricGroupProcAddrTable, zet_metric_group_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetMetricGroupExpProcAddrTable, zet_metric_group_exp_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetMetricQueryProcAddrTable, zet_metric_query_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetMetricQueryPoolProcAddrTable, zet_metric_query_pool_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetMetricStreamerProcAddrTable, zet_metric_streamer_dditable_t)
XINHE_ZE_CPU_GETTER(zetGetTracerExpProcAddrTable, zet_tracer_exp_dditable_t)

XINHE_ZE_CPU_GETTER(zesGetDeviceProcAddrTable, zes_device_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetDriverProcAddrTable, zes_driver_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetDiagnosticsProcAddrTable, zes_diagnostics_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetEngineProcAddrTable, zes_engine_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetFabricPortProcAddrTable, zes_fabric_port_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetFanProcAddrTable, zes_fan_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetFirmwareProcAddrTable, zes_firmware_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetFrequencyProcAddrTable, zes_frequency_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetLedProcAddrTable, zes_led_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetMemoryProcAddrTable, zes_memory_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetPerformanceFactorProcAddrTable, zes_performance_factor_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetPowerProcAddrTable, zes_power_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetPsuProcAddrTable, zes_psu_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetRasProcAddrTable, zes_ras_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetSchedulerProcAddrTable, zes_scheduler_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetStandbyProcAddrTable, zes_standby_dditable_t)
XINHE_ZE_CPU_GETTER(zesGetTemperatureProcAddrTable, zes_temperature_dditable_t)
