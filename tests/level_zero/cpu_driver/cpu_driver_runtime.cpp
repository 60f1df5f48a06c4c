// The CPU test driver's runtime: driver and device queries, contexts, USM allocations with
// guard bytes, event pools and events with kernel timestamps, fences, command lists and
// queues, and the queue worker that executes commands (see cpu_driver.h for the semantics).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpu_driver.h"
#include "cpu_driver_hooks.h"

namespace xinhe::ze_cpu {
namespace {

constexpr uint8_t kGuardByte = 0xa5;
constexpr size_t kMaxFillPattern = 128;
constexpr uint32_t kDriverVersion = 0x00010000;  // 1.0 of this test driver

std::mutex g_init_mutex;
// Created by zeInit and kept for the life of the process, like a GPU driver's state: the
// OpenCL context it holds (and every PoCL object hanging off it) stays reachable at exit.
Driver* g_driver = nullptr;
// XINHE_ZE_CPU_TIMESTAMP_WRAP_MS: shift the device clock so that kernel timestamps (32 bits)
// wrap that many milliseconds after zeInit, to test consumers' wrap-around arithmetic.
uint64_t g_tick_offset = 0;

// ---- Test hooks (cpu_driver_hooks.h) ----
// Faults armed by xinhe_ze_cpu_inject, and the call counts, one entry per kFaultCalls name.
struct FaultPoint {
  uint64_t calls = 0;
  ze_result_t result = ZE_RESULT_SUCCESS;
  uint32_t skip = 0, times = 0;
};
constexpr size_t kFaultPoints = sizeof(kFaultCalls) / sizeof(kFaultCalls[0]);
std::mutex g_fault_mutex;
FaultPoint g_faults[kFaultPoints];

int fault_index(const char* call) {
  if (call == nullptr) return -1;
  for (size_t i = 0; i < kFaultPoints; ++i)
    if (std::strcmp(kFaultCalls[i], call) == 0) return static_cast<int>(i);
  return -1;
}

// Counts a call of `call` and returns the result an armed fault gives it (SUCCESS: none).
ze_result_t injected(const char* call) {
  const int i = fault_index(call);
  if (i < 0) std::abort();  // a call missing from kFaultCalls: a bug of this driver
  std::lock_guard<std::mutex> lock(g_fault_mutex);
  FaultPoint& f = g_faults[i];
  ++f.calls;
  if (f.times == 0) return ZE_RESULT_SUCCESS;
  if (f.skip > 0) {
    --f.skip;
    return ZE_RESULT_SUCCESS;
  }
  --f.times;
  return f.result;
}

// Work numbered g_hold_from or later does not start until the hold moves past it.
std::atomic<uint64_t> g_submissions{0};
std::atomic<uint64_t> g_hold_from{UINT64_MAX};
std::mutex g_hold_mutex;
std::condition_variable g_hold_cv;
std::atomic<uint32_t> g_host_waiters{0};

// Counts a thread blocked in a host synchronize call (xinhe_ze_cpu_host_waiters).
class HostWaiter {
 public:
  explicit HostWaiter(uint64_t timeout) : counted_(timeout != 0) {
    if (counted_) ++g_host_waiters;
  }
  ~HostWaiter() {
    if (counted_) --g_host_waiters;
  }
  HostWaiter(const HostWaiter&) = delete;
  HostWaiter& operator=(const HostWaiter&) = delete;

 private:
  bool counted_;
};

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string cl_string(cl_device_id d, cl_device_info what) {
  size_t size = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (clGetDeviceInfo(d, what, size, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

template <typename T>
T cl_value(cl_device_id d, cl_device_info what) {
  T v{};
  clGetDeviceInfo(d, what, sizeof(T), &v, nullptr);
  return v;
}

void copy_name(char* dst, size_t cap, const std::string& s) {
  std::snprintf(dst, cap, "%s", s.c_str());
}

// An out-of-bounds write shows up as a changed guard byte.
bool guards_intact(const Allocation& a) {
  const uint8_t* before = a.user - a.guard_before;
  const uint8_t* after = a.user + a.size;
  for (uint64_t i = 0; i < a.guard_before; ++i)
    if (before[i] != kGuardByte) return false;
  for (uint64_t i = 0; i < a.guard_after; ++i)
    if (after[i] != kGuardByte) return false;
  return true;
}

// Checks the guards of every allocation a kernel's pointer arguments point into.
void check_guards_after(Command& c, Device* device) {
  std::string broken;
  {
    Context* context = c.kernel->module->context;
    std::lock_guard<std::mutex> lock(context->mutex);
    for (const KernelArg& arg : c.args) {
      if (arg.kind != KernelArg::kPointer || arg.pointer == nullptr) continue;
      auto it = context->allocations.upper_bound(reinterpret_cast<uintptr_t>(arg.pointer));
      if (it == context->allocations.begin()) continue;
      --it;
      if (!guards_intact(it->second))
        broken = "kernel " + c.kernel->name + " wrote outside the allocation at " +
                 std::to_string(it->first) + " (" + std::to_string(it->second.size) + " bytes)";
    }
  }
  if (!broken.empty()) device->mark_lost(broken);
}

ze_result_t validate_events(ze_event_handle_t signal, uint32_t num_waits, ze_event_handle_t* waits,
                            Command* c) {
  if (num_waits > 0 && waits == nullptr) return ZE_RESULT_ERROR_INVALID_SIZE;
  for (uint32_t i = 0; i < num_waits; ++i) {
    if (waits[i] == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    c->waits.push_back(from<Event>(waits[i]));
  }
  c->signal = from<Event>(signal);
  return ZE_RESULT_SUCCESS;
}

// A USM range must stay inside its allocation; host memory outside USM is allowed (copies
// from and to the application's own memory).
ze_result_t check_range(Context* context, const void* p, size_t size) {
  bool in_guard = false;
  std::lock_guard<std::mutex> lock(context->mutex);
  const Allocation* a = context->find(p, &in_guard);
  if (in_guard) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  if (a == nullptr) return ZE_RESULT_SUCCESS;
  const uint64_t offset = static_cast<const uint8_t*>(p) - a->user;
  if (size > a->size - offset) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  return ZE_RESULT_SUCCESS;
}

ze_result_t allocate(Context* context, size_t size, size_t alignment, ze_memory_type_t type,
                     void** out) {
  Device* device = context->driver->device.get();
  if (out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (size == 0 || size > device->max_alloc) return ZE_RESULT_ERROR_UNSUPPORTED_SIZE;
  if (alignment != 0 && !is_pow2(alignment)) return ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT;
  // PoCL aligns SVM to kSvmAlign; larger alignments come from over-allocating.
  constexpr size_t kSvmAlign = 128, kGuard = 256;
  const size_t extra = alignment > kSvmAlign ? alignment : 0;
  if (size > SIZE_MAX - 2 * kGuard - extra) return ZE_RESULT_ERROR_UNSUPPORTED_SIZE;
  void* base = clSVMAlloc(context->driver->cl_ctx, CL_MEM_READ_WRITE | CL_MEM_SVM_FINE_GRAIN_BUFFER,
                          size + 2 * kGuard + extra, kSvmAlign);
  if (base == nullptr) return ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY;
  const size_t align = alignment > kSvmAlign ? alignment : kSvmAlign;
  const uintptr_t first = reinterpret_cast<uintptr_t>(base) + kGuard;
  Allocation a;
  a.base = base;
  a.user = reinterpret_cast<uint8_t*>((first + align - 1) / align * align);
  a.size = size;
  a.guard_before = a.user - static_cast<uint8_t*>(base);
  a.guard_after = kGuard;
  a.type = type;
  std::memset(base, kGuardByte, a.guard_before);
  std::memset(a.user + size, kGuardByte, a.guard_after);
  {
    std::lock_guard<std::mutex> lock(context->mutex);
    context->allocations[reinterpret_cast<uintptr_t>(a.user)] = a;
  }
  *out = a.user;
  return ZE_RESULT_SUCCESS;
}

}  // namespace

uint64_t device_ticks_now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
  return static_cast<uint64_t>(ns) / kTimerNsPerTick + g_tick_offset;
}

Driver* driver() {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  return g_driver;
}

void Device::mark_lost(const std::string& why) {
  std::lock_guard<std::mutex> lock(lost_mutex);
  if (!lost.exchange(true)) {
    lost_reason = why;
    std::fprintf(stderr, "xinhe ze cpu driver: device lost: %s\n", why.c_str());
  }
}

const Allocation* Context::find(const void* p, bool* in_guard) {
  if (in_guard) *in_guard = false;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  auto it = allocations.upper_bound(addr);
  if (it != allocations.end()) {  // in the guard before the next allocation?
    if (in_guard && addr + it->second.guard_before >= it->first) *in_guard = true;
  }
  if (it == allocations.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  if (addr < it->first + a.size) return &a;
  if (in_guard && addr < it->first + a.size + a.guard_after) *in_guard = true;
  return nullptr;
}

void Event::signal(uint64_t start, uint64_t end) {
  std::lock_guard<std::mutex> lock(mutex);
  start_ticks = start;
  end_ticks = end;
  signaled = true;
  cv.notify_all();
}

void Event::reset() {
  std::lock_guard<std::mutex> lock(mutex);
  signaled = false;
}

ze_result_t Event::wait(uint64_t timeout_ns, Device* device) {
  const auto deadline = timeout_ns == UINT64_MAX ? std::chrono::steady_clock::time_point::max()
                                                 : std::chrono::steady_clock::now() +
                                                       std::chrono::nanoseconds(timeout_ns);
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    if (signaled) return ZE_RESULT_SUCCESS;
    if (device->lost.load()) return ZE_RESULT_ERROR_DEVICE_LOST;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return ZE_RESULT_NOT_READY;
    // Short slices so that a device lost while waiting is noticed.
    const auto slice = std::chrono::milliseconds(20);
    cv.wait_until(lock, deadline - now > slice ? now + slice : deadline);
  }
}

// ---- Queue worker ----------------------------------------------------------------------------

ze_result_t Queue::start() {
  cl_int err = CL_SUCCESS;
  cl_queue = clCreateCommandQueueWithProperties(context->driver->cl_ctx, context->driver->cl_device,
                                                nullptr, &err);
  if (err != CL_SUCCESS) return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
  worker = std::thread([this] { run(); });
  return ZE_RESULT_SUCCESS;
}

void Queue::submit(Work work) {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ticket = work.ticket = ++submitted;
    work.seq = ++g_submissions;
    pending.push_back(std::move(work));
  }
  work_cv.notify_one();
  if (mode == ZE_COMMAND_QUEUE_MODE_SYNCHRONOUS) wait_for(ticket, UINT64_MAX);
}

ze_result_t Queue::wait_for(uint64_t ticket, uint64_t timeout_ns) {
  std::unique_lock<std::mutex> lock(mutex);
  const auto done = [&] { return completed >= ticket; };
  if (timeout_ns == UINT64_MAX) {
    done_cv.wait(lock, done);
  } else if (!done_cv.wait_for(lock, std::chrono::nanoseconds(timeout_ns), done)) {
    return ZE_RESULT_NOT_READY;
  }
  return device->lost.load() ? ZE_RESULT_ERROR_DEVICE_LOST : ZE_RESULT_SUCCESS;
}

void Queue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  work_cv.notify_one();
  if (worker.joinable()) worker.join();
  if (cl_queue != nullptr) clReleaseCommandQueue(cl_queue);
  cl_queue = nullptr;
}

void Queue::execute(Command& c) {
  for (Event* e : c.waits) e->wait(UINT64_MAX, device);
  const uint64_t start = device_ticks_now();
  if (!device->lost.load()) {
    switch (c.kind) {
      case CommandKind::kCopy:
        std::memmove(c.dst, c.src, c.size);
        break;
      case CommandKind::kFill: {
        auto* dst = static_cast<uint8_t*>(c.dst);
        for (size_t at = 0; at < c.size; at += c.pattern.size())
          std::memcpy(dst + at, c.pattern.data(), std::min(c.pattern.size(), c.size - at));
        break;
      }
      case CommandKind::kKernel: {
        std::string error;
        if (run_kernel(c, cl_queue, &error) != ZE_RESULT_SUCCESS) {
          device->mark_lost("kernel " + c.kernel->name + ": " + error);
        } else {
          check_guards_after(c, device);
        }
        break;
      }
      case CommandKind::kReset:
        c.reset_event->reset();
        break;
      case CommandKind::kBarrier:
      case CommandKind::kSignal:
      case CommandKind::kWait:
        break;  // ordering is all they do; the segment before them has run
    }
  }
  if (c.signal != nullptr) c.signal->signal(start, device_ticks_now());
}

void Queue::run() {
  std::unique_lock<std::mutex> lock(mutex);
  for (;;) {
    work_cv.wait(lock, [&] { return stop || !pending.empty(); });
    if (pending.empty()) return;  // stop requested and drained
    // A test's hold (xinhe_ze_cpu_hold_from): held work waits, in order, until it moves.
    if (const uint64_t first = pending.front().seq; first >= g_hold_from.load()) {
      lock.unlock();
      {
        std::unique_lock<std::mutex> hold(g_hold_mutex);
        g_hold_cv.wait(hold, [&] { return first < g_hold_from.load(); });
      }
      lock.lock();
      continue;
    }
    std::deque<Work> batch;
    while (!pending.empty() && pending.front().seq < g_hold_from.load()) {
      batch.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    lock.unlock();

    // Commands between synchronization points run as one segment, reversed unless asked
    // otherwise; works complete in submission order once all their commands have run.
    std::vector<size_t> remaining(batch.size());
    for (size_t w = 0; w < batch.size(); ++w) remaining[w] = batch[w].commands.size();
    size_t first_incomplete = 0;
    std::vector<std::pair<Command*, size_t>> segment;
    const auto complete_ready = [&] {
      while (first_incomplete < batch.size() && remaining[first_incomplete] == 0) {
        Work& w = batch[first_incomplete++];
        if (w.fence != nullptr) {
          std::lock_guard<std::mutex> fence_lock(w.fence->mutex);
          w.fence->signaled = true;
          w.fence->cv.notify_all();
        }
        std::lock_guard<std::mutex> done_lock(mutex);
        completed = w.ticket;
        done_cv.notify_all();
      }
    };
    const auto flush = [&] {
      if (context->driver->reverse_order) {
        for (auto it = segment.rbegin(); it != segment.rend(); ++it) execute(*it->first);
      } else {
        for (auto& [command, work] : segment) execute(*command);
      }
      for (auto& [command, work] : segment) --remaining[work];
      segment.clear();
      complete_ready();
    };
    complete_ready();  // empty works
    for (size_t w = 0; w < batch.size(); ++w) {
      for (Command* c : batch[w].commands) {
        if (c->is_sync_point()) {
          flush();
          execute(*c);
          --remaining[w];
          complete_ready();
        } else {
          segment.emplace_back(c, w);
        }
      }
      if (batch[w].boundary_after) flush();
    }
    flush();
    lock.lock();
  }
}

ze_result_t CommandList::add(std::unique_ptr<Command> command) {
  if (device->lost.load()) return ZE_RESULT_ERROR_DEVICE_LOST;
  if (!immediate) {
    if (closed) return ZE_RESULT_ERROR_INVALID_ARGUMENT;  // append after close
    commands.push_back(std::move(command));
    return ZE_RESULT_SUCCESS;
  }
  Work work;
  work.commands.push_back(command.get());
  work.owned = std::move(command);
  work.boundary_after = false;
  queue->submit(std::move(work));
  return ZE_RESULT_SUCCESS;
}

// ---- Entry points ----------------------------------------------------------------------------
namespace api {

ze_result_t init(ze_init_flags_t flags) {
  // A CPU driver has nothing to offer a GPU-only or VPU-only request.
  if (flags & (ZE_INIT_FLAG_GPU_ONLY | ZE_INIT_FLAG_VPU_ONLY)) return ZE_RESULT_ERROR_UNINITIALIZED;
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (g_driver) return ZE_RESULT_SUCCESS;
  // The test settings are strict: a misspelt one would silently test something else. Read
  // before anything is created, so a refusal leaves nothing behind.
  const char* order = std::getenv("XINHE_ZE_CPU_ORDER");
  if (order && *order && std::strcmp(order, "forward") != 0 && std::strcmp(order, "reverse") != 0) {
    std::fprintf(stderr,
                 "xinhe CPU test driver: XINHE_ZE_CPU_ORDER='%s' is not forward or reverse\n",
                 order);
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  }
  const bool reverse_order = !(order && std::strcmp(order, "forward") == 0);
  const char* wrap = std::getenv("XINHE_ZE_CPU_TIMESTAMP_WRAP_MS");
  if (wrap && *wrap) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long ms = std::strtoull(wrap, &end, 10);
    if (*wrap < '0' || *wrap > '9' || *end != '\0' || errno != 0 || ms > 1000ull * 1000 * 1000) {
      std::fprintf(stderr,
                   "xinhe CPU test driver: XINHE_ZE_CPU_TIMESTAMP_WRAP_MS='%s' is not a whole "
                   "number of milliseconds up to 1e9\n",
                   wrap);
      return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    const uint64_t period = 1ull << kKernelTimestampBits;
    const uint64_t ahead = ms * 1000000 / kTimerNsPerTick;
    const uint64_t now = device_ticks_now() % period;
    g_tick_offset = (2 * period - now - ahead % period) % period;
  }
  uint32_t max_group_count = 0x7fffffff;
  const char* groups = std::getenv("XINHE_ZE_CPU_MAX_GROUP_COUNT");
  if (groups && *groups) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(groups, &end, 10);
    if (*groups < '0' || *groups > '9' || *end != '\0' || errno != 0 || n == 0 || n > 0x7fffffff) {
      std::fprintf(stderr,
                   "xinhe CPU test driver: XINHE_ZE_CPU_MAX_GROUP_COUNT='%s' is not a whole "
                   "number from 1 to 2^31-1\n",
                   groups);
      return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    max_group_count = static_cast<uint32_t>(n);
  }
  auto d = std::make_unique<Driver>();
  d->reverse_order = reverse_order;
  cl_uint platforms = 0;
  if (clGetPlatformIDs(1, &d->platform, &platforms) != CL_SUCCESS || platforms == 0)
    return ZE_RESULT_ERROR_UNINITIALIZED;
  if (clGetDeviceIDs(d->platform, CL_DEVICE_TYPE_CPU, 1, &d->cl_device, nullptr) != CL_SUCCESS)
    return ZE_RESULT_ERROR_UNINITIALIZED;
  cl_int err = CL_SUCCESS;
  d->cl_ctx = clCreateContext(nullptr, 1, &d->cl_device, nullptr, nullptr, &err);
  if (err != CL_SUCCESS) return ZE_RESULT_ERROR_UNINITIALIZED;
  const char* tool = std::getenv("XINHE_ZE_CPU_LLVM_SPIRV");
  d->llvm_spirv = tool && *tool ? tool : XINHE_ZE_CPU_LLVM_SPIRV_DEFAULT;
  auto device = std::make_unique<Device>();
  device->driver = d.get();
  device->name = "xinhe CPU test driver on " + cl_string(d->cl_device, CL_DEVICE_NAME);
  device->total_memory = cl_value<cl_ulong>(d->cl_device, CL_DEVICE_GLOBAL_MEM_SIZE);
  device->max_alloc = cl_value<cl_ulong>(d->cl_device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  device->compute_units = cl_value<cl_uint>(d->cl_device, CL_DEVICE_MAX_COMPUTE_UNITS);
  device->clock_mhz = cl_value<cl_uint>(d->cl_device, CL_DEVICE_MAX_CLOCK_FREQUENCY);
  const size_t wg = cl_value<size_t>(d->cl_device, CL_DEVICE_MAX_WORK_GROUP_SIZE);
  device->max_group_size = static_cast<uint32_t>(wg < 1024 ? wg : 1024);
  device->max_group_count = max_group_count;
  device->fp64 = cl_value<cl_device_fp_config>(d->cl_device, CL_DEVICE_DOUBLE_FP_CONFIG) != 0;
  d->device = std::move(device);
  g_driver = d.release();
  return ZE_RESULT_SUCCESS;
}

ze_result_t driver_get(uint32_t* count, ze_driver_handle_t* drivers) {
  Driver* d = driver();
  if (d == nullptr) return ZE_RESULT_ERROR_UNINITIALIZED;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (*count == 0 || drivers == nullptr) {
    *count = 1;
    return ZE_RESULT_SUCCESS;
  }
  drivers[0] = to<ze_driver_handle_t>(d);
  *count = 1;
  return ZE_RESULT_SUCCESS;
}

ze_result_t driver_get_api_version(ze_driver_handle_t h, ze_api_version_t* version) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (version == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  *version = ZE_API_VERSION_1_4;
  return ZE_RESULT_SUCCESS;
}

ze_result_t driver_get_properties(ze_driver_handle_t h, ze_driver_properties_t* props) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (props == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  std::memset(props->uuid.id, 0, sizeof(props->uuid.id));
  std::memcpy(props->uuid.id, "xinhe-ze-cpu", 12);
  props->driverVersion = kDriverVersion;
  return ZE_RESULT_SUCCESS;
}

ze_result_t driver_get_ipc_properties(ze_driver_handle_t h, ze_driver_ipc_properties_t* props) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (props == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  props->flags = 0;
  return ZE_RESULT_SUCCESS;
}

ze_result_t driver_get_extension_properties(ze_driver_handle_t h, uint32_t* count,
                                            ze_driver_extension_properties_t*) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  *count = 0;
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get(ze_driver_handle_t h, uint32_t* count, ze_device_handle_t* devices) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (*count == 0 || devices == nullptr) {
    *count = 1;
    return ZE_RESULT_SUCCESS;
  }
  devices[0] = to<ze_device_handle_t>(from<Driver>(h)->device.get());
  *count = 1;
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_sub_devices(ze_device_handle_t h, uint32_t* count, ze_device_handle_t*) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  *count = 0;
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_properties(ze_device_handle_t h, ze_device_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  const Device* d = from<Device>(h);
  p->type = ZE_DEVICE_TYPE_CPU;
  p->vendorId = 0;  // not a PCI device
  p->deviceId = 0;
  p->flags = ZE_DEVICE_PROPERTY_FLAG_INTEGRATED;
  p->subdeviceId = 0;
  p->coreClockRate = d->clock_mhz;
  p->maxMemAllocSize = d->max_alloc;
  p->maxHardwareContexts = 64;
  p->maxCommandQueuePriority = 0;
  // One "EU" per CPU core, one thread each, SIMD width of AVX2 single precision.
  p->numThreadsPerEU = 1;
  p->physicalEUSimdWidth = 8;
  p->numEUsPerSubslice = 1;
  p->numSubslicesPerSlice = d->compute_units;
  p->numSlices = 1;
  // Units depend on the structure version: ns per tick for the 1.0 layout, ticks per second
  // for ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2.
  p->timerResolution = p->stype == ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2
                           ? 1000000000ull / kTimerNsPerTick
                           : kTimerNsPerTick;
  p->timestampValidBits = 64;
  p->kernelTimestampValidBits = kKernelTimestampBits;
  std::memset(p->uuid.id, 0, sizeof(p->uuid.id));
  std::memcpy(p->uuid.id, "xinhe-ze-cpu-dev", 16);
  copy_name(p->name, sizeof(p->name), d->name);
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_compute_properties(ze_device_handle_t h, ze_device_compute_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  const Device* d = from<Device>(h);
  p->maxTotalGroupSize = d->max_group_size;
  p->maxGroupSizeX = p->maxGroupSizeY = p->maxGroupSizeZ = d->max_group_size;
  p->maxGroupCountX = p->maxGroupCountY = p->maxGroupCountZ = d->max_group_count;
  p->maxSharedLocalMemory =
      static_cast<uint32_t>(cl_value<cl_ulong>(d->driver->cl_device, CL_DEVICE_LOCAL_MEM_SIZE));
  p->numSubGroupSizes = 1;
  std::memset(p->subGroupSizes, 0, sizeof(p->subGroupSizes));
  p->subGroupSizes[0] = 8;
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_module_properties(ze_device_handle_t h, ze_device_module_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  const Device* d = from<Device>(h);
  p->spirvVersionSupported = ZE_MAKE_VERSION(1, 2);
  // PoCL's CPU device has no cl_khr_fp16: half is storage-only (vload_half / vstore_half).
  p->flags = ZE_DEVICE_MODULE_FLAG_INT64_ATOMICS | (d->fp64 ? ZE_DEVICE_MODULE_FLAG_FP64 : 0);
  const ze_device_fp_flags_t ieee = ZE_DEVICE_FP_FLAG_DENORM | ZE_DEVICE_FP_FLAG_INF_NAN |
                                    ZE_DEVICE_FP_FLAG_ROUND_TO_NEAREST | ZE_DEVICE_FP_FLAG_FMA;
  p->fp16flags = 0;
  p->fp32flags = ieee;
  p->fp64flags = d->fp64 ? ieee : 0;
  p->maxArgumentsSize = 1024;
  p->printfBufferSize = 0;
  std::memset(p->nativeKernelSupported.id, 0, sizeof(p->nativeKernelSupported.id));
  std::memcpy(p->nativeKernelSupported.id, "xinhe-ze-cpu-bin", 16);
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_command_queue_group_properties(ze_device_handle_t h, uint32_t* count,
                                                      ze_command_queue_group_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (*count == 0 || p == nullptr) {
    *count = 1;
    return ZE_RESULT_SUCCESS;
  }
  p[0].flags =
      ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE | ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COPY;
  p[0].maxMemoryFillPatternSize = kMaxFillPattern;
  p[0].numQueues = 1;
  *count = 1;
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_memory_properties(ze_device_handle_t h, uint32_t* count,
                                         ze_device_memory_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (*count == 0 || p == nullptr) {
    *count = 1;
    return ZE_RESULT_SUCCESS;
  }
  p[0].flags = 0;
  p[0].maxClockRate = 0;
  p[0].maxBusWidth = 0;
  p[0].totalSize = from<Device>(h)->total_memory;
  copy_name(p[0].name, sizeof(p[0].name), "host memory");
  *count = 1;
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_memory_access_properties(ze_device_handle_t h,
                                                ze_device_memory_access_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  const ze_memory_access_cap_flags_t rw = ZE_MEMORY_ACCESS_CAP_FLAG_RW;
  p->hostAllocCapabilities = rw;
  p->deviceAllocCapabilities = rw;
  p->sharedSingleDeviceAllocCapabilities = rw;
  p->sharedCrossDeviceAllocCapabilities = 0;
  p->sharedSystemAllocCapabilities = 0;  // kernels take USM pointers only
  return ZE_RESULT_SUCCESS;
}

ze_result_t device_get_status(ze_device_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  return from<Device>(h)->lost.load() ? ZE_RESULT_ERROR_DEVICE_LOST : ZE_RESULT_SUCCESS;
}

ze_result_t device_get_global_timestamps(ze_device_handle_t h, uint64_t* host, uint64_t* dev) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (host == nullptr || dev == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  *dev = device_ticks_now();
  *host = *dev * kTimerNsPerTick;
  return ZE_RESULT_SUCCESS;
}

ze_result_t context_create(ze_driver_handle_t h, const ze_context_desc_t* desc,
                           ze_context_handle_t* out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  auto* c = new Context();
  c->driver = from<Driver>(h);
  *out = to<ze_context_handle_t>(c);
  return ZE_RESULT_SUCCESS;
}

ze_result_t context_destroy(ze_context_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Context* c = from<Context>(h);
  if (!c->allocations.empty()) {
    // Level Zero leaves this undefined; a test driver says so, then cleans up.
    std::fprintf(stderr, "xinhe ze cpu driver: context destroyed with %zu allocations live\n",
                 c->allocations.size());
    for (auto& [addr, a] : c->allocations) clSVMFree(c->driver->cl_ctx, a.base);
  }
  delete c;
  return ZE_RESULT_SUCCESS;
}

ze_result_t context_get_status(ze_context_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  return from<Context>(h)->driver->device->lost.load() ? ZE_RESULT_ERROR_DEVICE_LOST
                                                       : ZE_RESULT_SUCCESS;
}

ze_result_t mem_alloc_device(ze_context_handle_t h, const ze_device_mem_alloc_desc_t* desc,
                             size_t size, size_t alignment, ze_device_handle_t dev, void** out) {
  if (h == nullptr || dev == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (ze_result_t r = injected("zeMemAllocDevice"); r != ZE_RESULT_SUCCESS) return r;
  return allocate(from<Context>(h), size, alignment, ZE_MEMORY_TYPE_DEVICE, out);
}

ze_result_t mem_alloc_host(ze_context_handle_t h, const ze_host_mem_alloc_desc_t* desc, size_t size,
                           size_t alignment, void** out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (ze_result_t r = injected("zeMemAllocHost"); r != ZE_RESULT_SUCCESS) return r;
  return allocate(from<Context>(h), size, alignment, ZE_MEMORY_TYPE_HOST, out);
}

ze_result_t mem_alloc_shared(ze_context_handle_t h, const ze_device_mem_alloc_desc_t* ddesc,
                             const ze_host_mem_alloc_desc_t* hdesc, size_t size, size_t alignment,
                             ze_device_handle_t, void** out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ddesc == nullptr || hdesc == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (ze_result_t r = injected("zeMemAllocShared"); r != ZE_RESULT_SUCCESS) return r;
  return allocate(from<Context>(h), size, alignment, ZE_MEMORY_TYPE_SHARED, out);
}

ze_result_t mem_free(ze_context_handle_t h, void* ptr) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ptr == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Context* c = from<Context>(h);
  Allocation a;
  {
    std::lock_guard<std::mutex> lock(c->mutex);
    auto it = c->allocations.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == c->allocations.end()) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    a = it->second;
    c->allocations.erase(it);
  }
  if (!guards_intact(a))
    c->driver->device->mark_lost("memory around a freed allocation of " + std::to_string(a.size) +
                                 " bytes was overwritten");
  clSVMFree(c->driver->cl_ctx, a.base);
  return ZE_RESULT_SUCCESS;
}

ze_result_t mem_get_alloc_properties(ze_context_handle_t h, const void* ptr,
                                     ze_memory_allocation_properties_t* p,
                                     ze_device_handle_t* dev) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ptr == nullptr || p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Context* c = from<Context>(h);
  std::lock_guard<std::mutex> lock(c->mutex);
  const Allocation* a = c->find(ptr);
  p->type = a ? a->type : ZE_MEMORY_TYPE_UNKNOWN;
  p->id = a ? reinterpret_cast<uintptr_t>(a->user) : 0;
  p->pageSize = a ? 4096 : 0;
  if (dev != nullptr)
    *dev = a && a->type != ZE_MEMORY_TYPE_HOST ? to<ze_device_handle_t>(c->driver->device.get())
                                               : nullptr;
  return ZE_RESULT_SUCCESS;
}

ze_result_t mem_get_address_range(ze_context_handle_t h, const void* ptr, void** base,
                                  size_t* size) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ptr == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Context* c = from<Context>(h);
  std::lock_guard<std::mutex> lock(c->mutex);
  const Allocation* a = c->find(ptr);
  if (a == nullptr) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  if (base) *base = a->user;
  if (size) *size = a->size;
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_queue_create(ze_context_handle_t h, ze_device_handle_t dev,
                                 const ze_command_queue_desc_t* desc,
                                 ze_command_queue_handle_t* out) {
  if (h == nullptr || dev == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (desc->ordinal != 0 || desc->index != 0) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  auto q = std::make_unique<Queue>();
  q->context = from<Context>(h);
  q->device = from<Device>(dev);
  q->mode = desc->mode;
  if (ze_result_t r = q->start(); r != ZE_RESULT_SUCCESS) return r;
  *out = to<ze_command_queue_handle_t>(q.release());
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_queue_destroy(ze_command_queue_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Queue* q = from<Queue>(h);
  q->shutdown();
  delete q;
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_queue_execute_command_lists(ze_command_queue_handle_t h, uint32_t count,
                                                ze_command_list_handle_t* lists,
                                                ze_fence_handle_t fence) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (lists == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (count == 0) return ZE_RESULT_ERROR_INVALID_SIZE;
  Queue* q = from<Queue>(h);
  if (ze_result_t r = injected("zeCommandQueueExecuteCommandLists"); r != ZE_RESULT_SUCCESS)
    return r;
  if (q->device->lost.load()) return ZE_RESULT_ERROR_DEVICE_LOST;
  if (fence != nullptr && from<Fence>(fence)->queue != q) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  for (uint32_t i = 0; i < count; ++i) {
    CommandList* l = from<CommandList>(lists[i]);
    if (l == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    if (l->immediate || !l->closed) return ZE_RESULT_ERROR_INVALID_ARGUMENT;  // must be closed
  }
  for (uint32_t i = 0; i < count; ++i) {
    CommandList* l = from<CommandList>(lists[i]);
    Work work;
    for (auto& c : l->commands) work.commands.push_back(c.get());
    if (i + 1 == count) work.fence = from<Fence>(fence);
    q->submit(std::move(work));
  }
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_queue_synchronize(ze_command_queue_handle_t h, uint64_t timeout) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Queue* q = from<Queue>(h);
  uint64_t last = 0;
  {
    std::lock_guard<std::mutex> lock(q->mutex);
    last = q->submitted;
  }
  return q->wait_for(last, timeout);
}

ze_result_t command_list_create(ze_context_handle_t h, ze_device_handle_t dev,
                                const ze_command_list_desc_t* desc, ze_command_list_handle_t* out) {
  if (h == nullptr || dev == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (desc->commandQueueGroupOrdinal != 0) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  if (ze_result_t r = injected("zeCommandListCreate"); r != ZE_RESULT_SUCCESS) return r;
  auto* l = new CommandList();
  l->context = from<Context>(h);
  l->device = from<Device>(dev);
  *out = to<ze_command_list_handle_t>(l);
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_list_create_immediate(ze_context_handle_t h, ze_device_handle_t dev,
                                          const ze_command_queue_desc_t* desc,
                                          ze_command_list_handle_t* out) {
  if (h == nullptr || dev == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (desc->ordinal != 0 || desc->index != 0) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  auto l = std::make_unique<CommandList>();
  l->context = from<Context>(h);
  l->device = from<Device>(dev);
  l->immediate = true;
  l->queue = std::make_unique<Queue>();
  l->queue->context = l->context;
  l->queue->device = l->device;
  l->queue->mode = desc->mode;
  if (ze_result_t r = l->queue->start(); r != ZE_RESULT_SUCCESS) return r;
  *out = to<ze_command_list_handle_t>(l.release());
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_list_destroy(ze_command_list_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  CommandList* l = from<CommandList>(h);
  if (l->queue) {
    // The application must make sure the device no longer references the list: commands
    // not even started are a violation (a GPU would run them from freed memory).
    size_t waiting = 0;
    {
      std::lock_guard<std::mutex> lock(l->queue->mutex);
      waiting = l->queue->pending.size();
    }
    if (waiting > 0) {
      l->device->mark_lost("zeCommandListDestroy: the immediate command list still has " +
                           std::to_string(waiting) +
                           " command(s) queued that have not started; the list is kept");
      return ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE;
    }
    l->queue->shutdown();  // an immediate list finishes what it started
  }
  delete l;
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_list_close(ze_command_list_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  CommandList* l = from<CommandList>(h);
  if (l->immediate) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  if (ze_result_t r = injected("zeCommandListClose"); r != ZE_RESULT_SUCCESS) return r;
  l->closed = true;
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_list_reset(ze_command_list_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  CommandList* l = from<CommandList>(h);
  if (l->immediate) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  if (ze_result_t r = injected("zeCommandListReset"); r != ZE_RESULT_SUCCESS) return r;
  l->commands.clear();
  l->closed = false;
  return ZE_RESULT_SUCCESS;
}

ze_result_t command_list_append_barrier(ze_command_list_handle_t h, ze_event_handle_t signal,
                                        uint32_t num_waits, ze_event_handle_t* waits) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ze_result_t r = injected("zeCommandListAppendBarrier"); r != ZE_RESULT_SUCCESS) return r;
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kBarrier;
  if (ze_result_t r = validate_events(signal, num_waits, waits, c.get()); r != ZE_RESULT_SUCCESS)
    return r;
  return from<CommandList>(h)->add(std::move(c));
}

ze_result_t command_list_append_memory_copy(ze_command_list_handle_t h, void* dst, const void* src,
                                            size_t size, ze_event_handle_t signal,
                                            uint32_t num_waits, ze_event_handle_t* waits) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (dst == nullptr || src == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  CommandList* l = from<CommandList>(h);
  if (check_range(l->context, dst, size) != ZE_RESULT_SUCCESS ||
      check_range(l->context, src, size) != ZE_RESULT_SUCCESS)
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kCopy;
  c->dst = dst;
  c->src = src;
  c->size = size;
  if (ze_result_t r = validate_events(signal, num_waits, waits, c.get()); r != ZE_RESULT_SUCCESS)
    return r;
  return l->add(std::move(c));
}

ze_result_t command_list_append_memory_fill(ze_command_list_handle_t h, void* ptr,
                                            const void* pattern, size_t pattern_size, size_t size,
                                            ze_event_handle_t signal, uint32_t num_waits,
                                            ze_event_handle_t* waits) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ptr == nullptr || pattern == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (!is_pow2(pattern_size) || pattern_size > kMaxFillPattern) return ZE_RESULT_ERROR_INVALID_SIZE;
  CommandList* l = from<CommandList>(h);
  if (check_range(l->context, ptr, size) != ZE_RESULT_SUCCESS)
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kFill;
  c->dst = ptr;
  c->size = size;
  c->pattern.assign(static_cast<const uint8_t*>(pattern),
                    static_cast<const uint8_t*>(pattern) + pattern_size);
  if (ze_result_t r = validate_events(signal, num_waits, waits, c.get()); r != ZE_RESULT_SUCCESS)
    return r;
  return l->add(std::move(c));
}

ze_result_t command_list_append_signal_event(ze_command_list_handle_t h, ze_event_handle_t e) {
  if (h == nullptr || e == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kSignal;
  c->signal = from<Event>(e);
  return from<CommandList>(h)->add(std::move(c));
}

ze_result_t command_list_append_wait_on_events(ze_command_list_handle_t h, uint32_t num,
                                               ze_event_handle_t* events) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (events == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kWait;
  if (ze_result_t r = validate_events(nullptr, num, events, c.get()); r != ZE_RESULT_SUCCESS)
    return r;
  return from<CommandList>(h)->add(std::move(c));
}

ze_result_t command_list_append_event_reset(ze_command_list_handle_t h, ze_event_handle_t e) {
  if (h == nullptr || e == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kReset;
  c->reset_event = from<Event>(e);
  return from<CommandList>(h)->add(std::move(c));
}

ze_result_t command_list_append_launch_kernel(ze_command_list_handle_t h, ze_kernel_handle_t k,
                                              const ze_group_count_t* groups,
                                              ze_event_handle_t signal, uint32_t num_waits,
                                              ze_event_handle_t* waits) {
  if (h == nullptr || k == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (groups == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Kernel* kernel = from<Kernel>(k);
  if (!kernel->group_size_set) return ZE_RESULT_ERROR_INVALID_ARGUMENT;  // no group size given
  for (const KernelArg& a : kernel->args)
    if (a.kind == KernelArg::kUnset) return ZE_RESULT_ERROR_INVALID_ARGUMENT;  // argument unset
  if (groups->groupCountX == 0 || groups->groupCountY == 0 || groups->groupCountZ == 0)
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  const uint32_t max_count = from<CommandList>(h)->device->max_group_count;
  if (groups->groupCountX > max_count || groups->groupCountY > max_count ||
      groups->groupCountZ > max_count)
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;  // beyond maxGroupCount{X,Y,Z}
  auto c = std::make_unique<Command>();
  c->kind = CommandKind::kKernel;
  c->kernel = kernel;
  c->args = kernel->args;  // captured now: later changes do not affect this launch
  std::memcpy(c->group_size, kernel->group_size, sizeof(c->group_size));
  c->group_count[0] = groups->groupCountX;
  c->group_count[1] = groups->groupCountY;
  c->group_count[2] = groups->groupCountZ;
  if (ze_result_t r = validate_events(signal, num_waits, waits, c.get()); r != ZE_RESULT_SUCCESS)
    return r;
  return from<CommandList>(h)->add(std::move(c));
}

ze_result_t event_pool_create(ze_context_handle_t h, const ze_event_pool_desc_t* desc, uint32_t,
                              ze_device_handle_t*, ze_event_pool_handle_t* out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (desc->count == 0) return ZE_RESULT_ERROR_INVALID_SIZE;
  auto* p = new EventPool();
  p->context = from<Context>(h);
  p->flags = desc->flags;
  p->count = desc->count;
  p->slots.assign(desc->count, nullptr);
  *out = to<ze_event_pool_handle_t>(p);
  return ZE_RESULT_SUCCESS;
}

ze_result_t event_pool_destroy(ze_event_pool_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  EventPool* p = from<EventPool>(h);
  for (Event* e : p->slots)
    if (e != nullptr) return ZE_RESULT_ERROR_HANDLE_OBJECT_IN_USE;  // events outlive it
  delete p;
  return ZE_RESULT_SUCCESS;
}

ze_result_t event_create(ze_event_pool_handle_t h, const ze_event_desc_t* desc,
                         ze_event_handle_t* out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  EventPool* p = from<EventPool>(h);
  std::lock_guard<std::mutex> lock(p->mutex);
  if (desc->index >= p->count || p->slots[desc->index] != nullptr)
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  auto* e = new Event();
  e->pool = p;
  e->index = desc->index;
  p->slots[desc->index] = e;
  *out = to<ze_event_handle_t>(e);
  return ZE_RESULT_SUCCESS;
}

ze_result_t event_destroy(ze_event_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Event* e = from<Event>(h);
  {
    std::lock_guard<std::mutex> lock(e->pool->mutex);
    e->pool->slots[e->index] = nullptr;
  }
  delete e;
  return ZE_RESULT_SUCCESS;
}

ze_result_t event_host_signal(ze_event_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  const uint64_t now = device_ticks_now();
  from<Event>(h)->signal(now, now);
  return ZE_RESULT_SUCCESS;
}

ze_result_t event_host_synchronize(ze_event_handle_t h, uint64_t timeout) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Event* e = from<Event>(h);
  const HostWaiter waiter(timeout);
  return e->wait(timeout, e->pool->context->driver->device.get());
}

ze_result_t event_query_status(ze_event_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Event* e = from<Event>(h);
  return e->wait(0, e->pool->context->driver->device.get());
}

ze_result_t event_host_reset(ze_event_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  from<Event>(h)->reset();
  return ZE_RESULT_SUCCESS;
}

ze_result_t event_query_kernel_timestamp(ze_event_handle_t h, ze_kernel_timestamp_result_t* out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Event* e = from<Event>(h);
  if (!(e->pool->flags & ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP))
    return ZE_RESULT_ERROR_INVALID_ARGUMENT;  // a pool without timestamps
  std::lock_guard<std::mutex> lock(e->mutex);
  if (!e->signaled) return ZE_RESULT_NOT_READY;
  const uint64_t mask = (1ull << kKernelTimestampBits) - 1;
  out->global.kernelStart = out->context.kernelStart = e->start_ticks & mask;
  out->global.kernelEnd = out->context.kernelEnd = e->end_ticks & mask;
  return ZE_RESULT_SUCCESS;
}

ze_result_t fence_create(ze_command_queue_handle_t h, const ze_fence_desc_t* desc,
                         ze_fence_handle_t* out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || out == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (ze_result_t r = injected("zeFenceCreate"); r != ZE_RESULT_SUCCESS) return r;
  auto* f = new Fence();
  f->queue = from<Queue>(h);
  f->signaled = (desc->flags & ZE_FENCE_FLAG_SIGNALED) != 0;
  *out = to<ze_fence_handle_t>(f);
  return ZE_RESULT_SUCCESS;
}

ze_result_t fence_destroy(ze_fence_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  delete from<Fence>(h);
  return ZE_RESULT_SUCCESS;
}

ze_result_t fence_host_synchronize(ze_fence_handle_t h, uint64_t timeout) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Fence* f = from<Fence>(h);
  const HostWaiter waiter(timeout);
  std::unique_lock<std::mutex> lock(f->mutex);
  const auto done = [&] { return f->signaled; };
  if (timeout == UINT64_MAX) {
    f->cv.wait(lock, done);
  } else if (!f->cv.wait_for(lock, std::chrono::nanoseconds(timeout), done)) {
    return ZE_RESULT_NOT_READY;
  }
  return f->queue->device->lost.load() ? ZE_RESULT_ERROR_DEVICE_LOST : ZE_RESULT_SUCCESS;
}

ze_result_t fence_query_status(ze_fence_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ze_result_t r = injected("zeFenceQueryStatus"); r != ZE_RESULT_SUCCESS) return r;
  return fence_host_synchronize(h, 0);
}

ze_result_t fence_reset(ze_fence_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (ze_result_t r = injected("zeFenceReset"); r != ZE_RESULT_SUCCESS) return r;
  Fence* f = from<Fence>(h);
  std::lock_guard<std::mutex> lock(f->mutex);
  f->signaled = false;
  return ZE_RESULT_SUCCESS;
}

}  // namespace api
}  // namespace xinhe::ze_cpu

// ---- The test hooks (cpu_driver_hooks.h), exported beside the DDI getters -------------------
namespace zc = xinhe::ze_cpu;

extern "C" ZE_DLLEXPORT int xinhe_ze_cpu_inject(const char* call, int32_t result, uint32_t skip,
                                                uint32_t times) {
  const int i = zc::fault_index(call);
  if (i < 0) return -1;
  std::lock_guard<std::mutex> lock(zc::g_fault_mutex);
  zc::FaultPoint& f = zc::g_faults[i];
  f.result = static_cast<ze_result_t>(result);
  f.skip = skip;
  f.times = result == ZE_RESULT_SUCCESS ? 0 : times;
  return 0;
}

extern "C" ZE_DLLEXPORT uint64_t xinhe_ze_cpu_call_count(const char* call) {
  const int i = zc::fault_index(call);
  if (i < 0) return 0;
  std::lock_guard<std::mutex> lock(zc::g_fault_mutex);
  return zc::g_faults[i].calls;
}

extern "C" ZE_DLLEXPORT void xinhe_ze_cpu_hold_from(uint64_t seq) {
  {
    std::lock_guard<std::mutex> lock(zc::g_hold_mutex);
    zc::g_hold_from = seq;
  }
  zc::g_hold_cv.notify_all();
}

extern "C" ZE_DLLEXPORT uint64_t xinhe_ze_cpu_submissions() { return zc::g_submissions.load(); }

extern "C" ZE_DLLEXPORT uint32_t xinhe_ze_cpu_host_waiters() { return zc::g_host_waiters.load(); }

extern "C" ZE_DLLEXPORT const char* xinhe_ze_cpu_lost_reason() {
  static std::string reason;  // the caller's copy; tests call this from one thread
  zc::Driver* d = zc::driver();
  if (d == nullptr || !d->device->lost.load()) return "";
  std::lock_guard<std::mutex> lock(d->device->lost_mutex);
  reason = d->device->lost_reason;
  return reason.c_str();
}
