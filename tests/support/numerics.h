// The one numerics toolkit of xinhe's tests, tools and conformance suite (after ggml's single
// test_case and error measure): seeded random data in every dtype, NaN poison, the tolerance
// table per dtype, and the error measure against the float64 reference (kernels/reference).
// Needs no libxinhe, so plugin-level and kernel-level tests use it as well as the suite.
//
// The error measure: max |got - ref| / max |ref| over the checked elements (independent of the
// data's scale), held to the table value of the dtype the result is stored in, widened for long
// reductions because f32 accumulation error grows like sqrt(length):
//   f32 1e-4, f16 2e-3, bf16 1.6e-2, f64 1e-11, times max(1, sqrt(reduction_length / 256)).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "xinhe/ops.h"

namespace xinhe::test {

// ---- dtypes ----------------------------------------------------------------------------------

// Bytes per element (0 for an unknown dtype) and the short name ("f32", "bf16", "?").
size_t dtype_size(xinhe_dtype_t dtype);
const char* dtype_name(xinhe_dtype_t dtype);

// ---- Random data -----------------------------------------------------------------------------

// A seeded generator. uniform() never returns a value that rounds to zero in bf16, so no input
// element is zero (a zero would hide a missing term).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform();  // in [-1, 1], |v| >= 1/1024
  uint32_t bits32() { return static_cast<uint32_t>(engine_()); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

// FNV-1a of text: a stable per-case seed component (std::hash differs between libraries).
uint64_t hash_name(const std::string& text);

// ---- Poison ----------------------------------------------------------------------------------

// The quiet-NaN pattern written over outputs (and around operands) before a run, and its size
// in bytes (2 for f16/bf16, else 4): a kernel that leaves an element unwritten, or reads where
// it must not, produces NaN.
uint32_t poison_pattern(xinhe_dtype_t dtype);
uint32_t poison_pattern_size(xinhe_dtype_t dtype);
// Fills bytes with the pattern (whole patterns only).
void poison_bytes(xinhe_dtype_t dtype, void* bytes, size_t size);

// ---- Host arrays -----------------------------------------------------------------------------

// A host array in a stored dtype; bytes are what gets uploaded.
struct HostArray {
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  int64_t count = 0;
  std::vector<uint8_t> bytes;

  HostArray() = default;
  HostArray(xinhe_dtype_t dtype, int64_t count);
  // count elements, each Rng::uniform().
  static HostArray random(xinhe_dtype_t dtype, int64_t count, Rng& rng);
  size_t elem_size() const { return dtype_size(dtype); }
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  double get(int64_t i) const;
  void set(int64_t i, double v);  // rounded to dtype, to nearest even
  void randomize(Rng& rng);       // every element Rng::uniform()
  void poison();                  // every element the poison pattern
  bool is_poison(int64_t i) const;
};

// ---- Tolerances and error (defined once) -----------------------------------------------------

double tolerance(xinhe_dtype_t stored_dtype, int64_t reduction_length);
// Half an ulp of 1 in dtype (f32 2^-24, f16 2^-11, bf16 2^-8, f64 2^-53): the normalized error
// of a result that is exact but for its final rounding, for oracles that compute in double
// (the fake vendor libraries) where the tolerance table would hide real mistakes.
double unit_roundoff(xinhe_dtype_t stored_dtype);

// A per-element bound, far tighter than the table, for a result accumulated in f32 from
// products of its stored inputs (which f32 holds exactly): |got - ref| may be
//   8 * 2^-24 * sqrt(reduction_length + 1) * magnitude      (f32 accumulation, ~ sqrt(length))
//   + 1.01 * unit_roundoff(stored_dtype) * |ref|            (the final rounding; 0 for f32)
// where magnitude is the largest |alpha| sum |a b| + |beta c| over the results compared. On
// random inputs it is far below one product, so a dropped, repeated or misplaced product fails
// it. For f32 accumulation of exact products (the CPU kernels, one MFMA); matrix units that may
// round inside a dot product are held to the table instead.
double f32_accumulation_bound(xinhe_dtype_t stored_dtype, int64_t reduction_length,
                              double magnitude, double ref);

// The same idea as a bound on ErrorStats::normalized() (the one error measure), where the
// per-element magnitude is not at hand: for kernels known to accumulate in f32 (or wider) and
// round once on store, as the OpenCL kernels do, four roundings of the stored result plus f32
// accumulation error growing like sqrt(reduction_length),
//   4 unit_roundoff(stored_dtype) + 32 unit_roundoff(f32) sqrt(reduction_length + 1),
// never looser than tolerance(). The table leaves room for backends that accumulate otherwise;
// a backend's own kernel tests and its tuner use this one so that room hides no mistake.
double f32_accumulation_tolerance(xinhe_dtype_t stored_dtype, int64_t reduction_length);

// Accumulates the error of results against the reference. NaN or Inf where the reference is
// finite counts as infinite error; an infinite reference matched exactly counts as 0 (the LSE
// of a row that sees no key is -inf).
struct ErrorStats {
  double max_abs = 0.0;  // max |got - ref|
  double max_ref = 0.0;  // max |ref| over finite references
  int64_t worst_index = -1;
  void add(double got, double ref, int64_t index);
  // max_abs / max_ref (absolute when every reference is 0); infinite for a non-finite error.
  double normalized() const;
};

// A number for a message, in %g form (std::to_string prints 3e-7 as 0.000000).
std::string num(double value);

}  // namespace xinhe::test
