// The registry without test plugins: the built-in CPU backend, device lookup by index and
// name, the default-device rule, and concurrent first use (run under TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "xinhe/backend.h"  // XINHE_BACKEND_ABI_MAJOR

namespace {

using xinhe_test::StatusPtr;

xinhe_backend_info_t backend_info(size_t index) {
  xinhe_backend_info_t info;
  std::memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  StatusPtr status(xinhe_backend_info(index, &info));
  EXPECT_EQ(status, nullptr) << xinhe_status_message(status.get());
  return info;
}

// Runs first in this binary: many threads race to build the registry.
TEST(Registry, ConcurrentFirstUseSeesOneRegistry) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<xinhe_device_t> seen(kThreads, nullptr);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &seen, &failures] {
      xinhe_device_t device = nullptr;
      xinhe_status_t status = xinhe_device_get_by_name("cpu:0", &device);
      if (status != nullptr) ++failures;
      xinhe_status_free(status);
      seen[t] = device;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[0]);
  EXPECT_NE(seen[0], nullptr);
}

TEST(Registry, CpuBackendIsFirstAndLoaded) {
  size_t count = 0;
  XH_ASSERT_OK(xinhe_backend_count(&count));
  ASSERT_GE(count, 1u);
  const xinhe_backend_info_t info = backend_info(0);
  EXPECT_STREQ(info.name, "cpu");
  EXPECT_STREQ(info.path, "");
  EXPECT_EQ(info.loaded, 1) << info.reason;
  EXPECT_STREQ(info.reason, "");
  EXPECT_EQ(info.code, XINHE_STATUS_OK);
  EXPECT_EQ(info.abi_major, XINHE_BACKEND_ABI_MAJOR);
  EXPECT_GE(info.device_count, 1u);
}

TEST(Registry, BackendInfoOutOfRangeAndBadStruct) {
  size_t count = 0;
  XH_ASSERT_OK(xinhe_backend_count(&count));
  xinhe_backend_info_t info;
  std::memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  XH_EXPECT_CODE(xinhe_backend_info(count, &info), XINHE_STATUS_NOT_FOUND);
  info.struct_size = sizeof(info) - 1;
  XH_EXPECT_INVALID(xinhe_backend_info(0, &info));
  XH_EXPECT_INVALID(xinhe_backend_info(0, nullptr));
  XH_EXPECT_INVALID(xinhe_backend_count(nullptr));
}

TEST(Registry, Cpu0ByNameAndByIndex) {
  xinhe_device_t by_name = nullptr;
  XH_ASSERT_OK(xinhe_device_get_by_name("cpu:0", &by_name));
  ASSERT_NE(by_name, nullptr);
  EXPECT_STREQ(xinhe_device_name(by_name), "cpu:0");

  size_t count = 0;
  XH_ASSERT_OK(xinhe_device_count(&count));
  ASSERT_GE(count, 1u);
  xinhe_device_t first = nullptr;
  XH_ASSERT_OK(xinhe_device_get(0, &first));
  EXPECT_EQ(first, by_name);  // the CPU backend is loaded first

  xinhe_device_t untouched = by_name;
  XH_EXPECT_CODE(xinhe_device_get(count, &untouched), XINHE_STATUS_NOT_FOUND);
  EXPECT_EQ(untouched, by_name);
  XH_EXPECT_INVALID(xinhe_device_get(0, nullptr));
  XH_EXPECT_INVALID(xinhe_device_count(nullptr));
}

TEST(Registry, UnknownNameIsNotFoundAndListsDevices) {
  xinhe_device_t device = nullptr;
  xinhe_status_t status = xinhe_device_get_by_name("tpu:9", &device);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_NOT_FOUND);
  const std::string message = xinhe_test::take_message(status);
  EXPECT_NE(message.find("tpu:9"), std::string::npos) << message;
  EXPECT_NE(message.find("cpu:0"), std::string::npos) << message;
  EXPECT_EQ(device, nullptr);
  XH_EXPECT_INVALID(xinhe_device_get_by_name(nullptr, &device));
  XH_EXPECT_INVALID(xinhe_device_get_by_name("cpu:0", nullptr));
  XH_EXPECT_CODE(xinhe_device_get_by_name("cpu:1000", &device), XINHE_STATUS_NOT_FOUND);
  XH_EXPECT_CODE(xinhe_device_get_by_name("", &device), XINHE_STATUS_NOT_FOUND);
}

xinhe_device_properties_t properties_of(xinhe_device_t device) {
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  StatusPtr status(xinhe_device_properties(device, &props));
  EXPECT_EQ(status, nullptr) << xinhe_status_message(status.get());
  return props;
}

// Without XINHE_DEVICE the rule of runtime.h applies: the first accelerator by device type
// (cuda, hip, level_zero, other plugins, opencl), else cpu:0. Recomputed here from the device
// list, since the build tree's plugin folder may hold real plugins: in CI only the OpenCL plugin
// loads, on PoCL's CPU device, so the default must be cpu:0.
TEST(Registry, DefaultDeviceIsTheFirstAcceleratorElseCpu0) {
  size_t count = 0;
  XH_ASSERT_OK(xinhe_device_count(&count));
  auto rank = [](const std::string& backend) {
    if (backend == "cuda") return 0;
    if (backend == "hip") return 1;
    if (backend == "level_zero") return 2;
    if (backend == "opencl") return 4;
    return 3;
  };
  std::string expected = "cpu:0";
  int best = 99;
  for (size_t i = 0; i < count; ++i) {
    xinhe_device_t device = nullptr;
    XH_ASSERT_OK(xinhe_device_get(i, &device));
    const xinhe_device_properties_t props = properties_of(device);
    const bool accelerator = props.device_type == XINHE_DEVICE_TYPE_GPU ||
                             props.device_type == XINHE_DEVICE_TYPE_NPU ||
                             props.device_type == XINHE_DEVICE_TYPE_ACCELERATOR;
    if (accelerator && rank(props.backend) < best) {
      best = rank(props.backend);
      expected = props.name;
    }
  }
  xinhe_device_t device = nullptr;
  XH_ASSERT_OK(xinhe_device_get_default(&device));
  EXPECT_EQ(expected, xinhe_device_name(device));
  XH_EXPECT_INVALID(xinhe_device_get_default(nullptr));
}

// PoCL runs on the host's cores: its OpenCL device is a CPU (CL_DEVICE_TYPE_CPU), never an
// accelerator that would take the default from cpu:0.
TEST(Registry, OpenclCpuDevicesAreCpus) {
  size_t count = 0;
  XH_ASSERT_OK(xinhe_device_count(&count));
  int checked = 0;
  for (size_t i = 0; i < count; ++i) {
    xinhe_device_t device = nullptr;
    XH_ASSERT_OK(xinhe_device_get(i, &device));
    const xinhe_device_properties_t props = properties_of(device);
    if (std::string(props.backend) != "opencl" ||
        std::string(props.driver_version).find("Portable Computing Language") == std::string::npos)
      continue;
    EXPECT_EQ(props.device_type, uint32_t{XINHE_DEVICE_TYPE_CPU}) << props.name;
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no PoCL device in this build tree";
}

TEST(Registry, DeviceTypeNames) {
  EXPECT_STREQ(xinhe_device_type_name(XINHE_DEVICE_TYPE_UNKNOWN), "unknown");
  EXPECT_STREQ(xinhe_device_type_name(XINHE_DEVICE_TYPE_CPU), "cpu");
  EXPECT_STREQ(xinhe_device_type_name(XINHE_DEVICE_TYPE_GPU), "gpu");
  EXPECT_STREQ(xinhe_device_type_name(XINHE_DEVICE_TYPE_NPU), "npu");
  EXPECT_STREQ(xinhe_device_type_name(XINHE_DEVICE_TYPE_ACCELERATOR), "accelerator");
  EXPECT_STREQ(xinhe_device_type_name(static_cast<xinhe_device_type_t>(77)), "unknown");
}

// A caller built against 0.1.0 passes the struct without device_type: it gets the fields it
// knows and nothing is written past them.
TEST(Registry, PropertiesOfAnOlderCallerStopAtItsStructSize) {
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  ASSERT_NE(cpu, nullptr);
  constexpr size_t kOld = XINHE_DEVICE_PROPERTIES_SIZE_V0_1;
  std::vector<unsigned char> bytes(sizeof(xinhe_device_properties_t) + 16, 0xab);
  auto* props = reinterpret_cast<xinhe_device_properties_t*>(bytes.data());
  std::memset(props, 0, kOld);
  props->struct_size = kOld;
  XH_ASSERT_OK(xinhe_device_properties(cpu, props));
  EXPECT_EQ(props->struct_size, kOld);
  EXPECT_STREQ(props->name, "cpu:0");
  for (size_t i = kOld; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], 0xab) << "byte " << i;
  // Smaller than 0.1.0's struct is an error, as before.
  props->struct_size = kOld - 8;
  XH_EXPECT_INVALID(xinhe_device_properties(cpu, props));
  EXPECT_EQ(properties_of(cpu).device_type, uint32_t{XINHE_DEVICE_TYPE_CPU});
}

TEST(Registry, DeviceNameOfNullIsEmpty) { EXPECT_STREQ(xinhe_device_name(nullptr), ""); }

TEST(Registry, LoadRejectsBadArguments) {
  size_t index = 12345;
  XH_EXPECT_INVALID(xinhe_backend_load(nullptr, &index));
  XH_EXPECT_INVALID(xinhe_backend_load("", &index));
  XH_EXPECT_INVALID(xinhe_backend_load("/nonexistent/libxinhe_backend_x.so", nullptr));
  EXPECT_EQ(index, 12345u);
}

TEST(Registry, LoadOfMissingFileIsUnavailableAndListed) {
  size_t before = 0;
  XH_ASSERT_OK(xinhe_backend_count(&before));
  size_t index = 12345;
  xinhe_status_t status = xinhe_backend_load("/nonexistent/libxinhe_backend_ghost.so", &index);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_UNAVAILABLE);
  const std::string message = xinhe_test::take_message(status);
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;
  EXPECT_EQ(index, 12345u);
  size_t after = 0;
  XH_ASSERT_OK(xinhe_backend_count(&after));
  ASSERT_EQ(after, before + 1);
  const xinhe_backend_info_t info = backend_info(before);
  EXPECT_EQ(info.loaded, 0);
  EXPECT_STREQ(info.name, "ghost");
  EXPECT_NE(std::string(info.reason).find("cannot open"), std::string::npos) << info.reason;
  // The same path again gives the same entry, not a new one.
  XH_EXPECT_CODE(xinhe_backend_load("/nonexistent/libxinhe_backend_ghost.so", &index),
                 XINHE_STATUS_UNAVAILABLE);
  XH_ASSERT_OK(xinhe_backend_count(&after));
  EXPECT_EQ(after, before + 1);
}

TEST(Registry, PropertiesOfCpu0) {
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  ASSERT_NE(cpu, nullptr);
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  XH_ASSERT_OK(xinhe_device_properties(cpu, &props));
  EXPECT_STREQ(props.name, "cpu:0");
  EXPECT_STREQ(props.backend, "cpu");
  EXPECT_NE(props.flags & XINHE_DEVICE_FLAG_HOST_MEMORY, 0u);
  EXPECT_GE(props.min_alignment, 1u);
  EXPECT_EQ(props.min_alignment & (props.min_alignment - 1), 0u);
  EXPECT_NE(props.dtype_caps & XINHE_DTYPE_CAP(XINHE_DTYPE_F32), 0u);
}

}  // namespace
