// Hostile test plugins for tests/hostile, one source built once per HOSTILE_VARIANT:
//
//   HOSTILE_OK          "okplugin": a minimal working backend with one device (its file is
//                       copied, truncated, made world-writable... by the tests)
//   HOSTILE_REENTRANT   backend_create calls the public xinhe_device_count (found with
//                       dlsym, plugins do not link libxinhe) and fails with what it got
//   HOSTILE_HUGE_COUNT  device_count reports 2^32 - 1 devices; device_open fails past 300
//                       so that a core without a cap still finishes, with another reason
//   HOSTILE_TINY_TABLE  the entry returns a table of 8 bytes (struct_size = 8) placed at the
//                       end of a page followed by an inaccessible page
//   HOSTILE_EVIL_NAME   the table's name holds escape codes and a newline
//   HOSTILE_ODD_PROPS   "oddprops": its device reports device_type 99 (from a newer header)
//                       and leaves min_alignment 0
//   HOSTILE_SIGNALS     "signals": backend_create installs its own SIGUSR1 and SIGSEGV
//                       handlers and an alternate signal stack, as PoCL's LLVM does
//   HOSTILE_CTOR_THROWS   a static constructor throws "ctor boom" (inside dlopen)
//   HOSTILE_ENTRY_THROWS  the entry throws "entry boom"
//   HOSTILE_COUNT_THROWS, HOSTILE_OPEN_THROWS, HOSTILE_PROPS_THROWS  device_count,
//                       device_open or device_properties throws "<entry> boom"
//   HOSTILE_TORN_TABLE  "torntable": struct_size ends 4 bytes into buffer_address, which
//                       points at a working function; buffers of 64 bytes can be allocated
//   HOSTILE_CREATE_EXIT backend_create ends the process with exit(7)
//
// Ops are not supported by any variant (op_create says UNIMPLEMENTED); devices have no memory
// (except the torn table's).
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "xinhe/backend.h"

#define HOSTILE_OK 0
#define HOSTILE_REENTRANT 1
#define HOSTILE_HUGE_COUNT 2
#define HOSTILE_TINY_TABLE 3
#define HOSTILE_EVIL_NAME 4
#define HOSTILE_ODD_PROPS 5
#define HOSTILE_SIGNALS 6
#define HOSTILE_CTOR_THROWS 7
#define HOSTILE_ENTRY_THROWS 8
#define HOSTILE_COUNT_THROWS 9
#define HOSTILE_OPEN_THROWS 10
#define HOSTILE_PROPS_THROWS 11
#define HOSTILE_TORN_TABLE 12
#define HOSTILE_CREATE_EXIT 13

#ifndef HOSTILE_VARIANT
#error "HOSTILE_VARIANT must be defined"
#endif

struct xinhe_be_backend_s {
  const xinhe_host_api_t* host;
};
struct xinhe_be_device_s {
  int unused;
};

namespace {

#if HOSTILE_VARIANT == HOSTILE_EVIL_NAME
constexpr const char* kName = "evil\x1b[31m\nname";
#else
constexpr const char* kName = "hostile";
#endif

const xinhe_host_api_t* g_host = nullptr;
xinhe_be_device_s g_device{0};

#if HOSTILE_VARIANT == HOSTILE_CTOR_THROWS
const int g_constructed = [] {
  throw std::runtime_error("ctor boom");
  return 1;
}();
#endif

xinhe_status_t unsupported(const char* call) {
  return g_host->status_new(XINHE_STATUS_UNIMPLEMENTED, "hostile", call, __FILE__, __LINE__,
                            "the hostile test plugin runs nothing");
}

#if HOSTILE_VARIANT == HOSTILE_SIGNALS
void plugin_handler(int) {}
alignas(16) char g_alt_stack[64 * 1024];
#endif

xinhe_status_t backend_create(const xinhe_host_api_t* host, xinhe_be_backend_t* out) {
  g_host = host;
#if HOSTILE_VARIANT == HOSTILE_CREATE_EXIT
  std::exit(7);
#endif
#if HOSTILE_VARIANT == HOSTILE_SIGNALS
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = plugin_handler;
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGSEGV, &sa, nullptr);
  stack_t ss;
  std::memset(&ss, 0, sizeof(ss));
  ss.ss_sp = g_alt_stack;
  ss.ss_size = sizeof(g_alt_stack);
  sigaltstack(&ss, nullptr);
#endif
#if HOSTILE_VARIANT == HOSTILE_REENTRANT
  *out = nullptr;
  // The public API of the libxinhe that loaded us, looked up in the process.
  auto count =
      reinterpret_cast<xinhe_status_t (*)(size_t*)>(dlsym(RTLD_DEFAULT, "xinhe_device_count"));
  auto code_of = reinterpret_cast<xinhe_status_code_t (*)(xinhe_status_t)>(
      dlsym(RTLD_DEFAULT, "xinhe_status_code"));
  auto name_of = reinterpret_cast<const char* (*)(xinhe_status_code_t)>(
      dlsym(RTLD_DEFAULT, "xinhe_status_code_name"));
  auto message_of = reinterpret_cast<const char* (*)(xinhe_status_t)>(
      dlsym(RTLD_DEFAULT, "xinhe_status_message"));
  auto free_status =
      reinterpret_cast<void (*)(xinhe_status_t)>(dlsym(RTLD_DEFAULT, "xinhe_status_free"));
  if (count == nullptr || code_of == nullptr || name_of == nullptr || message_of == nullptr ||
      free_status == nullptr) {
    return host->status_new(XINHE_STATUS_INTERNAL, "hostile", "dlsym", __FILE__, __LINE__,
                            "the xinhe API is not in the process");
  }
  size_t devices = 0;
  xinhe_status_t inner = count(&devices);  // re-enters the registry while it loads us
  const std::string message = std::string("re-entrant xinhe_device_count returned ") +
                              name_of(code_of(inner)) + ": " + message_of(inner);
  free_status(inner);
  return host->status_new(XINHE_STATUS_UNAVAILABLE, "hostile", "xinhe_device_count", __FILE__,
                          __LINE__, message.c_str());
#else
  *out = new xinhe_be_backend_s{host};
  return nullptr;
#endif
}

void backend_destroy(xinhe_be_backend_t b) { delete b; }

xinhe_status_t device_count(xinhe_be_backend_t, uint32_t* out) {
  if (HOSTILE_VARIANT == HOSTILE_COUNT_THROWS) throw std::runtime_error("device_count boom");
  *out = HOSTILE_VARIANT == HOSTILE_HUGE_COUNT ? 0xFFFFFFFFu : 1u;
  return nullptr;
}

xinhe_status_t device_open(xinhe_be_backend_t, uint32_t index, xinhe_be_device_t* out) {
  if (HOSTILE_VARIANT == HOSTILE_OPEN_THROWS) throw std::runtime_error("device_open boom");
  if (HOSTILE_VARIANT == HOSTILE_HUGE_COUNT && index >= 300) {
    return g_host->status_new(XINHE_STATUS_INTERNAL, "hostile", "device_open", __FILE__, __LINE__,
                              "the core kept opening devices");
  }
  *out = &g_device;
  return nullptr;
}

void device_close(xinhe_be_device_t) {}

xinhe_status_t device_properties(xinhe_be_device_t, xinhe_device_properties_t* out) {
  if (HOSTILE_VARIANT == HOSTILE_PROPS_THROWS) throw std::runtime_error("device_properties boom");
  std::snprintf(out->description, sizeof(out->description), "hostile test device");
#if HOSTILE_VARIANT == HOSTILE_ODD_PROPS
  out->device_type = 99;
#else
  out->min_alignment = 64;
#endif
  return nullptr;
}

#if HOSTILE_VARIANT == HOSTILE_TORN_TABLE
alignas(64) unsigned char g_memory[64];
xinhe_status_t buffer_alloc(xinhe_be_device_t, uint64_t size, uint64_t, xinhe_be_buffer_t* out) {
  if (size > sizeof(g_memory)) return unsupported("buffer_alloc");
  *out = reinterpret_cast<xinhe_be_buffer_t>(g_memory);
  return nullptr;
}
xinhe_status_t buffer_address(xinhe_be_buffer_t buffer, uint64_t* out) {
  *out = reinterpret_cast<uintptr_t>(buffer);
  return nullptr;
}
#else
xinhe_status_t buffer_alloc(xinhe_be_device_t, uint64_t, uint64_t, xinhe_be_buffer_t*) {
  return unsupported("buffer_alloc");
}
#endif
void buffer_free(xinhe_be_buffer_t) {}
xinhe_status_t stream_create(xinhe_be_device_t, xinhe_be_stream_t*) {
  return unsupported("stream_create");
}
void stream_destroy(xinhe_be_stream_t) {}
xinhe_status_t stream_synchronize(xinhe_be_stream_t) { return nullptr; }
xinhe_status_t copy_h2d(xinhe_be_stream_t, xinhe_be_mem_t, const void*, uint64_t) {
  return unsupported("copy_host_to_device");
}
xinhe_status_t copy_d2h(xinhe_be_stream_t, void*, xinhe_be_mem_t, uint64_t) {
  return unsupported("copy_device_to_host");
}
xinhe_status_t copy_d2d(xinhe_be_stream_t, xinhe_be_mem_t, xinhe_be_mem_t, uint64_t) {
  return unsupported("copy_device_to_device");
}
xinhe_status_t fill(xinhe_be_stream_t, xinhe_be_mem_t, uint64_t, const void*, uint32_t) {
  return unsupported("fill");
}
xinhe_status_t event_create(xinhe_be_device_t, xinhe_be_event_t*) {
  return unsupported("event_create");
}
void event_destroy(xinhe_be_event_t) {}
xinhe_status_t event_record(xinhe_be_event_t, xinhe_be_stream_t) { return nullptr; }
xinhe_status_t stream_wait_event(xinhe_be_stream_t, xinhe_be_event_t) { return nullptr; }
xinhe_status_t event_synchronize(xinhe_be_event_t) { return nullptr; }
xinhe_status_t op_create(xinhe_be_device_t, const xinhe_be_op_desc_t*, xinhe_be_op_t*) {
  return unsupported("op_create");
}
void op_destroy(xinhe_be_op_t) {}
xinhe_status_t op_check(xinhe_be_op_t) { return unsupported("op_check"); }
xinhe_status_t op_run(xinhe_be_op_t, xinhe_be_stream_t, const xinhe_be_op_args_t*) {
  return unsupported("op_run");
}

xinhe_backend_api_t make_table() {
  xinhe_backend_api_t t;
  std::memset(&t, 0, sizeof(t));
  t.struct_size = sizeof(t);
  t.abi_major = XINHE_BACKEND_ABI_MAJOR;
  t.abi_minor = XINHE_BACKEND_ABI_MINOR;
  t.name = kName;
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
  t.copy_host_to_device = copy_h2d;
  t.copy_device_to_host = copy_d2h;
  t.copy_device_to_device = copy_d2d;
  t.fill = fill;
  t.event_create = event_create;
  t.event_destroy = event_destroy;
  t.event_record = event_record;
  t.stream_wait_event = stream_wait_event;
  t.event_synchronize = event_synchronize;
  t.op_create = op_create;
  t.op_destroy = op_destroy;
  t.op_check = op_check;
  t.op_run = op_run;
#if HOSTILE_VARIANT == HOSTILE_TORN_TABLE
  // A pointer whose low half alone is inside struct_size: calling that half crashes.
  t.buffer_address = buffer_address;
  t.struct_size = offsetof(xinhe_backend_api_t, buffer_address) + 4;
#endif
  return t;
}

const xinhe_backend_api_t kTable = make_table();

#if HOSTILE_VARIANT == HOSTILE_TINY_TABLE
// struct_size = 8 as the last bytes of a readable page; the next page cannot be touched.
const xinhe_backend_api_t* tiny_table() {
  static const xinhe_backend_api_t* table = [] {
    const long page = sysconf(_SC_PAGESIZE);
    void* base =
        mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return static_cast<const xinhe_backend_api_t*>(nullptr);
    char* end_of_first = static_cast<char*>(base) + page;
    const size_t struct_size = sizeof(size_t);
    std::memcpy(end_of_first - sizeof(size_t), &struct_size, sizeof(size_t));
    mprotect(end_of_first, page, PROT_NONE);
    return reinterpret_cast<const xinhe_backend_api_t*>(end_of_first - sizeof(size_t));
  }();
  return table;
}
#endif

}  // namespace

extern "C" XINHE_BACKEND_EXPORT const xinhe_backend_api_t* xinhe_backend_entry(uint32_t, uint32_t) {
#if HOSTILE_VARIANT == HOSTILE_ENTRY_THROWS
  throw std::runtime_error("entry boom");
#elif HOSTILE_VARIANT == HOSTILE_TINY_TABLE
  return tiny_table();
#else
  return &kTable;
#endif
}
