// Attention of the GPU backend shared by CUDA and HIP (see gpu_backend.h): the implementation
// list, built from the kernel families of attention_families.h and walked by the dispatch
// service, and the launch. Every kernel takes any strides and alignment (rows that are not
// 16-byte aligned are loaded element by element), so nothing is decided per run.
#include <string>

#include "gpu_backend.h"

namespace xinhe::gpu {

xinhe_status_t create_attention(xinhe_be_op_t op) {
  const xinhe_attention_desc_t& d = op->attention;
  xinhe_be_device_t device = op->device;
  op->request = xinhe::backend::DispatchRequest(host_of(device), kBackendName, d);
  op->request.device = device->info.name;
  const auto unsupported = [&](const AttentionFamily& family) -> std::string {
    std::string why = kernels::gpu::attention_unsupported(family, device->info.caps, d);
    return why.empty() ? device->attention_unavailable : why;
  };
  const auto build = [&](const AttentionFamily& family) {
    BoundKernel& kernel = op->kernel;
    kernel.impl_name = op->request.name_of(family.method, family.arch);
    kernel.kernel = kernels::gpu::attention_kernel_name(family, d.dtype, d.head_dim);
    kernel.attention = &family;
    std::string why = bind_kernel(device, device->attention_module, &kernel);
    // The pipelined K/V tiles of the tensor-core kernels exceed the 48 KiB default (tensorop at
    // d128, wgmma always): they opt in.
    const uint32_t smem = family.dynamic_smem(kernels::gpu::attention_max_d(d.head_dim));
    if (why.empty() && smem > 0) {
      const Driver& driver = driver_of(device);
      if (const Result r =
              driver.function_set_dynamic_smem(kernel.function, static_cast<int>(smem)))
        why = kernel.kernel + " cannot get its " + std::to_string(smem) +
              " bytes of shared memory: " + driver.describe(r);
    }
    if (!why.empty()) return xinhe::backend::Built::skip(why);
    return xinhe::backend::Built::ok(kernel.kernel);
  };
  const xinhe::backend::Selection chosen = xinhe::backend::select_impl(
      op->request, kernels::gpu::kAttentionFamilies, unsupported, build);
  if (chosen.fatal != nullptr) return chosen.fatal;
  if (chosen.selected()) {
    op->impl_name = chosen.name;
  } else {
    op->impl_name = kBackendName;
    op->reason = chosen.unsupported;
  }
  return nullptr;
}

xinhe_status_t run_attention(xinhe_be_op_t op, xinhe_be_stream_t stream,
                             const xinhe_be_op_args_t* args) {
  const xinhe_attention_desc_t& d = op->attention;
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return nullptr;
  xinhe_attention_cuda_params_t p;
  p.q = as_kernel_pointer(resolve(args->mem[XINHE_ATTENTION_ARG_Q]));
  p.k = as_kernel_pointer(resolve(args->mem[XINHE_ATTENTION_ARG_K]));
  p.v = as_kernel_pointer(resolve(args->mem[XINHE_ATTENTION_ARG_V]));
  p.o = as_kernel_pointer(resolve(args->mem[XINHE_ATTENTION_ARG_O]));
  p.lse = d.with_lse
              ? static_cast<float*>(as_kernel_pointer(resolve(args->mem[XINHE_ATTENTION_ARG_LSE])))
              : nullptr;
  p.batch = d.batch;
  p.heads_q = d.heads_q;
  p.heads_kv = d.heads_kv;
  p.seq_q = d.seq_q;
  p.seq_kv = d.seq_kv;
  p.head_dim = d.head_dim;
  for (int i = 0; i < 4; ++i) {
    p.q_strides[i] = d.q_strides[i];
    p.k_strides[i] = d.k_strides[i];
    p.v_strides[i] = d.v_strides[i];
    p.o_strides[i] = d.o_strides[i];
  }
  for (int i = 0; i < 3; ++i) p.lse_strides[i] = d.lse_strides[i];
  p.scale = d.scale;
  p.causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL ? 1 : 0;
  const kernels::gpu::Launch launch =
      kernels::gpu::attention_launch(*op->kernel.attention, p, XINHE_GPU_MAX_GRID_Z);
  void* params[] = {&p};
  return XG_STATUS_OF(
      op->device, driver_of(op->device)
                      .launch(op->kernel.function, launch.grid, launch.block, launch.dynamic_smem,
                              stream->stream, params, op->kernel.kernel.c_str()));
}

}  // namespace xinhe::gpu
