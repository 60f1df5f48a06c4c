// The registry: which backends exist, which loaded, and the devices they contribute.
//
// Built once, lazily, on the first registry call (std::call_once): the built-in CPU backend
// first, then libxinhe_backend_*.so from each folder of XINHE_BACKEND_PATH, then from the
// installed plugin folder (<folder of libxinhe.so>/xinhe/, found with dladdr so it works both in
// the build tree and after install). Every plugin that cannot be used stays listed with
// loaded = 0, a status code and a human reason; a bad plugin never stops the host. The
// registry is deliberately never torn down: devices are borrowed for the life of the process
// (base.h), and unloading plugins at exit would race with other static destructors.
//
// Also here: the host API table handed to backends (status_new, verbose_enabled, log).
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core.h"

// Defined by the built-in CPU backend (backends/cpu/), linked into libxinhe.
extern "C" const xinhe_backend_api_t* xinhe_cpu_backend_entry(uint32_t host_abi_major,
                                                              uint32_t host_abi_minor);

namespace xinhe::core {
namespace {

// Size of the ABI 1.0 table: everything up to and including op_run. Later minors append.
constexpr size_t kApiTableSizeV1_0 =
    offsetof(xinhe_backend_api_t, op_run) + sizeof(xinhe_backend_api_t::op_run);

constexpr const char kPluginPrefix[] = "libxinhe_backend_";
constexpr const char kPluginSuffix[] = ".so";

std::mutex g_log_mutex;

xinhe_status_t host_status_new(xinhe_status_code_t code, const char* backend, const char* call,
                               const char* file, int line, const char* message) {
  if (code == XINHE_STATUS_OK) return nullptr;
  return make_status(code, backend, call, file, line, "%s", message != nullptr ? message : "");
}

const xinhe_host_api_t kHostApi = {
    sizeof(xinhe_host_api_t), XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR,
    host_status_new,          verbose_enabled,         log_line,
};

struct Registry {
  std::mutex mutex;  // guards backends and devices (appended by xinhe_backend_load)
  std::vector<std::unique_ptr<Backend>> backends;
  std::vector<xinhe_device_s*> devices;
};

// Intentionally leaked: alive until process exit (LeakSanitizer sees it as reachable).
Registry* g_registry = nullptr;
std::once_flag g_registry_once;

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "libxinhe_backend_cuda.so" -> "cuda"; other names lose their extension only.
std::string name_from_file(const std::string& path) {
  std::string file = base_name(path);
  if (file.compare(0, sizeof(kPluginPrefix) - 1, kPluginPrefix) == 0) {
    file = file.substr(sizeof(kPluginPrefix) - 1);
  }
  const size_t dot = file.find('.');
  return dot == std::string::npos || dot == 0 ? file : file.substr(0, dot);
}

std::string real_path_of(const std::string& path) {
  char buffer[PATH_MAX];
  if (::realpath(path.c_str(), buffer) != nullptr) return buffer;
  return path;
}

void log_decision(const Backend& backend) {
  if (!verbose_enabled("load")) return;
  std::string line;
  const std::string where = backend.path.empty() ? "built-in" : backend.path;
  if (backend.loaded) {
    line = "loaded (" + where + "), " + std::to_string(backend.devices.size()) + " device(s)";
  } else {
    line = "skipped (" + where + "): " + std::string(xinhe_status_code_name(backend.code)) + ": " +
           backend.reason;
  }
  log_line("load", backend.name.c_str(), line.c_str());
}

void fail(Backend& backend, xinhe_status_code_t code, std::string reason) {
  backend.loaded = false;
  backend.code = code;
  backend.reason = std::move(reason);
}

// What a failed backend call said. The backend's recorded code is that status's code and is
// printed in front of the reason, so the reason carries the message alone (the code name only
// when there is no message): "UNAVAILABLE: backend_create failed: libcuda.so.1 not found".
std::string status_text(xinhe_status_t status) {
  const char* message = xinhe_status_message(status);
  return message[0] != '\0' ? std::string(message) : xinhe_status_code_name(xinhe_status_code(status));
}

// Checks the table and opens the backend's devices. On failure the backend is left with
// loaded = false and a reason, and everything it created is released again.
void activate(Registry& registry, Backend& backend, const xinhe_backend_api_t* table) {
  if (table == nullptr) {
    fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
         std::string("entry '") + XINHE_BACKEND_ENTRY_SYMBOL +
             "' returned NULL (the plugin cannot serve core ABI " +
             std::to_string(XINHE_BACKEND_ABI_MAJOR) + "." +
             std::to_string(XINHE_BACKEND_ABI_MINOR) + ")");
    return;
  }
  backend.abi_major = table->abi_major;
  backend.abi_minor = table->abi_minor;
  if (table->abi_major != XINHE_BACKEND_ABI_MAJOR) {
    fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
         "plugin ABI " + std::to_string(table->abi_major) + "." + std::to_string(table->abi_minor) +
             ", core supports " + std::to_string(XINHE_BACKEND_ABI_MAJOR) + ".x");
    return;
  }
  if (table->struct_size < kApiTableSizeV1_0) {
    fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
         "backend table struct_size " + std::to_string(table->struct_size) +
             " is smaller than the ABI 1.0 table (" + std::to_string(kApiTableSizeV1_0) +
             " bytes)");
    return;
  }
  if (table->name == nullptr || table->name[0] == '\0') {
    fail(backend, XINHE_STATUS_FAILED_PRECONDITION, "backend table has no name");
    return;
  }
  backend.name = table->name;

  // Copy what the plugin knows; entries past its struct_size stay NULL (absent optional).
  std::memset(&backend.api, 0, sizeof(backend.api));
  std::memcpy(&backend.api, table, std::min(table->struct_size, sizeof(backend.api)));
  backend.api.struct_size = sizeof(backend.api);
  const xinhe_backend_api_t& api = backend.api;

#define XH_REQUIRED(entry)                                                                  \
  if (api.entry == nullptr) {                                                               \
    fail(backend, XINHE_STATUS_FAILED_PRECONDITION, "missing required entry '" #entry "'"); \
    return;                                                                                 \
  }
  XH_REQUIRED(backend_create)
  XH_REQUIRED(backend_destroy)
  XH_REQUIRED(device_count)
  XH_REQUIRED(device_open)
  XH_REQUIRED(device_close)
  XH_REQUIRED(device_properties)
  XH_REQUIRED(buffer_alloc)
  XH_REQUIRED(buffer_free)
  XH_REQUIRED(stream_create)
  XH_REQUIRED(stream_destroy)
  XH_REQUIRED(stream_synchronize)
  XH_REQUIRED(copy_host_to_device)
  XH_REQUIRED(copy_device_to_host)
  XH_REQUIRED(copy_device_to_device)
  XH_REQUIRED(fill)
  XH_REQUIRED(event_create)
  XH_REQUIRED(event_destroy)
  XH_REQUIRED(event_record)
  XH_REQUIRED(stream_wait_event)
  XH_REQUIRED(event_synchronize)
  XH_REQUIRED(op_create)
  XH_REQUIRED(op_destroy)
  XH_REQUIRED(op_check)
  XH_REQUIRED(op_run)
#undef XH_REQUIRED

  for (const auto& other : registry.backends) {
    if (other->loaded && other->name == backend.name) {
      fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
           "duplicate backend name '" + backend.name + "' (already loaded from " +
               (other->path.empty() ? std::string("built-in") : other->path) + ")");
      return;
    }
  }

  xinhe_be_backend_t be = nullptr;
  Status status(api.backend_create(&kHostApi, &be));
  if (!status.ok()) {
    fail(backend, status.code(), "backend_create failed: " + status_text(status.get()));
    return;
  }
  if (be == nullptr) {
    fail(backend, XINHE_STATUS_INTERNAL, "backend_create returned no backend");
    return;
  }
  uint32_t count = 0;
  status.reset(api.device_count(be, &count));
  if (!status.ok() || count == 0) {
    api.backend_destroy(be);
    if (!status.ok()) {
      fail(backend, status.code(), "device_count failed: " + status_text(status.get()));
    } else {
      fail(backend, XINHE_STATUS_UNAVAILABLE, "no device");
    }
    return;
  }

  // All or nothing: a backend whose devices cannot all be opened is reported as a whole, so
  // device names keep matching the vendor's ordinals.
  std::vector<std::unique_ptr<xinhe_device_s>> opened;
  auto close_all = [&]() {
    for (auto& device : opened) api.device_close(device->be);
    api.backend_destroy(be);
  };
  for (uint32_t i = 0; i < count; ++i) {
    auto device = std::make_unique<xinhe_device_s>();
    status.reset(api.device_open(be, i, &device->be));
    if (!status.ok() || device->be == nullptr) {
      const std::string text =
          status.ok() ? std::string("returned no device") : status_text(status.get());
      const xinhe_status_code_t code = status.ok() ? XINHE_STATUS_INTERNAL : status.code();
      close_all();
      fail(backend, code, "device_open(" + std::to_string(i) + ") failed: " + text);
      return;
    }
    xinhe_device_properties_t props;
    std::memset(&props, 0, sizeof(props));
    props.struct_size = sizeof(props);
    status.reset(api.device_properties(device->be, &props));
    if (!status.ok()) {
      api.device_close(device->be);
      close_all();
      fail(backend, status.code(),
           "device_properties(" + std::to_string(i) + ") failed: " + status_text(status.get()));
      return;
    }
    const uint64_t min_alignment = props.min_alignment == 0 ? 1 : props.min_alignment;
    if (!is_pow2(min_alignment)) {
      api.device_close(device->be);
      close_all();
      fail(backend, XINHE_STATUS_INTERNAL,
           "device " + std::to_string(i) + " reports min_alignment " +
               std::to_string(min_alignment) + ", not a power of two");
      return;
    }
    device->backend = &backend;
    device->api = &backend.api;
    device->backend_name = backend.name;
    device->index_in_backend = i;
    device->name = backend.name + ":" + std::to_string(i);
    device->flags = props.flags;
    device->min_alignment = min_alignment;
    opened.push_back(std::move(device));
  }

  backend.be = be;
  backend.loaded = true;
  backend.code = XINHE_STATUS_OK;
  backend.reason.clear();
  for (auto& device : opened) {
    backend.devices.push_back(device.get());
    registry.devices.push_back(device.release());
  }
}

// Loads one plugin file; returns its index. Caller holds registry.mutex.
size_t load_plugin_locked(Registry& registry, const std::string& path) {
  const std::string real_path = real_path_of(path);
  for (size_t i = 0; i < registry.backends.size(); ++i) {
    if (!registry.backends[i]->path.empty() && registry.backends[i]->real_path == real_path) {
      return i;
    }
  }
  auto backend = std::make_unique<Backend>();
  backend->path = path;
  backend->real_path = real_path;
  backend->name = name_from_file(path);

  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    fail(*backend, XINHE_STATUS_UNAVAILABLE,
         std::string("dlopen failed: ") + (error != nullptr ? error : "unknown error"));
  } else {
    dlerror();
    void* symbol = dlsym(handle, XINHE_BACKEND_ENTRY_SYMBOL);
    if (symbol == nullptr) {
      fail(*backend, XINHE_STATUS_FAILED_PRECONDITION,
           std::string("not a xinhe plugin: no entry symbol '") + XINHE_BACKEND_ENTRY_SYMBOL + "'");
    } else {
      auto entry = reinterpret_cast<xinhe_backend_entry_fn>(symbol);
      activate(registry, *backend, entry(XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR));
    }
    if (backend->loaded) {
      backend->dl_handle = handle;
    } else {
      // Nothing of the plugin is in use any more (activate released what it created).
      dlclose(handle);
    }
  }
  log_decision(*backend);
  registry.backends.push_back(std::move(backend));
  return registry.backends.size() - 1;
}

void scan_folder(Registry& registry, const std::string& folder) {
  if (folder.empty()) return;
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) {
    if (verbose_enabled("load")) {
      log_line("load", "core", ("plugin folder '" + folder + "' not readable").c_str());
    }
    return;
  }
  std::vector<std::string> files;
  while (const dirent* entry = readdir(dir)) {
    const std::string file = entry->d_name;
    if (file.compare(0, sizeof(kPluginPrefix) - 1, kPluginPrefix) == 0 &&
        ends_with(file, kPluginSuffix)) {
      files.push_back(file);
    }
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) load_plugin_locked(registry, folder + "/" + file);
}

// <folder containing libxinhe.so>/xinhe, or "" when it cannot be found.
std::string installed_plugin_folder() {
  Dl_info info;
  std::memset(&info, 0, sizeof(info));
  if (dladdr(reinterpret_cast<const void*>(&xinhe_backend_count), &info) == 0 ||
      info.dli_fname == nullptr) {
    return "";
  }
  const std::string library = real_path_of(info.dli_fname);
  const size_t slash = library.find_last_of('/');
  if (slash == std::string::npos) return "xinhe";
  return library.substr(0, slash) + "/xinhe";
}

void build_registry() {
  auto* registry = new Registry();
  std::lock_guard<std::mutex> lock(registry->mutex);

  auto cpu = std::make_unique<Backend>();
  cpu->name = "cpu";
  activate(*registry, *cpu,
           xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR));
  log_decision(*cpu);
  registry->backends.push_back(std::move(cpu));

  if (const char* env = std::getenv("XINHE_BACKEND_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      if (colon == std::string::npos) colon = list.size();
      scan_folder(*registry, list.substr(start, colon - start));
      start = colon + 1;
    }
  }
  scan_folder(*registry, installed_plugin_folder());
  g_registry = registry;
}

Registry& registry() {
  std::call_once(g_registry_once, build_registry);
  return *g_registry;
}

// Lower ranks win the default device: GPUs first, the CPU last (runtime.h).
int default_rank(const std::string& name) {
  if (name == "cuda") return 0;
  if (name == "hip") return 1;
  if (name == "level_zero") return 2;
  if (name == "opencl") return 4;
  if (name == "cpu") return 5;
  return 3;
}

}  // namespace

int verbose_enabled(const char* topic) {
  const char* env = std::getenv("XINHE_VERBOSE");
  if (env == nullptr || topic == nullptr) return 0;
  const std::string list = env;
  const std::string wanted = topic;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    // Tolerate "load, dispatch" as well as "load,dispatch".
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item == "all" || item == wanted) return 1;
    start = comma + 1;
  }
  return 0;
}

void log_line(const char* topic, const char* backend, const char* message) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fprintf(stderr, "xinhe[%s] %s: %s\n", topic != nullptr ? topic : "",
               backend != nullptr ? backend : "", message != nullptr ? message : "");
  std::fflush(stderr);
}

}  // namespace xinhe::core

using xinhe::core::Backend;
using xinhe::core::registry;

extern "C" {

xinhe_status_t xinhe_backend_count(size_t* out_count) {
  if (out_count == nullptr) {
    return XH_ERROR(INVALID_ARGUMENT, "", "xinhe_backend_count", "out_count is NULL");
  }
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  *out_count = reg.backends.size();
  return nullptr;
}

xinhe_status_t xinhe_backend_info(size_t index, xinhe_backend_info_t* out_info) {
  static const char* kCall = "xinhe_backend_info";
  if (out_info == nullptr) {
    return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_info is NULL");
  }
  if (out_info->struct_size < sizeof(xinhe_backend_info_t)) {
    return XH_ERROR(INVALID_ARGUMENT, "", kCall,
                    "out_info->struct_size is %zu, expected at least %zu", out_info->struct_size,
                    sizeof(xinhe_backend_info_t));
  }
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  if (index >= reg.backends.size()) {
    return XH_ERROR(NOT_FOUND, "", kCall, "backend index %zu out of range (%zu backends)", index,
                    reg.backends.size());
  }
  const Backend& backend = *reg.backends[index];
  out_info->struct_size = sizeof(xinhe_backend_info_t);
  out_info->name = backend.name.c_str();
  out_info->path = backend.path.c_str();
  out_info->loaded = backend.loaded ? 1 : 0;
  out_info->reason = backend.reason.c_str();
  out_info->code = backend.code;
  out_info->abi_major = backend.abi_major;
  out_info->abi_minor = backend.abi_minor;
  out_info->device_count = static_cast<uint32_t>(backend.devices.size());
  return nullptr;
}

xinhe_status_t xinhe_backend_load(const char* path, size_t* out_backend_index) {
  static const char* kCall = "xinhe_backend_load";
  if (path == nullptr || path[0] == '\0') {
    return XH_ERROR(INVALID_ARGUMENT, "", kCall, "path is NULL or empty");
  }
  if (out_backend_index == nullptr) {
    return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_backend_index is NULL");
  }
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  const size_t index = xinhe::core::load_plugin_locked(reg, path);
  const Backend& backend = *reg.backends[index];
  if (!backend.loaded) {
    return xinhe::core::make_status(backend.code, backend.name.c_str(), kCall, __FILE__, __LINE__,
                                    "plugin '%s' not usable: %s", path, backend.reason.c_str());
  }
  *out_backend_index = index;
  return nullptr;
}

xinhe_status_t xinhe_device_count(size_t* out_count) {
  if (out_count == nullptr) {
    return XH_ERROR(INVALID_ARGUMENT, "", "xinhe_device_count", "out_count is NULL");
  }
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  *out_count = reg.devices.size();
  return nullptr;
}

xinhe_status_t xinhe_device_get(size_t index, xinhe_device_t* out_device) {
  static const char* kCall = "xinhe_device_get";
  if (out_device == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_device is NULL");
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  if (index >= reg.devices.size()) {
    return XH_ERROR(NOT_FOUND, "", kCall, "device index %zu out of range (%zu devices)", index,
                    reg.devices.size());
  }
  *out_device = reg.devices[index];
  return nullptr;
}

}  // extern "C"

namespace {

// "cpu:0, fake:0"; caller holds the registry mutex.
std::string available_devices_locked(const xinhe::core::Registry& reg) {
  std::string names;
  for (const auto* device : reg.devices) {
    if (!names.empty()) names += ", ";
    names += device->name;
  }
  return names.empty() ? std::string("(none)") : names;
}

xinhe_device_t find_device_locked(const xinhe::core::Registry& reg, const char* name) {
  for (auto* device : reg.devices) {
    if (device->name == name) return device;
  }
  return nullptr;
}

}  // namespace

extern "C" {

xinhe_status_t xinhe_device_get_by_name(const char* name, xinhe_device_t* out_device) {
  static const char* kCall = "xinhe_device_get_by_name";
  if (name == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "name is NULL");
  if (out_device == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_device is NULL");
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  xinhe_device_t device = find_device_locked(reg, name);
  if (device == nullptr) {
    return XH_ERROR(NOT_FOUND, "", kCall, "no device named '%s'; available: %s", name,
                    available_devices_locked(reg).c_str());
  }
  *out_device = device;
  return nullptr;
}

xinhe_status_t xinhe_device_get_default(xinhe_device_t* out_device) {
  static const char* kCall = "xinhe_device_get_default";
  if (out_device == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_device is NULL");
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  const char* wanted = std::getenv("XINHE_DEVICE");
  if (wanted != nullptr && wanted[0] != '\0') {
    xinhe_device_t device = find_device_locked(reg, wanted);
    if (device == nullptr) {
      return XH_ERROR(NOT_FOUND, "", kCall, "XINHE_DEVICE='%s' names no device; available: %s",
                      wanted, available_devices_locked(reg).c_str());
    }
    *out_device = device;
    return nullptr;
  }
  const Backend* best = nullptr;
  for (const auto& backend : reg.backends) {
    if (!backend->loaded || backend->devices.empty()) continue;
    // Strict comparison keeps the earliest-loaded backend among equal ranks.
    if (best == nullptr ||
        xinhe::core::default_rank(backend->name) < xinhe::core::default_rank(best->name)) {
      best = backend.get();
    }
  }
  if (best == nullptr) return XH_ERROR(UNAVAILABLE, "", kCall, "no device available");
  *out_device = best->devices.front();
  return nullptr;
}

}  // extern "C"
