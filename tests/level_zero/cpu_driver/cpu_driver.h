// A Level Zero driver that runs on the host CPU, for testing xinhe's level_zero backend where
// no Intel GPU exists. Debian's real loader (libze_loader.so.1) loads it through
// ZE_ENABLE_ALT_DRIVERS and reaches it through the DDI table getters it exports
// (cpu_driver_ddi.cpp); nothing else is exported.
//
// It follows the Level Zero semantics the backend depends on, strictly enough to catch a
// backend that leans on one GPU driver's habits:
//  - command lists are recorded, closed and executed on command queues; immediate lists
//    submit at append time. Each queue has one worker thread.
//  - Commands between two synchronization points (barrier, wait, signal, reset, the end of a
//    submitted list) may run in any order on a GPU; this driver runs them in REVERSE order
//    (XINHE_ZE_CPU_ORDER=forward for submission order), so a backend that forgets a barrier
//    between dependent commands reads stale data.
//  - Events come from pools, must be reset before reuse, and carry kernel timestamps (32
//    valid bits of 10 ns ticks, so consumers must handle wrap-around;
//    XINHE_ZE_CPU_TIMESTAMP_WRAP_MS=N makes them wrap N ms after zeInit).
//  - Kernel arguments and group sizes are captured at append time; pointer arguments must lie
//    in a live allocation of the context; launches without a group size fail.
//  - Allocations have guard bytes on both sides, checked after every kernel and copy that
//    touched them: a write outside an allocation makes the device lost, with a message.
//  - Destroying an immediate command list while commands on it have not started (the device
//    would still reference it) makes the device lost, with a message, and leaves the list.
//  - Launches beyond maxGroupCount{X,Y,Z} fail (XINHE_ZE_CPU_MAX_GROUP_COUNT=N lowers it).
//  - XINHE_ZE_CPU_CRASH_ON_NATIVE_MODULE=1 makes zeModuleCreate of a native binary kill the
//    process, as a driver that crashes on a damaged binary does.
//  - Tests reach fault injection, call counts and a hold on execution through the exported
//    hooks of cpu_driver_hooks.h.
//
// Memory is fine-grained OpenCL SVM from PoCL; modules are SPIR-V translated back to SPIR
// bitcode by llvm-spirv -r (PoCL 3.1 does not accept SPIR-V) and built and run by PoCL.
#pragma once

#define CL_TARGET_OPENCL_VERSION 200
#include <CL/cl.h>
#include <level_zero/ze_api.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xinhe::ze_cpu {

struct Driver;
struct Device;
struct Context;
struct EventPool;
struct Event;
struct Queue;
struct Kernel;

// Device timer: 10 ns ticks; kernel timestamps keep the low kKernelTimestampBits bits.
constexpr uint64_t kTimerNsPerTick = 10;
constexpr uint32_t kKernelTimestampBits = 32;
uint64_t device_ticks_now();

struct Driver {
  cl_platform_id platform = nullptr;
  cl_device_id cl_device = nullptr;
  cl_context cl_ctx = nullptr;
  std::string llvm_spirv;  // translator program
  bool reverse_order = true;
  std::unique_ptr<Device> device;
};

// The one driver instance, created by zeInit; nullptr before.
Driver* driver();

struct Device {
  Driver* driver = nullptr;
  std::string name;
  uint64_t total_memory = 0;
  uint64_t max_alloc = 0;
  uint32_t compute_units = 1;
  uint32_t clock_mhz = 0;
  uint32_t max_group_size = 256;
  uint32_t max_group_count = 0x7fffffff;  // per dimension (XINHE_ZE_CPU_MAX_GROUP_COUNT)
  bool fp64 = false;
  std::atomic<bool> lost{false};
  std::mutex lost_mutex;
  std::string lost_reason;
  void mark_lost(const std::string& why);
};

// One USM allocation: [user, user + size) with guard bytes of a known pattern on both sides.
struct Allocation {
  void* base = nullptr;  // clSVMAlloc result
  uint8_t* user = nullptr;
  uint64_t size = 0;
  uint64_t guard_before = 0, guard_after = 0;
  ze_memory_type_t type = ZE_MEMORY_TYPE_UNKNOWN;
};

struct Context {
  Driver* driver = nullptr;
  std::mutex mutex;
  std::map<uintptr_t, Allocation> allocations;  // by user address
  // The allocation containing [p, p + size) (size 0: containing p), or nullptr.
  // *in_guard is set when p falls into a guard area instead.
  const Allocation* find(const void* p, bool* in_guard = nullptr);
};

struct EventPool {
  Context* context = nullptr;
  ze_event_pool_flags_t flags = 0;
  uint32_t count = 0;
  std::vector<Event*> slots;  // created events by index
  std::mutex mutex;
};

struct Event {
  EventPool* pool = nullptr;
  uint32_t index = 0;
  std::mutex mutex;
  std::condition_variable cv;
  bool signaled = false;
  uint64_t start_ticks = 0, end_ticks = 0;
  void signal(uint64_t start, uint64_t end);
  void reset();
  // ZE_RESULT_SUCCESS, ZE_RESULT_NOT_READY (timeout) or ZE_RESULT_ERROR_DEVICE_LOST.
  ze_result_t wait(uint64_t timeout_ns, Device* device);
};

struct Fence {
  Queue* queue = nullptr;
  std::mutex mutex;
  std::condition_variable cv;
  bool signaled = false;
};

enum class CommandKind { kCopy, kFill, kKernel, kBarrier, kSignal, kWait, kReset };

// A captured kernel argument: a pointer (USM or null), a local-memory size or bytes.
struct KernelArg {
  enum Kind { kUnset, kPointer, kLocal, kValue } kind = kUnset;
  void* pointer = nullptr;
  size_t local_size = 0;
  std::vector<uint8_t> bytes;
};

struct Command {
  CommandKind kind = CommandKind::kBarrier;
  Event* signal = nullptr;
  std::vector<Event*> waits;
  // copy / fill
  void* dst = nullptr;
  const void* src = nullptr;
  size_t size = 0;
  std::vector<uint8_t> pattern;
  // kernel: everything captured at append time
  Kernel* kernel = nullptr;
  std::vector<KernelArg> args;
  uint32_t group_size[3] = {1, 1, 1};
  uint32_t group_count[3] = {1, 1, 1};
  // reset
  Event* reset_event = nullptr;
  bool is_sync_point() const {
    return kind != CommandKind::kCopy && kind != CommandKind::kFill && kind != CommandKind::kKernel;
  }
};

// A unit of submission: a closed list's commands (borrowed) or one immediate command (owned).
struct Work {
  std::vector<Command*> commands;
  std::unique_ptr<Command> owned;
  Fence* fence = nullptr;
  bool boundary_after = true;  // regular lists end a segment; immediate commands do not
  uint64_t ticket = 0;
  uint64_t seq = 0;  // submission number across all queues (xinhe_ze_cpu_hold_from)
};

struct Queue {
  Context* context = nullptr;
  Device* device = nullptr;
  ze_command_queue_mode_t mode = ZE_COMMAND_QUEUE_MODE_DEFAULT;
  std::mutex mutex;
  std::condition_variable work_cv, done_cv;
  std::deque<Work> pending;
  uint64_t submitted = 0, completed = 0;
  bool stop = false;
  std::thread worker;
  cl_command_queue cl_queue = nullptr;  // used by the worker only

  ze_result_t start();
  void submit(Work work);  // assigns the ticket
  ze_result_t wait_for(uint64_t ticket, uint64_t timeout_ns);
  void shutdown();  // drains, then joins the worker
 private:
  void run();
  void execute(Command& c);
};

struct CommandList {
  Context* context = nullptr;
  Device* device = nullptr;
  bool immediate = false;
  bool closed = false;
  std::vector<std::unique_ptr<Command>> commands;  // regular lists
  std::unique_ptr<Queue> queue;                    // immediate lists
  // Adds a command: recorded (regular) or submitted now (immediate).
  ze_result_t add(std::unique_ptr<Command> command);
};

struct Module {
  Context* context = nullptr;
  Device* device = nullptr;
  cl_program program = nullptr;
  std::string build_options;
};

struct Kernel {
  Module* module = nullptr;
  std::string name;
  cl_kernel cl_kernel_ = nullptr;
  std::vector<cl_kernel_arg_address_qualifier> qualifiers;
  std::vector<KernelArg> args;
  bool group_size_set = false;
  uint32_t group_size[3] = {1, 1, 1};
  std::mutex launch_mutex;  // cl_kernel argument state is per object
};

struct BuildLog {
  std::string text;
};

// ---- The entry points, grouped by DDI table (filled in cpu_driver_ddi.cpp) ----------------
namespace api {
ze_result_t init(ze_init_flags_t flags);
ze_result_t driver_get(uint32_t* count, ze_driver_handle_t* drivers);
ze_result_t driver_get_api_version(ze_driver_handle_t, ze_api_version_t* version);
ze_result_t driver_get_properties(ze_driver_handle_t, ze_driver_properties_t* props);
ze_result_t driver_get_ipc_properties(ze_driver_handle_t, ze_driver_ipc_properties_t* props);
ze_result_t driver_get_extension_properties(ze_driver_handle_t, uint32_t* count,
                                            ze_driver_extension_properties_t* props);
ze_result_t device_get(ze_driver_handle_t, uint32_t* count, ze_device_handle_t* devices);
ze_result_t device_get_sub_devices(ze_device_handle_t, uint32_t* count, ze_device_handle_t*);
ze_result_t device_get_properties(ze_device_handle_t, ze_device_properties_t* props);
ze_result_t device_get_compute_properties(ze_device_handle_t, ze_device_compute_properties_t*);
ze_result_t device_get_module_properties(ze_device_handle_t, ze_device_module_properties_t*);
ze_result_t device_get_command_queue_group_properties(ze_device_handle_t, uint32_t* count,
                                                      ze_command_queue_group_properties_t*);
ze_result_t device_get_memory_properties(ze_device_handle_t, uint32_t* count,
                                         ze_device_memory_properties_t*);
ze_result_t device_get_memory_access_properties(ze_device_handle_t,
                                                ze_device_memory_access_properties_t*);
ze_result_t device_get_status(ze_device_handle_t);
ze_result_t device_get_global_timestamps(ze_device_handle_t, uint64_t* host, uint64_t* device);
ze_result_t context_create(ze_driver_handle_t, const ze_context_desc_t*, ze_context_handle_t*);
ze_result_t context_destroy(ze_context_handle_t);
ze_result_t context_get_status(ze_context_handle_t);
ze_result_t mem_alloc_device(ze_context_handle_t, const ze_device_mem_alloc_desc_t*, size_t size,
                             size_t alignment, ze_device_handle_t, void** out);
ze_result_t mem_alloc_host(ze_context_handle_t, const ze_host_mem_alloc_desc_t*, size_t size,
                           size_t alignment, void** out);
ze_result_t mem_alloc_shared(ze_context_handle_t, const ze_device_mem_alloc_desc_t*,
                             const ze_host_mem_alloc_desc_t*, size_t size, size_t alignment,
                             ze_device_handle_t, void** out);
ze_result_t mem_free(ze_context_handle_t, void* ptr);
ze_result_t mem_get_alloc_properties(ze_context_handle_t, const void* ptr,
                                     ze_memory_allocation_properties_t*, ze_device_handle_t*);
ze_result_t mem_get_address_range(ze_context_handle_t, const void* ptr, void** base, size_t* size);
ze_result_t command_queue_create(ze_context_handle_t, ze_device_handle_t,
                                 const ze_command_queue_desc_t*, ze_command_queue_handle_t*);
ze_result_t command_queue_destroy(ze_command_queue_handle_t);
ze_result_t command_queue_execute_command_lists(ze_command_queue_handle_t, uint32_t count,
                                                ze_command_list_handle_t* lists,
                                                ze_fence_handle_t fence);
ze_result_t command_queue_synchronize(ze_command_queue_handle_t, uint64_t timeout);
ze_result_t command_list_create(ze_context_handle_t, ze_device_handle_t,
                                const ze_command_list_desc_t*, ze_command_list_handle_t*);
ze_result_t command_list_create_immediate(ze_context_handle_t, ze_device_handle_t,
                                          const ze_command_queue_desc_t*,
                                          ze_command_list_handle_t*);
ze_result_t command_list_destroy(ze_command_list_handle_t);
ze_result_t command_list_close(ze_command_list_handle_t);
ze_result_t command_list_reset(ze_command_list_handle_t);
ze_result_t command_list_append_barrier(ze_command_list_handle_t, ze_event_handle_t signal,
                                        uint32_t num_waits, ze_event_handle_t* waits);
ze_result_t command_list_append_memory_copy(ze_command_list_handle_t, void* dst, const void* src,
                                            size_t size, ze_event_handle_t signal,
                                            uint32_t num_waits, ze_event_handle_t* waits);
ze_result_t command_list_append_memory_fill(ze_command_list_handle_t, void* ptr,
                                            const void* pattern, size_t pattern_size, size_t size,
                                            ze_event_handle_t signal, uint32_t num_waits,
                                            ze_event_handle_t* waits);
ze_result_t command_list_append_signal_event(ze_command_list_handle_t, ze_event_handle_t);
ze_result_t command_list_append_wait_on_events(ze_command_list_handle_t, uint32_t num,
                                               ze_event_handle_t* events);
ze_result_t command_list_append_event_reset(ze_command_list_handle_t, ze_event_handle_t);
ze_result_t command_list_append_launch_kernel(ze_command_list_handle_t, ze_kernel_handle_t,
                                              const ze_group_count_t*, ze_event_handle_t signal,
                                              uint32_t num_waits, ze_event_handle_t* waits);
ze_result_t event_pool_create(ze_context_handle_t, const ze_event_pool_desc_t*,
                              uint32_t num_devices, ze_device_handle_t*, ze_event_pool_handle_t*);
ze_result_t event_pool_destroy(ze_event_pool_handle_t);
ze_result_t event_create(ze_event_pool_handle_t, const ze_event_desc_t*, ze_event_handle_t*);
ze_result_t event_destroy(ze_event_handle_t);
ze_result_t event_host_signal(ze_event_handle_t);
ze_result_t event_host_synchronize(ze_event_handle_t, uint64_t timeout);
ze_result_t event_query_status(ze_event_handle_t);
ze_result_t event_host_reset(ze_event_handle_t);
ze_result_t event_query_kernel_timestamp(ze_event_handle_t, ze_kernel_timestamp_result_t*);
ze_result_t fence_create(ze_command_queue_handle_t, const ze_fence_desc_t*, ze_fence_handle_t*);
ze_result_t fence_destroy(ze_fence_handle_t);
ze_result_t fence_host_synchronize(ze_fence_handle_t, uint64_t timeout);
ze_result_t fence_query_status(ze_fence_handle_t);
ze_result_t fence_reset(ze_fence_handle_t);
// cpu_driver_module.cpp
ze_result_t module_create(ze_context_handle_t, ze_device_handle_t, const ze_module_desc_t*,
                          ze_module_handle_t*, ze_module_build_log_handle_t*);
ze_result_t module_destroy(ze_module_handle_t);
ze_result_t module_get_native_binary(ze_module_handle_t, size_t* size, uint8_t* binary);
ze_result_t module_get_kernel_names(ze_module_handle_t, uint32_t* count, const char** names);
ze_result_t module_get_properties(ze_module_handle_t, ze_module_properties_t*);
ze_result_t module_build_log_destroy(ze_module_build_log_handle_t);
ze_result_t module_build_log_get_string(ze_module_build_log_handle_t, size_t* size, char* log);
ze_result_t kernel_create(ze_module_handle_t, const ze_kernel_desc_t*, ze_kernel_handle_t*);
ze_result_t kernel_destroy(ze_kernel_handle_t);
ze_result_t kernel_set_group_size(ze_kernel_handle_t, uint32_t x, uint32_t y, uint32_t z);
ze_result_t kernel_suggest_group_size(ze_kernel_handle_t, uint32_t gx, uint32_t gy, uint32_t gz,
                                      uint32_t* x, uint32_t* y, uint32_t* z);
ze_result_t kernel_set_argument_value(ze_kernel_handle_t, uint32_t index, size_t size,
                                      const void* value);
ze_result_t kernel_get_properties(ze_kernel_handle_t, ze_kernel_properties_t*);
ze_result_t kernel_get_name(ze_kernel_handle_t, size_t* size, char* name);
}  // namespace api

// Runs a captured launch on the worker's OpenCL queue (cpu_driver_module.cpp).
ze_result_t run_kernel(Command& c, cl_command_queue queue, std::string* error);

// Handle casts.
template <typename T, typename H>
T* from(H handle) {
  return reinterpret_cast<T*>(handle);
}
template <typename H, typename T>
H to(T* object) {
  return reinterpret_cast<H>(object);
}

}  // namespace xinhe::ze_cpu
