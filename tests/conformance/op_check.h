// The query-honesty protocol shared by the op cases (internal to tests/conformance):
// check() first; a supported op must run and match the reference; an unsupported one must say
// UNIMPLEMENTED with a reason at check and at run, leave its outputs alone, and may only be
// unsupported for a dtype the device does not claim (or a documented gap).
#pragma once

#include <string>
#include <vector>

#include "case_util.h"

namespace xinhe::conformance::detail {

// Status of a check() call: OK, or UNIMPLEMENTED with a non-empty reason. Any other code, or
// an empty reason, ends the case with a FAIL.
struct CheckOutcome {
  bool supported = true;
  std::string reason;
};
CheckOutcome classify_check(xinhe_status_t status, const std::string& op_name);

// After a declined run: the run status must repeat UNIMPLEMENTED with a reason (FAIL
// otherwise); returns UNSUPPORTED, with declined_dtypes set when the device claims every dtype
// in dtypes and no known gap covers the case (a declined shape of a claimed dtype, which counts
// against its coverage).
CaseResult judge_unsupported(const Device& device, const std::string& full_name,
                             const std::vector<xinhe_dtype_t>& dtypes,
                             const std::string& check_reason, xinhe_status_t run_status);

// Allocates a buffer of `bytes` and poisons it whole with dtype's NaN pattern (bytes is
// rounded up to the pattern size).
Buffer alloc_poisoned(const Device& device, const Stream& stream, uint64_t bytes,
                      xinhe_dtype_t dtype);

// Reads a whole buffer back (synchronizes the stream).
std::vector<uint8_t> read_all(const Stream& stream, const Buffer& buffer);

}  // namespace xinhe::conformance::detail
