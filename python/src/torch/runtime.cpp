// xinhe.torch runtime: device table, streams, allocator with its address map, device guard,
// events and the PrivateUse1 hooks. See runtime.h for the model.
#include "runtime.h"

#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace xinhe_torch {

void check(xinhe_status_t status, const char* what) {
  if (status == nullptr) return;
  std::string text = std::string(what) + ": " + xinhe_status_code_name(xinhe_status_code(status));
  const std::string backend = xinhe_status_backend(status);
  if (!backend.empty()) text += " [" + backend + "]";
  const std::string call = xinhe_status_call(status);
  if (!call.empty()) text += " in " + call;
  text += ": " + std::string(xinhe_status_message(status));
  xinhe_status_free(status);
  TORCH_CHECK(false, text);
}

namespace {

struct DeviceState {
  xinhe_device_t device = nullptr;
  xinhe_device_properties_t properties{};
  bool host = false;
  std::mutex mutex;                      // guards streams
  std::vector<xinhe_stream_t> streams;   // [0] default, [1..kStreamPoolSize] pool; never destroyed
  std::atomic<uint64_t> next_pooled{0};  // round-robin position in the pool
  std::atomic<bool> pending{false};
  std::mutex sync_mutex;  // one sync_device at a time (see there)
  std::atomic<int64_t> allocated{0};    // bytes of live allocations (memory_allocated)
};

// torch.Stream draws from a fixed pool per device, round-robin like CUDA's stream pool: a
// stream each call would leak (on cpu:0 each xinhe stream is a worker thread), and torch
// never says when a stream is no longer used.
constexpr size_t kStreamPoolSize = 8;

struct Table {
  std::vector<std::unique_ptr<DeviceState>> devices;
  Table() {
    size_t count = 0;
    xinhe_status_t status = xinhe_device_count(&count);
    if (status != nullptr) {  // no devices rather than an exception (deviceCount is noexcept)
      xinhe_status_free(status);
      return;
    }
    for (size_t i = 0; i < count; ++i) {
      auto state = std::make_unique<DeviceState>();
      check(xinhe_device_get(i, &state->device), "xinhe_device_get");
      state->properties.struct_size = sizeof(state->properties);
      check(xinhe_device_properties(state->device, &state->properties), "xinhe_device_properties");
      // Host addresses are handed out only where the backend exposes them (buffers of the
      // CPU backend); PoCL's OpenCL buffers are host memory but opaque cl_mem objects.
      xinhe_buffer_t probe = nullptr;
      check(xinhe_buffer_alloc(state->device, 64, 0, &probe), "xinhe_buffer_alloc");
      void* pointer = nullptr;
      xinhe_status_t host = xinhe_buffer_host_pointer(probe, &pointer);
      state->host = host == nullptr;
      xinhe_status_free(host);
      xinhe_buffer_free(probe);
      devices.push_back(std::move(state));
    }
  }
};

Table& table() {
  static Table* t = new Table();  // leaked: torch may free tensors during interpreter exit
  return *t;
}

DeviceState& state(int index) {
  Table& t = table();
  TORCH_CHECK(index >= 0 && size_t(index) < t.devices.size(), "xinhe device index ", index,
              " out of range (", t.devices.size(), " devices)");
  return *t.devices[size_t(index)];
}

thread_local int tls_current_device = 0;
thread_local std::vector<int64_t> tls_current_stream;  // per device index; 0 = default

xinhe_stream_t stream_by_id(int index, int64_t id) {
  DeviceState& s = state(index);
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.streams.empty()) {
    xinhe_stream_t stream = nullptr;
    check(xinhe_stream_create(s.device, &stream), "xinhe_stream_create");
    s.streams.push_back(stream);
  }
  TORCH_CHECK(id >= 0 && size_t(id) < s.streams.size(), "unknown xinhe stream id ", id);
  return s.streams[size_t(id)];
}

// The next stream of the device's pool (ids 1..kStreamPoolSize), created on first use.
int64_t pooled_stream(int index) {
  stream_by_id(index, 0);  // the default stream exists first
  DeviceState& s = state(index);
  const size_t id = 1 + size_t(s.next_pooled.fetch_add(1) % kStreamPoolSize);
  std::lock_guard<std::mutex> lock(s.mutex);
  while (s.streams.size() <= id) {
    xinhe_stream_t stream = nullptr;
    check(xinhe_stream_create(s.device, &stream), "xinhe_stream_create");
    s.streams.push_back(stream);
  }
  return int64_t(id);
}

int64_t current_stream_id(int index) {
  if (tls_current_stream.size() <= size_t(index)) return 0;
  return tls_current_stream[size_t(index)];
}

// ---- Address map ----------------------------------------------------------------------------

struct Allocation {
  xinhe_buffer_t buffer;
  uintptr_t base;
  uint64_t size;
  uint64_t reserved;  // bytes of reserved address space (non-host devices); 0 for host memory
  int device;
  c10::Storage* adopted = nullptr;  // the CPU storage a wrapped buffer keeps alive
};

std::mutex g_map_mutex;
std::map<uintptr_t, Allocation*>& address_map() {
  static auto* m = new std::map<uintptr_t, Allocation*>();
  return *m;
}

void free_allocation(void* context) {
  auto* a = static_cast<Allocation*>(context);
  {
    std::lock_guard<std::mutex> lock(g_map_mutex);
    address_map().erase(a->base);
  }
  // Waits for the device's queued work on every stream before the memory can be reused; this
  // is what makes record_stream a no-op (ops.cpp).
  sync_device(a->device);
  state(a->device).allocated.fetch_sub(int64_t(a->size));
  xinhe_buffer_free(a->buffer);
  if (a->reserved != 0) munmap(reinterpret_cast<void*>(a->base), a->reserved);
  delete a->adopted;
  delete a;
}

class XinheAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    const int index = tls_current_device;
    DeviceState& s = state(index);
    const c10::Device device(c10::DeviceType::PrivateUse1, c10::DeviceIndex(index));
    if (n == 0) return c10::DataPtr(nullptr, nullptr, &c10::detail::deleteNothing, device);
    xinhe_buffer_t buffer = nullptr;
    check(xinhe_buffer_alloc(s.device, n, 0, &buffer), "xinhe_buffer_alloc");
    auto* a = new Allocation{buffer, 0, n, 0, index};
    if (s.host) {
      void* pointer = nullptr;
      check(xinhe_buffer_host_pointer(buffer, &pointer), "xinhe_buffer_host_pointer");
      a->base = reinterpret_cast<uintptr_t>(pointer);
    } else {
      const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
      a->reserved = (n + page - 1) / page * page;
      void* range =
          mmap(nullptr, a->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (range == MAP_FAILED) {
        xinhe_buffer_free(buffer);
        delete a;
        TORCH_CHECK(false, "xinhe: cannot reserve ", n, " bytes of address space");
      }
      a->base = reinterpret_cast<uintptr_t>(range);
    }
    {
      std::lock_guard<std::mutex> lock(g_map_mutex);
      address_map()[a->base] = a;
    }
    s.allocated.fetch_add(int64_t(n));
    return c10::DataPtr(reinterpret_cast<void*>(a->base), a, &free_allocation, device);
  }

  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    if (count == 0) return;
    Location d = locate_pointer(dest), s = locate_pointer(src);
    TORCH_CHECK(d.device == s.device, "xinhe copy_data across devices");
    xinhe_stream_t stream = current_stream(d.device);
    check(xinhe_copy_device_to_device(stream, d.buffer, d.offset, s.buffer, s.offset, count),
          "xinhe_copy_device_to_device");
    check(xinhe_stream_synchronize(stream), "xinhe_stream_synchronize");
  }

  static Location locate_pointer(const void* pointer) {
    const auto p = reinterpret_cast<uintptr_t>(pointer);
    std::lock_guard<std::mutex> lock(g_map_mutex);
    auto& m = address_map();
    auto it = m.upper_bound(p);
    TORCH_CHECK(it != m.begin(), "xinhe: pointer ", pointer, " is not xinhe device memory");
    --it;
    const Allocation* a = it->second;
    TORCH_CHECK(p >= a->base && p <= a->base + a->size, "xinhe: pointer ", pointer,
                " is not xinhe device memory");
    return Location{a->buffer, uint64_t(p - a->base), a->size, a->device};
  }
};

XinheAllocator g_allocator;

// ---- Device guard, streams and events -----------------------------------------------------------

struct EventState {
  xinhe_event_t event = nullptr;
  int device = -1;
};

class XinheGuardImpl final : public c10::impl::DeviceGuardImplInterface {
 public:
  static constexpr c10::DeviceType kType = c10::DeviceType::PrivateUse1;
  c10::DeviceType type() const override { return kType; }
  c10::Device exchangeDevice(c10::Device d) const override {
    const c10::Device old = getDevice();
    setDevice(d);
    return old;
  }
  c10::Device getDevice() const override {
    return c10::Device(kType, c10::DeviceIndex(tls_current_device));
  }
  void setDevice(c10::Device d) const override {
    TORCH_CHECK(d.type() == kType, "xinhe guard got a ", d.type(), " device");
    if (d.index() >= 0) {
      state(d.index());  // validates
      tls_current_device = d.index();
    }
  }
  void uncheckedSetDevice(c10::Device d) const noexcept override {
    if (d.index() >= 0) tls_current_device = d.index();
  }
  c10::Stream getStream(c10::Device d) const override {
    const int index = d.index() >= 0 ? d.index() : tls_current_device;
    return c10::Stream(c10::Stream::UNSAFE, c10::Device(kType, c10::DeviceIndex(index)),
                       current_stream_id(index));
  }
  c10::Stream getDefaultStream(c10::Device d) const override {
    const int index = d.index() >= 0 ? d.index() : tls_current_device;
    return c10::Stream(c10::Stream::UNSAFE, c10::Device(kType, c10::DeviceIndex(index)), 0);
  }
  c10::Stream getNewStream(c10::Device d, int /*priority*/) const override {
    const int index = d.index() >= 0 ? d.index() : tls_current_device;
    return c10::Stream(c10::Stream::UNSAFE, c10::Device(kType, c10::DeviceIndex(index)),
                       pooled_stream(index));
  }
  c10::Stream getStreamFromGlobalPool(c10::Device d, bool /*high_priority*/) const override {
    return getNewStream(d, 0);
  }
  c10::Stream exchangeStream(c10::Stream s) const override {
    const int index = s.device_index();
    const c10::Stream old = getStream(s.device());
    stream_by_id(index, s.id());  // validates
    if (tls_current_stream.size() <= size_t(index)) tls_current_stream.resize(size_t(index) + 1, 0);
    tls_current_stream[size_t(index)] = s.id();
    return old;
  }
  c10::DeviceIndex deviceCount() const noexcept override {
    return c10::DeviceIndex(device_count());
  }

  void record(void** event, const c10::Stream& stream, const c10::DeviceIndex device_index,
              const c10::EventFlag /*flag*/) const override {
    const int index = device_index >= 0 ? device_index : stream.device_index();
    auto* e = static_cast<EventState*>(*event);
    if (e == nullptr) {
      e = new EventState();
      e->device = index;
      check(xinhe_event_create(state(index).device, &e->event), "xinhe_event_create");
      *event = e;
    }
    TORCH_CHECK(e->device == stream.device_index(), "event and stream are on different devices");
    check(xinhe_event_record(e->event, stream_by_id(stream.device_index(), stream.id())),
          "xinhe_event_record");
  }
  void block(void* event, const c10::Stream& stream) const override {
    if (event == nullptr) return;
    auto* e = static_cast<EventState*>(event);
    check(xinhe_stream_wait_event(stream_by_id(stream.device_index(), stream.id()), e->event),
          "xinhe_stream_wait_event");
  }
  bool queryEvent(void* event) const override {
    if (event == nullptr) return true;
    int done = 0;
    check(xinhe_event_query(static_cast<EventState*>(event)->event, &done), "xinhe_event_query");
    return done != 0;
  }
  void destroyEvent(void* event, const c10::DeviceIndex) const noexcept override {
    auto* e = static_cast<EventState*>(event);
    if (e == nullptr) return;
    xinhe_event_destroy(e->event);
    delete e;
  }
  void synchronizeEvent(void* event) const override {
    if (event == nullptr) return;
    check(xinhe_event_synchronize(static_cast<EventState*>(event)->event),
          "xinhe_event_synchronize");
  }
  double elapsedTime(void* start, void* end, const c10::DeviceIndex) const override {
    TORCH_CHECK(start != nullptr && end != nullptr, "both events must be recorded");
    float ms = 0;
    check(xinhe_event_elapsed_ms(static_cast<EventState*>(start)->event,
                                 static_cast<EventState*>(end)->event, &ms),
          "xinhe_event_elapsed_ms");
    return ms;
  }
  bool queryStream(const c10::Stream& stream) const override {
    int done = 0;
    check(xinhe_stream_query(stream_by_id(stream.device_index(), stream.id()), &done),
          "xinhe_stream_query");
    return done != 0;
  }
  void synchronizeStream(const c10::Stream& stream) const override {
    check(xinhe_stream_synchronize(stream_by_id(stream.device_index(), stream.id())),
          "xinhe_stream_synchronize");
  }
  void synchronizeDevice(const c10::DeviceIndex device_index) const override {
    const int index = device_index >= 0 ? device_index : tls_current_device;
    state(index).pending.store(true);
    sync_device(index);
  }
};

class XinheHooks final : public at::PrivateUse1HooksInterface {
 public:
  bool isBuilt() const override { return true; }
  bool isAvailable() const override { return device_count() > 0; }
  bool hasPrimaryContext(c10::DeviceIndex index) const override {
    return index >= 0 && index < device_count();
  }
  c10::DeviceIndex deviceCount() const override { return c10::DeviceIndex(device_count()); }
  void setCurrentDevice(c10::DeviceIndex index) const override {
    state(index);
    tls_current_device = index;
  }
  c10::DeviceIndex getCurrentDevice() const override {
    return c10::DeviceIndex(tls_current_device);
  }
  c10::DeviceIndex exchangeDevice(c10::DeviceIndex index) const override {
    const int old = tls_current_device;
    setCurrentDevice(index);
    return c10::DeviceIndex(old);
  }
  c10::DeviceIndex maybeExchangeDevice(c10::DeviceIndex index) const override {
    return exchangeDevice(index);
  }
  at::Device getDeviceFromPtr(void* data) const override {
    const Location l = XinheAllocator::locate_pointer(data);
    return at::Device(c10::DeviceType::PrivateUse1, c10::DeviceIndex(l.device));
  }
  bool isPinnedPtr(const void*) const override { return false; }
  // tensor.to("cpu", non_blocking=True) allocates its destination here. xinhe has no pinned
  // host memory to offer, and needs none: copies to the host are synchronous (copy_from), so
  // plain CPU memory serves and the data is complete when .to() returns.
  at::Allocator* getPinnedMemoryAllocator() const override { return c10::GetCPUAllocator(); }
  void resizePrivateUse1Bytes(const c10::Storage& storage, size_t new_bytes) const override {
    // The storage's own device, not the current one: the allocator allocates on the current
    // device (an empty storage keeps its device in its DataPtr).
    const c10::DeviceGuard guard(storage.device());
    const size_t old_bytes = storage.nbytes();
    c10::DataPtr fresh = g_allocator.allocate(new_bytes);
    const size_t keep = std::min(old_bytes, new_bytes);
    if (keep > 0) g_allocator.copy_data(fresh.get(), storage.data(), keep);
    storage.unsafeGetStorageImpl()->set_data_ptr_noswap(std::move(fresh));
    storage.unsafeGetStorageImpl()->set_nbytes(new_bytes);
  }
};

struct Registration {
  Registration() {
    c10::SetAllocator(c10::DeviceType::PrivateUse1, &g_allocator);
    at::RegisterPrivateUse1HooksInterface(new XinheHooks());
  }
};
Registration g_registration;

}  // namespace

C10_REGISTER_GUARD_IMPL(PrivateUse1, XinheGuardImpl);

int device_count() { return int(table().devices.size()); }
xinhe_device_t xinhe_device(int index) { return state(index).device; }
const xinhe_device_properties_t& device_properties(int index) { return state(index).properties; }
bool host_addressable(int index) { return state(index).host; }

xinhe_stream_t current_stream(int index) { return stream_by_id(index, current_stream_id(index)); }

void note_pending(int index) { state(index).pending.store(true, std::memory_order_release); }

void sync_device(int index) {
  DeviceState& s = state(index);
  // One synchronizer at a time: a caller that finds the flag cleared by a sync still in
  // progress on another thread must wait for that sync (it may be about to free memory that
  // work the sync covers still uses; record_stream relies on this).
  std::lock_guard<std::mutex> sync(s.sync_mutex);
  if (!s.pending.exchange(false, std::memory_order_acq_rel)) return;
  std::vector<xinhe_stream_t> streams;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    streams = s.streams;
  }
  for (xinhe_stream_t stream : streams)
    check(xinhe_stream_synchronize(stream), "xinhe_stream_synchronize");
}

void sync_all_devices() {
  for (int i = 0; i < device_count(); ++i) sync_device(i);
}

Location locate(const at::Tensor& tensor) {
  TORCH_CHECK(tensor.device().type() == c10::DeviceType::PrivateUse1, "not a xinhe tensor");
  if (tensor.numel() == 0 || tensor.storage().nbytes() == 0) {
    return Location{nullptr, 0, 0, tensor.device().index()};
  }
  return XinheAllocator::locate_pointer(tensor.data_ptr());
}

uint64_t span_bytes(const at::Tensor& tensor) {
  if (tensor.numel() == 0) return 0;
  int64_t last = 0;
  for (int64_t d = 0; d < tensor.dim(); ++d) last += (tensor.size(d) - 1) * tensor.stride(d);
  return uint64_t(last + 1) * tensor.element_size();
}

c10::Allocator* allocator() { return &g_allocator; }

std::string non_plain_kind(const at::Tensor& t) {
  if (!t.defined()) return "";
  if (t.is_quantized()) return "quantized";
  if (t.is_nested()) return "nested";
  if (t.is_mkldnn()) return "mkldnn";
  if (t.is_sparse()) return "sparse (COO)";
  if (t.is_sparse_csr()) return "sparse compressed (" + c10::str(t.layout()) + ")";
  if (t.layout() != at::kStrided) return c10::str(t.layout());
  return "";
}

int64_t memory_allocated(int index) { return state(index).allocated.load(); }

at::Tensor adopt_host_tensor(const at::Tensor& cpu, int index) {
  const std::string kind = non_plain_kind(cpu);
  TORCH_CHECK(kind.empty(), "xinhe: cannot adopt a ", kind,
              " CPU tensor as xinhe memory; xinhe tensors are plain strided tensors");
  DeviceState& s = state(index);
  const c10::Storage& storage = cpu.storage();
  const auto base = reinterpret_cast<uintptr_t>(storage.data());
  const uint64_t bytes = storage.nbytes();
  if (!s.host || bytes == 0 || base % s.properties.min_alignment != 0) return {};
  {
    std::lock_guard<std::mutex> lock(g_map_mutex);
    auto& m = address_map();
    auto it = m.upper_bound(base + bytes - 1);  // any allocation starting inside [base, end)
    if (it != m.begin()) {
      --it;
      if (it->second->base + it->second->size > base) return {};  // already xinhe memory
    }
  }
  xinhe_buffer_t buffer = nullptr;
  xinhe_status_t status =
      xinhe_buffer_wrap_host(s.device, reinterpret_cast<void*>(base), bytes, &buffer);
  if (status != nullptr) {
    xinhe_status_free(status);
    return {};
  }
  auto* a = new Allocation{buffer, base, bytes, 0, index, new c10::Storage(storage)};
  {
    std::lock_guard<std::mutex> lock(g_map_mutex);
    address_map()[base] = a;
  }
  s.allocated.fetch_add(int64_t(bytes));
  const c10::Device device(c10::DeviceType::PrivateUse1, c10::DeviceIndex(index));
  c10::Storage adopted(c10::Storage::use_byte_size_t(), bytes,
                       c10::DataPtr(reinterpret_cast<void*>(base), a, &free_allocation, device),
                       &g_allocator, /*resizable=*/false);
  at::Tensor out = at::detail::make_tensor<c10::TensorImpl>(
      std::move(adopted), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), cpu.dtype());
  out.unsafeGetTensorImpl()->set_sizes_and_strides(cpu.sizes(), cpu.strides(),
                                                   cpu.storage_offset());
  return out;
}

}  // namespace xinhe_torch
