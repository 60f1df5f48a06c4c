// FNV-1a 64-bit: the hash behind kernel-cache keys and entry checksums. Not cryptographic;
// it detects accidental corruption and separates (source, options, device, driver) tuples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xinhe::opencl {

inline constexpr uint64_t kFnv1aOffsetBasis = 0xcbf29ce484222325ull;

inline uint64_t fnv1a64(const void* data, size_t size, uint64_t hash = kFnv1aOffsetBasis) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// Hashes s followed by a 0 byte, so ("ab", "c") and ("a", "bc") differ when chained.
inline uint64_t fnv1a64_field(std::string_view s, uint64_t hash) {
  hash = fnv1a64(s.data(), s.size(), hash);
  const unsigned char terminator = 0;
  return fnv1a64(&terminator, 1, hash);
}

}  // namespace xinhe::opencl
