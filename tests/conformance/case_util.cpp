// Shared helpers of the conformance cases: results, status checks, per-case seeds.
#include "case_util.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "half.h"

namespace xinhe::conformance::detail {

CaseResult pass(std::string detail) {
  CaseResult r;
  r.outcome = Outcome::kPass;
  r.detail = std::move(detail);
  return r;
}

CaseResult fail(std::string detail) {
  CaseResult r;
  r.outcome = Outcome::kFail;
  r.detail = std::move(detail);
  return r;
}

CaseResult unsupported(std::string detail) {
  CaseResult r;
  r.outcome = Outcome::kUnsupported;
  r.detail = std::move(detail);
  return r;
}

void fail_now(const std::string& message) { throw CaseFailure{message}; }

xinhe_status_code_t take_status(xinhe_status_t status, std::string* message) {
  const xinhe_status_code_t code = xinhe_status_code(status);
  if (message) {
    *message = xinhe_status_message(status);
    const std::string call = xinhe_status_call(status);
    if (!call.empty()) *message += " (in " + call + ")";
  }
  xinhe_status_free(status);
  return code;
}

void expect_code(xinhe_status_t status, xinhe_status_code_t want, const std::string& what) {
  expect_code(status, want, want, what);
}

void expect_code(xinhe_status_t status, xinhe_status_code_t want_a, xinhe_status_code_t want_b,
                 const std::string& what) {
  std::string message;
  const xinhe_status_code_t got = take_status(status, &message);
  if (got == want_a || got == want_b) return;
  std::string expected = xinhe_status_code_name(want_a);
  if (want_b != want_a) expected += " or " + std::string(xinhe_status_code_name(want_b));
  fail_now(what + ": expected " + expected + ", got " + xinhe_status_code_name(got) +
           (message.empty() ? "" : " (" + message + ")"));
}

Rng::Rng(const std::string& case_name) : test::Rng(base_seed() ^ test::hash_name(case_name)) {}

std::string dtype_str(xinhe_dtype_t dtype) { return xinhe_dtype_name(dtype); }

bool claims_dtype(const Device& device, xinhe_dtype_t dtype) {
  return (device.properties().dtype_caps & XINHE_DTYPE_CAP(dtype)) != 0;
}

const KnownGap* find_known_gap(const Device& device, const std::string& full_name) {
  const std::string backend = device.properties().backend;
  for (const KnownGap& gap : known_gaps()) {
    if (backend == gap.backend && full_name.find(gap.name_substring) != std::string::npos)
      return &gap;
  }
  return nullptr;
}

}  // namespace xinhe::conformance::detail
