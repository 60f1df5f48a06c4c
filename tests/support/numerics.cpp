// The numerics toolkit of numerics.h.
#include "numerics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "half.h"

namespace xinhe::test {

size_t dtype_size(xinhe_dtype_t dtype) {
  switch (dtype) {
    case XINHE_DTYPE_F32:
      return 4;
    case XINHE_DTYPE_F16:
    case XINHE_DTYPE_BF16:
      return 2;
    case XINHE_DTYPE_F64:
      return 8;
    default:
      return 0;
  }
}

const char* dtype_name(xinhe_dtype_t dtype) {
  switch (dtype) {
    case XINHE_DTYPE_F32:
      return "f32";
    case XINHE_DTYPE_F16:
      return "f16";
    case XINHE_DTYPE_BF16:
      return "bf16";
    case XINHE_DTYPE_F64:
      return "f64";
    default:
      return "?";
  }
}

double Rng::uniform() {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  double v = 0.0;
  // Reject values that round to zero in bf16 (the coarsest dtype) so no element is zero.
  while (std::fabs(v) < 1.0 / 1024) v = dist(engine_);
  return v;
}

uint64_t hash_name(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

uint32_t poison_pattern(xinhe_dtype_t dtype) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      return 0x7e00u;  // quiet NaN
    case XINHE_DTYPE_BF16:
      return 0x7fc0u;
    default:
      return 0x7fc00000u;  // f32 quiet NaN
  }
}

uint32_t poison_pattern_size(xinhe_dtype_t dtype) {
  return dtype == XINHE_DTYPE_F16 || dtype == XINHE_DTYPE_BF16 ? 2u : 4u;
}

void poison_bytes(xinhe_dtype_t dtype, void* bytes, size_t size) {
  const uint32_t pattern = poison_pattern(dtype);
  const size_t n = poison_pattern_size(dtype);
  auto* out = static_cast<uint8_t*>(bytes);
  for (size_t off = 0; off + n <= size; off += n) std::memcpy(out + off, &pattern, n);
}

HostArray::HostArray(xinhe_dtype_t dtype_, int64_t count_)
    : dtype(dtype_), count(count_), bytes(static_cast<size_t>(count_) * dtype_size(dtype_)) {}

double HostArray::get(int64_t i) const {
  const uint8_t* p = bytes.data() + static_cast<size_t>(i) * elem_size();
  switch (dtype) {
    case XINHE_DTYPE_F32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case XINHE_DTYPE_F16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return kernels::f16_to_f32(h);
    }
    case XINHE_DTYPE_BF16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return kernels::bf16_to_f32(h);
    }
    case XINHE_DTYPE_F64: {
      double d;
      std::memcpy(&d, p, 8);
      return d;
    }
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

void HostArray::set(int64_t i, double v) {
  uint8_t* p = bytes.data() + static_cast<size_t>(i) * elem_size();
  switch (dtype) {
    case XINHE_DTYPE_F32: {
      const float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      break;
    }
    case XINHE_DTYPE_F16: {
      const uint16_t h = kernels::f32_to_f16(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case XINHE_DTYPE_BF16: {
      const uint16_t h = kernels::f32_to_bf16(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case XINHE_DTYPE_F64:
      std::memcpy(p, &v, 8);
      break;
    default:
      break;
  }
}

HostArray HostArray::random(xinhe_dtype_t dtype, int64_t count, Rng& rng) {
  HostArray array(dtype, count);
  array.randomize(rng);
  return array;
}

void HostArray::randomize(Rng& rng) {
  for (int64_t i = 0; i < count; ++i) set(i, rng.uniform());
}

void HostArray::poison() { poison_bytes(dtype, bytes.data(), bytes.size()); }

bool HostArray::is_poison(int64_t i) const {
  const uint32_t pattern = poison_pattern(dtype);
  return std::memcmp(bytes.data() + static_cast<size_t>(i) * elem_size(), &pattern,
                     poison_pattern_size(dtype)) == 0;
}

double tolerance(xinhe_dtype_t stored_dtype, int64_t reduction_length) {
  double base = 1e-4;
  switch (stored_dtype) {
    case XINHE_DTYPE_F16:
      base = 2e-3;
      break;
    case XINHE_DTYPE_BF16:
      base = 1.6e-2;
      break;
    case XINHE_DTYPE_F64:
      base = 1e-11;  // f64 accumulation; an f32 result is ~1e-7 off and fails
      break;
    default:
      break;
  }
  return base * std::max(1.0, std::sqrt(static_cast<double>(reduction_length) / 256.0));
}

double unit_roundoff(xinhe_dtype_t stored_dtype) {
  switch (stored_dtype) {
    case XINHE_DTYPE_F16:
      return std::ldexp(1.0, -11);
    case XINHE_DTYPE_BF16:
      return std::ldexp(1.0, -8);
    case XINHE_DTYPE_F64:
      return std::ldexp(1.0, -53);
    default:
      return std::ldexp(1.0, -24);
  }
}

double f32_accumulation_bound(xinhe_dtype_t stored_dtype, int64_t reduction_length,
                              double magnitude, double ref) {
  const double accumulation = 8.0 * unit_roundoff(XINHE_DTYPE_F32) *
                              std::sqrt(static_cast<double>(reduction_length) + 1.0) * magnitude;
  const double rounding =
      stored_dtype == XINHE_DTYPE_F32 ? 0.0 : 1.01 * unit_roundoff(stored_dtype) * std::fabs(ref);
  return accumulation + rounding;
}

double f32_accumulation_tolerance(xinhe_dtype_t stored_dtype, int64_t reduction_length) {
  const double length = static_cast<double>(std::max<int64_t>(reduction_length, 0)) + 1.0;
  const double bound =
      4.0 * unit_roundoff(stored_dtype) + 32.0 * unit_roundoff(XINHE_DTYPE_F32) * std::sqrt(length);
  return std::min(bound, tolerance(stored_dtype, reduction_length));
}

void ErrorStats::add(double got, double ref, int64_t index) {
  double err;
  if (std::isinf(ref) && got == ref) {
    err = 0.0;  // e.g. LSE of a row that sees no key: -inf is the exact answer
  } else if (!std::isfinite(got) || !std::isfinite(ref)) {
    err = std::numeric_limits<double>::infinity();
  } else {
    err = std::fabs(got - ref);
    max_ref = std::max(max_ref, std::fabs(ref));
  }
  if (worst_index < 0 || err > max_abs) {
    max_abs = err;
    worst_index = index;
  }
}

double ErrorStats::normalized() const {
  if (!std::isfinite(max_abs)) return std::numeric_limits<double>::infinity();
  // All-zero references occur (k == 0 with beta == 0, rows that see no key): then the error
  // is absolute, which for an exact-zero expectation is the right measure.
  return max_abs / (max_ref > 0.0 ? max_ref : 1.0);
}

std::string num(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace xinhe::test
