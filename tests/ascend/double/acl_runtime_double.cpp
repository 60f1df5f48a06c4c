// The AscendCL runtime half of the host double (libascendcl.so): initialisation, devices and
// contexts, device memory in a PROT_NONE address range, streams run by worker threads, events,
// copies and memsets with the documented alignment and direction rules. See acl_double.h.
//
// Environment: XINHE_ACL_DOUBLE_DEVICES (device count, default 1), XINHE_ACL_DOUBLE_MEMORY_MIB
// (memory per device, default 16384), XINHE_ACL_DOUBLE_SOC (what aclrtGetSocName says, default
// Ascend910B1), XINHE_ACL_DOUBLE_CANN (the CANN release whose copy rules apply, default 8.0).
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "acl_double.h"

namespace xinhe_acl_double {
namespace {

using Clock = std::chrono::steady_clock;

struct Allocation {
  size_t size = 0;  // accessible bytes: the request rounded up to 32, plus 32
  void* reservation = nullptr;
  size_t reservation_size = 0;
  uint8_t* bytes = nullptr;
  int device = 0;
};

struct Context {
  int device = 0;
};

struct Stream;

struct Event {
  uint32_t flags = 0;
  std::mutex mutex;
  std::condition_variable done;
  // As in CUDA: a wait, query or synchronize concerns the latest record at its call; a later
  // record (on any stream) does not change it, so each record is tracked until reached.
  uint64_t recorded = 0;           // generations recorded (host side)
  std::set<uint64_t> outstanding;  // recorded, not yet reached by their stream
  Clock::time_point stamp;         // when the latest record was reached
  bool reached(uint64_t generation) const { return outstanding.count(generation) == 0; }
};

struct Task {
  std::function<std::string()> run;
  std::shared_ptr<std::atomic<bool>> finished;
};

struct Stream {
  Context* context = nullptr;
  std::mutex mutex;
  std::condition_variable wake, idle;
  std::deque<Task> queue;
  bool busy = false, stop = false;
  std::string fault;
  std::thread worker;

  void loop() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;
      Task task = std::move(queue.front());
      queue.pop_front();
      busy = true;
      lock.unlock();
      std::string error = fault.empty() ? task.run() : std::string();
      lock.lock();
      if (!error.empty() && fault.empty()) fault = error;
      busy = false;
      if (task.finished) task.finished->store(true);
      idle.notify_all();
    }
  }
};

std::atomic<bool> g_initialized{false};
std::mutex g_mutex;  // guards the tables below
// Never destroyed: memory a backend keeps until the process ends (xinhe never closes its
// devices) stays reachable at exit, as on a real device, instead of leaking at static
// destruction.
std::map<uintptr_t, Allocation>& g_allocations = *new std::map<uintptr_t, Allocation>;
std::set<Context*>& g_contexts = *new std::set<Context*>;
std::set<Stream*>& g_streams = *new std::set<Stream*>;
std::set<Event*>& g_events = *new std::set<Event*>;
std::vector<uint64_t>& g_used = *new std::vector<uint64_t>;
std::map<uintptr_t, size_t>& g_host_allocations = *new std::map<uintptr_t, size_t>;
std::vector<std::string>& g_violations = *new std::vector<std::string>;
thread_local Context* t_context = nullptr;
thread_local std::string t_error;

int device_count_env() {
  const char* env = std::getenv("XINHE_ACL_DOUBLE_DEVICES");
  const int n = env ? std::atoi(env) : 1;
  return n < 0 ? 0 : n > 8 ? 8 : n;
}
uint64_t memory_per_device() {
  const char* env = std::getenv("XINHE_ACL_DOUBLE_MEMORY_MIB");
  const uint64_t mib = env ? std::strtoull(env, nullptr, 10) : 16384;
  return mib << 20;
}

const std::string& soc_name() {
  static const std::string soc = [] {
    const char* env = std::getenv("XINHE_ACL_DOUBLE_SOC");
    return std::string(env && *env ? env : "Ascend910B1");
  }();
  return soc;
}

// CANN 8.3.RC1 and later take pageable host memory in aclrtMemcpyAsync; 8.0-8.2 do not.
bool pageable_async_copies() {
  static const bool yes = [] {
    const char* env = std::getenv("XINHE_ACL_DOUBLE_CANN");
    int major = 8, minor = 0;
    if (env && *env && std::sscanf(env, "%d.%d", &major, &minor) < 1) major = 8;
    return major > 8 || (major == 8 && minor >= 3);
  }();
  return yes;
}

// Whether [p, p + size) lies in one live aclrtMallocHost allocation. Call with g_mutex held.
bool in_host_allocation(const void* p, size_t size) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_host_allocations.upper_bound(a);
  if (it == g_host_allocations.begin()) return false;
  --it;
  return a - it->first < it->second && size <= it->second - (a - it->first);
}

aclError fail(aclError code, const std::string& message) {
  t_error = message;
  return code;
}

#define XD_REQUIRE_INIT() \
  if (!g_initialized.load()) return fail(ACL_ERROR_UNINITIALIZE, "aclInit was not called")
#define XD_REQUIRE_CONTEXT(call)                                        \
  XD_REQUIRE_INIT();                                                    \
  if (t_context == nullptr)                                             \
  return fail(ACL_ERROR_RT_CONTEXT_NULL, std::string(call) +            \
                                             ": no current context on " \
                                             "this thread")

Stream* find_stream(aclrtStream s) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_streams.count(static_cast<Stream*>(s)) ? static_cast<Stream*>(s) : nullptr;
}
Event* find_event(aclrtEvent e) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_events.count(static_cast<Event*>(e)) ? static_cast<Event*>(e) : nullptr;
}

// Runs everything queued so far and returns the stream's fault, if any.
std::string drain(Stream* stream) {
  std::unique_lock<std::mutex> lock(stream->mutex);
  stream->idle.wait(lock, [&] { return stream->queue.empty() && !stream->busy; });
  return stream->fault;
}

}  // namespace

uint8_t* device_bytes(const void* address, size_t size, std::string* reason) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(address);
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_allocations.upper_bound(a);
  if (it == g_allocations.begin()) {
    if (reason) *reason = "address " + std::to_string(a) + " is not device memory";
    return nullptr;
  }
  --it;
  const Allocation& alloc = it->second;
  const uintptr_t offset = a - it->first;
  if (offset >= alloc.size || size > alloc.size - offset) {
    if (reason)
      *reason = "device range [" + std::to_string(a) + ", +" + std::to_string(size) +
                ") leaves its allocation of " + std::to_string(alloc.size) + " bytes";
    return nullptr;
  }
  return alloc.bytes + offset;
}

bool is_device_address(const void* address) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(address);
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_allocations.upper_bound(a);
  if (it == g_allocations.begin()) return false;
  --it;
  // The address range handed out: from 64 bytes into the reservation to its end (a host
  // mapping may follow the reservation directly).
  return a - it->first < it->second.reservation_size - 64;
}

void set_error(const std::string& message) { t_error = message; }
bool soc_is_a2_a3() {
  return soc_name().rfind("Ascend910B", 0) == 0 || soc_name().rfind("Ascend910_93", 0) == 0;
}
void note_violation(const std::string& what) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_violations.push_back(what);
}
std::vector<std::string> take_violations() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<std::string> out;
  out.swap(g_violations);
  return out;
}
bool initialized() { return g_initialized.load(); }
bool has_current_context() { return t_context != nullptr; }

aclError enqueue(aclrtStream s, std::function<std::string()> run, bool wait) {
  Stream* stream = find_stream(s);
  if (stream == nullptr) return fail(ACL_ERROR_RT_PARAM_INVALID, "unknown stream");
  auto finished = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard<std::mutex> lock(stream->mutex);
    stream->queue.push_back(Task{std::move(run), finished});
  }
  stream->wake.notify_one();
  if (wait) {
    std::unique_lock<std::mutex> lock(stream->mutex);
    stream->idle.wait(lock, [&] { return finished->load(); });
    if (!stream->fault.empty())
      return fail(ACL_ERROR_RT_AICORE_EXCEPTION, "stream fault: " + stream->fault);
  }
  return ACL_SUCCESS;
}

}  // namespace xinhe_acl_double

using namespace xinhe_acl_double;

extern "C" {

XINHE_ACL_DOUBLE_EXPORT aclError aclInit(const char*) {
  if (g_initialized.exchange(true))
    return fail(ACL_ERROR_REPEAT_INITIALIZE, "aclInit: already initialised");
  g_used.assign(static_cast<size_t>(device_count_env()), 0);
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtGetVersion(int32_t* major, int32_t* minor, int32_t* patch) {
  if (!major || !minor || !patch) return fail(ACL_ERROR_INVALID_PARAM, "null output");
  *major = 1;
  *minor = 0;
  *patch = 0;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT const char* aclGetRecentErrMsg() {
  return t_error.empty() ? nullptr : t_error.c_str();
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtGetDeviceCount(uint32_t* count) {
  XD_REQUIRE_INIT();
  if (!count) return fail(ACL_ERROR_INVALID_PARAM, "null count");
  *count = static_cast<uint32_t>(g_used.size());
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtSetDevice(int32_t device) {
  XD_REQUIRE_INIT();
  if (device < 0 || static_cast<size_t>(device) >= g_used.size())
    return fail(ACL_ERROR_RT_INVALID_DEVICEID, "no device " + std::to_string(device));
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT const char* aclrtGetSocName() { return soc_name().c_str(); }

XINHE_ACL_DOUBLE_EXPORT aclError aclrtCreateContext(aclrtContext* context, int32_t device) {
  XD_REQUIRE_INIT();
  if (!context) return fail(ACL_ERROR_INVALID_PARAM, "null context");
  if (device < 0 || static_cast<size_t>(device) >= g_used.size())
    return fail(ACL_ERROR_RT_INVALID_DEVICEID, "no device " + std::to_string(device));
  auto* c = new Context{device};
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_contexts.insert(c);
  }
  t_context = c;
  *context = c;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtDestroyContext(aclrtContext context) {
  XD_REQUIRE_INIT();
  auto* c = static_cast<Context*>(context);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_contexts.erase(c)) return fail(ACL_ERROR_INVALID_PARAM, "unknown context");
    for (Stream* s : g_streams)
      if (s->context == c) return fail(ACL_ERROR_INVALID_PARAM, "context still has streams");
  }
  if (t_context == c) t_context = nullptr;
  delete c;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtSetCurrentContext(aclrtContext context) {
  XD_REQUIRE_INIT();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_contexts.count(static_cast<Context*>(context)))
    return fail(ACL_ERROR_INVALID_PARAM, "unknown context");
  t_context = static_cast<Context*>(context);
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t* free_bytes,
                                                 size_t* total_bytes) {
  XD_REQUIRE_CONTEXT("aclrtGetMemInfo");
  if (!free_bytes || !total_bytes) return fail(ACL_ERROR_INVALID_PARAM, "null output");
  if (attr != ACL_HBM_MEM && attr != ACL_DDR_MEM)
    return fail(ACL_ERROR_INVALID_PARAM, "unknown memory attribute");
  std::lock_guard<std::mutex> lock(g_mutex);
  *total_bytes = memory_per_device();
  *free_bytes = *total_bytes - g_used[static_cast<size_t>(t_context->device)];
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtMalloc(void** dev_ptr, size_t size,
                                             aclrtMemMallocPolicy policy) {
  XD_REQUIRE_CONTEXT("aclrtMalloc");
  if (!dev_ptr || size == 0) return fail(ACL_ERROR_INVALID_PARAM, "null pointer or size 0");
  if (policy < ACL_MEM_MALLOC_HUGE_FIRST || policy > ACL_MEM_MALLOC_NORMAL_ONLY)
    return fail(ACL_ERROR_INVALID_PARAM, "unknown policy");
  const uint64_t total = memory_per_device();
  if (size > total - 64) return fail(ACL_ERROR_RT_MEMORY_ALLOCATION, "larger than the device");
  Allocation a;
  a.size = (size + 31) / 32 * 32 + 32;
  a.device = t_context->device;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    uint64_t& used = g_used[static_cast<size_t>(a.device)];
    if (a.size > total - used)
      return fail(ACL_ERROR_RT_MEMORY_ALLOCATION, "device memory exhausted");
    used += a.size;
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  a.reservation_size = (a.size + 64 + page - 1) / page * page;
  a.reservation = mmap(nullptr, a.reservation_size, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  a.bytes = static_cast<uint8_t*>(std::malloc(a.size));
  if (a.reservation == MAP_FAILED || a.bytes == nullptr) {
    if (a.reservation != MAP_FAILED) munmap(a.reservation, a.reservation_size);
    std::free(a.bytes);
    std::lock_guard<std::mutex> lock(g_mutex);
    g_used[static_cast<size_t>(a.device)] -= a.size;
    return fail(ACL_ERROR_RT_MEMORY_ALLOCATION, "host memory for the double exhausted");
  }
  // 64 bytes past a page boundary: aligned to 64, never to more.
  const uintptr_t address = reinterpret_cast<uintptr_t>(a.reservation) + 64;
  std::memset(a.bytes, 0xA5, a.size);  // fresh device memory is not zero
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_allocations[address] = a;
  }
  *dev_ptr = reinterpret_cast<void*>(address);
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtFree(void* dev_ptr) {
  XD_REQUIRE_CONTEXT("aclrtFree");
  Allocation a;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_allocations.find(reinterpret_cast<uintptr_t>(dev_ptr));
    if (it == g_allocations.end())
      return fail(ACL_ERROR_INVALID_PARAM, "aclrtFree: not an address aclrtMalloc returned");
    a = it->second;
    g_allocations.erase(it);
    g_used[static_cast<size_t>(a.device)] -= a.size;
  }
  munmap(a.reservation, a.reservation_size);
  std::free(a.bytes);
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtMallocHost(void** host_ptr, size_t size) {
  XD_REQUIRE_INIT();
  if (!host_ptr || size == 0) return fail(ACL_ERROR_INVALID_PARAM, "null pointer or size 0");
  void* p = std::aligned_alloc(64, (size + 63) / 64 * 64);
  if (p == nullptr) return fail(ACL_ERROR_BAD_ALLOC, "aclrtMallocHost: host memory exhausted");
  std::memset(p, 0x5A, size);  // not initialised, as documented
  std::lock_guard<std::mutex> lock(g_mutex);
  g_host_allocations[reinterpret_cast<uintptr_t>(p)] = size;
  *host_ptr = p;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtFreeHost(void* host_ptr) {
  XD_REQUIRE_INIT();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_host_allocations.erase(reinterpret_cast<uintptr_t>(host_ptr)))
      return fail(ACL_ERROR_INVALID_PARAM,
                  "aclrtFreeHost: not an address aclrtMallocHost returned");
  }
  std::free(host_ptr);
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtMemcpy(void* dst, size_t dest_max, const void* src,
                                             size_t count, aclrtMemcpyKind) {
  XD_REQUIRE_CONTEXT("aclrtMemcpy");
  if (!dst || !src) return fail(ACL_ERROR_INVALID_PARAM, "null pointer");
  if (count > dest_max) return fail(ACL_ERROR_INVALID_PARAM, "count exceeds destMax");
  // The kind is documented as reserved: where the pointers are decides.
  std::string reason;
  uint8_t* d =
      is_device_address(dst) ? device_bytes(dst, count, &reason) : static_cast<uint8_t*>(dst);
  const uint8_t* s =
      is_device_address(src) ? device_bytes(src, count, &reason) : static_cast<const uint8_t*>(src);
  if (!d || !s) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemcpy: " + reason);
  std::memmove(d, s, count);  // at once: no stream is waited for
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtCreateStream(aclrtStream* stream) {
  XD_REQUIRE_CONTEXT("aclrtCreateStream");
  if (!stream) return fail(ACL_ERROR_INVALID_PARAM, "null stream");
  auto* s = new Stream;
  s->context = t_context;
  s->worker = std::thread([s] { s->loop(); });
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_streams.insert(s);
  }
  *stream = s;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtDestroyStream(aclrtStream stream) {
  XD_REQUIRE_CONTEXT("aclrtDestroyStream");
  Stream* s = find_stream(stream);
  if (s == nullptr) return fail(ACL_ERROR_RT_PARAM_INVALID, "unknown stream");
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    if (!s->queue.empty() || s->busy)
      return fail(ACL_ERROR_RT_PARAM_INVALID,
                  "aclrtDestroyStream: work still queued (synchronize first)");
    s->stop = true;
  }
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_streams.erase(s);
  }
  s->wake.notify_all();
  s->worker.join();
  delete s;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtSynchronizeStream(aclrtStream stream) {
  XD_REQUIRE_CONTEXT("aclrtSynchronizeStream");
  Stream* s = find_stream(stream);
  if (s == nullptr) return fail(ACL_ERROR_RT_PARAM_INVALID, "unknown stream");
  const std::string fault = drain(s);
  if (!fault.empty()) return fail(ACL_ERROR_RT_AICORE_EXCEPTION, "stream fault: " + fault);
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtMemcpyAsync(void* dst, size_t dest_max, const void* src,
                                                  size_t count, aclrtMemcpyKind kind,
                                                  aclrtStream stream) {
  XD_REQUIRE_CONTEXT("aclrtMemcpyAsync");
  if (!dst || !src) return fail(ACL_ERROR_INVALID_PARAM, "null pointer");
  if (count > dest_max) return fail(ACL_ERROR_INVALID_PARAM, "count exceeds destMax");
  const bool dst_device = is_device_address(dst), src_device = is_device_address(src);
  bool want_dst = false, want_src = false;
  switch (kind) {
    case ACL_MEMCPY_HOST_TO_DEVICE:
      want_dst = true;
      break;
    case ACL_MEMCPY_DEVICE_TO_HOST:
      want_src = true;
      break;
    case ACL_MEMCPY_DEVICE_TO_DEVICE:
      want_dst = want_src = true;
      break;
    case ACL_MEMCPY_HOST_TO_HOST:
      return fail(ACL_ERROR_RT_FEATURE_NOT_SUPPORT, "host-to-host copies are not supported");
    default:
      return fail(ACL_ERROR_INVALID_PARAM, "unknown copy kind");
  }
  if (dst_device != want_dst || src_device != want_src)
    return fail(ACL_ERROR_INVALID_PARAM,
                "aclrtMemcpyAsync: the kind does not match the pointers (dst is " +
                    std::string(dst_device ? "device" : "host") + ", src is " +
                    (src_device ? "device" : "host") + ")");
  if (reinterpret_cast<uintptr_t>(dst) % 64 || reinterpret_cast<uintptr_t>(src) % 64)
    return fail(ACL_ERROR_MEMORY_ADDRESS_UNALIGNED,
                "aclrtMemcpyAsync: source and destination must be 64-byte aligned");
  std::string reason;
  if ((dst_device && !device_bytes(dst, count, &reason)) ||
      (src_device && !device_bytes(src, count, &reason)))
    return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemcpyAsync: " + reason);
  const void* host = kind == ACL_MEMCPY_HOST_TO_DEVICE   ? src
                     : kind == ACL_MEMCPY_DEVICE_TO_HOST ? static_cast<const void*>(dst)
                                                         : nullptr;
  bool pinned = false;
  if (host != nullptr) {
    std::lock_guard<std::mutex> lock(g_mutex);
    pinned = in_host_allocation(host, count);
  }
  if (host != nullptr && !pinned && !pageable_async_copies())
    return fail(ACL_ERROR_INVALID_PARAM,
                "aclrtMemcpyAsync: host memory not from aclrtMallocHost (CANN 8.0-8.2 document "
                "unpredictable results; pageable memory is supported from 8.3.RC1)");
  // Pageable host memory (8.3 on): the copy runs before the call returns. Page-locked memory
  // is touched when the stream reaches the copy, and must still be allocated then.
  const bool sync = host != nullptr && !pinned;
  return enqueue(
      stream,
      [=]() -> std::string {
        std::string why;
        if (pinned) {
          std::lock_guard<std::mutex> lock(g_mutex);
          if (!in_host_allocation(host, count))
            return "aclrtMemcpyAsync at run: its aclrtMallocHost memory was freed before the "
                   "stream reached the copy";
        }
        uint8_t* d = dst_device ? device_bytes(dst, count, &why) : static_cast<uint8_t*>(dst);
        const uint8_t* s =
            src_device ? device_bytes(src, count, &why) : static_cast<const uint8_t*>(src);
        if (!d || !s) return "aclrtMemcpyAsync at run: " + why;
        std::memmove(d, s, count);
        return "";
      },
      sync);
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtMemsetAsync(void* dev_ptr, size_t max_count, int32_t value,
                                                  size_t count, aclrtStream stream) {
  XD_REQUIRE_CONTEXT("aclrtMemsetAsync");
  if (count > max_count) return fail(ACL_ERROR_INVALID_PARAM, "count exceeds maxCount");
  if (!is_device_address(dev_ptr))
    return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemsetAsync: not device memory");
  if (reinterpret_cast<uintptr_t>(dev_ptr) % 64)
    return fail(ACL_ERROR_MEMORY_ADDRESS_UNALIGNED,
                "aclrtMemsetAsync: device address must be 64-byte aligned");
  std::string reason;
  if (!device_bytes(dev_ptr, count, &reason))
    return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemsetAsync: " + reason);
  return enqueue(
      stream,
      [=]() -> std::string {
        std::string why;
        uint8_t* d = device_bytes(dev_ptr, count, &why);
        if (!d) return "aclrtMemsetAsync at run: " + why;
        std::memset(d, value & 0xff, count);
        return "";
      },
      false);
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtCreateEventWithFlag(aclrtEvent* event, uint32_t flag) {
  XD_REQUIRE_CONTEXT("aclrtCreateEventWithFlag");
  if (!event) return fail(ACL_ERROR_INVALID_PARAM, "null event");
  if (flag & ~(ACL_EVENT_SYNC | ACL_EVENT_TIME_LINE | 0x2u))
    return fail(ACL_ERROR_INVALID_PARAM, "unknown event flag");
  auto* e = new Event;
  e->flags = flag;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_events.insert(e);
  }
  *event = e;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtDestroyEvent(aclrtEvent event) {
  XD_REQUIRE_INIT();
  Event* e = find_event(event);
  if (e == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "unknown event");
  {
    // Destroying an event whose record has not run yet would free what the stream will touch.
    std::unique_lock<std::mutex> lock(e->mutex);
    e->done.wait(lock, [&] { return e->outstanding.empty(); });
  }
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_events.erase(e);
  }
  delete e;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream) {
  XD_REQUIRE_CONTEXT("aclrtRecordEvent");
  Event* e = find_event(event);
  if (e == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "unknown event");
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(e->mutex);
    generation = ++e->recorded;
    e->outstanding.insert(generation);
  }
  return enqueue(
      stream,
      [e, generation]() -> std::string {
        std::lock_guard<std::mutex> lock(e->mutex);
        if (generation == e->recorded) e->stamp = Clock::now();
        e->outstanding.erase(generation);
        e->done.notify_all();
        return "";
      },
      false);
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event) {
  XD_REQUIRE_CONTEXT("aclrtStreamWaitEvent");
  Event* e = find_event(event);
  if (e == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "unknown event");
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(e->mutex);
    target = e->recorded;
  }
  return enqueue(
      stream,
      [e, target]() -> std::string {
        std::unique_lock<std::mutex> lock(e->mutex);
        e->done.wait(lock, [&] { return e->reached(target); });
        return "";
      },
      false);
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtSynchronizeEvent(aclrtEvent event) {
  XD_REQUIRE_INIT();
  Event* e = find_event(event);
  if (e == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "unknown event");
  std::unique_lock<std::mutex> lock(e->mutex);
  const uint64_t target = e->recorded;
  e->done.wait(lock, [&] { return e->reached(target); });
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtQueryEventStatus(aclrtEvent event,
                                                       aclrtEventRecordedStatus* status) {
  XD_REQUIRE_INIT();
  Event* e = find_event(event);
  if (e == nullptr || status == nullptr) return fail(ACL_ERROR_INVALID_PARAM, "bad argument");
  std::lock_guard<std::mutex> lock(e->mutex);
  *status = e->reached(e->recorded) ? ACL_EVENT_RECORDED_STATUS_COMPLETE
                                    : ACL_EVENT_RECORDED_STATUS_NOT_READY;
  return ACL_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclError aclrtEventElapsedTime(float* ms, aclrtEvent start,
                                                       aclrtEvent end) {
  XD_REQUIRE_INIT();
  Event* a = find_event(start);
  Event* b = find_event(end);
  if (!ms || !a || !b) return fail(ACL_ERROR_INVALID_PARAM, "bad argument");
  if (!(a->flags & ACL_EVENT_TIME_LINE) || !(b->flags & ACL_EVENT_TIME_LINE))
    return fail(ACL_ERROR_INVALID_PARAM, "events were not created with ACL_EVENT_TIME_LINE");
  std::unique_lock<std::mutex> lock_a(a->mutex, std::defer_lock), lock_b(b->mutex, std::defer_lock);
  if (a == b) {
    lock_a.lock();
  } else {
    std::lock(lock_a, lock_b);
  }
  if (a->recorded == 0 || b->recorded == 0 || !a->reached(a->recorded) || !b->reached(b->recorded))
    return fail(ACL_ERROR_INVALID_PARAM, "events not recorded or not complete");
  *ms = std::chrono::duration<float, std::milli>(b->stamp - a->stamp).count();
  return ACL_SUCCESS;
}

}  // extern "C"
