// The OpenCL attention implementation list, fastest first (names
// opencl.attention.<method>_<dtype>):
//   flash      online-softmax kernel (attention_flash.cl) compiled per head_dim, parameters
//              from the tuning database
//   reference  exact two-pass kernel (attention_reference.cl)
// Both cover every case the API allows. Walked by the dispatch service (xinhe/backend.hpp).
#include <sstream>

#include "op_common.h"

namespace xinhe::opencl {
namespace {

enum class AttentionImpl { kFlash, kReference, kNone };

cl_long4 strides4(const int64_t s[4]) {
  cl_long4 v;
  for (int i = 0; i < 4; ++i) v.s[i] = s[i];
  return v;
}

class AttentionOp final : public Op {
 public:
  AttentionOp(Device* device, const xinhe_attention_desc_t& desc) : device_(device), desc_(desc) {}

  xinhe_status_t check() const override {
    if (impl_ != AttentionImpl::kNone) return nullptr;
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, "opencl", "xinhe_attention_check", "%s",
                          unsupported_.c_str());
  }
  const char* impl_name() const override { return name_.c_str(); }
  xinhe_status_t run(cl_command_queue queue, const xinhe_be_op_args_t& args) override;

  Device* device_;
  xinhe_attention_desc_t desc_;
  AttentionImpl impl_ = AttentionImpl::kNone;
  std::string name_ = "opencl";  // the selected implementation; the backend's name when none
  std::string unsupported_;
  AttentionParams params_;
  KernelLauncher kernel_;
};

xinhe_status_t AttentionOp::run(cl_command_queue queue, const xinhe_be_op_args_t& args) {
  const xinhe_attention_desc_t& d = desc_;
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return nullptr;
  const size_t es = dtype_bytes(d.dtype);
  cl_long q_off = 0, k_off = 0, v_off = 0, o_off = 0, lse_off = 0;
  if (!element_offset(args.mem[XINHE_ATTENTION_ARG_Q].offset, es, &q_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_K].offset, es, &k_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_V].offset, es, &v_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_O].offset, es, &o_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_LSE].offset, sizeof(float), &lse_off))
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, "opencl", "xinhe_attention_run",
                          "operand byte offset is not a multiple of the element size");
  const cl_mem q = buffer_mem(args.mem[XINHE_ATTENTION_ARG_Q].buffer);
  const cl_mem k = buffer_mem(args.mem[XINHE_ATTENTION_ARG_K].buffer);
  const cl_mem v = buffer_mem(args.mem[XINHE_ATTENTION_ARG_V].buffer);
  const cl_mem o = buffer_mem(args.mem[XINHE_ATTENTION_ARG_O].buffer);
  const cl_mem lse = d.with_lse ? buffer_mem(args.mem[XINHE_ATTENTION_ARG_LSE].buffer) : nullptr;
  const cl_long hq = d.heads_q, hkv = d.heads_kv, sq = d.seq_q, skv = d.seq_kv, dim = d.head_dim;
  const cl_long4 qs = strides4(d.q_strides), ks = strides4(d.k_strides), vs = strides4(d.v_strides),
                 os = strides4(d.o_strides);
  const int64_t lse3[4] = {d.lse_strides[0], d.lse_strides[1], d.lse_strides[2], 0};
  const cl_long4 ls = strides4(lse3);
  const float scale = d.scale;
  using L = KernelLauncher;
  if (impl_ == AttentionImpl::kFlash) {
    const L::Arg kargs[] = {L::arg(hq),    L::arg(hkv),   L::arg(sq),      L::arg(skv),
                            L::arg(scale), L::arg(q),     L::arg(q_off),   L::arg(qs),
                            L::arg(k),     L::arg(k_off), L::arg(ks),      L::arg(v),
                            L::arg(v_off), L::arg(vs),    L::arg(o),       L::arg(o_off),
                            L::arg(os),    L::arg(lse),   L::arg(lse_off), L::arg(ls)};
    const size_t local[3] = {static_cast<size_t>(params_.wg), 1, 1};
    const size_t rows = (static_cast<size_t>(d.seq_q) + params_.qwi - 1) / params_.qwi;
    const size_t global[3] = {round_up(rows, local[0]), static_cast<size_t>(d.heads_q),
                              static_cast<size_t>(d.batch)};
    return kernel_.launch(queue, kargs, sizeof(kargs) / sizeof(kargs[0]), global, local);
  }
  const L::Arg kargs[] = {
      L::arg(hq),  L::arg(hkv),     L::arg(sq), L::arg(skv), L::arg(dim),   L::arg(scale),
      L::arg(q),   L::arg(q_off),   L::arg(qs), L::arg(k),   L::arg(k_off), L::arg(ks),
      L::arg(v),   L::arg(v_off),   L::arg(vs), L::arg(o),   L::arg(o_off), L::arg(os),
      L::arg(lse), L::arg(lse_off), L::arg(ls)};
  const size_t global[3] = {static_cast<size_t>(d.seq_q), static_cast<size_t>(d.heads_q),
                            static_cast<size_t>(d.batch)};
  return kernel_.launch(queue, kargs, sizeof(kargs) / sizeof(kargs[0]), global, nullptr);
}

AttentionParams select_attention_params(Device* device, const xinhe_attention_desc_t& d,
                                        const OpOverrides& overrides, std::string* source) {
  const DeviceInfo& info = device->info;
  if (overrides.attention != nullptr) {
    *source = "override";
    return *overrides.attention;
  }
  AttentionParams p = default_attention_params(info.cpu_like);
  *source = "defaults";
  std::string duplicate;
  const std::string* entry = device->backend->tuning_db.find(
      info.name, info.driver_version, dtype_tag(d.dtype), "attention", &duplicate);
  if (!duplicate.empty()) log_dispatch(device, duplicate);
  if (entry != nullptr) {
    AttentionParams tuned = p;
    std::string error;
    if (parse_attention_params(*entry, &tuned, &error) &&
        (error = tuned.validate(info.tuning_limits())).empty()) {
      *source = "tuning database";
      return tuned;
    }
    const std::string unset = attention_params_not_set(*entry);
    log_dispatch(device,
                 "tuning entry '" + *entry + "' unusable (" + error + ")" +
                     (unset.empty() ? "" : "; keys not in it, taken from defaults: " + unset) +
                     "; defaults");
  }
  return p;
}

struct AttentionEntry {
  const char* method;
  const char* arch;
  AttentionImpl impl;
};
constexpr AttentionEntry kAttentionList[] = {
    {"flash", nullptr, AttentionImpl::kFlash},
    {"reference", nullptr, AttentionImpl::kReference},
};

}  // namespace

xinhe_status_t create_attention_op(Device* device, const xinhe_attention_desc_t& desc,
                                   const OpOverrides& overrides, std::unique_ptr<Op>* out) {
  auto op = std::make_unique<AttentionOp>(device, desc);
  xinhe::backend::DispatchRequest request(device->host(), "opencl", desc);
  request.device = device->info.name;
  request.filter_override = overrides.impl_filter;
  // Build options and the d-vector rule are the kernels' host contract (attention_opencl.h),
  // shared with the Level Zero backend.
  const std::string common = opencl_c::attention_options(desc);
  const auto build = [&](const AttentionEntry& entry) {
    const std::string name = request.name_of(entry.method, entry.arch);
    if (entry.impl == AttentionImpl::kReference) {
      const ClError error =
          op->kernel_.init(device,
                           maybe_broken(std::string(kClDtypePrelude) + kClAttentionReference, name,
                                        overrides.break_build),
                           common, "xinhe_attention_reference");
      return error ? built_or_skip(device, error) : xinhe::backend::Built::ok();
    }
    std::string params_source;
    op->params_ = select_attention_params(device, desc, overrides, &params_source);
    const std::string bad = op->params_.validate(device->info.tuning_limits());
    if (!bad.empty()) {
      return xinhe::backend::Built::skip("parameters " + op->params_.to_string() + ": " + bad);
    }
    const opencl_c::FlashLayout layout = opencl_c::flash_layout(desc, op->params_);
    const ClError error = op->kernel_.init(
        device,
        maybe_broken(std::string(kClDtypePrelude) + kClAttentionFlash, name, overrides.break_build),
        opencl_c::attention_flash_options(desc, op->params_, layout), "xinhe_attention_flash");
    if (error) return built_or_skip(device, error);
    // The explicit work-group of wg work-items must fit this kernel (KernelLauncher::check_fits).
    std::string misfit;
    if (const ClError fit = op->kernel_.check_fits(static_cast<size_t>(op->params_.wg),
                                                   "xinhe_attention_flash", &misfit)) {
      op->kernel_.reset();
      return built_or_skip(device, fit);
    }
    if (!misfit.empty()) {
      op->kernel_.reset();
      return xinhe::backend::Built::skip(op->params_.to_string() + ": " + misfit);
    }
    return xinhe::backend::Built::ok(op->params_.to_string() + " from " + params_source + ", DV " +
                                     std::to_string(layout.dv) + " used");
  };
  const xinhe::backend::Selection chosen = xinhe::backend::select_impl(
      request, kAttentionList, [](const AttentionEntry&) { return ""; }, build);
  if (chosen.fatal != nullptr) return chosen.fatal;
  if (chosen.selected()) {
    op->impl_ = kAttentionList[chosen.index].impl;
    op->name_ = chosen.name;
  } else {
    op->unsupported_ = chosen.unsupported;
  }
  *out = std::move(op);
  return nullptr;
}

}  // namespace xinhe::opencl
