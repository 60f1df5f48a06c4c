/* xinhe base: version, status, dtypes, and the rules every xinhe call follows.
 *
 * Rules (apply to every function in include/xinhe/, C and C++):
 *
 * Status. Every fallible call returns xinhe_status_t. NULL means success; anything else is a
 * heap object the caller owns and must release with xinhe_status_free(). Its code, message,
 * backend, failing call and source location can be read until it is freed. Outputs come last
 * in the argument list and are written only on success.
 *
 * Ownership. Handles returned by *_create / *_alloc are owned by the caller and released by
 * the matching *_destroy / *_free (NULL is accepted and ignored). Devices are owned by the
 * registry and live until the process exits; xinhe_device_t values are borrowed and never
 * freed. Strings returned by the API are owned by the object they came from and stay valid
 * as long as it does. Pointers passed in are borrowed for the duration of the call, except
 * host memory given to an asynchronous copy, which must stay valid until the stream reaches
 * that copy (synchronize the stream or an event recorded after it).
 *
 * Threading. The registry, devices and buffers may be used from any thread. A stream or an
 * event may be used from several threads, but the order of work submitted concurrently to
 * one stream is unspecified. Op handles (xinhe_gemm_t, xinhe_attention_t) are immutable after
 * creation and may be run from several threads on different streams.
 *
 * Destruction with pending work. Destroying a stream waits for its queued work first.
 * Freeing a buffer that queued work still uses is a programmer error (the memory may be
 * reused); synchronize first.
 *
 * Getters without a status (xinhe_device_name, xinhe_buffer_size, xinhe_buffer_device,
 * xinhe_stream_device, xinhe_*_impl_name, the xinhe_status_* accessors, xinhe_dtype_size and
 * xinhe_dtype_name, xinhe_status_code_name) accept NULL or an unknown value and return the
 * empty answer: "" for a name, 0 for a size, NULL for a handle, "?" for an unknown dtype,
 * "UNKNOWN" for an unknown code; they never crash. Destroy and free functions ignore NULL.
 *
 * Errors. Bad arguments return XINHE_STATUS_INVALID_ARGUMENT and change nothing. A shape the
 * device cannot run returns XINHE_STATUS_UNIMPLEMENTED with the reason. A backend that
 * cannot be used reports XINHE_STATUS_UNAVAILABLE. A device whose context is poisoned
 * reports XINHE_STATUS_DEVICE_LOST from then on.
 */
#ifndef XINHE_BASE_H_
#define XINHE_BASE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define XINHE_API __declspec(dllexport)
#else
#define XINHE_API __attribute__((visibility("default")))
#endif

#define XINHE_VERSION_MAJOR 0
#define XINHE_VERSION_MINOR 1
#define XINHE_VERSION_PATCH 0

/* "0.1.0"; owned by the library. */
XINHE_API const char* xinhe_version_string(void);

/* Canonical status codes (after absl::StatusCode / IREE). */
typedef enum xinhe_status_code_t {
  XINHE_STATUS_OK = 0,
  XINHE_STATUS_INVALID_ARGUMENT = 1,    /* the caller passed something wrong */
  XINHE_STATUS_UNIMPLEMENTED = 2,       /* valid, but this device/backend cannot do it */
  XINHE_STATUS_UNAVAILABLE = 3,         /* backend or driver missing, no device */
  XINHE_STATUS_OUT_OF_MEMORY = 4,       /* device or host allocation failed */
  XINHE_STATUS_FAILED_PRECONDITION = 5, /* valid call in the wrong state */
  XINHE_STATUS_NOT_FOUND = 6,           /* no such device / backend name */
  XINHE_STATUS_INTERNAL = 7,            /* a bug or an unexpected vendor error */
  XINHE_STATUS_DEVICE_LOST = 8,         /* sticky: the device faulted */
} xinhe_status_code_t;

typedef struct xinhe_status_s* xinhe_status_t;

/* Accessors accept NULL (success): code OK and empty strings. */
XINHE_API xinhe_status_code_t xinhe_status_code(xinhe_status_t status);
XINHE_API const char* xinhe_status_message(xinhe_status_t status);
/* The backend of the device the failing call was made for ("cpu", "opencl"), also when the
 * core refused the arguments before the backend saw them; "" for calls tied to no device
 * (the registry, the default device). */
XINHE_API const char* xinhe_status_backend(xinhe_status_t status);
/* The failing call: a vendor function ("clBuildProgram") or an API entry ("xinhe_gemm_run");
 * a failure while a backend starts names its step ("backend_create", in the backend's reason). */
XINHE_API const char* xinhe_status_call(xinhe_status_t status);
XINHE_API const char* xinhe_status_file(xinhe_status_t status);
XINHE_API int xinhe_status_line(xinhe_status_t status);
XINHE_API void xinhe_status_free(xinhe_status_t status);
/* "INVALID_ARGUMENT"; static storage. */
XINHE_API const char* xinhe_status_code_name(xinhe_status_code_t code);

/* Element types. The values are part of the ABI. */
typedef enum xinhe_dtype_t {
  XINHE_DTYPE_F32 = 0,
  XINHE_DTYPE_F16 = 1,
  XINHE_DTYPE_BF16 = 2,
  XINHE_DTYPE_F64 = 3,
  XINHE_DTYPE_COUNT = 4,
} xinhe_dtype_t;

/* Bytes per element; 0 for an unknown dtype. */
XINHE_API size_t xinhe_dtype_size(xinhe_dtype_t dtype);
/* "f32", "f16", "bf16", "f64"; "?" when unknown. */
XINHE_API const char* xinhe_dtype_name(xinhe_dtype_t dtype);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* XINHE_BASE_H_ */
