// The OpenCL GEMM implementation list, fastest first (names opencl.gemm.<method>_<dtypes>):
//   tiled      register-tiled kernel (gemm_tiled.cl), parameters from the tuning database;
//              every shape and dtype combination
//   clblast    CLBlast (f32 in and out), when libclblast.so.1 loads; runs with alpha == 0
//              and ops with K == 0 take the reference kernel (op_run_impl_name names it)
//   reference  one work-item per element (gemm_reference.cl); everything
// Walked by the dispatch service (xinhe/backend.hpp): the implementation filter, the dispatch
// line, and a kernel that does not build falling through to the next entry.
#include <dlfcn.h>

#include <atomic>
#include <sstream>

#include "checked_math.h"
#include "clblast_api.h"
#include "op_common.h"

namespace xinhe::opencl {

// Build options and the packing rule are the kernels' host contract (gemm_opencl.h), shared
// with the Level Zero backend.
using opencl_c::gemm_options;
using opencl_c::gemm_tiled_options;

// Like the ICD loader, CLBlast stays mapped: its static program caches outlive the backend.
ClBlastApi::~ClBlastApi() = default;

ClBlastApi* clblast_get(Backend* backend, std::string* reason) {
  std::lock_guard<std::mutex> lock(backend->clblast_mutex);
  if (!backend->clblast_tried) {
    backend->clblast_tried = true;
    auto api = std::make_unique<ClBlastApi>();
    api->library = dlopen("libclblast.so.1", RTLD_NOW | RTLD_LOCAL);
    if (api->library == nullptr) {
      // As the OpenCL loader does (cl_loader.cpp): dlerror says whether the library is missing
      // or present but unloadable (wrong architecture, a missing dependency, not an ELF file).
      const char* err = dlerror();
      backend->clblast_error =
          std::string("libclblast.so.1 not found") + (err ? std::string(": ") + err : "");
    } else {
      api->sgemm = reinterpret_cast<ClBlastApi::SgemmFn>(dlsym(api->library, "CLBlastSgemm"));
      api->sgemm_strided_batched = reinterpret_cast<ClBlastApi::SgemmStridedBatchedFn>(
          dlsym(api->library, "CLBlastSgemmStridedBatched"));
      if (api->sgemm == nullptr || api->sgemm_strided_batched == nullptr)
        backend->clblast_error = "libclblast.so.1 lacks CLBlastSgemm/CLBlastSgemmStridedBatched";
      else
        backend->clblast = std::move(api);
    }
  }
  if (!backend->clblast) *reason = backend->clblast_error;
  return backend->clblast.get();
}

namespace {

// CLBlast's status codes above -1000 are OpenCL's (CLBlastStatusCode in clblast_c.h): those
// are mapped as an enqueue's are (its temporary buffers failing is OUT_OF_MEMORY); its own
// codes say what it rejected.
ClError clblast_error(int rc, const char* call) {
  if (rc == 0) return ClError{};
  const std::string detail = "CLBlast status " + std::to_string(rc);
  if (rc < 0 && rc > -1000) return XINHE_CL_ERROR_AT(rc, call, detail, ClSite::kAllocate);
  return XINHE_CL_ERROR(CL_INVALID_OPERATION, call, detail + " (a CLBlast error, not OpenCL's)");
}

xinhe_status_t clblast_status(const xinhe_host_api_t* host, int rc, const char* call) {
  if (rc == 0) return nullptr;
  if (rc < 0 && rc > -1000) return clblast_error(rc, call).to_status(host);
  return XINHE_BE_ERROR(host, INTERNAL, "opencl", call, "CLBlast status %d", rc);
}

enum class GemmImpl { kTiled, kClblast, kReference, kNone };

class GemmOp final : public Op {
 public:
  GemmOp(Device* device, const xinhe_gemm_desc_t& desc) : device_(device), desc_(desc) {}

  xinhe_status_t check() const override {
    if (impl_ != GemmImpl::kNone) return nullptr;
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, "opencl", "xinhe_gemm_check", "%s",
                          unsupported_.c_str());
  }
  const char* impl_name() const override { return name_.c_str(); }
  const char* run_impl_name(const xinhe_be_op_args_t& args) const override {
    return clblast_swaps(args.alpha) ? clblast_swap_name_.c_str() : name_.c_str();
  }
  // CLBlast computes 0 * (A B) for alpha == 0 (an Inf or NaN in A or B reaches C) and refuses
  // k == 0: those runs take the reference kernel, which follows BLAS (ops.h).
  bool clblast_swaps(float alpha) const {
    return impl_ == GemmImpl::kClblast && desc_.m != 0 && desc_.n != 0 &&
           (alpha == 0.0f || desc_.k == 0);  // an empty C launches nothing
  }
  uint64_t workspace_size() const override { return packed_ ? packed_workspace().value() : 0; }
  // op(A) and op(B) as f32 panels of MWI rows / NWI columns: checked, since M * K of an f16
  // GEMM may use the whole 64-bit range before the panels' rounding and the 4-byte floats. The
  // extra float lets run_packed start the panels at the first 4-byte boundary at or after any
  // workspace offset (ops.h: the offset may be any byte).
  util::CheckedSize packed_workspace() const {
    return (packed_elements(desc_.m, params_.mwi) + packed_elements(desc_.n, params_.nwi) +
            uint64_t{1}) *
           sizeof(float);
  }
  util::CheckedSize packed_elements(int64_t rows, int rows_per_panel) const {
    const int64_t panels = rows / rows_per_panel + (rows % rows_per_panel != 0);
    return util::CheckedSize::of(panels) * static_cast<uint64_t>(rows_per_panel) *
           util::CheckedSize::of(desc_.k);
  }
  uint64_t packed_a_elements() const { return packed_elements(desc_.m, params_.mwi).value(); }
  xinhe_status_t run_packed(cl_command_queue queue, const xinhe_be_op_args_t& args, cl_mem a,
                            cl_long a_off, cl_mem b, cl_long b_off, cl_mem c, cl_long c_off);

  xinhe_status_t run(cl_command_queue queue, const xinhe_be_op_args_t& args) override;

  Device* device_;
  xinhe_gemm_desc_t desc_;
  GemmImpl impl_ = GemmImpl::kNone;
  std::string name_ = "opencl";  // the selected implementation; the backend's name when none
  std::string unsupported_;
  GemmParams params_;
  KernelLauncher kernel_;
  bool packed_ = false;  // tiled with PACK=1 on a problem large enough to repay packing
  KernelLauncher pack_a_, pack_b_, packed_kernel_;
  ClBlastApi* clblast_ = nullptr;
  KernelLauncher clblast_alpha0_;  // the reference kernel for the runs clblast_swaps
  std::string clblast_swap_name_;  // its implementation name
  std::string clblast_swap_line_;  // the dispatch line of the first such run (logged once)
  std::atomic<bool> clblast_swap_logged_{false};
};

xinhe_status_t GemmOp::run(cl_command_queue queue, const xinhe_be_op_args_t& args) {
  const xinhe_gemm_desc_t& d = desc_;
  if (d.m == 0 || d.n == 0 || d.batch == 0) return nullptr;
  const size_t ab_size = dtype_bytes(d.ab_dtype), c_size = dtype_bytes(d.c_dtype);
  cl_long a_off = 0, b_off = 0, c_off = 0;
  if (!element_offset(args.mem[XINHE_GEMM_ARG_A].offset, ab_size, &a_off) ||
      !element_offset(args.mem[XINHE_GEMM_ARG_B].offset, ab_size, &b_off) ||
      !element_offset(args.mem[XINHE_GEMM_ARG_C].offset, c_size, &c_off))
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, "opencl", "xinhe_gemm_run",
                          "operand byte offset is not a multiple of the element size");
  cl_mem a = buffer_mem(args.mem[XINHE_GEMM_ARG_A].buffer);
  cl_mem b = buffer_mem(args.mem[XINHE_GEMM_ARG_B].buffer);
  cl_mem c = buffer_mem(args.mem[XINHE_GEMM_ARG_C].buffer);
  const float alpha = args.alpha, beta = args.beta;

  if (clblast_swaps(alpha)) {
    const xinhe_host_api_t* host = device_->host();
    if (host->verbose_enabled("dispatch") && !clblast_swap_logged_.exchange(true)) {
      xinhe::backend::log_dispatch(host, "opencl", clblast_swap_line_ + " (logged once per op)");
    }
  } else if (impl_ == GemmImpl::kClblast) {
    const int ta = d.trans_a ? ClBlastApi::kTransposeYes : ClBlastApi::kTransposeNo;
    const int tb = d.trans_b ? ClBlastApi::kTransposeYes : ClBlastApi::kTransposeNo;
    int rc = 0;
    std::lock_guard<std::mutex> lock(clblast_->call_mutex);
    if (d.batch == 1) {
      rc = clblast_->sgemm(ClBlastApi::kRowMajor, ta, tb, d.m, d.n, d.k, alpha, a, a_off, d.lda, b,
                           b_off, d.ldb, beta, c, c_off, d.ldc, &queue, nullptr);
    } else {
      rc = clblast_->sgemm_strided_batched(
          ClBlastApi::kRowMajor, ta, tb, d.m, d.n, d.k, alpha, a, a_off, d.lda, d.stride_a, b,
          b_off, d.ldb, d.stride_b, beta, c, c_off, d.ldc, d.stride_c, d.batch, &queue, nullptr);
    }
    return clblast_status(device_->host(), rc, "CLBlastSgemm");
  }

  if (packed_) return run_packed(queue, args, a, a_off, b, b_off, c, c_off);
  const cl_long m = d.m, n = d.n, k = d.k, lda = d.lda, ldb = d.ldb, ldc = d.ldc;
  const cl_long sa = d.stride_a, sb = d.stride_b, sc = d.stride_c;
  const KernelLauncher::Arg kargs[] = {
      KernelLauncher::arg(m),     KernelLauncher::arg(n),     KernelLauncher::arg(k),
      KernelLauncher::arg(a),     KernelLauncher::arg(a_off), KernelLauncher::arg(lda),
      KernelLauncher::arg(sa),    KernelLauncher::arg(b),     KernelLauncher::arg(b_off),
      KernelLauncher::arg(ldb),   KernelLauncher::arg(sb),    KernelLauncher::arg(c),
      KernelLauncher::arg(c_off), KernelLauncher::arg(ldc),   KernelLauncher::arg(sc),
      KernelLauncher::arg(alpha), KernelLauncher::arg(beta)};
  const size_t count = sizeof(kargs) / sizeof(kargs[0]);
  if (impl_ == GemmImpl::kTiled) {
    const GemmParams& p = params_;
    const size_t local[3] = {static_cast<size_t>(p.nwg / p.nwi), static_cast<size_t>(p.mwg / p.mwi),
                             1};
    const size_t global[3] = {round_up((static_cast<size_t>(d.n) + p.nwi - 1) / p.nwi, local[0]),
                              round_up((static_cast<size_t>(d.m) + p.mwi - 1) / p.mwi, local[1]),
                              static_cast<size_t>(d.batch)};
    return kernel_.launch(queue, kargs, count, global, local);
  }
  const size_t global[3] = {static_cast<size_t>(d.n), static_cast<size_t>(d.m),
                            static_cast<size_t>(d.batch)};
  if (impl_ == GemmImpl::kClblast)
    return clblast_alpha0_.launch(queue, kargs, count, global, nullptr);
  return kernel_.launch(queue, kargs, count, global, nullptr);
}

xinhe_status_t GemmOp::run_packed(cl_command_queue queue, const xinhe_be_op_args_t& args, cl_mem a,
                                  cl_long a_off, cl_mem b, cl_long b_off, cl_mem c, cl_long c_off) {
  const xinhe_gemm_desc_t& d = desc_;
  const GemmParams& p = params_;
  // First float boundary inside the workspace; workspace_size() has room for the shift.
  const cl_long ws_off = static_cast<cl_long>(
      (args.mem[XINHE_GEMM_ARG_WORKSPACE].offset + sizeof(float) - 1) / sizeof(float));
  cl_mem ws = buffer_mem(args.mem[XINHE_GEMM_ARG_WORKSPACE].buffer);
  if (ws == nullptr)
    return XINHE_BE_ERROR(device_->host(), INVALID_ARGUMENT, "opencl", "xinhe_gemm_run",
                          "this op needs a workspace of %llu bytes (xinhe_gemm_workspace_size)",
                          static_cast<unsigned long long>(workspace_size()));
  const cl_long pa_off = ws_off, pb_off = ws_off + static_cast<cl_long>(packed_a_elements());
  const cl_long m = d.m, n = d.n, k = d.k, lda = d.lda, ldb = d.ldb, ldc = d.ldc;
  const cl_long sa = d.stride_a, sb = d.stride_b, sc = d.stride_c;
  const float alpha = args.alpha, beta = args.beta;
  const size_t tiles_m = (static_cast<size_t>(d.m) + p.mwi - 1) / p.mwi;
  const size_t tiles_n = (static_cast<size_t>(d.n) + p.nwi - 1) / p.nwi;
  const size_t local[3] = {static_cast<size_t>(p.nwg / p.nwi), static_cast<size_t>(p.mwg / p.mwi),
                           1};
  const size_t tile_global[3] = {round_up(tiles_n, local[0]), round_up(tiles_m, local[1]), 1};
  const size_t pack_a_global[3] = {static_cast<size_t>(p.mwi * d.k), tiles_m, 1};
  const size_t pack_b_global[3] = {static_cast<size_t>(p.nwi * d.k), tiles_n, 1};
  using L = KernelLauncher;
  // The in-order queue serializes batches, so one batch's panels are all the workspace holds.
  for (cl_long batch = 0; batch < d.batch; ++batch) {
    const bool repack_a = batch == 0 || d.stride_a != 0;  // stride 0: same A for every batch
    const bool repack_b = batch == 0 || d.stride_b != 0;
    if (repack_a) {
      const L::Arg pa[] = {L::arg(m),  L::arg(k),     L::arg(a),  L::arg(a_off), L::arg(lda),
                           L::arg(sa), L::arg(batch), L::arg(ws), L::arg(pa_off)};
      if (xinhe_status_t st = pack_a_.launch(queue, pa, 9, pack_a_global, nullptr)) return st;
    }
    if (repack_b) {
      const L::Arg pb[] = {L::arg(n),  L::arg(k),     L::arg(b),  L::arg(b_off), L::arg(ldb),
                           L::arg(sb), L::arg(batch), L::arg(ws), L::arg(pb_off)};
      if (xinhe_status_t st = pack_b_.launch(queue, pb, 9, pack_b_global, nullptr)) return st;
    }
    const L::Arg gk[] = {L::arg(m),  L::arg(n),      L::arg(k),     L::arg(ws),    L::arg(pa_off),
                         L::arg(ws), L::arg(pb_off), L::arg(c),     L::arg(c_off), L::arg(ldc),
                         L::arg(sc), L::arg(batch),  L::arg(alpha), L::arg(beta)};
    if (xinhe_status_t st = packed_kernel_.launch(queue, gk, 14, tile_global, local)) return st;
  }
  return nullptr;
}

// Parameters for the tiled kernel: override, else the database, else safe defaults.
GemmParams select_gemm_params(Device* device, const xinhe_gemm_desc_t& d,
                              const OpOverrides& overrides, std::string* source) {
  const DeviceInfo& info = device->info;
  if (overrides.gemm != nullptr) {
    *source = "override";
    return *overrides.gemm;
  }
  GemmParams p = default_gemm_params(info.cpu_like);
  *source = "defaults";
  std::string duplicate;
  const std::string* entry = device->backend->tuning_db.find(
      info.name, info.driver_version, dtype_tag(d.ab_dtype), "gemm", &duplicate);
  if (!duplicate.empty()) log_dispatch(device, duplicate);
  if (entry != nullptr) {
    GemmParams tuned = p;
    std::string error;
    if (parse_gemm_params(*entry, &tuned, &error) &&
        (error = tuned.validate(info.tuning_limits())).empty()) {
      *source = "tuning database";
      return tuned;
    }
    const std::string unset = gemm_params_not_set(*entry);
    log_dispatch(device,
                 "tuning entry '" + *entry + "' unusable (" + error + ")" +
                     (unset.empty() ? "" : "; keys not in it, taken from defaults: " + unset) +
                     "; defaults");
  }
  return p;
}

// The list: one entry per implementation, fastest first.
struct GemmEntry {
  const char* method;
  const char* arch;
  GemmImpl impl;
};
constexpr GemmEntry kGemmList[] = {
    {"tiled", nullptr, GemmImpl::kTiled},
    {"clblast", nullptr, GemmImpl::kClblast},
    {"reference", nullptr, GemmImpl::kReference},
};

// Builds the tiled kernel (and the packing kernels when packing pays off) for op.
xinhe::backend::Built build_tiled(Device* device, GemmOp* op, const OpOverrides& overrides,
                                  const std::string& name) {
  const xinhe_gemm_desc_t& desc = op->desc_;
  std::string params_source;
  op->params_ = select_gemm_params(device, desc, overrides, &params_source);
  const std::string bad = op->params_.validate(device->info.tuning_limits());
  if (!bad.empty()) {
    return xinhe::backend::Built::skip("parameters " + op->params_.to_string() + ": " + bad);
  }
  const std::string source =
      maybe_broken(std::string(kClDtypePrelude) + kClGemmTiled, name, overrides.break_build);
  const std::string options = gemm_tiled_options(desc, op->params_);
  // The contract's packing rule, and only when the packed workspace size is representable
  // (else the unpacked kernel, no workspace).
  op->packed_ = opencl_c::gemm_tiled_packs(desc, op->params_) && op->packed_workspace().ok();
  const bool packed = op->packed_;
  ClError error = op->kernel_.init(device, source, options, "xinhe_gemm_tiled");
  if (!error && packed) error = op->pack_a_.init(device, source, options, "xinhe_gemm_pack_a");
  if (!error && packed) error = op->pack_b_.init(device, source, options, "xinhe_gemm_pack_b");
  if (!error && packed) {
    error = op->packed_kernel_.init(device, source, options, "xinhe_gemm_packed");
  }
  // The kernel launched with the explicit work-group must take it (KernelLauncher::check_fits).
  std::string misfit;
  if (!error) {
    const size_t items = static_cast<size_t>(op->params_.nwg / op->params_.nwi) *
                         static_cast<size_t>(op->params_.mwg / op->params_.mwi);
    error = packed ? op->packed_kernel_.check_fits(items, "xinhe_gemm_packed", &misfit)
                   : op->kernel_.check_fits(items, "xinhe_gemm_tiled", &misfit);
  }
  if (error || !misfit.empty()) {
    for (KernelLauncher* k : {&op->kernel_, &op->pack_a_, &op->pack_b_, &op->packed_kernel_}) {
      k->reset();
    }
    op->packed_ = false;
    if (!error) return xinhe::backend::Built::skip(op->params_.to_string() + ": " + misfit);
    return built_or_skip(device, error);
  }
  return xinhe::backend::Built::ok(op->params_.to_string() + " from " + params_source +
                                   (packed ? ", packed" : ""));
}

// Makes CLBlast build its kernels now, at op creation, rather than in the first run: one call
// of the routine the op runs (CLBlast builds one program per routine and precision, for every
// layout and size, and keeps it per context and device) on a 1 x 1 x 1 problem in a scratch
// buffer, through a queue of its own on the device's context. A program the driver rejects
// then skips the entry (the walk goes on to the reference kernel) instead of failing every
// run after check said OK; out of memory or a lost device end the op's creation.
xinhe::backend::Built warm_clblast(Device* device, GemmOp* op) {
  const ClApi& cl = device->cl();
  const xinhe_gemm_desc_t& d = op->desc_;
  std::atomic<bool>& built = device->clblast_built[d.batch == 1 ? 0 : 1];
  if (built.load(std::memory_order_acquire))
    return xinhe::backend::Built::ok("CLBlast kernels built");
  cl_int err = CL_SUCCESS;
  cl_command_queue queue = cl.clCreateCommandQueue(device->context, device->id, 0, &err);
  if (err != CL_SUCCESS) {
    return built_or_skip(device, XINHE_CL_ERROR(err, "clCreateCommandQueue", "CLBlast warm-up"));
  }
  cl_mem scratch =
      cl.clCreateBuffer(device->context, CL_MEM_READ_WRITE, 4 * sizeof(float), nullptr, &err);
  ClError error;
  if (err != CL_SUCCESS) {
    error = XINHE_CL_ERROR_AT(err, "clCreateBuffer", "CLBlast warm-up", ClSite::kAllocate);
  } else {
    const float zeros[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    err = cl.clEnqueueWriteBuffer(queue, scratch, CL_TRUE, 0, sizeof(zeros), zeros, 0, nullptr,
                                  nullptr);
    if (err != CL_SUCCESS) {
      error = XINHE_CL_ERROR_AT(err, "clEnqueueWriteBuffer", "CLBlast warm-up", ClSite::kAllocate);
    }
  }
  if (!error) {
    const int ta = d.trans_a ? ClBlastApi::kTransposeYes : ClBlastApi::kTransposeNo;
    const int tb = d.trans_b ? ClBlastApi::kTransposeYes : ClBlastApi::kTransposeNo;
    ClBlastApi* blas = op->clblast_;
    int rc = 0;
    {
      std::lock_guard<std::mutex> lock(blas->call_mutex);
      // A at element 0, B at 1, C at 2 of the scratch buffer.
      rc = d.batch == 1 ? blas->sgemm(ClBlastApi::kRowMajor, ta, tb, 1, 1, 1, 1.0f, scratch, 0, 1,
                                      scratch, 1, 1, 0.0f, scratch, 2, 1, &queue, nullptr)
                        : blas->sgemm_strided_batched(ClBlastApi::kRowMajor, ta, tb, 1, 1, 1, 1.0f,
                                                      scratch, 0, 1, 1, scratch, 1, 1, 1, 0.0f,
                                                      scratch, 2, 1, 1, 1, &queue, nullptr);
    }
    error = clblast_error(rc, d.batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched");
    if (error) error.detail += " in the warm-up call that builds CLBlast's kernels";
  }
  if (!error) {
    err = cl.clFinish(queue);
    if (err != CL_SUCCESS)
      error = XINHE_CL_ERROR_AT(err, "clFinish", "CLBlast warm-up", ClSite::kWait);
  }
  if (scratch != nullptr) cl.clReleaseMemObject(scratch);
  cl.clReleaseCommandQueue(queue);
  if (error) {
    op->clblast_alpha0_.reset();
    return built_or_skip(device, error);
  }
  built.store(true, std::memory_order_release);
  return xinhe::backend::Built::ok("CLBlast kernels built");
}

}  // namespace

xinhe_status_t create_gemm_op(Device* device, const xinhe_gemm_desc_t& desc,
                              const OpOverrides& overrides, std::unique_ptr<Op>* out) {
  auto op = std::make_unique<GemmOp>(device, desc);
  xinhe::backend::DispatchRequest request(device->host(), "opencl", desc);
  request.device = device->info.name;
  request.filter_override = overrides.impl_filter;
  const auto unsupported = [&](const GemmEntry& entry) -> std::string {
    if (entry.impl != GemmImpl::kClblast) return "";
    if (desc.ab_dtype != XINHE_DTYPE_F32 || desc.c_dtype != XINHE_DTYPE_F32) return "f32 only";
    std::string why;
    op->clblast_ = clblast_get(device->backend, &why);
    return op->clblast_ != nullptr ? "" : why;
  };
  const auto build = [&](const GemmEntry& entry) {
    const std::string name = request.name_of(entry.method, entry.arch);
    if (entry.impl == GemmImpl::kTiled) return build_tiled(device, op.get(), overrides, name);
    if (entry.impl == GemmImpl::kReference) {
      const ClError error =
          op->kernel_.init(device,
                           maybe_broken(std::string(kClDtypePrelude) + kClGemmReference, name,
                                        overrides.break_build),
                           gemm_options(desc), "xinhe_gemm_reference");
      if (error) return built_or_skip(device, error);
    }
    if (entry.impl == GemmImpl::kClblast) {
      // CLBlast's alpha == 0 is not BLAS's (it reads A and B): those runs take the reference.
      const ClError error =
          op->clblast_alpha0_.init(device,
                                   maybe_broken(std::string(kClDtypePrelude) + kClGemmReference,
                                                name, overrides.break_build),
                                   gemm_options(desc), "xinhe_gemm_reference");
      if (error) return built_or_skip(device, error);
      return warm_clblast(device, op.get());
    }
    return xinhe::backend::Built::ok();
  };
  const xinhe::backend::Selection chosen =
      xinhe::backend::select_impl(request, kGemmList, unsupported, build);
  if (chosen.fatal != nullptr) return chosen.fatal;
  if (chosen.selected()) {
    op->impl_ = kGemmList[chosen.index].impl;
    op->name_ = chosen.name;
    if (op->impl_ == GemmImpl::kClblast) {
      op->clblast_swap_name_ = request.name_of("reference", nullptr);
      op->clblast_swap_line_ = xinhe::backend::run_swap_line(
          request, op->name_, op->clblast_swap_name_,
          desc.k == 0 ? "k == 0, which CLBlast refuses"
                      : "alpha == 0, where CLBlast reads A and B and BLAS does not");
    }
  } else {
    op->unsupported_ = chosen.unsupported;
  }
  *out = std::move(op);
  return nullptr;
}

xinhe_status_t create_op(Device* device, const xinhe_be_op_desc_t& desc,
                         const OpOverrides& overrides, std::unique_ptr<Op>* out) {
  // The kernels store f32, f16 and bf16 (dtype_caps); f64 is declined before any program is
  // built (the core reports this UNIMPLEMENTED from check and run).
  const bool f64 =
      (desc.kind == XINHE_OP_GEMM && desc.gemm != nullptr &&
       (desc.gemm->ab_dtype == XINHE_DTYPE_F64 || desc.gemm->c_dtype == XINHE_DTYPE_F64)) ||
      (desc.kind == XINHE_OP_ATTENTION && desc.attention != nullptr &&
       desc.attention->dtype == XINHE_DTYPE_F64);
  if (f64)
    return XINHE_BE_ERROR(device->host(), UNIMPLEMENTED, "opencl", "op_create",
                          "OpenCL ops run f32, f16 and bf16; f64 is not implemented");
  if (desc.kind == XINHE_OP_GEMM && desc.gemm != nullptr)
    return create_gemm_op(device, *desc.gemm, overrides, out);
  if (desc.kind == XINHE_OP_ATTENTION && desc.attention != nullptr)
    return create_attention_op(device, *desc.attention, overrides, out);
  return XINHE_BE_ERROR(device->host(), UNIMPLEMENTED, "opencl", "op_create", "unknown op kind %d",
                        static_cast<int>(desc.kind));
}

}  // namespace xinhe::opencl
