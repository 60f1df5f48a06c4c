// The slice of CANN's C API the Ascend plugin calls, declared here so that building it needs no
// CANN installation. Written from CANN's public documentation (AscendCL runtime reference,
// aclnn API reference, "two-phase interface" guide) and its public headers acl/acl_base.h,
// acl/acl_rt.h and aclnn/acl_meta.h: names, enum values and prototypes are the documented
// ones. Only prototypes: nothing is linked; the plugin resolves each symbol with dlsym from the
// library CANN ships it in (ascend_api.h). The host double under tests/ascend/double implements
// the same declarations.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

// ---- acl_base.h ----
typedef int aclError;
typedef int32_t aclnnStatus;

enum : aclError {
  ACL_SUCCESS = 0,
  ACL_ERROR_INVALID_PARAM = 100000,
  ACL_ERROR_UNINITIALIZE = 100001,
  ACL_ERROR_REPEAT_INITIALIZE = 100002,
  ACL_ERROR_BAD_ALLOC = 200000,
  ACL_ERROR_API_NOT_SUPPORT = 200001,
  ACL_ERROR_MEMORY_ADDRESS_UNALIGNED = 200003,
  ACL_ERROR_RT_PARAM_INVALID = 107000,
  ACL_ERROR_RT_INVALID_DEVICEID = 107001,
  ACL_ERROR_RT_CONTEXT_NULL = 107002,
  ACL_ERROR_RT_FEATURE_NOT_SUPPORT = 207000,
  ACL_ERROR_RT_MEMORY_ALLOCATION = 207001,
  ACL_ERROR_RT_NO_DEVICE = 207004,
  ACL_ERROR_RT_INTERNAL_ERROR = 507000,
  ACL_ERROR_RT_AICORE_EXCEPTION = 507015,
};

enum : aclnnStatus {
  ACLNN_SUCCESS = 0,
  ACLNN_ERR_PARAM_NULLPTR = 161001,
  ACLNN_ERR_PARAM_INVALID = 161002,
  ACLNN_ERR_RUNTIME_ERROR = 361001,
  ACLNN_ERR_INNER = 561000,
};

typedef enum {
  ACL_DT_UNDEFINED = -1,
  ACL_FLOAT = 0,
  ACL_FLOAT16 = 1,
  ACL_INT8 = 2,
  ACL_INT32 = 3,
  ACL_UINT8 = 4,
  ACL_INT16 = 6,
  ACL_INT64 = 9,
  ACL_DOUBLE = 11,
  ACL_BOOL = 12,
  ACL_BF16 = 27,
} aclDataType;

typedef enum { ACL_FORMAT_UNDEFINED = -1, ACL_FORMAT_NCHW = 0, ACL_FORMAT_ND = 2 } aclFormat;

// ---- acl_rt.h ----
typedef void* aclrtContext;
typedef void* aclrtStream;
typedef void* aclrtEvent;

typedef enum {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
} aclrtMemcpyKind;

typedef enum {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2,
} aclrtMemMallocPolicy;

typedef enum { ACL_DDR_MEM = 0, ACL_HBM_MEM = 1 } aclrtMemAttr;

typedef enum {
  ACL_EVENT_RECORDED_STATUS_NOT_READY = 0,
  ACL_EVENT_RECORDED_STATUS_COMPLETE = 1,
} aclrtEventRecordedStatus;

enum : uint32_t { ACL_EVENT_SYNC = 0x1u, ACL_EVENT_TIME_LINE = 0x8u };

aclError aclInit(const char* config_path);
aclError aclrtGetVersion(int32_t* major, int32_t* minor, int32_t* patch);
const char* aclGetRecentErrMsg();
aclError aclrtGetDeviceCount(uint32_t* count);
aclError aclrtSetDevice(int32_t device_id);
const char* aclrtGetSocName();
aclError aclrtCreateContext(aclrtContext* context, int32_t device_id);
aclError aclrtDestroyContext(aclrtContext context);
aclError aclrtSetCurrentContext(aclrtContext context);
aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t* free_bytes, size_t* total_bytes);
aclError aclrtMalloc(void** dev_ptr, size_t size, aclrtMemMallocPolicy policy);
aclError aclrtFree(void* dev_ptr);
aclError aclrtMallocHost(void** host_ptr, size_t size);
aclError aclrtFreeHost(void* host_ptr);
aclError aclrtCreateStream(aclrtStream* stream);
aclError aclrtDestroyStream(aclrtStream stream);
aclError aclrtSynchronizeStream(aclrtStream stream);
aclError aclrtMemcpy(void* dst, size_t dest_max, const void* src, size_t count,
                     aclrtMemcpyKind kind);
aclError aclrtMemcpyAsync(void* dst, size_t dest_max, const void* src, size_t count,
                          aclrtMemcpyKind kind, aclrtStream stream);
aclError aclrtMemsetAsync(void* dev_ptr, size_t max_count, int32_t value, size_t count,
                          aclrtStream stream);
aclError aclrtCreateEventWithFlag(aclrtEvent* event, uint32_t flag);
aclError aclrtDestroyEvent(aclrtEvent event);
aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream);
aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event);
aclError aclrtSynchronizeEvent(aclrtEvent event);
aclError aclrtQueryEventStatus(aclrtEvent event, aclrtEventRecordedStatus* status);
aclError aclrtEventElapsedTime(float* ms, aclrtEvent start, aclrtEvent end);

// ---- aclnn/acl_meta.h (libnnopbase) ----
typedef struct aclTensor aclTensor;
typedef struct aclScalar aclScalar;
typedef struct aclOpExecutor aclOpExecutor;
typedef struct aclIntArray aclIntArray;

aclTensor* aclCreateTensor(const int64_t* view_dims, uint64_t view_dims_num, aclDataType data_type,
                           const int64_t* stride, int64_t offset, aclFormat format,
                           const int64_t* storage_dims, uint64_t storage_dims_num,
                           void* tensor_data);
aclnnStatus aclDestroyTensor(const aclTensor* tensor);
aclScalar* aclCreateScalar(void* value, aclDataType data_type);
aclnnStatus aclDestroyScalar(const aclScalar* scalar);
aclnnStatus aclSetAclOpExecutorRepeatable(aclOpExecutor* executor);
aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor* executor);

// ---- aclnn operators (libopapi): phase one returns the workspace size and an executor,
// phase two runs the executor on a stream with that workspace. ----
// cubeMathType of the matmul family.
enum : int8_t { KEEP_DTYPE = 0, ALLOW_FP32_DOWN_PRECISION = 1, USE_FP16 = 2, USE_HF32 = 3 };

#define XINHE_ACLNN_RUN(name)                                                         \
  aclnnStatus name(void* workspace, uint64_t workspace_size, aclOpExecutor* executor, \
                   aclrtStream stream)

aclnnStatus aclnnMatmulGetWorkspaceSize(const aclTensor* self, const aclTensor* mat2,
                                        aclTensor* out, int8_t cube_math_type,
                                        uint64_t* workspace_size, aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnMatmul);
aclnnStatus aclnnBatchMatMulGetWorkspaceSize(const aclTensor* self, const aclTensor* mat2,
                                             aclTensor* out, int8_t cube_math_type,
                                             uint64_t* workspace_size, aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnBatchMatMul);
aclnnStatus aclnnInplaceCopyGetWorkspaceSize(aclTensor* self_ref, const aclTensor* src,
                                             uint64_t* workspace_size, aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnInplaceCopy);
aclnnStatus aclnnInplaceMulsGetWorkspaceSize(const aclTensor* self_ref, const aclScalar* other,
                                             uint64_t* workspace_size, aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnInplaceMuls);
aclnnStatus aclnnInplaceAddGetWorkspaceSize(const aclTensor* self_ref, const aclTensor* other,
                                            const aclScalar* alpha, uint64_t* workspace_size,
                                            aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnInplaceAdd);
aclnnStatus aclnnInplaceLogGetWorkspaceSize(const aclTensor* self_ref, uint64_t* workspace_size,
                                            aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnInplaceLog);
aclnnStatus aclnnInplaceFillScalarGetWorkspaceSize(const aclTensor* self_ref,
                                                   const aclScalar* value, uint64_t* workspace_size,
                                                   aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnInplaceFillScalar);
aclnnStatus aclnnFlashAttentionScoreGetWorkspaceSize(
    const aclTensor* query, const aclTensor* key, const aclTensor* value,
    const aclTensor* real_shift, const aclTensor* drop_mask, const aclTensor* padding_mask,
    const aclTensor* atten_mask, const aclIntArray* prefix, double scale_value, double keep_prob,
    int64_t pre_tokens, int64_t next_tokens, int64_t head_num, char* input_layout,
    int64_t inner_precise, int64_t sparse_mode, const aclTensor* softmax_max_out,
    const aclTensor* softmax_sum_out, const aclTensor* softmax_out_out,
    const aclTensor* attention_out_out, uint64_t* workspace_size, aclOpExecutor** executor);
XINHE_ACLNN_RUN(aclnnFlashAttentionScore);

#undef XINHE_ACLNN_RUN

}  // extern "C"
