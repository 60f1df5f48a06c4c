// Internal objects of the OpenCL backend (behind the opaque xinhe_be_* handles) and the
// interfaces shared by the backend table, the op implementations, the tests and xinhe-tune.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cl_loader.h"
#include "program_cache.h"
#include "tuning_db.h"
#include "xinhe/backend.h"

namespace xinhe::opencl {

struct ClBlastApi;  // libclblast.so.1, loaded on first use

struct Backend {
  const xinhe_host_api_t* host = nullptr;
  ClApi cl;
  struct DeviceSlot {
    cl_platform_id platform;
    cl_device_id device;
  };
  std::vector<DeviceSlot> slots;  // every device of every platform
  std::string cache_dir;
  TuningDb tuning_db;  // XINHE_TUNING_DB, else the shipped database
  std::mutex clblast_mutex;
  std::unique_ptr<ClBlastApi> clblast;
  std::string clblast_error;  // why CLBlast is unusable ("" when loaded or untried)
  bool clblast_tried = false;
  ~Backend();
};

struct DeviceInfo {
  std::string name, vendor, driver_version, platform_version, platform_name;
  cl_device_type type = 0;
  bool cpu_like = false;  // CPU device or host-unified memory: no local-memory tiles
  bool fp16 = false, fp64 = false;
  uint64_t max_work_group_size = 1;
  uint64_t max_work_item_sizes[3] = {0, 0, 0};  // 0 when the device did not say
  uint64_t global_memory = 0, local_memory = 0, max_alloc = 0;
  uint32_t compute_units = 0;
  uint64_t base_address_align_bytes = 0;
  // What tuning parameters are checked against (tuning_db.h).
  TuningLimits tuning_limits() const {
    TuningLimits limits;
    limits.max_work_group_size = max_work_group_size;
    for (int i = 0; i < 3; ++i) limits.max_work_item_sizes[i] = max_work_item_sizes[i];
    limits.local_memory_bytes = local_memory;
    limits.cpu_like = cpu_like;
    return limits;
  }
};

struct Device {
  Backend* backend = nullptr;
  cl_platform_id platform = nullptr;
  cl_device_id id = nullptr;
  cl_context context = nullptr;
  DeviceInfo info;
  std::unique_ptr<ProgramCache> programs;
  // CLBlast built its Sgemm / SgemmStridedBatched programs on this context (warm_clblast in
  // opencl_gemm.cpp): later ops skip the warm-up call.
  std::atomic<bool> clblast_built[2] = {false, false};
  const ClApi& cl() const { return backend->cl; }
  const xinhe_host_api_t* host() const { return backend->host; }
};

// The backend table (also used directly by the tests and xinhe-tune, which drive the plugin
// without libxinhe).
const xinhe_backend_api_t* backend_api();

// Casts between the opaque ABI handles and the objects.
inline Device* to_device(xinhe_be_device_t d) { return reinterpret_cast<Device*>(d); }
cl_mem buffer_mem(xinhe_be_buffer_t buffer);
cl_command_queue stream_queue(xinhe_be_stream_t stream);

// ---- Ops ----------------------------------------------------------------------------------

// Options forced on an op at creation, for the tuner and the kernel tests; normally empty.
struct OpOverrides {
  const GemmParams* gemm = nullptr;
  const AttentionParams* attention = nullptr;
  const char* impl_filter = nullptr;  // replaces the user's implementation filter ("": none)
  const char* break_build = nullptr;  // entries named like this fail to build (tests)
};

class Op {
 public:
  virtual ~Op() = default;
  // nullptr when runnable; else UNIMPLEMENTED with the reason (a fresh status each call).
  virtual xinhe_status_t check() const = 0;
  virtual const char* impl_name() const = 0;
  // The implementation a run with args uses (op_run_impl_name): impl_name's unless the op
  // swaps kernels per run.
  virtual const char* run_impl_name(const xinhe_be_op_args_t&) const { return impl_name(); }
  // Scratch bytes run needs in the workspace operand.
  virtual uint64_t workspace_size() const { return 0; }
  virtual xinhe_status_t run(cl_command_queue queue, const xinhe_be_op_args_t& args) = 0;
};

xinhe_status_t create_gemm_op(Device* device, const xinhe_gemm_desc_t& desc,
                              const OpOverrides& overrides, std::unique_ptr<Op>* out);
xinhe_status_t create_attention_op(Device* device, const xinhe_attention_desc_t& desc,
                                   const OpOverrides& overrides, std::unique_ptr<Op>* out);
xinhe_status_t create_op(Device* device, const xinhe_be_op_desc_t& desc,
                         const OpOverrides& overrides, std::unique_ptr<Op>* out);

// The embedded OpenCL C sources (generated at build time from kernels/*/opencl/*.cl).
extern const char* const kClDtypePrelude;
extern const char* const kClGemmTiled;
extern const char* const kClGemmReference;
extern const char* const kClAttentionFlash;
extern const char* const kClAttentionReference;

}  // namespace xinhe::opencl
