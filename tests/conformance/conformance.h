// The xinhe conformance suite: one list of cases, written once against the public API and run
// on every device of every backend (built-in or plugin), after IREE's hal/cts. Runners (the
// GoogleTest binary, xinhe-conform) enumerate devices and call run_case() for each case.
//
// A case returns PASS, FAIL or UNSUPPORTED. UNSUPPORTED is only for what the device honestly
// declines: an op that check() rejects with UNIMPLEMENTED and a reason (the same at run, with
// the outputs untouched). Everything else that goes wrong is a FAIL with the reason in detail.
//
// Declining a shape of a dtype the device claims in dtype_caps is allowed (an NPU library has
// layout and head-dim limits: backend.h, "Declining"), and the case records the dtype in
// CaseResult::declined_dtypes. The honesty rule becomes a coverage figure per claimed dtype: the
// share of that dtype's op cases that ran every shape. xinhe-conform reports it, and turns a
// claim with no coverage at all (every case of the dtype declined) into FAILs: claiming a dtype
// the device never runs is still dishonest.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xinhe/xinhe.hpp"

namespace xinhe::conformance {

enum class Outcome { kPass, kFail, kUnsupported };

// "PASS", "FAIL", "UNSUPPORTED".
const char* outcome_name(Outcome outcome);

struct CaseResult {
  Outcome outcome = Outcome::kPass;
  double max_error = 0.0;  // numerics cases: normalized error (tests/support/numerics.h); else 0
  double tolerance = 0.0;  // numerics cases: the bound max_error was held to; else 0
  std::string detail;      // why it failed or is unsupported; seed and impl for numerics
  double seconds = 0.0;    // wall time of the case, filled by run_case()
  // Set when the device declined a shape of a dtype it claims ("f16", "f16/f32"): the case is
  // UNSUPPORTED (or, for a sweep, PASS on the shapes that ran) and counts against the dtype's
  // coverage (see the header comment).
  std::string declined_dtypes;
};

struct Case {
  std::string suite;  // "runtime", "gemm", "attention"
  std::string name;   // unique within the suite: "f16_f32.nt.81x145x64"
  std::function<CaseResult(const Device&)> run;

  std::string full_name() const { return suite + "." + name; }
};

// Every case, in a fixed order. Built on first call; thread-safe.
const std::vector<Case>& all_cases();

// Runs one case on one device: times it and turns an escaping xinhe::Error or std::exception
// into a FAIL with its message, so a runner never dies on one bad case.
CaseResult run_case(const Case& c, const Device& device);

// True when the sweeps go wider than the CI default (xinhe-conform --exhaustive, or
// XINHE_CONFORM_EXHAUSTIVE=1 for the GoogleTest runner). Read once, when all_cases() first
// builds the list; set it before that.
bool exhaustive();

// Seed of all random data: XINHE_CONFORM_SEED when set, else a fixed default, so runs are
// reproducible. Each case derives its own stream from this seed and its name.
uint64_t base_seed();

// A gap a backend documents (e.g. a device limit): cases whose full name contains
// name_substring on that backend report UNSUPPORTED rather than FAIL when check() declines.
struct KnownGap {
  const char* backend;
  const char* name_substring;
  const char* reason;
};
const std::vector<KnownGap>& known_gaps();

}  // namespace xinhe::conformance
