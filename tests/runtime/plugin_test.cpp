// Plugin loading against the test plugins of tests/plugins/, which ctest puts in
// XINHE_BACKEND_PATH (XINHE_TEST_PLUGIN_DIR is the same folder, compiled in). Checks that a
// working plugin contributes "fake:0", that every broken plugin is listed with loaded = 0 and a
// reason naming the problem, that xinhe_backend_load reports the same reasons, and the
// sticky device-lost state and the documented defaults for absent optional entries.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "xinhe/backend.h"  // XINHE_BACKEND_ABI_MAJOR

#ifndef XINHE_TEST_PLUGIN_DIR
#error "XINHE_TEST_PLUGIN_DIR must name the test plugin folder"
#endif

namespace {

using xinhe_test::StatusPtr;

std::string plugin_path(const char* stem) {
  return std::string(XINHE_TEST_PLUGIN_DIR) + "/libxinhe_backend_" + stem + ".so";
}

// The registry entry whose path is plugin_path(stem); fails the test when absent.
bool find_backend(const char* stem, xinhe_backend_info_t* out) {
  size_t count = 0;
  StatusPtr status(xinhe_backend_count(&count));
  EXPECT_EQ(status, nullptr);
  const std::string wanted = plugin_path(stem);
  for (size_t i = 0; i < count; ++i) {
    xinhe_backend_info_t info;
    std::memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    StatusPtr s(xinhe_backend_info(i, &info));
    if (s == nullptr && wanted == info.path) {
      *out = info;
      return true;
    }
  }
  ADD_FAILURE() << "no registry entry for " << wanted;
  return false;
}

TEST(Plugins, EnvironmentPointsAtTestPlugins) {
  const char* path = std::getenv("XINHE_BACKEND_PATH");
  ASSERT_NE(path, nullptr) << "run through ctest, which sets XINHE_BACKEND_PATH";
  EXPECT_NE(std::string(path).find(XINHE_TEST_PLUGIN_DIR), std::string::npos);
}

TEST(Plugins, FakeIsLoadedWithOneDevice) {
  xinhe_backend_info_t info;
  ASSERT_TRUE(find_backend("fake", &info));
  EXPECT_STREQ(info.name, "fake");
  EXPECT_EQ(info.loaded, 1) << info.reason;
  EXPECT_EQ(info.code, XINHE_STATUS_OK);
  EXPECT_EQ(info.device_count, 1u);
  EXPECT_EQ(info.abi_major, XINHE_BACKEND_ABI_MAJOR);
  xinhe_device_t device = xinhe_test::device_named("fake:0");
  ASSERT_NE(device, nullptr);
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  XH_ASSERT_OK(xinhe_device_properties(device, &props));
  EXPECT_STREQ(props.name, "fake:0");
  EXPECT_STREQ(props.backend, "fake");
  EXPECT_EQ(props.min_alignment, 64u);
}

struct BrokenCase {
  const char* stem;
  xinhe_status_code_t code;
  const char* reason_part;  // the reason must name the problem
};

class BrokenPlugin : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenPlugin, ListedUnloadedWithReason) {
  const BrokenCase& c = GetParam();
  xinhe_backend_info_t info;
  ASSERT_TRUE(find_backend(c.stem, &info));
  EXPECT_EQ(info.loaded, 0);
  EXPECT_EQ(info.device_count, 0u);
  EXPECT_EQ(info.code, c.code) << xinhe_status_code_name(info.code) << ": " << info.reason;
  EXPECT_NE(std::string(info.reason).find(c.reason_part), std::string::npos) << info.reason;
  // The code is reported beside the reason; the reason does not repeat it.
  EXPECT_EQ(std::string(info.reason).find(xinhe_status_code_name(info.code)), std::string::npos)
      << info.reason;
}

TEST_P(BrokenPlugin, ExplicitLoadReturnsTheSameReason) {
  const BrokenCase& c = GetParam();
  size_t before = 0;
  XH_ASSERT_OK(xinhe_backend_count(&before));
  size_t index = 777;
  xinhe_status_t status = xinhe_backend_load(plugin_path(c.stem).c_str(), &index);
  EXPECT_EQ(xinhe_status_code(status), c.code);
  EXPECT_STREQ(xinhe_status_call(status), "xinhe_backend_load");
  const std::string message = xinhe_test::take_message(status);
  EXPECT_NE(message.find(c.reason_part), std::string::npos) << message;
  EXPECT_EQ(index, 777u);
  size_t after = 0;
  XH_ASSERT_OK(xinhe_backend_count(&after));
  EXPECT_EQ(after, before);  // already listed from XINHE_BACKEND_PATH
}

INSTANTIATE_TEST_SUITE_P(
    Registry, BrokenPlugin,
    ::testing::Values(
        BrokenCase{"abi2", XINHE_STATUS_FAILED_PRECONDITION, "plugin ABI 2.0, core supports 1.x"},
        BrokenCase{"norun", XINHE_STATUS_FAILED_PRECONDITION, "missing required entry 'op_run'"},
        BrokenCase{"unavailable", XINHE_STATUS_UNAVAILABLE,
                   "backend_create failed: libfakevendor.so.1 not found"},
        BrokenCase{"noentry", XINHE_STATUS_FAILED_PRECONDITION, "xinhe_backend_entry"},
        BrokenCase{"nodevice", XINHE_STATUS_UNAVAILABLE, "no device"},
        BrokenCase{"shorttable", XINHE_STATUS_FAILED_PRECONDITION, "smaller than the ABI 1.0"},
        BrokenCase{"nulltable", XINHE_STATUS_FAILED_PRECONDITION, "returned NULL"},
        BrokenCase{"zduplicate", XINHE_STATUS_FAILED_PRECONDITION, "duplicate backend name 'fake'"},
        BrokenCase{"needsvendor", XINHE_STATUS_UNAVAILABLE, "libxinhe_test_fake_vendor.so"},
        BrokenCase{"notaso", XINHE_STATUS_UNAVAILABLE, "not an ELF file"}),
    [](const ::testing::TestParamInfo<BrokenCase>& info) { return std::string(info.param.stem); });

TEST(Plugins, BrokenPluginsContributeNoDevice) {
  for (const char* name : {"abi2:0", "norun:0", "unavailable:0", "nodevice:0", "needsvendor:0"}) {
    xinhe_device_t device = nullptr;
    XH_EXPECT_CODE(xinhe_device_get_by_name(name, &device), XINHE_STATUS_NOT_FOUND);
  }
}

TEST(Plugins, ExplicitLoadOfLoadedPluginGivesSameIndex) {
  size_t first = 0, second = 0;
  XH_ASSERT_OK(xinhe_backend_load(plugin_path("fake").c_str(), &first));
  // A different spelling of the same file resolves to the same real path.
  const std::string dotted = std::string(XINHE_TEST_PLUGIN_DIR) + "/./libxinhe_backend_fake.so";
  XH_ASSERT_OK(xinhe_backend_load(dotted.c_str(), &second));
  EXPECT_EQ(first, second);
  xinhe_backend_info_t info;
  std::memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  XH_ASSERT_OK(xinhe_backend_info(first, &info));
  EXPECT_STREQ(info.name, "fake");
  EXPECT_EQ(info.loaded, 1);
}

// Explicit loads racing with lookups and with each other (meaningful under TSan).
TEST(Plugins, ConcurrentLoadsAndLookups) {
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::vector<size_t> indices(kThreads, 0);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &indices, &failures] {
      for (int round = 0; round < 20; ++round) {
        xinhe_status_t status = nullptr;
        if (t % 2 == 0) {
          status = xinhe_backend_load(plugin_path("fake").c_str(), &indices[t]);
        } else {
          xinhe_device_t device = nullptr;
          status = xinhe_device_get_by_name("fake:0", &device);
          if (status == nullptr) {
            xinhe_stream_t stream = nullptr;
            status = xinhe_stream_create(device, &stream);
            xinhe_stream_destroy(stream);
          }
        }
        if (status != nullptr) ++failures;
        xinhe_status_free(status);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 2; t < kThreads; t += 2) EXPECT_EQ(indices[t], indices[0]);
}

// Plugins load sorted by file name. The first working one, "bare", does not report a device
// type (as a plugin older than the field): it reads as UNKNOWN and is passed over. The next,
// "fake", reports a GPU: the first accelerator is the default, before cpu:0.
TEST(Plugins, DefaultDeviceIsTheFirstAcceleratorByType) {
  auto type_of = [](const char* name) {
    xinhe_device_properties_t props;
    std::memset(&props, 0, sizeof(props));
    props.struct_size = sizeof(props);
    xinhe_test::StatusPtr status(xinhe_device_properties(xinhe_test::device_named(name), &props));
    EXPECT_EQ(status, nullptr) << name;
    return props.device_type;
  };
  EXPECT_EQ(type_of("bare:0"), uint32_t{XINHE_DEVICE_TYPE_UNKNOWN});
  EXPECT_EQ(type_of("fake:0"), uint32_t{XINHE_DEVICE_TYPE_GPU});
  EXPECT_EQ(type_of("cpu:0"), uint32_t{XINHE_DEVICE_TYPE_CPU});
  xinhe_device_t device = nullptr;
  XH_ASSERT_OK(xinhe_device_get_default(&device));
  EXPECT_STREQ(xinhe_device_name(device), "fake:0");
}

// "lossy": fill reports DEVICE_LOST; afterwards every call on that device fails fast.
TEST(Plugins, DeviceLostIsSticky) {
  xinhe_device_t device = xinhe_test::device_named("lossy:0");
  ASSERT_NE(device, nullptr);
  xinhe_test::Stream stream(device);
  xinhe_test::Buffer buffer(device, 64);
  ASSERT_NE(stream.handle, nullptr);
  ASSERT_NE(buffer.handle, nullptr);
  const float data[4] = {1, 2, 3, 4};
  XH_ASSERT_OK(xinhe_copy_host_to_device(stream.handle, buffer.handle, 0, data, sizeof(data)));
  xinhe_gemm_desc_t early_desc = xinhe_test::gemm_desc_f32(2, 2, 2);
  xinhe_gemm_t early = nullptr;
  XH_ASSERT_OK(xinhe_gemm_create(device, &early_desc, &early));
  XH_ASSERT_OK(xinhe_gemm_check(early));
  uint64_t workspace_bytes = 0;
  XH_ASSERT_OK(xinhe_gemm_workspace_size(early, &workspace_bytes));
  xinhe_test::Buffer a(device, 16), b(device, 16), c(device, 16),
      workspace(device, workspace_bytes);
  const uint32_t pattern = 0;
  XH_EXPECT_CODE(xinhe_buffer_fill(stream.handle, buffer.handle, 0, 64, &pattern, 4),
                 XINHE_STATUS_DEVICE_LOST);
  // Now everything on the device reports DEVICE_LOST without reaching the backend.
  XH_EXPECT_CODE(xinhe_copy_host_to_device(stream.handle, buffer.handle, 0, data, sizeof(data)),
                 XINHE_STATUS_DEVICE_LOST);
  XH_EXPECT_CODE(xinhe_stream_synchronize(stream.handle), XINHE_STATUS_DEVICE_LOST);
  xinhe_stream_t other = nullptr;
  XH_EXPECT_CODE(xinhe_stream_create(device, &other), XINHE_STATUS_DEVICE_LOST);
  EXPECT_EQ(other, nullptr);
  xinhe_buffer_t more = nullptr;
  XH_EXPECT_CODE(xinhe_buffer_alloc(device, 16, 0, &more), XINHE_STATUS_DEVICE_LOST);
  EXPECT_EQ(more, nullptr);
  xinhe_gemm_desc_t desc = xinhe_test::gemm_desc_f32(2, 2, 2);
  xinhe_gemm_t gemm = nullptr;
  XH_EXPECT_CODE(xinhe_gemm_create(device, &desc, &gemm), XINHE_STATUS_DEVICE_LOST);
  EXPECT_EQ(gemm, nullptr);
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  XH_EXPECT_CODE(xinhe_device_properties(device, &props), XINHE_STATUS_DEVICE_LOST);
  XH_EXPECT_CODE(xinhe_gemm_check(early), XINHE_STATUS_DEVICE_LOST);
  xinhe_gemm_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.a = a.handle;
  args.b = b.handle;
  args.c = c.handle;
  args.workspace = workspace.handle;
  args.alpha = 1.0f;
  XH_EXPECT_CODE(xinhe_gemm_run(early, stream.handle, &args), XINHE_STATUS_DEVICE_LOST);
  xinhe_gemm_destroy(early);  // releasing still works
  xinhe_event_t event = nullptr;
  XH_EXPECT_CODE(xinhe_event_create(device, &event), XINHE_STATUS_DEVICE_LOST);
  EXPECT_EQ(event, nullptr);
  // Other devices are unaffected.
  xinhe_test::Stream cpu_stream(xinhe_test::device_named("cpu:0"));
  XH_ASSERT_OK(xinhe_stream_synchronize(cpu_stream.handle));
}

// "bare" lacks every optional entry; the core supplies the defaults of backend.h.
TEST(Plugins, AbsentOptionalEntriesUseDefaults) {
  xinhe_device_t device = xinhe_test::device_named("bare:0");
  ASSERT_NE(device, nullptr);
  xinhe_test::Stream stream(device);
  int done = 0;
  XH_ASSERT_OK(xinhe_stream_query(stream.handle, &done));
  EXPECT_EQ(done, 1);

  xinhe_test::Event start(device), end(device);
  XH_ASSERT_OK(xinhe_event_record(start.handle, stream.handle));
  XH_ASSERT_OK(xinhe_event_record(end.handle, stream.handle));
  done = 0;
  XH_ASSERT_OK(xinhe_event_query(end.handle, &done));
  EXPECT_EQ(done, 1);
  float ms = -1.0f;
  XH_EXPECT_CODE(xinhe_event_elapsed_ms(start.handle, end.handle, &ms), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(ms, -1.0f);

  xinhe_gemm_desc_t desc = xinhe_test::gemm_desc_f32(4, 4, 4);
  xinhe_gemm_t gemm = nullptr;
  XH_ASSERT_OK(xinhe_gemm_create(device, &desc, &gemm));
  EXPECT_STREQ(xinhe_gemm_impl_name(gemm), "bare");  // op_impl_name absent: backend name
  uint64_t workspace = 99;
  XH_ASSERT_OK(xinhe_gemm_workspace_size(gemm, &workspace));
  EXPECT_EQ(workspace, 0u);  // op_workspace_size absent: 0 bytes
  xinhe_gemm_destroy(gemm);
}

// backend.h: the core never calls op_run for an op without output elements (the fake plugin
// returns INTERNAL if it does); K == 0 still runs (C = beta * C).
TEST(Plugins, EmptyProblemsNeverReachOpRun) {
  xinhe_device_t device = xinhe_test::device_named("fake:0");
  ASSERT_NE(device, nullptr);
  xinhe_test::Stream stream(device);
  xinhe_test::Buffer a(device, 64), b(device, 64), c(device, 64), workspace(device, 4096);
  for (const auto& [m, n] : {std::pair<int64_t, int64_t>{0, 4}, {4, 0}, {0, 0}}) {
    xinhe_gemm_desc_t desc = xinhe_test::gemm_desc_f32(m, n, 4);
    xinhe_gemm_t gemm = nullptr;
    XH_ASSERT_OK(xinhe_gemm_create(device, &desc, &gemm));
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof(args);
    args.a = m > 0 ? a.handle : nullptr;
    args.b = n > 0 ? b.handle : nullptr;
    args.workspace = workspace.handle;
    args.alpha = 1.0f;
    XH_EXPECT_CODE(xinhe_gemm_run(gemm, stream.handle, &args), XINHE_STATUS_OK);
    xinhe_gemm_destroy(gemm);
  }
  // K == 0 reaches the backend, with no A or B buffer: C = beta * C.
  xinhe_gemm_desc_t desc = xinhe_test::gemm_desc_f32(2, 2, 0);
  xinhe_gemm_t gemm = nullptr;
  XH_ASSERT_OK(xinhe_gemm_create(device, &desc, &gemm));
  const float ones[4] = {1, 1, 1, 1};
  xinhe_test::upload(stream.handle, c.handle, ones, sizeof ones);
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof(args);
  args.c = c.handle;
  args.workspace = workspace.handle;
  args.alpha = 1.0f;
  args.beta = 3.0f;
  XH_ASSERT_OK(xinhe_gemm_run(gemm, stream.handle, &args));
  const std::vector<uint8_t> back = xinhe_test::download(stream.handle, c.handle);
  float out[4];
  std::memcpy(out, back.data(), sizeof out);
  for (float v : out) EXPECT_EQ(v, 3.0f);
  xinhe_gemm_destroy(gemm);
}

// backend.h: entries must not throw; what escapes one becomes INTERNAL naming the entry.
TEST(Plugins, ExceptionsFromEntriesBecomeInternal) {
  xinhe_device_t device = xinhe_test::device_named("fake:0");
  ASSERT_NE(device, nullptr);
  xinhe_gemm_desc_t desc = xinhe_test::gemm_desc_f32(2, 2, 2);
  ASSERT_EQ(setenv("XINHE_FAKE_THROW", "op_create", 1), 0);
  xinhe_gemm_t gemm = nullptr;
  xinhe_status_t status = xinhe_gemm_create(device, &desc, &gemm);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_INTERNAL);
  EXPECT_NE(xinhe_test::take_message(status).find("op_create threw: fake throws"),
            std::string::npos);
  EXPECT_EQ(gemm, nullptr);

  ASSERT_EQ(setenv("XINHE_FAKE_THROW", "op_run", 1), 0);
  XH_ASSERT_OK(xinhe_gemm_create(device, &desc, &gemm));
  xinhe_test::Stream stream(device);
  xinhe_test::Buffer a(device, 16), b(device, 16), c(device, 16), workspace(device, 4096);
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof(args);
  args.a = a.handle;
  args.b = b.handle;
  args.c = c.handle;
  args.workspace = workspace.handle;
  args.alpha = 1.0f;
  status = xinhe_gemm_run(gemm, stream.handle, &args);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_INTERNAL);
  EXPECT_NE(xinhe_test::take_message(status).find("op_run threw"), std::string::npos);
  ASSERT_EQ(unsetenv("XINHE_FAKE_THROW"), 0);
  XH_EXPECT_CODE(xinhe_gemm_run(gemm, stream.handle, &args), XINHE_STATUS_OK);  // still usable
  xinhe_gemm_destroy(gemm);
}

}  // namespace
