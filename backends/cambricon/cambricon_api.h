// The slice of Cambricon's CNRT (runtime) and CNNL (operator library) C APIs the Cambricon
// plugin calls, declared here so that building the plugin needs no Neuware SDK. Names,
// signatures and enum values follow the public cnrt.h (CNRT 6.x) and cnnl.h; the CNNL data-type
// and matmul-attribute values were checked against the public mlu-ops header, which mirrors
// them. Values not confirmed from public material are marked "unconfirmed" and must be checked
// against an installed cnnl.h before this plugin is trusted on hardware (see
// docs/cambricon.md). Only types and the symbol lists live here: every function is dlopen'ed
// (cambricon_internal.h) and nothing is linked.
//
// The host doubles in tests/cambricon/double implement exactly these declarations.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

// ---- CNRT ----------------------------------------------------------------------------------
typedef enum {
  cnrtSuccess = 0,
  cnrtErrorNotReady = 1,
  cnrtErrorInit = 100002,
  cnrtErrorNoDevice = 100004,
  cnrtErrorDeviceInvalid = 100005,
  cnrtErrorArgsInvalid = 100006,
  cnrtErrorSys = 100007,
  cnrtErrorSysNoMem = 100010,
  cnrtErrorInvalidResourceHandle = 100014,
  cnrtErrorIllegalState = 100015,
  cnrtErrorNotSupport = 100050,
  cnrtErrorNoMem = 100100,
  cnrtErrorMemcpyDirectionInvalid = 632013,
  cnrtErrorBusy = 632014,
  cnrtErrorUnknown = 999991,
} cnrtRet_t;

// Copy directions of cnrtMemcpyAsync (CNRT 6 spelling).
typedef enum {
  cnrtMemcpyHostToDev = 0,
  cnrtMemcpyDevToDev = 1,
  cnrtMemcpyDevToHost = 2,
  cnrtMemcpyHostToHost = 3,
  cnrtMemcpyPeerToPeer = 4,
  cnrtMemcpyNoDirection = 5,
} cnrtMemTransDir_t;

typedef enum {
  cnrtAttrClusterCount = 0x205,
  cnrtAttrMcorePerCluster = 0x206,
  cnrtAttrBF16ComputingSupported = 0x07,
} cnrtDeviceAttr_t;

typedef struct CNqueue_st* cnrtQueue_t;
typedef struct CNnotifier_st* cnrtNotifier_t;

cnrtRet_t cnrtGetDeviceCount(unsigned int* count);
cnrtRet_t cnrtSetDevice(int device);
cnrtRet_t cnrtDeviceGetAttribute(int* value, cnrtDeviceAttr_t attr, int device);
cnrtRet_t cnrtMemGetInfo(size_t* free_bytes, size_t* total_bytes);
void cnrtGetLibVersion(int* major, int* minor, int* patch);
const char* cnrtGetErrorStr(cnrtRet_t error);
cnrtRet_t cnrtMalloc(void** pointer, size_t bytes);
cnrtRet_t cnrtFree(void* pointer);
cnrtRet_t cnrtMemcpyAsync(void* dst, void* src, size_t bytes, cnrtQueue_t queue,
                          cnrtMemTransDir_t direction);
cnrtRet_t cnrtMemsetAsync(void* pointer, int value, size_t bytes, cnrtQueue_t queue);
cnrtRet_t cnrtQueueCreate(cnrtQueue_t* queue);
cnrtRet_t cnrtQueueDestroy(cnrtQueue_t queue);
cnrtRet_t cnrtQueueSync(cnrtQueue_t queue);
cnrtRet_t cnrtQueueQuery(cnrtQueue_t queue);  // cnrtSuccess when idle, cnrtErrorNotReady else
cnrtRet_t cnrtNotifierCreate(cnrtNotifier_t* notifier);
cnrtRet_t cnrtNotifierDestroy(cnrtNotifier_t notifier);
cnrtRet_t cnrtPlaceNotifier(cnrtNotifier_t notifier, cnrtQueue_t queue);
cnrtRet_t cnrtQueueWaitNotifier(cnrtNotifier_t notifier, cnrtQueue_t queue, unsigned int flag);
cnrtRet_t cnrtWaitNotifier(cnrtNotifier_t notifier);
cnrtRet_t cnrtQueryNotifier(cnrtNotifier_t notifier);  // cnrtErrorNotReady while pending
cnrtRet_t cnrtNotifierElapsedTime(cnrtNotifier_t start, cnrtNotifier_t end, float* ms);

// ---- CNNL ----------------------------------------------------------------------------------
typedef enum {
  CNNL_STATUS_SUCCESS = 0,
  CNNL_STATUS_NOT_INITIALIZED = 1,
  CNNL_STATUS_ALLOC_FAILED = 2,
  CNNL_STATUS_BAD_PARAM = 3,
  CNNL_STATUS_INTERNAL_ERROR = 4,
  CNNL_STATUS_ARCH_MISMATCH = 5,
  CNNL_STATUS_EXECUTION_FAILED = 6,
  CNNL_STATUS_NOT_SUPPORTED = 7,
  CNNL_STATUS_NUMERICAL_OVERFLOW = 8,
} cnnlStatus_t;

typedef enum {
  CNNL_LAYOUT_ARRAY = 4,
} cnnlTensorLayout_t;

typedef enum {
  CNNL_DTYPE_INVALID = 0,
  CNNL_DTYPE_HALF = 1,
  CNNL_DTYPE_FLOAT = 2,
  CNNL_DTYPE_INT32 = 6,
  CNNL_DTYPE_DOUBLE = 14,
  CNNL_DTYPE_BFLOAT16 = 17,
} cnnlDataType_t;

typedef enum {
  CNNL_MATMUL_DESC_COMPUTE_TYPE = 0,
  CNNL_MATMUL_DESC_TRANSA = 3,
  CNNL_MATMUL_DESC_TRANSB = 4,
  CNNL_MATMUL_ALLOW_TF32 = 10,
  CNNL_MATMUL_USE_BETA = 11,
  CNNL_MATMUL_USE_STRIDE = 13,
} cnnlMatMulDescAttribute_t;

// The heuristic's preference is an opaque pointer (cnnl.h: typedef struct cnnlMatMulPrefer
// *cnnlMatMulPrefer_t; mlu-ops mirrors it as mluOpMatMulPrefer_t), not an enum. This slice of the
// API creates no preference object: callers pass NULL, as Cambricon's own callers do.
typedef struct cnnlMatMulPrefer* cnnlMatMulPrefer_t;

typedef enum {  // unconfirmed values
  CNNL_ACTIVATION_FAST = 0,
  CNNL_ACTIVATION_HIGH_PRECISION = 1,
} cnnlActivationPreference_t;

// Unconfirmed values. Which corner CNNL_ATTN_MASK_CAUSAL is aligned to when a sequence has
// seq_q != seq_kv is not stated in public material (newer cnnl.h, as torch_mlu calls it, has a
// CNNL_ATTN_MASK_CAUSAL_TOP_LEFT, which hints top-left): the plugin only gives it square
// sequences, where both alignments mean the same mask (docs/cambricon.md).
typedef enum {
  CNNL_ATTN_MASK_NONE = 0,
  CNNL_ATTN_MASK_CAUSAL = 1,
} cnnlAttentionMaskMode_t;

typedef struct cnnlContext* cnnlHandle_t;
typedef struct cnnlTensorStruct* cnnlTensorDescriptor_t;
typedef struct cnnlMatMulStruct* cnnlMatMulDescriptor_t;
typedef struct cnnlMatMulAlgoStruct* cnnlMatMulAlgo_t;
typedef struct cnnlMatMulHeuristicResultStruct* cnnlMatMulHeuristicResult_t;
typedef struct cnnlFlashAttentionStruct* cnnlFlashAttentionDescriptor_t;

cnnlStatus_t cnnlCreate(cnnlHandle_t* handle);
cnnlStatus_t cnnlDestroy(cnnlHandle_t handle);
cnnlStatus_t cnnlSetQueue(cnnlHandle_t handle, cnrtQueue_t queue);
const char* cnnlGetErrorString(cnnlStatus_t status);

cnnlStatus_t cnnlCreateTensorDescriptor(cnnlTensorDescriptor_t* desc);
cnnlStatus_t cnnlDestroyTensorDescriptor(cnnlTensorDescriptor_t desc);
// Dimensions and strides are int32 (elements), outermost first.
cnnlStatus_t cnnlSetTensorDescriptorEx(cnnlTensorDescriptor_t desc, cnnlTensorLayout_t layout,
                                       cnnlDataType_t dtype, int dim_count, const int dims[],
                                       const int strides[]);
// Strided copy between two descriptors of one shape and dtype (either may be strided).
cnnlStatus_t cnnlCopy(cnnlHandle_t handle, const cnnlTensorDescriptor_t input_desc,
                      const void* input, const cnnlTensorDescriptor_t output_desc, void* output);

cnnlStatus_t cnnlMatMulDescCreate(cnnlMatMulDescriptor_t* desc);
cnnlStatus_t cnnlMatMulDescDestroy(cnnlMatMulDescriptor_t desc);
cnnlStatus_t cnnlSetMatMulDescAttr(cnnlMatMulDescriptor_t desc, cnnlMatMulDescAttribute_t attr,
                                   const void* buffer, size_t size);
cnnlStatus_t cnnlMatMulAlgoCreate(cnnlMatMulAlgo_t* algo);
cnnlStatus_t cnnlMatMulAlgoDestroy(cnnlMatMulAlgo_t algo);
cnnlStatus_t cnnlCreateMatMulHeuristicResult(cnnlMatMulHeuristicResult_t* result);
cnnlStatus_t cnnlDestroyMatMulHeuristicResult(cnnlMatMulHeuristicResult_t result);
cnnlStatus_t cnnlGetBatchMatMulAlgoHeuristic(
    cnnlHandle_t handle, cnnlMatMulDescriptor_t desc, cnnlTensorDescriptor_t a_desc,
    cnnlTensorDescriptor_t b_desc, cnnlTensorDescriptor_t c_desc, cnnlMatMulPrefer_t preference,
    int requested_algo_count, cnnlMatMulHeuristicResult_t result_array[], int* return_algo_count);
cnnlStatus_t cnnlGetBatchMatMulHeuristicResult(cnnlMatMulHeuristicResult_t result,
                                               cnnlMatMulAlgo_t algo, size_t* workspace_size);
cnnlStatus_t cnnlBatchMatMulBCast_v2(cnnlHandle_t handle, cnnlMatMulDescriptor_t desc,
                                     cnnlMatMulAlgo_t algo, const void* alpha,
                                     const cnnlTensorDescriptor_t a_desc, const void* a,
                                     const cnnlTensorDescriptor_t b_desc, const void* b,
                                     const void* beta, const cnnlTensorDescriptor_t c_desc, void* c,
                                     void* workspace, size_t workspace_size);

cnnlStatus_t cnnlCreateFlashAttentionDescriptor(cnnlFlashAttentionDescriptor_t* desc);
cnnlStatus_t cnnlDestroyFlashAttentionDescriptor(cnnlFlashAttentionDescriptor_t desc);
cnnlStatus_t cnnlSetFlashAttentionDescriptor(cnnlFlashAttentionDescriptor_t desc,
                                             cnnlDataType_t compute_dtype,
                                             cnnlActivationPreference_t preference,
                                             cnnlAttentionMaskMode_t mask_mode, bool is_pack_mode,
                                             bool is_out_zero, bool return_softmax, int max_seq_q,
                                             int max_seq_kv, float dropout_p, float softmax_scale);
// Window sizes in keys left and right of a query's diagonal, -1 for unbounded, and the
// window's dilation; (-1, -1, 1) is no window, which is what torch_mlu and DIOPI's camb
// implementation set for plain and causal attention. Absent from older CNNL releases.
cnnlStatus_t cnnlSetFlashAttentionSlidingWindowSize(cnnlFlashAttentionDescriptor_t desc,
                                                    int window_size_left, int window_size_right,
                                                    int dilation);
cnnlStatus_t cnnlGetFlashAttentionForwardWorkspaceSize(
    cnnlHandle_t handle, cnnlFlashAttentionDescriptor_t desc, cnnlTensorDescriptor_t q_desc,
    cnnlTensorDescriptor_t k_desc, cnnlTensorDescriptor_t v_desc, size_t* workspace_size);
// Pack mode: Q, O [total_q, Hq, D]; K, V [total_kv, Hkv, D]; cu_seqlens int32 [B + 1] on the
// device; softmax_lse f32 [Hq, total_q]; rng_state a host size_t[2] (Philox seed and offset),
// which every public caller passes, zeroed when there is no dropout.
cnnlStatus_t cnnlFlashAttentionForward(
    cnnlHandle_t handle, cnnlFlashAttentionDescriptor_t desc, cnnlTensorDescriptor_t q_desc,
    const void* q, cnnlTensorDescriptor_t k_desc, const void* k, cnnlTensorDescriptor_t v_desc,
    const void* v, cnnlTensorDescriptor_t cu_seqlens_q_desc, const void* cu_seqlens_q,
    cnnlTensorDescriptor_t cu_seqlens_kv_desc, const void* cu_seqlens_kv, const size_t* rng_state,
    void* workspace, size_t workspace_size, cnnlTensorDescriptor_t dropout_mask_desc,
    void* dropout_mask, cnnlTensorDescriptor_t softmax_lse_desc, void* softmax_lse,
    cnnlTensorDescriptor_t output_desc, void* output);

}  // extern "C"

// clang-format off
// X(name) lists of every function the plugin calls, per library. A symbol of the REQUIRED lists
// that is missing makes the backend unavailable; one of the OPTIONAL list is left NULL and the
// plugin does without it (each is called only when present; docs/cambricon.md says what changes).
#define XINHE_CNRT_SYMBOLS(X) \
  X(cnrtGetDeviceCount)       \
  X(cnrtSetDevice)            \
  X(cnrtDeviceGetAttribute)   \
  X(cnrtMemGetInfo)           \
  X(cnrtGetLibVersion)        \
  X(cnrtGetErrorStr)          \
  X(cnrtMalloc)               \
  X(cnrtFree)                 \
  X(cnrtMemcpyAsync)          \
  X(cnrtMemsetAsync)          \
  X(cnrtQueueCreate)          \
  X(cnrtQueueDestroy)         \
  X(cnrtQueueSync)            \
  X(cnrtQueueQuery)           \
  X(cnrtNotifierCreate)       \
  X(cnrtNotifierDestroy)      \
  X(cnrtPlaceNotifier)        \
  X(cnrtQueueWaitNotifier)    \
  X(cnrtWaitNotifier)         \
  X(cnrtQueryNotifier)        \
  X(cnrtNotifierElapsedTime)
#define XINHE_CNNL_SYMBOLS(X)                  \
  X(cnnlCreate)                                \
  X(cnnlDestroy)                               \
  X(cnnlSetQueue)                              \
  X(cnnlGetErrorString)                        \
  X(cnnlCreateTensorDescriptor)                \
  X(cnnlDestroyTensorDescriptor)               \
  X(cnnlSetTensorDescriptorEx)                 \
  X(cnnlCopy)                                  \
  X(cnnlMatMulDescCreate)                      \
  X(cnnlMatMulDescDestroy)                     \
  X(cnnlSetMatMulDescAttr)                     \
  X(cnnlMatMulAlgoCreate)                      \
  X(cnnlMatMulAlgoDestroy)                     \
  X(cnnlCreateMatMulHeuristicResult)           \
  X(cnnlDestroyMatMulHeuristicResult)          \
  X(cnnlGetBatchMatMulAlgoHeuristic)           \
  X(cnnlGetBatchMatMulHeuristicResult)         \
  X(cnnlBatchMatMulBCast_v2)                   \
  X(cnnlCreateFlashAttentionDescriptor)        \
  X(cnnlDestroyFlashAttentionDescriptor)       \
  X(cnnlSetFlashAttentionDescriptor)           \
  X(cnnlGetFlashAttentionForwardWorkspaceSize) \
  X(cnnlFlashAttentionForward)
// Optional: cnnlSetFlashAttentionSlidingWindowSize (newer CNNL). Without it the descriptor keeps
// the library's own default, which in a release without windows can only be "no window".
#define XINHE_CNNL_OPTIONAL_SYMBOLS(X) X(cnnlSetFlashAttentionSlidingWindowSize)
// clang-format on
