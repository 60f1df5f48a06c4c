// Test hooks of the CPU test driver: exported C functions besides the DDI getters, found by a
// test with dlsym in the driver the loader has already loaded (ZE_ENABLE_ALT_DRIVERS), so that
// the backend under test still reaches the driver only through the real loader.
//
//  - Fault injection: xinhe_ze_cpu_inject(call, result, skip, times) makes the `times` calls
//    of `call` that follow the next `skip` ones return `result` without doing anything (for
//    zeFenceQueryStatus, ZE_RESULT_NOT_READY is also allowed: "not finished yet"). Calls that
//    can be failed: kFaultCalls. xinhe_ze_cpu_call_count(call) counts every call of one of
//    them since zeInit, failed or not.
//  - Holding execution: xinhe_ze_cpu_hold_from(seq) keeps every queue worker from starting
//    work whose submission number is seq or later (UINT64_MAX: hold nothing) until the hold
//    moves; xinhe_ze_cpu_submissions() is the number of the latest submission (an immediate
//    list's command or an executed list), across all queues.
//  - xinhe_ze_cpu_host_waiters(): threads now blocked in zeEventHostSynchronize or
//    zeFenceHostSynchronize with a nonzero timeout.
//  - xinhe_ze_cpu_lost_reason(): why the device was lost, "" while it is not.
#pragma once

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif
typedef int (*xinhe_ze_cpu_inject_fn)(const char* call, int32_t result, uint32_t skip,
                                      uint32_t times);
typedef uint64_t (*xinhe_ze_cpu_call_count_fn)(const char* call);
typedef void (*xinhe_ze_cpu_hold_from_fn)(uint64_t seq);
typedef uint64_t (*xinhe_ze_cpu_submissions_fn)(void);
typedef uint32_t (*xinhe_ze_cpu_host_waiters_fn)(void);
typedef const char* (*xinhe_ze_cpu_lost_reason_fn)(void);
#ifdef __cplusplus
}

namespace xinhe::ze_cpu {

// The calls xinhe_ze_cpu_inject can fail.
inline constexpr const char* kFaultCalls[] = {
    "zeCommandListCreate",
    "zeCommandListClose",
    "zeCommandListReset",
    "zeCommandListAppendBarrier",
    "zeCommandQueueExecuteCommandLists",
    "zeFenceCreate",
    "zeFenceQueryStatus",
    "zeFenceReset",
    "zeMemAllocDevice",
    "zeMemAllocHost",
    "zeMemAllocShared",
};

// The hooks of the driver named by ZE_ENABLE_ALT_DRIVERS, once the loader has loaded it (after
// zeInit); every member is NULL when it is not loaded.
struct Hooks {
  xinhe_ze_cpu_inject_fn inject = nullptr;
  xinhe_ze_cpu_call_count_fn call_count = nullptr;
  xinhe_ze_cpu_hold_from_fn hold_from = nullptr;
  xinhe_ze_cpu_submissions_fn submissions = nullptr;
  xinhe_ze_cpu_host_waiters_fn host_waiters = nullptr;
  xinhe_ze_cpu_lost_reason_fn lost_reason = nullptr;
  bool loaded() const {
    return inject && call_count && hold_from && submissions && host_waiters && lost_reason;
  }
};

inline Hooks loaded_driver_hooks() {
  Hooks h;
  const char* path = getenv("ZE_ENABLE_ALT_DRIVERS");
  if (path == nullptr) return h;
  void* lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);  // the loader's reference keeps it mapped
  if (lib == nullptr) return h;
  h.inject = reinterpret_cast<xinhe_ze_cpu_inject_fn>(dlsym(lib, "xinhe_ze_cpu_inject"));
  h.call_count =
      reinterpret_cast<xinhe_ze_cpu_call_count_fn>(dlsym(lib, "xinhe_ze_cpu_call_count"));
  h.hold_from = reinterpret_cast<xinhe_ze_cpu_hold_from_fn>(dlsym(lib, "xinhe_ze_cpu_hold_from"));
  h.submissions =
      reinterpret_cast<xinhe_ze_cpu_submissions_fn>(dlsym(lib, "xinhe_ze_cpu_submissions"));
  h.host_waiters =
      reinterpret_cast<xinhe_ze_cpu_host_waiters_fn>(dlsym(lib, "xinhe_ze_cpu_host_waiters"));
  h.lost_reason =
      reinterpret_cast<xinhe_ze_cpu_lost_reason_fn>(dlsym(lib, "xinhe_ze_cpu_lost_reason"));
  dlclose(lib);  // drops only the reference dlopen just took
  return h;
}

}  // namespace xinhe::ze_cpu
#endif
