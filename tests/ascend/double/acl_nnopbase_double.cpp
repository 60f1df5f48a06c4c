// The aclnn meta half of the host double (libnnopbase.so): tensor and scalar descriptors and
// the executor life cycle of the two-phase interface (single use unless marked repeatable,
// workspace size checked and poisoned). See acl_double.h.
#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "acl_double.h"

struct aclOpExecutor {
  std::string op;
  uint64_t workspace = 0;
  bool placeholder = false;  // built from tensors without data: sizing only
  bool repeatable = false;
  std::function<std::string()> body;
};

namespace xinhe_acl_double {
namespace {

std::mutex g_mutex;
// Never destroyed: aclnn owns the executors a caller does not run or destroy (an unrun one
// whose operator refused reuse has no documented release), so they stay reachable to the end.
std::set<aclOpExecutor*>& g_executors = *new std::set<aclOpExecutor*>;
std::string g_refuse_repeatable;  // guarded by g_mutex

size_t element_size(aclDataType dtype) {
  switch (dtype) {
    case ACL_FLOAT:
    case ACL_INT32:
      return 4;
    case ACL_FLOAT16:
    case ACL_BF16:
    case ACL_INT16:
      return 2;
    case ACL_INT8:
    case ACL_UINT8:
    case ACL_BOOL:
      return 1;
    case ACL_INT64:
    case ACL_DOUBLE:
      return 8;
    default:
      return 0;
  }
}

}  // namespace

aclOpExecutor* new_executor(const char* op, uint64_t workspace, bool placeholder,
                            std::function<std::string()> body) {
  auto* e = new aclOpExecutor{op, workspace, placeholder, false, std::move(body)};
  std::lock_guard<std::mutex> lock(g_mutex);
  g_executors.insert(e);
  return e;
}

void refuse_repeatable(const std::string& op) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_refuse_repeatable = op;
}

aclnnStatus run_executor(const char* op, void* workspace, uint64_t workspace_size,
                         aclOpExecutor* executor, aclrtStream stream) {
  if (!has_current_context()) {
    set_error(std::string(op) + ": no current context on this thread");
    return ACLNN_ERR_RUNTIME_ERROR;
  }
  std::shared_ptr<aclOpExecutor> keep;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_executors.count(executor)) {
      set_error(std::string(op) +
                ": unknown executor (already run? executors are single-use unless repeatable)");
      return ACLNN_ERR_PARAM_INVALID;
    }
    if (executor->op != op) {
      set_error(std::string(op) + ": executor belongs to " + executor->op);
      return ACLNN_ERR_PARAM_INVALID;
    }
    if (executor->placeholder) {
      set_error(std::string(op) + ": executor was built from tensors without data");
      return ACLNN_ERR_PARAM_INVALID;
    }
    if (workspace_size < executor->workspace) {
      set_error(std::string(op) + ": workspace of " + std::to_string(workspace_size) +
                " bytes, phase one asked for " + std::to_string(executor->workspace));
      return ACLNN_ERR_PARAM_INVALID;
    }
    std::string reason;
    if (workspace_size > 0 && !device_bytes(workspace, workspace_size, &reason)) {
      set_error(std::string(op) + ": workspace: " + reason);
      return ACLNN_ERR_PARAM_INVALID;
    }
    if (executor->repeatable) {
      keep = std::make_shared<aclOpExecutor>(*executor);  // a snapshot for this run
    } else {
      g_executors.erase(executor);
      keep.reset(executor);
    }
  }
  const aclError r = enqueue(
      stream,
      [keep, workspace, workspace_size]() -> std::string {
        if (workspace_size > 0) {
          std::string why;
          uint8_t* bytes = device_bytes(workspace, workspace_size, &why);
          if (!bytes) return keep->op + " at run: workspace: " + why;
          std::memset(bytes, 0xFF, workspace_size);
        }
        const std::string fault = keep->body();
        return fault.empty() ? fault : keep->op + ": " + fault;
      },
      false);
  return r == ACL_SUCCESS ? ACLNN_SUCCESS : ACLNN_ERR_RUNTIME_ERROR;
}

}  // namespace xinhe_acl_double

using namespace xinhe_acl_double;

extern "C" {

XINHE_ACL_DOUBLE_EXPORT aclTensor* aclCreateTensor(const int64_t* view_dims, uint64_t view_dims_num,
                                                   aclDataType data_type, const int64_t* stride,
                                                   int64_t offset, aclFormat format,
                                                   const int64_t* storage_dims,
                                                   uint64_t storage_dims_num, void* tensor_data) {
  const size_t esize = element_size(data_type);
  if (esize == 0 || view_dims_num > 8 || storage_dims_num > 8 || offset < 0 ||
      (view_dims_num && (!view_dims || !stride)) || (storage_dims_num && !storage_dims) ||
      (format != ACL_FORMAT_ND && format != ACL_FORMAT_NCHW)) {
    set_error("aclCreateTensor: bad dtype, rank, offset, format or null array");
    return nullptr;
  }
  if (reinterpret_cast<uintptr_t>(tensor_data) % 32) {
    set_error("aclCreateTensor: tensor data must be 32-byte aligned");
    return nullptr;
  }
  auto* t = new aclTensor;
  t->dtype = data_type;
  t->offset = offset;
  t->data = tensor_data;
  int64_t last = offset;  // the last element the view reaches
  bool empty = false;
  for (uint64_t i = 0; i < view_dims_num; ++i) {
    if (view_dims[i] < 0 || stride[i] < 0) {
      set_error("aclCreateTensor: negative size or stride");
      delete t;
      return nullptr;
    }
    t->dims.push_back(view_dims[i]);
    t->strides.push_back(stride[i]);
    if (view_dims[i] == 0) empty = true;
    last += (view_dims[i] - 1) * stride[i];
  }
  int64_t storage = 1;
  for (uint64_t i = 0; i < storage_dims_num; ++i) {
    t->storage.push_back(storage_dims[i]);
    storage *= storage_dims[i];
  }
  if (!empty && last >= storage) {
    set_error("aclCreateTensor: the view reaches element " + std::to_string(last) +
              " of a storage of " + std::to_string(storage));
    delete t;
    return nullptr;
  }
  return t;
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclDestroyTensor(const aclTensor* tensor) {
  delete tensor;
  return ACLNN_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclScalar* aclCreateScalar(void* value, aclDataType data_type) {
  if (!value) return nullptr;
  auto* s = new aclScalar;
  s->dtype = data_type;
  switch (data_type) {
    case ACL_FLOAT: {
      float v;
      std::memcpy(&v, value, 4);
      s->value = v;
      break;
    }
    case ACL_DOUBLE: {
      std::memcpy(&s->value, value, 8);
      break;
    }
    default:
      set_error("aclCreateScalar: the double takes ACL_FLOAT and ACL_DOUBLE scalars");
      delete s;
      return nullptr;
  }
  return s;
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclDestroyScalar(const aclScalar* scalar) {
  delete scalar;
  return ACLNN_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclSetAclOpExecutorRepeatable(aclOpExecutor* executor) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_executors.count(executor)) {
    set_error("aclSetAclOpExecutorRepeatable: unknown executor");
    return ACLNN_ERR_PARAM_INVALID;
  }
  if (!g_refuse_repeatable.empty() && executor->op == g_refuse_repeatable) {
    set_error("aclSetAclOpExecutorRepeatable: " + executor->op + " does not support reuse");
    return ACLNN_ERR_PARAM_INVALID;
  }
  executor->repeatable = true;
  return ACLNN_SUCCESS;
}

XINHE_ACL_DOUBLE_EXPORT aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor* executor) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_executors.count(executor)) {
    set_error("aclDestroyAclOpExecutor: unknown executor");
    return ACLNN_ERR_PARAM_INVALID;
  }
  if (!executor->repeatable) {
    // Undocumented use: real CANN may not report it, so the tests look for it here.
    note_violation("aclDestroyAclOpExecutor on a " + executor->op +
                   " executor aclSetAclOpExecutorRepeatable did not accept");
    set_error("aclDestroyAclOpExecutor: only repeatable executors are destroyed by the caller");
    return ACLNN_ERR_PARAM_INVALID;
  }
  g_executors.erase(executor);
  delete executor;
  return ACLNN_SUCCESS;
}

}  // extern "C"
