// A host double of Cambricon's CNRT runtime (libcnrt.so), written from the public CNRT
// developer guide and cnrt.h, so that the Cambricon plugin runs, unchanged, on a machine without
// an MLU. It exports the CNRT symbols of backends/cambricon/cambricon_api.h and enforces the
// rules a real device enforces, or that a real device punishes silently:
//   - device memory is not host-addressable: cnrtMalloc returns addresses inside a reserved,
//     inaccessible (PROT_NONE) range, so a plugin that dereferences one on the host crashes;
//     the bytes live in separate host storage the double reaches through resolve();
//   - every copy's direction must match its pointers (host to device needs a host source and a
//     device destination wholly inside one allocation, and so on), checked when it is enqueued;
//   - queues run asynchronously on a worker thread each, in order; host memory given to an
//     asynchronous copy is read or written when the copy runs, not when it is enqueued;
//   - notifiers complete when the queue reaches them, carry the time they completed (for
//     cnrtNotifierElapsedTime), and cnrtQueueWaitNotifier makes a queue wait for one;
//   - cnrtSetDevice takes an ordinal below cnrtGetDeviceCount; allocations beyond the device's
//     memory fail with cnrtErrorNoMem.
// Environment: XINHE_CNRT_DOUBLE_MEMORY_MB sets the device memory (default 4096).
// What it does not model: several devices (it has one), contexts, pinned host memory, the
// device's real timing, and any arithmetic (that is the CNNL double's business).
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "double_internal.h"

namespace {

constexpr uint64_t kAddressSpace = 64ull << 30;  // reserved device address range
constexpr uint64_t kAllocationGranule = 4096;    // every allocation starts page-aligned

struct Allocation {
  uint64_t size = 0;
  std::unique_ptr<uint8_t[]> storage;
};

struct Memory {
  std::mutex mu;
  uint8_t* base = nullptr;  // the PROT_NONE reservation
  uint64_t next = 0;        // bump offset; freed ranges are never reused
  uint64_t capacity = 0;
  uint64_t used = 0;
  std::map<uintptr_t, Allocation> live;  // by device address

  Memory() {
    void* p =
        mmap(nullptr, kAddressSpace, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    base = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
    const char* mb = std::getenv("XINHE_CNRT_DOUBLE_MEMORY_MB");
    capacity = (mb != nullptr && std::atoll(mb) > 0 ? std::strtoull(mb, nullptr, 10) : 4096ull)
               << 20;
  }
};

Memory& memory() {
  static Memory* m = new Memory();  // never destroyed: queues may still run at exit
  return *m;
}

thread_local int current_device = 0;

using Clock = std::chrono::steady_clock;

}  // namespace

// A queue: one worker thread running tasks in submission order.
struct CNqueue_st {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<std::string()>> tasks;
  bool running = false;  // the worker is executing a task
  bool stop = false;
  std::string fault;  // first failing task's message (sticky until reported)
  std::thread worker;

  CNqueue_st() : worker([this] { loop(); }) {}
  ~CNqueue_st() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }
  void loop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [this] { return stop || !tasks.empty(); });
      if (tasks.empty()) return;
      auto task = std::move(tasks.front());
      tasks.pop_front();
      running = true;
      lock.unlock();
      std::string error = task();
      lock.lock();
      running = false;
      if (!error.empty() && fault.empty()) fault = error;
      cv.notify_all();
    }
  }
  bool idle() const { return tasks.empty() && !running; }
};

// A notifier: completes when its queue reaches it. A wait, query or synchronize refers to the
// latest placement at the time of the call; a later placement (on any queue) does not change it,
// so each placement is tracked until its queue reaches it.
struct CNnotifier_st {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t placed = 0;             // placements so far
  std::set<uint64_t> outstanding;  // placed, not yet reached by their queue
  Clock::time_point when;          // when the latest placement was reached
  bool reached(uint64_t generation) const { return outstanding.count(generation) == 0; }
};

namespace xinhe_double {

void* resolve(const void* device_pointer, size_t bytes) {
  Memory& m = memory();
  const uintptr_t p = reinterpret_cast<uintptr_t>(device_pointer);
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.live.upper_bound(p);
  if (it == m.live.begin()) return nullptr;
  --it;
  const uint64_t offset = p - it->first;
  if (offset > it->second.size || bytes > it->second.size - offset) return nullptr;
  if (offset == it->second.size && bytes == 0) return nullptr;  // one past the end
  return it->second.storage.get() + offset;
}

bool is_device_address(const void* pointer) {
  const uint8_t* p = static_cast<const uint8_t*>(pointer);
  Memory& m = memory();
  return m.base != nullptr && p >= m.base && p < m.base + kAddressSpace;
}

cnrtRet_t enqueue(cnrtQueue_t queue, std::function<std::string()> task) {
  if (queue == nullptr) return cnrtErrorArgsInvalid;  // the double has no default queue
  {
    std::lock_guard<std::mutex> lock(queue->mu);
    queue->tasks.push_back(std::move(task));
  }
  queue->cv.notify_all();
  return cnrtSuccess;
}

}  // namespace xinhe_double

using xinhe_double::enqueue;
using xinhe_double::is_device_address;
using xinhe_double::resolve;

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtGetDeviceCount(unsigned int* count) {
  if (count == nullptr) return cnrtErrorArgsInvalid;
  *count = memory().base != nullptr ? 1 : 0;
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtSetDevice(int device) {
  if (device != 0) return cnrtErrorDeviceInvalid;
  current_device = device;
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtDeviceGetAttribute(int* value, cnrtDeviceAttr_t attr,
                                                     int device) {
  if (value == nullptr) return cnrtErrorArgsInvalid;
  if (device != 0) return cnrtErrorDeviceInvalid;
  switch (attr) {
    case cnrtAttrClusterCount:
      *value = 4;
      return cnrtSuccess;
    case cnrtAttrMcorePerCluster:
      *value = 4;
      return cnrtSuccess;
    case cnrtAttrBF16ComputingSupported:
      *value = 1;
      return cnrtSuccess;
  }
  return cnrtErrorArgsInvalid;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) return cnrtErrorArgsInvalid;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  *total_bytes = m.capacity;
  *free_bytes = m.capacity - m.used;
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT void cnrtGetLibVersion(int* major, int* minor, int* patch) {
  // The CNRT release whose public header the declarations follow; "double" is in the name the
  // plugin shows (see cnrtGetErrorStr) only through this version triple.
  if (major != nullptr) *major = 6;
  if (minor != nullptr) *minor = 0;
  if (patch != nullptr) *patch = 0;
}

XINHE_DOUBLE_EXPORT const char* cnrtGetErrorStr(cnrtRet_t error) {
  switch (error) {
    case cnrtSuccess:
      return "cnrtSuccess (host double)";
    case cnrtErrorNotReady:
      return "cnrtErrorNotReady (host double)";
    case cnrtErrorArgsInvalid:
      return "cnrtErrorArgsInvalid (host double)";
    case cnrtErrorNoMem:
      return "cnrtErrorNoMem (host double)";
    case cnrtErrorDeviceInvalid:
      return "cnrtErrorDeviceInvalid (host double)";
    case cnrtErrorMemcpyDirectionInvalid:
      return "cnrtErrorMemcpyDirectionInvalid (host double)";
    case cnrtErrorIllegalState:
      return "cnrtErrorIllegalState (host double)";
    default:
      return "cnrt error (host double)";
  }
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtMalloc(void** pointer, size_t bytes) {
  if (pointer == nullptr || bytes == 0) return cnrtErrorArgsInvalid;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  if (m.base == nullptr) return cnrtErrorNoDevice;
  const uint64_t rounded =
      (bytes + kAllocationGranule - 1) / kAllocationGranule * kAllocationGranule;
  if (bytes > m.capacity - m.used || rounded > kAddressSpace - m.next) return cnrtErrorNoMem;
  Allocation a;
  a.size = bytes;
  a.storage.reset(new (std::nothrow) uint8_t[bytes]);
  if (!a.storage) return cnrtErrorNoMem;
  // Fresh device memory holds garbage, not zeros.
  std::memset(a.storage.get(), 0xA5, bytes);
  uint8_t* address = m.base + m.next;
  m.next += rounded;
  m.used += bytes;
  m.live.emplace(reinterpret_cast<uintptr_t>(address), std::move(a));
  *pointer = address;
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtFree(void* pointer) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.live.find(reinterpret_cast<uintptr_t>(pointer));
  if (it == m.live.end()) return cnrtErrorArgsInvalid;
  m.used -= it->second.size;
  m.live.erase(it);
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtMemcpyAsync(void* dst, void* src, size_t bytes, cnrtQueue_t queue,
                                              cnrtMemTransDir_t direction) {
  if (dst == nullptr || src == nullptr || bytes == 0 || queue == nullptr)
    return cnrtErrorArgsInvalid;
  const bool dst_device = is_device_address(dst), src_device = is_device_address(src);
  switch (direction) {
    case cnrtMemcpyHostToDev:
      if (src_device || !dst_device || resolve(dst, bytes) == nullptr) return cnrtErrorArgsInvalid;
      break;
    case cnrtMemcpyDevToHost:
      if (dst_device || !src_device || resolve(src, bytes) == nullptr) return cnrtErrorArgsInvalid;
      break;
    case cnrtMemcpyDevToDev:
      if (resolve(dst, bytes) == nullptr || resolve(src, bytes) == nullptr)
        return cnrtErrorArgsInvalid;
      break;
    default:
      return cnrtErrorMemcpyDirectionInvalid;
  }
  return enqueue(queue, [=]() -> std::string {
    void* d = direction == cnrtMemcpyDevToHost ? dst : resolve(dst, bytes);
    const void* s = direction == cnrtMemcpyHostToDev ? src : resolve(src, bytes);
    if (d == nullptr || s == nullptr)
      return "cnrtMemcpyAsync: device memory freed before the copy ran";
    std::memmove(d, s, bytes);
    return "";
  });
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtMemsetAsync(void* pointer, int value, size_t bytes,
                                              cnrtQueue_t queue) {
  if (pointer == nullptr || bytes == 0 || queue == nullptr) return cnrtErrorArgsInvalid;
  if (resolve(pointer, bytes) == nullptr) return cnrtErrorArgsInvalid;
  return enqueue(queue, [=]() -> std::string {
    void* d = resolve(pointer, bytes);
    if (d == nullptr) return "cnrtMemsetAsync: device memory freed before the fill ran";
    std::memset(d, value, bytes);
    return "";
  });
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtQueueCreate(cnrtQueue_t* queue) {
  if (queue == nullptr) return cnrtErrorArgsInvalid;
  *queue = new (std::nothrow) CNqueue_st();
  return *queue != nullptr ? cnrtSuccess : cnrtErrorSysNoMem;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtQueueSync(cnrtQueue_t queue) {
  if (queue == nullptr) return cnrtErrorArgsInvalid;
  std::unique_lock<std::mutex> lock(queue->mu);
  queue->cv.wait(lock, [queue] { return queue->idle(); });
  if (!queue->fault.empty()) {
    std::fprintf(stderr, "cnrt double: queue fault: %s\n", queue->fault.c_str());
    queue->fault.clear();
    return cnrtErrorIllegalState;
  }
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtQueueDestroy(cnrtQueue_t queue) {
  if (queue == nullptr) return cnrtErrorArgsInvalid;
  cnrtQueueSync(queue);
  delete queue;
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtQueueQuery(cnrtQueue_t queue) {
  if (queue == nullptr) return cnrtErrorArgsInvalid;
  std::lock_guard<std::mutex> lock(queue->mu);
  return queue->idle() ? cnrtSuccess : cnrtErrorNotReady;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtNotifierCreate(cnrtNotifier_t* notifier) {
  if (notifier == nullptr) return cnrtErrorArgsInvalid;
  *notifier = new (std::nothrow) CNnotifier_st();
  return *notifier != nullptr ? cnrtSuccess : cnrtErrorSysNoMem;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtNotifierDestroy(cnrtNotifier_t notifier) {
  if (notifier == nullptr) return cnrtErrorArgsInvalid;
  // A real notifier may be destroyed while placed; the double waits so the worker never
  // touches freed memory.
  {
    std::unique_lock<std::mutex> lock(notifier->mu);
    notifier->cv.wait(lock, [notifier] { return notifier->outstanding.empty(); });
  }
  delete notifier;
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtPlaceNotifier(cnrtNotifier_t notifier, cnrtQueue_t queue) {
  if (notifier == nullptr || queue == nullptr) return cnrtErrorArgsInvalid;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(notifier->mu);
    generation = ++notifier->placed;
    notifier->outstanding.insert(generation);
  }
  return enqueue(queue, [notifier, generation, queue]() -> std::string {
    {
      // The queue counts this task finished in the same step as the notifier completes, so a
      // host woken by the notifier finds the queue idle when nothing follows (cnrtQueueQuery).
      std::lock_guard<std::mutex> queue_lock(queue->mu);
      queue->running = false;
      std::lock_guard<std::mutex> lock(notifier->mu);
      if (generation == notifier->placed) notifier->when = Clock::now();
      notifier->outstanding.erase(generation);
      // Notified under the lock: cnrtNotifierDestroy may delete the notifier as soon as it
      // sees nothing outstanding, which it can only check once this lock is released.
      notifier->cv.notify_all();
    }
    return "";
  });
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtWaitNotifier(cnrtNotifier_t notifier) {
  if (notifier == nullptr) return cnrtErrorArgsInvalid;
  std::unique_lock<std::mutex> lock(notifier->mu);
  const uint64_t target = notifier->placed;
  notifier->cv.wait(lock, [notifier, target] { return notifier->reached(target); });
  return cnrtSuccess;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtQueryNotifier(cnrtNotifier_t notifier) {
  if (notifier == nullptr) return cnrtErrorArgsInvalid;
  std::lock_guard<std::mutex> lock(notifier->mu);
  return notifier->reached(notifier->placed) ? cnrtSuccess : cnrtErrorNotReady;
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtQueueWaitNotifier(cnrtNotifier_t notifier, cnrtQueue_t queue,
                                                    unsigned int flag) {
  if (notifier == nullptr || queue == nullptr || flag != 0) return cnrtErrorArgsInvalid;
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(notifier->mu);
    target = notifier->placed;
  }
  return enqueue(queue, [notifier, target]() -> std::string {
    std::unique_lock<std::mutex> lock(notifier->mu);
    notifier->cv.wait(lock, [notifier, target] { return notifier->reached(target); });
    return "";
  });
}

XINHE_DOUBLE_EXPORT cnrtRet_t cnrtNotifierElapsedTime(cnrtNotifier_t start, cnrtNotifier_t end,
                                                      float* ms) {
  if (start == nullptr || end == nullptr || ms == nullptr) return cnrtErrorArgsInvalid;
  auto state = [](cnrtNotifier_t n, Clock::time_point* when) {
    std::lock_guard<std::mutex> lock(n->mu);
    if (n->placed == 0) return cnrtErrorIllegalState;
    if (!n->reached(n->placed)) return cnrtErrorNotReady;
    *when = n->when;
    return cnrtSuccess;
  };
  Clock::time_point t0, t1;
  if (cnrtRet_t r = state(start, &t0); r != cnrtSuccess) return r;
  if (cnrtRet_t r = state(end, &t1); r != cnrtSuccess) return r;
  *ms = std::chrono::duration<float, std::milli>(t1 - t0).count();
  return cnrtSuccess;
}
