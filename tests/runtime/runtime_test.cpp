// Working paths of the device API on every device this binary sees (cpu:0 and the test
// plugin's fake:0): buffers incl. 0-byte ones and alignment, copies, fill, streams, events,
// and a GEMM through the op interface checked against a float64 reference with poisoned C.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using xinhe_test::Buffer;
using xinhe_test::Event;
using xinhe_test::Stream;

class DeviceApi : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    device_ = xinhe_test::device_named(GetParam());
    ASSERT_NE(device_, nullptr);
  }
  xinhe_device_t device_ = nullptr;
};

TEST_P(DeviceApi, StreamBasics) {
  Stream stream(device_);
  ASSERT_NE(stream.handle, nullptr);
  EXPECT_EQ(xinhe_stream_device(stream.handle), device_);
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
  int done = 0;
  XH_ASSERT_OK(xinhe_stream_query(stream.handle, &done));
  EXPECT_EQ(done, 1);  // nothing queued
  EXPECT_EQ(xinhe_stream_device(nullptr), nullptr);
  xinhe_stream_destroy(nullptr);
}

TEST_P(DeviceApi, BufferSizeDeviceAndAlignment) {
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  XH_ASSERT_OK(xinhe_device_properties(device_, &props));
  EXPECT_STREQ(props.name, GetParam());
  for (uint64_t alignment : {uint64_t{0}, uint64_t{1}, uint64_t{256}, uint64_t{4096}}) {
    xinhe_buffer_t buffer = nullptr;
    XH_ASSERT_OK(xinhe_buffer_alloc(device_, 1000, alignment, &buffer));
    EXPECT_EQ(xinhe_buffer_size(buffer), 1000u);
    EXPECT_EQ(xinhe_buffer_device(buffer), device_);
    xinhe_buffer_free(buffer);
  }
  EXPECT_EQ(xinhe_buffer_size(nullptr), 0u);
  EXPECT_EQ(xinhe_buffer_device(nullptr), nullptr);
  xinhe_buffer_free(nullptr);
}

TEST_P(DeviceApi, ZeroByteBufferAndCopies) {
  Stream stream(device_);
  Buffer empty(device_, 0);
  ASSERT_NE(empty.handle, nullptr);
  EXPECT_EQ(xinhe_buffer_size(empty.handle), 0u);
  // 0-byte copies validate and do nothing, even with NULL host pointers.
  XH_ASSERT_OK(xinhe_copy_host_to_device(stream.handle, empty.handle, 0, nullptr, 0));
  XH_ASSERT_OK(xinhe_copy_device_to_host(stream.handle, nullptr, empty.handle, 0, 0));
  XH_ASSERT_OK(xinhe_copy_device_to_device(stream.handle, empty.handle, 0, empty.handle, 0, 0));
  const uint32_t pattern = 7;
  XH_ASSERT_OK(xinhe_buffer_fill(stream.handle, empty.handle, 0, 0, &pattern, 4));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
  // ...but an offset past the end is still an error.
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, empty.handle, 1, nullptr, 0));
}

TEST_P(DeviceApi, CopiesRoundTripWithOffsets) {
  Stream stream(device_);
  const std::vector<float> src = xinhe_test::random_floats(256, 1);
  Buffer a(device_, 4096), b(device_, 2048);
  XH_ASSERT_OK(xinhe_copy_host_to_device(stream.handle, a.handle, 64, src.data(), 1024));
  XH_ASSERT_OK(xinhe_copy_device_to_device(stream.handle, b.handle, 512, a.handle, 64, 1024));
  // Non-overlapping ranges of one buffer are allowed.
  XH_ASSERT_OK(xinhe_copy_device_to_device(stream.handle, a.handle, 2048, a.handle, 64, 1024));
  std::vector<float> back(256, -7.0f), back2(256, -7.0f);
  XH_ASSERT_OK(xinhe_copy_device_to_host(stream.handle, back.data(), b.handle, 512, 1024));
  XH_ASSERT_OK(xinhe_copy_device_to_host(stream.handle, back2.data(), a.handle, 2048, 1024));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
  EXPECT_EQ(std::memcmp(back.data(), src.data(), 1024), 0);
  EXPECT_EQ(std::memcmp(back2.data(), src.data(), 1024), 0);
}

TEST_P(DeviceApi, FillPatterns) {
  Stream stream(device_);
  Buffer buffer(device_, 64);
  std::vector<uint8_t> poison(64, xinhe_test::kPoisonByte);
  xinhe_test::upload(stream.handle, buffer.handle, poison.data(), poison.size());
  const uint8_t p1 = 0x11;
  const uint16_t p2 = 0x2233;
  const uint32_t p4 = 0x44556677;
  XH_ASSERT_OK(xinhe_buffer_fill(stream.handle, buffer.handle, 1, 3, &p1, 1));
  XH_ASSERT_OK(xinhe_buffer_fill(stream.handle, buffer.handle, 8, 8, &p2, 2));
  XH_ASSERT_OK(xinhe_buffer_fill(stream.handle, buffer.handle, 32, 16, &p4, 4));
  const std::vector<uint8_t> bytes = xinhe_test::download(stream.handle, buffer.handle);
  ASSERT_EQ(bytes.size(), 64u);
  for (size_t i = 0; i < 64; ++i) {
    uint8_t expected = xinhe_test::kPoisonByte;
    if (i >= 1 && i < 4) expected = p1;
    if (i >= 8 && i < 16) expected = reinterpret_cast<const uint8_t*>(&p2)[i % 2];
    if (i >= 32 && i < 48) expected = reinterpret_cast<const uint8_t*>(&p4)[i % 4];
    EXPECT_EQ(bytes[i], expected) << "byte " << i;
  }
}

TEST_P(DeviceApi, EventsRecordWaitQuery) {
  Stream first(device_), second(device_);
  Event never(device_), event(device_);
  int done = 0;
  // A never-recorded event is complete.
  XH_ASSERT_OK(xinhe_event_query(never.handle, &done));
  EXPECT_EQ(done, 1);
  XH_ASSERT_OK(xinhe_event_synchronize(never.handle));
  XH_ASSERT_OK(xinhe_stream_wait_event(second.handle, never.handle));

  Buffer buffer(device_, 4096);
  const std::vector<float> data = xinhe_test::random_floats(1024, 2);
  XH_ASSERT_OK(xinhe_copy_host_to_device(first.handle, buffer.handle, 0, data.data(), 4096));
  XH_ASSERT_OK(xinhe_event_record(event.handle, first.handle));
  XH_ASSERT_OK(xinhe_stream_wait_event(second.handle, event.handle));
  std::vector<float> back(1024, 0.0f);
  XH_ASSERT_OK(xinhe_copy_device_to_host(second.handle, back.data(), buffer.handle, 0, 4096));
  XH_ASSERT_OK(xinhe_stream_synchronize(second.handle));
  EXPECT_EQ(back, data);
  XH_ASSERT_OK(xinhe_event_synchronize(event.handle));
  done = 0;
  XH_ASSERT_OK(xinhe_event_query(event.handle, &done));
  EXPECT_EQ(done, 1);
  xinhe_event_destroy(nullptr);
}

TEST_P(DeviceApi, ElapsedTimeFollowsTheTimingFlag) {
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  XH_ASSERT_OK(xinhe_device_properties(device_, &props));
  Stream stream(device_);
  Event start(device_), end(device_), unrecorded(device_);
  XH_ASSERT_OK(xinhe_event_record(start.handle, stream.handle));
  XH_ASSERT_OK(xinhe_event_record(end.handle, stream.handle));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
  float ms = -1.0f;
  if ((props.flags & XINHE_DEVICE_FLAG_TIMING) != 0) {
    XH_ASSERT_OK(xinhe_event_elapsed_ms(start.handle, end.handle, &ms));
    EXPECT_GE(ms, 0.0f);
    ms = -1.0f;
    XH_EXPECT_CODE(xinhe_event_elapsed_ms(start.handle, unrecorded.handle, &ms),
                   XINHE_STATUS_FAILED_PRECONDITION);
    XH_EXPECT_CODE(xinhe_event_elapsed_ms(unrecorded.handle, end.handle, &ms),
                   XINHE_STATUS_FAILED_PRECONDITION);
  } else {
    XH_EXPECT_CODE(xinhe_event_elapsed_ms(start.handle, end.handle, &ms),
                   XINHE_STATUS_UNIMPLEMENTED);
  }
  EXPECT_EQ(ms, -1.0f);
}

// GEMM through describe -> check -> workspace -> run, batched with a transposed A and strided
// C, checked against float64; C is poisoned outside its elements and must stay so.
TEST_P(DeviceApi, GemmF32MatchesReference) {
  xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(13, 9, 21);
  d.trans_a = 1;  // A is (K, M)
  d.lda = 15;     // >= M
  d.ldb = 11;     // >= N
  d.ldc = 10;     // >= N
  d.batch = 2;
  d.stride_a = d.k * d.lda;
  d.stride_b = 0;  // broadcast B
  d.stride_c = d.m * d.ldc + 3;
  const float alpha = 0.75f, beta = -0.5f;

  xinhe_gemm_t gemm = nullptr;
  XH_ASSERT_OK(xinhe_gemm_create(device_, &d, &gemm));
  XH_ASSERT_OK(xinhe_gemm_check(gemm));
  EXPECT_STRNE(xinhe_gemm_impl_name(gemm), "");

  const size_t a_count = d.batch * d.stride_a;
  const size_t b_count = d.k * d.ldb;
  const size_t c_count = d.batch * d.stride_c;
  const std::vector<float> a = xinhe_test::random_floats(a_count, 3);
  const std::vector<float> b = xinhe_test::random_floats(b_count, 4);
  std::vector<float> c_in = xinhe_test::random_floats(c_count, 5);
  // Padding elements of C (outside the (M, N) tiles) are poisoned to catch stray writes.
  std::vector<bool> is_element(c_count, false);
  for (int64_t bt = 0; bt < d.batch; ++bt)
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) is_element[bt * d.stride_c + i * d.ldc + j] = true;
  for (size_t i = 0; i < c_count; ++i) {
    if (!is_element[i]) std::memset(&c_in[i], xinhe_test::kPoisonByte, sizeof(float));
  }
  const std::vector<double> expected = xinhe_test::gemm_reference(d, a, b, c_in, alpha, beta);
  std::vector<float> c_out;
  ASSERT_NO_FATAL_FAILURE(xinhe_test::run_f32_gemm(device_, gemm, a, b, c_in, alpha, beta, &c_out));
  xinhe_gemm_destroy(gemm);

  for (size_t i = 0; i < c_count; ++i) {
    if (is_element[i]) {
      EXPECT_NEAR(c_out[i], expected[i], 1e-4 * (1.0 + std::fabs(expected[i]))) << "index " << i;
    } else {
      EXPECT_EQ(std::memcmp(&c_out[i], &c_in[i], sizeof(float)), 0) << "padding " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, DeviceApi, ::testing::Values("cpu:0", "fake:0"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find(':'));
                         });

// On the fake device attention is well-formed but unsupported: create succeeds, check and run
// report UNIMPLEMENTED with the backend's reason, and nothing is written.
TEST(Ops, UnsupportedOpIsCreatedAndReportsUnimplemented) {
  xinhe_device_t device = xinhe_test::device_named("fake:0");
  ASSERT_NE(device, nullptr);
  xinhe_attention_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.dtype = XINHE_DTYPE_F32;
  d.batch = 1;
  d.heads_q = 2;
  d.heads_kv = 1;
  d.seq_q = 3;
  d.seq_kv = 4;
  d.head_dim = 8;
  xinhe_attention_strides_bhsd(2, 3, 8, d.q_strides);
  xinhe_attention_strides_bhsd(1, 4, 8, d.k_strides);
  xinhe_attention_strides_bhsd(1, 4, 8, d.v_strides);
  xinhe_attention_strides_bhsd(2, 3, 8, d.o_strides);
  d.scale = 0.35f;
  xinhe_attention_t attention = nullptr;
  XH_ASSERT_OK(xinhe_attention_create(device, &d, &attention));
  xinhe_status_t check = xinhe_attention_check(attention);
  EXPECT_EQ(xinhe_status_code(check), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_STREQ(xinhe_status_backend(check), "fake");
  EXPECT_NE(xinhe_test::take_message(check).find("no attention"), std::string::npos);

  Stream stream(device);
  Buffer q(device, 2 * 3 * 8 * 4), k(device, 4 * 8 * 4), v(device, 4 * 8 * 4),
      o(device, 2 * 3 * 8 * 4);
  std::vector<uint8_t> poison(2 * 3 * 8 * 4, xinhe_test::kPoisonByte);
  xinhe_test::upload(stream.handle, o.handle, poison.data(), poison.size());
  xinhe_attention_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.q = q.handle;
  args.k = k.handle;
  args.v = v.handle;
  args.o = o.handle;
  XH_EXPECT_CODE(xinhe_attention_run(attention, stream.handle, &args), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(xinhe_test::download(stream.handle, o.handle), poison);
  xinhe_attention_destroy(attention);
}

}  // namespace
