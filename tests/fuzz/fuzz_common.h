// Shared by the op fuzzers (fuzz_gemm.cpp, fuzz_attention.cpp): the cpu:0 device and a stream,
// host-side buffers with canaries around every operand, float64 element access for the three
// input dtypes, and the rule for a finding: a message on stderr, then abort() so libFuzzer
// records the input as a crash.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "half.h"
#include "xinhe/xinhe.h"

namespace xinhe_fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Frees the status; a finding unless its code is one of the allowed ones.
inline xinhe_status_code_t expect_code(xinhe_status_t status, const char* call,
                                       std::initializer_list<xinhe_status_code_t> allowed) {
  const xinhe_status_code_t code = xinhe_status_code(status);
  bool ok = false;
  for (xinhe_status_code_t a : allowed) ok = ok || a == code;
  if (!ok) {
    const std::string message = std::string(call) + " returned " + xinhe_status_code_name(code) +
                                ": " + xinhe_status_message(status);
    xinhe_status_free(status);
    finding(message);
  }
  xinhe_status_free(status);
  return code;
}

struct Cpu {
  xinhe_device_t device = nullptr;
  xinhe_stream_t stream = nullptr;
};

// The CPU device and one stream, made once per process (the registry lives until exit).
inline Cpu& cpu() {
  static Cpu cpu = [] {
    Cpu c;
    expect_code(xinhe_device_get_by_name("cpu:0", &c.device), "xinhe_device_get_by_name",
                {XINHE_STATUS_OK});
    expect_code(xinhe_stream_create(c.device, &c.stream), "xinhe_stream_create", {XINHE_STATUS_OK});
    return c;
  }();
  return cpu;
}

// Bytes around every operand that no run may touch.
constexpr uint64_t kCanaryBytes = 64;
constexpr unsigned char kCanary = 0xA5;

// One operand: device buffer of canary + extent + canary, mirrored on the host.
struct Operand {
  xinhe_buffer_t buffer = nullptr;
  std::vector<unsigned char> host;  // the whole buffer as uploaded
  uint64_t extent = 0;              // bytes of the operand itself
  Operand() = default;
  Operand(const Operand&) = delete;
  Operand& operator=(const Operand&) = delete;
  ~Operand() { xinhe_buffer_free(buffer); }

  // Allocates, fills the extent with fill(i) bytes and the canaries with kCanary, uploads.
  template <typename Fill>
  void make(uint64_t extent_bytes, Fill fill) {
    extent = extent_bytes;
    host.assign(extent + 2 * kCanaryBytes, kCanary);
    for (uint64_t i = 0; i < extent; ++i) host[kCanaryBytes + i] = fill(i);
    expect_code(xinhe_buffer_alloc(cpu().device, host.size(), 64, &buffer), "xinhe_buffer_alloc",
                {XINHE_STATUS_OK});
    expect_code(xinhe_copy_host_to_device(cpu().stream, buffer, 0, host.data(), host.size()),
                "xinhe_copy_host_to_device", {XINHE_STATUS_OK});
  }
  uint64_t offset() const { return kCanaryBytes; }
  unsigned char* data() { return host.data() + kCanaryBytes; }
  const unsigned char* data() const { return host.data() + kCanaryBytes; }
};

inline std::vector<unsigned char> download(const Operand& op) {
  std::vector<unsigned char> out(op.host.size());
  expect_code(xinhe_copy_device_to_host(cpu().stream, out.data(), op.buffer, 0, out.size()),
              "xinhe_copy_device_to_host", {XINHE_STATUS_OK});
  expect_code(xinhe_stream_synchronize(cpu().stream), "xinhe_stream_synchronize",
              {XINHE_STATUS_OK});
  return out;
}

inline void check_canaries(const std::vector<unsigned char>& after, const char* name) {
  for (uint64_t i = 0; i < kCanaryBytes; ++i) {
    if (after[i] != kCanary || after[after.size() - 1 - i] != kCanary) {
      finding(std::string("bytes around ") + name + " were written");
    }
  }
}

inline double load(xinhe_dtype_t dtype, const unsigned char* base, uint64_t index) {
  switch (dtype) {
    case XINHE_DTYPE_F16: {
      uint16_t h;
      std::memcpy(&h, base + index * 2, 2);
      return xinhe::kernels::f16_to_f32(h);
    }
    case XINHE_DTYPE_BF16: {
      uint16_t h;
      std::memcpy(&h, base + index * 2, 2);
      return xinhe::kernels::bf16_to_f32(h);
    }
    case XINHE_DTYPE_F64: {
      double f;
      std::memcpy(&f, base + index * 8, 8);
      return f;
    }
    default: {
      float f;
      std::memcpy(&f, base + index * 4, 4);
      return f;
    }
  }
}

// Random bytes that decode to values in about [-2, 2] for the dtype (never all zeros).
inline void fill_values(xinhe_dtype_t dtype, unsigned char* dst, uint64_t elements, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 12345u;
  for (uint64_t i = 0; i < elements; ++i) {
    state = state * 1664525u + 1013904223u;
    const float x = static_cast<float>((state >> 8) % 4001u) / 1000.0f - 2.0f;
    if (dtype == XINHE_DTYPE_F16) {
      const uint16_t h = xinhe::kernels::f32_to_f16(x);
      std::memcpy(dst + i * 2, &h, 2);
    } else if (dtype == XINHE_DTYPE_BF16) {
      const uint16_t h = xinhe::kernels::f32_to_bf16(x);
      std::memcpy(dst + i * 2, &h, 2);
    } else if (dtype == XINHE_DTYPE_F64) {
      const double d = x;
      std::memcpy(dst + i * 8, &d, 8);
    } else {
      std::memcpy(dst + i * 4, &x, 4);
    }
  }
}

// Either a small value in [lo, hi] or (rarely) one chosen to break size arithmetic.
inline int64_t size_value(FuzzedDataProvider& in, int64_t lo, int64_t hi) {
  static const int64_t kHostile[] = {-1,
                                     0,
                                     INT64_MAX,
                                     INT64_MAX - 1,
                                     INT64_MIN,
                                     int64_t{1} << 31,
                                     int64_t{1} << 32,
                                     (int64_t{1} << 32) - 1,
                                     int64_t{1} << 60,
                                     (int64_t{1} << 61) + 3,
                                     int64_t{1} << 62,
                                     INT64_MAX - 95};
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) return in.PickValueInArray(kHostile);
  return in.ConsumeIntegralInRange<int64_t>(lo, hi);
}

// Limits a run must stay within to be attempted: small operands only, so each input is fast.
constexpr uint64_t kMaxRunBytes = uint64_t{1} << 20;

}  // namespace xinhe_fuzz
