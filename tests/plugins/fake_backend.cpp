// Test plugins for the registry and the core's argument checks: one source, built several
// times with FAKE_VARIANT selecting how the plugin behaves (see tests/plugins/CMakeLists.txt).
//
//   FAKE_WORKING           "fake": one device (a GPU by its type) whose device memory is host
//                          memory, synchronous streams, timed events. GEMM f32 runs (naive loops,
//                          256 bytes of workspace so the core's workspace checks are exercised);
//                          every other op is created but check reports UNIMPLEMENTED.
//   FAKE_LOSSY             "lossy": like fake, but fill returns DEVICE_LOST.
//   FAKE_BARE              "bare": like fake, but the optional entries (stream_query,
//                          event_query, event_elapsed_ms, op_workspace_size, op_impl_name) are
//                          absent, there is no TIMING flag, no device type, and it runs no op.
//   FAKE_ABI_V2            declares abi_major 2.
//   FAKE_MISSING_REQUIRED  op_run is NULL.
//   FAKE_CREATE_FAILS      backend_create returns UNAVAILABLE with a reason.
//   FAKE_NO_ENTRY          exports no entry symbol.
//   FAKE_NO_DEVICE         device_count reports 0.
//   FAKE_SHORT_TABLE       struct_size smaller than the ABI 1.0 table.
//   FAKE_NULL_TABLE        the entry returns NULL.
//   FAKE_DUPLICATE         a working plugin that also calls itself "fake".
//   FAKE_NEEDS_VENDOR      links a "vendor" library the loader cannot find (dlopen fails).
//
// The working variants also throw std::runtime_error from the entry XINHE_FAKE_THROW names
// (op_create, op_run), for the core's boundary (backend.h: entries must not throw), and treat
// an op_run for an empty problem (m == 0 or n == 0) as the core's error (it must skip it).
//
// Plugins do not link libxinhe: statuses come from the host API given to backend_create.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "xinhe/backend.h"

#define FAKE_WORKING 0
#define FAKE_LOSSY 1
#define FAKE_ABI_V2 2
#define FAKE_MISSING_REQUIRED 3
#define FAKE_CREATE_FAILS 4
#define FAKE_NO_ENTRY 5
#define FAKE_NO_DEVICE 6
#define FAKE_SHORT_TABLE 7
#define FAKE_NULL_TABLE 8
#define FAKE_DUPLICATE 9
#define FAKE_NEEDS_VENDOR 10
#define FAKE_BARE 11

#ifndef FAKE_VARIANT
#error "FAKE_VARIANT must be defined"
#endif
#ifndef FAKE_NAME
#error "FAKE_NAME must be defined"
#endif

struct xinhe_be_backend_s {
  const xinhe_host_api_t* host;
};
struct xinhe_be_device_s {
  const xinhe_host_api_t* host;
};
struct xinhe_be_buffer_s {
  unsigned char* data;
  uint64_t size;
};
struct xinhe_be_stream_s {
  int unused;
};
struct xinhe_be_event_s {
  std::chrono::steady_clock::time_point when;
};
struct xinhe_be_op_s {
  xinhe_op_kind_t kind;
  xinhe_gemm_desc_t gemm;
  bool supported;
};

namespace {

constexpr uint64_t kMinAlignment = 64;
constexpr uint64_t kGemmWorkspaceBytes = 256;

const xinhe_host_api_t* g_host = nullptr;

xinhe_status_t error(xinhe_status_code_t code, const char* call, const char* message) {
  return g_host->status_new(code, FAKE_NAME, call, __FILE__, __LINE__, message);
}

#if FAKE_VARIANT == FAKE_NEEDS_VENDOR
extern "C" int xinhe_test_vendor_init(void);
#endif

xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out_backend) {
  g_host = host;
#if FAKE_VARIANT == FAKE_NEEDS_VENDOR
  if (xinhe_test_vendor_init() != 0) {
    return error(XINHE_STATUS_UNAVAILABLE, "xinhe_test_vendor_init", "vendor init failed");
  }
#endif
#if FAKE_VARIANT == FAKE_CREATE_FAILS
  *out_backend = nullptr;
  return error(XINHE_STATUS_UNAVAILABLE, "dlopen", "libfakevendor.so.1 not found");
#else
  *out_backend = new xinhe_be_backend_s{host};
  return nullptr;
#endif
}

void backend_destroy(xinhe_be_backend_t backend) { delete backend; }

xinhe_status_t device_count(xinhe_be_backend_t, uint32_t* out_count) {
  *out_count = FAKE_VARIANT == FAKE_NO_DEVICE ? 0 : 1;
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t backend, uint32_t, xinhe_be_device_t* out_device) {
  *out_device = new xinhe_be_device_s{backend->host};
  return nullptr;
}

void device_close(xinhe_be_device_t device) { delete device; }

xinhe_status_t device_properties(xinhe_be_device_t, xinhe_device_properties_t* out) {
  std::snprintf(out->description, sizeof(out->description), "xinhe test device (%s)", FAKE_NAME);
  std::snprintf(out->vendor, sizeof(out->vendor), "xinhe tests");
  std::snprintf(out->driver_version, sizeof(out->driver_version), "1.0");
  out->total_memory = uint64_t{1} << 30;
  out->compute_units = 1;
  out->flags = XINHE_DEVICE_FLAG_HOST_MEMORY |
               (FAKE_VARIANT == FAKE_BARE ? 0u : uint32_t{XINHE_DEVICE_FLAG_TIMING});
  out->dtype_caps = XINHE_DTYPE_CAP(XINHE_DTYPE_F32);
  out->min_alignment = kMinAlignment;
  // "bare" leaves the type unset, as a plugin built before it existed: it reads as UNKNOWN.
  if (FAKE_VARIANT != FAKE_BARE && XINHE_STRUCT_HAS(xinhe_device_properties_t, out, device_type)) {
    out->device_type = XINHE_DEVICE_TYPE_GPU;
  }
  return nullptr;
}

xinhe_status_t buffer_alloc(xinhe_be_device_t, uint64_t size, uint64_t alignment,
                            xinhe_be_buffer_t* out_buffer) {
  const uint64_t rounded = (size + alignment - 1) / alignment * alignment;
  void* data = std::aligned_alloc(alignment, rounded);
  if (data == nullptr) return error(XINHE_STATUS_OUT_OF_MEMORY, "aligned_alloc", "out of memory");
  *out_buffer = new xinhe_be_buffer_s{static_cast<unsigned char*>(data), size};
  return nullptr;
}

void buffer_free(xinhe_be_buffer_t buffer) {
  std::free(buffer->data);
  delete buffer;
}

// Work runs synchronously at submission, so streams carry no state.
xinhe_status_t stream_create(xinhe_be_device_t, xinhe_be_stream_t* out_stream) {
  *out_stream = new xinhe_be_stream_s{0};
  return nullptr;
}
void stream_destroy(xinhe_be_stream_t stream) { delete stream; }
xinhe_status_t stream_synchronize(xinhe_be_stream_t) { return nullptr; }
xinhe_status_t stream_query(xinhe_be_stream_t, int* out_done) {
  *out_done = 1;
  return nullptr;
}

unsigned char* at(xinhe_be_mem_t mem) { return mem.buffer->data + mem.offset; }

xinhe_status_t copy_host_to_device(xinhe_be_stream_t, xinhe_be_mem_t dst, const void* src,
                                   uint64_t size) {
  std::memcpy(at(dst), src, size);
  return nullptr;
}
xinhe_status_t copy_device_to_host(xinhe_be_stream_t, void* dst, xinhe_be_mem_t src,
                                   uint64_t size) {
  std::memcpy(dst, at(src), size);
  return nullptr;
}
xinhe_status_t copy_device_to_device(xinhe_be_stream_t, xinhe_be_mem_t dst, xinhe_be_mem_t src,
                                     uint64_t size) {
  std::memcpy(at(dst), at(src), size);
  return nullptr;
}
xinhe_status_t fill(xinhe_be_stream_t, xinhe_be_mem_t dst, uint64_t size, const void* pattern,
                    uint32_t pattern_size) {
#if FAKE_VARIANT == FAKE_LOSSY
  (void)dst, (void)size, (void)pattern, (void)pattern_size;
  return error(XINHE_STATUS_DEVICE_LOST, "fill", "simulated device fault");
#else
  for (uint64_t i = 0; i < size; i += pattern_size) std::memcpy(at(dst) + i, pattern, pattern_size);
  return nullptr;
#endif
}

xinhe_status_t event_create(xinhe_be_device_t, xinhe_be_event_t* out_event) {
  *out_event = new xinhe_be_event_s{};
  return nullptr;
}
void event_destroy(xinhe_be_event_t event) { delete event; }
xinhe_status_t event_record(xinhe_be_event_t event, xinhe_be_stream_t) {
  event->when = std::chrono::steady_clock::now();
  return nullptr;
}
xinhe_status_t stream_wait_event(xinhe_be_stream_t, xinhe_be_event_t) { return nullptr; }
xinhe_status_t event_synchronize(xinhe_be_event_t) { return nullptr; }
xinhe_status_t event_query(xinhe_be_event_t, int* out_done) {
  *out_done = 1;
  return nullptr;
}
xinhe_status_t event_elapsed_ms(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms) {
  *out_ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return nullptr;
}

void throw_if_asked(const char* entry) {
  const char* which = std::getenv("XINHE_FAKE_THROW");
  if (which != nullptr && std::string(which) == entry)
    throw std::runtime_error(std::string("fake throws from ") + entry);
}

xinhe_status_t op_create(xinhe_be_device_t, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out) {
  throw_if_asked("op_create");
  auto* op = new xinhe_be_op_s{};
  op->kind = desc->kind;
  if (desc->kind == XINHE_OP_GEMM) {
    op->gemm = *desc->gemm;
    op->supported = FAKE_VARIANT != FAKE_BARE && op->gemm.ab_dtype == XINHE_DTYPE_F32 &&
                    op->gemm.c_dtype == XINHE_DTYPE_F32;
  }
  *out = op;
  return nullptr;
}
void op_destroy(xinhe_be_op_t op) { delete op; }
xinhe_status_t op_check(xinhe_be_op_t op) {
  if (op->supported) return nullptr;
  return error(XINHE_STATUS_UNIMPLEMENTED, "op_check",
               op->kind == XINHE_OP_GEMM ? "fake backend runs GEMM in f32 only"
                                         : "fake backend runs no attention");
}
xinhe_status_t op_workspace_size(xinhe_be_op_t op, uint64_t* out_bytes) {
  *out_bytes = op->supported ? kGemmWorkspaceBytes : 0;
  return nullptr;
}
const char* op_impl_name(xinhe_be_op_t op) {
  return op->supported ? FAKE_NAME ".gemm.naive_f32" : FAKE_NAME ".unsupported";
}

// C = alpha * op(A) op(B) + beta * C with plain loops. Each dot product is staged through the
// workspace so that a missing or misplaced workspace is noticed (ASan, wrong results).
xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t, const xinhe_be_op_args_t* args) {
  if (!op->supported) {
    return error(XINHE_STATUS_INTERNAL, "op_run", "op_run called although op_check failed");
  }
  throw_if_asked("op_run");
  const xinhe_gemm_desc_t& d = op->gemm;
  const xinhe_be_mem_t* mem = args->mem;
  if (d.m == 0 || d.n == 0) {
    return error(XINHE_STATUS_INTERNAL, "op_run", "the core ran an empty problem (backend.h)");
  }
  if (mem[XINHE_GEMM_ARG_WORKSPACE].buffer == nullptr) {
    return error(XINHE_STATUS_INTERNAL, "op_run", "the core passed no workspace");
  }
  unsigned char* workspace = at(mem[XINHE_GEMM_ARG_WORKSPACE]);
  for (int64_t b = 0; b < d.batch; ++b) {
    const float* a =
        d.k == 0 ? nullptr
                 : reinterpret_cast<const float*>(at(mem[XINHE_GEMM_ARG_A])) + b * d.stride_a;
    const float* bm =
        d.k == 0 ? nullptr
                 : reinterpret_cast<const float*>(at(mem[XINHE_GEMM_ARG_B])) + b * d.stride_b;
    float* c = reinterpret_cast<float*>(at(mem[XINHE_GEMM_ARG_C])) + b * d.stride_c;
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < d.k; ++p) {
          const float av = d.trans_a ? a[p * d.lda + i] : a[i * d.lda + p];
          const float bv = d.trans_b ? bm[j * d.ldb + p] : bm[p * d.ldb + j];
          acc += static_cast<double>(av) * bv;
        }
        std::memcpy(workspace + kGemmWorkspaceBytes - sizeof(acc), &acc, sizeof(acc));
        std::memcpy(&acc, workspace + kGemmWorkspaceBytes - sizeof(acc), sizeof(acc));
        float& out = c[i * d.ldc + j];
        const float scaled = args->alpha * static_cast<float>(acc);
        out = args->beta == 0.0f ? scaled : scaled + args->beta * out;
      }
    }
  }
  return nullptr;
}

xinhe_backend_api_t make_table() {
  xinhe_backend_api_t t;
  std::memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.abi_major = XINHE_BACKEND_ABI_MAJOR;
  t.abi_minor = XINHE_BACKEND_ABI_MINOR;
  t.name = FAKE_NAME;
  t.backend_create = backend_create;
  t.backend_destroy = backend_destroy;
  t.device_count = device_count;
  t.device_open = device_open;
  t.device_close = device_close;
  t.device_properties = device_properties;
  t.buffer_alloc = buffer_alloc;
  t.buffer_free = buffer_free;
  t.stream_create = stream_create;
  t.stream_destroy = stream_destroy;
  t.stream_synchronize = stream_synchronize;
  t.stream_query = stream_query;
  t.copy_host_to_device = copy_host_to_device;
  t.copy_device_to_host = copy_device_to_host;
  t.copy_device_to_device = copy_device_to_device;
  t.fill = fill;
  t.event_create = event_create;
  t.event_destroy = event_destroy;
  t.event_record = event_record;
  t.stream_wait_event = stream_wait_event;
  t.event_synchronize = event_synchronize;
  t.event_query = event_query;
  t.event_elapsed_ms = event_elapsed_ms;
  t.op_create = op_create;
  t.op_destroy = op_destroy;
  t.op_check = op_check;
  t.op_workspace_size = op_workspace_size;
  t.op_impl_name = op_impl_name;
  t.op_run = op_run;
#if FAKE_VARIANT == FAKE_BARE
  t.stream_query = nullptr;
  t.event_query = nullptr;
  t.event_elapsed_ms = nullptr;
  t.op_workspace_size = nullptr;
  t.op_impl_name = nullptr;
#elif FAKE_VARIANT == FAKE_ABI_V2
  t.abi_major = 2;
  t.abi_minor = 0;
#elif FAKE_VARIANT == FAKE_MISSING_REQUIRED
  t.op_run = nullptr;
#elif FAKE_VARIANT == FAKE_SHORT_TABLE
  t.struct_size = offsetof(xinhe_backend_api_t, op_create);
#endif
  return t;
}

const xinhe_backend_api_t kTable = make_table();

}  // namespace

#if FAKE_VARIANT != FAKE_NO_ENTRY
extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(uint32_t, uint32_t) {
  return FAKE_VARIANT == FAKE_NULL_TABLE ? nullptr : &kTable;
}
#else
// A library that is not a xinhe plugin: some other exported function, no entry.
extern "C" XINHE_BACKEND_EXPORT int xinhe_test_not_a_plugin(void) { return 1; }
#endif
