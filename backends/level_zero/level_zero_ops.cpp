// The Level Zero op implementations: the OpenCL C kernels (as SPIR-V variants, see
// spirv_variants.h) launched through command lists. Lists, fastest first, walked by the dispatch
// service (xinhe/backend.hpp) like every backend's:
//   level_zero.gemm.tiled_<dtypes>          gemm_tiled.cl with level_zero_gemm_tile()
//   level_zero.gemm.reference_<dtypes>      gemm_reference.cl; everything
//   level_zero.attention.flash_<dt>         attention_flash.cl for head_dim 64 / 128 with
//                                           contiguous d
//   level_zero.attention.reference_<dt>     attention_reference.cl; everything
// Tile validation, build options, arguments and launch geometry come from
// kernels/*/opencl/*_opencl.h, the same functions the OpenCL backend uses for these kernels.
// A module that does not build (zeModuleCreate fails) makes the walk fall through to the next
// entry with the call, the flags and the driver's build log as the reason; out of memory or a
// lost device ends op creation. XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL (served by the core)
// restrict the lists; XINHE_VERBOSE=dispatch logs the choice and why earlier entries were
// skipped, in the dispatch line every backend writes.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

#include "level_zero_internal.h"
#include "module_cache.h"
#include "spirv_variants.h"
#include "xinhe/backend.hpp"

namespace xinhe::level_zero {
namespace {

namespace cc = opencl_c;

size_t dtype_bytes(xinhe_dtype_t t) {
  return t == XINHE_DTYPE_F32 ? 4 : t == XINHE_DTYPE_F64 ? 8 : 2;
}

// Byte offset -> element offset; false when it is not a whole number of elements.
bool element_offset(uint64_t bytes, size_t elem_size, int64_t* out) {
  if (bytes % elem_size != 0) return false;
  *out = static_cast<int64_t>(bytes / elem_size);
  return true;
}

// The work-group of a launch whose group the driver chooses, within the device's limits:
// maxGroupCount{X,Y,Z} (a launch over it is invalid, and the kernels take no global offset to
// split it), maxGroupSize{X,Y,Z} and maxTotalGroupSize. Each dimension's group divides the
// global size (the reference kernels do not bounds-check every dimension). suggestion (the
// driver's, already made to divide; NULL at op creation) is kept where it fits; a dimension
// that needs more groups than the device launches takes the smallest divisor that brings the
// count within the limit; when the total is then too large, every dimension takes its
// smallest. Op creation and launch both call this, so an op that was created launches.
// Returns "" and fills group, or why no group fits.
std::string choose_group(const cc::NdRange& range, const uint32_t* suggestion,
                         const DeviceInfo& info, uint32_t group[3]) {
  static const char kAxis[] = "XYZ";
  uint64_t smallest[3];
  for (int i = 0; i < 3; ++i) {
    const uint64_t global = std::max<uint64_t>(range.global[i], 1);
    const uint64_t count_limit = std::max<uint32_t>(info.max_group_count[i], 1);
    const uint64_t size_limit = std::max<uint32_t>(info.max_group_size_xyz[i], 1);
    uint64_t d = (global + count_limit - 1) / count_limit;  // fewest items per group
    while (d <= size_limit && d <= global && global % d != 0) ++d;
    if (d > size_limit || d > global)
      return "no work-group launches " + std::to_string(global) + " work-items in " + kAxis[i] +
             ": it needs at least " + std::to_string((global + count_limit - 1) / count_limit) +
             " per group (maxGroupCount" + kAxis[i] + " " + std::to_string(count_limit) +
             ") dividing the global size, and maxGroupSize" + kAxis[i] + " is " +
             std::to_string(size_limit);
    smallest[i] = d;
  }
  uint64_t total = 1;
  for (int i = 0; i < 3; ++i) {
    const uint64_t s = suggestion != nullptr ? suggestion[i] : 1;
    group[i] = static_cast<uint32_t>(std::max<uint64_t>(s, smallest[i]));
    if (suggestion != nullptr && s < smallest[i]) group[i] = static_cast<uint32_t>(smallest[i]);
    total *= group[i];
  }
  if (total > info.max_group_size) {
    total = 1;
    for (int i = 0; i < 3; ++i) total *= (group[i] = static_cast<uint32_t>(smallest[i]));
  }
  if (total > info.max_group_size)
    return "the launch needs work-groups of at least " + std::to_string(smallest[0]) + " x " +
           std::to_string(smallest[1]) + " x " + std::to_string(smallest[2]) +
           " work-items to stay within maxGroupCount (" + std::to_string(info.max_group_count[0]) +
           ", " + std::to_string(info.max_group_count[1]) + ", " +
           std::to_string(info.max_group_count[2]) + "), over the device's maxTotalGroupSize " +
           std::to_string(info.max_group_size);
  return "";
}

// Why a launch of range with an explicit work-group cannot be made: a dimension needing more
// work-groups than maxGroupCount{X,Y,Z} allows, or "".
std::string fixed_group_problem(const cc::NdRange& range, const DeviceInfo& info) {
  static const char kAxis[] = "XYZ";
  for (int i = 0; i < 3; ++i) {
    const uint64_t g = std::max<uint64_t>(range.local[i], 1);
    const uint64_t count = range.global[i] / g;
    if (count > info.max_group_count[i])
      return "the launch needs " + std::to_string(count) + " work-groups in " + kAxis[i] +
             " (global size " + std::to_string(range.global[i]) + ", work-group " +
             std::to_string(g) + "), over the device's maxGroupCount" + kAxis[i] + " of " +
             std::to_string(info.max_group_count[i]);
  }
  return "";
}

// Why range cannot be launched on the device ("" when it can), as launch() will try it.
std::string launch_problem(const cc::NdRange& range, const DeviceInfo& info) {
  if (!range.driver_chooses_local()) return fixed_group_problem(range, info);
  uint32_t group[3];
  return choose_group(range, nullptr, info, group);
}

// A kernel argument that is a device pointer (NULL allowed).
struct UsmPtr {
  void* p;
};
// OpenCL C's long4.
struct Long4 {
  int64_t s[4];
};
static_assert(sizeof(Long4) == 32, "long4 is 32 bytes");

// One kernel of the device's module cache. Arguments are per-kernel state in Level Zero, and
// ops may run from several threads: set-arguments + append happen under the kernel's lock.
class LzKernel {
 public:
  // Builds (or finds) the module of an embedded variant and creates the kernel.
  ZeCall init(Device* device, const SpirvProgram& spirv, const char* kernel_name) {
    device_ = device;
    return device->modules->kernel(spirv, kernel_name, &ref_);
  }

  // Sets the arguments (args(visit) calls visit once per argument, in kernel order), the
  // work-group, and appends the launch on the recorder's list.
  template <typename Args>
  xinhe_status_t launch(StreamRecorder& recorder, Args&& args, const cc::NdRange& range) {
    const ZeApi& ze = device_->ze();
    const xinhe_host_api_t* host = device_->host();
    std::lock_guard<std::mutex> lock(*ref_.mutex);
    uint32_t index = 0;
    ze_result_t failed = ZE_RESULT_SUCCESS;
    args([&](const auto& value) {
      using T = std::decay_t<decltype(value)>;
      ze_result_t r;
      if constexpr (std::is_same_v<T, UsmPtr>) {
        r = ze.zeKernelSetArgumentValue(ref_.kernel, index, sizeof(void*),
                                        value.p != nullptr ? &value.p : nullptr);
      } else {
        r = ze.zeKernelSetArgumentValue(ref_.kernel, index, sizeof(T), &value);
      }
      if (r != ZE_RESULT_SUCCESS && failed == ZE_RESULT_SUCCESS) failed = r;
      ++index;
    });
    XINHE_ZE_RETURN_IF_ERROR(host, failed, "zeKernelSetArgumentValue");
    uint32_t group[3];
    if (range.driver_chooses_local()) {
      XINHE_ZE_RETURN_IF_ERROR(
          host,
          ze.zeKernelSuggestGroupSize(ref_.kernel, static_cast<uint32_t>(range.global[0]),
                                      static_cast<uint32_t>(range.global[1]),
                                      static_cast<uint32_t>(range.global[2]), &group[0], &group[1],
                                      &group[2]),
          "zeKernelSuggestGroupSize");
      // The reference kernels do not bounds-check every dimension: the group must divide it.
      for (int i = 0; i < 3; ++i)
        if (group[i] == 0 || range.global[i] % group[i] != 0) group[i] = 1;
      const uint32_t suggested[3] = {group[0], group[1], group[2]};
      if (std::string why = choose_group(range, suggested, device_->info, group); !why.empty())
        return XINHE_BE_ERROR(host, UNIMPLEMENTED, kBackendName, "zeCommandListAppendLaunchKernel",
                              "%s", why.c_str());
    } else {
      for (int i = 0; i < 3; ++i) group[i] = static_cast<uint32_t>(range.local[i]);
      // Ops check this when they are created (launch_problem).
      if (std::string why = fixed_group_problem(range, device_->info); !why.empty())
        return XINHE_BE_ERROR(host, UNIMPLEMENTED, kBackendName, "zeCommandListAppendLaunchKernel",
                              "%s", why.c_str());
    }
    XINHE_ZE_RETURN_IF_ERROR(host,
                             ze.zeKernelSetGroupSize(ref_.kernel, group[0], group[1], group[2]),
                             "zeKernelSetGroupSize");
    // Global sizes are whole multiples of the group (rounded up by the range, or divisors
    // chosen by the driver).
    const ze_group_count_t count = {static_cast<uint32_t>(range.global[0] / group[0]),
                                    static_cast<uint32_t>(range.global[1] / group[1]),
                                    static_cast<uint32_t>(range.global[2] / group[2])};
    ze_command_list_handle_t list = nullptr;
    if (xinhe_status_t st = recorder.begin_command(&list)) return st;
    XINHE_ZE_RETURN_IF_ERROR(
        host, ze.zeCommandListAppendLaunchKernel(list, ref_.kernel, &count, nullptr, 0, nullptr),
        "zeCommandListAppendLaunchKernel");
    return recorder.end_command();
  }

 private:
  Device* device_ = nullptr;
  ModuleCache::KernelRef ref_;
};

// ---- GEMM ----------------------------------------------------------------------------------

enum class GemmImpl { kTiled, kReference, kNone };

class GemmOp final : public Op {
 public:
  GemmOp(Device* device, const xinhe_gemm_desc_t& desc) : device_(device), desc_(desc) {}
  xinhe_status_t check() const override {
    if (impl_ != GemmImpl::kNone) return nullptr;
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, kBackendName, "xinhe_gemm_check", "%s",
                          unsupported_.c_str());
  }
  const char* impl_name() const override { return name_.c_str(); }
  xinhe_status_t run(StreamRecorder& recorder, const xinhe_be_op_args_t& args) override;

  Device* device_;
  xinhe_gemm_desc_t desc_;
  GemmImpl impl_ = GemmImpl::kNone;
  std::string name_ = "level_zero";  // the selected implementation; the backend's name when none
  std::string unsupported_;
  LzKernel kernel_;
};

xinhe_status_t GemmOp::run(StreamRecorder& recorder, const xinhe_be_op_args_t& args) {
  const xinhe_gemm_desc_t& d = desc_;
  if (d.m == 0 || d.n == 0 || d.batch == 0) return nullptr;
  const size_t ab_size = dtype_bytes(d.ab_dtype), c_size = dtype_bytes(d.c_dtype);
  int64_t a_off = 0, b_off = 0, c_off = 0;
  if (!element_offset(args.mem[XINHE_GEMM_ARG_A].offset, ab_size, &a_off) ||
      !element_offset(args.mem[XINHE_GEMM_ARG_B].offset, ab_size, &b_off) ||
      !element_offset(args.mem[XINHE_GEMM_ARG_C].offset, c_size, &c_off))
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, kBackendName, "xinhe_gemm_run",
                          "operand byte offset is not a multiple of the element size");
  const UsmPtr a{buffer_pointer(args.mem[XINHE_GEMM_ARG_A].buffer)};
  const UsmPtr b{buffer_pointer(args.mem[XINHE_GEMM_ARG_B].buffer)};
  const UsmPtr c{buffer_pointer(args.mem[XINHE_GEMM_ARG_C].buffer)};
  const auto kernel_args = [&](auto&& visit) {
    cc::gemm_kernel_args(d, a, a_off, b, b_off, c, c_off, args.alpha, args.beta, visit);
  };
  const cc::NdRange range = impl_ == GemmImpl::kTiled
                                ? cc::gemm_tiled_range(d, level_zero_gemm_tile())
                                : cc::gemm_reference_range(d);
  return kernel_.launch(recorder, kernel_args, range);
}

// ---- Attention -----------------------------------------------------------------------------

enum class AttentionImpl { kFlash, kReference, kNone };

class AttentionOp final : public Op {
 public:
  AttentionOp(Device* device, const xinhe_attention_desc_t& desc) : device_(device), desc_(desc) {}
  xinhe_status_t check() const override {
    if (impl_ != AttentionImpl::kNone) return nullptr;
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, kBackendName, "xinhe_attention_check",
                          "%s", unsupported_.c_str());
  }
  const char* impl_name() const override { return name_.c_str(); }
  xinhe_status_t run(StreamRecorder& recorder, const xinhe_be_op_args_t& args) override;

  Device* device_;
  xinhe_attention_desc_t desc_;
  AttentionImpl impl_ = AttentionImpl::kNone;
  std::string name_ = "level_zero";  // the selected implementation; the backend's name when none
  std::string unsupported_;
  LzKernel kernel_;
};

xinhe_status_t AttentionOp::run(StreamRecorder& recorder, const xinhe_be_op_args_t& args) {
  const xinhe_attention_desc_t& d = desc_;
  if (d.batch == 0 || d.heads_q == 0 || d.seq_q == 0) return nullptr;
  const size_t es = dtype_bytes(d.dtype);
  int64_t q_off = 0, k_off = 0, v_off = 0, o_off = 0, lse_off = 0;
  if (!element_offset(args.mem[XINHE_ATTENTION_ARG_Q].offset, es, &q_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_K].offset, es, &k_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_V].offset, es, &v_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_O].offset, es, &o_off) ||
      !element_offset(args.mem[XINHE_ATTENTION_ARG_LSE].offset, sizeof(float), &lse_off))
    return XINHE_BE_ERROR(device_->host(), UNIMPLEMENTED, kBackendName, "xinhe_attention_run",
                          "operand byte offset is not a multiple of the element size");
  const UsmPtr q{buffer_pointer(args.mem[XINHE_ATTENTION_ARG_Q].buffer)};
  const UsmPtr k{buffer_pointer(args.mem[XINHE_ATTENTION_ARG_K].buffer)};
  const UsmPtr v{buffer_pointer(args.mem[XINHE_ATTENTION_ARG_V].buffer)};
  const UsmPtr o{buffer_pointer(args.mem[XINHE_ATTENTION_ARG_O].buffer)};
  const UsmPtr lse{d.with_lse ? buffer_pointer(args.mem[XINHE_ATTENTION_ARG_LSE].buffer) : nullptr};
  const bool reference = impl_ == AttentionImpl::kReference;
  const auto kernel_args = [&](auto&& visit) {
    cc::attention_kernel_args<UsmPtr, Long4>(d, reference, q, q_off, k, k_off, v, v_off, o, o_off,
                                             lse, lse_off, visit);
  };
  const cc::NdRange range = reference ? cc::attention_reference_range(d)
                                      : cc::attention_flash_range(d, level_zero_flash_tile());
  return kernel_.launch(recorder, kernel_args, range);
}

// ---- Selection -------------------------------------------------------------------------------
// What decides whether a kernel family can run an op (tile validation against the device's
// limits, the d-vector layout, the build options) is the kernels' host contract, shared with
// the OpenCL backend; the walk is the dispatch service's.

using xinhe::backend::Built;
using xinhe::backend::DispatchRequest;
using xinhe::backend::Selection;

// A module build's outcome as the walker takes it: out of memory or a lost device end the op's
// creation; anything else (a module the driver does not build, a kernel missing from it) skips
// to the next entry with the reason.
Built built_or_skip(const Device* device, const ZeCall& call, std::string detail) {
  if (!call) return Built::ok(std::move(detail));
  if (call.fatal()) return Built::fatal(to_status(device->host(), call, __FILE__, __LINE__));
  return Built::skip(call.describe());
}

// Not SPIR-V (19 bytes, not a whole number of words): a module every driver refuses to build.
// Entries named like OpOverrides::break_build load it instead of their variant, so tests see a
// real zeModuleCreate failure fall through.
const SpirvProgram& not_spirv() {
  static const unsigned char kBytes[19] = {0x03, 0x02, 0x23, 0x07};
  static const size_t kSize = sizeof(kBytes);
  static const SpirvProgram kProgram = {"not_spirv", "", kBytes, &kSize};
  return kProgram;
}

const SpirvProgram& variant_or_broken(const SpirvProgram& variant, const std::string& name,
                                      const OpOverrides& overrides) {
  const char* broken = overrides.break_build;
  if (broken == nullptr || broken[0] == '\0' || name.find(broken) == std::string::npos)
    return variant;
  return not_spirv();
}

DispatchRequest dispatch_request(const Device* device, const OpOverrides& overrides,
                                 DispatchRequest request) {
  request.device = device->info.name;
  request.filter_override = overrides.impl_filter;
  return request;
}

struct GemmEntry {
  const char* method;
  const char* arch;
  GemmImpl impl;
};
constexpr GemmEntry kGemmList[] = {
    {"tiled", nullptr, GemmImpl::kTiled},
    {"reference", nullptr, GemmImpl::kReference},
};

// The variant of the OpenCL C kernel an entry runs for desc, or nullptr.
const SpirvProgram* gemm_variant(GemmImpl impl, const xinhe_gemm_desc_t& desc) {
  return impl == GemmImpl::kTiled
             ? find_spirv_program(cc::kGemmTiledProgram,
                                  cc::gemm_tiled_options(desc, level_zero_gemm_tile()))
             : find_spirv_program(cc::kGemmReferenceProgram, cc::gemm_options(desc));
}

xinhe_status_t create_gemm_op(Device* device, const xinhe_gemm_desc_t& desc,
                              const OpOverrides& overrides, std::unique_ptr<Op>* out) {
  auto op = std::make_unique<GemmOp>(device, desc);
  const DeviceInfo& info = device->info;
  const DispatchRequest request =
      dispatch_request(device, overrides, DispatchRequest(device->host(), kBackendName, desc));
  const auto unsupported = [&](const GemmEntry& e) -> std::string {
    if (e.impl == GemmImpl::kTiled) {
      const cc::GemmTile tile = level_zero_gemm_tile();
      if (std::string why = tile.validate(info.kernel_limits()); !why.empty())
        return "tile " + tile.to_string() + ": " + why;
    }
    if (gemm_variant(e.impl, desc) == nullptr) return "no SPIR-V variant for this op";
    const cc::NdRange range = e.impl == GemmImpl::kTiled
                                  ? cc::gemm_tiled_range(desc, level_zero_gemm_tile())
                                  : cc::gemm_reference_range(desc);
    return launch_problem(range, info);
  };
  const auto build = [&](const GemmEntry& e) {
    const bool tiled = e.impl == GemmImpl::kTiled;
    const SpirvProgram& spirv = variant_or_broken(*gemm_variant(e.impl, desc),
                                                  request.name_of(e.method, e.arch), overrides);
    return built_or_skip(
        device,
        op->kernel_.init(device, spirv, tiled ? cc::kGemmTiledKernel : cc::kGemmReferenceKernel),
        tiled ? level_zero_gemm_tile().to_string() : std::string());
  };
  const Selection chosen = xinhe::backend::select_impl(request, kGemmList, unsupported, build);
  if (chosen.fatal != nullptr) return chosen.fatal;
  if (chosen.selected()) {
    op->impl_ = kGemmList[chosen.index].impl;
    op->name_ = chosen.name;
  } else {
    op->unsupported_ = chosen.unsupported;
  }
  *out = std::move(op);
  return nullptr;
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

const SpirvProgram* attention_variant(AttentionImpl impl, const xinhe_attention_desc_t& desc) {
  if (impl == AttentionImpl::kReference)
    return find_spirv_program(cc::kAttentionReferenceProgram, cc::attention_options(desc));
  const cc::FlashTile tile = level_zero_flash_tile();
  return find_spirv_program(cc::kAttentionFlashProgram,
                            cc::attention_flash_options(desc, tile, cc::flash_layout(desc, tile)));
}

xinhe_status_t create_attention_op(Device* device, const xinhe_attention_desc_t& desc,
                                   const OpOverrides& overrides, std::unique_ptr<Op>* out) {
  auto op = std::make_unique<AttentionOp>(device, desc);
  const DeviceInfo& info = device->info;
  const DispatchRequest request =
      dispatch_request(device, overrides, DispatchRequest(device->host(), kBackendName, desc));
  const auto unsupported = [&](const AttentionEntry& e) -> std::string {
    if (e.impl == AttentionImpl::kFlash) {
      const cc::FlashTile tile = level_zero_flash_tile();
      if (!cc::flash_layout(desc, tile).contiguous_d) return "d strides are not all 1";
      const auto& dims = level_zero_flash_head_dims();
      if (std::find(dims.begin(), dims.end(), desc.head_dim) == dims.end())
        return "no flash variant for head_dim " + std::to_string(desc.head_dim);
      if (std::string why = tile.validate(info.kernel_limits()); !why.empty())
        return "parameters " + tile.to_string() + ": " + why;
    }
    if (attention_variant(e.impl, desc) == nullptr) return "no SPIR-V variant for this op";
    const cc::NdRange range = e.impl == AttentionImpl::kFlash
                                  ? cc::attention_flash_range(desc, level_zero_flash_tile())
                                  : cc::attention_reference_range(desc);
    return launch_problem(range, info);
  };
  const auto build = [&](const AttentionEntry& e) {
    const bool flash = e.impl == AttentionImpl::kFlash;
    const SpirvProgram& spirv = variant_or_broken(*attention_variant(e.impl, desc),
                                                  request.name_of(e.method, e.arch), overrides);
    return built_or_skip(
        device,
        op->kernel_.init(device, spirv,
                         flash ? cc::kAttentionFlashKernel : cc::kAttentionReferenceKernel),
        flash ? level_zero_flash_tile().to_string() : std::string());
  };
  const Selection chosen = xinhe::backend::select_impl(request, kAttentionList, unsupported, build);
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

}  // namespace

xinhe_status_t create_op(Device* device, const xinhe_be_op_desc_t& desc,
                         const OpOverrides& overrides, std::unique_ptr<Op>* out) {
  if (desc.kind == XINHE_OP_GEMM && desc.gemm != nullptr)
    return create_gemm_op(device, *desc.gemm, overrides, out);
  if (desc.kind == XINHE_OP_ATTENTION && desc.attention != nullptr)
    return create_attention_op(device, *desc.attention, overrides, out);
  return XINHE_BE_ERROR(device->host(), UNIMPLEMENTED, kBackendName, "op_create",
                        "unknown op kind %d", static_cast<int>(desc.kind));
}

}  // namespace xinhe::level_zero
