// GEMM of the GPU backend shared by CUDA and HIP (see gpu_backend.h): the implementation list,
// built from the kernel families of gemm_families.h with the vendor BLAS before the portable
// kernels, walked by the dispatch service, and the launch.
//
// Three kernel swaps can only be decided per run, since they depend on the operands' addresses
// or the run's alpha: A or B not starting on 16 bytes make the wgmma, tensorop and mfma kernels
// hand the run to the simt kernel; a driver that refuses the tensor maps of the wgmma kernel
// hands it to the sm_80 kernel (layouts TMA cannot describe are ruled out at create time); and
// the vendor BLAS hands runs with alpha == 0 to the simt kernel, for BLAS semantics whatever the
// library does (K == 0 is known at create: such ops select our kernels). The replacement kernels
// are bound at create time and named in the dispatch line; each swap is logged the first time it
// happens to an op, and op_run_impl_name reports which implementation a run with given
// arguments uses.
#include <string>
#include <vector>

#include "gpu_backend.h"

namespace xinhe::gpu {
namespace {

using kernels::gpu::GemmFamilyId;

// One entry of the list: a kernel family, or the vendor library (family == nullptr).
struct GemmEntry {
  const char* method;
  const char* arch;
  const GemmFamily* family;
};

// Our matrix-core kernels where they apply (wgmma, mfma, tensorop), then the vendor BLAS
// (fastest for the rest), then our portable kernels; the last (naive) runs everything.
const std::vector<GemmEntry>& gemm_list() {
  static const std::vector<GemmEntry> list = [] {
    std::vector<GemmEntry> entries;
    for (const GemmFamily& family : kernels::gpu::kGemmFamilies) {
#if defined(XINHE_GPU_VENDOR_BLAS_HEADER)
      if (family.id == GemmFamilyId::kSimt) {
        entries.push_back({XINHE_GPU_VENDOR_BLAS_API::kTag, nullptr, nullptr});
      }
#endif
      entries.push_back({family.method, family.arch, &family});
    }
    return entries;
  }();
  return list;
}

// Binds the kernel of family for op's description, with the shared memory it opts into.
std::string bind_gemm_kernel(xinhe_be_op_t op, const GemmFamily& family, BoundKernel* kernel) {
  const xinhe_gemm_desc_t& d = op->gemm;
  kernel->impl_name = op->request.name_of(family.method, family.arch);
  kernel->kernel =
      kernels::gpu::gemm_kernel_name(family, d.ab_dtype, d.c_dtype, d.trans_a, d.trans_b);
  kernel->gemm = &family;
  std::string why = bind_kernel(op->device, op->device->gemm_module, kernel);
  if (why.empty() && family.dynamic_smem > 0) {
    const Driver& driver = driver_of(op->device);
    if (const Result r = driver.function_set_dynamic_smem(kernel->function,
                                                          static_cast<int>(family.dynamic_smem)))
      why = kernel->kernel + " cannot get its shared memory: " + driver.describe(r);
  }
  return why;
}

// The factory of a kernel family: the selected kernel and the ones it hands runs to.
xinhe::backend::Built build_family(xinhe_be_op_t op, const GemmFamily& family) {
  std::string why = bind_gemm_kernel(op, family, &op->kernel);
  std::string detail = op->kernel.kernel;
  if (why.empty() && family.misaligned_fallback != family.id) {
    why = bind_gemm_kernel(op, kernels::gpu::gemm_family(family.misaligned_fallback),
                           &op->misaligned.kernel);
    detail += "; A or B not 16-byte aligned: " + op->misaligned.kernel.impl_name;
  }
  if (why.empty() && family.tma_fallback != family.id) {
    why = bind_gemm_kernel(op, kernels::gpu::gemm_family(family.tma_fallback),
                           &op->tma_refused.kernel);
    detail += "; tensor maps refused: " + op->tma_refused.kernel.impl_name;
  }
  if (!why.empty()) return xinhe::backend::Built::skip(why);
  return xinhe::backend::Built::ok(detail);
}

// Whether the simt kernel can run op's description on its device.
bool simt_runs(xinhe_be_op_t op) {
  const GemmFamily& simt = kernels::gpu::gemm_family(GemmFamilyId::kSimt);
  return op->device->gemm_unavailable.empty() &&
         kernels::gpu::gemm_unsupported(simt, op->device->info.caps, op->gemm).empty();
}

// The factory of the vendor BLAS: binds the simt kernel its alpha == 0 runs take, when the
// kernel image has it (else the library runs them too).
xinhe::backend::Built build_vendor_blas(xinhe_be_op_t op) {
  if (!simt_runs(op)) return xinhe::backend::Built::ok();
  const GemmFamily& simt = kernels::gpu::gemm_family(GemmFamilyId::kSimt);
  if (!bind_gemm_kernel(op, simt, &op->alpha_zero.kernel).empty()) {
    op->alpha_zero.kernel.function = nullptr;
    return xinhe::backend::Built::ok();
  }
  return xinhe::backend::Built::ok("alpha == 0: " + op->alpha_zero.kernel.impl_name);
}

// The kernel parameters of a run.
xinhe_gemm_cuda_params_t run_params(xinhe_be_op_t op, const xinhe_be_op_args_t* args) {
  xinhe_gemm_cuda_params_t p = kernels::gpu::gemm_params(op->gemm);
  p.a = as_kernel_pointer(resolve(args->mem[XINHE_GEMM_ARG_A]));
  p.b = as_kernel_pointer(resolve(args->mem[XINHE_GEMM_ARG_B]));
  p.c = as_kernel_pointer(resolve(args->mem[XINHE_GEMM_ARG_C]));
  p.alpha = args->alpha;
  p.beta = args->beta;
  return p;
}

// Which kernel runs p: the selected one, or a swap decided per run (*swap and *why then say
// which and why). When the wgmma kernel runs, *w holds its encoded tensor maps.
const BoundKernel& choose_kernel(xinhe_be_op_t op, const xinhe_gemm_cuda_params_t& p,
                                 xinhe_gemm_wgmma_params_t* w, RunSwap** swap, std::string* why) {
  *swap = nullptr;
  if (op->vendor_blas) {  // the library, or our simt kernel for alpha == 0
    if (p.alpha != 0.0f || op->alpha_zero.kernel.function == nullptr) return op->kernel;
    *swap = &op->alpha_zero;
    *why = "alpha == 0 (C = beta * C, A and B unused)";
    return op->alpha_zero.kernel;
  }
  const GemmFamily& family = *op->kernel.gemm;
  if (family.aligned_rows &&
      (reinterpret_cast<uintptr_t>(p.a) | reinterpret_cast<uintptr_t>(p.b)) % 16 != 0) {
    // TMA, cp.async and the MFMA loads need 16-byte aligned rows; these operands start mid-chunk.
    *swap = &op->misaligned;
    *why = "A or B does not start on a 16-byte boundary";
    return op->misaligned.kernel;
  }
  if (family.id == GemmFamilyId::kWgmma) {
    // Tensor maps hold the operands' addresses, so they are encoded per run (host only).
    const Driver& driver = driver_of(op->device);
    auto encode = [&](const kernels::wgmma::TensorMapRequest& r,
                      xinhe_gemm_tensor_map_t* map) -> std::string {
      const Result e = driver.tensor_map_encode(map, r.bf16, r.base, r.dims, r.strides, r.box);
      return e ? driver.describe(e) : std::string();
    };
    const std::string refused =
        kernels::wgmma::make_wgmma_params(p, op->gemm.ab_dtype == XINHE_DTYPE_BF16, encode, w);
    if (!refused.empty()) {
      *swap = &op->tma_refused;
      *why = "the driver refused its tensor maps (" + refused + ")";
      return op->tma_refused.kernel;
    }
  }
  return op->kernel;
}

}  // namespace

std::string bind_kernel(xinhe_be_device_t device, Module module, BoundKernel* kernel) {
  kernel->function = driver_of(device).module_function(module, kernel->kernel.c_str());
  if (kernel->function == nullptr) {
    return "kernel " + kernel->kernel + " is not in the loaded image for " + device->info.arch;
  }
  return "";
}

xinhe_status_t create_gemm(xinhe_be_op_t op) {
  const xinhe_gemm_desc_t& d = op->gemm;
  xinhe_be_device_t device = op->device;
  op->request = xinhe::backend::DispatchRequest(host_of(device), kBackendName, d);
  op->request.device = device->info.name;
  const auto unsupported = [&](const GemmEntry& entry) -> std::string {
    if (entry.family == nullptr) {
#if defined(XINHE_GPU_VENDOR_BLAS_HEADER)
      // C = beta * C on our kernels, whose semantics do not depend on the library's (ops.h).
      if (d.k == 0 && simt_runs(op)) return "k == 0 runs on our kernels (BLAS semantics)";
      return device->vendor_blas.unsupported(d);
#else
      return "no vendor library";
#endif
    }
    std::string why = kernels::gpu::gemm_unsupported(*entry.family, device->info.caps, d);
    return why.empty() ? device->gemm_unavailable : why;
  };
  const auto build = [&](const GemmEntry& entry) {
    if (entry.family == nullptr) return build_vendor_blas(op);
    return build_family(op, *entry.family);
  };
  const xinhe::backend::Selection chosen =
      xinhe::backend::select_impl(op->request, gemm_list(), unsupported, build);
  if (chosen.fatal != nullptr) return chosen.fatal;
  if (chosen.selected()) {
    op->impl_name = chosen.name;
    op->vendor_blas = gemm_list()[chosen.index].family == nullptr;
    if (op->vendor_blas) op->kernel.impl_name = chosen.name;
  } else {
    op->impl_name = kBackendName;
    op->reason = chosen.unsupported;
  }
  return nullptr;
}

xinhe_status_t run_gemm(xinhe_be_op_t op, xinhe_be_stream_t stream,
                        const xinhe_be_op_args_t* args) {
  const xinhe_gemm_desc_t& d = op->gemm;
  if (d.m == 0 || d.n == 0 || d.batch == 0) return nullptr;
  xinhe_gemm_cuda_params_t p = run_params(op, args);
  alignas(128) xinhe_gemm_wgmma_params_t w;
  RunSwap* swap = nullptr;
  std::string why;
  const BoundKernel& kernel = choose_kernel(op, p, &w, &swap, &why);
#if defined(XINHE_GPU_VENDOR_BLAS_HEADER)
  if (op->vendor_blas && swap == nullptr) {
    return op->device->vendor_blas.run(d, p.a, p.b, p.c, p.alpha, p.beta, stream->stream);
  }
#endif
  if (swap != nullptr && host_of(op->device)->verbose_enabled("dispatch") &&
      !swap->logged.exchange(true)) {
    xinhe::backend::log_dispatch(
        host_of(op->device), kBackendName,
        xinhe::backend::run_swap_line(op->request, op->impl_name, kernel.impl_name, why) +
            " (logged once per op)");
  }
  const kernels::gpu::Launch launch = kernels::gpu::gemm_launch(
      *kernel.gemm, p, XINHE_GPU_MAX_GRID_Z, op->device->info.caps.compute_units);
  void* wgmma_params[] = {&w};
  void* params[] = {&p};
  const bool wgmma = kernel.gemm->id == GemmFamilyId::kWgmma;
  return XG_STATUS_OF(
      op->device,
      driver_of(op->device)
          .launch(kernel.function, launch.grid, launch.block, launch.dynamic_smem, stream->stream,
                  wgmma ? wgmma_params : params, kernel.kernel.c_str()));
}

const std::string& gemm_impl_for_run(xinhe_be_op_t op, const xinhe_be_op_args_t* args) {
  const xinhe_gemm_desc_t& d = op->gemm;
  if (!op->reason.empty() || d.m == 0 || d.n == 0 || d.batch == 0) {
    return op->impl_name;  // nothing is launched for an empty problem
  }
  const xinhe_gemm_cuda_params_t p = run_params(op, args);
  alignas(128) xinhe_gemm_wgmma_params_t w;
  RunSwap* swap = nullptr;
  std::string why;
  return choose_kernel(op, p, &w, &swap, &why).impl_name;
}

}  // namespace xinhe::gpu
