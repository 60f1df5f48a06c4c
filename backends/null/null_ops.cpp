// The null backend's ops: GEMM and attention, each an ordered implementation list (fastest
// first, a reference that runs every valid description last) that holds no kernel yet, so every
// op is created, and check and run report UNIMPLEMENTED with the reason.
//
// To add a kernel (docs/porting.md §5):
//   1. add an entry to the op's list: a method ("tiled", "aclnn", "reference") and an optional
//      arch ("sm80", "ascend910b"), which name it null.<op>.<method>_<dtypes>[_<arch>];
//   2. say in why_not() which descriptions it cannot run (dtype, layout, head_dim...), with the
//      reason ("" when it can);
//   3. build what its runs need in op_create (a compiled kernel, a vendor executor);
//   4. enqueue it on the stream in op_run; report its workspace in op_workspace_size;
//   5. claim the dtypes it covers in device_properties (dtype_caps) and rerun xinhe-conform:
//      every shape of a claimed dtype must then pass against the float64 reference.
#include <iterator>
#include <new>
#include <string>

#include "null_backend.h"

namespace null_backend {

namespace {

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

}  // namespace

xinhe_status_t op_create(xinhe_be_device_t, const xinhe_be_op_desc_t* desc, xinhe_be_op_t* out_op) {
  auto* op = new (std::nothrow) xinhe_be_op_s{};
  if (op == nullptr) return NULL_BACKEND_ERROR(OUT_OF_MEMORY, "op_create", "no memory");
  op->kind = desc->kind;
  const bool gemm = desc->kind == XINHE_OP_GEMM;
  std::string skipped;
  const ImplEntry* entries = gemm ? kGemmList : kAttentionList;
  const size_t count = gemm ? std::size(kGemmList) : std::size(kAttentionList);
  for (size_t i = 0; i < count; ++i) {
    const std::string why =
        gemm ? why_not(entries[i], *desc->gemm) : why_not(entries[i], *desc->attention);
    skipped += std::string(skipped.empty() ? "" : "; ") + kBackendName + "." +
               (gemm ? "gemm" : "attention") + "." + entries[i].method + ": " + why;
  }
  op->declined = std::string("no ") + kBackendName + " implementation runs this " +
                 (gemm ? "GEMM" : "attention") + " (" + skipped + ")";
  op->impl_name = kBackendName;
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
