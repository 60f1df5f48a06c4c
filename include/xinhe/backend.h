/* xinhe backend plugin ABI: what a chip vendor implements to make xinhe run on its device.
 *
 * A backend is a shared library (libxinhe_backend_<name>.so) exporting one C symbol,
 * XINHE_BACKEND_ENTRY_SYMBOL, that returns a table of function pointers (after PJRT's C API and
 * ggml's backend interface). The built-in CPU backend implements the same table.
 *
 * Versioning. abi_major changes break compatibility: the core refuses a table whose major
 * differs from its own. abi_minor grows the table by appending entries; every struct starts
 * with struct_size so either side can tell which fields the other knows. Entries past the
 * plugin's struct_size are treated as absent (NULL). Minor versions so far:
 *   1.0  the tables below up to op_run and xinhe_host_api_t up to log;
 *   1.1  the OPTIONAL host access entries buffer_host_pointer and buffer_wrap_host;
 *   1.2  the OPTIONAL buffer_address;
 *   1.3  xinhe_host_api_t.impl_filter (the implementation filter, served by the core), the
 *        OPTIONAL op_run_impl_name, and device_properties' device_type.
 * The core passes its own version in xinhe_host_api_t (abi_major, abi_minor).
 *
 * Entries are REQUIRED unless marked OPTIONAL, with the behaviour the core uses when absent.
 * A table missing a required entry is rejected with the entry's name as the reason.
 *
 * Division of labour. The core validates every argument before calling a backend: handles
 * belong to this backend and device, shapes are well-formed, byte ranges lie inside buffers
 * and do not overlap where forbidden, sizes do not overflow. A backend trusts what it receives
 * and converts its vendor's errors into statuses, once, at this boundary. The core tracks
 * whether an event was recorded and makes a device lost (sticky) when any entry returns
 * XINHE_STATUS_DEVICE_LOST.
 *
 * Plugins must not link libxinhe: statuses are created through xinhe_host_api_t. A plugin that
 * needs a vendor library should dlopen it inside backend_create and fail there with
 * XINHE_STATUS_UNAVAILABLE and a reason, so a missing driver never stops the host loading.
 *
 * The contract, point by point (docs/porting.md explains each with an example):
 *
 *  1. Exceptions. No entry may throw: the boundary is a C ABI. The core nevertheless catches
 *     whatever escapes loading (the plugin's static constructors, the entry function,
 *     backend_create, device_count, device_open, device_properties: the plugin is skipped with
 *     INTERNAL naming the step) and op_create, op_check, op_workspace_size, op_impl_name and
 *     op_run (where a C++ plugin does its allocating work: INTERNAL naming the entry, "backend
 *     entry op_run threw: std::bad_alloc"); an exception from any other entry is undefined
 *     behaviour (in practice std::terminate). A static constructor that throws leaves the C
 *     library's loader lock held, so dlopen on another thread hangs afterwards.
 *  2. Concurrency. The core calls entries from any thread, without a lock of its own, except:
 *     backend_create, device_count, device_open, device_close and backend_destroy run once
 *     each, from one thread, never concurrently with anything else of the same backend.
 *     Everything else may run concurrently on different objects, and on the same stream or
 *     event from several threads (base.h: the order of such work is then unspecified, but
 *     each entry must stay memory-safe). An op may run on several streams at once. A vendor
 *     whose runtime keeps per-thread state (AscendCL's current context, CUDA's current
 *     context) must set it in every entry.
 *  3. Asynchronous errors. Enqueueing entries (copies, fill, event_record, stream_wait_event,
 *     op_run) may return OK for work that fails later on the device. Such a failure surfaces
 *     from the next entry that observes the stream: stream_synchronize, event_synchronize,
 *     event_query, stream_query, or a later enqueue on it. Return DEVICE_LOST when the vendor
 *     says the device needs a reset (the core then fails every later call on the device) and
 *     INTERNAL otherwise, with the vendor's message.
 *  4. Empty problems. The core never calls op_run for an op with no output element (GEMM m or
 *     n 0, attention B, Hq or Sq 0). It does call it for K == 0 and Skv == 0, with the
 *     operands that cover no bytes (A and B, or K and V) as NULL buffers: write C = beta * C,
 *     or O = 0 and LSE = -inf, without touching them.
 *  5. dtypes. op_create receives every well-formed description, f64 included, whatever the
 *     device claims in dtype_caps. Create the op and decline at op_check (UNIMPLEMENTED with
 *     the reason) what the device does not run; never fail op_create for it.
 *  6. Versions. The entry returns the plugin's table whatever host version it is given; the
 *     core compares abi_major and reports "plugin ABI 2.0, core supports 1.x". NULL is for a
 *     plugin that cannot run at all, and then the version shown is unknown.
 *  7. Vendor libraries. dlopen them in backend_create, never at load time, looking first in a
 *     folder named by XINHE_<BACKEND>_LIBRARY_DIR, then where the vendor's own environment
 *     points (ASCEND_TOOLKIT_HOME/lib64, NEUWARE_HOME/lib64, CUDA's driver in the loader's
 *     path), then in the dynamic loader's search path; never relative to the working folder.
 *     When one is missing, return UNAVAILABLE naming the library and where it looked.
 *  8. Lifetime. The core never tears a loaded backend down: devices live for the process.
 *     backend_destroy (after device_close of the devices opened) runs only when loading fails
 *     after backend_create succeeded (device_count fails or says 0, a device_open fails), and
 *     the core may dlclose the plugin right after: leave no thread or callback behind. Do not
 *     unload or finalise the vendor runtime there when it cannot be initialised again in the
 *     same process (aclFinalize): keep its libraries loaded instead.
 *  9. Op kinds. A kind added by a later minor version is passed only to plugins whose
 *     abi_minor includes it. A plugin given a kind it does not know (a core that broke this
 *     rule) creates an op that declines it at op_check, or returns UNIMPLEMENTED from
 *     op_create; it never guesses.
 * 10. Declining. A backend may decline any shape, layout or head dim its library cannot take,
 *     also of a dtype it claims: op_check and op_run return UNIMPLEMENTED with the reason, and
 *     outputs stay untouched. dtype_caps claims that the device runs the dtype, not every
 *     shape of it: the conformance suite reports a declined shape as UNSUPPORTED, gives a
 *     coverage figure per claimed dtype, and fails a claim that no case of the dtype runs. */
#ifndef XINHE_BACKEND_H_
#define XINHE_BACKEND_H_

#include "xinhe/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XINHE_BACKEND_ABI_MAJOR 1u
#define XINHE_BACKEND_ABI_MINOR 3u /* 1.1: host access; 1.2: buffer_address; 1.3: dispatch */
#define XINHE_BACKEND_ENTRY_SYMBOL "xinhe_backend_entry"

/* Backend-owned objects; the core never looks inside them. */
typedef struct xinhe_be_backend_s* xinhe_be_backend_t;
typedef struct xinhe_be_device_s* xinhe_be_device_t;
typedef struct xinhe_be_stream_s* xinhe_be_stream_t;
typedef struct xinhe_be_buffer_s* xinhe_be_buffer_t;
typedef struct xinhe_be_event_s* xinhe_be_event_t;
typedef struct xinhe_be_op_s* xinhe_be_op_t;

/* 1 when the struct at ptr (of type type, starting with struct_size) is large enough to hold
 * field: how either side of the boundary tells whether the other knows an appended field or
 * entry. */
#define XINHE_STRUCT_HAS(type, ptr, field) \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

typedef enum xinhe_op_kind_t {
  XINHE_OP_GEMM = 1,
  XINHE_OP_ATTENTION = 2,
} xinhe_op_kind_t;

/* Services the core offers the backend. Entries appended by a minor version are present when
 * XINHE_STRUCT_HAS(xinhe_host_api_t, host, entry) holds and the pointer is not NULL; an older
 * core passes a shorter table. */
typedef struct xinhe_host_api_t {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  /* A new status the backend returns to the core. message may be NULL. call names the failing
   * vendor call or the backend function. Never returns NULL for a non-OK code. */
  xinhe_status_t (*status_new)(xinhe_status_code_t code, const char* backend, const char* call,
                               const char* file, int line, const char* message);
  /* 1 when XINHE_VERBOSE lists topic ("dispatch", "load", "all"). */
  int (*verbose_enabled)(const char* topic);
  /* Prints one line to stderr as "xinhe[<topic>] <backend>: <message>" (thread-safe). */
  void (*log)(const char* topic, const char* backend, const char* message);

  /* ---- ABI 1.3 ---- */
  /* The implementation filter the user set for ops of kind (ops.h): the environment's value at
   * the time of the call, or NULL when it is unset or empty (no filter). The string stays valid
   * until the next call of this entry on the same thread. The core is the one place that reads
   * the environment for it; backends apply it through the dispatch walker of
   * xinhe/backend.hpp, which treats an older core (no entry) as "no filter". */
  const char* (*impl_filter)(xinhe_op_kind_t kind);
} xinhe_host_api_t;

/* A byte position in a buffer. buffer is NULL only for an operand covering zero bytes
 * (0-byte buffers have no backend allocation). */
typedef struct xinhe_be_mem_t {
  xinhe_be_buffer_t buffer;
  uint64_t offset;
} xinhe_be_mem_t;

/* Operand slots of xinhe_be_op_args_t.mem per op. */
enum {
  XINHE_GEMM_ARG_A = 0, XINHE_GEMM_ARG_B = 1, XINHE_GEMM_ARG_C = 2, XINHE_GEMM_ARG_WORKSPACE = 3,
};
enum {
  XINHE_ATTENTION_ARG_Q = 0, XINHE_ATTENTION_ARG_K = 1, XINHE_ATTENTION_ARG_V = 2,
  XINHE_ATTENTION_ARG_O = 3, XINHE_ATTENTION_ARG_LSE = 4, XINHE_ATTENTION_ARG_WORKSPACE = 5,
};
#define XINHE_OP_MAX_OPERANDS 8

/* A validated op description; exactly one pointer matching kind is set. The pointed-to
 * description is only valid during op_create: copy what you keep. */
typedef struct xinhe_be_op_desc_t {
  size_t struct_size;
  xinhe_op_kind_t kind;
  const xinhe_gemm_desc_t* gemm;
  const xinhe_attention_desc_t* attention;
} xinhe_be_op_desc_t;

typedef struct xinhe_be_op_args_t {
  size_t struct_size;
  xinhe_op_kind_t kind;
  xinhe_be_mem_t mem[XINHE_OP_MAX_OPERANDS]; /* XINHE_GEMM_ARG_* / XINHE_ATTENTION_ARG_* */
  float alpha;                               /* GEMM only */
  float beta;                                /* GEMM only */
} xinhe_be_op_args_t;

typedef struct xinhe_backend_api_t {
  size_t struct_size; /* sizeof(xinhe_backend_api_t) as the plugin was compiled */
  uint32_t abi_major; /* XINHE_BACKEND_ABI_MAJOR the plugin was compiled against */
  uint32_t abi_minor;
  const char* name;   /* short lowercase name used in device names: "opencl" */

  /* ---- Backend and devices ---- */
  /* Load vendor libraries, enumerate the platform. host outlives the backend. UNAVAILABLE with
   * a reason when the driver or library is missing. */
  xinhe_status_t (*backend_create)(const xinhe_host_api_t* host, xinhe_be_backend_t* out_backend);
  void (*backend_destroy)(xinhe_be_backend_t backend);
  xinhe_status_t (*device_count)(xinhe_be_backend_t backend, uint32_t* out_count);
  xinhe_status_t (*device_open)(xinhe_be_backend_t backend, uint32_t index,
                                xinhe_be_device_t* out_device);
  void (*device_close)(xinhe_be_device_t device);
  /* Fill everything but name and backend, which the core sets. The core zero-fills the struct
   * first, so a field left alone reads as 0 (device_type: UNKNOWN, never the default device).
   * Write device_type only when XINHE_STRUCT_HAS(xinhe_device_properties_t, out_properties,
   * device_type): a 1.0 core passes the shorter struct of xinhe 0.1. */
  xinhe_status_t (*device_properties)(xinhe_be_device_t device,
                                      xinhe_device_properties_t* out_properties);

  /* ---- Memory ---- size > 0; alignment is a power of two >= the device's min_alignment.
   * The buffer must start at a multiple of alignment; when the backend cannot place it so,
   * return UNIMPLEMENTED with the reason (never ignore the request). min_alignment is a
   * promise: every buffer is at least that aligned (0, a field left alone, reads as 1; a value
   * that is not a power of two makes the backend unavailable). A device_type above the values
   * of the core's runtime.h reads as UNKNOWN, with a warning on stderr. */
  xinhe_status_t (*buffer_alloc)(xinhe_be_device_t device, uint64_t size, uint64_t alignment,
                                 xinhe_be_buffer_t* out_buffer);
  void (*buffer_free)(xinhe_be_buffer_t buffer);

  /* ---- Streams ---- */
  xinhe_status_t (*stream_create)(xinhe_be_device_t device, xinhe_be_stream_t* out_stream);
  /* Must wait for queued work before releasing. */
  void (*stream_destroy)(xinhe_be_stream_t stream);
  xinhe_status_t (*stream_synchronize)(xinhe_be_stream_t stream);
  /* OPTIONAL; absent: the core synchronizes and reports done. */
  xinhe_status_t (*stream_query)(xinhe_be_stream_t stream, int* out_done);

  /* ---- Copies, explicit direction (as aclrtMemcpyAsync / cnrtMemcpyAsync need) ---- size > 0.
   * Asynchronous; the caller keeps host memory valid until the stream reaches the copy, and it
   * may be ordinary pageable memory at any byte alignment (stage it where the driver needs
   * page-locked memory). fill's pattern is borrowed for the call only: capture it. */
  xinhe_status_t (*copy_host_to_device)(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                        const void* src, uint64_t size);
  xinhe_status_t (*copy_device_to_host)(xinhe_be_stream_t stream, void* dst, xinhe_be_mem_t src,
                                        uint64_t size);
  xinhe_status_t (*copy_device_to_device)(xinhe_be_stream_t stream, xinhe_be_mem_t dst,
                                          xinhe_be_mem_t src, uint64_t size);
  /* pattern_size is 1, 2 or 4; size is a multiple of it. */
  xinhe_status_t (*fill)(xinhe_be_stream_t stream, xinhe_be_mem_t dst, uint64_t size,
                         const void* pattern, uint32_t pattern_size);

  /* ---- Events ---- */
  xinhe_status_t (*event_create)(xinhe_be_device_t device, xinhe_be_event_t* out_event);
  void (*event_destroy)(xinhe_be_event_t event);
  xinhe_status_t (*event_record)(xinhe_be_event_t event, xinhe_be_stream_t stream);
  /* Called with an event of the stream's device only (the core waits on the host for another
   * device's event). */
  xinhe_status_t (*stream_wait_event)(xinhe_be_stream_t stream, xinhe_be_event_t event);
  xinhe_status_t (*event_synchronize)(xinhe_be_event_t event);
  /* OPTIONAL; absent: the core synchronizes the event and reports done. */
  xinhe_status_t (*event_query)(xinhe_be_event_t event, int* out_done);
  /* OPTIONAL; absent: UNIMPLEMENTED ("timing not supported"). Called only with two recorded,
   * completed events of one device. */
  xinhe_status_t (*event_elapsed_ms)(xinhe_be_event_t start, xinhe_be_event_t end, float* out_ms);

  /* ---- Ops: describe -> check -> workspace -> run ---- */
  /* Called with a validated description. Should succeed for anything well-formed and record
   * in the op whether (and why not) it can run; returning UNIMPLEMENTED here is also accepted
   * and reported by check. */
  xinhe_status_t (*op_create)(xinhe_be_device_t device, const xinhe_be_op_desc_t* desc,
                              xinhe_be_op_t* out_op);
  /* May be called while runs are still queued; keep what they need alive (e.g. refcount). */
  void (*op_destroy)(xinhe_be_op_t op);
  /* NULL when run will succeed for any valid arguments, else UNIMPLEMENTED with the reason. */
  xinhe_status_t (*op_check)(xinhe_be_op_t op);
  /* OPTIONAL; absent: 0 bytes. */
  xinhe_status_t (*op_workspace_size)(xinhe_be_op_t op, uint64_t* out_bytes);
  /* OPTIONAL; absent: the backend name. Owned by the op. */
  const char* (*op_impl_name)(xinhe_be_op_t op);
  /* Enqueue on stream. Called only when op_check succeeded, with operands validated against
   * the description (ranges in bounds, C/O not overlapping inputs), and never for an op with
   * no output element (contract point 4). */
  xinhe_status_t (*op_run)(xinhe_be_op_t op, xinhe_be_stream_t stream,
                           const xinhe_be_op_args_t* args);

  /* ---- Host access (ABI 1.1), for backends whose buffers are plain host memory ---- */
  /* OPTIONAL; absent: UNIMPLEMENTED. The host address of the buffer's first byte. */
  xinhe_status_t (*buffer_host_pointer)(xinhe_be_buffer_t buffer, void** out_pointer);
  /* OPTIONAL; absent: UNIMPLEMENTED. A buffer over caller-owned host memory (size > 0, pointer
   * aligned to min_alignment); buffer_free releases it without freeing the memory. */
  xinhe_status_t (*buffer_wrap_host)(xinhe_be_device_t device, void* pointer, uint64_t size,
                                     xinhe_be_buffer_t* out_buffer);

  /* ---- ABI 1.2 ---- */
  /* OPTIONAL; absent: xinhe_buffer_address reports UNIMPLEMENTED. The device address of the
   * buffer's first byte (a host pointer for host-memory devices), if the device has one. */
  xinhe_status_t (*buffer_address)(xinhe_be_buffer_t buffer, uint64_t* out_address);

  /* ---- Dispatch (ABI 1.3) ---- */
  /* OPTIONAL; absent: op_impl_name's answer. For a backend that picks a kernel per run (from
   * the operands' addresses, say) after selecting one at op_create: the implementation a run
   * with args uses, in the naming of op_impl_name. Called only when op_check succeeded, with
   * arguments validated as for op_run; enqueues nothing. Owned by the op. */
  const char* (*op_run_impl_name)(xinhe_be_op_t op, const xinhe_be_op_args_t* args);
} xinhe_backend_api_t;

/* The one exported symbol. host_abi_major/minor is the core's version. Return the table
 * whatever the version (contract point 6): the core compares the versions and says which. */
typedef const xinhe_backend_api_t* (*xinhe_backend_entry_fn)(uint32_t host_abi_major,
                                                             uint32_t host_abi_minor);

#if defined(_WIN32)
#define XINHE_BACKEND_EXPORT __declspec(dllexport)
#else
#define XINHE_BACKEND_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_BACKEND_H_ */
