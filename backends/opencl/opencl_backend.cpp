// The OpenCL backend: xinhe's plugin table over the ICD loader. Streams are in-order command
// queues, events are profiled markers, buffers are plain cl_mem objects (sub-ranges are
// passed to kernels as element offsets, so no sub-buffer alignment rules apply), ops are the
// implementation lists in opencl_gemm.cpp / opencl_attention.cpp.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "clblast_api.h"
#include "opencl_internal.h"
#include "status_util.h"

namespace xinhe::opencl {
namespace {

// submitted counts commands enqueued through this backend; completed is the largest count
// known to have finished (by a synchronize or a completed marker). They let a query right
// after a synchronize answer "done" without waiting for a fresh marker. last_marker is the
// newest marker on the queue (an event's record or a query's) with the count of commands
// before it: a query asks it again instead of queueing a fresh marker each time, which PoCL
// had not reached yet when asked at once, so an idle stream read "not done" query after query.
struct Stream {
  Device* device;
  cl_command_queue queue;
  std::atomic<uint64_t> submitted{0};
  std::atomic<uint64_t> completed{0};
  std::mutex marker_mutex;
  cl_event last_marker = nullptr;  // owned reference
  uint64_t last_marker_count = 0;

  uint64_t note_submitted() { return submitted.fetch_add(1, std::memory_order_acq_rel) + 1; }
  void note_completed(uint64_t count) {
    uint64_t seen = completed.load(std::memory_order_acquire);
    while (seen < count && !completed.compare_exchange_weak(seen, count)) {
    }
  }
};

struct Buffer {
  Device* device;
  cl_mem mem;
  uint64_t size;
};

// A marker event; re-recording replaces (and releases) the previous capture.
struct Event {
  Device* device;
  std::mutex mutex;
  cl_event event = nullptr;
};

struct OpHandle {
  std::unique_ptr<Op> op;
};

// cl_khr_icd's CL_PLATFORM_NOT_FOUND_KHR: what the ICD loader returns with no vendor ICD.
constexpr cl_int kPlatformNotFoundKhr = -1001;

Backend* as_backend(xinhe_be_backend_t b) { return reinterpret_cast<Backend*>(b); }
Stream* as_stream(xinhe_be_stream_t s) { return reinterpret_cast<Stream*>(s); }
Buffer* as_buffer(xinhe_be_buffer_t b) { return reinterpret_cast<Buffer*>(b); }
Event* as_event(xinhe_be_event_t e) { return reinterpret_cast<Event*>(e); }
OpHandle* as_op(xinhe_be_op_t o) { return reinterpret_cast<OpHandle*>(o); }

std::string device_string(const ClApi& cl, cl_device_id dev, cl_device_info param) {
  size_t size = 0;
  if (cl.clGetDeviceInfo(dev, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (cl.clGetDeviceInfo(dev, param, size, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string platform_string(const ClApi& cl, cl_platform_id p, cl_platform_info param) {
  size_t size = 0;
  if (cl.clGetPlatformInfo(p, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string s(size, '\0');
  if (cl.clGetPlatformInfo(p, param, size, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

template <typename T>
T device_value(const ClApi& cl, cl_device_id dev, cl_device_info param, T fallback = T{}) {
  T value{};
  return cl.clGetDeviceInfo(dev, param, sizeof(T), &value, nullptr) == CL_SUCCESS ? value
                                                                                  : fallback;
}

void copy_string(char* dst, size_t cap, const std::string& s) {
  std::strncpy(dst, s.c_str(), cap - 1);
  dst[cap - 1] = '\0';
}

// The alignment every cl_mem has: buffer addresses are chosen by the driver, which aligns them
// to CL_DEVICE_MEM_BASE_ADDR_ALIGN (at least one long16 on a full-profile device). That is all
// this backend can promise, so it is min_alignment and the most buffer_alloc accepts.
uint64_t guaranteed_alignment(const DeviceInfo& info) {
  uint64_t alignment = 1;
  while (alignment * 2 <= info.base_address_align_bytes) alignment *= 2;
  return alignment;
}

// ---- Backend and devices ----

// "OpenCL 1.1 <vendor text>" / "OpenCL C 1.1 <vendor text>" -> 101; 0 when unreadable.
int opencl_version_of(const std::string& text, const char* prefix) {
  const size_t n = std::strlen(prefix);
  if (text.compare(0, n, prefix) != 0) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(text.c_str() + n, "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

// The backend uses OpenCL 1.2 entry points on every stream (clEnqueueMarkerWithWaitList,
// clEnqueueBarrierWithWaitList, clEnqueueFillBuffer, absent from a 1.1 driver's dispatch
// table) and builds every program with -cl-std=CL1.2: "" when the device has both 1.2 APIs
// and OpenCL C 1.2, else why it is left out.
std::string below_opencl_1_2(const ClApi& cl, cl_device_id d) {
  const std::string version = device_string(cl, d, CL_DEVICE_VERSION);
  const std::string c_version = device_string(cl, d, CL_DEVICE_OPENCL_C_VERSION);
  if (opencl_version_of(version, "OpenCL ") < 102) {
    return "CL_DEVICE_VERSION '" + version + "' is below OpenCL 1.2, which this backend needs";
  }
  if (opencl_version_of(c_version, "OpenCL C ") < 102) {
    return "CL_DEVICE_OPENCL_C_VERSION '" + c_version +
           "' is below OpenCL C 1.2, which this backend's kernels are built for";
  }
  return "";
}

xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out) {
  auto* backend = new (std::nothrow) Backend();
  if (backend == nullptr)
    return XINHE_BE_ERROR(host, OUT_OF_MEMORY, "opencl", "backend_create", "out of host memory");
  backend->host = host;
  std::string reason;
  if (!cl_api_load("libOpenCL.so.1", &backend->cl, &reason)) {
    delete backend;
    return XINHE_BE_ERROR(host, UNAVAILABLE, "opencl", "dlopen", "%s", reason.c_str());
  }
  const ClApi& cl = backend->cl;
  cl_uint platform_count = 0;
  cl_int err = cl.clGetPlatformIDs(0, nullptr, &platform_count);
  if (err == kPlatformNotFoundKhr || (err == CL_SUCCESS && platform_count == 0)) {
    delete backend;
    return XINHE_BE_ERROR(host, UNAVAILABLE, "opencl", "clGetPlatformIDs", "no OpenCL platform");
  }
  if (err != CL_SUCCESS) {
    xinhe_status_t st = XINHE_CL_ERROR(err, "clGetPlatformIDs", "").to_status(host);
    delete backend;
    return st;
  }
  std::vector<cl_platform_id> platforms(platform_count);
  err = cl.clGetPlatformIDs(platform_count, platforms.data(), nullptr);
  if (err != CL_SUCCESS) {
    xinhe_status_t st = XINHE_CL_ERROR(err, "clGetPlatformIDs", "").to_status(host);
    delete backend;
    return st;
  }
  std::string skipped;  // devices left out, with the reason
  for (cl_platform_id p : platforms) {
    cl_uint n = 0;
    // A platform without devices answers CL_DEVICE_NOT_FOUND: skip it, keep the others.
    if (cl.clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n) != CL_SUCCESS || n == 0) continue;
    std::vector<cl_device_id> ids(n);
    if (cl.clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_device_id d : ids) {
      const std::string why = below_opencl_1_2(cl, d);
      if (why.empty()) {
        backend->slots.push_back({p, d});
        continue;
      }
      const std::string line =
          "device '" + device_string(cl, d, CL_DEVICE_NAME) + "' skipped: " + why;
      if (host->verbose_enabled("load")) host->log("load", "opencl", line.c_str());
      skipped += (skipped.empty() ? "" : "; ") + line;
    }
  }
  if (backend->slots.empty()) {
    delete backend;
    if (!skipped.empty()) {
      return XINHE_BE_ERROR(host, UNAVAILABLE, "opencl", "clGetDeviceIDs", "%s", skipped.c_str());
    }
    return XINHE_BE_ERROR(host, UNAVAILABLE, "opencl", "clGetDeviceIDs",
                          "no OpenCL device on any platform");
  }
  backend->cache_dir = default_cache_dir();

  // Tuning database: XINHE_TUNING_DB when set, else the shipped one. Never fatal.
  std::string db_error;
  const char* db_path = std::getenv("XINHE_TUNING_DB");
  const bool db_ok = (db_path && *db_path)
                         ? backend->tuning_db.load_file(db_path, &db_error)
                         : backend->tuning_db.parse(shipped_tuning_db_text(), &db_error);
  if (!db_ok && host->verbose_enabled("dispatch")) {
    const std::string msg = "tuning database unusable (" + db_error + "); using safe defaults";
    host->log("dispatch", "opencl", msg.c_str());
  }
  *out = reinterpret_cast<xinhe_be_backend_t>(backend);
  return nullptr;
}

void backend_destroy(xinhe_be_backend_t b) { delete as_backend(b); }

xinhe_status_t device_count(xinhe_be_backend_t b, uint32_t* out) {
  *out = static_cast<uint32_t>(as_backend(b)->slots.size());
  return nullptr;
}

DeviceInfo query_device_info(const ClApi& cl, cl_platform_id p, cl_device_id d) {
  DeviceInfo info;
  info.name = device_string(cl, d, CL_DEVICE_NAME);
  info.vendor = device_string(cl, d, CL_DEVICE_VENDOR);
  info.driver_version = device_string(cl, d, CL_DRIVER_VERSION);
  info.platform_version = platform_string(cl, p, CL_PLATFORM_VERSION);
  info.platform_name = platform_string(cl, p, CL_PLATFORM_NAME);
  info.type = device_value<cl_device_type>(cl, d, CL_DEVICE_TYPE);
  // CPU devices get the barrier-free, packed kernels; integrated GPUs (host-unified memory)
  // still want the GPU-style local-memory tiles.
  info.cpu_like = (info.type & CL_DEVICE_TYPE_CPU) != 0;
  const std::string extensions = device_string(cl, d, CL_DEVICE_EXTENSIONS);
  info.fp16 = extensions.find("cl_khr_fp16") != std::string::npos;
  info.fp64 = extensions.find("cl_khr_fp64") != std::string::npos ||
              device_value<cl_device_fp_config>(cl, d, CL_DEVICE_DOUBLE_FP_CONFIG) != 0;
  info.max_work_group_size = device_value<size_t>(cl, d, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1);
  // One entry per dimension: at least 3 (OpenCL 1.2), more on some custom devices, whose
  // query with a 3-entry array fails.
  const cl_uint dims = device_value<cl_uint>(cl, d, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, 3);
  std::vector<size_t> item_sizes(dims < 3 ? 3 : dims, 0);
  if (cl.clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, item_sizes.size() * sizeof(size_t),
                         item_sizes.data(), nullptr) == CL_SUCCESS) {
    for (int i = 0; i < 3; ++i) info.max_work_item_sizes[i] = item_sizes[i];
  }
  info.global_memory = device_value<cl_ulong>(cl, d, CL_DEVICE_GLOBAL_MEM_SIZE);
  info.local_memory = device_value<cl_ulong>(cl, d, CL_DEVICE_LOCAL_MEM_SIZE);
  info.max_alloc = device_value<cl_ulong>(cl, d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  info.compute_units = device_value<cl_uint>(cl, d, CL_DEVICE_MAX_COMPUTE_UNITS);
  info.base_address_align_bytes = device_value<cl_uint>(cl, d, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8;
  return info;
}

xinhe_status_t device_open(xinhe_be_backend_t b, uint32_t index, xinhe_be_device_t* out) {
  Backend* backend = as_backend(b);
  const ClApi& cl = backend->cl;
  const Backend::DeviceSlot slot = backend->slots.at(index);
  cl_int err = CL_SUCCESS;
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                         reinterpret_cast<cl_context_properties>(slot.platform), 0};
  cl_context context = cl.clCreateContext(props, 1, &slot.device, nullptr, nullptr, &err);
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS(backend->host, err, "clCreateContext"));
  auto* device = new (std::nothrow) Device();
  if (device == nullptr) {
    cl.clReleaseContext(context);
    return XINHE_BE_ERROR(backend->host, OUT_OF_MEMORY, "opencl", "device_open",
                          "out of host memory");
  }
  device->backend = backend;
  device->platform = slot.platform;
  device->id = slot.device;
  device->context = context;
  device->info = query_device_info(cl, slot.platform, slot.device);
  device->programs = std::make_unique<ProgramCache>(
      &backend->cl, backend->host, context, slot.device,
      device->info.name + "\n" + device->info.driver_version + "\n" + device->info.platform_version,
      backend->cache_dir);
  *out = reinterpret_cast<xinhe_be_device_t>(device);
  return nullptr;
}

void device_close(xinhe_be_device_t d) {
  Device* device = to_device(d);
  if (device == nullptr) return;
  device->programs.reset();  // releases programs before their context
  device->cl().clReleaseContext(device->context);
  delete device;
}

// What CL_DEVICE_TYPE says, as a xinhe device type: PoCL's CPU device is a CPU.
uint32_t device_type_of(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_CPU) return XINHE_DEVICE_TYPE_CPU;
  if (type & CL_DEVICE_TYPE_GPU) return XINHE_DEVICE_TYPE_GPU;
  if (type & (CL_DEVICE_TYPE_ACCELERATOR | CL_DEVICE_TYPE_CUSTOM)) {
    return XINHE_DEVICE_TYPE_ACCELERATOR;
  }
  return XINHE_DEVICE_TYPE_UNKNOWN;
}

xinhe_status_t device_properties(xinhe_be_device_t d, xinhe_device_properties_t* out) {
  const Device* device = to_device(d);
  const DeviceInfo& info = device->info;
  copy_string(out->description, sizeof(out->description), info.name);
  copy_string(out->vendor, sizeof(out->vendor), info.vendor);
  copy_string(out->driver_version, sizeof(out->driver_version),
              info.platform_name + " " + info.platform_version + ", driver " + info.driver_version);
  out->total_memory = info.global_memory;
  out->free_memory = 0;  // OpenCL has no portable query
  out->compute_units = info.compute_units;
  out->flags = XINHE_DEVICE_FLAG_TIMING;  // every queue is created with profiling
  const cl_bool unified =
      device_value<cl_bool>(device->cl(), device->id, CL_DEVICE_HOST_UNIFIED_MEMORY);
  if (unified || (info.type & CL_DEVICE_TYPE_CPU)) out->flags |= XINHE_DEVICE_FLAG_HOST_MEMORY;
  if (info.fp64) out->flags |= XINHE_DEVICE_FLAG_FP64;
  // f16 goes through vload_half/vstore_half and bf16 through 16-bit words, so every op runs
  // all three dtypes whether or not the device has cl_khr_fp16.
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16) |
                    XINHE_DTYPE_CAP(XINHE_DTYPE_BF16);
  out->min_alignment = guaranteed_alignment(info);
  for (double& f : out->peak_flops) f = 0.0;
  out->memory_bandwidth = 0.0;
  if (XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type)) {
    out->device_type = device_type_of(info.type);
  }
  return nullptr;
}

// ---- Memory ----

xinhe_status_t buffer_alloc(xinhe_be_device_t d, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out) {
  // cl_mem objects are opaque and placed by the driver (see guaranteed_alignment): a larger
  // alignment cannot be honoured, so it is refused rather than silently ignored (runtime.h).
  Device* device = to_device(d);
  const DeviceInfo& info = device->info;
  if (alignment > guaranteed_alignment(info))
    return XINHE_BE_ERROR(device->host(), UNIMPLEMENTED, "opencl", "buffer_alloc",
                          "alignment %llu cannot be honoured: OpenCL places buffers itself and "
                          "guarantees %llu bytes (CL_DEVICE_MEM_BASE_ADDR_ALIGN)",
                          static_cast<unsigned long long>(alignment),
                          static_cast<unsigned long long>(guaranteed_alignment(info)));
  if (info.max_alloc != 0 && size > info.max_alloc)
    return XINHE_BE_ERROR(device->host(), OUT_OF_MEMORY, "opencl", "clCreateBuffer",
                          "size %llu exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE %llu",
                          static_cast<unsigned long long>(size),
                          static_cast<unsigned long long>(info.max_alloc));
  cl_int err = CL_SUCCESS;
  cl_mem mem = device->cl().clCreateBuffer(device->context, CL_MEM_READ_WRITE,
                                           static_cast<size_t>(size), nullptr, &err);
  XINHE_BE_RETURN_IF_ERROR(
      XINHE_CL_STATUS_AT(device->host(), err, "clCreateBuffer", ClSite::kAllocate));
  auto* buffer = new (std::nothrow) Buffer{device, mem, size};
  if (buffer == nullptr) {
    device->cl().clReleaseMemObject(mem);
    return XINHE_BE_ERROR(device->host(), OUT_OF_MEMORY, "opencl", "buffer_alloc",
                          "out of host memory");
  }
  *out = reinterpret_cast<xinhe_be_buffer_t>(buffer);
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t b) {
  Buffer* buffer = as_buffer(b);
  if (buffer == nullptr) return;
  buffer->device->cl().clReleaseMemObject(buffer->mem);
  delete buffer;
}

// ---- Streams ----

xinhe_status_t stream_create(xinhe_be_device_t d, xinhe_be_stream_t* out) {
  Device* device = to_device(d);
  cl_int err = CL_SUCCESS;
  cl_command_queue q = device->cl().clCreateCommandQueue(device->context, device->id,
                                                         CL_QUEUE_PROFILING_ENABLE, &err);
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS(device->host(), err, "clCreateCommandQueue"));
  auto* stream = new (std::nothrow) Stream();
  if (stream == nullptr) {
    device->cl().clReleaseCommandQueue(q);
    return XINHE_BE_ERROR(device->host(), OUT_OF_MEMORY, "opencl", "stream_create",
                          "out of host memory");
  }
  stream->device = device;
  stream->queue = q;
  *out = reinterpret_cast<xinhe_be_stream_t>(stream);
  return nullptr;
}

void stream_destroy(xinhe_be_stream_t s) {
  Stream* stream = as_stream(s);
  if (stream == nullptr) return;
  stream->device->cl().clFinish(stream->queue);
  if (stream->last_marker != nullptr) stream->device->cl().clReleaseEvent(stream->last_marker);
  stream->device->cl().clReleaseCommandQueue(stream->queue);
  delete stream;
}

xinhe_status_t stream_synchronize(xinhe_be_stream_t s) {
  Stream* stream = as_stream(s);
  const uint64_t target = stream->submitted.load(std::memory_order_acquire);
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(stream->device->host(),
                                              stream->device->cl().clFinish(stream->queue),
                                              "clFinish", ClSite::kWait));
  stream->note_completed(target);
  return nullptr;
}

xinhe_status_t event_status(const Device* device, cl_event ev, int* out_done) {
  cl_int state = CL_COMPLETE;
  XINHE_BE_RETURN_IF_ERROR(
      XINHE_CL_STATUS_AT(device->host(),
                         device->cl().clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS,
                                                     sizeof(state), &state, nullptr),
                         "clGetEventInfo", ClSite::kWait));
  if (state < 0)
    return XINHE_BE_ERROR(device->host(), DEVICE_LOST, "opencl", "clGetEventInfo",
                          "a command failed on the device: %s", cl_error_name(state).c_str());
  *out_done = state == CL_COMPLETE ? 1 : 0;
  return nullptr;
}

xinhe_status_t stream_query(xinhe_be_stream_t s, int* out_done) {
  Stream* stream = as_stream(s);
  const uint64_t target = stream->submitted.load(std::memory_order_acquire);
  if (stream->completed.load(std::memory_order_acquire) >= target) {
    *out_done = 1;
    return nullptr;
  }
  const ClApi& cl = stream->device->cl();
  std::lock_guard<std::mutex> lock(stream->marker_mutex);
  if (stream->last_marker == nullptr || stream->last_marker_count < target) {
    cl_event marker = nullptr;
    XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
        stream->device->host(), cl.clEnqueueMarkerWithWaitList(stream->queue, 0, nullptr, &marker),
        "clEnqueueMarkerWithWaitList", ClSite::kAllocate));
    cl.clFlush(stream->queue);  // make sure the queue progresses without a synchronize
    if (stream->last_marker != nullptr) cl.clReleaseEvent(stream->last_marker);
    stream->last_marker = marker;
    stream->last_marker_count = target;
  }
  xinhe_status_t st = event_status(stream->device, stream->last_marker, out_done);
  if (st == nullptr && *out_done) stream->note_completed(stream->last_marker_count);
  return st;
}

// ---- Copies ----

xinhe_status_t copy_host_to_device(xinhe_be_stream_t s, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  Stream* stream = as_stream(s);
  // Non-blocking: the API contract keeps src valid until the stream reaches this copy.
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
      stream->device->host(),
      stream->device->cl().clEnqueueWriteBuffer(stream->queue, as_buffer(dst.buffer)->mem, CL_FALSE,
                                                dst.offset, size, src, 0, nullptr, nullptr),
      "clEnqueueWriteBuffer", ClSite::kAllocate));
  stream->note_submitted();
  return nullptr;
}

xinhe_status_t copy_device_to_host(xinhe_be_stream_t s, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  Stream* stream = as_stream(s);
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
      stream->device->host(),
      stream->device->cl().clEnqueueReadBuffer(stream->queue, as_buffer(src.buffer)->mem, CL_FALSE,
                                               src.offset, size, dst, 0, nullptr, nullptr),
      "clEnqueueReadBuffer", ClSite::kAllocate));
  stream->note_submitted();
  return nullptr;
}

xinhe_status_t copy_device_to_device(xinhe_be_stream_t s, xinhe_be_mem_t dst, xinhe_be_mem_t src,
                                     uint64_t size) {
  Stream* stream = as_stream(s);
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
      stream->device->host(),
      stream->device->cl().clEnqueueCopyBuffer(stream->queue, as_buffer(src.buffer)->mem,
                                               as_buffer(dst.buffer)->mem, src.offset, dst.offset,
                                               size, 0, nullptr, nullptr),
      "clEnqueueCopyBuffer", ClSite::kAllocate));
  stream->note_submitted();
  return nullptr;
}

xinhe_status_t fill(xinhe_be_stream_t s, xinhe_be_mem_t dst, uint64_t size, const void* pattern,
                    uint32_t pattern_size) {
  Stream* stream = as_stream(s);
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
      stream->device->host(),
      stream->device->cl().clEnqueueFillBuffer(stream->queue, as_buffer(dst.buffer)->mem, pattern,
                                               pattern_size, dst.offset, size, 0, nullptr, nullptr),
      "clEnqueueFillBuffer", ClSite::kAllocate));
  stream->note_submitted();
  return nullptr;
}

// ---- Events ----

xinhe_status_t event_create(xinhe_be_device_t d, xinhe_be_event_t* out) {
  auto* event = new (std::nothrow) Event();
  if (event == nullptr)
    return XINHE_BE_ERROR(to_device(d)->host(), OUT_OF_MEMORY, "opencl", "event_create",
                          "out of host memory");
  event->device = to_device(d);
  *out = reinterpret_cast<xinhe_be_event_t>(event);
  return nullptr;
}

void event_destroy(xinhe_be_event_t e) {
  Event* event = as_event(e);
  if (event == nullptr) return;
  if (event->event != nullptr) event->device->cl().clReleaseEvent(event->event);
  delete event;
}

xinhe_status_t event_record(xinhe_be_event_t e, xinhe_be_stream_t s) {
  Event* event = as_event(e);
  Stream* stream = as_stream(s);
  const ClApi& cl = stream->device->cl();
  // The commands counted before the marker is queued are all before it on the queue (each is
  // counted after it is queued). Counting after queueing it instead took in a command another
  // thread queued behind the marker but counted first, and a query trusting the marker then
  // said "done" with that command still running. The marker itself is not counted: it is no
  // work, and a query can then reuse it while nothing new is queued.
  const uint64_t count = stream->submitted.load(std::memory_order_acquire);
  cl_event marker = nullptr;
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
      stream->device->host(), cl.clEnqueueMarkerWithWaitList(stream->queue, 0, nullptr, &marker),
      "clEnqueueMarkerWithWaitList", ClSite::kAllocate));
  cl.clFlush(stream->queue);  // a recorded event must complete without the recorder syncing
  if (cl.clRetainEvent(marker) == CL_SUCCESS) {  // else queries queue markers of their own
    std::lock_guard<std::mutex> lock(stream->marker_mutex);
    if (stream->last_marker != nullptr) cl.clReleaseEvent(stream->last_marker);
    stream->last_marker = marker;
    stream->last_marker_count = count;
  }
  std::lock_guard<std::mutex> lock(event->mutex);
  if (event->event != nullptr) cl.clReleaseEvent(event->event);
  event->event = marker;
  return nullptr;
}

// The current capture, retained so a concurrent re-record cannot release it under us; the
// holder releases it. Empty when never recorded.
class EventRef {
 public:
  explicit EventRef(Event* event) : event_(event) {
    std::lock_guard<std::mutex> lock(event->mutex);
    ev_ = event->event;
    if (ev_ != nullptr) event->device->cl().clRetainEvent(ev_);
  }
  ~EventRef() {
    if (ev_ != nullptr) event_->device->cl().clReleaseEvent(ev_);
  }
  EventRef(const EventRef&) = delete;
  EventRef& operator=(const EventRef&) = delete;
  cl_event get() const { return ev_; }

 private:
  Event* event_;
  cl_event ev_;
};

xinhe_status_t stream_wait_event(xinhe_be_stream_t s, xinhe_be_event_t e) {
  Stream* stream = as_stream(s);
  EventRef ref(as_event(e));
  cl_event ev = ref.get();
  if (ev == nullptr) return nullptr;  // never recorded: already complete
  XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS_AT(
      stream->device->host(),
      stream->device->cl().clEnqueueBarrierWithWaitList(stream->queue, 1, &ev, nullptr),
      "clEnqueueBarrierWithWaitList", ClSite::kAllocate));
  stream->note_submitted();
  return nullptr;
}

xinhe_status_t event_synchronize(xinhe_be_event_t e) {
  Event* event = as_event(e);
  EventRef ref(event);
  cl_event ev = ref.get();
  if (ev == nullptr) return nullptr;
  const cl_int err = event->device->cl().clWaitForEvents(1, &ev);
  if (err == CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    return XINHE_BE_ERROR(event->device->host(), DEVICE_LOST, "opencl", "clWaitForEvents",
                          "a command before the event failed on the device");
  XINHE_BE_RETURN_IF_ERROR(
      XINHE_CL_STATUS_AT(event->device->host(), err, "clWaitForEvents", ClSite::kWait));
  return nullptr;
}

xinhe_status_t event_query(xinhe_be_event_t e, int* out_done) {
  Event* event = as_event(e);
  EventRef ref(event);
  cl_event ev = ref.get();
  if (ev == nullptr) {
    *out_done = 1;
    return nullptr;
  }
  return event_status(event->device, ev, out_done);
}

xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  Event* a = as_event(start);
  Event* b = as_event(end);
  const ClApi& cl = a->device->cl();
  cl_ulong t[2] = {0, 0};
  EventRef ref_a(a), ref_b(b);
  const cl_event events[2] = {ref_a.get(), ref_b.get()};
  for (int i = 0; i < 2; ++i) {
    const cl_int err = cl.clGetEventProfilingInfo(events[i], CL_PROFILING_COMMAND_END, sizeof(t[i]),
                                                  &t[i], nullptr);
    // OpenCL 1.2 times markers, but older drivers (AMD APP, early Intel) have no timestamps
    // for them: the device cannot time events, which runtime.h calls UNIMPLEMENTED.
    if (err == CL_PROFILING_INFO_NOT_AVAILABLE)
      return XINHE_BE_ERROR(a->device->host(), UNIMPLEMENTED, "opencl", "clGetEventProfilingInfo",
                            "the driver has no timestamps for marker events "
                            "(CL_PROFILING_INFO_NOT_AVAILABLE): events cannot be timed");
    XINHE_BE_RETURN_IF_ERROR(XINHE_CL_STATUS(a->device->host(), err, "clGetEventProfilingInfo"));
  }
  *out_ms = static_cast<float>((static_cast<double>(t[1]) - static_cast<double>(t[0])) * 1e-6);
  return nullptr;
}

// ---- Ops ----

xinhe_status_t op_create(xinhe_be_device_t d, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out) {
  std::unique_ptr<Op> op;
  if (xinhe_status_t st = create_op(to_device(d), *desc, OpOverrides{}, &op)) return st;
  *out = reinterpret_cast<xinhe_be_op_t>(new OpHandle{std::move(op)});
  return nullptr;
}

void op_destroy(xinhe_be_op_t o) { delete as_op(o); }

xinhe_status_t op_check(xinhe_be_op_t o) { return as_op(o)->op->check(); }

xinhe_status_t op_workspace_size(xinhe_be_op_t o, uint64_t* out_bytes) {
  *out_bytes = as_op(o)->op->workspace_size();
  return nullptr;
}

const char* op_impl_name(xinhe_be_op_t o) { return as_op(o)->op->impl_name(); }

const char* op_run_impl_name(xinhe_be_op_t o, const xinhe_be_op_args_t* args) {
  return as_op(o)->op->run_impl_name(*args);
}

xinhe_status_t op_run(xinhe_be_op_t o, xinhe_be_stream_t s, const xinhe_be_op_args_t* args) {
  Stream* stream = as_stream(s);
  // Counted even on failure: part of a multi-kernel op may already be queued.
  xinhe_status_t st = as_op(o)->op->run(stream->queue, *args);
  stream->note_submitted();
  return st;
}

const xinhe_backend_api_t kApi = {
    sizeof(xinhe_backend_api_t), XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR, "opencl",
    backend_create, backend_destroy, device_count, device_open, device_close, device_properties,
    buffer_alloc, buffer_free, stream_create, stream_destroy, stream_synchronize, stream_query,
    copy_host_to_device, copy_device_to_host, copy_device_to_device, fill, event_create,
    event_destroy, event_record, stream_wait_event, event_synchronize, event_query,
    event_elapsed_ms, op_create, op_destroy, op_check, op_workspace_size, op_impl_name, op_run,
    // Host access: cl_mem objects are opaque, and a mapped pointer is not coherent with
    // queued kernels, so this backend offers none (callers copy).
    nullptr, nullptr,
    nullptr,  // buffer_address: cl_mem objects have no address the host can see
    op_run_impl_name,  // CLBlast's GEMM hands alpha == 0 and k == 0 runs to the reference
};

}  // namespace

Backend::~Backend() {
  clblast.reset();
  cl_api_unload(&cl);
}

cl_mem buffer_mem(xinhe_be_buffer_t buffer) {
  return buffer == nullptr ? nullptr : as_buffer(buffer)->mem;
}
cl_command_queue stream_queue(xinhe_be_stream_t stream) { return as_stream(stream)->queue; }

const xinhe_backend_api_t* backend_api() { return &kApi; }

}  // namespace xinhe::opencl
