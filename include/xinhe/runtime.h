/* xinhe runtime: registry -> backends -> devices, and per device streams, buffers, events and
 * asynchronous copies. See base.h for the ownership, threading and error rules. */
#ifndef XINHE_RUNTIME_H_
#define XINHE_RUNTIME_H_

#include "xinhe/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xinhe_device_s* xinhe_device_t; /* borrowed from the registry */
typedef struct xinhe_stream_s* xinhe_stream_t; /* owned; in-order queue */
typedef struct xinhe_buffer_s* xinhe_buffer_t; /* owned; device memory */
typedef struct xinhe_event_s* xinhe_event_t;   /* owned */

/* ---- Registry ------------------------------------------------------------------------------
 * The registry is built on first use: the built-in CPU backend, then every plugin found in
 * the folders of XINHE_BACKEND_PATH (':'-separated) and in the installed lib/xinhe/ folder
 * (files named libxinhe_backend_*.so). A plugin that cannot be used is kept in the backend
 * list with loaded = 0 and the reason, and contributes no device.
 *
 * Before dlopen a plugin must be a regular file (FIFOs, folders and devices are refused
 * without blocking) whose ELF headers and segments lie inside it (a truncated file is refused,
 * not mapped). Its table is checked struct_size first; its name must be 1-32 characters of
 * [a-z0-9_]; a backend may report at most 256 devices. Registry calls made from inside a
 * plugin while it is being loaded (from backend_create, say) return FAILED_PRECONDITION.
 * Plugin files or folders writable by every user, and relative XINHE_BACKEND_PATH entries,
 * are warned about on stderr; XINHE_PLUGIN_STRICT=1 refuses them instead (any value but "0" or
 * empty turns strict mode on, with a warning when it is not "1"). Loading leaves the process's
 * signal handlers and the loading thread's alternate signal stack as they were: what a plugin
 * or its driver replaces while it is opened and started is put back. A handler another thread
 * installs during that window cannot be told from the plugin's and is put back too: install
 * handlers before the first registry call (device lookup, count or backend_load) or after it
 * returns, or call xinhe_device_count once first; XINHE_VERBOSE=load names each one put back. */

typedef struct xinhe_backend_info_t {
  size_t struct_size;        /* set by the caller: sizeof(xinhe_backend_info_t) */
  const char* name;          /* "cpu", "opencl"; for a plugin that failed early, the file stem */
  const char* path;          /* plugin file; "" for a built-in backend */
  int loaded;                /* 1: usable, its devices are listed */
  const char* reason;        /* why it was skipped ("" when loaded) */
  xinhe_status_code_t code;  /* status of the load (UNAVAILABLE, FAILED_PRECONDITION...) */
  uint32_t abi_major;        /* the plugin's declared ABI version; 0 when unknown */
  uint32_t abi_minor;
  uint32_t device_count;
} xinhe_backend_info_t;

XINHE_API xinhe_status_t xinhe_backend_count(size_t* out_count);
/* Strings in *out_info are owned by the registry. */
XINHE_API xinhe_status_t xinhe_backend_info(size_t index, xinhe_backend_info_t* out_info);
/* Loads one more plugin from an explicit path (used by xinhe-conform for out-of-tree plugins).
 * On success *out_backend_index names it in xinhe_backend_info. A plugin that cannot be used
 * returns its reason as the status (and is also listed with loaded = 0). Loading the same
 * path twice returns the existing entry. */
XINHE_API xinhe_status_t xinhe_backend_load(const char* path, size_t* out_backend_index);

XINHE_API xinhe_status_t xinhe_device_count(size_t* out_count);
XINHE_API xinhe_status_t xinhe_device_get(size_t index, xinhe_device_t* out_device);
/* name: "<backend>:<index within that backend>", e.g. "cpu:0", "opencl:1". */
XINHE_API xinhe_status_t xinhe_device_get_by_name(const char* name, xinhe_device_t* out_device);
/* The default device: XINHE_DEVICE when set to a name as above (an unknown name is an error,
 * not a silent fallback; an empty value counts as unset, so `XINHE_DEVICE= prog` clears it).
 * Otherwise the first accelerator, by device type (properties' device_type: GPU, NPU or
 * another accelerator), taking backends in this order: cuda, hip, level_zero, other plugins in
 * load order, opencl; and within a backend the lowest index. Without an accelerator it is
 * cpu:0, the built-in CPU backend, even where another backend also runs on the CPU (PoCL's
 * OpenCL CPU device is a CPU, not an accelerator); should that backend have failed to start,
 * the first other CPU device. A device whose backend does not report its type (UNKNOWN) is
 * never the default; name it in XINHE_DEVICE. */
XINHE_API xinhe_status_t xinhe_device_get_default(xinhe_device_t* out_device);

/* ---- Device properties ---------------------------------------------------------------------- */

/* Bits of xinhe_device_properties_t.dtype_caps: 1 << xinhe_dtype_t means the device runs ops
 * with that element type (at least one implementation exists). */
#define XINHE_DTYPE_CAP(dtype) (1u << (unsigned)(dtype))

/* What kind of processor a device is (xinhe_device_properties_t.device_type). */
typedef enum xinhe_device_type_t {
  XINHE_DEVICE_TYPE_UNKNOWN = 0,     /* not reported (backend older than the field) */
  XINHE_DEVICE_TYPE_CPU = 1,         /* host cores: the cpu backend, OpenCL CPU devices */
  XINHE_DEVICE_TYPE_GPU = 2,
  XINHE_DEVICE_TYPE_NPU = 3,         /* a neural-network processor (Ascend, Cambricon MLU...) */
  XINHE_DEVICE_TYPE_ACCELERATOR = 4, /* another accelerator (FPGA, DSP...) */
} xinhe_device_type_t;

/* "unknown", "cpu", "gpu", "npu", "accelerator"; "unknown" for any other value. Static storage. */
XINHE_API const char* xinhe_device_type_name(xinhe_device_type_t type);

enum {
  XINHE_DEVICE_FLAG_TIMING = 1u << 0,         /* events measure elapsed time */
  XINHE_DEVICE_FLAG_HOST_MEMORY = 1u << 1,    /* device memory is host memory (CPU, PoCL) */
  XINHE_DEVICE_FLAG_FP64 = 1u << 2,           /* native double precision */
};

typedef struct xinhe_device_properties_t {
  size_t struct_size;             /* set by the caller */
  char name[256];                 /* "cpu:0" style name */
  char description[256];          /* model: "AMD EPYC 7B13", "NVIDIA H100 80GB HBM3" */
  char vendor[128];
  char backend[32];
  char driver_version[128];
  uint64_t total_memory;          /* bytes */
  uint64_t free_memory;           /* bytes at the time of the query; 0 when unknown */
  uint32_t compute_units;         /* cores / SMs / CUs */
  uint32_t flags;                 /* XINHE_DEVICE_FLAG_* */
  uint32_t dtype_caps;            /* XINHE_DTYPE_CAP bits */
  uint32_t reserved0;
  uint64_t min_alignment;         /* bytes; every buffer is at least this aligned */
  double peak_flops[XINHE_DTYPE_COUNT]; /* dense FLOP/s per input dtype; 0 when unknown */
  double memory_bandwidth;        /* bytes/s; 0 when unknown */
  /* Appended after the 0.1.0 release: a caller built against 0.1.0 passes the struct without it
   * (XINHE_DEVICE_PROPERTIES_SIZE_V0_1 bytes). */
  uint32_t device_type;           /* xinhe_device_type_t */
  uint32_t reserved1;
} xinhe_device_properties_t;

/* The struct_size of xinhe_device_properties_t in xinhe 0.1, before device_type. */
#define XINHE_DEVICE_PROPERTIES_SIZE_V0_1 offsetof(xinhe_device_properties_t, device_type)

/* out_properties->struct_size is set by the caller: at least the 0.1 size. Fills the fields the
 * caller's struct has and sets struct_size to the size filled. */
XINHE_API xinhe_status_t xinhe_device_properties(xinhe_device_t device,
                                                 xinhe_device_properties_t* out_properties);
/* "cpu:0"; owned by the registry. NULL device gives "". */
XINHE_API const char* xinhe_device_name(xinhe_device_t device);

/* ---- Streams: in-order queues ---------------------------------------------------------------- */

XINHE_API xinhe_status_t xinhe_stream_create(xinhe_device_t device, xinhe_stream_t* out_stream);
/* Waits for queued work, then releases the stream. */
XINHE_API void xinhe_stream_destroy(xinhe_stream_t stream);
XINHE_API xinhe_status_t xinhe_stream_synchronize(xinhe_stream_t stream);
/* *out_done = 1 when all submitted work has finished. */
XINHE_API xinhe_status_t xinhe_stream_query(xinhe_stream_t stream, int* out_done);
XINHE_API xinhe_device_t xinhe_stream_device(xinhe_stream_t stream);

/* ---- Buffers --------------------------------------------------------------------------------- */

/* alignment: 0 for the device minimum, else a power of two; the result is aligned to
 * max(alignment, min_alignment). An alignment the device cannot honour is an error, never
 * ignored: XINHE_STATUS_UNIMPLEMENTED with the reason (an OpenCL device places buffers itself
 * and accepts nothing above its min_alignment; the CPU refuses more than the machine's memory),
 * or XINHE_STATUS_OUT_OF_MEMORY when the allocator cannot satisfy it. A non-power of two is
 * INVALID_ARGUMENT. size 0 is allowed and gives a valid empty buffer (no memory is allocated,
 * so whether the alignment could be honoured is not checked; it must still be 0 or a power of
 * two). */
XINHE_API xinhe_status_t xinhe_buffer_alloc(xinhe_device_t device, uint64_t size,
                                            uint64_t alignment, xinhe_buffer_t* out_buffer);
XINHE_API void xinhe_buffer_free(xinhe_buffer_t buffer);
XINHE_API uint64_t xinhe_buffer_size(xinhe_buffer_t buffer);
XINHE_API xinhe_device_t xinhe_buffer_device(xinhe_buffer_t buffer);
/* The device address of the buffer's first byte, on devices that expose one (CPU: the host
 * pointer; CUDA and HIP: the device pointer), for interop with vendor libraries and to verify
 * alignment. Valid until the buffer is freed. UNIMPLEMENTED where buffers are opaque handles
 * (OpenCL) and for a 0-byte buffer, which has no memory. */
XINHE_API xinhe_status_t xinhe_buffer_address(xinhe_buffer_t buffer, uint64_t* out_address);

/* ---- Host access: for devices whose memory the host addresses directly ----------------------
 * Zero-copy exchange with host code (DLPack, framework tensors). Only backends whose buffers
 * are plain host memory offer it (the CPU backend); elsewhere both calls return UNIMPLEMENTED
 * with the reason, and the caller copies instead. The host may touch a buffer's memory only
 * while no queued work uses it: synchronize the stream (or an event) first. */

/* The host address of the buffer's first byte (NULL for a 0-byte buffer). */
XINHE_API xinhe_status_t xinhe_buffer_host_pointer(xinhe_buffer_t buffer, void** out_pointer);
/* A buffer over size bytes of host memory the caller owns and keeps valid until
 * xinhe_buffer_free, which releases the handle and never the memory. pointer must be aligned
 * to the device's min_alignment (INVALID_ARGUMENT otherwise); size 0 gives an empty buffer. */
XINHE_API xinhe_status_t xinhe_buffer_wrap_host(xinhe_device_t device, void* pointer, uint64_t size,
                                                xinhe_buffer_t* out_buffer);

/* ---- Copies and fill, asynchronous on a stream -------------------------------------------------
 * Offsets and sizes are in bytes (any byte; op operands have stricter rules, see ops.h).
 * Buffers must belong to the stream's device; ranges must lie inside the buffer;
 * device->device ranges in the same buffer must not overlap. A copy's host memory must stay
 * valid, and unchanged (host->device) or untouched (device->host), until the stream reaches
 * the copy: synchronize the stream or an event recorded after it first. A fill's pattern is
 * read during the call. */

XINHE_API xinhe_status_t xinhe_copy_host_to_device(xinhe_stream_t stream, xinhe_buffer_t dst,
                                                   uint64_t dst_offset, const void* src,
                                                   uint64_t size);
XINHE_API xinhe_status_t xinhe_copy_device_to_host(xinhe_stream_t stream, void* dst,
                                                   xinhe_buffer_t src, uint64_t src_offset,
                                                   uint64_t size);
XINHE_API xinhe_status_t xinhe_copy_device_to_device(xinhe_stream_t stream, xinhe_buffer_t dst,
                                                     uint64_t dst_offset, xinhe_buffer_t src,
                                                     uint64_t src_offset, uint64_t size);
/* Repeats a 1, 2 or 4 byte pattern; offset and size must be multiples of pattern_size. */
XINHE_API xinhe_status_t xinhe_buffer_fill(xinhe_stream_t stream, xinhe_buffer_t dst,
                                           uint64_t offset, uint64_t size, const void* pattern,
                                           uint32_t pattern_size);

/* ---- Events ---------------------------------------------------------------------------------- */

/* An event belongs to the device it was created on and is recorded on that device's streams.
 * It stays valid after the stream it was recorded on is destroyed: destroying a stream waits
 * for its work, so the event is then complete, and query, synchronize, stream_wait_event and
 * elapsed_ms keep working on it. Destroying an event that a stream still waits on is a
 * programmer error (synchronize first). */
XINHE_API xinhe_status_t xinhe_event_create(xinhe_device_t device, xinhe_event_t* out_event);
XINHE_API void xinhe_event_destroy(xinhe_event_t event);
/* Captures the work submitted to stream so far; re-recording replaces the capture. The stream
 * must belong to the event's device. */
XINHE_API xinhe_status_t xinhe_event_record(xinhe_event_t event, xinhe_stream_t stream);
/* Work submitted to stream after this call waits for event's captured work. An event never
 * recorded is already complete.
 * Same device: the wait is queued on the stream and the call does not block the host.
 * Another device (cross-device ordering, e.g. a CPU stage feeding a GPU stage): the wait
 * happens on the host, so the call blocks the calling thread until the event's captured work
 * is complete (as xinhe_event_synchronize), then returns; everything submitted to stream
 * afterwards is ordered after that work. An error of the event's device is returned as is. */
XINHE_API xinhe_status_t xinhe_stream_wait_event(xinhe_stream_t stream, xinhe_event_t event);
XINHE_API xinhe_status_t xinhe_event_synchronize(xinhe_event_t event);
XINHE_API xinhe_status_t xinhe_event_query(xinhe_event_t event, int* out_done);
/* Milliseconds between two completed, recorded events of the same device. UNIMPLEMENTED
 * when the device has no XINHE_DEVICE_FLAG_TIMING; FAILED_PRECONDITION when either is
 * unrecorded or not complete. */
XINHE_API xinhe_status_t xinhe_event_elapsed_ms(xinhe_event_t start, xinhe_event_t end,
                                                float* out_ms);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_RUNTIME_H_ */
