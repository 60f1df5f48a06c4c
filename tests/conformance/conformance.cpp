// The case registry and the runner-side wrapper (timing, exceptions). The case lists live in
// runtime_cases.cpp, gemm_cases.cpp, attention_cases.cpp and op_contract_cases.cpp; they are
// gathered by explicit calls rather than static self-registration, which a static library would
// silently drop.
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>

#include "case_util.h"

namespace xinhe::conformance {

// Defined in the *_cases.cpp files.
void add_runtime_cases(std::vector<Case>& cases);
void add_gemm_cases(std::vector<Case>& cases);
void add_gemm_contract_cases(std::vector<Case>& cases);
void add_attention_cases(std::vector<Case>& cases);
void add_attention_contract_cases(std::vector<Case>& cases);
void add_sweep_cases(std::vector<Case>& cases);
void add_adversarial_cases(std::vector<Case>& cases);

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return "PASS";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kUnsupported:
      return "UNSUPPORTED";
  }
  return "?";
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> list;
    add_runtime_cases(list);
    add_gemm_cases(list);
    add_gemm_contract_cases(list);
    add_attention_cases(list);
    add_attention_contract_cases(list);
    add_sweep_cases(list);
    add_adversarial_cases(list);
    std::set<std::string> seen;
    for (const Case& c : list) {
      if (!seen.insert(c.full_name()).second)
        throw std::logic_error("duplicate conformance case name: " + c.full_name());
    }
    return list;
  }();
  return cases;
}

bool exhaustive() {
  static const bool wide = [] {
    const char* env = std::getenv("XINHE_CONFORM_EXHAUSTIVE");
    return env != nullptr && *env != '\0' && std::string(env) != "0";
  }();
  return wide;
}

uint64_t base_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("XINHE_CONFORM_SEED");
    if (env == nullptr || *env == '\0') return static_cast<uint64_t>(20240611);
    // strtoull alone took "abc" as 0 and "-5" as 2^64 - 5: a rerun with the seed a report
    // names must get exactly that seed, so anything but an unsigned number is refused.
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(env, &end, 0);
    if (env[0] < '0' || env[0] > '9' || *end != '\0' || errno == ERANGE) {
      throw std::invalid_argument(std::string("XINHE_CONFORM_SEED='") + env +
                                  "' is not an unsigned 64-bit number (decimal or 0x hex)");
    }
    return static_cast<uint64_t>(value);
  }();
  return seed;
}

const std::vector<KnownGap>& known_gaps() {
  // Gaps a backend documents, each with its reason. Empty: no backend has declared one, so any
  // UNIMPLEMENTED for a claimed dtype is a failure.
  static const std::vector<KnownGap> gaps = {};
  return gaps;
}

CaseResult run_case(const Case& c, const Device& device) {
  const auto start = std::chrono::steady_clock::now();
  CaseResult result;
  try {
    result = c.run(device);
  } catch (const detail::CaseFailure& failure) {
    result = detail::fail(failure.message);
  } catch (const Error& error) {
    result = detail::fail(std::string("unexpected error: ") + error.what());
  } catch (const std::exception& error) {
    result = detail::fail(std::string("unexpected exception: ") + error.what());
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace xinhe::conformance
