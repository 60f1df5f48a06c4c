// The null backend's ops: GEMM and attention, each an ordered implementation list (fastest
// first, a reference that runs every valid description last) that holds no kernel yet, so every
// op is created, and check and run report UNIMPLEMENTED with the reason.
//
// To add a kernel (docs/porting.md, the step on ops):
//   1. add an entry to the op's list: a method ("tiled", "aclnn", "reference") and an optional
//      arch ("sm80", "ascend910b"), which name it null.<op>.<method>_<dtypes>[_<arch>];
//   2. say in why_not() which descriptions it cannot run (dtype, layout, head_dim...), with the
//      reason ("" when it can);
//   3. build what its runs need in the factory given to select_impl (a compiled kernel, a vendor
//      executor); a build that fails returns Built::skip(reason) and the walk falls through;
//   4. enqueue it on the stream in op_run; report its workspace in op_workspace_size;
//   5. claim the dtypes it covers in device_properties (dtype_caps) and rerun xinhe-conform:
//      every shape of a claimed dtype must then pass against the float64 reference, or be
//      declined at op_check with a reason (UNSUPPORTED in the report).
// The walker (xinhe::backend::select_impl of xinhe/backend.hpp) applies the user's
// implementation filter (served by the core from the environment), writes the dispatch line
// and, when no entry runs the op, the reason naming every entry and why it was skipped.
#include <new>
#include <string>

#include "null_backend.h"

namespace null_backend {

namespace {

using xinhe::backend::DispatchRequest;
using xinhe::backend::Selection;

struct ImplEntry {
  const char* method;
  const char* arch;  // nullptr for portable code
};

// TODO(null): your GEMM implementations, fastest first.
constexpr ImplEntry kGemmList[] = {{"reference", nullptr}};
// TODO(null): your attention implementations, fastest first.
constexpr ImplEntry kAttentionList[] = {{"reference", nullptr}};

// "" when entry can run the GEMM, else why not.
std::string why_not(const ImplEntry&, const xinhe_gemm_desc_t&) {
  // TODO(null): the entry's real conditions, e.g.
  //   if (d.ab_dtype != XINHE_DTYPE_F16) return "needs f16 inputs";
  return "not written yet (the template runs no GEMM; see null_ops.cpp)";
}

std::string why_not(const ImplEntry&, const xinhe_attention_desc_t&) {
  return "not written yet (the template runs no attention; see null_ops.cpp)";
}

template <typename Desc, typename List>
Selection select(const Desc& desc, const List& list) {
  const DispatchRequest request(host(), kBackendName, desc);
  // TODO(null): a factory as a third argument when an entry builds something at create.
  return xinhe::backend::select_impl(request, list,
                                     [&](const ImplEntry& entry) { return why_not(entry, desc); });
}

}  // namespace

xinhe_status_t op_create(xinhe_be_device_t, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out_op) {
  Selection selection;
  if (desc->kind == XINHE_OP_GEMM) {
    selection = select(*desc->gemm, kGemmList);
  } else if (desc->kind == XINHE_OP_ATTENTION) {
    selection = select(*desc->attention, kAttentionList);
  } else {  // a kind from a later ABI minor (backend.h, point 9): declined, never guessed at
    selection.unsupported =
        "op kind " + std::to_string(desc->kind) + " is not known to this plugin";
  }
  if (selection.fatal != nullptr) return selection.fatal;
  auto* op = new (std::nothrow) xinhe_be_op_s{};
  if (op == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "op_create", "no memory");
  op->kind = desc->kind;
  // An op no entry runs is still created: op_check reports why (the core's contract).
  op->impl_name = selection.selected() ? selection.name : std::string(kBackendName);
  op->declined = selection.unsupported;
  *out_op = op;
  return nullptr;
}
void op_destroy(xinhe_be_op_t op) {
  // TODO(null): runs still queued may use what the op built: keep it alive until they finish
  // (a shared_ptr captured by each run, as backends/cpu does).
  delete op;
}

xinhe_status_t op_check(xinhe_be_op_t op) {
  if (op->declined.empty()) return nullptr;
  return NULL_BACKEND_ERROR(UNIMPLEMENTED, "op_check", "%s", op->declined.c_str());
}

xinhe_status_t op_workspace_size(xinhe_be_op_t, uint64_t* out_bytes) {
  *out_bytes = 0;  // TODO(null): the selected implementation's scratch bytes, alignment slack too
  return nullptr;
}

const char* op_impl_name(xinhe_be_op_t op) { return op->impl_name.c_str(); }

// Called only when op_check succeeded; operands validated against the description.
xinhe_status_t op_run(xinhe_be_op_t op, xinhe_be_stream_t, const xinhe_be_op_args_t*) {
  // TODO(null): enqueue the selected implementation on the stream and return.
  return NULL_BACKEND_ERROR(UNIMPLEMENTED, "op_run", "%s", op->declined.c_str());
}

}  // namespace null_backend
