// GoogleTest runner of the conformance suite: at start-up, one test per (device, case) for
// every device of every loaded backend, named "<device>/<suite>.<case>" with the device's
// ':' turned into '_' (cpu:0 -> cpu_0/gemm.f16_f32.nt.81x145x64). UNSUPPORTED cases are
// reported as skipped with the device's reason; each backend that did not load gets one
// skipped test, backend_<name>.load, carrying its reason. XINHE_CONFORM_EXHAUSTIVE=1 selects the
// wide sweeps (see conformance.h). Under ctest every test is its own process, so a case that
// crashes a backend fails alone, under its own name.
#include "conformance.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

using xinhe::conformance::Case;
using xinhe::conformance::Outcome;

class ConformanceTest : public testing::Test {
 public:
  ConformanceTest(xinhe::Device device, const Case* c) : device_(device), case_(c) {}
  void TestBody() override {
    const xinhe::conformance::CaseResult r = xinhe::conformance::run_case(*case_, device_);
    if (r.tolerance > 0.0) {
      RecordProperty("max_error", std::to_string(r.max_error));
      RecordProperty("tolerance", std::to_string(r.tolerance));
    }
    switch (r.outcome) {
      case Outcome::kPass:
        std::printf("  %s (%.3f s)\n", r.detail.c_str(), r.seconds);
        break;
      case Outcome::kUnsupported:
        GTEST_SKIP() << "UNSUPPORTED: " << r.detail;
      case Outcome::kFail:
        ADD_FAILURE() << device_.name() << " " << case_->full_name() << ": " << r.detail;
        break;
    }
  }

 private:
  xinhe::Device device_;
  const Case* case_;
};

std::string test_suite_name(const std::string& device_name, const std::string& suite) {
  std::string s = device_name;
  for (char& ch : s)
    if (ch == ':') ch = '_';
  return s + "/" + suite;
}

// A backend that is listed but did not load: shown as a skipped test carrying the reason, so
// that ctest's output says why its devices are missing (not a failure: the machine may simply
// lack the driver).
class BackendNotLoaded : public testing::Test {
 public:
  explicit BackendNotLoaded(std::string why) : why_(std::move(why)) {}
  void TestBody() override { GTEST_SKIP() << why_; }

 private:
  std::string why_;
};

// A registry that cannot even be listed is a failure of its own, not an empty suite.
class RegistryFailure : public testing::Test {
 public:
  explicit RegistryFailure(std::string why) : why_(std::move(why)) {}
  void TestBody() override { FAIL() << why_; }

 private:
  std::string why_;
};

void register_all() {
  std::vector<xinhe::Device> devices;
  try {
    for (const xinhe::BackendInfo& b : xinhe::backends()) {
      if (b.loaded) continue;
      const std::string why = "backend " + b.name + " (" + b.path +
                              ") not loaded: " + xinhe_status_code_name(b.code) + ": " + b.reason;
      testing::RegisterTest(("backend_" + b.name).c_str(), "load", nullptr, nullptr, __FILE__,
                            __LINE__,
                            [why]() -> testing::Test* { return new BackendNotLoaded(why); });
    }
    devices = xinhe::Device::all();
  } catch (const std::exception& e) {
    const std::string why = e.what();
    testing::RegisterTest("registry", "enumerate", nullptr, nullptr, __FILE__, __LINE__,
                          [why]() -> testing::Test* { return new RegistryFailure(why); });
    return;
  }
  for (const xinhe::Device& device : devices) {
    for (const Case& c : xinhe::conformance::all_cases()) {
      const Case* cp = &c;
      testing::RegisterTest(test_suite_name(device.name(), c.suite).c_str(), c.name.c_str(),
                            nullptr, nullptr, __FILE__, __LINE__, [device, cp]() -> testing::Test* {
                              return new ConformanceTest(device, cp);
                            });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (!testing::GTEST_FLAG(list_tests)) {
    std::fprintf(stderr, "xinhe conformance: seed %llu (set XINHE_CONFORM_SEED to change)\n",
                 static_cast<unsigned long long>(xinhe::conformance::base_seed()));
  }
  register_all();
  return RUN_ALL_TESTS();
}
