// Helpers shared by the conformance cases (internal to tests/conformance): results, status-code
// checks on raw C calls, and the per-case seeding; random data in every dtype, NaN poison, the
// per-dtype tolerance table and the error measure are tests/support's (numerics.h).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "conformance.h"
#include "numerics.h"

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

// ---- Data, poison, tolerances: tests/support/numerics.h, shared with every test ------------

using test::ErrorStats;
using test::HostArray;
using test::num;
using test::poison_pattern;
using test::poison_pattern_size;
using test::tolerance;

// One generator per case, seeded from base_seed() and the case's full name: a case's data
// does not depend on which other cases ran, and base_seed() alone reproduces every case.
class Rng : public test::Rng {
 public:
  explicit Rng(const std::string& case_name);
};

inline void accumulate_error(ErrorStats& stats, double got, double ref, int64_t index) {
  stats.add(got, ref, index);
}

// "f32", "f16", "bf16".
std::string dtype_str(xinhe_dtype_t dtype);

// True when the device claims ops in dtype (dtype_caps).
bool claims_dtype(const Device& device, xinhe_dtype_t dtype);
// The documented gap that covers this case on this device, or nullptr.
const KnownGap* find_known_gap(const Device& device, const std::string& full_name);

}  // namespace xinhe::conformance::detail
