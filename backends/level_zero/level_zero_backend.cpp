// The Level Zero backend: xinhe's plugin table over the oneAPI Level Zero loader. Devices are
// every device of every driver, each with its own context; buffers are USM allocations
// (device memory unless XINHE_LEVEL_ZERO_MEMORY says host or shared); streams order their
// commands with barriers on an immediate command list or on regular lists executed on a
// command queue (see level_zero_internal.h); events are kernel-timestamp events signalled by
// barriers; ops run kernels built from the OpenCL C sources, compiled to SPIR-V at build time.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "level_zero_internal.h"
#include "module_cache.h"

namespace xinhe::level_zero {
namespace {

// A regular command list is closed and executed once it holds this many commands (copies,
// fills, launches, event records and waits; the ordering barriers between them are not
// counted), so work starts without waiting for a synchronize.
constexpr uint32_t kBatchCommands = 32;

Backend* as_backend(xinhe_be_backend_t b) { return reinterpret_cast<Backend*>(b); }

void copy_string(char* dst, size_t cap, const std::string& s) {
  std::strncpy(dst, s.c_str(), cap - 1);
  dst[cap - 1] = '\0';
}

xinhe_status_t out_of_host_memory(const xinhe_host_api_t* host, const char* call) {
  return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, call, "out of host memory");
}

// "immediate" / "regular"; "device" / "host" / "shared". An unknown value is an error, not a
// silent default, like XINHE_CPU_THREADS.
bool parse_list_mode(const char* v, CommandListMode* out) {
  if (std::strcmp(v, "immediate") == 0)
    *out = CommandListMode::kImmediate;
  else if (std::strcmp(v, "regular") == 0)
    *out = CommandListMode::kRegular;
  else
    return false;
  return true;
}

bool parse_memory_kind(const char* v, MemoryKind* out) {
  if (std::strcmp(v, "device") == 0)
    *out = MemoryKind::kDevice;
  else if (std::strcmp(v, "host") == 0)
    *out = MemoryKind::kHost;
  else if (std::strcmp(v, "shared") == 0)
    *out = MemoryKind::kShared;
  else
    return false;
  return true;
}

// ---- Buffers, streams, events --------------------------------------------------------------

struct Buffer {
  Device* device;
  void* ptr;
  uint64_t size;
};

struct Event;

class Stream final : public StreamRecorder {
 public:
  explicit Stream(Device* device) : device_(device) {}
  ~Stream() override;

  ZeCall init();
  // Appends one ordered command: fn(list) is called with the list after the ordering barrier.
  template <typename Fn>
  xinhe_status_t append(Fn&& fn, const char* call) {
    std::lock_guard<std::mutex> lock(mutex_);
    ze_command_list_handle_t list = nullptr;
    if (xinhe_status_t st = begin_command(&list)) return st;
    const ze_result_t r = fn(list);
    if (r != ZE_RESULT_SUCCESS) return ze_status(device_->host(), r, call, __FILE__, __LINE__);
    return end_command();
  }
  xinhe_status_t begin_command(ze_command_list_handle_t* out_list) override;
  xinhe_status_t end_command() override;

  // Waits for (or, with wait false, polls) everything submitted so far.
  ZeCall settle(bool wait, int* done);
  // Appends a barrier that signals slot once everything before it is done.
  ZeCall record(EventSlots::Slot* slot);
  // Later commands wait for slot; the stream keeps a reference until it has completed.
  ZeCall wait(EventSlots::Slot* slot);
  std::mutex& mutex() { return mutex_; }
  Device* device() const { return device_; }

 private:
  struct Batch {
    ze_command_list_handle_t list = nullptr;
    ze_fence_handle_t fence = nullptr;
  };
  const ZeApi& ze() const { return device_->ze(); }
  bool regular() const { return queue_ != nullptr; }
  ze_command_list_handle_t list() const { return regular() ? current_.list : immediate_; }
  ZeCall new_batch_locked(Batch* out);
  ZeCall current_batch_locked();
  void discard_current_locked();
  ZeCall flush_locked();
  ZeCall recycle_locked(bool wait);
  ZeCall settle_locked(bool wait, int* done);
  void release_held_locked();
  void destroy_batch(const Batch& b);

  Device* device_;
  std::mutex mutex_;
  ze_command_queue_handle_t queue_ = nullptr;  // regular mode only
  Batch current_;  // regular: the list being recorded (none until a command needs it)
  std::vector<EventSlots::Slot*> current_signals_;  // slots that current_'s commands signal
  std::deque<Batch> in_flight_;
  std::vector<Batch> spare_;
  ze_command_list_handle_t immediate_ = nullptr;  // immediate mode only
  uint32_t batch_commands_ = 0;  // commands in current_, not counting ordering barriers
  bool need_barrier_ = false;    // a command is queued that later ones must follow
  uint64_t submitted_ = 0, completed_ = 0;
  // A batch that could not be submitted and was discarded: the flushing command reported it;
  // the next synchronize or query reports it once more, so that the caller who waits for the
  // earlier commands learns they never ran.
  ZeCall discarded_;
  // Immediate mode: a marker event signalled by a barrier covering marker_target_ commands,
  // taken from the device's slots the first time a synchronize or query needs it.
  EventSlots::Slot* marker_ = nullptr;
  uint64_t marker_target_ = 0;
  bool marker_pending_ = false;
  std::vector<EventSlots::Slot*> held_;  // slots this stream waits on
  // The latest event record on this stream (one reference) and the commands it covers: once
  // its barrier has signalled, that work is done, whatever the batch's fence or a fresh marker
  // says yet (both can lag it: a query right after synchronizing that event read "not done").
  EventSlots::Slot* last_record_ = nullptr;
  uint64_t last_record_count_ = 0;
};

struct Event {
  Device* device;
  std::mutex mutex;
  EventSlots::Slot* capture = nullptr;  // one reference, released on re-record or destroy
};

// The current capture with a reference of its own, so a concurrent re-record cannot recycle
// it under us.
class CaptureRef {
 public:
  explicit CaptureRef(Event* event) : event_(event) {
    std::lock_guard<std::mutex> lock(event->mutex);
    slot_ = event->capture;
    if (slot_ != nullptr) event->device->events.retain(slot_);
  }
  ~CaptureRef() {
    if (slot_ != nullptr) event_->device->events.release(slot_);
  }
  CaptureRef(const CaptureRef&) = delete;
  CaptureRef& operator=(const CaptureRef&) = delete;
  EventSlots::Slot* get() const { return slot_; }

 private:
  Event* event_;
  EventSlots::Slot* slot_ = nullptr;
};

Stream* as_stream(xinhe_be_stream_t s) { return reinterpret_cast<Stream*>(s); }
Buffer* as_buffer(xinhe_be_buffer_t b) { return reinterpret_cast<Buffer*>(b); }
Event* as_event(xinhe_be_event_t e) { return reinterpret_cast<Event*>(e); }

void* mem_pointer(const xinhe_be_mem_t& m) {
  return static_cast<uint8_t*>(as_buffer(m.buffer)->ptr) + m.offset;
}

ZeCall Stream::init() {
  ze_command_queue_desc_t qdesc =
      ze_struct<ze_command_queue_desc_t>(ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC);
  qdesc.ordinal = device_->info.compute_ordinal;
  qdesc.index = 0;
  qdesc.mode = ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS;
  qdesc.priority = ZE_COMMAND_QUEUE_PRIORITY_NORMAL;
  if (device_->backend->list_mode == CommandListMode::kImmediate) {
    XINHE_ZE_TRY(
        ze().zeCommandListCreateImmediate(device_->context, device_->device, &qdesc, &immediate_),
        "zeCommandListCreateImmediate");
    return {};
  }
  XINHE_ZE_TRY(ze().zeCommandQueueCreate(device_->context, device_->device, &qdesc, &queue_),
               "zeCommandQueueCreate");
  return current_batch_locked();
}

void Stream::destroy_batch(const Batch& b) {
  if (b.list != nullptr) ze().zeCommandListDestroy(b.list);
  if (b.fence != nullptr) ze().zeFenceDestroy(b.fence);
}

Stream::~Stream() {
  {
    // The contract: destroying a stream waits for its work. A failure here (a lost device)
    // has nobody to report to; the next call on the device reports it.
    std::lock_guard<std::mutex> lock(mutex_);
    int done = 0;
    settle_locked(true, &done);
    // A query may have found the work done by its last event before the batches' fences
    // signalled: a command list is destroyed only once its fence says it has finished.
    recycle_locked(true);
    release_held_locked();
    // Likewise a marker barrier a query appended may still be queued on the immediate list
    // when the last event record showed the work done; the device must not reference a list
    // being destroyed, so wait for it.
    if (marker_pending_) ze().zeEventHostSynchronize(marker_->event, UINT64_MAX);
    // Commands never submitted (settling failed): the slots they signal never will.
    if (batch_commands_ > 0 || !current_signals_.empty()) discard_current_locked();
  }
  destroy_batch(current_);
  for (const Batch& b : in_flight_) destroy_batch(b);
  for (const Batch& b : spare_) destroy_batch(b);
  if (immediate_ != nullptr) ze().zeCommandListDestroy(immediate_);
  if (queue_ != nullptr) ze().zeCommandQueueDestroy(queue_);
  if (marker_ != nullptr) device_->events.release(marker_);
  if (last_record_ != nullptr) device_->events.release(last_record_);
}

ZeCall Stream::new_batch_locked(Batch* out) {
  if (!spare_.empty()) {
    *out = spare_.back();
    spare_.pop_back();
    return {};
  }
  ze_command_list_desc_t ldesc =
      ze_struct<ze_command_list_desc_t>(ZE_STRUCTURE_TYPE_COMMAND_LIST_DESC);
  ldesc.commandQueueGroupOrdinal = device_->info.compute_ordinal;
  Batch b;
  XINHE_ZE_TRY(ze().zeCommandListCreate(device_->context, device_->device, &ldesc, &b.list),
               "zeCommandListCreate");
  ze_fence_desc_t fdesc = ze_struct<ze_fence_desc_t>(ZE_STRUCTURE_TYPE_FENCE_DESC);
  const ze_result_t r = ze().zeFenceCreate(queue_, &fdesc, &b.fence);
  if (r != ZE_RESULT_SUCCESS) {
    ze().zeCommandListDestroy(b.list);
    return {r, "zeFenceCreate"};
  }
  *out = b;
  return {};
}

// Regular mode: the list being recorded, made (or taken from the spares) when there is none,
// after a flush or after a failed one, so that a failure never leaves the stream without one.
ZeCall Stream::current_batch_locked() {
  if (!regular() || current_.list != nullptr) return {};
  return new_batch_locked(&current_);
}

// Regular mode: drops the commands of a list that was not executed (its close or execution
// failed, or the stream goes): the slots they signal never will, and the list is reset for
// reuse, or destroyed when even that fails (a new one is made for the next command).
void Stream::discard_current_locked() {
  for (EventSlots::Slot* s : current_signals_) {
    device_->events.disarm(s);
    if (s == last_record_) {  // the record that failed to submit: nothing to wait for
      device_->events.release(last_record_);
      last_record_ = nullptr;
    }
  }
  current_signals_.clear();
  batch_commands_ = 0;
  if (current_.list != nullptr && ze().zeCommandListReset(current_.list) != ZE_RESULT_SUCCESS) {
    destroy_batch(current_);
    current_ = Batch{};
  }
}

xinhe_status_t Stream::begin_command(ze_command_list_handle_t* out_list) {
  if (ZeCall c = current_batch_locked()) return to_status(device_->host(), c, __FILE__, __LINE__);
  if (need_barrier_) {
    XINHE_ZE_RETURN_IF_ERROR(device_->host(),
                             ze().zeCommandListAppendBarrier(list(), nullptr, 0, nullptr),
                             "zeCommandListAppendBarrier");
    need_barrier_ = false;
  }
  *out_list = list();
  return nullptr;
}

// A flush that fails here is reported by the command that caused it: a lost device at once,
// not at the next synchronize.
xinhe_status_t Stream::end_command() {
  need_barrier_ = true;
  ++submitted_;
  if (regular() && ++batch_commands_ >= kBatchCommands)
    return to_status(device_->host(), flush_locked(), __FILE__, __LINE__);
  return nullptr;
}

ZeCall Stream::flush_locked() {
  if (!regular() || batch_commands_ == 0) return {};
  ze_result_t r = ze().zeCommandListClose(current_.list);
  const char* call = "zeCommandListClose";
  if (r == ZE_RESULT_SUCCESS) {
    r = ze().zeCommandQueueExecuteCommandLists(queue_, 1, &current_.list, current_.fence);
    call = "zeCommandQueueExecuteCommandLists";
  }
  if (r != ZE_RESULT_SUCCESS) {
    // Not submitted: its commands are lost (the caller reports it, and the next synchronize or
    // query again), and a closed list takes no more appends, so the stream goes on with the
    // list reset.
    discarded_ = {r, call,
                  std::to_string(batch_commands_) +
                      " command(s) of this stream's batch were discarded without running"};
    discard_current_locked();
    return {r, call};
  }
  in_flight_.push_back(current_);
  current_ = Batch{};
  current_signals_.clear();
  batch_commands_ = 0;
  return recycle_locked(false);  // the next batch is made by the next command
}

// Moves executed batches back to the spare list (resetting their list and fence).
ZeCall Stream::recycle_locked(bool wait) {
  while (!in_flight_.empty()) {
    Batch b = in_flight_.front();
    const ze_result_t r =
        wait ? ze().zeFenceHostSynchronize(b.fence, UINT64_MAX) : ze().zeFenceQueryStatus(b.fence);
    if (r == ZE_RESULT_NOT_READY) return {};
    if (r != ZE_RESULT_SUCCESS) return {r, wait ? "zeFenceHostSynchronize" : "zeFenceQueryStatus"};
    in_flight_.pop_front();
    // Executed: a batch that cannot be reset for reuse is destroyed rather than kept.
    ze_result_t reset = ze().zeFenceReset(b.fence);
    const char* call = "zeFenceReset";
    if (reset == ZE_RESULT_SUCCESS) {
      reset = ze().zeCommandListReset(b.list);
      call = "zeCommandListReset";
    }
    if (reset != ZE_RESULT_SUCCESS) {
      destroy_batch(b);
      return {reset, call};
    }
    spare_.push_back(b);
  }
  return {};
}

void Stream::release_held_locked() {
  for (EventSlots::Slot* s : held_) device_->events.release(s);
  held_.clear();
}

ZeCall Stream::settle_locked(bool wait, int* done) {
  *done = 0;
  if (discarded_) {
    ZeCall c = discarded_;
    discarded_ = {};
    return c;
  }
  if (completed_ >= submitted_) {
    *done = 1;
    return {};
  }
  const uint64_t target = submitted_;
  if (!wait && last_record_ != nullptr && last_record_count_ == target &&
      ze().zeEventQueryStatus(last_record_->event) == ZE_RESULT_SUCCESS) {
    if (ZeCall c = recycle_locked(false)) return c;  // batches whose fences have caught up
    *done = 1;
    completed_ = target;
    release_held_locked();
    return {};
  }
  if (regular()) {
    if (ZeCall c = flush_locked()) return c;
    if (wait)
      XINHE_ZE_TRY(ze().zeCommandQueueSynchronize(queue_, UINT64_MAX), "zeCommandQueueSynchronize");
    if (ZeCall c = recycle_locked(wait)) return c;
    if (!in_flight_.empty()) return {};
  } else {
    const auto poll = [&](ze_event_handle_t e) {
      return wait ? ze().zeEventHostSynchronize(e, UINT64_MAX) : ze().zeEventQueryStatus(e);
    };
    const char* poll_call = wait ? "zeEventHostSynchronize" : "zeEventQueryStatus";
    if (marker_ == nullptr) {
      if (ZeCall c = device_->events.acquire(&marker_)) return c;
    }
    if (marker_target_ < target) {
      if (marker_pending_) {  // an older marker is still queued: it must land before reuse
        const ze_result_t r = poll(marker_->event);
        if (r == ZE_RESULT_NOT_READY) return {};
        if (r != ZE_RESULT_SUCCESS) return {r, poll_call};
      }
      XINHE_ZE_TRY(ze().zeEventHostReset(marker_->event), "zeEventHostReset");
      // Reset: nothing signals it until a barrier is appended (so a failed append leaves it
      // free to reuse when the stream goes).
      device_->events.disarm(marker_);
      XINHE_ZE_TRY(ze().zeCommandListAppendBarrier(immediate_, marker_->event, 0, nullptr),
                   "zeCommandListAppendBarrier");
      device_->events.arm(marker_);
      need_barrier_ = false;
      marker_target_ = target;
      marker_pending_ = true;
    }
    const ze_result_t r = poll(marker_->event);
    if (r == ZE_RESULT_NOT_READY) return {};
    if (r != ZE_RESULT_SUCCESS) return {r, poll_call};
    marker_pending_ = false;
  }
  *done = 1;
  completed_ = target;
  release_held_locked();
  return {};
}

ZeCall Stream::settle(bool wait, int* done) {
  std::lock_guard<std::mutex> lock(mutex_);
  return settle_locked(wait, done);
}

ZeCall Stream::record(EventSlots::Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ZeCall c = current_batch_locked()) return c;
  // A barrier without wait events waits for everything queued before it and holds back
  // everything after it: it is the capture and the ordering point at once.
  XINHE_ZE_TRY(ze().zeCommandListAppendBarrier(list(), slot->event, 0, nullptr),
               "zeCommandListAppendBarrier");
  device_->events.arm(slot);
  if (regular()) current_signals_.push_back(slot);
  need_barrier_ = false;
  ++submitted_;
  ++batch_commands_;
  device_->events.retain(slot);
  if (last_record_ != nullptr) device_->events.release(last_record_);
  last_record_ = slot;
  last_record_count_ = submitted_;
  return flush_locked();  // another stream or the host may wait on it: submit it now
}

ZeCall Stream::wait(EventSlots::Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ZeCall c = current_batch_locked()) return c;
  XINHE_ZE_TRY(ze().zeCommandListAppendWaitOnEvents(list(), 1, &slot->event),
               "zeCommandListAppendWaitOnEvents");
  device_->events.retain(slot);
  held_.push_back(slot);
  ++submitted_;
  ++batch_commands_;
  return {};
}

// ---- Device information --------------------------------------------------------------------

std::string vendor_name(uint32_t vendor_id) {
  switch (vendor_id) {
    case 0x8086:
      return "Intel";
    case 0:
      return "unknown (no PCI vendor id)";
    default: {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "PCI vendor 0x%04x", vendor_id);
      return buffer;
    }
  }
}

xinhe_status_t query_device_info(const ZeApi& ze, const xinhe_host_api_t* host,
                                 ze_driver_handle_t driver, ze_device_handle_t dev,
                                 DeviceInfo* info) {
  ze_api_version_t api = ZE_API_VERSION_1_0;
  XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDriverGetApiVersion(driver, &api), "zeDriverGetApiVersion");
  ze_driver_properties_t dprops =
      ze_struct<ze_driver_properties_t>(ZE_STRUCTURE_TYPE_DRIVER_PROPERTIES);
  XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDriverGetProperties(driver, &dprops),
                           "zeDriverGetProperties");
  // The 1.2 layout reports the timer in ticks per second; older drivers only know the 1.0
  // layout, in nanoseconds per tick.
  const bool v12 = api >= ZE_API_VERSION_1_2;
  ze_device_properties_t p = ze_struct<ze_device_properties_t>(
      v12 ? ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2 : ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES);
  XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDeviceGetProperties(dev, &p), "zeDeviceGetProperties");
  ze_device_compute_properties_t cp =
      ze_struct<ze_device_compute_properties_t>(ZE_STRUCTURE_TYPE_DEVICE_COMPUTE_PROPERTIES);
  XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDeviceGetComputeProperties(dev, &cp),
                           "zeDeviceGetComputeProperties");
  ze_device_module_properties_t mp =
      ze_struct<ze_device_module_properties_t>(ZE_STRUCTURE_TYPE_DEVICE_MODULE_PROPERTIES);
  XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDeviceGetModuleProperties(dev, &mp),
                           "zeDeviceGetModuleProperties");
  uint32_t mem_count = 0;
  XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDeviceGetMemoryProperties(dev, &mem_count, nullptr),
                           "zeDeviceGetMemoryProperties");
  std::vector<ze_device_memory_properties_t> mems(
      mem_count,
      ze_struct<ze_device_memory_properties_t>(ZE_STRUCTURE_TYPE_DEVICE_MEMORY_PROPERTIES));
  if (mem_count > 0)
    XINHE_ZE_RETURN_IF_ERROR(host, ze.zeDeviceGetMemoryProperties(dev, &mem_count, mems.data()),
                             "zeDeviceGetMemoryProperties");
  uint32_t group_count = 0;
  XINHE_ZE_RETURN_IF_ERROR(host,
                           ze.zeDeviceGetCommandQueueGroupProperties(dev, &group_count, nullptr),
                           "zeDeviceGetCommandQueueGroupProperties");
  std::vector<ze_command_queue_group_properties_t> groups(
      group_count, ze_struct<ze_command_queue_group_properties_t>(
                       ZE_STRUCTURE_TYPE_COMMAND_QUEUE_GROUP_PROPERTIES));
  if (group_count > 0)
    XINHE_ZE_RETURN_IF_ERROR(
        host, ze.zeDeviceGetCommandQueueGroupProperties(dev, &group_count, groups.data()),
        "zeDeviceGetCommandQueueGroupProperties");
  bool found_compute = false;
  for (uint32_t i = 0; i < group_count && !found_compute; ++i) {
    if (groups[i].flags & ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE) {
      info->compute_ordinal = i;
      info->max_fill_pattern = groups[i].maxMemoryFillPatternSize;
      found_compute = true;
    }
  }
  if (!found_compute)
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "zeDeviceGetCommandQueueGroupProperties",
                          "the device has no compute command queue group");

  info->name = p.name;
  info->vendor = vendor_name(p.vendorId);
  info->driver_version = "Level Zero " + std::to_string(ZE_MAJOR_VERSION(api)) + "." +
                         std::to_string(ZE_MINOR_VERSION(api)) + ", driver " +
                         std::to_string(dprops.driverVersion);
  info->type = p.type;
  info->integrated = (p.flags & ZE_DEVICE_PROPERTY_FLAG_INTEGRATED) != 0;
  info->eu_count = p.numSlices * p.numSubslicesPerSlice * p.numEUsPerSubslice;
  info->threads_per_eu = p.numThreadsPerEU;
  info->simd_width = p.physicalEUSimdWidth;
  info->clock_mhz = p.coreClockRate;
  info->max_alloc = p.maxMemAllocSize;
  for (const auto& m : mems) info->total_memory += m.totalSize;
  info->max_group_size = cp.maxTotalGroupSize;
  info->max_group_size_xyz[0] = cp.maxGroupSizeX;
  info->max_group_size_xyz[1] = cp.maxGroupSizeY;
  info->max_group_size_xyz[2] = cp.maxGroupSizeZ;
  const uint32_t counts[3] = {cp.maxGroupCountX, cp.maxGroupCountY, cp.maxGroupCountZ};
  for (int i = 0; i < 3; ++i) info->max_group_count[i] = counts[i] != 0 ? counts[i] : 0xffffffffu;
  info->local_memory = cp.maxSharedLocalMemory;
  info->fp16 = (mp.flags & ZE_DEVICE_MODULE_FLAG_FP16) != 0;
  info->fp64 = (mp.flags & ZE_DEVICE_MODULE_FLAG_FP64) != 0;
  if (v12) {
    info->timer_ns_per_tick = p.timerResolution ? 1e9 / static_cast<double>(p.timerResolution) : 0;
  } else {
    info->timer_ns_per_tick = static_cast<double>(p.timerResolution);
  }
  info->kernel_timestamp_bits = p.kernelTimestampValidBits;
  return nullptr;
}

// ---- Backend and devices --------------------------------------------------------------------

xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out) {
  CommandListMode list_mode = CommandListMode::kImmediate;
  if (const char* v = std::getenv("XINHE_LEVEL_ZERO_COMMAND_LISTS");
      v && !parse_list_mode(v, &list_mode))
    return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, "backend_create",
                          "XINHE_LEVEL_ZERO_COMMAND_LISTS='%s' is not 'immediate' or 'regular'", v);
  MemoryKind memory_kind = MemoryKind::kDevice;
  const char* memory_env = std::getenv("XINHE_LEVEL_ZERO_MEMORY");
  if (memory_env && !parse_memory_kind(memory_env, &memory_kind))
    return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, "backend_create",
                          "XINHE_LEVEL_ZERO_MEMORY='%s' is not 'device', 'host' or 'shared'",
                          memory_env);
  auto* backend = new (std::nothrow) Backend();
  if (backend == nullptr) return out_of_host_memory(host, "backend_create");
  backend->host = host;
  backend->list_mode = list_mode;
  backend->memory_kind = memory_kind;
  backend->memory_kind_forced = memory_env != nullptr;
  if (const char* flags = std::getenv("XINHE_LEVEL_ZERO_BUILD_FLAGS"))
    backend->extra_build_flags = flags;
  std::string reason;
  if (!ze_api_load("libze_loader.so.1", &backend->ze, &reason)) {
    delete backend;
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "dlopen",
                          "%s (the oneAPI Level Zero loader, Debian package libze1)",
                          reason.c_str());
  }
  const ZeApi& ze = backend->ze;
  const ze_result_t init = ze.zeInit(0);
  if (init != ZE_RESULT_SUCCESS) {
    delete backend;
    // The loader answers UNINITIALIZED when it found no driver that initializes: no Intel
    // GPU driver (libze_intel_gpu.so.1), or none of the ZE_ENABLE_ALT_DRIVERS.
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "zeInit",
                          "no Level Zero driver (zeInit: %s; Intel GPUs need Intel's compute "
                          "runtime, libze_intel_gpu.so.1)",
                          ze_result_name(init).c_str());
  }
  uint32_t driver_count = 0;
  ze_result_t r = ze.zeDriverGet(&driver_count, nullptr);
  std::vector<ze_driver_handle_t> drivers(driver_count);
  if (r == ZE_RESULT_SUCCESS && driver_count > 0) r = ze.zeDriverGet(&driver_count, drivers.data());
  if (r != ZE_RESULT_SUCCESS) {
    xinhe_status_t st = ze_status(host, r, "zeDriverGet", __FILE__, __LINE__);
    delete backend;
    return st;
  }
  for (ze_driver_handle_t d : drivers) {
    uint32_t n = 0;
    if (ze.zeDeviceGet(d, &n, nullptr) != ZE_RESULT_SUCCESS || n == 0) continue;
    std::vector<ze_device_handle_t> devices(n);
    if (ze.zeDeviceGet(d, &n, devices.data()) != ZE_RESULT_SUCCESS) continue;
    for (ze_device_handle_t dev : devices) backend->slots.push_back({d, dev});
  }
  if (backend->slots.empty()) {
    delete backend;
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "zeDeviceGet",
                          "no Level Zero device on any driver");
  }
  backend->cache_dir = default_cache_dir();
  *out = reinterpret_cast<xinhe_be_backend_t>(backend);
  return nullptr;
}

void backend_destroy(xinhe_be_backend_t b) {
  // The loader stays mapped (see ze_loader.cpp): drivers keep threads and exit handlers.
  delete as_backend(b);
}

xinhe_status_t device_count(xinhe_be_backend_t b, uint32_t* out) {
  *out = static_cast<uint32_t>(as_backend(b)->slots.size());
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t b, uint32_t index, xinhe_be_device_t* out) {
  Backend* backend = as_backend(b);
  const ZeApi& ze = backend->ze;
  const Backend::DeviceSlot slot = backend->slots.at(index);
  auto device = std::make_unique<Device>();
  device->backend = backend;
  device->driver = slot.driver;
  device->device = slot.device;
  if (xinhe_status_t st =
          query_device_info(ze, backend->host, slot.driver, slot.device, &device->info))
    return st;
  ze_context_desc_t cdesc = ze_struct<ze_context_desc_t>(ZE_STRUCTURE_TYPE_CONTEXT_DESC);
  XINHE_ZE_RETURN_IF_ERROR(backend->host, ze.zeContextCreate(slot.driver, &cdesc, &device->context),
                           "zeContextCreate");
  device->memory_kind = backend->memory_kind;
  device->events.init(&backend->ze, device->context, device->device);
  device->modules = std::make_unique<ModuleCache>(device.get(), backend->cache_dir);
  *out = reinterpret_cast<xinhe_be_device_t>(device.release());
  return nullptr;
}

void device_close(xinhe_be_device_t d) {
  Device* device = to_device(d);
  if (device == nullptr) return;
  device->modules.reset();  // kernels and modules before their context
  device->events.destroy();
  device->ze().zeContextDestroy(device->context);
  delete device;
}

// A CPU driver's device is a CPU, so it never becomes the default device over cpu:0.
uint32_t device_type_of(ze_device_type_t type) {
  switch (type) {
    case ZE_DEVICE_TYPE_GPU:
      return XINHE_DEVICE_TYPE_GPU;
    case ZE_DEVICE_TYPE_CPU:
      return XINHE_DEVICE_TYPE_CPU;
    case ZE_DEVICE_TYPE_VPU:
      return XINHE_DEVICE_TYPE_NPU;  // Intel's VPU is its neural processing unit
    default:
      return XINHE_DEVICE_TYPE_ACCELERATOR;  // FPGA, memory copy accelerator
  }
}

xinhe_status_t device_properties(xinhe_be_device_t d, xinhe_device_properties_t* out) {
  const Device* device = to_device(d);
  const DeviceInfo& info = device->info;
  copy_string(out->description, sizeof(out->description), info.name);
  copy_string(out->vendor, sizeof(out->vendor), info.vendor);
  copy_string(out->driver_version, sizeof(out->driver_version), info.driver_version);
  out->total_memory = info.total_memory;
  out->free_memory = 0;  // Level Zero core has no query (Sysman's zesMemoryGetState has)
  out->compute_units = info.eu_count;
  out->flags = XINHE_DEVICE_FLAG_TIMING;  // every event carries kernel timestamps
  if (info.integrated || info.type == ZE_DEVICE_TYPE_CPU)
    out->flags |= XINHE_DEVICE_FLAG_HOST_MEMORY;
  if (info.fp64) out->flags |= XINHE_DEVICE_FLAG_FP64;
  // f16 goes through vload_half / vstore_half and bf16 through 16-bit words in the OpenCL C
  // kernels, so every op runs all three dtypes whether or not the device has fp16 arithmetic.
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16) |
                    XINHE_DTYPE_CAP(XINHE_DTYPE_BF16);
  out->min_alignment = 64;
  for (double& f : out->peak_flops) f = 0.0;  // not derivable from core properties alone
  out->memory_bandwidth = 0.0;
  if (XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type))
    out->device_type = device_type_of(info.type);
  return nullptr;
}

// ---- Memory ----

xinhe_status_t buffer_alloc(xinhe_be_device_t d, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out) {
  Device* device = to_device(d);
  const DeviceInfo& info = device->info;
  if (info.max_alloc != 0 && size > info.max_alloc)
    return XINHE_BE_ERROR(device->host(), OUT_OF_MEMORY, kBackendName, "zeMemAlloc",
                          "size %llu exceeds maxMemAllocSize %llu",
                          static_cast<unsigned long long>(size),
                          static_cast<unsigned long long>(info.max_alloc));
  const ZeApi& ze = device->ze();
  void* ptr = nullptr;
  ze_result_t r = ZE_RESULT_SUCCESS;
  const char* call = "zeMemAllocDevice";
  ze_device_mem_alloc_desc_t ddesc =
      ze_struct<ze_device_mem_alloc_desc_t>(ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC);
  ze_host_mem_alloc_desc_t hdesc =
      ze_struct<ze_host_mem_alloc_desc_t>(ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC);
  switch (device->memory_kind) {
    case MemoryKind::kDevice:
      r = ze.zeMemAllocDevice(device->context, &ddesc, size, alignment, device->device, &ptr);
      break;
    case MemoryKind::kHost:
      call = "zeMemAllocHost";
      r = ze.zeMemAllocHost(device->context, &hdesc, size, alignment, &ptr);
      break;
    case MemoryKind::kShared:
      call = "zeMemAllocShared";
      r = ze.zeMemAllocShared(device->context, &ddesc, &hdesc, size, alignment, device->device,
                              &ptr);
      break;
  }
  if (r == ZE_RESULT_ERROR_UNSUPPORTED_SIZE)
    return XINHE_BE_ERROR(device->host(), OUT_OF_MEMORY, kBackendName, call,
                          "%s failed: ZE_RESULT_ERROR_UNSUPPORTED_SIZE for %llu bytes", call,
                          static_cast<unsigned long long>(size));
  // backend.h: an alignment the backend cannot honour is UNIMPLEMENTED with the reason.
  if (r == ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT)
    return XINHE_BE_ERROR(device->host(), UNIMPLEMENTED, kBackendName, call,
                          "%s failed: ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT: the driver cannot "
                          "place %llu bytes at a multiple of %llu bytes",
                          call, static_cast<unsigned long long>(size),
                          static_cast<unsigned long long>(alignment));
  XINHE_ZE_RETURN_IF_ERROR(device->host(), r, call);
  auto* buffer = new (std::nothrow) Buffer{device, ptr, size};
  if (buffer == nullptr) {
    ze.zeMemFree(device->context, ptr);
    return out_of_host_memory(device->host(), "buffer_alloc");
  }
  *out = reinterpret_cast<xinhe_be_buffer_t>(buffer);
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t b) {
  Buffer* buffer = as_buffer(b);
  if (buffer == nullptr) return;
  buffer->device->ze().zeMemFree(buffer->device->context, buffer->ptr);
  delete buffer;
}

// Host and shared USM allocations are host addresses; device allocations are not, not even on
// an integrated GPU (Level Zero promises no host access to them).
xinhe_status_t buffer_host_pointer(xinhe_be_buffer_t b, void** out_pointer) {
  Buffer* buffer = as_buffer(b);
  if (buffer->device->memory_kind == MemoryKind::kDevice)
    return XINHE_BE_ERROR(
        buffer->device->host(), UNIMPLEMENTED, kBackendName, "buffer_host_pointer",
        "level_zero buffers are device allocations, which the host cannot address; "
        "XINHE_LEVEL_ZERO_MEMORY=host or shared allocates host-addressable ones");
  *out_pointer = buffer->ptr;
  return nullptr;
}

// Every USM allocation (device, host or shared) has one address valid on the device.
xinhe_status_t buffer_address(xinhe_be_buffer_t b, uint64_t* out_address) {
  *out_address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(as_buffer(b)->ptr));
  return nullptr;
}

// ---- Streams ----

xinhe_status_t stream_create(xinhe_be_device_t d, xinhe_be_stream_t* out) {
  Device* device = to_device(d);
  auto stream = std::unique_ptr<Stream>(new (std::nothrow) Stream(device));
  if (!stream) return out_of_host_memory(device->host(), "stream_create");
  if (ZeCall c = stream->init()) return to_status(device->host(), c, __FILE__, __LINE__);
  *out = reinterpret_cast<xinhe_be_stream_t>(stream.release());
  return nullptr;
}

void stream_destroy(xinhe_be_stream_t s) { delete as_stream(s); }

xinhe_status_t stream_synchronize(xinhe_be_stream_t s) {
  Stream* stream = as_stream(s);
  int done = 0;
  return to_status(stream->device()->host(), stream->settle(true, &done), __FILE__, __LINE__);
}

xinhe_status_t stream_query(xinhe_be_stream_t s, int* out_done) {
  Stream* stream = as_stream(s);
  return to_status(stream->device()->host(), stream->settle(false, out_done), __FILE__, __LINE__);
}

// ---- Copies and fills ----
// Host memory given by the application (pageable, not a USM allocation) is passed to
// zeCommandListAppendMemoryCopy as is. The specification asks for memory the device can
// access; xinhe relies on the driver accepting ordinary host memory there, as Intel's GPU
// driver does (it imports or stages it) and the CPU test driver does. Other drivers are
// unchecked (docs/level_zero.md).

xinhe_status_t copy_host_to_device(xinhe_be_stream_t s, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  Stream* stream = as_stream(s);
  void* to = mem_pointer(dst);
  return stream->append(
      [&](ze_command_list_handle_t list) {
        return stream->device()->ze().zeCommandListAppendMemoryCopy(list, to, src, size, nullptr, 0,
                                                                    nullptr);
      },
      "zeCommandListAppendMemoryCopy");
}

xinhe_status_t copy_device_to_host(xinhe_be_stream_t s, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  Stream* stream = as_stream(s);
  const void* from = mem_pointer(src);
  return stream->append(
      [&](ze_command_list_handle_t list) {
        return stream->device()->ze().zeCommandListAppendMemoryCopy(list, dst, from, size, nullptr,
                                                                    0, nullptr);
      },
      "zeCommandListAppendMemoryCopy");
}

xinhe_status_t copy_device_to_device(xinhe_be_stream_t s, xinhe_be_mem_t dst, xinhe_be_mem_t src,
                                     uint64_t size) {
  Stream* stream = as_stream(s);
  void* to = mem_pointer(dst);
  const void* from = mem_pointer(src);
  return stream->append(
      [&](ze_command_list_handle_t list) {
        return stream->device()->ze().zeCommandListAppendMemoryCopy(list, to, from, size, nullptr,
                                                                    0, nullptr);
      },
      "zeCommandListAppendMemoryCopy");
}

xinhe_status_t fill(xinhe_be_stream_t s, xinhe_be_mem_t dst, uint64_t size, const void* pattern,
                    uint32_t pattern_size) {
  Stream* stream = as_stream(s);
  void* to = mem_pointer(dst);
  return stream->append(
      [&](ze_command_list_handle_t list) {
        return stream->device()->ze().zeCommandListAppendMemoryFill(list, to, pattern, pattern_size,
                                                                    size, nullptr, 0, nullptr);
      },
      "zeCommandListAppendMemoryFill");
}

// ---- Events ----

xinhe_status_t event_create(xinhe_be_device_t d, xinhe_be_event_t* out) {
  auto* event = new (std::nothrow) Event();
  if (event == nullptr) return out_of_host_memory(to_device(d)->host(), "event_create");
  event->device = to_device(d);
  *out = reinterpret_cast<xinhe_be_event_t>(event);
  return nullptr;
}

void event_destroy(xinhe_be_event_t e) {
  Event* event = as_event(e);
  if (event == nullptr) return;
  if (event->capture != nullptr) event->device->events.release(event->capture);
  delete event;
}

xinhe_status_t event_record(xinhe_be_event_t e, xinhe_be_stream_t s) {
  Event* event = as_event(e);
  Device* device = event->device;
  EventSlots::Slot* slot = nullptr;
  if (ZeCall c = device->events.acquire(&slot))
    return to_status(device->host(), c, __FILE__, __LINE__);
  if (ZeCall c = as_stream(s)->record(slot)) {
    device->events.release(slot);
    return to_status(device->host(), c, __FILE__, __LINE__);
  }
  EventSlots::Slot* previous = nullptr;
  {
    std::lock_guard<std::mutex> lock(event->mutex);
    previous = event->capture;
    event->capture = slot;
  }
  if (previous != nullptr) device->events.release(previous);
  return nullptr;
}

xinhe_status_t stream_wait_event(xinhe_be_stream_t s, xinhe_be_event_t e) {
  CaptureRef ref(as_event(e));
  if (ref.get() == nullptr) return nullptr;  // never recorded: already complete
  Stream* stream = as_stream(s);
  return to_status(stream->device()->host(), stream->wait(ref.get()), __FILE__, __LINE__);
}

xinhe_status_t event_synchronize(xinhe_be_event_t e) {
  Event* event = as_event(e);
  CaptureRef ref(event);
  if (ref.get() == nullptr) return nullptr;
  XINHE_ZE_RETURN_IF_ERROR(event->device->host(),
                           event->device->ze().zeEventHostSynchronize(ref.get()->event, UINT64_MAX),
                           "zeEventHostSynchronize");
  return nullptr;
}

xinhe_status_t event_query(xinhe_be_event_t e, int* out_done) {
  Event* event = as_event(e);
  CaptureRef ref(event);
  if (ref.get() == nullptr) {
    *out_done = 1;
    return nullptr;
  }
  const ze_result_t r = event->device->ze().zeEventQueryStatus(ref.get()->event);
  if (r == ZE_RESULT_NOT_READY) {
    *out_done = 0;
    return nullptr;
  }
  XINHE_ZE_RETURN_IF_ERROR(event->device->host(), r, "zeEventQueryStatus");
  *out_done = 1;
  return nullptr;
}

xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  Event* a = as_event(start);
  Event* b = as_event(end);
  Device* device = a->device;
  CaptureRef ref_a(a), ref_b(b);
  ze_kernel_timestamp_result_t ta{}, tb{};
  XINHE_ZE_RETURN_IF_ERROR(device->host(),
                           device->ze().zeEventQueryKernelTimestamp(ref_a.get()->event, &ta),
                           "zeEventQueryKernelTimestamp");
  XINHE_ZE_RETURN_IF_ERROR(device->host(),
                           device->ze().zeEventQueryKernelTimestamp(ref_b.get()->event, &tb),
                           "zeEventQueryKernelTimestamp");
  // Kernel timestamps keep only kernelTimestampValidBits bits: subtract modulo that width and
  // read the difference as a signed number of that width, so an end that completed before
  // the start gives a negative time (as the other backends do); intervals are told apart up
  // to half a wrap of the counter either way.
  const uint32_t bits = device->info.kernel_timestamp_bits;
  const uint64_t mask = bits >= 64 || bits == 0 ? ~0ull : (1ull << bits) - 1;
  const uint64_t ticks = (tb.global.kernelEnd - ta.global.kernelEnd) & mask;
  const double signed_ticks = ticks > mask / 2
                                  ? -static_cast<double>(mask - ticks) - 1.0  // ticks - 2^bits
                                  : static_cast<double>(ticks);
  *out_ms = static_cast<float>(signed_ticks * device->info.timer_ns_per_tick * 1e-6);
  return nullptr;
}

// ---- Ops ----

struct OpHandle {
  std::unique_ptr<Op> op;
};
OpHandle* as_op(xinhe_be_op_t o) { return reinterpret_cast<OpHandle*>(o); }

xinhe_status_t op_create(xinhe_be_device_t d, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out) {
  std::unique_ptr<Op> op;
  if (xinhe_status_t st = create_op(to_device(d), *desc, OpOverrides{}, &op)) return st;
  auto* handle = new (std::nothrow) OpHandle{std::move(op)};
  if (handle == nullptr) return out_of_host_memory(to_device(d)->host(), "op_create");
  *out = reinterpret_cast<xinhe_be_op_t>(handle);
  return nullptr;
}

// Kernels and modules belong to the device's module cache, so queued launches stay valid.
void op_destroy(xinhe_be_op_t o) { delete as_op(o); }

xinhe_status_t op_check(xinhe_be_op_t o) { return as_op(o)->op->check(); }

xinhe_status_t op_workspace_size(xinhe_be_op_t o, uint64_t* out_bytes) {
  *out_bytes = as_op(o)->op->workspace_size();
  return nullptr;
}

const char* op_impl_name(xinhe_be_op_t o) { return as_op(o)->op->impl_name(); }

xinhe_status_t op_run(xinhe_be_op_t o, xinhe_be_stream_t s, const xinhe_be_op_args_t* args) {
  Stream* stream = as_stream(s);
  std::lock_guard<std::mutex> lock(stream->mutex());
  return as_op(o)->op->run(*stream, *args);
}

const xinhe_backend_api_t kApi = {
    sizeof(xinhe_backend_api_t),
    XINHE_BACKEND_ABI_MAJOR,
    XINHE_BACKEND_ABI_MINOR,
    kBackendName,
    backend_create,
    backend_destroy,
    device_count,
    device_open,
    device_close,
    device_properties,
    buffer_alloc,
    buffer_free,
    stream_create,
    stream_destroy,
    stream_synchronize,
    stream_query,
    copy_host_to_device,
    copy_device_to_host,
    copy_device_to_device,
    fill,
    event_create,
    event_destroy,
    event_record,
    stream_wait_event,
    event_synchronize,
    event_query,
    event_elapsed_ms,
    op_create,
    op_destroy,
    op_check,
    op_workspace_size,
    op_impl_name,
    op_run,
    buffer_host_pointer,
    nullptr,  // buffer_wrap_host: Level Zero 1.4 cannot import the caller's host memory
    buffer_address,
    nullptr,  // op_run_impl_name: the kernel is chosen at create only
};

}  // namespace

xinhe_status_t run_op(Op& op, xinhe_be_stream_t s, const xinhe_be_op_args_t& args) {
  Stream* stream = as_stream(s);
  std::lock_guard<std::mutex> lock(stream->mutex());
  return op.run(*stream, args);
}

const char* command_list_mode_name(CommandListMode mode) {
  return mode == CommandListMode::kImmediate ? "immediate" : "regular";
}

const char* memory_kind_name(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kDevice:
      return "device";
    case MemoryKind::kHost:
      return "host";
    case MemoryKind::kShared:
      return "shared";
  }
  return "?";
}

void* buffer_pointer(xinhe_be_buffer_t buffer) {
  return buffer == nullptr ? nullptr : as_buffer(buffer)->ptr;
}

const xinhe_backend_api_t* backend_api() { return &kApi; }

}  // namespace xinhe::level_zero
