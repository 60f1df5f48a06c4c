// Status objects, version, dtype helpers and attention stride helpers: the parts of base.h and
// ops.h that need no device.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "test_util.h"

namespace {

using xinhe_test::StatusPtr;

TEST(Status, NullIsOkWithEmptyStrings) {
  EXPECT_EQ(xinhe_status_code(nullptr), XINHE_STATUS_OK);
  EXPECT_STREQ(xinhe_status_message(nullptr), "");
  EXPECT_STREQ(xinhe_status_backend(nullptr), "");
  EXPECT_STREQ(xinhe_status_call(nullptr), "");
  EXPECT_STREQ(xinhe_status_file(nullptr), "");
  EXPECT_EQ(xinhe_status_line(nullptr), 0);
  xinhe_status_free(nullptr);  // must be a no-op
}

TEST(Status, CoreErrorCarriesCodeMessageCallAndLocation) {
  xinhe_device_t device = nullptr;
  StatusPtr status(xinhe_device_get_by_name("no-such-device:7", &device));
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(device, nullptr);  // outputs are written only on success
  EXPECT_EQ(xinhe_status_code(status.get()), XINHE_STATUS_NOT_FOUND);
  EXPECT_NE(std::string(xinhe_status_message(status.get())).find("no-such-device:7"),
            std::string::npos);
  EXPECT_STREQ(xinhe_status_call(status.get()), "xinhe_device_get_by_name");
  EXPECT_STREQ(xinhe_status_backend(status.get()), "");
  EXPECT_NE(std::string(xinhe_status_file(status.get())).find("registry.cpp"), std::string::npos);
  EXPECT_GT(xinhe_status_line(status.get()), 0);
}

TEST(Status, DeviceErrorNamesTheBackend) {
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  ASSERT_NE(cpu, nullptr);
  xinhe_buffer_t buffer = nullptr;
  StatusPtr status(xinhe_buffer_alloc(cpu, 16, 3, &buffer));
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(buffer, nullptr);
  EXPECT_EQ(xinhe_status_code(status.get()), XINHE_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(xinhe_status_backend(status.get()), "cpu");
  EXPECT_STREQ(xinhe_status_call(status.get()), "xinhe_buffer_alloc");
}

// Errors raised inside the CPU backend name the API entry, as base.h says, not the backend's
// own function (they read "cpu_buffer_alloc", "cpu_op_check").
TEST(Status, BackendErrorsNameTheApiEntry) {
  xinhe_device_t cpu = xinhe_test::device_named("cpu:0");
  ASSERT_NE(cpu, nullptr);
  xinhe_buffer_t buffer = nullptr;
  StatusPtr too_big(xinhe_buffer_alloc(cpu, uint64_t{1} << 62, 0, &buffer));
  ASSERT_NE(too_big, nullptr);
  EXPECT_EQ(xinhe_status_code(too_big.get()), XINHE_STATUS_OUT_OF_MEMORY);
  EXPECT_STREQ(xinhe_status_backend(too_big.get()), "cpu");
  EXPECT_STREQ(xinhe_status_call(too_big.get()), "xinhe_buffer_alloc");

  // A GEMM the backend cannot run (f64): refused at check with the entry's name.
  xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(4, 4, 4);
  d.ab_dtype = d.c_dtype = XINHE_DTYPE_F64;
  xinhe_gemm_t gemm = nullptr;
  StatusPtr created(xinhe_gemm_create(cpu, &d, &gemm));
  StatusPtr refused(created != nullptr ? nullptr : xinhe_gemm_check(gemm));
  const xinhe_status_t status = created != nullptr ? created.get() : refused.get();
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(xinhe_status_code(status), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(std::string(xinhe_status_call(status)).rfind("xinhe_gemm_", 0), 0u)
      << xinhe_status_call(status);
  if (gemm != nullptr) xinhe_gemm_destroy(gemm);
}

TEST(Status, CodeNames) {
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_OK), "OK");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_UNIMPLEMENTED), "UNIMPLEMENTED");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_OUT_OF_MEMORY), "OUT_OF_MEMORY");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_INTERNAL), "INTERNAL");
  EXPECT_STREQ(xinhe_status_code_name(XINHE_STATUS_DEVICE_LOST), "DEVICE_LOST");
  EXPECT_STREQ(xinhe_status_code_name(static_cast<xinhe_status_code_t>(99)), "UNKNOWN");
}

TEST(Version, MatchesMacros) {
  const std::string expected = std::to_string(XINHE_VERSION_MAJOR) + "." +
                               std::to_string(XINHE_VERSION_MINOR) + "." +
                               std::to_string(XINHE_VERSION_PATCH);
  EXPECT_EQ(expected, xinhe_version_string());
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(xinhe_dtype_size(XINHE_DTYPE_F32), 4u);
  EXPECT_EQ(xinhe_dtype_size(XINHE_DTYPE_F16), 2u);
  EXPECT_EQ(xinhe_dtype_size(XINHE_DTYPE_BF16), 2u);
  EXPECT_EQ(xinhe_dtype_size(XINHE_DTYPE_F64), 8u);
  EXPECT_EQ(xinhe_dtype_size(XINHE_DTYPE_COUNT), 0u);
  EXPECT_EQ(xinhe_dtype_size(static_cast<xinhe_dtype_t>(-1)), 0u);
  EXPECT_STREQ(xinhe_dtype_name(XINHE_DTYPE_F32), "f32");
  EXPECT_STREQ(xinhe_dtype_name(XINHE_DTYPE_F16), "f16");
  EXPECT_STREQ(xinhe_dtype_name(XINHE_DTYPE_BF16), "bf16");
  EXPECT_STREQ(xinhe_dtype_name(XINHE_DTYPE_F64), "f64");
  EXPECT_STREQ(xinhe_dtype_name(static_cast<xinhe_dtype_t>(42)), "?");
}

TEST(AttentionStrides, BhsdAndBshd) {
  int64_t s[4] = {-1, -1, -1, -1};
  xinhe_attention_strides_bhsd(/*heads=*/3, /*seq=*/5, /*head_dim=*/7, s);
  EXPECT_EQ(s[0], 3 * 5 * 7);
  EXPECT_EQ(s[1], 5 * 7);
  EXPECT_EQ(s[2], 7);
  EXPECT_EQ(s[3], 1);
  xinhe_attention_strides_bshd(3, 5, 7, s);
  EXPECT_EQ(s[0], 5 * 3 * 7);
  EXPECT_EQ(s[1], 7);
  EXPECT_EQ(s[2], 3 * 7);
  EXPECT_EQ(s[3], 1);
  xinhe_attention_strides_bhsd(1, 1, 1, nullptr);  // tolerated
}

}  // namespace
