// A host double of CANN's AscendCL runtime (libascendcl), its aclnn meta library (libnnopbase)
// and operator library (libopapi), for testing the Ascend plugin without an NPU. Each is a
// shared library of the same name exporting the documented symbols (backends/ascend/
// ascend_minimal.h), so the plugin loads it exactly as it loads CANN. This header is the
// double's internal interface between the three: libascendcl owns the device memory, streams,
// contexts and the recent error message; the other two link it.
//
// The rules the double enforces, each a documented CANN rule or (marked "double") a stricter
// reading where the documentation leaves room, so a plugin passing here does not rely on
// behaviour the hardware may not have:
//   - aclInit once per process (ACL_ERROR_REPEAT_INITIALIZE after); nothing works before it.
//   - Every call that touches a device needs a current context on the calling thread
//     (aclrtSetCurrentContext / aclrtCreateContext), else ACL_ERROR_RT_CONTEXT_NULL.
//   - Device memory is not host-addressable: aclrtMalloc returns addresses in a range reserved
//     with PROT_NONE; the bytes live elsewhere, reachable only through the double's own calls,
//     so a host read or write of a device pointer faults.
//   - aclrtMalloc rounds the size up to 32 bytes and adds 32; nothing past that is accessible.
//     Addresses are 64-byte aligned and (double) never more, so larger alignments are the
//     plugin's job.
//   - aclrtMemcpyAsync: source and destination 64-byte aligned, host ones too
//     (ACL_ERROR_MEMORY_ADDRESS_UNALIGNED); count <= destMax; the kind must match where the
//     pointers are (host or device) and each device range must lie in one allocation. Host
//     memory for a host<->device copy: CANN 8.0-8.2 (XINHE_ACL_DOUBLE_CANN unset or below
//     8.3) documents unpredictable results for memory not from aclrtMallocHost, which the
//     double turns into ACL_ERROR_INVALID_PARAM (double: stricter than the silent failure);
//     from 8.3 pageable memory is taken and the copy is synchronous (the call returns once
//     the copy, and everything queued before it, has run). Page-locked memory is read or
//     written when the stream reaches the copy; freed before then, the copy faults.
//   - aclrtMemsetAsync: device address 64-byte aligned; count <= maxCount.
//   - aclrtMemcpy copies at once, without waiting for any stream, at any alignment, from and
//     to any host memory; device ranges must lie in one allocation.
//   - aclrtMallocHost: 64-byte aligned page-locked memory, freed by aclrtFreeHost only.
//   - A stream runs its work in order on a worker thread; aclrtDestroyStream with work still
//     queued is an error (double). Faults found while running (a freed or out-of-range
//     address) stick to the stream and surface at its next synchronize as
//     ACL_ERROR_RT_AICORE_EXCEPTION, with the reason in aclGetRecentErrMsg.
//   - Events time only when created with ACL_EVENT_TIME_LINE.
//   - aclnn: phase one validates and returns a workspace size and an executor; phase two needs
//     a workspace of at least that size in device memory (ACLNN_ERR_PARAM_INVALID otherwise),
//     which the operator sees poisoned (0xFF bytes) when it starts. An executor runs once and
//     is then gone unless aclSetAclOpExecutorRepeatable marked it; aclDestroyAclOpExecutor
//     takes only repeatable executors (any other call is recorded as a violation, see
//     take_violations). refuse_repeatable makes aclSetAclOpExecutorRepeatable fail for one
//     operator, as it may for operators that do not support reuse. Tensors whose data is NULL may
//     be used in phase one (to size a workspace) but not run.
//   - The SoC (XINHE_ACL_DOUBLE_SOC, default Ascend910B1, an Atlas A2 product) decides, as
//     the aclnn references do: BFLOAT16 tensors and FLOAT matmul inputs with cubeMathType
//     KEEP_DTYPE only on A2/A3 (Ascend910B*, Ascend910_93*), aclnnFlashAttentionScore only
//     there. aclnnMatmul takes rank 2 and 3 (double: equal batches) and an f32 output for f16
//     inputs; aclnnBatchMatMul's output has its inputs' dtype.
//   - No fp64 in any operator (ACL_DOUBLE is ACLNN_ERR_PARAM_INVALID); tensor data 32-byte
//     aligned (double); views must lie inside their storage.
//   - aclnnFlashAttentionScore: layouts BSH, SBH, BSND, BNSD (the double runs BNSD and BSND);
//     B in 1..2M, N in 1..256, Nq a multiple of Nkv, S in 1..1M, D in 1..768; sparseMode 0
//     without a mask or 3 (rightDownCausal) with the 2048x2048 upper-triangular mask;
//     softmaxMax/Sum [B, N, Sq, 8] f32; keepProb 1 only (double: no dropout).
// What it does not do: model the AI Core's internal precision (it computes in f32 and rounds
// once to the output dtype), timing, multiple processes, or any behaviour not listed here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ascend_minimal.h"

#define XINHE_ACL_DOUBLE_EXPORT __attribute__((visibility("default")))

namespace xinhe_acl_double {

// The host bytes behind [address, address + size) of device memory, or nullptr when the range
// is not inside one live allocation (why in *reason when given).
XINHE_ACL_DOUBLE_EXPORT uint8_t* device_bytes(const void* address, size_t size,
                                              std::string* reason);
XINHE_ACL_DOUBLE_EXPORT bool is_device_address(const void* address);
// Sets the message aclGetRecentErrMsg returns on this thread.
XINHE_ACL_DOUBLE_EXPORT void set_error(const std::string& message);
XINHE_ACL_DOUBLE_EXPORT bool initialized();
XINHE_ACL_DOUBLE_EXPORT bool has_current_context();
// Queues task on stream; a task returns "" or a fault, which sticks to the stream. wait: block
// until the task has run. ACL_ERROR_RT_PARAM_INVALID for an unknown stream.
XINHE_ACL_DOUBLE_EXPORT aclError enqueue(aclrtStream stream, std::function<std::string()> task,
                                         bool wait);
// True when the SoC the double plays is an Atlas A2/A3 product.
XINHE_ACL_DOUBLE_EXPORT bool soc_is_a2_a3();
// A call the documentation does not allow but real CANN may not report (so a test can see it);
// take_violations returns those recorded so far and forgets them.
XINHE_ACL_DOUBLE_EXPORT void note_violation(const std::string& what);
XINHE_ACL_DOUBLE_EXPORT std::vector<std::string> take_violations();

// ---- libnnopbase: tensors, scalars, executors ----

// An executor from phase one: runs body on the stream in phase two.
XINHE_ACL_DOUBLE_EXPORT aclOpExecutor* new_executor(const char* op, uint64_t workspace,
                                                    bool placeholder,
                                                    std::function<std::string()> body);
// aclSetAclOpExecutorRepeatable fails for executors of op ("" = for none).
XINHE_ACL_DOUBLE_EXPORT void refuse_repeatable(const std::string& op);
// Phase two of op: checks the executor and the workspace, queues the body (after poisoning
// the workspace), and consumes a non-repeatable executor.
XINHE_ACL_DOUBLE_EXPORT aclnnStatus run_executor(const char* op, void* workspace,
                                                 uint64_t workspace_size, aclOpExecutor* executor,
                                                 aclrtStream stream);

}  // namespace xinhe_acl_double

struct aclTensor {
  std::vector<int64_t> dims, strides;  // the view, in elements
  int64_t offset = 0;                  // elements from data
  aclDataType dtype = ACL_FLOAT;
  std::vector<int64_t> storage;
  void* data = nullptr;
};
struct aclScalar {
  double value = 0.0;
  aclDataType dtype = ACL_FLOAT;
};
