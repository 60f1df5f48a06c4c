// xinhe._core: the Python binding of the C API (nanobind). Devices, streams, events, buffers,
// typed arrays on buffers with DLPack export, DLPack import (zero-copy where the device's
// memory is host memory, a copy otherwise), and the GEMM and attention ops with their
// describe -> check -> workspace -> run shape. The one-call forms and the numpy/torch glue are
// Python (xinhe/__init__.py) on top of this.
//
// Errors: every failing C call raises xinhe.Error carrying code, backend, call and message.
// Lifetimes: arrays and exported DLPack capsules hold a shared reference to their buffer, and
// a buffer wrapped over foreign host memory holds the foreign owner, so nothing dangles
// whichever side is released first. Work queued on a stream (op runs, copies, fills, event
// waits) is asynchronous, so the stream holds what it uses until that work is known done: its
// synchronize or a query that finds it idle, the synchronize or query of an event recorded
// after it, or the stream's destruction, which waits for it first.
#include <cxxabi.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "xinhe/xinhe.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// ---- Errors ------------------------------------------------------------------------------------

struct StatusError {
  xinhe_status_code_t code;
  std::string backend, call, message;
};

// Takes ownership of status; throws StatusError when it is an error.
void check(xinhe_status_t status) {
  if (status == nullptr) return;
  StatusError error{xinhe_status_code(status), xinhe_status_backend(status),
                    xinhe_status_call(status), xinhe_status_message(status)};
  xinhe_status_free(status);
  throw error;
}

[[noreturn]] void fail(xinhe_status_code_t code, const std::string& message) {
  throw StatusError{code, "", "", message};
}

PyObject* g_error_type = nullptr;  // xinhe.Error, created at module init

std::string status_text(const StatusError& e) {
  std::string text = xinhe_status_code_name(e.code);
  if (!e.backend.empty()) text += " [" + e.backend + "]";
  if (!e.call.empty()) text += " in " + e.call;
  return text + ": " + e.message;
}

void raise_status(const StatusError& e) {
  const std::string text = status_text(e);
  nb::object type = nb::borrow(g_error_type);
  nb::object error = type(nb::str(text.c_str()));
  error.attr("code") = nb::cast(e.code);
  error.attr("backend") = nb::str(e.backend.c_str());
  error.attr("call") = nb::str(e.call.c_str());
  error.attr("message") = nb::str(e.message.c_str());
  PyErr_SetObject(g_error_type, error.ptr());
}

// ---- The GIL around blocking calls ----------------------------------------------------------

[[noreturn]] void park_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

// Releases the GIL for a blocking C call, as nb::gil_scoped_release does, except at exit.
// CPython (before 3.14) ends a daemon thread that waits for the GIL once the interpreter is
// finalizing with pthread_exit, whose forced unwind through a destructor (noexcept) called
// std::terminate and aborted the exiting process. Here that unwind is caught and the thread
// parked for good instead, which is what CPython 3.14 does itself; process exit ends it. Only
// a thread CPython was ending anyway is parked: no flag of ours decides it, so atexit handlers
// that join such a thread, and sub-interpreters, are unaffected.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  ~GilRelease() {
    try {
      PyEval_RestoreThread(state_);
    } catch (abi::__forced_unwind&) {
      park_forever();  // never leaves the handler, so the unwind is neither rethrown nor fatal
    }
  }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

// ---- dtypes ------------------------------------------------------------------------------------

size_t dtype_size(xinhe_dtype_t dtype) {
  const size_t size = xinhe_dtype_size(dtype);
  if (size == 0) fail(XINHE_STATUS_INVALID_ARGUMENT, "unknown dtype");
  return size;
}

nb::dlpack::dtype to_dlpack(xinhe_dtype_t dtype) {
  nb::dlpack::dtype d{};
  d.lanes = 1;
  switch (dtype) {
    case XINHE_DTYPE_F32:
      d.code = uint8_t(nb::dlpack::dtype_code::Float), d.bits = 32;
      break;
    case XINHE_DTYPE_F16:
      d.code = uint8_t(nb::dlpack::dtype_code::Float), d.bits = 16;
      break;
    case XINHE_DTYPE_BF16:
      d.code = uint8_t(nb::dlpack::dtype_code::Bfloat), d.bits = 16;
      break;
    case XINHE_DTYPE_F64:
      d.code = uint8_t(nb::dlpack::dtype_code::Float), d.bits = 64;
      break;
    default:
      fail(XINHE_STATUS_INVALID_ARGUMENT, "unknown dtype");
  }
  return d;
}

xinhe_dtype_t from_dlpack(nb::dlpack::dtype d) {
  if (d.lanes == 1) {
    if (d.code == uint8_t(nb::dlpack::dtype_code::Float)) {
      if (d.bits == 32) return XINHE_DTYPE_F32;
      if (d.bits == 16) return XINHE_DTYPE_F16;
      if (d.bits == 64) return XINHE_DTYPE_F64;
    }
    if (d.code == uint8_t(nb::dlpack::dtype_code::Bfloat) && d.bits == 16) return XINHE_DTYPE_BF16;
  }
  static const char* const kinds[] = {"int",    "uint",    "float", "opaque",
                                      "bfloat", "complex", "bool"};
  std::string name = d.code < 7 ? kinds[d.code] + std::to_string(d.bits)
                                : "DLPack dtype code " + std::to_string(d.code) + " with " +
                                      std::to_string(d.bits) + " bits";
  if (d.lanes != 1) name += "x" + std::to_string(d.lanes);
  fail(XINHE_STATUS_INVALID_ARGUMENT, "xinhe arrays hold f32, f16, bf16 or f64; got " + name);
}

// ---- Handles -----------------------------------------------------------------------------------

struct Device {
  xinhe_device_t handle = nullptr;
  size_t index = 0;  // position in xinhe.devices()
  std::string name() const { return xinhe_device_name(handle); }
  xinhe_device_properties_t properties() const {
    xinhe_device_properties_t p;
    std::memset(&p, 0, sizeof(p));
    p.struct_size = sizeof(p);
    check(xinhe_device_properties(handle, &p));
    return p;
  }
  bool host_memory() const { return (properties().flags & XINHE_DEVICE_FLAG_HOST_MEMORY) != 0; }
};

std::vector<Device> all_devices() {
  size_t count = 0;
  check(xinhe_device_count(&count));
  std::vector<Device> out;
  for (size_t i = 0; i < count; ++i) {
    xinhe_device_t d = nullptr;
    check(xinhe_device_get(i, &d));
    out.push_back(Device{d, i});
  }
  return out;
}

Device wrap_device(xinhe_device_t handle) {
  for (const Device& d : all_devices()) {
    if (d.handle == handle) return d;
  }
  fail(XINHE_STATUS_INTERNAL, "device is not in the registry");
}

// Whether the interpreter is being finalized (Py_FinalizeEx has begun; Py_IsInitialized()
// is already 0 then, while Python objects still exist).
bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// A buffer and, for one wrapped over foreign host memory, the object that owns that memory.
struct Buffer {
  xinhe_buffer_t handle = nullptr;
  nb::object owner;  // keeps wrapped foreign memory alive; None otherwise
  Buffer(xinhe_buffer_t h, nb::object o) : handle(h), owner(std::move(o)) {}
  ~Buffer() {
    xinhe_buffer_free(handle);
    if (!owner.is_valid()) return;
    // DLPack consumers may free us without the GIL (torch releases it around the deleter),
    // also while the interpreter finalizes: the owner is dropped with the GIL held, or leaked.
    if (Py_IsInitialized() && !interpreter_finalizing()) {
      nb::gil_scoped_acquire acquire;  // a no-op where this thread holds it already
      owner.reset();
    } else {
      // Finalizing (taking the GIL now would end a non-main thread, and PyGILState_Check
      // cannot tell whether this thread holds it then), or the interpreter is gone: the
      // reference is leaked, never decref'd without the GIL. The process is exiting.
      (void)owner.release();
    }
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint64_t size() const { return xinhe_buffer_size(handle); }
  Device device() const { return wrap_device(xinhe_buffer_device(handle)); }
  // The host address, or NULL when the device's buffers are not host-addressable.
  void* host_pointer_or_null() const {
    void* pointer = nullptr;
    xinhe_status_t status = xinhe_buffer_host_pointer(handle, &pointer);
    if (status != nullptr) {
      xinhe_status_free(status);
      return nullptr;
    }
    return pointer;
  }
};
using BufferPtr = std::shared_ptr<Buffer>;

BufferPtr alloc_buffer(const Device& device, uint64_t size, uint64_t alignment) {
  xinhe_buffer_t h = nullptr;
  check(xinhe_buffer_alloc(device.handle, size, alignment, &h));
  return std::make_shared<Buffer>(h, nb::none());
}

std::string dims(const std::vector<int64_t>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

// ---- Streams and events ------------------------------------------------------------------------

// What queued work on one stream uses, in submission order: the buffers of its operands and
// the events it waits on. Only touched with the GIL held.
struct Holds {
  struct Held {
    uint64_t seq;
    BufferPtr buffer;
    nb::object object;
  };
  std::deque<Held> items;
  uint64_t next = 0;  // seq of the next item

  // Drops what was held before seq (all by default). The releases run after the deque is
  // consistent: a buffer's owner may run Python code that queues more work on this stream.
  void release_before(uint64_t seq = UINT64_MAX) {
    std::vector<Held> done;
    while (!items.empty() && items.front().seq < seq) {
      done.push_back(std::move(items.front()));
      items.pop_front();
    }
  }
};

struct Stream {
  xinhe_stream_t handle = nullptr;
  std::shared_ptr<Holds> holds = std::make_shared<Holds>();  // events keep a weak reference
  // Events marking the work queued so far every kCheckpointEvery holds, with the hold seq they
  // cover, so a stream that is never synchronized still lets go of what finished work used.
  static constexpr uint64_t kCheckpointEvery = 64;
  std::deque<std::pair<xinhe_event_t, uint64_t>> checkpoints;
  uint64_t since_checkpoint = 0;
  explicit Stream(const Device& device) { check(xinhe_stream_create(device.handle, &handle)); }
  ~Stream() {
    {
      GilRelease release;  // destroy waits for queued work
      xinhe_stream_destroy(handle);
    }
    for (const auto& c : checkpoints) xinhe_event_destroy(c.first);
    holds->release_before();  // with the GIL: the work that used them is done
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void synchronize() const {
    // Only what was queued before the wait is known done: other threads may queue more
    // while the GIL is released.
    const uint64_t upto = holds->next;
    xinhe_status_t status;
    {
      GilRelease release;
      status = xinhe_stream_synchronize(handle);
    }
    check(status);
    holds->release_before(upto);
  }
  bool query() const {
    int done = 0;
    check(xinhe_stream_query(handle, &done));
    if (done != 0) holds->release_before();
    return done != 0;
  }
  // Keeps what the work just submitted uses until it is done.
  void hold(BufferPtr buffer, nb::object object = nb::object()) {
    holds->items.push_back(Holds::Held{holds->next++, std::move(buffer), std::move(object)});
    if (++since_checkpoint >= kCheckpointEvery) {
      since_checkpoint = 0;
      checkpoint();
    }
  }
  // Releases what completed checkpoints cover and marks the work queued so far. Best effort:
  // it must not fail after the work was queued, so errors are left for synchronize.
  void checkpoint() {
    while (!checkpoints.empty()) {
      int done = 0;
      xinhe_status_t status = xinhe_event_query(checkpoints.front().first, &done);
      const bool complete = status == nullptr && done != 0;
      xinhe_status_free(status);
      if (!complete) break;
      xinhe_event_destroy(checkpoints.front().first);
      const uint64_t seq = checkpoints.front().second;
      checkpoints.pop_front();
      holds->release_before(seq);
    }
    xinhe_event_t event = nullptr;
    xinhe_status_t status = xinhe_event_create(xinhe_stream_device(handle), &event);
    if (status == nullptr) status = xinhe_event_record(event, handle);
    if (status == nullptr) {
      checkpoints.emplace_back(event, holds->next);
    } else {
      xinhe_event_destroy(event);
      xinhe_status_free(status);
    }
  }
};

struct Event {
  xinhe_event_t handle = nullptr;
  // The stream it was last recorded on and the holds its capture covers: once the event
  // completes, that work is done and what it used may go.
  std::weak_ptr<Holds> holds;
  uint64_t seq = 0;
  explicit Event(const Device& device) { check(xinhe_event_create(device.handle, &handle)); }
  ~Event() { xinhe_event_destroy(handle); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void completed() const {
    if (std::shared_ptr<Holds> h = holds.lock()) h->release_before(seq);
  }
};

// ---- Arrays ------------------------------------------------------------------------------------

// The number of elements of shape: 0 when a dimension is 0 (however large the others), an
// error for a negative dimension or a count past int64.
int64_t element_count(const std::vector<int64_t>& shape) {
  for (int64_t s : shape) {
    if (s < 0) fail(XINHE_STATUS_INVALID_ARGUMENT, "negative dimension in shape " + dims(shape));
  }
  for (int64_t s : shape) {
    if (s == 0) return 0;
  }
  int64_t n = 1;
  for (int64_t s : shape) {
    if (__builtin_mul_overflow(n, s, &n))
      fail(XINHE_STATUS_INVALID_ARGUMENT, "element count of shape " + dims(shape) + " overflows");
  }
  return n;
}

// A strided n-d view of a buffer: the unit the ops and DLPack exchange.
struct Array {
  BufferPtr buffer;
  uint64_t offset = 0;  // bytes
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  std::vector<int64_t> shape, strides;  // strides in elements

  int64_t numel() const { return element_count(shape); }
  bool contiguous() const {
    int64_t expected = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      if (shape[i] != 1 && strides[i] != expected) return false;
      if (__builtin_mul_overflow(expected, shape[i], &expected)) return numel() == 0;
    }
    return true;
  }
  // Bytes from offset to one past the last element (0 for an empty array). Checked: a span
  // that wrapped 2^64 would pass any bounds check.
  uint64_t span_bytes() const {
    if (numel() == 0) return 0;
    uint64_t last = 0, term = 0, bytes = 0;
    bool overflow = false;
    for (size_t i = 0; i < shape.size(); ++i) {
      overflow |= strides[i] < 0 ||
                  __builtin_mul_overflow(uint64_t(shape[i] - 1), uint64_t(strides[i]), &term) ||
                  __builtin_add_overflow(last, term, &last);
    }
    overflow |= __builtin_add_overflow(last, uint64_t(1), &last) ||
                __builtin_mul_overflow(last, uint64_t(dtype_size(dtype)), &bytes);
    if (overflow)
      fail(XINHE_STATUS_INVALID_ARGUMENT, "the byte span of shape " + dims(shape) +
                                              " with strides " + dims(strides) + " overflows");
    return bytes;
  }
};

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    // Wraps only past a 0 dimension (the array is empty) or for a shape span_bytes rejects.
    s = int64_t(uint64_t(s) * uint64_t(shape[i]));
  }
  return strides;
}

// Copies the elements of a strided view densely (row-major) to dst, any dtype: elem bytes each.
// src points at the first element; strides are in elements and may be 0 (expanded) or negative
// (numpy's a[::-1]).
void gather_dense(uint8_t* dst, const uint8_t* src, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& strides, size_t elem) {
  if (element_count(shape) == 0) return;
  const size_t nd = shape.size();
  if (nd == 0) {
    std::memcpy(dst, src, elem);
    return;
  }
  const ptrdiff_t e = ptrdiff_t(elem);
  const int64_t inner = shape[nd - 1];
  const ptrdiff_t inner_step = ptrdiff_t(strides[nd - 1]) * e;
  std::vector<int64_t> index(nd, 0);
  const uint8_t* row = src;
  for (;;) {
    if (inner_step == e) {
      std::memcpy(dst, row, size_t(inner) * elem);
      dst += size_t(inner) * elem;
    } else {
      const uint8_t* p = row;
      for (int64_t j = 0; j < inner; ++j, p += inner_step, dst += elem) std::memcpy(dst, p, elem);
    }
    // The next row: an odometer over the outer dimensions.
    size_t d = nd - 1;
    for (;;) {
      if (d == 0) return;
      --d;
      row += ptrdiff_t(strides[d]) * e;
      if (++index[d] < shape[d]) break;
      row -= ptrdiff_t(strides[d]) * e * ptrdiff_t(shape[d]);
      index[d] = 0;
    }
  }
}

Array make_array(const Device& device, std::vector<int64_t> shape, xinhe_dtype_t dtype) {
  const int64_t n = element_count(shape);
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(uint64_t(n), uint64_t(dtype_size(dtype)), &bytes))
    fail(XINHE_STATUS_INVALID_ARGUMENT, "the byte size of shape " + dims(shape) + " overflows");
  Array a;
  a.buffer = alloc_buffer(device, bytes, 0);
  a.dtype = dtype;
  a.strides = contiguous_strides(shape);
  a.shape = std::move(shape);
  return a;
}

Array make_view(const BufferPtr& buffer, uint64_t offset, xinhe_dtype_t dtype,
                std::vector<int64_t> shape, std::optional<std::vector<int64_t>> strides) {
  if (!buffer) fail(XINHE_STATUS_INVALID_ARGUMENT, "buffer is None");
  Array a;
  a.buffer = buffer;
  a.offset = offset;
  a.dtype = dtype;
  a.strides = strides ? *strides : contiguous_strides(shape);
  if (a.strides.size() != shape.size())
    fail(XINHE_STATUS_INVALID_ARGUMENT, "strides and shape differ in length");
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0 || a.strides[i] < 0)
      fail(XINHE_STATUS_INVALID_ARGUMENT, "negative sizes or strides are not supported");
  }
  a.shape = std::move(shape);
  if (offset % dtype_size(dtype) != 0)
    fail(XINHE_STATUS_INVALID_ARGUMENT,
         "byte offset " + std::to_string(offset) + " is not a multiple of the " +
             std::to_string(dtype_size(dtype)) + "-byte element size");
  const uint64_t span = a.span_bytes();
  if (offset > buffer->size() || span > buffer->size() - offset)
    fail(XINHE_STATUS_INVALID_ARGUMENT, "view of " + std::to_string(span) + " bytes at offset " +
                                            std::to_string(offset) + " exceeds the buffer's " +
                                            std::to_string(buffer->size()) + " bytes");
  return a;
}

// Host bytes of a C-contiguous CPU ndarray (numpy, torch CPU, anything DLPack/buffer-protocol).
using HostArray = nb::ndarray<nb::device::cpu, nb::c_contig>;

uint64_t nbytes(const HostArray& h) { return uint64_t(h.size()) * (h.dtype().bits / 8); }

// A host array the data is written into: taken as it is (a c_contig parameter would make
// nanobind convert a strided one to a temporary, and the copy would land there, silently
// lost), and refused unless it is C-contiguous.
using HostDestination = nb::ndarray<nb::device::cpu>;

void require_c_contiguous(const HostDestination& h, const char* what) {
  if (h.size() == 0) return;
  int64_t expected = 1;
  bool dense = true;
  for (size_t i = h.ndim(); i-- > 0;) {
    if (h.shape(i) != 1 && h.stride(i) != expected) dense = false;
    expected *= int64_t(h.shape(i));
  }
  if (dense) return;
  std::vector<int64_t> shape(h.ndim()), strides(h.ndim());
  for (size_t i = 0; i < h.ndim(); ++i) shape[i] = int64_t(h.shape(i)), strides[i] = h.stride(i);
  fail(XINHE_STATUS_INVALID_ARGUMENT,
       std::string(what) + " must be a C-contiguous writable host array, since it is written in " +
           "place; got shape " + dims(shape) + " with strides " + dims(strides) +
           " (in elements): copy into numpy.ascontiguousarray(...) first and assign back");
}

// Synchronous copy of a contiguous array's bytes between host and device.
void copy_in(Stream& stream, const Array& dst, const void* src, uint64_t bytes) {
  if (!dst.contiguous()) fail(XINHE_STATUS_INVALID_ARGUMENT, "destination array is not contiguous");
  if (bytes != dst.span_bytes())
    fail(XINHE_STATUS_INVALID_ARGUMENT, "host data has " + std::to_string(bytes) +
                                            " bytes, the array " +
                                            std::to_string(dst.span_bytes()));
  xinhe_status_t status;
  {
    GilRelease release;
    status = xinhe_copy_host_to_device(stream.handle, dst.buffer->handle, dst.offset, src, bytes);
    if (status == nullptr) status = xinhe_stream_synchronize(stream.handle);
  }
  check(status);
}

void copy_out(Stream& stream, void* dst, const Array& src, uint64_t bytes) {
  if (!src.contiguous()) fail(XINHE_STATUS_INVALID_ARGUMENT, "source array is not contiguous");
  xinhe_status_t status;
  {
    GilRelease release;
    status = xinhe_copy_device_to_host(stream.handle, dst, src.buffer->handle, src.offset, bytes);
    if (status == nullptr) status = xinhe_stream_synchronize(stream.handle);
  }
  check(status);
}

// A dense host copy of any array (dst holds numel elements): a contiguous one is copied as it
// is; a strided view copies the byte range it covers, then gathers its elements on the host.
void copy_out_dense(Stream& stream, uint8_t* dst, const Array& src) {
  if (src.numel() == 0) return;
  if (src.contiguous()) {
    copy_out(stream, dst, src, src.span_bytes());
    return;
  }
  Array covering = src;
  covering.shape = {int64_t(src.span_bytes() / dtype_size(src.dtype))};
  covering.strides = {1};
  std::unique_ptr<uint8_t[]> staging(new uint8_t[src.span_bytes()]);
  copy_out(stream, staging.get(), covering, src.span_bytes());
  gather_dense(dst, staging.get(), src.shape, src.strides, dtype_size(src.dtype));
}

// ---- DLPack export -----------------------------------------------------------------------------
// The two capsule layouts of the DLPack spec: the legacy DLManagedTensor ("dltensor") and the
// versioned DLManagedTensorVersioned ("dltensor_versioned", DLPack >= 1.0).

constexpr int32_t kDLCPU = 1;
constexpr int32_t kDLExtDev = 12;  // a device DLPack has no code for (PyTorch: PrivateUse1)
constexpr uint64_t kDLFlagReadOnly = 1ull << 0;
constexpr uint64_t kDLFlagIsCopied = 1ull << 1;

struct DLManagedTensor {
  nb::dlpack::dltensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLPackVersion {
  uint32_t major, minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  nb::dlpack::dltensor dl_tensor;
};

// What an exported tensor keeps alive: its buffer (or a host copy) and its shape/strides.
struct ExportContext {
  BufferPtr buffer;                 // device memory shared with the exporter
  std::unique_ptr<uint8_t[]> copy;  // host copy, when one was requested
  std::vector<int64_t> shape, strides;
};

template <typename Managed>
void delete_managed(Managed* managed) {
  delete static_cast<ExportContext*>(managed->manager_ctx);
  delete managed;
}

template <typename Managed>
void capsule_destructor(PyObject* capsule) {
  // A consumer renames the capsule when it takes ownership; only an unconsumed one is ours.
  const char* name = std::is_same_v<Managed, DLManagedTensor> ? "dltensor" : "dltensor_versioned";
  if (!PyCapsule_IsValid(capsule, name)) return;
  auto* managed = static_cast<Managed*>(PyCapsule_GetPointer(capsule, name));
  if (managed != nullptr && managed->deleter != nullptr) managed->deleter(managed);
}

// Whether the device's buffers have host addresses, probed once per device with a small buffer
// (XINHE_DEVICE_FLAG_HOST_MEMORY is not it: PoCL's memory is host memory behind opaque cl_mem).
// Called with the GIL held, which guards the cache.
bool host_addressable(const Device& device) {
  static std::map<xinhe_device_t, bool> cache;
  auto it = cache.find(device.handle);
  if (it != cache.end()) return it->second;
  const bool addressable = alloc_buffer(device, 64, 0)->host_pointer_or_null() != nullptr;
  cache.emplace(device.handle, addressable);
  return addressable;
}

std::pair<int32_t, int32_t> dlpack_device(const Array& a) {
  // Host-addressable buffers are plain CPU memory to every consumer. An empty buffer has no
  // address: it reports what its device's buffers are, as non-empty ones on it do.
  if (a.buffer->host_pointer_or_null() != nullptr) return {kDLCPU, 0};
  const Device device = a.buffer->device();
  if (a.buffer->size() == 0 && host_addressable(device)) return {kDLCPU, 0};
  return {kDLExtDev, int32_t(device.index)};
}

nb::object export_dlpack_impl(const Array& a, std::optional<std::pair<int, int>> max_version,
                              std::optional<std::pair<int, int>> dl_device,
                              std::optional<bool> copy) {
  const std::pair<int32_t, int32_t> own_device = dlpack_device(a);
  const bool to_cpu = dl_device && dl_device->first == kDLCPU;
  if (to_cpu && dl_device->second != 0)
    throw nb::buffer_error(
        ("there is one CPU device, kDLCPU id 0; asked for id " + std::to_string(dl_device->second))
            .c_str());
  if (dl_device && !to_cpu &&
      std::make_pair(int32_t(dl_device->first), int32_t(dl_device->second)) != own_device)
    throw nb::buffer_error("xinhe arrays export to their own device or to the CPU (kDLCPU) only");
  void* host = a.buffer->host_pointer_or_null();
  // Whether the device's memory is host-addressable, not whether this buffer has an address:
  // an empty buffer has none, and exports as the non-empty ones on its device do.
  const bool zero_copy_possible = host != nullptr || own_device.first == kDLCPU;
  const bool make_copy = (copy && *copy) || (!zero_copy_possible && to_cpu && copy != false);
  if (!zero_copy_possible && !make_copy) {
    const std::string name = a.buffer->device().name();
    throw nb::buffer_error(
        (name + " memory is not host-addressable, so it cannot be shared without a copy; ask "
                "for one explicitly: numpy.from_dlpack(a, device='cpu', copy=True), "
                "a.__dlpack__(dl_device=(1, 0), copy=True), or a.numpy()")
            .c_str());
  }
  auto ctx = std::make_unique<ExportContext>();
  ctx->shape = a.shape;
  ctx->strides = a.strides;
  void* data = nullptr;
  int32_t device_type = own_device.first, device_id = own_device.second;
  if (make_copy) {
    const uint64_t bytes = uint64_t(a.numel()) * dtype_size(a.dtype);
    ctx->copy.reset(new uint8_t[bytes > 0 ? bytes : 1]);
    if (bytes > 0) {
      Stream s(a.buffer->device());
      copy_out_dense(s, ctx->copy.get(), a);
    }
    ctx->strides = contiguous_strides(a.shape);  // the copy is dense
    data = ctx->copy.get();
    device_type = kDLCPU;
    device_id = 0;
  } else {
    ctx->buffer = a.buffer;
    data = host != nullptr ? static_cast<uint8_t*>(host) + a.offset : nullptr;
    if (to_cpu) device_type = kDLCPU, device_id = 0;  // an empty array: no data to address
  }
  nb::dlpack::dltensor t{};
  t.data = data;
  t.device.device_type = device_type;
  t.device.device_id = device_id;
  t.ndim = int32_t(ctx->shape.size());
  t.dtype = to_dlpack(a.dtype);
  t.shape = ctx->shape.data();
  t.strides = ctx->strides.data();
  t.byte_offset = 0;

  const bool versioned = max_version && max_version->first >= 1;
  if (versioned) {
    auto* managed = new DLManagedTensorVersioned{};
    managed->version = {1, 0};
    managed->manager_ctx = ctx.release();
    managed->deleter = delete_managed<DLManagedTensorVersioned>;
    managed->flags = make_copy ? kDLFlagIsCopied : 0;
    managed->dl_tensor = t;
    return nb::steal(
        PyCapsule_New(managed, "dltensor_versioned", capsule_destructor<DLManagedTensorVersioned>));
  }
  (void)kDLFlagReadOnly;
  auto* managed = new DLManagedTensor{};
  managed->dl_tensor = t;
  managed->manager_ctx = ctx.release();
  managed->deleter = delete_managed<DLManagedTensor>;
  return nb::steal(PyCapsule_New(managed, "dltensor", capsule_destructor<DLManagedTensor>));
}

// __dlpack__: the protocol's consumers expect BufferError for an export that cannot be made,
// so xinhe errors (a failed copy, an invalid view) are raised as BufferError with their text.
nb::object export_dlpack(const Array& a, nb::handle stream,
                         std::optional<std::pair<int, int>> max_version,
                         std::optional<std::pair<int, int>> dl_device, std::optional<bool> copy) {
  (void)stream;  // exports are synchronous: the data is complete when the capsule exists
  try {
    return export_dlpack_impl(a, max_version, dl_device, copy);
  } catch (const StatusError& e) {
    throw nb::buffer_error(status_text(e).c_str());
  }
}

// ---- DLPack import -----------------------------------------------------------------------------

// Imports a CPU DLPack/buffer-protocol array onto device: wraps the memory when the device
// can use host memory in place (and copy is not True), else copies.
Array import_host(nb::ndarray<nb::device::cpu> source, const Device& device,
                  std::optional<bool> copy) {
  const xinhe_dtype_t dtype = from_dlpack(source.dtype());
  std::vector<int64_t> shape(source.ndim()), strides(source.ndim());
  for (size_t i = 0; i < source.ndim(); ++i) {
    shape[i] = source.shape(i);
    strides[i] = source.stride(i);
  }
  const bool want_copy = copy && *copy;
  if (!want_copy) {
    // The core says why not: a backend whose buffers cannot be host memory, or alignment.
    std::string why;
    for (int64_t s : strides) {
      if (s < 0) why = "negative strides are not supported";
    }
    if (why.empty()) {
      Array a;
      a.dtype = dtype;
      a.shape = shape;
      a.strides = strides;
      const uint64_t span = a.span_bytes();
      xinhe_buffer_t h = nullptr;
      xinhe_status_t status = xinhe_buffer_wrap_host(device.handle, source.data(), span, &h);
      if (status == nullptr) {
        a.buffer = std::make_shared<Buffer>(h, nb::cast(source));
        return a;
      }
      why = xinhe_status_message(status);
      xinhe_status_free(status);
    }
    if (copy && !*copy)
      throw nb::buffer_error(("zero-copy import onto " + device.name() + " is impossible: " + why +
                              "; pass copy=True (or copy=None) to copy")
                                 .c_str());
  }
  // Copy: through a dense host staging copy when the source is strided.
  Array a = make_array(device, shape, dtype);
  Stream s(device);
  Array probe;
  probe.dtype = dtype;
  probe.shape = shape;
  probe.strides = strides;
  if (probe.contiguous()) {
    copy_in(s, a, source.data(), a.span_bytes());
  } else if (a.span_bytes() > 0) {
    // Gathered here from the DLPack strides, whatever the dtype (numpy has no bf16).
    std::unique_ptr<uint8_t[]> staging(new uint8_t[a.span_bytes()]);
    gather_dense(staging.get(), static_cast<const uint8_t*>(source.data()), shape, strides,
                 dtype_size(dtype));
    copy_in(s, a, staging.get(), a.span_bytes());
  }
  return a;
}

// ---- Ops ---------------------------------------------------------------------------------------

struct Gemm {
  xinhe_gemm_t handle = nullptr;
  xinhe_gemm_desc_t desc{};
  Device device;
  ~Gemm() { xinhe_gemm_destroy(handle); }
};

struct Attention {
  xinhe_attention_t handle = nullptr;
  xinhe_attention_desc_t desc{};
  Device device;
  ~Attention() { xinhe_attention_destroy(handle); }
};

void require_on(const Array& a, const Device& device, const char* what) {
  if (xinhe_buffer_device(a.buffer->handle) != device.handle)
    fail(XINHE_STATUS_INVALID_ARGUMENT, std::string(what) + " is on " + a.buffer->device().name() +
                                            ", the op on " + device.name());
}

std::optional<std::string> reason_of(xinhe_status_t status) {
  if (status == nullptr) return std::nullopt;
  std::string why = xinhe_status_message(status);
  xinhe_status_free(status);
  return why;
}

template <typename T>
std::vector<int64_t> array4(const T (&values)[4]) {
  return {values[0], values[1], values[2], values[3]};
}

void copy4(const std::vector<int64_t>& from, int64_t (&to)[4], const char* what) {
  if (from.size() != 4)
    fail(XINHE_STATUS_INVALID_ARGUMENT, std::string(what) + " needs 4 strides (b, h, s, d)");
  for (int i = 0; i < 4; ++i) to[i] = from[size_t(i)];
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "xinhe C API binding; use the xinhe package, which re-exports this.";

  g_error_type = PyErr_NewException("xinhe.Error", PyExc_RuntimeError, nullptr);
  m.attr("Error") = nb::borrow(g_error_type);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      raise_status(e);
    }
  });

  nb::enum_<xinhe_status_code_t>(m, "StatusCode")
      .value("OK", XINHE_STATUS_OK)
      .value("INVALID_ARGUMENT", XINHE_STATUS_INVALID_ARGUMENT)
      .value("UNIMPLEMENTED", XINHE_STATUS_UNIMPLEMENTED)
      .value("UNAVAILABLE", XINHE_STATUS_UNAVAILABLE)
      .value("OUT_OF_MEMORY", XINHE_STATUS_OUT_OF_MEMORY)
      .value("FAILED_PRECONDITION", XINHE_STATUS_FAILED_PRECONDITION)
      .value("NOT_FOUND", XINHE_STATUS_NOT_FOUND)
      .value("INTERNAL", XINHE_STATUS_INTERNAL)
      .value("DEVICE_LOST", XINHE_STATUS_DEVICE_LOST);

  nb::enum_<xinhe_dtype_t>(m, "DType")
      .value("f32", XINHE_DTYPE_F32)
      .value("f16", XINHE_DTYPE_F16)
      .value("bf16", XINHE_DTYPE_BF16)
      .value("f64", XINHE_DTYPE_F64);
  m.def(
      "dtype_size", [](xinhe_dtype_t d) { return dtype_size(d); }, "dtype"_a);

  m.def("version", [] { return std::string(xinhe_version_string()); });

  nb::class_<xinhe_backend_info_t>(m, "BackendInfo")
      .def_prop_ro("name", [](const xinhe_backend_info_t& b) { return std::string(b.name); })
      .def_prop_ro("path", [](const xinhe_backend_info_t& b) { return std::string(b.path); })
      .def_prop_ro("loaded", [](const xinhe_backend_info_t& b) { return b.loaded != 0; })
      .def_prop_ro("reason", [](const xinhe_backend_info_t& b) { return std::string(b.reason); })
      .def_prop_ro("code", [](const xinhe_backend_info_t& b) { return b.code; })
      .def_prop_ro(
          "abi_version",
          [](const xinhe_backend_info_t& b) { return std::make_pair(b.abi_major, b.abi_minor); })
      .def_prop_ro("device_count", [](const xinhe_backend_info_t& b) { return b.device_count; })
      .def("__repr__", [](const xinhe_backend_info_t& b) {
        return std::string("BackendInfo(") + b.name + (b.loaded ? ", loaded" : ", skipped: ") +
               (b.loaded ? "" : b.reason) + ")";
      });
  m.def("backends", [] {
    size_t n = 0;
    check(xinhe_backend_count(&n));
    std::vector<xinhe_backend_info_t> out(n);
    for (size_t i = 0; i < n; ++i) {
      std::memset(&out[i], 0, sizeof(out[i]));
      out[i].struct_size = sizeof(out[i]);
      check(xinhe_backend_info(i, &out[i]));
    }
    return out;
  });

  using Props = xinhe_device_properties_t;
  nb::class_<Props>(m, "DeviceProperties")
      .def_prop_ro("name", [](const Props& p) { return std::string(p.name); })
      .def_prop_ro("description", [](const Props& p) { return std::string(p.description); })
      .def_prop_ro("vendor", [](const Props& p) { return std::string(p.vendor); })
      .def_prop_ro("backend", [](const Props& p) { return std::string(p.backend); })
      .def_prop_ro("driver_version", [](const Props& p) { return std::string(p.driver_version); })
      .def_ro("total_memory", &Props::total_memory)
      .def_ro("free_memory", &Props::free_memory)
      .def_ro("compute_units", &Props::compute_units)
      .def_ro("flags", &Props::flags)
      .def_ro("min_alignment", &Props::min_alignment)
      .def_ro("memory_bandwidth", &Props::memory_bandwidth)
      .def_prop_ro("timing",
                   [](const Props& p) { return (p.flags & XINHE_DEVICE_FLAG_TIMING) != 0; })
      .def_prop_ro("host_memory",
                   [](const Props& p) { return (p.flags & XINHE_DEVICE_FLAG_HOST_MEMORY) != 0; })
      .def_prop_ro("fp64", [](const Props& p) { return (p.flags & XINHE_DEVICE_FLAG_FP64) != 0; })
      .def_prop_ro("dtypes",
                   [](const Props& p) {
                     std::vector<xinhe_dtype_t> out;
                     for (int d = 0; d < XINHE_DTYPE_COUNT; ++d) {
                       if (p.dtype_caps & XINHE_DTYPE_CAP(d)) out.push_back(xinhe_dtype_t(d));
                     }
                     return out;
                   })
      .def_prop_ro("peak_flops",
                   [](const Props& p) {
                     nb::dict out;
                     for (int d = 0; d < XINHE_DTYPE_COUNT; ++d)
                       out[xinhe_dtype_name(xinhe_dtype_t(d))] = p.peak_flops[d];
                     return out;
                   })
      .def("__repr__", [](const Props& p) {
        return std::string("DeviceProperties(") + p.name + ", " + p.description + ")";
      });

  nb::class_<Device>(m, "Device")
      .def_prop_ro("name", &Device::name)
      .def_ro("index", &Device::index,
              "Position in xinhe.devices() (torch.device('xinhe', index)).")
      .def_prop_ro("properties", &Device::properties)
      .def_prop_ro("host_memory", &Device::host_memory)
      .def("create_stream", [](const Device& d) { return new Stream(d); })
      .def("create_event", [](const Device& d) { return new Event(d); })
      .def(
          "alloc",
          [](const Device& d, uint64_t size, uint64_t alignment) {
            return alloc_buffer(d, size, alignment);
          },
          "size"_a, "alignment"_a = 0)
      .def("__eq__",
           [](const Device& a, nb::handle b) {
             return nb::isinstance<Device>(b) && nb::cast<const Device&>(b).handle == a.handle;
           })
      .def("__hash__", [](const Device& d) { return std::hash<const void*>()(d.handle); })
      .def("__repr__", [](const Device& d) { return "xinhe.Device('" + d.name() + "')"; });

  m.def("devices", &all_devices, "Every device, in the registry's order.");
  m.def(
      "device",
      [](const std::string& name) {
        xinhe_device_t d = nullptr;
        check(xinhe_device_get_by_name(name.c_str(), &d));
        return wrap_device(d);
      },
      "name"_a);
  m.def("default_device", [] {
    xinhe_device_t d = nullptr;
    check(xinhe_device_get_default(&d));
    return wrap_device(d);
  });

  nb::class_<Event>(m, "Event")
      .def(nb::init<const Device&>(), "device"_a)
      .def(
          "record",
          [](Event& e, Stream& s) {
            check(xinhe_event_record(e.handle, s.handle));
            e.holds = s.holds;
            e.seq = s.holds->next;
          },
          "stream"_a)
      .def(
          "synchronize",
          [](Event& e) {
            xinhe_status_t status;
            {
              GilRelease release;
              status = xinhe_event_synchronize(e.handle);
            }
            check(status);
            e.completed();
          },
          "Waits for the captured work; the stream then releases the operands it held for it.")
      .def("query",
           [](Event& e) {
             int done = 0;
             check(xinhe_event_query(e.handle, &done));
             if (done != 0) e.completed();
             return done != 0;
           })
      .def(
          "elapsed_ms",
          [](Event& end, Event& start) {
            float ms = 0;
            check(xinhe_event_elapsed_ms(start.handle, end.handle, &ms));
            return ms;
          },
          "start"_a, "Milliseconds from start to this event (both recorded and complete).");

  nb::class_<Stream>(
      m, "Stream",
      "An in-order queue of asynchronous work. The stream holds the operands of "
      "what it queued (op runs, copies, fills, awaited events) until that work is "
      "known done: synchronize(), a query() that finds it idle, the synchronize or "
      "query of an event recorded after it, or the stream's destruction (which waits "
      "for it). Temporaries may be passed straight to op.run.")
      .def(nb::init<const Device&>(), "device"_a)
      .def_prop_ro("device", [](Stream& s) { return wrap_device(xinhe_stream_device(s.handle)); })
      .def("synchronize", &Stream::synchronize,
           "Waits for all queued work and releases the operands held for it.")
      .def("query", &Stream::query,
           "True when all queued work is done (its operands are released).")
      .def(
          "wait",
          [](Stream& s, Event& e) {
            check(xinhe_stream_wait_event(s.handle, e.handle));
            s.hold(nullptr, nb::borrow(nb::find(e)));  // the event must outlive the wait
          },
          "event"_a, "Work queued after this waits for the event's captured work.")
      .def(
          "copy_from_host",
          [](Stream& s, Buffer& dst, HostArray src, uint64_t dst_offset) {
            const uint64_t bytes = nbytes(src);
            const uint64_t upto = s.holds->next;  // queued before this: done after it
            xinhe_status_t status;
            {
              GilRelease release;
              status =
                  xinhe_copy_host_to_device(s.handle, dst.handle, dst_offset, src.data(), bytes);
              if (status == nullptr) status = xinhe_stream_synchronize(s.handle);
            }
            check(status);
            s.holds->release_before(upto);
          },
          "dst"_a, "src"_a, "dst_offset"_a = 0,
          "Copies a host array's bytes into dst at dst_offset and waits (a non-C-contiguous src "
          "is made C-contiguous first, so its elements land in C order).")
      .def(
          "copy_to_host",
          [](Stream& s, HostDestination dst, Buffer& src, uint64_t src_offset) {
            require_c_contiguous(dst, "dst");
            const uint64_t bytes = uint64_t(dst.size()) * (dst.dtype().bits / 8);
            const uint64_t upto = s.holds->next;  // queued before this: done after it
            xinhe_status_t status;
            {
              GilRelease release;
              status =
                  xinhe_copy_device_to_host(s.handle, dst.data(), src.handle, src_offset, bytes);
              if (status == nullptr) status = xinhe_stream_synchronize(s.handle);
            }
            check(status);
            s.holds->release_before(upto);
          },
          "dst"_a, "src"_a, "src_offset"_a = 0,
          "Fills a C-contiguous writable host array from src at src_offset and waits (any other "
          "dst raises xinhe.Error INVALID_ARGUMENT).")
      .def(
          "copy",
          [](Stream& s, const BufferPtr& dst, const BufferPtr& src, uint64_t size,
             uint64_t dst_offset, uint64_t src_offset) {
            if (!dst || !src) fail(XINHE_STATUS_INVALID_ARGUMENT, "buffer is None");
            check(xinhe_copy_device_to_device(s.handle, dst->handle, dst_offset, src->handle,
                                              src_offset, size));
            s.hold(dst);
            s.hold(src);
          },
          "dst"_a, "src"_a, "size"_a, "dst_offset"_a = 0, "src_offset"_a = 0,
          "Enqueues a device copy (asynchronous; the stream holds both buffers until it is done).")
      .def(
          "fill",
          [](Stream& s, const BufferPtr& dst, uint32_t pattern, uint32_t pattern_size,
             uint64_t offset, std::optional<uint64_t> size) {
            if (!dst) fail(XINHE_STATUS_INVALID_ARGUMENT, "buffer is None");
            const uint64_t n = size ? *size : dst->size() - std::min(offset, dst->size());
            check(xinhe_buffer_fill(s.handle, dst->handle, offset, n, &pattern, pattern_size));
            s.hold(dst);
          },
          "dst"_a, "pattern"_a, "pattern_size"_a = 4, "offset"_a = 0, "size"_a = nb::none(),
          "Enqueues a fill (asynchronous; the stream holds the buffer until it is done).");

  nb::class_<Buffer>(m, "Buffer")
      .def_prop_ro("size", &Buffer::size)
      .def_prop_ro("device", &Buffer::device)
      .def_prop_ro(
          "host_pointer",
          [](Buffer& b) -> std::optional<uintptr_t> {
            void* p = nullptr;
            xinhe_status_t status = xinhe_buffer_host_pointer(b.handle, &p);
            if (status != nullptr) {
              xinhe_status_free(status);
              return std::nullopt;
            }
            return reinterpret_cast<uintptr_t>(p);
          },
          "Host address of the first byte; None where the device's memory is not host-addressable.")
      .def("__repr__", [](Buffer& b) {
        return "xinhe.Buffer(" + std::to_string(b.size()) + " bytes on " + b.device().name() + ")";
      });

  nb::class_<Array>(m, "Array")
      .def_ro("buffer", &Array::buffer)
      .def_ro("offset", &Array::offset, "Byte offset of element 0 in the buffer.")
      .def_ro("dtype", &Array::dtype)
      .def_prop_ro("shape", [](const Array& a) { return nb::tuple(nb::cast(a.shape)); })
      .def_prop_ro(
          "strides", [](const Array& a) { return nb::tuple(nb::cast(a.strides)); },
          "Strides in elements.")
      .def_prop_ro("ndim", [](const Array& a) { return a.shape.size(); })
      .def_prop_ro("size", &Array::numel)
      .def_prop_ro("device", [](const Array& a) { return a.buffer->device(); })
      .def_prop_ro("is_contiguous", &Array::contiguous)
      .def("__dlpack_device__", [](const Array& a) { return dlpack_device(a); })
      .def("__dlpack__", &export_dlpack, "stream"_a = nb::none(), "max_version"_a = nb::none(),
           "dl_device"_a = nb::none(), "copy"_a = nb::none())
      .def(
          "copy_from",
          [](Array& a, HostArray src) {
            if (from_dlpack(src.dtype()) != a.dtype)
              fail(XINHE_STATUS_INVALID_ARGUMENT, "dtype mismatch");
            Stream s(a.buffer->device());
            copy_in(s, a, src.data(), nbytes(src));
          },
          "src"_a,
          "Copies a host array of the same dtype and size into this contiguous array (a "
          "non-C-contiguous src is made C-contiguous first, so its elements land in C order).")
      .def(
          "copy_to",
          [](const Array& a, HostDestination dst) {
            require_c_contiguous(dst, "dst");
            const uint64_t bytes = uint64_t(dst.size()) * (dst.dtype().bits / 8);
            if (from_dlpack(dst.dtype()) != a.dtype || bytes != a.span_bytes())
              fail(XINHE_STATUS_INVALID_ARGUMENT, "destination dtype or size differs");
            Stream s(a.buffer->device());
            copy_out(s, dst.data(), a, bytes);
          },
          "dst"_a,
          "Copies this contiguous array into a C-contiguous writable host array of the same dtype "
          "and size (any other dst raises xinhe.Error INVALID_ARGUMENT).")
      .def("__repr__", [](const Array& a) {
        std::string s = "xinhe.Array(shape=(";
        for (size_t i = 0; i < a.shape.size(); ++i)
          s += (i ? ", " : "") + std::to_string(a.shape[i]);
        return s + (a.shape.size() == 1 ? ",)" : ")") + ", dtype=" + xinhe_dtype_name(a.dtype) +
               ", device=" + a.buffer->device().name() + ")";
      });

  m.def(
      "empty",
      [](std::vector<int64_t> shape, xinhe_dtype_t dtype, const Device& device) {
        return make_array(device, std::move(shape), dtype);
      },
      "shape"_a, "dtype"_a, "device"_a, "An uninitialized contiguous array on device.");
  m.def("view", &make_view, "buffer"_a, "offset"_a, "dtype"_a, "shape"_a, "strides"_a = nb::none(),
        "An array over an existing buffer (offset in bytes, strides in elements).");
  m.def("_import_host", &import_host, "source"_a, "device"_a, "copy"_a = nb::none());

  nb::class_<Gemm>(m, "Gemm")
      .def(
          "__init__",
          [](Gemm* g, const Device& device, xinhe_dtype_t ab_dtype, int64_t m, int64_t n, int64_t k,
             std::optional<xinhe_dtype_t> c_dtype, bool trans_a, bool trans_b, int64_t batch,
             std::optional<int64_t> lda, std::optional<int64_t> ldb, std::optional<int64_t> ldc,
             std::optional<int64_t> stride_a, std::optional<int64_t> stride_b,
             std::optional<int64_t> stride_c) {
            new (g) Gemm();
            g->device = device;
            xinhe_gemm_desc_t& d = g->desc;
            d.struct_size = sizeof(d);
            d.ab_dtype = ab_dtype;
            d.c_dtype = c_dtype ? *c_dtype : ab_dtype;
            d.trans_a = trans_a;
            d.trans_b = trans_b;
            d.m = m;
            d.n = n;
            d.k = k;
            d.batch = batch;
            d.lda = lda ? *lda : (trans_a ? m : k);
            d.ldb = ldb ? *ldb : (trans_b ? k : n);
            d.ldc = ldc ? *ldc : n;
            d.stride_a = stride_a ? *stride_a : m * k;
            d.stride_b = stride_b ? *stride_b : k * n;
            d.stride_c = stride_c ? *stride_c : m * n;
            check(xinhe_gemm_create(device.handle, &d, &g->handle));
          },
          "device"_a, "ab_dtype"_a, "m"_a, "n"_a, "k"_a, "c_dtype"_a = nb::none(),
          "trans_a"_a = false, "trans_b"_a = false, "batch"_a = 1, "lda"_a = nb::none(),
          "ldb"_a = nb::none(), "ldc"_a = nb::none(), "stride_a"_a = nb::none(),
          "stride_b"_a = nb::none(), "stride_c"_a = nb::none(),
          "Describe: C[b] = alpha op(A[b]) op(B[b]) + beta C[b], row-major (see xinhe/ops.h).")
      .def_prop_ro("device", [](const Gemm& g) { return g.device; })
      .def(
          "check", [](const Gemm& g) { check(xinhe_gemm_check(g.handle)); },
          "Raises xinhe.Error (UNIMPLEMENTED with the reason) when the device cannot run it.")
      .def_prop_ro("unsupported_reason",
                   [](const Gemm& g) { return reason_of(xinhe_gemm_check(g.handle)); })
      .def_prop_ro("workspace_size",
                   [](const Gemm& g) {
                     uint64_t n = 0;
                     check(xinhe_gemm_workspace_size(g.handle, &n));
                     return n;
                   })
      .def_prop_ro("impl_name",
                   [](const Gemm& g) { return std::string(xinhe_gemm_impl_name(g.handle)); })
      .def(
          "run",
          [](const Gemm& g, Stream& s, const Array& a, const Array& b, Array& c, float alpha,
             float beta, const BufferPtr& workspace) {
            require_on(a, g.device, "A");
            require_on(b, g.device, "B");
            require_on(c, g.device, "C");
            if (a.dtype != g.desc.ab_dtype || b.dtype != g.desc.ab_dtype ||
                c.dtype != g.desc.c_dtype)
              fail(XINHE_STATUS_INVALID_ARGUMENT, "array dtypes differ from the description");
            xinhe_gemm_args_t args;
            std::memset(&args, 0, sizeof(args));
            args.struct_size = sizeof(args);
            args.a = a.buffer->handle;
            args.a_offset = a.offset;
            args.b = b.buffer->handle;
            args.b_offset = b.offset;
            args.c = c.buffer->handle;
            args.c_offset = c.offset;
            if (workspace) args.workspace = workspace->handle;
            args.alpha = alpha;
            args.beta = beta;
            check(xinhe_gemm_run(g.handle, s.handle, &args));
            for (const BufferPtr& held : {a.buffer, b.buffer, c.buffer, workspace})
              if (held) s.hold(held);
          },
          "stream"_a, "a"_a, "b"_a, "c"_a, "alpha"_a = 1.0f, "beta"_a = 0.0f,
          "workspace"_a.none() = nb::none(),
          "Enqueue on stream (asynchronous: synchronize before reading C on the host). The stream "
          "holds the operands until the run is done, so temporaries may be passed.");

  nb::class_<Attention>(m, "Attention")
      .def(
          "__init__",
          [](Attention* op, const Device& device, xinhe_dtype_t dtype, int64_t batch,
             int64_t heads_q, int64_t heads_kv, int64_t seq_q, int64_t seq_kv, int64_t head_dim,
             std::optional<double> scale, bool causal, bool with_lse,
             std::optional<std::vector<int64_t>> q_strides,
             std::optional<std::vector<int64_t>> k_strides,
             std::optional<std::vector<int64_t>> v_strides,
             std::optional<std::vector<int64_t>> o_strides,
             std::optional<std::vector<int64_t>> lse_strides) {
            new (op) Attention();
            op->device = device;
            xinhe_attention_desc_t& d = op->desc;
            d.struct_size = sizeof(d);
            d.dtype = dtype;
            d.batch = batch;
            d.heads_q = heads_q;
            d.heads_kv = heads_kv;
            d.seq_q = seq_q;
            d.seq_kv = seq_kv;
            d.head_dim = head_dim;
            xinhe_attention_strides_bhsd(heads_q, seq_q, head_dim, d.q_strides);
            xinhe_attention_strides_bhsd(heads_kv, seq_kv, head_dim, d.k_strides);
            xinhe_attention_strides_bhsd(heads_kv, seq_kv, head_dim, d.v_strides);
            xinhe_attention_strides_bhsd(heads_q, seq_q, head_dim, d.o_strides);
            if (q_strides) copy4(*q_strides, d.q_strides, "q_strides");
            if (k_strides) copy4(*k_strides, d.k_strides, "k_strides");
            if (v_strides) copy4(*v_strides, d.v_strides, "v_strides");
            if (o_strides) copy4(*o_strides, d.o_strides, "o_strides");
            d.scale = scale ? float(*scale)
                            : (head_dim > 0 ? float(1.0 / std::sqrt(double(head_dim))) : 1.0f);
            d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
            d.with_lse = with_lse;
            d.lse_strides[0] = heads_q * seq_q;
            d.lse_strides[1] = seq_q;
            d.lse_strides[2] = 1;
            if (lse_strides) {
              if (lse_strides->size() != 3)
                fail(XINHE_STATUS_INVALID_ARGUMENT, "lse_strides needs 3 strides (b, h, s)");
              for (int i = 0; i < 3; ++i) d.lse_strides[i] = (*lse_strides)[size_t(i)];
            }
            check(xinhe_attention_create(device.handle, &d, &op->handle));
          },
          "device"_a, "dtype"_a, "batch"_a, "heads_q"_a, "heads_kv"_a, "seq_q"_a, "seq_kv"_a,
          "head_dim"_a, "scale"_a = nb::none(), "causal"_a = false, "with_lse"_a = false,
          "q_strides"_a = nb::none(), "k_strides"_a = nb::none(), "v_strides"_a = nb::none(),
          "o_strides"_a = nb::none(), "lse_strides"_a = nb::none(),
          "Describe: O = softmax(scale Q K^T + mask) V; strides (b, h, s, d) in elements, BHSD by "
          "default.")
      .def_prop_ro("device", [](const Attention& op) { return op.device; })
      .def("check", [](const Attention& op) { check(xinhe_attention_check(op.handle)); })
      .def_prop_ro("unsupported_reason",
                   [](const Attention& op) { return reason_of(xinhe_attention_check(op.handle)); })
      .def_prop_ro("workspace_size",
                   [](const Attention& op) {
                     uint64_t n = 0;
                     check(xinhe_attention_workspace_size(op.handle, &n));
                     return n;
                   })
      .def_prop_ro(
          "impl_name",
          [](const Attention& op) { return std::string(xinhe_attention_impl_name(op.handle)); })
      .def(
          "run",
          [](const Attention& op, Stream& s, const Array& q, const Array& k, const Array& v,
             Array& o, std::optional<Array> lse, const BufferPtr& workspace) {
            require_on(q, op.device, "Q");
            require_on(k, op.device, "K");
            require_on(v, op.device, "V");
            require_on(o, op.device, "O");
            if (q.dtype != op.desc.dtype || k.dtype != op.desc.dtype || v.dtype != op.desc.dtype ||
                o.dtype != op.desc.dtype)
              fail(XINHE_STATUS_INVALID_ARGUMENT, "array dtypes differ from the description");
            xinhe_attention_args_t args;
            std::memset(&args, 0, sizeof(args));
            args.struct_size = sizeof(args);
            args.q = q.buffer->handle;
            args.q_offset = q.offset;
            args.k = k.buffer->handle;
            args.k_offset = k.offset;
            args.v = v.buffer->handle;
            args.v_offset = v.offset;
            args.o = o.buffer->handle;
            args.o_offset = o.offset;
            if (lse) {
              if (lse->dtype != XINHE_DTYPE_F32) fail(XINHE_STATUS_INVALID_ARGUMENT, "LSE is f32");
              args.lse = lse->buffer->handle;
              args.lse_offset = lse->offset;
            }
            if (workspace) args.workspace = workspace->handle;
            check(xinhe_attention_run(op.handle, s.handle, &args));
            for (const BufferPtr& held : {q.buffer, k.buffer, v.buffer, o.buffer,
                                          lse ? lse->buffer : BufferPtr(), workspace})
              if (held) s.hold(held);
          },
          "stream"_a, "q"_a, "k"_a, "v"_a, "o"_a, "lse"_a = nb::none(),
          "workspace"_a.none() = nb::none(),
          "Enqueue on stream (asynchronous: synchronize before reading O on the host). The stream "
          "holds the operands until the run is done, so temporaries may be passed.");
}
