// Internal objects of the Level Zero backend (behind the opaque xinhe_be_* handles) and the
// interfaces shared by the backend table, the event-slot allocator, the module cache, the op
// implementations and the backend's own tests.
//
// Streams are in-order: every command after the first is preceded by a barrier, because Level
// Zero lets commands of one list run concurrently unless something orders them. A stream is
// an immediate command list (default: each command is submitted as it is appended, lowest
// latency) or, with XINHE_LEVEL_ZERO_COMMAND_LISTS=regular, a command queue fed by regular
// command lists that are closed and executed in batches (at synchronize, query, event record,
// or every kBatchCommands commands, not counting the ordering barriers).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "opencl_c_launch.h"
#include "status_util.h"
#include "xinhe/backend.h"
#include "ze_loader.h"

namespace xinhe::level_zero {

class ModuleCache;

enum class CommandListMode { kImmediate, kRegular };
enum class MemoryKind { kDevice, kHost, kShared };

const char* command_list_mode_name(CommandListMode mode);
const char* memory_kind_name(MemoryKind kind);

struct Backend {
  const xinhe_host_api_t* host = nullptr;
  ZeApi ze;
  struct DeviceSlot {
    ze_driver_handle_t driver;
    ze_device_handle_t device;
  };
  std::vector<DeviceSlot> slots;  // every device of every driver
  std::string cache_dir;
  CommandListMode list_mode = CommandListMode::kImmediate;
  bool memory_kind_forced = false;
  MemoryKind memory_kind = MemoryKind::kDevice;
  std::string extra_build_flags;  // XINHE_LEVEL_ZERO_BUILD_FLAGS
};

struct DeviceInfo {
  std::string name, vendor, driver_version;
  ze_device_type_t type = ZE_DEVICE_TYPE_GPU;
  bool integrated = false;
  uint32_t eu_count = 0;  // slices x subslices x EUs per subslice
  uint32_t threads_per_eu = 0, simd_width = 0;
  uint32_t clock_mhz = 0;
  uint64_t total_memory = 0, max_alloc = 0;
  uint32_t max_group_size = 1;
  uint32_t max_group_size_xyz[3] = {1, 1, 1};
  uint32_t max_group_count[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};  // maxGroupCount{X,Y,Z}
  uint64_t local_memory = 0;  // shared local memory per work-group
  bool fp16 = false, fp64 = false;
  double timer_ns_per_tick = 1.0;
  uint32_t kernel_timestamp_bits = 32;
  uint32_t compute_ordinal = 0;  // command queue group that runs kernels and copies
  uint64_t max_fill_pattern = 4;
  // What the OpenCL C kernels' work-groups and tiles must fit in (opencl_c_launch.h).
  opencl_c::KernelLimits kernel_limits() const {
    opencl_c::KernelLimits limits;
    limits.max_work_group_size = max_group_size;
    for (int i = 0; i < 3; ++i) limits.max_work_item_sizes[i] = max_group_size_xyz[i];
    limits.local_memory_bytes = local_memory;
    limits.cpu_like = type == ZE_DEVICE_TYPE_CPU;
    return limits;
  }
};

// Events for stream capture and synchronization, allocated from pools of host-visible
// kernel-timestamp events and recycled. A slot is reference counted: the xinhe event that
// recorded it holds one reference, and every stream that waits on it holds one until the host
// has seen that stream complete. A slot whose last reference goes is reset and reused only
// once it is signaled, so no queued signal or wait can ever see it reused; a slot that no
// submitted command signals (never appended, or only to a list discarded unexecuted) is
// reused at once, since nothing will ever signal it.
class EventSlots {
 public:
  struct Slot {
    ze_event_handle_t event = nullptr;
    int refs = 0;        // guarded by the allocator's mutex
    bool armed = false;  // a command that signals it was appended (guarded likewise)
  };
  EventSlots() = default;
  ~EventSlots() { destroy(); }
  EventSlots(const EventSlots&) = delete;
  EventSlots& operator=(const EventSlots&) = delete;
  void init(const ZeApi* ze, ze_context_handle_t context, ze_device_handle_t device);
  // A fresh, unsignaled slot with one reference.
  ZeCall acquire(Slot** out);
  void retain(Slot* slot);
  void release(Slot* slot);
  // A command that signals slot was appended / was discarded without being executed.
  void arm(Slot* slot);
  void disarm(Slot* slot);
  size_t pool_count() const;
  // Destroys every event and pool (before the context goes).
  void destroy();

 private:
  void recycle_locked();
  const ZeApi* ze_ = nullptr;
  ze_context_handle_t context_ = nullptr;
  ze_device_handle_t device_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<ze_event_pool_handle_t> pools_;
  std::vector<std::unique_ptr<Slot>> all_;
  std::vector<Slot*> free_;
  std::vector<Slot*> retired_;  // no references, maybe not signaled yet
};

struct Device {
  Backend* backend = nullptr;
  ze_driver_handle_t driver = nullptr;
  ze_device_handle_t device = nullptr;
  ze_context_handle_t context = nullptr;
  DeviceInfo info;
  MemoryKind memory_kind = MemoryKind::kDevice;
  EventSlots events;
  std::unique_ptr<ModuleCache> modules;
  const ZeApi& ze() const { return backend->ze; }
  const xinhe_host_api_t* host() const { return backend->host; }
};

// A stream's command recording, handed to ops so that their kernels are ordered like every
// other command. Valid only inside op_run (the stream's lock is held).
class StreamRecorder {
 public:
  virtual ~StreamRecorder() = default;
  // The list to append one command to, after the ordering barrier; call end_command() once the
  // command is appended. end_command may submit a batch: its failure (a lost device, a batch
  // that could not be submitted and was discarded with its commands) is returned at once.
  virtual xinhe_status_t begin_command(ze_command_list_handle_t* out_list) = 0;
  virtual xinhe_status_t end_command() = 0;
};

// The backend table (also used directly by the backend's tests).
const xinhe_backend_api_t* backend_api();

inline Device* to_device(xinhe_be_device_t d) { return reinterpret_cast<Device*>(d); }
// The device address of a buffer (nullptr for NULL, the 0-byte operand).
void* buffer_pointer(xinhe_be_buffer_t buffer);

// ---- Ops ----------------------------------------------------------------------------------

class Op {
 public:
  virtual ~Op() = default;
  // nullptr when runnable; else UNIMPLEMENTED with the reason (a fresh status each call).
  virtual xinhe_status_t check() const = 0;
  virtual const char* impl_name() const = 0;
  virtual uint64_t workspace_size() const { return 0; }
  virtual xinhe_status_t run(StreamRecorder& recorder, const xinhe_be_op_args_t& args) = 0;
};

// Test hooks for create_op; the plugin's op_create passes none.
struct OpOverrides {
  // Replaces the user's implementation filter when not NULL ("" = no filter).
  const char* impl_filter = nullptr;
  // Entries whose name contains this load a module the driver refuses to build instead of their
  // SPIR-V variant: a real zeModuleCreate failure, for tests of the fall-through.
  const char* break_build = nullptr;
};

xinhe_status_t create_op(Device* device, const xinhe_be_op_desc_t& desc,
                         const OpOverrides& overrides, std::unique_ptr<Op>* out);
// Enqueues op on stream as the plugin's op_run does: for tests that create ops with overrides.
xinhe_status_t run_op(Op& op, xinhe_be_stream_t stream, const xinhe_be_op_args_t& args);

}  // namespace xinhe::level_zero
