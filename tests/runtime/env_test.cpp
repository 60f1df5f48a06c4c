// Environment scenarios. The registry reads XINHE_BACKEND_PATH once per process, so each suite
// here is one scenario, run by ctest in its own process with the environment it needs (see
// tests/runtime/CMakeLists.txt: --gtest_filter=<Suite>.* plus ENVIRONMENT). Every test first
// asserts that its environment is really set, so a scenario run without it fails loudly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "test_util.h"

namespace {

using xinhe_test::StatusPtr;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// XINHE_DEVICE=cpu:0 with the test plugins present: the override beats the rule that would
// pick fake:0.
TEST(EnvDeviceOverride, NamedDeviceWins) {
  ASSERT_EQ(env("XINHE_DEVICE"), "cpu:0");
  ASSERT_NE(env("XINHE_BACKEND_PATH"), "");
  xinhe_device_t fake = xinhe_test::device_named("fake:0");
  ASSERT_NE(fake, nullptr);
  xinhe_device_t device = nullptr;
  XH_ASSERT_OK(xinhe_device_get_default(&device));
  EXPECT_STREQ(xinhe_device_name(device), "cpu:0");
}

// XINHE_DEVICE names nothing: an error, not a silent fallback.
TEST(EnvDeviceUnknown, IsNotFoundAndListsDevices) {
  ASSERT_EQ(env("XINHE_DEVICE"), "npu:3");
  xinhe_device_t device = nullptr;
  xinhe_status_t status = xinhe_device_get_default(&device);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_NOT_FOUND);
  EXPECT_STREQ(xinhe_status_call(status), "xinhe_device_get_default");
  const std::string message = xinhe_test::take_message(status);
  EXPECT_NE(message.find("npu:3"), std::string::npos) << message;
  EXPECT_NE(message.find("cpu:0"), std::string::npos) << message;
  EXPECT_EQ(device, nullptr);
}

// XINHE_BACKEND_PATH with empty items and a missing folder: ignored, nothing breaks.
TEST(EnvBadPluginPath, MissingFoldersAreIgnored) {
  ASSERT_NE(env("XINHE_BACKEND_PATH").find("/nonexistent"), std::string::npos);
  size_t count = 0;
  XH_ASSERT_OK(xinhe_backend_count(&count));
  EXPECT_GE(count, 1u);
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  EXPECT_NE(cpu, nullptr);
}

// XINHE_VERBOSE="dispatch, load" prints one load decision per backend, naming broken plugins and why.
TEST(EnvVerboseLoad, PrintsEachLoadDecision) {
  ASSERT_EQ(env("XINHE_VERBOSE"), "dispatch, load");  // spaces are tolerated
  ::testing::internal::CaptureStderr();
  size_t count = 0;
  StatusPtr status(xinhe_backend_count(&count));
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(status, nullptr);
  EXPECT_NE(log.find("xinhe[load] cpu: loaded"), std::string::npos) << log;
  EXPECT_NE(log.find("xinhe[load] fake: loaded"), std::string::npos) << log;
  EXPECT_NE(log.find("plugin ABI 2.0, core supports 1.x"), std::string::npos) << log;
  EXPECT_NE(log.find("missing required entry 'op_run'"), std::string::npos) << log;
}

}  // namespace
