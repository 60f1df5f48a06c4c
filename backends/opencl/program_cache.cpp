// Two-level program cache: memory (per device) over disk (per user, shared by processes).
#include "program_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "bounded_file.h"
#include "cache_claim.h"
#include "fnv1a.h"
#include "status_util.h"

namespace xinhe::opencl {
namespace {

constexpr char kEntryMagic[8] = {'X', 'H', 'C', 'L', 'P', 'R', 'G', '\0'};
constexpr uint32_t kEntryFormatVersion = 1;

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

// mkdir -p; true when path exists as a folder afterwards.
bool make_dirs(const std::string& path) {
  if (path.empty()) return false;
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (!partial.empty()) {
        if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return false;
      }
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

}  // namespace

std::string check_cache_entry_header(const unsigned char* header_bytes, size_t header_size,
                                     uint64_t file_size, uint64_t key, uint64_t* payload_size,
                                     uint64_t* checksum) {
  if (header_size < sizeof(EntryHeader) || file_size < sizeof(EntryHeader)) {
    return "truncated header";
  }
  EntryHeader header;
  std::memcpy(&header, header_bytes, sizeof(header));
  if (std::memcmp(header.magic, kEntryMagic, sizeof(kEntryMagic)) != 0) return "bad magic";
  if (header.format_version != kEntryFormatVersion) {
    return "format version " + std::to_string(header.format_version);
  }
  if (header.reserved != 0) return "reserved field set";  // written as 0: anything else is damage
  if (header.key != key) return "key mismatch";
  // The size field is checked against the file before anything is allocated for it.
  const uint64_t actual = file_size - sizeof(EntryHeader);
  if (header.payload_size == 0) return "empty payload";
  if (header.payload_size > actual) {
    return "truncated payload (header says " + std::to_string(header.payload_size) +
           " bytes, file holds " + std::to_string(actual) + ")";
  }
  if (header.payload_size < actual) return "trailing bytes";
  *payload_size = header.payload_size;
  *checksum = header.payload_checksum;
  return "";
}

std::string parse_cache_entry(const unsigned char* data, size_t size, uint64_t key,
                              const unsigned char** payload, size_t* payload_size) {
  uint64_t length = 0, checksum = 0;
  std::string why = check_cache_entry_header(data, size, size, key, &length, &checksum);
  if (!why.empty()) return why;
  const unsigned char* body = data + sizeof(EntryHeader);
  if (fnv1a64(body, static_cast<size_t>(length)) != checksum) return "checksum mismatch";
  *payload = body;
  *payload_size = static_cast<size_t>(length);
  return "";
}

std::string make_cache_entry(uint64_t key, const unsigned char* payload, size_t payload_size) {
  EntryHeader header{};
  std::memcpy(header.magic, kEntryMagic, sizeof(kEntryMagic));
  header.format_version = kEntryFormatVersion;
  header.key = key;
  header.payload_size = payload_size;
  header.payload_checksum = fnv1a64(payload, payload_size);
  std::string out(reinterpret_cast<const char*>(&header), sizeof(header));
  out.append(reinterpret_cast<const char*>(payload), payload_size);
  return out;
}

std::string default_cache_dir() {
  if (const char* dir = std::getenv("XINHE_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/xinhe";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/xinhe";
  return "";
}

ProgramCache::ProgramCache(const ClApi* cl, const xinhe_host_api_t* host, cl_context context,
                           cl_device_id device, std::string identity, std::string disk_dir)
    : cl_(cl), host_(host), context_(context), device_(device), identity_(std::move(identity)) {
  if (disk_dir.empty()) {
    log("program cache: no cache folder (XINHE_CACHE_DIR, XDG_CACHE_HOME, HOME unset); "
        "memory only");
  } else if (!make_dirs(disk_dir) || access(disk_dir.c_str(), W_OK) != 0) {
    log("program cache: folder '" + disk_dir + "' cannot be created or written (" +
        std::strerror(errno) + "); memory only");
  } else {
    disk_dir_ = std::move(disk_dir);
  }
}

ProgramCache::~ProgramCache() {
  for (auto& [key, cached] : programs_) cl_->clReleaseProgram(cached.program);
}

void ProgramCache::log(const std::string& message) const {
  if (host_->verbose_enabled("cache")) host_->log("cache", "opencl", message.c_str());
}

void ProgramCache::disable_disk(const std::string& why) {
  if (disk_dir_.empty()) return;
  log("program cache: disk layer off for '" + disk_dir_ + "': " + why + "; memory only");
  disk_dir_.clear();
}

ProgramCacheStats ProgramCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

uint64_t ProgramCache::key_of(const std::string& source, const std::string& options) const {
  uint64_t h = kFnv1aOffsetBasis;
  h = fnv1a64_field("xinhe " XINHE_OPENCL_VERSION_STRING, h);
  h = fnv1a64_field(identity_, h);
  h = fnv1a64_field(options, h);
  h = fnv1a64_field(source, h);
  return h;
}

std::string ProgramCache::entry_path(uint64_t key) const {
  return disk_dir_ + "/opencl-" + hex64(key) + ".bin";
}

bool ProgramCache::has_kernel(cl_program program, const std::string& kernel_name) const {
  cl_int err = CL_SUCCESS;
  cl_kernel kernel = cl_->clCreateKernel(program, kernel_name.c_str(), &err);
  if (kernel != nullptr) cl_->clReleaseKernel(kernel);
  return err == CL_SUCCESS && kernel != nullptr;
}

ClError ProgramCache::get(const std::string& source, const std::string& options,
                          const std::string& kernel_name, cl_program* out) {
  const uint64_t key = key_of(source, options);
  // One lock around the whole lookup-or-build: two ops asking for the same program at once
  // must not build it twice, and builds are rare (op creation only).
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = programs_.find(key); it != programs_.end()) {
    Cached& cached = it->second;
    if (cached.kernels.count(kernel_name) != 0 || has_kernel(cached.program, kernel_name)) {
      cached.kernels.insert(kernel_name);
      ++stats_.memory_hits;
      cl_->clRetainProgram(cached.program);
      *out = cached.program;
      return ClError{};
    }
    if (!cached.from_disk) {
      return XINHE_CL_ERROR(CL_INVALID_KERNEL_NAME, "clCreateKernel",
                            "kernel '" + kernel_name + "' is not in the program built from source");
    }
    // A disk entry held another program's binary (it had the kernel asked for first, not
    // this one): forget it and build from source, which also overwrites the entry.
    ++stats_.disk_rejected;
    log("program cache: program " + hex64(key) + " from disk lacks kernel '" + kernel_name +
        "'; rebuilding");
    cl_->clReleaseProgram(cached.program);
    programs_.erase(it);
  }
  cl_program program = disk_dir_.empty() ? nullptr : load_from_disk(key, options, kernel_name);
  const bool from_disk = program != nullptr;
  if (from_disk) {
    ++stats_.disk_hits;
    log("program cache: disk hit " + hex64(key));
  } else {
    const auto start = std::chrono::steady_clock::now();
    if (ClError error = build_from_source(source, options, &program)) return error;
    ++stats_.builds;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    log("program cache: miss " + hex64(key) + ", built from source in " +
        std::to_string(static_cast<long long>(ms)) + " ms");
    if (!has_kernel(program, kernel_name)) {
      cl_->clReleaseProgram(program);
      return XINHE_CL_ERROR(CL_INVALID_KERNEL_NAME, "clCreateKernel",
                            "kernel '" + kernel_name + "' is not in the program built from source");
    }
    if (!disk_dir_.empty()) store_to_disk(key, program);
  }
  programs_[key] = Cached{program, from_disk, {kernel_name}};
  cl_->clRetainProgram(program);
  *out = program;
  return ClError{};
}

cl_program ProgramCache::load_from_disk(uint64_t key, const std::string& options,
                                        const std::string& kernel_name) {
  const std::string path = entry_path(key);
  // Claim the entry (util/cache_claim.h): until it is released, no other process loads it, and
  // if the driver kills this process the entry stays quarantined.
  std::string claimed, claim_problem;
  if (!util::claim_cache_entry(path, &claimed, &claim_problem)) {
    if (claim_problem.empty()) return nullptr;  // a plain miss, or another process holds it
    ++stats_.disk_rejected;
    log("program cache: entry " + path + " rejected (" + claim_problem + "); rebuilding");
    return nullptr;
  }

  std::string why;
  std::vector<unsigned char> payload;
  uint64_t file_size = 0;
  util::FileProblem problem = util::FileProblem::kNone;
  const int fd = util::open_regular_file(claimed, kMaxCacheEntryBytes, &file_size, &problem, &why);
  if (fd >= 0) {
    unsigned char header[kCacheEntryHeaderBytes];
    uint64_t payload_size = 0, checksum = 0;
    const size_t header_read = file_size < sizeof(header) ? 0 : sizeof(header);
    if (header_read == 0 || !util::read_exact(fd, header, header_read)) {
      why = "truncated header";
    } else if ((why = check_cache_entry_header(header, header_read, file_size, key, &payload_size,
                                               &checksum))
                   .empty()) {
      payload.resize(static_cast<size_t>(payload_size));
      if (!util::read_exact(fd, payload.data(), payload_size)) {
        why = "truncated payload";
      } else if (fnv1a64(payload.data(), payload.size()) != checksum) {
        why = "checksum mismatch";
      }
    }
    close(fd);
  } else if (why.empty()) {
    why = "unreadable";
  }
  if (why.empty()) {
    const unsigned char* binary = payload.data();
    const size_t size = payload.size();
    cl_int binary_status = CL_SUCCESS;
    cl_int err = CL_SUCCESS;
    cl_program program =
        cl_->clCreateProgramWithBinary(context_, 1, &device_, &size, &binary, &binary_status, &err);
    if (err == CL_SUCCESS && binary_status == CL_SUCCESS) {
      err = cl_->clBuildProgram(program, 1, &device_, options.c_str(), nullptr, nullptr);
      if (err == CL_SUCCESS && !has_kernel(program, kernel_name)) err = CL_INVALID_KERNEL_NAME;
      if (err == CL_SUCCESS) {
        util::release_cache_claim(claimed, path);  // accepted
        return program;
      }
    }
    if (program != nullptr) cl_->clReleaseProgram(program);
    why = err == CL_INVALID_KERNEL_NAME
              ? "binary lacks kernel '" + kernel_name + "' (another program's binary?)"
              : "driver rejected the binary (" +
                    cl_error_name(err != CL_SUCCESS ? err : binary_status) + ")";
  }
  std::remove(claimed.c_str());  // rebuilt and stored again by the caller
  ++stats_.disk_rejected;
  log("program cache: entry " + path + " rejected (" + why + "); rebuilding");
  return nullptr;
}

void ProgramCache::store_to_disk(uint64_t key, cl_program program) {
  size_t size = 0;
  cl_int err =
      cl_->clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, nullptr);
  if (err != CL_SUCCESS || size == 0 || size > kMaxCacheEntryBytes - kCacheEntryHeaderBytes) {
    log("program cache: device returned no storable binary (" + cl_error_name(err) + ", " +
        std::to_string(size) + " bytes); not stored");
    return;
  }
  std::vector<unsigned char> payload(size);
  unsigned char* binaries[1] = {payload.data()};
  err = cl_->clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(binaries), binaries, nullptr);
  if (err != CL_SUCCESS) {
    log("program cache: clGetProgramInfo(CL_PROGRAM_BINARIES) failed (" + cl_error_name(err) +
        "); not stored");
    return;
  }
  const std::string entry = make_cache_entry(key, payload.data(), payload.size());

  const std::string final_path = entry_path(key);
  std::string why;
  switch (util::store_cache_entry(final_path, {{entry.data(), entry.size()}}, &why)) {
    case util::StoreResult::kStored:
      break;
    case util::StoreResult::kEntrySkipped:
      log("program cache: entry " + final_path + " not stored: " + why + "; disk layer kept");
      return;
    case util::StoreResult::kFolderFailed:
      disable_disk(why);
      return;
  }
  ++stats_.disk_writes;
  log("program cache: stored " + final_path);
  const std::string name = final_path.substr(final_path.rfind('/') + 1);
  if (const int stale = util::remove_stale_claims(disk_dir_, name); stale > 0) {
    log("program cache: removed " + std::to_string(stale) + " stale claim(s) of " + final_path);
  }
}

ClError ProgramCache::build_from_source(const std::string& source, const std::string& options,
                                        cl_program* out) {
  const char* text = source.c_str();
  const size_t length = source.size();
  cl_int err = CL_SUCCESS;
  cl_program program = cl_->clCreateProgramWithSource(context_, 1, &text, &length, &err);
  if (err != CL_SUCCESS) return XINHE_CL_ERROR(err, "clCreateProgramWithSource", "");
  err = cl_->clBuildProgram(program, 1, &device_, options.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    size_t log_size = 0;
    cl_->clGetProgramBuildInfo(program, device_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &log_size);
    std::string build_log(log_size, '\0');
    if (log_size > 0)
      cl_->clGetProgramBuildInfo(program, device_, CL_PROGRAM_BUILD_LOG, log_size, build_log.data(),
                                 nullptr);
    // The size includes the terminating NUL, which must not end up inside the reason.
    while (!build_log.empty() && build_log.back() == '\0') build_log.pop_back();
    if (build_log.size() > 4000) build_log = build_log.substr(0, 4000) + "...";
    cl_->clReleaseProgram(program);
    return XINHE_CL_ERROR(err, "clBuildProgram", "options '" + options + "': " + build_log);
  }
  *out = program;
  return ClError{};
}

}  // namespace xinhe::opencl
