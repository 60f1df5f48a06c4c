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
// Before a plugin file reaches dlopen it must be a regular file (opened without blocking, so a
// FIFO named like a plugin cannot hang the scan) whose ELF headers and segments lie inside it
// (a truncated file would otherwise SIGBUS inside the loader). Its table is copied out of the
// plugin through the kernel (plugin memory that is not readable gives a reason, not a crash)
// and checked field by field, struct_size first (plugin_checks.h). Plugins and folders anyone
// may write, and relative XINHE_BACKEND_PATH entries, are warned about on stderr, and refused
// under XINHE_PLUGIN_STRICT=1 (or any value but "0" and empty: plugin_strict_mode). A plugin
// calling the registry from inside its own loading (backend_create calling xinhe_device_count,
// say) gets FAILED_PRECONDITION instead of deadlocking on the registry, and a backend may
// contribute at most kMaxDevicesPerBackend devices. An exception a plugin throws while it is
// loaded (a static constructor run by dlopen, the entry, backend_create, device enumeration)
// skips that plugin with the reason; nothing thrown reaches the C API, and the registry is
// built exactly once even when building it fails part-way.
//
// Also here: the host API table handed to backends (status_new, verbose_enabled, log, and the
// implementation filters).
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bounded_file.h"
#include "core.h"
#include "plugin_checks.h"
#include "signal_state.h"
#include "text_escape.h"

// Defined by the built-in CPU backend (backends/cpu/), linked into libxinhe.
extern "C" const xinhe_backend_api_t* xinhe_cpu_backend_entry(uint32_t host_abi_major,
                                                              uint32_t host_abi_minor);

namespace xinhe::core {
namespace {

constexpr const char kPluginPrefix[] = "libxinhe_backend_";
constexpr const char kPluginSuffix[] = ".so";
// More devices than any node has; a plugin reporting more is broken (a count of 2^32 - 1 would
// otherwise have the core open devices until memory runs out).
constexpr uint32_t kMaxDevicesPerBackend = 256;
// Plugin files larger than this are refused before anything of them is read (the largest
// real plugins, with embedded GPU images, are tens of MiB).
constexpr uint64_t kMaxPluginFileBytes = uint64_t{4} << 30;

std::mutex g_log_mutex;

// > 0 while this thread is inside the registry's loading of a plugin (dlopen and its
// constructors, the entry, backend_create, device enumeration). The public registry calls
// refuse to run then: the registry is mid-construction and its lock or once-flag is held by
// this very thread, so going on would deadlock.
thread_local int t_loading_depth = 0;

struct LoadingScope {
  LoadingScope() { ++t_loading_depth; }
  ~LoadingScope() { --t_loading_depth; }
  LoadingScope(const LoadingScope&) = delete;
  LoadingScope& operator=(const LoadingScope&) = delete;
};

xinhe_status_t host_status_new(xinhe_status_code_t code, const char* backend, const char* call,
                               const char* file, int line, const char* message) {
  if (code == XINHE_STATUS_OK) return nullptr;
  return make_status(code, backend, call, file, line, "%s", message != nullptr ? message : "");
}

// The one place that reads the implementation filters (ops.h). Read on every call, so a filter
// set between two op creations applies to the second; copied so that the pointer handed out
// does not depend on the environment staying unchanged.
const char* host_impl_filter(xinhe_op_kind_t kind) {
  const char* variable = kind == XINHE_OP_GEMM        ? "XINHE_GEMM_IMPL"
                         : kind == XINHE_OP_ATTENTION ? "XINHE_ATTENTION_IMPL"
                                                      : nullptr;
  const char* value = variable != nullptr ? std::getenv(variable) : nullptr;
  if (value == nullptr || value[0] == '\0') return nullptr;
  thread_local std::string copy;
  copy = value;
  return copy.c_str();
}

const xinhe_host_api_t kHostApi = {
    sizeof(xinhe_host_api_t), XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR,
    host_status_new,          verbose_enabled,         log_line,
    host_impl_filter,
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

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
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

// Security warnings go to stderr whatever XINHE_VERBOSE says.
void warn(const std::string& message) { log_line("load", "core", ("warning: " + message).c_str()); }

// XINHE_PLUGIN_STRICT=1: refuse what is otherwise only warned about. A security switch fails
// closed: unset, empty or "0" is off, "1" is on, and any other value ("yes", "true", "2",
// "off"...) is on too, with a warning naming the value, once per process per value (this is
// asked once per plugin).
bool plugin_strict_mode() {
  const char* env = std::getenv("XINHE_PLUGIN_STRICT");
  if (env == nullptr || *env == '\0' || std::strcmp(env, "0") == 0) return false;
  if (std::strcmp(env, "1") == 0) return true;
  static std::mutex mutex;
  static std::string warned_for;
  static bool warned = false;
  // At most 64 bytes are shown (log_line escapes them), so a hostile value cannot flood stderr.
  const std::string value(env, strnlen(env, 65));
  std::lock_guard<std::mutex> lock(mutex);
  if (!warned || warned_for != value) {
    warned = true;
    warned_for = value;
    const std::string shown = value.substr(0, 64) + (value.size() > 64 ? "..." : "");
    warn("XINHE_PLUGIN_STRICT='" + shown +
         "' is not 0 or 1; treated as 1 (strict: plugins that are only warned about are "
         "refused)");
  }
  return true;
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
  return message[0] != '\0' ? std::string(message)
                            : xinhe_status_code_name(xinhe_status_code(status));
}

// Runs call, a call into a plugin. backend.h forbids entries to throw; one that does anyway
// fails the backend with "<what> threw: <message>" instead of unwinding through the C API.
// The message is copied before the exception (whose code lives in the plugin) is destroyed.
template <typename Call>
bool call_plugin(Backend& backend, const std::string& what, Call&& call) {
  try {
    call();
    return true;
  } catch (const std::exception& e) {
    fail(backend, XINHE_STATUS_INTERNAL, what + " threw: " + e.what());
  } catch (...) {
    fail(backend, XINHE_STATUS_INTERNAL, what + " threw a non-standard exception");
  }
  return false;
}

// XINHE_VERBOSE=load: a line before each call into a plugin, so that a plugin ending the
// process (exit, abort) during loading is named by the last line.
void log_step(const Backend& backend, const std::string& step) {
  if (verbose_enabled("load")) log_line("load", backend.name.c_str(), step.c_str());
}

// Copies n bytes of plugin memory at src to dst through a pipe, so that memory the plugin
// does not actually have mapped makes write() fail with EFAULT instead of faulting here.
// n must fit in a pipe (it is a table or a byte here).
bool copy_if_readable(const void* src, size_t n, void* dst) {
  if (n == 0) return true;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::memcpy(dst, src, n);  // no pipe to spare: trust the plugin as before
    return true;
  }
  bool ok = write(fds[1], src, n) == static_cast<ssize_t>(n) &&
            read(fds[0], dst, n) == static_cast<ssize_t>(n);
  close(fds[0]);
  close(fds[1]);
  return ok;
}

// The plugin's NUL-terminated string at address, read one byte at a time (never past its end:
// the plugin may be built with a sanitizer that poisons the bytes after a string).
bool read_plugin_string(const char* address, size_t max_length, std::string* out) {
  out->clear();
  for (size_t i = 0; i <= max_length; ++i) {
    char c = 0;
    if (!copy_if_readable(address + i, 1, &c)) return false;
    if (c == '\0') return true;
    out->push_back(c);
  }
  return false;
}

// Checks the table and opens the backend's devices. On failure the backend is left with
// loaded = false and a reason, and everything it created is released again.
void activate(Registry& registry, Backend& backend, const xinhe_backend_api_t* table) {
  if (table == nullptr) {
    fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
         std::string("entry '") + XINHE_BACKEND_ENTRY_SYMBOL +
             "' returned NULL, so its ABI version is unknown (core ABI " +
             std::to_string(XINHE_BACKEND_ABI_MAJOR) + "." +
             std::to_string(XINHE_BACKEND_ABI_MINOR) +
             "); backend.h asks plugins to return their table whatever the core's version, "
             "and the core compares the versions");
    return;
  }
  // Copy the table out of the plugin: struct_size first, then as much as it claims.
  alignas(xinhe_backend_api_t) unsigned char copy[sizeof(xinhe_backend_api_t)] = {};
  size_t readable = 0;
  size_t struct_size = 0;
  if (copy_if_readable(table, sizeof(struct_size), &struct_size)) {
    readable = std::min(struct_size, sizeof(copy));
    if (readable < sizeof(struct_size) || !copy_if_readable(table, readable, copy)) {
      std::memcpy(copy, &struct_size, sizeof(struct_size));
      readable = sizeof(struct_size);
    }
  }
  TableCheck check;
  const bool accepted = check_backend_table(copy, readable, read_plugin_string, &check);
  backend.abi_major = check.abi_major;
  backend.abi_minor = check.abi_minor;
  if (!accepted) {
    fail(backend, check.code, check.reason);
    return;
  }
  backend.name = check.name;
  backend.api = check.api;
  const xinhe_backend_api_t& api = backend.api;

  for (const auto& other : registry.backends) {
    if (other->loaded && other->name == backend.name) {
      fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
           "duplicate backend name '" + backend.name + "' (already loaded from " +
               (other->path.empty() ? std::string("built-in") : other->path) + ")");
      return;
    }
  }

  xinhe_be_backend_t be = nullptr;
  Status status;
  log_step(backend, "calling backend_create");
  if (!call_plugin(backend, "backend_create",
                   [&] { status.reset(api.backend_create(&kHostApi, &be)); })) {
    return;
  }
  if (!status.ok()) {
    fail(backend, status.code(), "backend_create failed: " + status_text(status.get()));
    return;
  }
  if (be == nullptr) {
    fail(backend, XINHE_STATUS_INTERNAL, "backend_create returned no backend");
    return;
  }
  uint32_t count = 0;
  if (!call_plugin(backend, "device_count", [&] { status.reset(api.device_count(be, &count)); })) {
    api.backend_destroy(be);
    return;
  }
  if (!status.ok() || count == 0 || count > kMaxDevicesPerBackend) {
    api.backend_destroy(be);
    if (!status.ok()) {
      fail(backend, status.code(), "device_count failed: " + status_text(status.get()));
    } else if (count == 0) {
      fail(backend, XINHE_STATUS_UNAVAILABLE, "no device");
    } else {
      fail(backend, XINHE_STATUS_FAILED_PRECONDITION,
           "device_count reported " + std::to_string(count) + " devices, more than the " +
               std::to_string(kMaxDevicesPerBackend) + " a backend may contribute");
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
    const std::string index = "(" + std::to_string(i) + ")";
    if (!call_plugin(backend, "device_open" + index,
                     [&] { status.reset(api.device_open(be, i, &device->be)); })) {
      close_all();
      return;
    }
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
    if (!call_plugin(backend, "device_properties" + index,
                     [&] { status.reset(api.device_properties(device->be, &props)); })) {
      api.device_close(device->be);
      close_all();
      return;
    }
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
    device->type = props.device_type;
    if (device->type > XINHE_DEVICE_TYPE_ACCELERATOR) {
      // A type from a newer header than this core's: callers switch over the values they know.
      warn(backend.name + ":" + std::to_string(i) + " reports device_type " +
           std::to_string(device->type) + ", which this core does not know; it reads as unknown");
      device->type = XINHE_DEVICE_TYPE_UNKNOWN;
    }
    device->min_alignment = min_alignment;
    opened.push_back(std::move(device));
  }

  // Nothing past this point may throw: a failure while publishing the devices would leave
  // some of them registered for a backend that is then reported failed and unloaded. So the
  // room is made first, and running out of it fails the backend with every device closed.
  try {
    backend.devices.reserve(backend.devices.size() + opened.size());
    registry.devices.reserve(registry.devices.size() + opened.size());
  } catch (const std::bad_alloc&) {
    close_all();
    fail(backend, XINHE_STATUS_OUT_OF_MEMORY, "out of host memory registering its devices");
    return;
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

// What must hold before path is given to dlopen: a regular file (opened without blocking),
// not larger than kMaxPluginFileBytes, whose ELF headers and segments lie inside it. Also
// collects the warnings about who may write the file and its folder. "" when it may be loaded.
std::string check_plugin_file(const std::string& path, const std::string& real_path,
                              std::vector<std::string>* warnings) {
  uint64_t size = 0;
  util::FileProblem problem = util::FileProblem::kNone;
  std::string error;
  struct stat st;
  const int fd = util::open_regular_file(path, kMaxPluginFileBytes, &size, &problem, &error, &st);
  if (fd < 0) return error;
  std::string why;
  unsigned char header[4096] = {};  // the ELF header, and usually the program headers
  const size_t header_size = static_cast<size_t>(std::min<uint64_t>(size, sizeof(header)));
  if (pread(fd, header, header_size, 0) != static_cast<ssize_t>(header_size)) {
    why = "cannot read the file";
  } else {
    uint64_t ph_offset = 0, ph_size = 0;
    std::vector<unsigned char> program_headers;
    if (elf_program_header_range(header, header_size, &ph_offset, &ph_size) &&
        ph_size <= (uint64_t{1} << 20) && ph_offset <= size && ph_size <= size - ph_offset) {
      program_headers.resize(static_cast<size_t>(ph_size));
      if (pread(fd, program_headers.data(), program_headers.size(),
                static_cast<off_t>(ph_offset)) != static_cast<ssize_t>(program_headers.size())) {
        program_headers.clear();
      }
    }
    why = check_elf_headers(header, header_size,
                            program_headers.empty() ? nullptr : program_headers.data(),
                            program_headers.size(), size);
    if (!why.empty()) why = "'" + path + "': " + why;
  }
  close(fd);
  if (!why.empty()) return why;
  if ((st.st_mode & S_IWOTH) != 0) {
    warnings->push_back("plugin file '" + real_path + "' is writable by every user");
  }
  struct stat folder;
  const std::string dir = folder_of(real_path);
  if (stat(dir.c_str(), &folder) == 0 && (folder.st_mode & S_IWOTH) != 0) {
    warnings->push_back("plugin folder '" + dir + "' is writable by every user" +
                        ((folder.st_mode & S_ISVTX) != 0 ? " (sticky)" : ""));
  }
  return "";
}

// Loads one plugin file; returns its index. Caller holds registry.mutex.
size_t load_plugin_locked(Registry& registry, const std::string& path) {
  const LoadingScope loading;
  const std::string real_path = real_path_of(path);
  for (size_t i = 0; i < registry.backends.size(); ++i) {
    const Backend& other = *registry.backends[i];
    if (!other.path.empty() && other.real_path == real_path) {
      if (other.path != path && verbose_enabled("load")) {
        log_line("load", other.name.c_str(),
                 ("skipped " + path + ": the same file as " + other.path +
                  (real_path != other.path ? " (both are " + real_path + ")" : "") +
                  ", considered already")
                     .c_str());
      }
      return i;
    }
  }
  auto backend = std::make_unique<Backend>();
  backend->path = path;
  backend->real_path = real_path;
  backend->name = name_from_file(path);

  std::vector<std::string> warnings;
  const std::string refused = check_plugin_file(path, real_path, &warnings);
  const bool strict = plugin_strict_mode();
  if (!refused.empty()) {
    fail(*backend, XINHE_STATUS_UNAVAILABLE, "not loaded: " + refused);
  } else if (strict && !warnings.empty()) {
    fail(*backend, XINHE_STATUS_FAILED_PRECONDITION,
         "refused by XINHE_PLUGIN_STRICT=1: " + warnings.front());
  } else {
    for (const std::string& w : warnings) {
      warn(w + "; loading it anyway (XINHE_PLUGIN_STRICT=1 refuses it)");
    }
    // Whatever the plugin (or its driver) does to the process's signal handling while it is
    // opened and started is undone below: the application's handlers stay in force.
    const SignalState signals_before;
    dlerror();
    log_step(*backend, "loading " + path);
    void* handle = nullptr;
    // A static constructor that throws leaves the file mapped but unusable (no handle is
    // returned): it is reported, never called. glibc declares dlopen noexcept, which would let
    // the compiler drop the handler; a call through a volatile pointer keeps it.
    void* (*volatile const open_library)(const char*, int) = dlopen;
    const bool opened = call_plugin(*backend, "dlopen (a static constructor of the plugin)", [&] {
      handle = open_library(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    });
    if (!opened) {
      // glibc does not release its loader lock when an exception unwinds through dlopen: this
      // thread keeps it, and dlopen on any other thread will block. Said always, as it is.
      warn(backend->reason +
           "; the C library's loader lock stays held by this thread, so a "
           "dlopen on another thread will hang: the plugin must not throw");
    } else if (handle == nullptr) {
      const char* error = dlerror();
      fail(*backend, XINHE_STATUS_UNAVAILABLE,
           std::string("dlopen failed: ") + (error != nullptr ? error : "unknown error"));
    } else {
      dlerror();
      void* symbol = dlsym(handle, XINHE_BACKEND_ENTRY_SYMBOL);
      if (symbol == nullptr) {
        fail(*backend, XINHE_STATUS_FAILED_PRECONDITION,
             std::string("not a xinhe plugin: no entry symbol '") + XINHE_BACKEND_ENTRY_SYMBOL +
                 "'");
      } else {
        auto entry = reinterpret_cast<xinhe_backend_entry_fn>(symbol);
        const xinhe_backend_api_t* table = nullptr;
        log_step(*backend, std::string("calling ") + XINHE_BACKEND_ENTRY_SYMBOL);
        if (call_plugin(*backend, std::string("entry '") + XINHE_BACKEND_ENTRY_SYMBOL + "'",
                        [&] { table = entry(XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR); })) {
          // Also catches what a cleanup entry (device_close, backend_destroy) throws.
          call_plugin(*backend, "loading", [&] { activate(registry, *backend, table); });
        }
      }
      if (backend->loaded) {
        backend->dl_handle = handle;
      } else {
        // Nothing of the plugin is in use any more (activate released what it created).
        dlclose(handle);
      }
    }
    const std::string restored = signals_before.restore_changes();
    if (!restored.empty() && verbose_enabled("load")) {
      log_line("load", backend->name.c_str(),
               ("put back the process's " + restored + ", which loading the plugin had replaced")
                   .c_str());
    }
  }
  log_decision(*backend);
  registry.backends.push_back(std::move(backend));
  return registry.backends.size() - 1;
}

// Why folder cannot be scanned: "" when it is a folder.
std::string plugin_folder_problem(const std::string& folder) {
  struct stat st;
  if (stat(folder.c_str(), &st) != 0) {
    const int error = errno;
    return error == ENOENT ? "does not exist"
                           : std::string("cannot be examined: ") + std::strerror(error);
  }
  if (!S_ISDIR(st.st_mode)) {
    return S_ISREG(st.st_mode) ? "is a file, not a folder (name its folder, or load the file "
                                 "with xinhe_backend_load)"
                               : "is not a folder";
  }
  return "";
}

void scan_folder(Registry& registry, const std::string& folder) {
  if (folder.empty()) return;
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) {
    const int error = errno;
    if (verbose_enabled("load")) {
      std::string problem = plugin_folder_problem(folder);
      if (problem.empty()) problem = std::string("cannot be read: ") + std::strerror(error);
      log_line("load", "core", ("plugin folder '" + folder + "' " + problem).c_str());
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

void fill_registry(Registry* registry) {
  std::lock_guard<std::mutex> lock(registry->mutex);

  auto cpu = std::make_unique<Backend>();
  cpu->name = "cpu";
  call_plugin(*cpu, "the built-in CPU backend", [&] {
    activate(*registry, *cpu,
             xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR));
  });
  log_decision(*cpu);
  registry->backends.push_back(std::move(cpu));

  // Read before any plugin is looked for, so a value that is not 0 or 1 is reported even
  // when no plugin is met.
  const bool strict = plugin_strict_mode();
  if (const char* env = std::getenv("XINHE_BACKEND_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      if (colon == std::string::npos) colon = list.size();
      const std::string folder = list.substr(start, colon - start);
      start = colon + 1;
      if (folder.empty()) continue;
      if (folder[0] != '/') {
        // Resolved against whatever the current folder is when the registry is built.
        const std::string message = "XINHE_BACKEND_PATH entry '" + folder +
                                    "' is relative (resolved against the current folder)";
        warn(message + (strict ? "; skipped under XINHE_PLUGIN_STRICT=1"
                               : "; XINHE_PLUGIN_STRICT=1 skips it"));
        if (strict) continue;
      }
      scan_folder(*registry, folder);
    }
  }
  scan_folder(*registry, installed_plugin_folder());
}

// Never throws, so std::call_once completes on the first call whatever happens: a registry
// that failed part-way keeps what it had (a retry would rebuild and leak it on every call).
void build_registry() noexcept {
  const LoadingScope loading;
  Registry* registry = nullptr;
  try {
    registry = new Registry();
    fill_registry(registry);
  } catch (const std::exception& e) {
    warn(std::string("building the backend registry stopped early: ") + e.what());
  } catch (...) {
    warn("building the backend registry stopped early: a non-standard exception");
  }
  g_registry = registry;
}

// The registry, or NULL with *refusal set when this thread is inside a plugin's loading (a
// re-entrant call from backend_create or a plugin constructor: see t_loading_depth).
Registry* registry_or_refuse(const char* call, xinhe_status_t* refusal) {
  if (t_loading_depth > 0) {
    *refusal = XH_ERROR(FAILED_PRECONDITION, "", call,
                        "called from inside a backend plugin while the registry loads it "
                        "(re-entrant registry calls are refused)");
    return nullptr;
  }
  try {
    std::call_once(g_registry_once, build_registry);
  } catch (const std::exception& e) {  // std::system_error when the once-flag cannot be used
    *refusal =
        XH_ERROR(INTERNAL, "", call, "the backend registry could not be built: %s", e.what());
    return nullptr;
  }
  if (g_registry == nullptr) {
    *refusal = XH_ERROR(OUT_OF_MEMORY, "", call, "the backend registry could not be allocated");
  }
  return g_registry;
}

// The body of a public registry call: whatever it throws (std::bad_alloc) becomes an INTERNAL
// status instead of crossing the C boundary.
template <typename Body>
xinhe_status_t guard_public_call(const char* call, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return XH_ERROR(INTERNAL, "", call, "unexpected exception: %s", e.what());
  } catch (...) {
    return XH_ERROR(INTERNAL, "", call, "unexpected non-standard exception");
  }
}

bool is_accelerator(uint32_t type) {
  return type == XINHE_DEVICE_TYPE_GPU || type == XINHE_DEVICE_TYPE_NPU ||
         type == XINHE_DEVICE_TYPE_ACCELERATOR;
}

// Among accelerators, lower ranks win the default device: native runtimes before OpenCL, which
// may reach the same chip (runtime.h).
int accelerator_rank(const std::string& backend) {
  if (backend == "cuda") return 0;
  if (backend == "hip") return 1;
  if (backend == "level_zero") return 2;
  if (backend == "opencl") return 4;
  return 3;
}

}  // namespace

// XINHE_VERBOSE is read on every call (tests and tools change it at run time) but parsed only
// when it changed, and a value longer than kMaxVerboseLength is ignored with one warning: the
// check runs on every op creation and a 120 KB value must not make each of them slow.
constexpr size_t kMaxVerboseLength = 1024;
// The topics the core and the in-tree backends log under; a misspelt one ("dispach") is
// warned about once per process, as silence would look like "nothing to log".
constexpr const char* kVerboseTopics[] = {"all", "cache", "dispatch", "load"};

int verbose_enabled(const char* topic) {
  const char* env = std::getenv("XINHE_VERBOSE");
  if (env == nullptr || topic == nullptr) return 0;
  const size_t length = strnlen(env, kMaxVerboseLength + 1);
  static std::mutex mutex;
  static std::string cached_value;
  static std::vector<std::string> cached_topics;
  static bool warned_too_long = false;
  static bool warned_unknown = false;
  std::string unknown;  // the unknown topics of a value parsed now, to warn about once
  std::unique_lock<std::mutex> lock(mutex);
  if (length > kMaxVerboseLength) {
    const bool first = !warned_too_long;
    warned_too_long = true;
    lock.unlock();
    if (first) {
      log_line("load", "core",
               ("warning: XINHE_VERBOSE is longer than " + std::to_string(kMaxVerboseLength) +
                " characters; ignored")
                   .c_str());
    }
    return 0;
  }
  if (cached_value.size() != length || cached_value.compare(0, length, env, length) != 0) {
    cached_value.assign(env, length);
    cached_topics.clear();
    size_t start = 0;
    while (start <= cached_value.size()) {
      size_t comma = cached_value.find(',', start);
      if (comma == std::string::npos) comma = cached_value.size();
      std::string item = cached_value.substr(start, comma - start);
      // Tolerate "load, dispatch" as well as "load,dispatch".
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) cached_topics.push_back(item);
      start = comma + 1;
    }
    for (const std::string& item : cached_topics) {
      const bool known = std::any_of(std::begin(kVerboseTopics), std::end(kVerboseTopics),
                                     [&](const char* known_topic) { return item == known_topic; });
      if (!known && !warned_unknown) unknown += (unknown.empty() ? "'" : ", '") + item + "'";
    }
    if (!unknown.empty()) warned_unknown = true;
  }
  int enabled = 0;
  for (const std::string& item : cached_topics) {
    if (item == "all" || item == topic) enabled = 1;
  }
  lock.unlock();
  if (!unknown.empty()) {
    std::string known;
    for (const char* known_topic : kVerboseTopics)
      known += (known.empty() ? "" : ", ") + std::string(known_topic);
    log_line("load", "core",
             ("warning: XINHE_VERBOSE names topic(s) " + unknown +
              " that xinhe and its own backends do not log under (theirs: " + known +
              "); a vendor plugin may log under a topic of its own")
                 .c_str());
  }
  return enabled;
}

void log_line(const char* topic, const char* backend, const char* message) {
  // Names, paths and reasons come from plugins and files: escaped so that the line stays one
  // line of plain text on a terminal.
  const std::string text = "xinhe[" + util::escape_for_display(topic != nullptr ? topic : "") +
                           "] " + util::escape_for_display(backend != nullptr ? backend : "") +
                           ": " + util::escape_for_display(message != nullptr ? message : "");
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace xinhe::core

using xinhe::core::Backend;

extern "C" {

xinhe_status_t xinhe_backend_count(size_t* out_count) {
  return xinhe::core::guard_public_call("xinhe_backend_count", [&]() -> xinhe_status_t {
    if (out_count == nullptr) {
      return XH_ERROR(INVALID_ARGUMENT, "", "xinhe_backend_count", "out_count is NULL");
    }
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry =
        xinhe::core::registry_or_refuse("xinhe_backend_count", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
    std::lock_guard<std::mutex> lock(reg.mutex);
    *out_count = reg.backends.size();
    return nullptr;
  });
}

xinhe_status_t xinhe_backend_info(size_t index, xinhe_backend_info_t* out_info) {
  return xinhe::core::guard_public_call("xinhe_backend_info", [&]() -> xinhe_status_t {
    static const char* kCall = "xinhe_backend_info";
    if (out_info == nullptr) {
      return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_info is NULL");
    }
    if (out_info->struct_size < sizeof(xinhe_backend_info_t)) {
      return XH_ERROR(INVALID_ARGUMENT, "", kCall,
                      "out_info->struct_size is %zu, expected at least %zu", out_info->struct_size,
                      sizeof(xinhe_backend_info_t));
    }
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry =
        xinhe::core::registry_or_refuse("xinhe_backend_info", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
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
  });
}

xinhe_status_t xinhe_backend_load(const char* path, size_t* out_backend_index) {
  return xinhe::core::guard_public_call("xinhe_backend_load", [&]() -> xinhe_status_t {
    static const char* kCall = "xinhe_backend_load";
    if (path == nullptr || path[0] == '\0') {
      return XH_ERROR(INVALID_ARGUMENT, "", kCall, "path is NULL or empty");
    }
    if (out_backend_index == nullptr) {
      return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_backend_index is NULL");
    }
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry =
        xinhe::core::registry_or_refuse("xinhe_backend_load", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
    std::lock_guard<std::mutex> lock(reg.mutex);
    const size_t index = xinhe::core::load_plugin_locked(reg, path);
    const Backend& backend = *reg.backends[index];
    if (!backend.loaded) {
      return xinhe::core::make_status(backend.code, backend.name.c_str(), kCall, __FILE__, __LINE__,
                                      "plugin '%s' not usable: %s", path, backend.reason.c_str());
    }
    *out_backend_index = index;
    return nullptr;
  });
}

xinhe_status_t xinhe_device_count(size_t* out_count) {
  return xinhe::core::guard_public_call("xinhe_device_count", [&]() -> xinhe_status_t {
    if (out_count == nullptr) {
      return XH_ERROR(INVALID_ARGUMENT, "", "xinhe_device_count", "out_count is NULL");
    }
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry =
        xinhe::core::registry_or_refuse("xinhe_device_count", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
    std::lock_guard<std::mutex> lock(reg.mutex);
    *out_count = reg.devices.size();
    return nullptr;
  });
}

xinhe_status_t xinhe_device_get(size_t index, xinhe_device_t* out_device) {
  return xinhe::core::guard_public_call("xinhe_device_get", [&]() -> xinhe_status_t {
    static const char* kCall = "xinhe_device_get";
    if (out_device == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_device is NULL");
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry = xinhe::core::registry_or_refuse("xinhe_device_get", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
    std::lock_guard<std::mutex> lock(reg.mutex);
    if (index >= reg.devices.size()) {
      return XH_ERROR(NOT_FOUND, "", kCall, "device index %zu out of range (%zu devices)", index,
                      reg.devices.size());
    }
    *out_device = reg.devices[index];
    return nullptr;
  });
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
  return xinhe::core::guard_public_call("xinhe_device_get_by_name", [&]() -> xinhe_status_t {
    static const char* kCall = "xinhe_device_get_by_name";
    if (name == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "name is NULL");
    if (out_device == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_device is NULL");
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry =
        xinhe::core::registry_or_refuse("xinhe_device_get_by_name", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
    std::lock_guard<std::mutex> lock(reg.mutex);
    xinhe_device_t device = find_device_locked(reg, name);
    if (device == nullptr) {
      return XH_ERROR(NOT_FOUND, "", kCall, "no device named '%s'; available: %s", name,
                      available_devices_locked(reg).c_str());
    }
    *out_device = device;
    return nullptr;
  });
}

xinhe_status_t xinhe_device_get_default(xinhe_device_t* out_device) {
  return xinhe::core::guard_public_call("xinhe_device_get_default", [&]() -> xinhe_status_t {
    static const char* kCall = "xinhe_device_get_default";
    if (out_device == nullptr) return XH_ERROR(INVALID_ARGUMENT, "", kCall, "out_device is NULL");
    xinhe_status_t refusal = nullptr;
    xinhe::core::Registry* registry =
        xinhe::core::registry_or_refuse("xinhe_device_get_default", &refusal);
    if (registry == nullptr) return refusal;
    auto& reg = *registry;
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
    // The first accelerator; devices are listed backend by backend in load order, so the strict
    // comparison keeps the earliest backend among equal ranks and the lowest index within one.
    xinhe_device_t best = nullptr;
    for (auto* device : reg.devices) {
      if (!xinhe::core::is_accelerator(device->type)) continue;
      if (best == nullptr || xinhe::core::accelerator_rank(device->backend_name) <
                                 xinhe::core::accelerator_rank(best->backend_name)) {
        best = device;
      }
    }
    // Else the built-in CPU backend; else (it failed to start) the first other CPU device.
    if (best == nullptr) best = find_device_locked(reg, "cpu:0");
    for (auto* device : reg.devices) {
      if (best == nullptr && device->type == XINHE_DEVICE_TYPE_CPU) best = device;
    }
    if (best == nullptr) {
      return XH_ERROR(UNAVAILABLE, "", kCall,
                      "no accelerator or CPU device; devices of unknown type can be named in "
                      "XINHE_DEVICE (available: %s)",
                      available_devices_locked(reg).c_str());
    }
    *out_device = best;
    return nullptr;
  });
}

}  // extern "C"
