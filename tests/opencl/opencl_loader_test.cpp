// How the backend reports a machine without OpenCL: no loader library at all ("not found"),
// and a loader with no vendor ICD ("no OpenCL platform"). The second case points ocl-icd's
// OCL_ICD_VENDORS at an empty folder before the loader is first used in this process, so
// this binary holds only these tests.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "testing/opencl_test_host.h"

namespace xinhe::opencl::testing {
namespace {

TEST(OpenclLoader, MissingLibraryIsNamed) {
  ClApi api;
  std::string reason;
  EXPECT_FALSE(cl_api_load("libxinhe-no-such-opencl.so.1", &api, &reason));
  EXPECT_NE(reason.find("libxinhe-no-such-opencl.so.1 not found"), std::string::npos) << reason;
  EXPECT_EQ(api.clGetPlatformIDs, nullptr);
}

TEST(OpenclLoader, NoPlatformIsUnavailable) {
  ClApi api;
  std::string reason;
  if (!cl_api_load("libOpenCL.so.1", &api, &reason)) GTEST_SKIP() << reason;
  cl_api_unload(&api);
  const std::filesystem::path empty =
      std::filesystem::temp_directory_path() / "xinhe-opencl-no-icd";
  std::filesystem::create_directories(empty);
  setenv("OCL_ICD_VENDORS", empty.c_str(), 1);
  xinhe_be_backend_t backend = nullptr;
  Status st(backend_api()->backend_create(TestHost::get().api(), &backend));
  EXPECT_EQ(st.code(), XINHE_STATUS_UNAVAILABLE) << st.message();
  EXPECT_NE(st.message().find("no OpenCL platform"), std::string::npos) << st.message();
  EXPECT_EQ(backend, nullptr);
  unsetenv("OCL_ICD_VENDORS");
}

}  // namespace
}  // namespace xinhe::opencl::testing
