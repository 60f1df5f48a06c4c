// libFuzzer target: the OpenCL kernel-cache entry format (program_cache.h), without a device.
//
// The input is an entry file. parse_cache_entry must accept it only when the header (magic,
// version, key, payload size equal to what the file holds) and the checksum agree, and then
// make_cache_entry of the payload must give back exactly the input; check_cache_entry_header
// must never accept a payload larger than the file, whatever file size it is told.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "program_cache.h"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xinhe::opencl;
  // The key the reader expects: the one in the header (bytes 16..23) or another.
  uint64_t key = 0x0123456789abcdefull;
  if (size >= 24 && (size % 3) != 0) std::memcpy(&key, data + 16, sizeof(key));
  // An exact-size heap copy, so that a read past the entry is an ASan report.
  std::vector<unsigned char> entry(data, data + size);
  const unsigned char* payload = nullptr;
  size_t payload_size = 0;
  const std::string why =
      parse_cache_entry(entry.data(), entry.size(), key, &payload, &payload_size);
  if (why.empty()) {
    if (payload == nullptr || payload_size == 0 || payload_size != size - kCacheEntryHeaderBytes) {
      finding("accepted an entry whose payload does not fill the file");
    }
    if (make_cache_entry(key, payload, payload_size) !=
        std::string(reinterpret_cast<const char*>(data), size)) {
      finding("an accepted entry does not round-trip through make_cache_entry");
    }
  }
  // The header check alone, told various file sizes: never a payload past the file.
  const uint64_t file_sizes[] = {size, size / 2, uint64_t{1} << 40, 0, kCacheEntryHeaderBytes};
  for (uint64_t file_size : file_sizes) {
    uint64_t length = 0, checksum = 0;
    if (check_cache_entry_header(entry.data(), entry.size(), file_size, key, &length, &checksum)
            .empty() &&
        (length == 0 || length + kCacheEntryHeaderBytes != file_size)) {
      finding("header check accepted a payload size that is not the file's");
    }
  }
  return 0;
}
