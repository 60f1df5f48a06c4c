// The built-in CPU backend: the plugin ABI of include/xinhe/backend.h served by host memory,
// one worker thread per stream, and the CPU kernel lists of kernels/*/cpu.
//
// Model. One device, "cpu:0", owned by the backend together with its thread pool (sized by
// XINHE_CPU_THREADS, else the usable cores). A stream is a FIFO of tasks executed in order by
// the stream's own thread; copies, fills, event markers and ops are all tasks, so ordering
// falls out of the queue. Kernels run on the shared pool from the stream thread, which joins
// in as one of the pool's workers. Each record of an event enqueues a marker of its own; a wait,
// query or synchronize takes the event's latest marker at the call and waits for that marker
// alone, so re-recording the event (on any stream) never changes what an earlier wait waits
// for. A marker is marked done in the same step (under the stream's lock) as its stream counts
// it completed, so the event and the stream never disagree about it. Op state is shared_ptr-owned
// so a queued run survives op_destroy. The core validates every argument before calling in
// (backend.h); this file only asserts. Ops are selected from the ordered lists by the dispatch
// walker of xinhe/backend.hpp.
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "attention_cpu.h"
#include "checked_math.h"
#include "cpu_features.h"
#include "cpu_peaks.h"
#include "gemm_cpu.h"
#include "thread_pool.h"
#include "xinhe/backend.hpp"

using xinhe::backends::cpu::ThreadPool;
using xinhe::kernels::cpu::AttentionImpl;
using xinhe::kernels::cpu::AttentionProblem;
using xinhe::kernels::cpu::GemmImpl;
using xinhe::kernels::cpu::GemmProblem;

namespace {

constexpr const char* kBackendName = "cpu";
constexpr uint64_t kMinAlignment = 64;  // a cache line; also enough for AVX-512 loads

}  // namespace

// ---- Object definitions (opaque to the core) ---------------------------------------------

struct xinhe_be_device_s {
  xinhe_be_backend_s* backend;
};

struct xinhe_be_backend_s {
  const xinhe_host_api_t* host = nullptr;
  std::unique_ptr<ThreadPool> pool;
  xinhe_be_device_s device{this};
};

struct xinhe_be_buffer_s {
  void* data;
  uint64_t size;
  bool owns_data;  // false for a buffer wrapped over caller-owned host memory
};

struct xinhe_be_stream_s {
  xinhe_be_device_t device = nullptr;
  std::mutex mutex;
  std::condition_variable work_cv;  // worker: a task arrived or stop
  std::condition_variable idle_cv;  // synchronize: completed caught up
  // A task and what runs, under the stream's lock, once the stream has counted it completed
  // (an event marker's signal; it must not take the stream's lock).
  struct Task {
    std::function<void()> run;
    std::function<void()> after_completed;
  };
  std::deque<Task> queue;
  uint64_t submitted = 0;
  uint64_t completed = 0;
  bool stop = false;
  std::thread worker;
};

namespace {

// One record of an event: done when its stream reached it. Guarded by its EventState's mutex.
struct EventMarker {
  bool done = false;
  std::chrono::steady_clock::time_point done_at{};
};

// Shared with queued markers and waits so that destroying the event handle while they are
// queued is safe.
struct EventState {
  std::mutex mutex;
  std::condition_variable cv;
  std::shared_ptr<EventMarker> latest;  // null: never recorded (complete, as in CUDA)
};

}  // namespace

struct xinhe_be_event_s {
  xinhe_be_device_t device;
  std::shared_ptr<EventState> state;
};

namespace {

// Immutable after op_create; queued runs hold a reference.
struct OpState {
  xinhe_op_kind_t kind{};
  xinhe_gemm_desc_t gemm{};
  xinhe_attention_desc_t attention{};
  const GemmImpl* gemm_impl = nullptr;            // null when nothing matched
  const AttentionImpl* attention_impl = nullptr;  // null when nothing matched
  std::string impl_name;
  std::string unsupported;  // empty when runnable
  uint64_t workspace_bytes = 0;
};

}  // namespace

struct xinhe_be_op_s {
  xinhe_be_device_t device;
  std::shared_ptr<const OpState> state;
};

namespace {

const xinhe_host_api_t* host_of(xinhe_be_device_t device) { return device->backend->host; }

// ---- Machine description -------------------------------------------------------------------

// Value of the first "key\t: value" line of /proc/cpuinfo whose key is key; "" when absent.
std::string cpuinfo_field(const char* key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  const size_t key_len = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, key_len, key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    // The key must be followed only by blanks before the colon ("model" vs "model name").
    if (line.find_first_not_of(" \t", key_len) != colon) continue;
    const size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return std::string();
}

// MemAvailable from /proc/meminfo in bytes (what the kernel estimates can be allocated
// without swapping), or 0 when unknown.
uint64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kib) == 1) return kib * 1024ull;
  }
  struct sysinfo info {};
  if (sysinfo(&info) == 0) return static_cast<uint64_t>(info.freeram) * info.mem_unit;
  return 0;
}

uint64_t total_memory_bytes() {
  struct sysinfo info {};
  if (sysinfo(&info) != 0) return 0;
  return static_cast<uint64_t>(info.totalram) * info.mem_unit;
}

void copy_string(char* dst, size_t capacity, const std::string& src) {
  std::snprintf(dst, capacity, "%s", src.c_str());
}

// ---- Stream machinery ----------------------------------------------------------------------

void stream_worker_main(xinhe_be_stream_t stream) {
  std::unique_lock<std::mutex> lock(stream->mutex);
  for (;;) {
    stream->work_cv.wait(lock, [&] { return stream->stop || !stream->queue.empty(); });
    if (stream->queue.empty()) return;  // stop requested and drained
    xinhe_be_stream_s::Task task = std::move(stream->queue.front());
    stream->queue.pop_front();
    lock.unlock();
    if (task.run) task.run();
    task.run = nullptr;  // release captured state (op refs) before reporting done
    lock.lock();
    ++stream->completed;
    // Under the stream's lock, so that whoever sees the stream idle sees the marker done and
    // whoever sees the marker done sees the stream's count (lock order: stream, then event).
    if (task.after_completed) {
      task.after_completed();
      task.after_completed = nullptr;
    }
    if (stream->completed == stream->submitted) stream->idle_cv.notify_all();
  }
}

// call: the API entry the task comes from, for the status a caller sees.
// after_completed: what runs once the stream counted the task completed.
xinhe_status_t enqueue(xinhe_be_stream_t stream, const char* call, std::function<void()> task,
                       std::function<void()> after_completed = nullptr) {
  try {
    {
      std::lock_guard<std::mutex> lock(stream->mutex);
      stream->queue.push_back({std::move(task), std::move(after_completed)});
      ++stream->submitted;
    }
    stream->work_cv.notify_one();
    return nullptr;
  } catch (const std::bad_alloc&) {
    return XINHE_BE_ERROR(host_of(stream->device), OUT_OF_MEMORY, kBackendName, call,
                          "cannot queue a task on the stream");
  }
}

void wait_idle(xinhe_be_stream_t stream) {
  std::unique_lock<std::mutex> lock(stream->mutex);
  const uint64_t target = stream->submitted;
  stream->idle_cv.wait(lock, [&] { return stream->completed >= target; });
}

char* host_pointer(const xinhe_be_mem_t& mem) {
  // buffer is NULL only for operands covering zero bytes (backend.h).
  return mem.buffer == nullptr ? nullptr : static_cast<char*>(mem.buffer->data) + mem.offset;
}

// ---- Backend and device --------------------------------------------------------------------

xinhe_status_t cpu_backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out_backend) {
  int threads = xinhe::backends::cpu::usable_core_count();
  if (const char* env = std::getenv("XINHE_CPU_THREADS"); env != nullptr) {
    std::string error;
    if (!xinhe::backends::cpu::parse_thread_count(env, &threads, &error)) {
      return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, __func__, "%s", error.c_str());
    }
  }
  // XINHE_CPU_MAX_ISA caps the instruction sets the kernels use; the kernels read it once per
  // process (cpu_features.h), a wrong value is refused here rather than silently ignored.
  if (const char* env = std::getenv("XINHE_CPU_MAX_ISA"); env != nullptr && *env != '\0') {
    xinhe::kernels::CpuIsa isa{};
    std::string error;
    if (!xinhe::kernels::parse_cpu_max_isa(env, &isa, &error)) {
      return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, __func__, "%s", error.c_str());
    }
  }
  bool bind = true;  // XINHE_CPU_BIND=0: leave the pool's threads to the scheduler
  if (const char* env = std::getenv("XINHE_CPU_BIND"); env != nullptr) {
    std::string error;
    if (!xinhe::backends::cpu::parse_bind(env, &bind, &error)) {
      return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, __func__, "%s", error.c_str());
    }
  }
  // XINHE_CPU_PROBE=no used to run the probes anyway (only "0" turned them off).
  if (const char* env = std::getenv("XINHE_CPU_PROBE"); env != nullptr) {
    bool probe = true;
    std::string error;
    if (!xinhe::backends::cpu::parse_cpu_probe(env, &probe, &error)) {
      return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, __func__, "%s", error.c_str());
    }
  }
  try {
    auto backend = std::make_unique<xinhe_be_backend_s>();
    backend->host = host;
    backend->pool = std::make_unique<ThreadPool>(threads, ThreadPool::kDefaultSpinUs, bind);
    *out_backend = backend.release();
    return nullptr;
  } catch (const std::bad_alloc&) {
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, __func__,
                          "cannot allocate the CPU backend");
  } catch (const std::system_error& e) {
    const std::string message = std::string("cannot start the thread pool: ") + e.what();
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, __func__, "%s", message.c_str());
  }
}

void cpu_backend_destroy(xinhe_be_backend_t backend) { delete backend; }

xinhe_status_t cpu_device_count(xinhe_be_backend_t, uint32_t* out_count) {
  *out_count = 1;
  return nullptr;
}

xinhe_status_t cpu_device_open(xinhe_be_backend_t backend, uint32_t index,
                               xinhe_be_device_t* out_device) {
  if (index != 0) {
    return XINHE_BE_ERROR(backend->host, NOT_FOUND, kBackendName, __func__,
                          "the CPU backend has one device");
  }
  *out_device = &backend->device;
  return nullptr;
}

// The device is part of the backend object and dies with it.
void cpu_device_close(xinhe_be_device_t) {}

xinhe_status_t cpu_device_properties(xinhe_be_device_t device, xinhe_device_properties_t* out) {
  std::string model = cpuinfo_field("model name");
  if (model.empty()) model = "unknown CPU";
  std::string vendor = cpuinfo_field("vendor_id");
  if (vendor == "AuthenticAMD") vendor = "AMD";
  else if (vendor == "GenuineIntel") vendor = "Intel";
  else if (vendor.empty()) vendor = "unknown";
  std::string driver = "unknown";
  struct utsname uts {};
  if (uname(&uts) == 0) driver = std::string(uts.sysname) + " " + uts.release;

  copy_string(out->description, sizeof(out->description), model);
  copy_string(out->vendor, sizeof(out->vendor), vendor);
  copy_string(out->driver_version, sizeof(out->driver_version), driver);
  out->total_memory = total_memory_bytes();
  out->free_memory = available_memory_bytes();
  out->compute_units = static_cast<uint32_t>(xinhe::backends::cpu::usable_core_count());
  out->flags = XINHE_DEVICE_FLAG_TIMING | XINHE_DEVICE_FLAG_HOST_MEMORY | XINHE_DEVICE_FLAG_FP64;
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16) |
                    XINHE_DTYPE_CAP(XINHE_DTYPE_BF16);
  out->reserved0 = 0;
  out->min_alignment = kMinAlignment;
  // Measured by probes on the pool's thread count, once per machine (cached on disk); see
  // cpu_peaks.h. A guess would mislead roofline tools more than a measurement or 0 (unknown).
  const xinhe::backends::cpu::CpuPeaks& peaks =
      xinhe::backends::cpu::cpu_peaks(device->backend->pool->threads());
  for (int d = 0; d < XINHE_DTYPE_COUNT; ++d) out->peak_flops[d] = peaks.flops[d];
  out->memory_bandwidth = peaks.bandwidth;
  if (XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type)) {
    out->device_type = XINHE_DEVICE_TYPE_CPU;
  }
  return nullptr;
}

// ---- Memory --------------------------------------------------------------------------------

xinhe_status_t cpu_buffer_alloc(xinhe_be_device_t device, uint64_t size, uint64_t alignment,
                                xinhe_be_buffer_t* out_buffer) {
  const xinhe_host_api_t* host = host_of(device);
  // Refuse what cannot possibly fit before asking the allocator: with overcommit a huge
  // request may "succeed" and fault later, and sanitizer allocators abort on it.
  const uint64_t total = total_memory_bytes();
  if (total != 0 && size > total) {
    const std::string message = "cannot allocate " + std::to_string(size) +
                                " bytes: more than the machine's " + std::to_string(total) +
                                " bytes of memory";
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, "xinhe_buffer_alloc", "%s", message.c_str());
  }
  if (alignment < kMinAlignment) alignment = kMinAlignment;
  if (total != 0 && alignment > total) {
    // posix_memalign would need the alignment as address space; refuse it clearly instead.
    const std::string message = "alignment " + std::to_string(alignment) +
                                " cannot be honoured: larger than the machine's " +
                                std::to_string(total) + " bytes of memory";
    return XINHE_BE_ERROR(host, UNIMPLEMENTED, kBackendName, "xinhe_buffer_alloc", "%s", message.c_str());
  }
  void* data = nullptr;
  if (posix_memalign(&data, static_cast<size_t>(alignment), static_cast<size_t>(size)) != 0) {
    const std::string message = "posix_memalign of " + std::to_string(size) + " bytes failed";
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, "xinhe_buffer_alloc", "%s", message.c_str());
  }
  auto* buffer = new (std::nothrow) xinhe_be_buffer_s{data, size, true};
  if (buffer == nullptr) {
    std::free(data);
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, "xinhe_buffer_alloc",
                          "cannot allocate a buffer handle");
  }
  *out_buffer = buffer;
  return nullptr;
}

xinhe_status_t cpu_buffer_address(xinhe_be_buffer_t buffer, uint64_t* out_address) {
  *out_address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(buffer->data));
  return nullptr;
}

void cpu_buffer_free(xinhe_be_buffer_t buffer) {
  if (buffer == nullptr) return;
  if (buffer->owns_data) std::free(buffer->data);
  delete buffer;
}

// Device memory is host memory here, so both directions of host access are direct.
xinhe_status_t cpu_buffer_host_pointer(xinhe_be_buffer_t buffer, void** out_pointer) {
  *out_pointer = buffer->data;
  return nullptr;
}

xinhe_status_t cpu_buffer_wrap_host(xinhe_be_device_t device, void* pointer, uint64_t size,
                                    xinhe_be_buffer_t* out_buffer) {
  auto* buffer = new (std::nothrow) xinhe_be_buffer_s{pointer, size, false};
  if (buffer == nullptr) {
    return XINHE_BE_ERROR(host_of(device), OUT_OF_MEMORY, kBackendName, "xinhe_buffer_wrap_host",
                          "cannot allocate a buffer handle");
  }
  *out_buffer = buffer;
  return nullptr;
}

// ---- Streams -------------------------------------------------------------------------------

xinhe_status_t cpu_stream_create(xinhe_be_device_t device, xinhe_be_stream_t* out_stream) {
  const xinhe_host_api_t* host = host_of(device);
  try {
    auto stream = std::make_unique<xinhe_be_stream_s>();
    stream->device = device;
    stream->worker = std::thread(stream_worker_main, stream.get());
    *out_stream = stream.release();
    return nullptr;
  } catch (const std::bad_alloc&) {
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, "xinhe_stream_create", "cannot allocate a stream");
  } catch (const std::system_error& e) {
    const std::string message = std::string("cannot start the stream thread: ") + e.what();
    return XINHE_BE_ERROR(host, UNAVAILABLE, kBackendName, "xinhe_stream_create", "%s", message.c_str());
  }
}

void cpu_stream_destroy(xinhe_be_stream_t stream) {
  if (stream == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(stream->mutex);
    stream->stop = true;  // the worker drains the queue before it exits
  }
  stream->work_cv.notify_one();
  stream->worker.join();
  delete stream;
}

xinhe_status_t cpu_stream_synchronize(xinhe_be_stream_t stream) {
  wait_idle(stream);
  return nullptr;
}

xinhe_status_t cpu_stream_query(xinhe_be_stream_t stream, int* out_done) {
  std::lock_guard<std::mutex> lock(stream->mutex);
  *out_done = stream->completed == stream->submitted ? 1 : 0;
  return nullptr;
}

// ---- Copies and fill -----------------------------------------------------------------------

xinhe_status_t cpu_copy_host_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                       const void* src, uint64_t size) {
  char* d = host_pointer(dst);
  return enqueue(stream, "xinhe_copy_host_to_device", [d, src, size] { std::memcpy(d, src, static_cast<size_t>(size)); });
}

xinhe_status_t cpu_copy_device_to_host(xinhe_be_stream_t stream, void* dst, xinhe_be_mem_t src,
                                       uint64_t size) {
  const char* s = host_pointer(src);
  return enqueue(stream, "xinhe_copy_device_to_host", [dst, s, size] { std::memcpy(dst, s, static_cast<size_t>(size)); });
}

xinhe_status_t cpu_copy_device_to_device(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                         xinhe_be_mem_t src, uint64_t size) {
  char* d = host_pointer(dst);
  const char* s = host_pointer(src);
  // memmove: the core does not forbid overlapping ranges of one buffer here.
  return enqueue(stream, "xinhe_copy_device_to_device", [d, s, size] { std::memmove(d, s, static_cast<size_t>(size)); });
}

xinhe_status_t cpu_fill(xinhe_be_stream_t stream, xinhe_be_mem_t dst, uint64_t size,
                        const void* pattern, uint32_t pattern_size) {
  char* d = host_pointer(dst);
  uint32_t value = 0;
  std::memcpy(&value, pattern, pattern_size);  // captured now: pattern is borrowed
  return enqueue(stream, "xinhe_buffer_fill", [d, size, value, pattern_size] {
    if (pattern_size == 1) {
      std::memset(d, static_cast<int>(value & 0xffu), static_cast<size_t>(size));
      return;
    }
    // Replicate the pattern into one block, then copy the block: no per-element branching.
    alignas(64) unsigned char block[256];
    for (size_t i = 0; i < sizeof(block); i += pattern_size) std::memcpy(block + i, &value, pattern_size);
    uint64_t done = 0;
    for (; done + sizeof(block) <= size; done += sizeof(block)) std::memcpy(d + done, block, sizeof(block));
    std::memcpy(d + done, block, static_cast<size_t>(size - done));
  });
}

// ---- Events --------------------------------------------------------------------------------

xinhe_status_t cpu_event_create(xinhe_be_device_t device, xinhe_be_event_t* out_event) {
  try {
    *out_event = new xinhe_be_event_s{device, std::make_shared<EventState>()};
    return nullptr;
  } catch (const std::bad_alloc&) {
    return XINHE_BE_ERROR(host_of(device), OUT_OF_MEMORY, kBackendName, "xinhe_event_create",
                          "cannot allocate an event");
  }
}

void cpu_event_destroy(xinhe_be_event_t event) { delete event; }

xinhe_status_t cpu_event_record(xinhe_be_event_t event, xinhe_be_stream_t stream) {
  std::shared_ptr<EventState> state = event->state;
  std::shared_ptr<EventMarker> marker;
  try {
    marker = std::make_shared<EventMarker>();
  } catch (const std::bad_alloc&) {
    return XINHE_BE_ERROR(host_of(stream->device), OUT_OF_MEMORY, kBackendName,
                          "xinhe_event_record", "cannot allocate the event's marker");
  }
  // The marker becomes the event's latest before it is queued, so that a worker reaching it at
  // once cannot be overtaken by this call; a failed enqueue puts the previous one back.
  std::shared_ptr<EventMarker> previous;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    previous = std::exchange(state->latest, marker);
  }
  xinhe_status_t status = enqueue(stream, "xinhe_event_record", nullptr, [state, marker] {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      marker->done = true;
      marker->done_at = now;
    }
    state->cv.notify_all();
  });
  if (status != nullptr) {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->latest == marker) state->latest = std::move(previous);
  }
  return status;
}

xinhe_status_t cpu_stream_wait_event(xinhe_be_stream_t stream, xinhe_be_event_t event) {
  std::shared_ptr<EventState> state = event->state;
  std::shared_ptr<EventMarker> marker;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    marker = state->latest;
    if (marker == nullptr || marker->done) return nullptr;  // nothing to wait for
  }
  return enqueue(stream, "xinhe_stream_wait_event", [state, marker] {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->cv.wait(lock, [&] { return marker->done; });
  });
}

xinhe_status_t cpu_event_synchronize(xinhe_be_event_t event) {
  EventState& state = *event->state;
  std::unique_lock<std::mutex> lock(state.mutex);
  const std::shared_ptr<EventMarker> marker = state.latest;
  if (marker != nullptr) state.cv.wait(lock, [&] { return marker->done; });
  return nullptr;
}

xinhe_status_t cpu_event_query(xinhe_be_event_t event, int* out_done) {
  EventState& state = *event->state;
  std::lock_guard<std::mutex> lock(state.mutex);
  *out_done = state.latest == nullptr || state.latest->done ? 1 : 0;
  return nullptr;
}

// The core calls this with both events recorded and complete (their latest markers done).
xinhe_status_t cpu_event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  std::chrono::steady_clock::time_point t0, t1;
  {
    std::lock_guard<std::mutex> lock(start->state->mutex);
    if (start->state->latest) t0 = start->state->latest->done_at;
  }
  {
    std::lock_guard<std::mutex> lock(end->state->mutex);
    if (end->state->latest) t1 = end->state->latest->done_at;
  }
  *out_ms = std::chrono::duration<float, std::milli>(t1 - t0).count();
  return nullptr;
}

// ---- Ops -----------------------------------------------------------------------------------

// Copies a caller struct that may be older (smaller) than ours; missing fields stay zero.
template <typename Desc>
Desc copy_desc(const Desc* src) {
  Desc dst{};
  const size_t bytes = src->struct_size < sizeof(Desc) ? src->struct_size : sizeof(Desc);
  std::memcpy(&dst, src, bytes);
  dst.struct_size = sizeof(Desc);
  return dst;
}

// Why impl cannot run desc on this machine, or "": its own reason, or a workspace that does not
// fit in 64 bits (a valid description whose packed panels or per-thread rows overflow).
template <typename Impl, typename Desc>
std::string unsupported(const Impl& impl, const Desc& desc, int threads) {
  if (const char* why = impl.unsupported_reason(desc)) return why;
  if (impl.workspace_size(desc, threads) == xinhe::util::kSizeOverflow) {
    return "needs a workspace larger than 2^64 bytes";
  }
  return std::string();
}

// The API entry an op's status names: "xinhe_gemm_check", "xinhe_attention_create"...
const char* op_entry(int kind, const char* step) {
  const bool gemm = kind == XINHE_OP_GEMM;
  if (std::strcmp(step, "create") == 0) return gemm ? "xinhe_gemm_create" : "xinhe_attention_create";
  return gemm ? "xinhe_gemm_check" : "xinhe_attention_check";
}

xinhe_status_t cpu_op_create(xinhe_be_device_t device, const xinhe_be_op_desc_t* desc,
                             xinhe_be_op_t* out_op) {
  using xinhe::backend::DispatchRequest;
  using xinhe::backend::Selection;
  const xinhe_host_api_t* host = host_of(device);
  const int threads = device->backend->pool->threads();
  try {
    auto state = std::make_shared<OpState>();
    state->kind = desc->kind;
    if (desc->kind == XINHE_OP_GEMM) {
      state->gemm = copy_desc(desc->gemm);
      const auto& impls = xinhe::kernels::cpu::gemm_impls();
      const Selection chosen = xinhe::backend::select_impl(
          DispatchRequest(host, kBackendName, state->gemm), impls, [&](const GemmImpl& impl) {
            return unsupported(impl, state->gemm, threads);
          });
      if (chosen.selected()) {
        state->gemm_impl = &impls[static_cast<size_t>(chosen.index)];
        state->impl_name = chosen.name;
        state->workspace_bytes = state->gemm_impl->workspace_size(state->gemm, threads);
      } else {
        state->unsupported = chosen.unsupported;
      }
    } else if (desc->kind == XINHE_OP_ATTENTION) {
      state->attention = copy_desc(desc->attention);
      const auto& impls = xinhe::kernels::cpu::attention_impls();
      const Selection chosen = xinhe::backend::select_impl(
          DispatchRequest(host, kBackendName, state->attention), impls,
          [&](const AttentionImpl& impl) { return unsupported(impl, state->attention, threads); });
      if (chosen.selected()) {
        state->attention_impl = &impls[static_cast<size_t>(chosen.index)];
        state->impl_name = chosen.name;
        state->workspace_bytes = state->attention_impl->workspace_size(state->attention, threads);
      } else {
        state->unsupported = chosen.unsupported;
      }
    } else {
      return XINHE_BE_ERROR(host, INVALID_ARGUMENT, kBackendName, "op_create", "unknown op kind");
    }
    if (state->impl_name.empty()) state->impl_name = kBackendName;
    *out_op = new xinhe_be_op_s{device, std::move(state)};
    return nullptr;
  } catch (const std::bad_alloc&) {
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, kBackendName, op_entry(desc->kind, "create"),
                          "cannot allocate the op");
  }
}

void cpu_op_destroy(xinhe_be_op_t op) { delete op; }

xinhe_status_t cpu_op_check(xinhe_be_op_t op) {
  if (op->state->unsupported.empty()) return nullptr;
  return XINHE_BE_ERROR(host_of(op->device), UNIMPLEMENTED, kBackendName,
                        op_entry(op->state->kind, "check"), "%s", op->state->unsupported.c_str());
}

xinhe_status_t cpu_op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes) {
  *out_bytes = op->state->workspace_bytes;
  return nullptr;
}

const char* cpu_op_impl_name(xinhe_be_op_t op) { return op->state->impl_name.c_str(); }

xinhe_status_t cpu_op_run(xinhe_be_op_t op, xinhe_be_stream_t stream,
                          const xinhe_be_op_args_t* args) {
  std::shared_ptr<const OpState> state = op->state;
  ThreadPool* pool = op->device->backend->pool.get();
  if (!state->unsupported.empty()) return cpu_op_check(op);  // the core checks first; be safe
  if (state->kind == XINHE_OP_GEMM) {
    GemmProblem problem{};
    problem.desc = state->gemm;
    problem.alpha = args->alpha;
    problem.beta = args->beta;
    problem.a = host_pointer(args->mem[XINHE_GEMM_ARG_A]);
    problem.b = host_pointer(args->mem[XINHE_GEMM_ARG_B]);
    problem.c = host_pointer(args->mem[XINHE_GEMM_ARG_C]);
    problem.workspace = host_pointer(args->mem[XINHE_GEMM_ARG_WORKSPACE]);
    return enqueue(stream, "xinhe_gemm_run",
                   [state, problem, pool] { state->gemm_impl->run(problem, *pool); });
  }
  AttentionProblem problem{};
  problem.desc = state->attention;
  problem.q = host_pointer(args->mem[XINHE_ATTENTION_ARG_Q]);
  problem.k = host_pointer(args->mem[XINHE_ATTENTION_ARG_K]);
  problem.v = host_pointer(args->mem[XINHE_ATTENTION_ARG_V]);
  problem.o = host_pointer(args->mem[XINHE_ATTENTION_ARG_O]);
  problem.lse = state->attention.with_lse
                    ? reinterpret_cast<float*>(host_pointer(args->mem[XINHE_ATTENTION_ARG_LSE]))
                    : nullptr;
  problem.workspace = host_pointer(args->mem[XINHE_ATTENTION_ARG_WORKSPACE]);
  return enqueue(stream, "xinhe_attention_run",
                 [state, problem, pool] { state->attention_impl->run(problem, *pool); });
}

const xinhe_backend_api_t kCpuBackendApi = {
    sizeof(xinhe_backend_api_t),
    XINHE_BACKEND_ABI_MAJOR,
    XINHE_BACKEND_ABI_MINOR,
    kBackendName,
    cpu_backend_create,
    cpu_backend_destroy,
    cpu_device_count,
    cpu_device_open,
    cpu_device_close,
    cpu_device_properties,
    cpu_buffer_alloc,
    cpu_buffer_free,
    cpu_stream_create,
    cpu_stream_destroy,
    cpu_stream_synchronize,
    cpu_stream_query,
    cpu_copy_host_to_device,
    cpu_copy_device_to_host,
    cpu_copy_device_to_device,
    cpu_fill,
    cpu_event_create,
    cpu_event_destroy,
    cpu_event_record,
    cpu_stream_wait_event,
    cpu_event_synchronize,
    cpu_event_query,
    cpu_event_elapsed_ms,
    cpu_op_create,
    cpu_op_destroy,
    cpu_op_check,
    cpu_op_workspace_size,
    cpu_op_impl_name,
    cpu_op_run,
    cpu_buffer_host_pointer,
    cpu_buffer_wrap_host,
    cpu_buffer_address,
    nullptr,  // op_run_impl_name: the kernel is chosen at create only
};

}  // namespace

// Called by the core (built into libxinhe, so not an exported plugin symbol).
extern "C" const xinhe_backend_api_t* xinhe_cpu_backend_entry(uint32_t host_abi_major,
                                                              uint32_t host_abi_minor) {
  (void)host_abi_minor;  // minor versions only append; our table is valid for any of them
  return host_abi_major == XINHE_BACKEND_ABI_MAJOR ? &kCpuBackendApi : nullptr;
}
