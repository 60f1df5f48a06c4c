// Query-honesty helpers for the op cases: see op_check.h.
#include "op_check.h"

namespace xinhe::conformance::detail {

CheckOutcome classify_check(xinhe_status_t status, const std::string& op_name) {
  CheckOutcome out;
  const xinhe_status_code_t code = xinhe_status_code(status);
  const std::string message = xinhe_status_message(status);
  xinhe_status_free(status);
  if (code == XINHE_STATUS_OK) return out;
  if (code != XINHE_STATUS_UNIMPLEMENTED)
    fail_now(op_name + " check returned " + xinhe_status_code_name(code) +
             " (only OK or UNIMPLEMENTED are allowed for a valid description): " + message);
  if (message.empty()) fail_now(op_name + " check returned UNIMPLEMENTED without a reason");
  out.supported = false;
  out.reason = message;
  return out;
}

CaseResult judge_unsupported(const Device& device, const std::string& full_name,
                             const std::vector<xinhe_dtype_t>& dtypes,
                             const std::string& check_reason, xinhe_status_t run_status) {
  const xinhe_status_code_t run_code = xinhe_status_code(run_status);
  const std::string run_message = xinhe_status_message(run_status);
  xinhe_status_free(run_status);
  if (run_code != XINHE_STATUS_UNIMPLEMENTED)
    return fail("check said UNIMPLEMENTED (" + check_reason + ") but run returned " +
                xinhe_status_code_name(run_code) + (run_message.empty() ? "" : ": " + run_message));
  if (run_message.empty()) return fail("run returned UNIMPLEMENTED without a reason");
  if (const KnownGap* gap = find_known_gap(device, full_name))
    return unsupported("documented gap (" + std::string(gap->reason) + "): " + check_reason);
  for (xinhe_dtype_t dtype : dtypes) {
    if (!claims_dtype(device, dtype))
      return unsupported(dtype_str(dtype) + " not claimed by the device: " + check_reason);
  }
  std::string claimed;
  for (xinhe_dtype_t dtype : dtypes) claimed += (claimed.empty() ? "" : "/") + dtype_str(dtype);
  CaseResult r = unsupported("declined shape of claimed " + claimed + ": " + check_reason);
  r.declined_dtypes = claimed;
  return r;
}

Buffer alloc_poisoned(const Device& device, const Stream& stream, uint64_t bytes,
                      xinhe_dtype_t dtype) {
  const uint32_t unit = poison_pattern_size(dtype);
  const uint64_t size = (bytes + unit - 1) / unit * unit;
  Buffer buffer = device.alloc(size);
  if (size) stream.fill(buffer, poison_pattern(dtype), unit, 0, size);
  return buffer;
}

std::vector<uint8_t> read_all(const Stream& stream, const Buffer& buffer) {
  std::vector<uint8_t> out(buffer.size());
  if (!out.empty()) stream.copy_to_host(out.data(), buffer, out.size());
  stream.synchronize();
  return out;
}

}  // namespace xinhe::conformance::detail
