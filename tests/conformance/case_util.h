// Helpers shared by the conformance cases (internal to tests/conformance): seeded random data
// in every dtype, NaN poison patterns, the per-dtype tolerance table, error measurement
// against the float64 reference, and status-code checks on raw C calls.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "conformance.h"

namespace xinhe::conformance::detail {

// ---- Results ---------------------------------------------------------------------------------

CaseResult pass(std::string detail = {});
CaseResult fail(std::string detail);
CaseResult unsupported(std::string detail);

// Thrown by REQUIRE-style helpers to end a case with a FAIL; run_case() catches it.
struct CaseFailure {
  std::string message;
};
[[noreturn]] void fail_now(const std::string& message);

// Takes ownership of status; returns its code (OK for NULL) and stores the message.
xinhe_status_code_t take_status(xinhe_status_t status, std::string* message = nullptr);
// FAIL unless status is an error with the expected code (either of two codes).
void expect_code(xinhe_status_t status, xinhe_status_code_t want, const std::string& what);
void expect_code(xinhe_status_t status, xinhe_status_code_t want_a, xinhe_status_code_t want_b,
                 const std::string& what);

// ---- Random data -----------------------------------------------------------------------------

// One generator per case, seeded from base_seed() and the case's full name: a case's data
// does not depend on which other cases ran, and base_seed() alone reproduces every case.
class Rng {
 public:
  explicit Rng(const std::string& case_name);
  // Uniform in [-1, 1] and never exactly zero (a zero input would hide missing terms).
  double uniform();
  uint32_t bits32() { return static_cast<uint32_t>(engine_()); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

// A host array in a stored dtype; the bytes are what gets uploaded.
struct HostArray {
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  int64_t count = 0;
  std::vector<uint8_t> bytes;

  HostArray() = default;
  HostArray(xinhe_dtype_t dtype, int64_t count);
  size_t elem_size() const { return xinhe_dtype_size(dtype); }
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  double get(int64_t i) const;
  void set(int64_t i, double v);
  // Every element random uniform [-1, 1], rounded to dtype.
  void randomize(Rng& rng);
  // Every element the NaN poison pattern of dtype.
  void poison();
  bool is_poison(int64_t i) const;
};

// The NaN pattern written over outputs before a run, and its size in bytes (2 or 4).
uint32_t poison_pattern(xinhe_dtype_t dtype);
uint32_t poison_pattern_size(xinhe_dtype_t dtype);

// ---- Tolerances (defined once) ---------------------------------------------------------------
//
// Errors are normalized: max |out - ref| / max |ref| over the checked elements (so the bound
// is independent of the data's scale). The bound is the table value of the dtype the result is
// stored in, widened for long reductions because f32 accumulation error grows like sqrt(k):
//   f32 1e-4, f16 2e-3, bf16 1.6e-2, f64 1e-11, times max(1, sqrt(reduction_length / 256)).
double tolerance(xinhe_dtype_t stored_dtype, int64_t reduction_length);

// Normalized error of got (stored dtype) against ref (float64) at the given element indices
// of got and ref. NaN or inf where ref is finite counts as infinite error.
struct ErrorStats {
  double max_abs = 0.0;  // max |got - ref|
  double max_ref = 0.0;  // max |ref|
  int64_t worst_index = -1;
  double normalized() const;
};
void accumulate_error(ErrorStats& stats, double got, double ref, int64_t index);

// "f32", "f16", "bf16".
std::string dtype_str(xinhe_dtype_t dtype);
// A number for a message, in %g form (std::to_string prints 3e-7 as 0.000000).
std::string num(double value);

// True when the device claims ops in dtype (dtype_caps).
bool claims_dtype(const Device& device, xinhe_dtype_t dtype);
// The documented gap that covers this case on this device, or nullptr.
const KnownGap* find_known_gap(const Device& device, const std::string& full_name);

}  // namespace xinhe::conformance::detail
