// Checked size arithmetic for every layer (core, kernels, backends): sizes, stride products and
// workspaces are computed through these helpers, so a hostile description turns into "does not
// fit" instead of a wrapped size and a buffer overrun. Header-only: plugins use it without
// linking libxinhe.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

namespace xinhe::util {

// *out = a * b; false (and *out untouched) when the product does not fit in T.
template <typename T>
inline bool mul_ok(T a, T b, T* out) {
  static_assert(std::is_integral_v<T>, "integers only");
  T r;
  if (__builtin_mul_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

// *out = a + b; false when the sum does not fit in T.
template <typename T>
inline bool add_ok(T a, T b, T* out) {
  static_assert(std::is_integral_v<T>, "integers only");
  T r;
  if (__builtin_add_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}

// ceil(a / b) for a >= 0, b > 0, without the overflow of (a + b - 1) / b.
template <typename T>
inline T ceil_div_safe(T a, T b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

// A uint64 size built from checked steps; once a step overflows it stays invalid.
//   CheckedSize s = CheckedSize(threads) * floats * 4 + 64;  if (!s.ok()) ...
class CheckedSize {
 public:
  constexpr CheckedSize() = default;
  constexpr explicit CheckedSize(uint64_t v) : value_(v) {}
  // Negative inputs make the size invalid (a size is never negative).
  static CheckedSize of(int64_t v) {
    CheckedSize s;
    if (v < 0) {
      s.ok_ = false;
    } else {
      s.value_ = static_cast<uint64_t>(v);
    }
    return s;
  }
  bool ok() const { return ok_; }
  uint64_t value() const { return value_; }
  // The value, or fallback when the arithmetic overflowed.
  uint64_t value_or(uint64_t fallback) const { return ok_ ? value_ : fallback; }

  friend CheckedSize operator*(CheckedSize a, CheckedSize b) {
    CheckedSize r;
    r.ok_ = a.ok_ && b.ok_ && mul_ok(a.value_, b.value_, &r.value_);
    return r;
  }
  friend CheckedSize operator+(CheckedSize a, CheckedSize b) {
    CheckedSize r;
    r.ok_ = a.ok_ && b.ok_ && add_ok(a.value_, b.value_, &r.value_);
    return r;
  }
  friend CheckedSize operator*(CheckedSize a, uint64_t b) { return a * CheckedSize(b); }
  friend CheckedSize operator+(CheckedSize a, uint64_t b) { return a + CheckedSize(b); }

 private:
  uint64_t value_ = 0;
  bool ok_ = true;
};

// What a workspace_size function returns when the size cannot be represented: callers treat
// it as "this implementation cannot run the description" (never as a byte count).
inline constexpr uint64_t kSizeOverflow = std::numeric_limits<uint64_t>::max();

}  // namespace xinhe::util
