// The CPU test driver's modules and kernels. A SPIR-V module is translated back to SPIR 1.2
// bitcode by llvm-spirv -r (run as a child process) and built by PoCL; a native module is the
// PoCL program binary this driver handed out from zeModuleGetNativeBinary, behind a small
// header. Build flags are the spec's -ze-* options; anything else fails the build with a log,
// so a caller's flag typo is caught here rather than ignored.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cpu_driver.h"

extern char** environ;

namespace xinhe::ze_cpu {
namespace {

constexpr char kNativeMagic[8] = {'X', 'H', 'Z', 'E', 'C', 'P', 'U', '1'};
constexpr uint32_t kSpirvMagic = 0x07230203;

struct ModuleNames {
  std::vector<std::string> names;
  std::vector<const char*> pointers;
};

// Kernel names per module, filled on first zeModuleGetKernelNames.
std::mutex g_names_mutex;
std::map<const Module*, ModuleNames> g_names;

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

bool write_file(const std::string& path, const void* data, size_t size) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  return static_cast<bool>(f);
}

bool read_file(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

std::string make_temp(const std::string& suffix) {
  std::string pattern = temp_dir() + "/xinhe-ze-cpu-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  const int fd = mkstemp(buf.data());
  if (fd < 0) return "";
  close(fd);
  const std::string base(buf.data());
  const std::string path = base + suffix;
  if (std::rename(base.c_str(), path.c_str()) != 0) {
    std::remove(base.c_str());
    return "";
  }
  return path;
}

// Runs llvm-spirv -r: SPIR-V in, SPIR bitcode out; false with the tool's output in *log.
bool spirv_to_spir(const std::string& tool, const uint8_t* spirv, size_t size,
                   std::vector<uint8_t>* bitcode, std::string* log) {
  const std::string in = make_temp(".spv"), out = make_temp(".bc"), err = make_temp(".log");
  bool ok = !in.empty() && !out.empty() && !err.empty() && write_file(in, spirv, size);
  if (ok) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, err.c_str(), O_WRONLY | O_TRUNC, 0);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {tool, "-r", in, "-o", out};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int status = 0;
    const int rc = posix_spawnp(&pid, tool.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      *log = "cannot run '" + tool + "': " + std::strerror(rc);
      ok = false;
    } else {
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      std::vector<uint8_t> text;
      read_file(err, &text);
      *log = std::string(text.begin(), text.end());
      ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && read_file(out, bitcode) &&
           !bitcode->empty();
      if (!ok) *log = "llvm-spirv -r failed: " + *log;
    }
  } else if (log->empty()) {
    *log = "cannot write a temporary file in " + temp_dir();
  }
  for (const std::string& p : {in, out, err})
    if (!p.empty()) std::remove(p.c_str());
  return ok;
}

// -ze-* build flags -> PoCL build options; false with *error on an unknown flag.
bool translate_flags(const char* flags, std::string* options, std::string* notes,
                     std::string* error) {
  *options = "-cl-kernel-arg-info";
  std::istringstream in(flags ? flags : "");
  std::string flag;
  while (in >> flag) {
    if (flag == "-ze-opt-disable" || flag == "-ze-opt-level=0") {
      *options += " -cl-opt-disable";
    } else if (flag == "-ze-opt-level=1" || flag == "-ze-opt-level=2" ||
               flag == "-ze-opt-greater-than-4GB-buffer-required" ||
               flag == "-ze-opt-large-register-file" || flag == "-ze-opt-has-buffer-offset-arg" ||
               flag == "-g") {
      *notes += "build flag '" + flag + "' accepted; it has no effect on the CPU\n";
    } else {
      *error = "unknown build flag '" + flag +
               "' (zeModuleCreate accepts -ze-opt-disable, "
               "-ze-opt-level=N, -ze-opt-greater-than-4GB-buffer-required, "
               "-ze-opt-large-register-file, -ze-opt-has-buffer-offset-arg, -g)";
      return false;
    }
  }
  return true;
}

std::string program_build_log(cl_program program, cl_device_id device) {
  size_t size = 0;
  clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
  std::string log(size, '\0');
  if (size > 0)
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr);
  while (!log.empty() && log.back() == '\0') log.pop_back();
  return log;
}

void set_log(ze_module_build_log_handle_t* out, const std::string& text) {
  if (out == nullptr) return;
  auto* log = new BuildLog();
  log->text = text;
  *out = to<ze_module_build_log_handle_t>(log);
}

uint32_t largest_divisor_at_most(uint32_t n, uint32_t cap) {
  for (uint32_t d = cap < n ? cap : n; d > 1; --d)
    if (n % d == 0) return d;
  return 1;
}

}  // namespace

ze_result_t run_kernel(Command& c, cl_command_queue queue, std::string* error) {
  Kernel* k = c.kernel;
  size_t global[3], local[3];
  for (int i = 0; i < 3; ++i) {
    local[i] = c.group_size[i];
    global[i] = static_cast<size_t>(c.group_count[i]) * c.group_size[i];
  }
  cl_event done = nullptr;
  {
    std::lock_guard<std::mutex> lock(k->launch_mutex);
    for (size_t i = 0; i < c.args.size(); ++i) {
      const KernelArg& a = c.args[i];
      const cl_uint index = static_cast<cl_uint>(i);
      cl_int err = CL_SUCCESS;
      if (a.kind == KernelArg::kPointer) {
        err = a.pointer ? clSetKernelArgSVMPointer(k->cl_kernel_, index, a.pointer)
                        : clSetKernelArg(k->cl_kernel_, index, sizeof(cl_mem), nullptr);
      } else if (a.kind == KernelArg::kLocal) {
        err = clSetKernelArg(k->cl_kernel_, index, a.local_size, nullptr);
      } else {
        err = clSetKernelArg(k->cl_kernel_, index, a.bytes.size(), a.bytes.data());
      }
      if (err != CL_SUCCESS) {
        *error = "clSetKernelArg(" + std::to_string(i) + ") = " + std::to_string(err);
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
      }
    }
    const cl_int err =
        clEnqueueNDRangeKernel(queue, k->cl_kernel_, 3, nullptr, global, local, 0, nullptr, &done);
    if (err != CL_SUCCESS) {
      *error = "clEnqueueNDRangeKernel = " + std::to_string(err);
      return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
  }
  cl_int status = CL_SUCCESS;
  const cl_int err = clWaitForEvents(1, &done);
  clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(status), &status, nullptr);
  clReleaseEvent(done);
  if (err != CL_SUCCESS || status < 0) {
    *error =
        "execution failed (" + std::to_string(err) + ", status " + std::to_string(status) + ")";
    return ZE_RESULT_ERROR_DEVICE_LOST;
  }
  return ZE_RESULT_SUCCESS;
}

namespace api {

ze_result_t module_create(ze_context_handle_t hc, ze_device_handle_t hd,
                          const ze_module_desc_t* desc, ze_module_handle_t* out,
                          ze_module_build_log_handle_t* out_log) {
  if (hc == nullptr || hd == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || desc->pInputModule == nullptr || out == nullptr)
    return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (desc->format > ZE_MODULE_FORMAT_NATIVE) return ZE_RESULT_ERROR_INVALID_ENUMERATION;
  if (desc->inputSize == 0) return ZE_RESULT_ERROR_INVALID_SIZE;
  if (desc->format == ZE_MODULE_FORMAT_NATIVE) {
    const char* crash = std::getenv("XINHE_ZE_CPU_CRASH_ON_NATIVE_MODULE");
    if (crash != nullptr && std::strcmp(crash, "1") == 0) raise(SIGKILL);
  }
  Context* context = from<Context>(hc);
  Driver* d = context->driver;
  if (desc->pConstants != nullptr && desc->pConstants->numConstants > 0) {
    set_log(out_log, "specialization constants are not supported by this driver");
    return ZE_RESULT_ERROR_UNSUPPORTED_FEATURE;
  }
  std::string options, notes, error;
  if (!translate_flags(desc->pBuildFlags, &options, &notes, &error)) {
    set_log(out_log, error);
    return ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
  }
  std::vector<uint8_t> binary;
  if (desc->format == ZE_MODULE_FORMAT_IL_SPIRV) {
    uint32_t magic = 0;
    if (desc->inputSize % 4 != 0 || desc->inputSize < 20) {
      set_log(out_log, "input is not SPIR-V: size " + std::to_string(desc->inputSize));
      return ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
    }
    std::memcpy(&magic, desc->pInputModule, 4);
    if (magic != kSpirvMagic) {
      set_log(out_log, "input is not SPIR-V: bad magic number");
      return ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
    }
    std::string log;
    if (!spirv_to_spir(d->llvm_spirv, desc->pInputModule, desc->inputSize, &binary, &log)) {
      set_log(out_log, log);
      return ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
    }
  } else {
    uint64_t payload = 0;
    if (desc->inputSize < sizeof(kNativeMagic) + 8 ||
        std::memcmp(desc->pInputModule, kNativeMagic, sizeof(kNativeMagic)) != 0) {
      set_log(out_log, "not a native binary of this driver (bad header)");
      return ZE_RESULT_ERROR_INVALID_NATIVE_BINARY;
    }
    std::memcpy(&payload, desc->pInputModule + sizeof(kNativeMagic), 8);
    if (payload == 0 || payload != desc->inputSize - sizeof(kNativeMagic) - 8) {
      set_log(out_log, "native binary size does not match its header");
      return ZE_RESULT_ERROR_INVALID_NATIVE_BINARY;
    }
    binary.assign(desc->pInputModule + sizeof(kNativeMagic) + 8,
                  desc->pInputModule + desc->inputSize);
  }
  const unsigned char* bytes = binary.data();
  const size_t size = binary.size();
  cl_int binary_status = CL_SUCCESS, err = CL_SUCCESS;
  cl_program program =
      clCreateProgramWithBinary(d->cl_ctx, 1, &d->cl_device, &size, &bytes, &binary_status, &err);
  if (err != CL_SUCCESS || binary_status != CL_SUCCESS) {
    if (program != nullptr) clReleaseProgram(program);
    set_log(out_log, "PoCL rejected the program binary (" + std::to_string(err) + ")");
    return desc->format == ZE_MODULE_FORMAT_NATIVE ? ZE_RESULT_ERROR_INVALID_NATIVE_BINARY
                                                   : ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
  }
  err = clBuildProgram(program, 1, &d->cl_device, options.c_str(), nullptr, nullptr);
  const std::string build_log = program_build_log(program, d->cl_device);
  if (err != CL_SUCCESS) {
    clReleaseProgram(program);
    set_log(out_log, notes + "PoCL build failed (" + std::to_string(err) + "): " + build_log);
    return ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
  }
  set_log(out_log, notes + build_log);
  auto* m = new Module();
  m->context = context;
  m->device = from<Device>(hd);
  m->program = program;
  m->build_options = options;
  *out = to<ze_module_handle_t>(m);
  return ZE_RESULT_SUCCESS;
}

ze_result_t module_destroy(ze_module_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Module* m = from<Module>(h);
  {
    std::lock_guard<std::mutex> lock(g_names_mutex);
    g_names.erase(m);
  }
  clReleaseProgram(m->program);
  delete m;
  return ZE_RESULT_SUCCESS;
}

ze_result_t module_get_native_binary(ze_module_handle_t h, size_t* size, uint8_t* binary) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (size == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Module* m = from<Module>(h);
  size_t payload = 0;
  if (clGetProgramInfo(m->program, CL_PROGRAM_BINARY_SIZES, sizeof(payload), &payload, nullptr) !=
          CL_SUCCESS ||
      payload == 0)
    return ZE_RESULT_ERROR_UNSUPPORTED_FEATURE;
  const size_t total = sizeof(kNativeMagic) + 8 + payload;
  if (binary == nullptr) {
    *size = total;
    return ZE_RESULT_SUCCESS;
  }
  if (*size < total) return ZE_RESULT_ERROR_INVALID_SIZE;
  std::vector<unsigned char> bytes(payload);
  unsigned char* pointers[1] = {bytes.data()};
  if (clGetProgramInfo(m->program, CL_PROGRAM_BINARIES, sizeof(pointers), pointers, nullptr) !=
      CL_SUCCESS)
    return ZE_RESULT_ERROR_UNKNOWN;
  const uint64_t payload64 = payload;
  std::memcpy(binary, kNativeMagic, sizeof(kNativeMagic));
  std::memcpy(binary + sizeof(kNativeMagic), &payload64, 8);
  std::memcpy(binary + sizeof(kNativeMagic) + 8, bytes.data(), payload);
  *size = total;
  return ZE_RESULT_SUCCESS;
}

ze_result_t module_get_kernel_names(ze_module_handle_t h, uint32_t* count, const char** names) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (count == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Module* m = from<Module>(h);
  std::lock_guard<std::mutex> lock(g_names_mutex);
  ModuleNames& entry = g_names[m];
  if (entry.names.empty()) {
    size_t size = 0;
    clGetProgramInfo(m->program, CL_PROGRAM_KERNEL_NAMES, 0, nullptr, &size);
    std::string all(size, '\0');
    if (size > 0) clGetProgramInfo(m->program, CL_PROGRAM_KERNEL_NAMES, size, all.data(), nullptr);
    std::istringstream in(all.c_str());
    std::string name;
    while (std::getline(in, name, ';'))
      if (!name.empty()) entry.names.push_back(name);
    for (const std::string& n : entry.names) entry.pointers.push_back(n.c_str());
  }
  const uint32_t available = static_cast<uint32_t>(entry.names.size());
  if (*count == 0 || names == nullptr) {
    *count = available;
    return ZE_RESULT_SUCCESS;
  }
  const uint32_t n = *count < available ? *count : available;
  for (uint32_t i = 0; i < n; ++i) names[i] = entry.pointers[i];
  *count = n;
  return ZE_RESULT_SUCCESS;
}

ze_result_t module_get_properties(ze_module_handle_t h, ze_module_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  p->flags = 0;
  return ZE_RESULT_SUCCESS;
}

ze_result_t module_build_log_destroy(ze_module_build_log_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  delete from<BuildLog>(h);
  return ZE_RESULT_SUCCESS;
}

ze_result_t module_build_log_get_string(ze_module_build_log_handle_t h, size_t* size, char* log) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (size == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  const std::string& text = from<BuildLog>(h)->text;
  if (log == nullptr) {
    *size = text.size() + 1;
    return ZE_RESULT_SUCCESS;
  }
  if (*size == 0) return ZE_RESULT_ERROR_INVALID_SIZE;
  const size_t n = text.size() < *size - 1 ? text.size() : *size - 1;
  std::memcpy(log, text.data(), n);
  log[n] = '\0';
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_create(ze_module_handle_t h, const ze_kernel_desc_t* desc,
                          ze_kernel_handle_t* out) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (desc == nullptr || desc->pKernelName == nullptr || out == nullptr)
    return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Module* m = from<Module>(h);
  cl_int err = CL_SUCCESS;
  cl_kernel k = clCreateKernel(m->program, desc->pKernelName, &err);
  if (err == CL_INVALID_KERNEL_NAME) return ZE_RESULT_ERROR_INVALID_KERNEL_NAME;
  if (err != CL_SUCCESS) return ZE_RESULT_ERROR_UNKNOWN;
  cl_uint count = 0;
  clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof(count), &count, nullptr);
  auto kernel = std::make_unique<Kernel>();
  kernel->module = m;
  kernel->name = desc->pKernelName;
  kernel->cl_kernel_ = k;
  kernel->args.resize(count);
  kernel->qualifiers.resize(count, CL_KERNEL_ARG_ADDRESS_PRIVATE);
  for (cl_uint i = 0; i < count; ++i) {
    if (clGetKernelArgInfo(k, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof(kernel->qualifiers[i]),
                           &kernel->qualifiers[i], nullptr) != CL_SUCCESS) {
      clReleaseKernel(k);
      return ZE_RESULT_ERROR_UNKNOWN;  // built without argument information
    }
  }
  *out = to<ze_kernel_handle_t>(kernel.release());
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_destroy(ze_kernel_handle_t h) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Kernel* k = from<Kernel>(h);
  clReleaseKernel(k->cl_kernel_);
  delete k;
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_set_group_size(ze_kernel_handle_t h, uint32_t x, uint32_t y, uint32_t z) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Kernel* k = from<Kernel>(h);
  const uint64_t limit = k->module->device->max_group_size;
  if (x == 0 || y == 0 || z == 0 || static_cast<uint64_t>(x) * y * z > limit)
    return ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION;
  k->group_size[0] = x;
  k->group_size[1] = y;
  k->group_size[2] = z;
  k->group_size_set = true;
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_suggest_group_size(ze_kernel_handle_t h, uint32_t gx, uint32_t gy, uint32_t gz,
                                      uint32_t* x, uint32_t* y, uint32_t* z) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (x == nullptr || y == nullptr || z == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  if (gx == 0 || gy == 0 || gz == 0) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
  // Divisors of the global size, so the launch covers it exactly.
  *x = largest_divisor_at_most(gx, 64);
  *y = largest_divisor_at_most(gy, 256 / *x);
  *z = largest_divisor_at_most(gz, 256 / (*x * *y));
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_set_argument_value(ze_kernel_handle_t h, uint32_t index, size_t size,
                                      const void* value) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  Kernel* k = from<Kernel>(h);
  if (index >= k->args.size()) return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
  KernelArg arg;
  switch (k->qualifiers[index]) {
    case CL_KERNEL_ARG_ADDRESS_GLOBAL:
    case CL_KERNEL_ARG_ADDRESS_CONSTANT: {
      if (size != sizeof(void*)) return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE;
      arg.kind = KernelArg::kPointer;
      if (value != nullptr) std::memcpy(&arg.pointer, value, sizeof(void*));
      if (arg.pointer != nullptr) {
        // Kernels reach memory only through USM allocations of the context.
        Context* context = k->module->context;
        std::lock_guard<std::mutex> lock(context->mutex);
        if (context->find(arg.pointer) == nullptr) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
      }
      break;
    }
    case CL_KERNEL_ARG_ADDRESS_LOCAL:
      if (value != nullptr || size == 0) return ZE_RESULT_ERROR_INVALID_ARGUMENT;
      arg.kind = KernelArg::kLocal;
      arg.local_size = size;
      break;
    default: {
      if (value == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
      std::lock_guard<std::mutex> lock(k->launch_mutex);
      // PoCL knows each argument's size: let it check this one now.
      if (clSetKernelArg(k->cl_kernel_, index, size, value) != CL_SUCCESS)
        return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE;
      arg.kind = KernelArg::kValue;
      arg.bytes.assign(static_cast<const uint8_t*>(value),
                       static_cast<const uint8_t*>(value) + size);
      break;
    }
  }
  k->args[index] = std::move(arg);
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_get_properties(ze_kernel_handle_t h, ze_kernel_properties_t* p) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (p == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  Kernel* k = from<Kernel>(h);
  p->numKernelArgs = static_cast<uint32_t>(k->args.size());
  p->requiredGroupSizeX = p->requiredGroupSizeY = p->requiredGroupSizeZ = 0;
  p->requiredNumSubGroups = 0;
  p->requiredSubgroupSize = 0;
  p->maxSubgroupSize = 8;
  p->maxNumSubgroups = k->module->device->max_group_size / 8;
  p->localMemSize = 0;
  p->privateMemSize = 0;
  p->spillMemSize = 0;
  std::memset(&p->uuid, 0, sizeof(p->uuid));
  return ZE_RESULT_SUCCESS;
}

ze_result_t kernel_get_name(ze_kernel_handle_t h, size_t* size, char* name) {
  if (h == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
  if (size == nullptr) return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
  const std::string& n = from<Kernel>(h)->name;
  if (name == nullptr) {
    *size = n.size() + 1;
    return ZE_RESULT_SUCCESS;
  }
  if (*size < n.size() + 1) return ZE_RESULT_ERROR_INVALID_SIZE;
  std::memcpy(name, n.c_str(), n.size() + 1);
  return ZE_RESULT_SUCCESS;
}

}  // namespace api
}  // namespace xinhe::ze_cpu
