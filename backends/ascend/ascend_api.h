// Run-time loading of CANN: every vendor function the plugin calls, resolved with dlsym from the
// library CANN ships it in, through X-macro symbol tables (after IREE's dynamic symbol tables).
// The plugin has no link-time dependency on CANN; a machine without it lists the backend as
// unavailable with the missing library named.
//
// Where the libraries are looked for, first match wins:
//   1. $XINHE_ASCEND_LIBRARY_DIR/<lib>   (an explicit folder: tests point it at the host double)
//   2. $ASCEND_TOOLKIT_HOME/lib64/<lib>  (exported by CANN's set_env.sh)
//   3. $ASCEND_HOME_PATH/lib64/<lib>     (likewise, newer CANN)
//   4. <lib> through the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache)
// A variable that is set decides: its folder is the only one tried, so a wrong setting is
// reported rather than silently bypassed.
#pragma once

#include <string>

#include "ascend_minimal.h"

namespace xinhe::ascend {

#define XINHE_ASCENDCL_SYMBOLS(X) \
  X(aclInit)                      \
  X(aclrtGetVersion)              \
  X(aclGetRecentErrMsg)           \
  X(aclrtGetDeviceCount)          \
  X(aclrtSetDevice)               \
  X(aclrtGetSocName)              \
  X(aclrtCreateContext)           \
  X(aclrtDestroyContext)          \
  X(aclrtSetCurrentContext)       \
  X(aclrtGetMemInfo)              \
  X(aclrtMalloc)                  \
  X(aclrtFree)                    \
  X(aclrtMallocHost)              \
  X(aclrtFreeHost)                \
  X(aclrtCreateStream)            \
  X(aclrtDestroyStream)           \
  X(aclrtSynchronizeStream)       \
  X(aclrtMemcpy)                  \
  X(aclrtMemcpyAsync)             \
  X(aclrtMemsetAsync)             \
  X(aclrtCreateEventWithFlag)     \
  X(aclrtDestroyEvent)            \
  X(aclrtRecordEvent)             \
  X(aclrtStreamWaitEvent)         \
  X(aclrtSynchronizeEvent)        \
  X(aclrtQueryEventStatus)        \
  X(aclrtEventElapsedTime)

#define XINHE_NNOPBASE_SYMBOLS(X)  \
  X(aclCreateTensor)               \
  X(aclDestroyTensor)              \
  X(aclCreateScalar)               \
  X(aclDestroyScalar)              \
  X(aclSetAclOpExecutorRepeatable) \
  X(aclDestroyAclOpExecutor)

#define XINHE_OPAPI_SYMBOLS(X)                \
  X(aclnnMatmulGetWorkspaceSize)              \
  X(aclnnMatmul)                              \
  X(aclnnBatchMatMulGetWorkspaceSize)         \
  X(aclnnBatchMatMul)                         \
  X(aclnnInplaceCopyGetWorkspaceSize)         \
  X(aclnnInplaceCopy)                         \
  X(aclnnInplaceMulsGetWorkspaceSize)         \
  X(aclnnInplaceMuls)                         \
  X(aclnnInplaceAddGetWorkspaceSize)          \
  X(aclnnInplaceAdd)                          \
  X(aclnnInplaceLogGetWorkspaceSize)          \
  X(aclnnInplaceLog)                          \
  X(aclnnInplaceFillScalarGetWorkspaceSize)   \
  X(aclnnInplaceFillScalar)                   \
  X(aclnnFlashAttentionScoreGetWorkspaceSize) \
  X(aclnnFlashAttentionScore)

struct AclApi {
#define XINHE_ASCEND_DECLARE(name) decltype(&::name) name = nullptr;
  XINHE_ASCENDCL_SYMBOLS(XINHE_ASCEND_DECLARE)
  XINHE_NNOPBASE_SYMBOLS(XINHE_ASCEND_DECLARE)
  XINHE_OPAPI_SYMBOLS(XINHE_ASCEND_DECLARE)
#undef XINHE_ASCEND_DECLARE
  std::string folder;  // where the libraries were found ("" = the loader's search)
};

// Loads the three libraries into *api. On failure returns false with *reason naming the
// library that is missing ("libascendcl.so not found in $ASCEND_TOOLKIT_HOME/lib64: ...") or
// the symbol it lacks. The libraries stay loaded for the life of the process (see
// backend_destroy in ascend_runtime.cpp).
bool acl_api_load(AclApi* api, std::string* reason);

}  // namespace xinhe::ascend
