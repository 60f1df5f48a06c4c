// How the backend reports a machine without OpenCL: no loader library at all ("not found"),
// and a loader with no vendor ICD ("no OpenCL platform"). The second case points ocl-icd's
// OCL_ICD_VENDORS at an empty folder before the loader is first used in this process, so
// this binary holds only these tests.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "clblast_api.h"
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

// A libclblast.so.1 that exists but does not load (here: not an ELF file, put first on
// LD_LIBRARY_PATH by tests/opencl/CMakeLists.txt) is reported with dlerror's text, not as a
// bare "not found".
TEST(OpenclLoader, UnloadableClblastCarriesDlerror) {
  const char* dir = std::getenv("XINHE_TEST_UNLOADABLE_CLBLAST_DIR");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "run through ctest (sets LD_LIBRARY_PATH)";
  Backend backend;
  std::string reason;
  EXPECT_EQ(clblast_get(&backend, &reason), nullptr);
  EXPECT_NE(reason.find("libclblast.so.1 not found: "), std::string::npos) << reason;
  EXPECT_NE(reason.find(dir), std::string::npos) << reason;  // dlerror names the file it tried
}

}  // namespace
}  // namespace xinhe::opencl::testing
