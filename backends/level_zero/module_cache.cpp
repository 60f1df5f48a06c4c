// Two-level module cache: memory (per device) over disk (per user, shared by processes).
#include "module_cache.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bounded_file.h"
#include "cache_claim.h"
#include "opencl/fnv1a.h"

#ifndef XINHE_LEVEL_ZERO_VERSION_STRING
#define XINHE_LEVEL_ZERO_VERSION_STRING "0.1.0"
#endif

namespace xinhe::level_zero {
namespace {

using opencl::fnv1a64;
using opencl::fnv1a64_field;

constexpr char kEntryMagic[8] = {'X', 'H', 'Z', 'E', 'M', 'O', 'D', '\0'};
constexpr uint32_t kEntryFormatVersion = 1;
constexpr uint64_t kMaxPayload = 1ull << 31;

// Fixed little-endian-on-this-host layout; entries are per machine, not portable files.
struct EntryHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t reserved;
  uint64_t key;
  uint64_t payload_size;
  uint64_t payload_checksum;  // FNV-1a 64 of the payload
};
static_assert(sizeof(EntryHeader) == 40, "cache entry header layout");

bool make_dirs(const std::string& path) {
  if (path.empty()) return false;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string build_log_text(const ZeApi& ze, ze_module_build_log_handle_t log) {
  if (log == nullptr) return "";
  size_t size = 0;
  std::string text;
  if (ze.zeModuleBuildLogGetString(log, &size, nullptr) == ZE_RESULT_SUCCESS && size > 0) {
    text.resize(size);
    if (ze.zeModuleBuildLogGetString(log, &size, text.data()) != ZE_RESULT_SUCCESS) text.clear();
  }
  ze.zeModuleBuildLogDestroy(log);
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n')) text.pop_back();
  if (text.size() > 4000) text = text.substr(0, 4000) + "...";
  return text;
}

}  // namespace

std::string default_cache_dir() {
  if (const char* dir = std::getenv("XINHE_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/xinhe";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/xinhe";
  return "";
}

ModuleCache::ModuleCache(Device* device, std::string disk_dir) : device_(device) {
  identity_ = device->info.name + "\n" + device->info.driver_version;
  build_flags_ = device->backend->extra_build_flags;
  if (disk_dir.empty()) {
    log("module cache: no cache folder (XINHE_CACHE_DIR, XDG_CACHE_HOME, HOME unset); "
        "memory only");
  } else if (!make_dirs(disk_dir) || access(disk_dir.c_str(), W_OK) != 0) {
    log("module cache: folder '" + disk_dir + "' cannot be created or written (" +
        std::strerror(errno) + "); memory only");
  } else {
    disk_dir_ = std::move(disk_dir);
  }
}

ModuleCache::~ModuleCache() {
  const ZeApi& ze = device_->ze();
  for (auto& [key, entry] : kernels_) ze.zeKernelDestroy(entry.kernel);
  for (auto& [spirv, module] : modules_) ze.zeModuleDestroy(module);
}

void ModuleCache::log(const std::string& message) const {
  const xinhe_host_api_t* host = device_->host();
  if (host->verbose_enabled("cache")) host->log("cache", kBackendName, message.c_str());
}

void ModuleCache::disable_disk(const std::string& why) {
  if (disk_dir_.empty()) return;
  log("module cache: disk layer off for '" + disk_dir_ + "': " + why + "; memory only");
  disk_dir_.clear();
}

ModuleCacheStats ModuleCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

uint64_t ModuleCache::key_of(const SpirvProgram& spirv) const {
  uint64_t h = opencl::kFnv1aOffsetBasis;
  h = fnv1a64_field("xinhe level_zero " XINHE_LEVEL_ZERO_VERSION_STRING, h);
  h = fnv1a64_field(identity_, h);
  h = fnv1a64_field(build_flags_, h);
  h = fnv1a64_field(spirv.program, h);
  h = fnv1a64_field(spirv.options, h);
  return fnv1a64(spirv.data, *spirv.size, h);
}

std::string ModuleCache::entry_path(uint64_t key) const {
  return disk_dir_ + "/level_zero-" + hex64(key) + ".bin";
}

ZeCall ModuleCache::kernel(const SpirvProgram& spirv, const char* name, KernelRef* out) {
  // One lock around lookup-or-build: two ops asking for one module must not build it twice,
  // and builds happen at op creation only.
  std::lock_guard<std::mutex> lock(mutex_);
  ze_module_handle_t module = nullptr;
  if (ZeCall c = module_locked(spirv, &module)) return c;
  KernelEntry& entry = kernels_[{module, name}];
  if (entry.kernel == nullptr) {
    ze_kernel_desc_t kdesc = ze_struct<ze_kernel_desc_t>(ZE_STRUCTURE_TYPE_KERNEL_DESC);
    kdesc.pKernelName = name;
    const ze_result_t r = device_->ze().zeKernelCreate(module, &kdesc, &entry.kernel);
    if (r != ZE_RESULT_SUCCESS) {
      kernels_.erase({module, name});
      return ZeCall{r, "zeKernelCreate", std::string("kernel '") + name + "' of " + spirv.program};
    }
    entry.mutex = std::make_unique<std::mutex>();
  }
  out->kernel = entry.kernel;
  out->mutex = entry.mutex.get();
  return {};
}

ZeCall ModuleCache::module_locked(const SpirvProgram& spirv, ze_module_handle_t* out) {
  if (auto it = modules_.find(&spirv); it != modules_.end()) {
    ++stats_.memory_hits;
    *out = it->second;
    return {};
  }
  const uint64_t key = key_of(spirv);
  ze_module_handle_t module = disk_dir_.empty() ? nullptr : load_from_disk(key);
  if (module != nullptr) {
    ++stats_.disk_hits;
    log("module cache: disk hit " + hex64(key));
  } else {
    const auto start = std::chrono::steady_clock::now();
    if (ZeCall c = build(spirv, &module)) return c;
    ++stats_.builds;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    log("module cache: miss " + hex64(key) + ", built " + spirv.program + " from SPIR-V in " +
        std::to_string(static_cast<long long>(ms)) + " ms");
    if (!disk_dir_.empty()) store_to_disk(key, module);
  }
  modules_[&spirv] = module;
  *out = module;
  return {};
}

ZeCall ModuleCache::build(const SpirvProgram& spirv, ze_module_handle_t* out) {
  const ZeApi& ze = device_->ze();
  ze_module_desc_t desc = ze_struct<ze_module_desc_t>(ZE_STRUCTURE_TYPE_MODULE_DESC);
  desc.format = ZE_MODULE_FORMAT_IL_SPIRV;
  desc.inputSize = *spirv.size;
  desc.pInputModule = spirv.data;
  desc.pBuildFlags = build_flags_.c_str();
  ze_module_build_log_handle_t log = nullptr;
  const ze_result_t r = ze.zeModuleCreate(device_->context, device_->device, &desc, out, &log);
  const std::string text = build_log_text(ze, log);
  if (r != ZE_RESULT_SUCCESS) {
    *out = nullptr;
    return ZeCall{r, "zeModuleCreate",
                  std::string(spirv.program) + " with build flags '" + build_flags_ +
                      "' (SPIR-V compiled with '" + spirv.options +
                      "'): " + (text.empty() ? "no build log" : text)};
  }
  return {};
}

ze_module_handle_t ModuleCache::load_from_disk(uint64_t key) {
  const std::string path = entry_path(key);
  // Claim the entry (util/cache_claim.h): until it is released, no other process loads it, and
  // if the driver kills this process while loading it the entry stays quarantined.
  std::string claimed, why;
  if (!util::claim_cache_entry(path, &claimed, &why)) {
    if (why.empty()) return nullptr;  // a plain miss, or another process holds the claim
    ++stats_.disk_rejected;
    log("module cache: entry " + path + " rejected (" + why + "); rebuilding");
    return nullptr;
  }
  // The same bounded, regular-file-only read as the other caches: a FIFO or a file larger than
  // any entry is refused before a byte is allocated for it.
  std::string data;
  util::FileProblem problem = util::FileProblem::kNone;
  util::read_regular_file(claimed, sizeof(EntryHeader) + kMaxPayload, &data, &problem, &why);
  EntryHeader header{};
  if (data.size() >= sizeof(header)) std::memcpy(&header, data.data(), sizeof(header));
  std::vector<uint8_t> payload;
  if (!why.empty()) {
    // read_regular_file said what is wrong with the file
  } else if (data.size() < sizeof(header)) {
    why = "truncated header";
  } else if (std::memcmp(header.magic, kEntryMagic, sizeof(kEntryMagic)) != 0) {
    why = "bad magic";
  } else if (header.format_version != kEntryFormatVersion || header.reserved != 0) {
    why = "format version " + std::to_string(header.format_version) + ", reserved " +
          std::to_string(header.reserved);
  } else if (header.key != key) {
    why = "key mismatch";
  } else if (header.payload_size == 0 || header.payload_size > kMaxPayload) {
    why = "implausible payload size";
  } else if (header.payload_size > data.size() - sizeof(header)) {
    why = "truncated payload";
  } else if (header.payload_size < data.size() - sizeof(header)) {
    why = "trailing bytes";
  } else {
    payload.assign(data.begin() + sizeof(header), data.end());
    if (fnv1a64(payload.data(), payload.size()) != header.payload_checksum)
      why = "checksum mismatch";
  }
  if (why.empty()) {
    const ZeApi& ze = device_->ze();
    ze_module_desc_t desc = ze_struct<ze_module_desc_t>(ZE_STRUCTURE_TYPE_MODULE_DESC);
    desc.format = ZE_MODULE_FORMAT_NATIVE;
    desc.inputSize = payload.size();
    desc.pInputModule = payload.data();
    desc.pBuildFlags = build_flags_.c_str();
    ze_module_handle_t module = nullptr;
    ze_module_build_log_handle_t build_log = nullptr;
    const ze_result_t r =
        ze.zeModuleCreate(device_->context, device_->device, &desc, &module, &build_log);
    const std::string text = build_log_text(ze, build_log);
    if (r == ZE_RESULT_SUCCESS) {
      util::release_cache_claim(claimed, path);  // accepted
      return module;
    }
    why = "driver rejected the binary (" + ze_result_name(r) + (text.empty() ? "" : ": " + text) +
          ")";
  }
  std::remove(claimed.c_str());  // rebuilt and stored again by the caller
  ++stats_.disk_rejected;
  log("module cache: entry " + path + " rejected (" + why + "); rebuilding");
  return nullptr;
}

void ModuleCache::store_to_disk(uint64_t key, ze_module_handle_t module) {
  const ZeApi& ze = device_->ze();
  size_t size = 0;
  ze_result_t r = ze.zeModuleGetNativeBinary(module, &size, nullptr);
  if (r != ZE_RESULT_SUCCESS || size == 0 || size > kMaxPayload) {
    log("module cache: driver returned no native binary (" + ze_result_name(r) + "); not stored");
    return;
  }
  std::vector<uint8_t> payload(size);
  r = ze.zeModuleGetNativeBinary(module, &size, payload.data());
  if (r != ZE_RESULT_SUCCESS) {
    log("module cache: zeModuleGetNativeBinary failed (" + ze_result_name(r) + "); not stored");
    return;
  }
  payload.resize(size);
  EntryHeader header{};
  std::memcpy(header.magic, kEntryMagic, sizeof(kEntryMagic));
  header.format_version = kEntryFormatVersion;
  header.key = key;
  header.payload_size = payload.size();
  header.payload_checksum = fnv1a64(payload.data(), payload.size());

  const std::string final_path = entry_path(key);
  std::string why;
  switch (util::store_cache_entry(
      final_path, {{&header, sizeof(header)}, {payload.data(), payload.size()}}, &why)) {
    case util::StoreResult::kStored:
      break;
    case util::StoreResult::kEntrySkipped:
      log("module cache: entry " + final_path + " not stored: " + why + "; disk layer kept");
      return;
    case util::StoreResult::kFolderFailed:
      disable_disk(why);
      return;
  }
  ++stats_.disk_writes;
  log("module cache: stored " + final_path);
  const std::string name = final_path.substr(final_path.rfind('/') + 1);
  if (const int stale = util::remove_stale_claims(disk_dir_, name); stale > 0) {
    log("module cache: removed " + std::to_string(stale) + " stale claim(s) of " + final_path);
  }
}

}  // namespace xinhe::level_zero
