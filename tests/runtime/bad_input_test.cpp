// Bad input to every public entry: NULL handles and outputs, foreign handles (buffers,
// streams and events of the test plugin's fake:0 used with cpu:0), ranges out of bounds or
// overflowing, malformed op descriptions, and op arguments that do not fit the description.
// Each case asserts the exact code and a non-empty message, that outputs stay untouched, and
// for runs, that the poisoned output buffer is unchanged afterwards.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using xinhe_test::Buffer;
using xinhe_test::Event;
using xinhe_test::Stream;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    cpu_ = xinhe_test::device_named("cpu:0");
    fake_ = xinhe_test::device_named("fake:0");
    ASSERT_NE(cpu_, nullptr);
    ASSERT_NE(fake_, nullptr);
  }
  xinhe_device_t cpu_ = nullptr;
  xinhe_device_t fake_ = nullptr;
};

TEST_F(BadInput, DeviceProperties) {
  xinhe_device_properties_t props;
  std::memset(&props, 0, sizeof(props));
  props.struct_size = sizeof(props);
  XH_EXPECT_INVALID(xinhe_device_properties(nullptr, &props));
  XH_EXPECT_INVALID(xinhe_device_properties(cpu_, nullptr));
  props.struct_size = XINHE_DEVICE_PROPERTIES_SIZE_V0_1 - 8;  // smaller than any version's
  XH_EXPECT_INVALID(xinhe_device_properties(cpu_, &props));
  EXPECT_STREQ(props.name, "");  // untouched
}

TEST_F(BadInput, Streams) {
  xinhe_stream_t stream = nullptr;
  XH_EXPECT_INVALID(xinhe_stream_create(nullptr, &stream));
  XH_EXPECT_INVALID(xinhe_stream_create(cpu_, nullptr));
  EXPECT_EQ(stream, nullptr);
  XH_EXPECT_INVALID(xinhe_stream_synchronize(nullptr));
  int done = 5;
  XH_EXPECT_INVALID(xinhe_stream_query(nullptr, &done));
  Stream s(cpu_);
  XH_EXPECT_INVALID(xinhe_stream_query(s.handle, nullptr));
  EXPECT_EQ(done, 5);
}

TEST_F(BadInput, BufferAlloc) {
  xinhe_buffer_t buffer = nullptr;
  XH_EXPECT_INVALID(xinhe_buffer_alloc(nullptr, 16, 0, &buffer));
  XH_EXPECT_INVALID(xinhe_buffer_alloc(cpu_, 16, 0, nullptr));
  for (uint64_t alignment : {uint64_t{3}, uint64_t{48}, uint64_t{1} << 63 | 1}) {
    XH_EXPECT_INVALID(xinhe_buffer_alloc(cpu_, 16, alignment, &buffer));
  }
  EXPECT_EQ(buffer, nullptr);
}

TEST_F(BadInput, CopyHostToDevice) {
  Stream stream(cpu_);
  Buffer dst(cpu_, 64), foreign(fake_, 64);
  const std::vector<uint8_t> src(128, 1);
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(nullptr, dst.handle, 0, src.data(), 8));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, nullptr, 0, src.data(), 8));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, dst.handle, 0, nullptr, 8));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, foreign.handle, 0, src.data(), 8));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, dst.handle, 0, src.data(), 65));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, dst.handle, 60, src.data(), 8));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, dst.handle, kMax - 3, src.data(), 8));
  XH_EXPECT_INVALID(xinhe_copy_host_to_device(stream.handle, dst.handle, 65, src.data(), 0));
}

TEST_F(BadInput, CopyDeviceToHost) {
  Stream stream(cpu_);
  Buffer src(cpu_, 64), foreign(fake_, 64);
  std::vector<uint8_t> dst(128, 9);
  XH_EXPECT_INVALID(xinhe_copy_device_to_host(nullptr, dst.data(), src.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_host(stream.handle, nullptr, src.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_host(stream.handle, dst.data(), nullptr, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_host(stream.handle, dst.data(), foreign.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_host(stream.handle, dst.data(), src.handle, 32, 33));
  XH_EXPECT_INVALID(xinhe_copy_device_to_host(stream.handle, dst.data(), src.handle, 8, kMax));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
  EXPECT_EQ(dst, std::vector<uint8_t>(128, 9));  // nothing was written
}

TEST_F(BadInput, CopyDeviceToDevice) {
  Stream stream(cpu_);
  Buffer a(cpu_, 64), b(cpu_, 64), foreign(fake_, 64);
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(nullptr, a.handle, 0, b.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, nullptr, 0, b.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, 0, nullptr, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, foreign.handle, 0, b.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, 0, foreign.handle, 0, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, 0, b.handle, 57, 8));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, kMax, b.handle, 0, 1));
  // Overlapping ranges in one buffer, either direction.
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, 0, a.handle, 8, 16));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, 8, a.handle, 0, 16));
  XH_EXPECT_INVALID(xinhe_copy_device_to_device(stream.handle, a.handle, 4, a.handle, 4, 4));
}

TEST_F(BadInput, Fill) {
  Stream stream(cpu_);
  Buffer buffer(cpu_, 64), foreign(fake_, 64);
  const uint64_t pattern = 0x0102030405060708ull;
  XH_EXPECT_INVALID(xinhe_buffer_fill(nullptr, buffer.handle, 0, 8, &pattern, 4));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, nullptr, 0, 8, &pattern, 4));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 0, 8, nullptr, 4));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 0, 8, &pattern, 8));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 0, 6, &pattern, 3));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 0, 8, &pattern, 0));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 2, 8, &pattern, 4));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 0, 6, &pattern, 4));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 1, 2, &pattern, 2));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, buffer.handle, 60, 8, &pattern, 4));
  XH_EXPECT_INVALID(xinhe_buffer_fill(stream.handle, foreign.handle, 0, 8, &pattern, 4));
}

TEST_F(BadInput, Events) {
  xinhe_event_t event = nullptr;
  XH_EXPECT_INVALID(xinhe_event_create(nullptr, &event));
  XH_EXPECT_INVALID(xinhe_event_create(cpu_, nullptr));
  EXPECT_EQ(event, nullptr);
  Stream stream(cpu_), fake_stream(fake_);
  Event e(cpu_), e2(cpu_), fake_event(fake_);
  XH_EXPECT_INVALID(xinhe_event_record(nullptr, stream.handle));
  XH_EXPECT_INVALID(xinhe_event_record(e.handle, nullptr));
  XH_EXPECT_INVALID(xinhe_event_record(fake_event.handle, stream.handle));
  XH_EXPECT_INVALID(xinhe_stream_wait_event(nullptr, e.handle));
  XH_EXPECT_INVALID(xinhe_stream_wait_event(stream.handle, nullptr));
  // Another device's event is waited for on the host (runtime.h), not refused.
  {
    xinhe_test::StatusPtr cross(xinhe_stream_wait_event(fake_stream.handle, e.handle));
    EXPECT_EQ(xinhe_status_code(cross.get()), XINHE_STATUS_OK) << xinhe_status_message(cross.get());
  }
  XH_EXPECT_INVALID(xinhe_event_synchronize(nullptr));
  int done = 3;
  XH_EXPECT_INVALID(xinhe_event_query(nullptr, &done));
  XH_EXPECT_INVALID(xinhe_event_query(e.handle, nullptr));
  EXPECT_EQ(done, 3);
  float ms = -1.0f;
  XH_EXPECT_INVALID(xinhe_event_elapsed_ms(nullptr, e.handle, &ms));
  XH_EXPECT_INVALID(xinhe_event_elapsed_ms(e.handle, nullptr, &ms));
  XH_EXPECT_INVALID(xinhe_event_elapsed_ms(e.handle, e2.handle, nullptr));
  XH_ASSERT_OK(xinhe_event_record(e.handle, stream.handle));
  XH_ASSERT_OK(xinhe_event_record(fake_event.handle, fake_stream.handle));
  XH_EXPECT_INVALID(xinhe_event_elapsed_ms(e.handle, fake_event.handle, &ms));
  EXPECT_EQ(ms, -1.0f);
}

// ---- GEMM description ---------------------------------------------------------------------------

class BadGemm : public BadInput {
 protected:
  // Expects create to fail with INVALID_ARGUMENT and leave the output untouched.
  void expect_create_invalid(const xinhe_gemm_desc_t& d, const char* what) {
    SCOPED_TRACE(what);
    xinhe_gemm_t gemm = nullptr;
    XH_EXPECT_INVALID(xinhe_gemm_create(cpu_, &d, &gemm));
    EXPECT_EQ(gemm, nullptr);
  }
};

TEST_F(BadGemm, NullArgumentsAndStructSize) {
  xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(4, 4, 4);
  xinhe_gemm_t gemm = nullptr;
  XH_EXPECT_INVALID(xinhe_gemm_create(nullptr, &d, &gemm));
  XH_EXPECT_INVALID(xinhe_gemm_create(cpu_, nullptr, &gemm));
  XH_EXPECT_INVALID(xinhe_gemm_create(cpu_, &d, nullptr));
  d.struct_size = sizeof(d) - 1;
  expect_create_invalid(d, "struct_size too small");
  d.struct_size = 0;
  expect_create_invalid(d, "struct_size 0");
  XH_EXPECT_INVALID(xinhe_gemm_check(nullptr));
  uint64_t bytes = 7;
  XH_EXPECT_INVALID(xinhe_gemm_workspace_size(nullptr, &bytes));
  EXPECT_EQ(bytes, 7u);
  EXPECT_STREQ(xinhe_gemm_impl_name(nullptr), "");
  xinhe_gemm_destroy(nullptr);
}

TEST_F(BadGemm, Dtypes) {
  xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(4, 4, 4);
  d.ab_dtype = XINHE_DTYPE_F16;
  d.c_dtype = XINHE_DTYPE_BF16;
  expect_create_invalid(d, "C neither ab_dtype nor f32");
  d.ab_dtype = static_cast<xinhe_dtype_t>(17);
  d.c_dtype = XINHE_DTYPE_F32;
  expect_create_invalid(d, "unknown ab dtype");
  d.ab_dtype = XINHE_DTYPE_F32;
  d.c_dtype = static_cast<xinhe_dtype_t>(-3);
  expect_create_invalid(d, "unknown c dtype");
}

TEST_F(BadGemm, SizesFlagsAndStrides) {
  const xinhe_gemm_desc_t good = xinhe_test::gemm_desc_f32(4, 5, 6);
  xinhe_gemm_desc_t d = good;
  d.trans_a = 2;
  expect_create_invalid(d, "trans_a 2");
  d = good;
  d.trans_b = -1;
  expect_create_invalid(d, "trans_b -1");
  d = good;
  d.m = -1;
  expect_create_invalid(d, "m < 0");
  d = good;
  d.k = -5;
  expect_create_invalid(d, "k < 0");
  d = good;
  d.batch = 0;
  expect_create_invalid(d, "batch 0");
  d = good;
  d.batch = 2;
  d.stride_a = -1;
  expect_create_invalid(d, "negative stride");
}

TEST_F(BadGemm, LeadingDimensionsTooSmall) {
  const xinhe_gemm_desc_t good = xinhe_test::gemm_desc_f32(4, 5, 6);
  xinhe_gemm_desc_t d = good;
  d.lda = 5;  // A is (4, 6)
  expect_create_invalid(d, "lda < K");
  d = good;
  d.trans_a = 1;
  d.lda = 3;  // A is (6, 4)
  expect_create_invalid(d, "lda < M with trans_a");
  d = good;
  d.ldb = 4;  // B is (6, 5)
  expect_create_invalid(d, "ldb < N");
  d = good;
  d.trans_b = 1;
  d.ldb = 5;  // B is (5, 6)
  expect_create_invalid(d, "ldb < K with trans_b");
  d = good;
  d.ldc = 4;
  expect_create_invalid(d, "ldc < N");
  d = xinhe_test::gemm_desc_f32(0, 0, 0);
  d.lda = -1;
  expect_create_invalid(d, "negative ld for an empty matrix");
}

// ops.h asks ld >= cols only, so an empty matrix may use ld 0 (as zero-size views do).
TEST_F(BadGemm, EmptyMatricesAcceptLeadingDimensionZero) {
  xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(0, 0, 0);
  d.lda = d.ldb = d.ldc = 0;
  xinhe_gemm_t gemm = nullptr;
  xinhe_status_t status = xinhe_gemm_create(cpu_, &d, &gemm);
  EXPECT_EQ(status, nullptr) << xinhe_status_message(status);
  xinhe_status_free(status);
  xinhe_gemm_destroy(gemm);
}

TEST_F(BadGemm, ByteCountsThatOverflow) {
  xinhe_gemm_desc_t d =
      xinhe_test::gemm_desc_f32(int64_t{1} << 40, int64_t{1} << 40, int64_t{1} << 40);
  expect_create_invalid(d, "m = n = k = 2^40");
  d = xinhe_test::gemm_desc_f32(4, 4, 4);
  d.batch = int64_t{1} << 62;
  d.stride_a = 16;
  d.stride_b = 16;
  d.stride_c = 16;
  expect_create_invalid(d, "batch * stride overflows");
  d = xinhe_test::gemm_desc_f32(2, 2, 2);
  d.lda = int64_t{1} << 62;  // elements fit, bytes (x4) do not
  expect_create_invalid(d, "byte count overflows");
}

TEST_F(BadGemm, BatchesOfCOverlap) {
  xinhe_gemm_desc_t d = xinhe_test::gemm_desc_f32(4, 4, 4);
  d.batch = 2;
  d.stride_c = 0;
  expect_create_invalid(d, "stride_c 0");
  d.stride_c = 15;  // one C is 16 elements
  expect_create_invalid(d, "stride_c < extent");
  d.stride_c = 16;
  xinhe_gemm_t gemm = nullptr;
  XH_ASSERT_OK(xinhe_gemm_create(cpu_, &d, &gemm));  // exactly adjacent is fine
  xinhe_gemm_destroy(gemm);
  // Interleaved batches (ldc = batch * N, stride_c = N) do not overlap either.
  d.ldc = 8;
  d.stride_c = 4;
  XH_ASSERT_OK(xinhe_gemm_create(cpu_, &d, &gemm));
  xinhe_gemm_destroy(gemm);
  // Strides that do not nest are refused even where no two elements meet (ops.h, "Output
  // layouts"): rows 4 apart, batches 6 apart give offsets {0, 4, 8} and {6, 10, 14}. The reason
  // says the layout may overlap and names the rule, not that it does.
  d = xinhe_test::gemm_desc_f32(3, 1, 4);
  d.batch = 2;
  d.ldc = 4;
  d.stride_c = 6;
  xinhe_status_t status = xinhe_gemm_create(cpu_, &d, &gemm);
  ASSERT_NE(status, nullptr);
  const std::string message = xinhe_status_message(status);
  xinhe_status_free(status);
  EXPECT_NE(message.find("may make batches of C overlap"), std::string::npos) << message;
  EXPECT_NE(message.find("span of the smaller"), std::string::npos) << message;
}

// ---- GEMM run -----------------------------------------------------------------------------------

// A 4x4x4 f32 GEMM on one device with buffers whose C is poisoned, run with bad arguments.
class BadGemmRun : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    device_ = xinhe_test::device_named(GetParam());
    other_ = xinhe_test::device_named(std::string(GetParam()) == "cpu:0" ? "fake:0" : "cpu:0");
    ASSERT_NE(device_, nullptr);
    ASSERT_NE(other_, nullptr);
    desc_ = xinhe_test::gemm_desc_f32(4, 4, 4);
    XH_ASSERT_OK(xinhe_gemm_create(device_, &desc_, &gemm_));
    XH_ASSERT_OK(xinhe_gemm_check(gemm_));
    XH_ASSERT_OK(xinhe_gemm_workspace_size(gemm_, &workspace_bytes_));
    stream_ = std::make_unique<Stream>(device_);
    a_ = std::make_unique<Buffer>(device_, 64);
    b_ = std::make_unique<Buffer>(device_, 64);
    c_ = std::make_unique<Buffer>(device_, 64);
    ws_ = std::make_unique<Buffer>(device_, workspace_bytes_ + 64);
    const std::vector<float> a = xinhe_test::random_floats(16, 11);
    const std::vector<float> b = xinhe_test::random_floats(16, 12);
    xinhe_test::upload(stream_->handle, a_->handle, a.data(), 64);
    xinhe_test::upload(stream_->handle, b_->handle, b.data(), 64);
    xinhe_test::upload(stream_->handle, c_->handle, poison_.data(), 64);
    std::memset(&args_, 0, sizeof(args_));
    args_.struct_size = sizeof(args_);
    args_.a = a_->handle;
    args_.b = b_->handle;
    args_.c = c_->handle;
    args_.workspace = workspace_bytes_ > 0 ? ws_->handle : nullptr;
    args_.alpha = 1.0f;
    args_.beta = 0.0f;
  }
  void TearDown() override { xinhe_gemm_destroy(gemm_); }
  // The run fails with INVALID_ARGUMENT and C is still poisoned.
  void expect_run_invalid(const xinhe_gemm_args_t& args, const char* what,
                          xinhe_stream_t stream = nullptr) {
    SCOPED_TRACE(what);
    XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, stream != nullptr ? stream : stream_->handle, &args));
    EXPECT_EQ(xinhe_test::download(stream_->handle, c_->handle), poison_);
  }

  xinhe_device_t device_ = nullptr;
  xinhe_device_t other_ = nullptr;
  xinhe_gemm_desc_t desc_{};
  xinhe_gemm_t gemm_ = nullptr;
  uint64_t workspace_bytes_ = 0;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<Buffer> a_, b_, c_, ws_;
  xinhe_gemm_args_t args_{};
  const std::vector<uint8_t> poison_ = std::vector<uint8_t>(64, xinhe_test::kPoisonByte);
};

TEST_P(BadGemmRun, ValidArgumentsRun) {
  // The baseline the other cases perturb must itself be accepted.
  XH_ASSERT_OK(xinhe_gemm_run(gemm_, stream_->handle, &args_));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream_->handle));
  EXPECT_NE(xinhe_test::download(stream_->handle, c_->handle), poison_);
}

TEST_P(BadGemmRun, NullsAndStructSize) {
  XH_EXPECT_INVALID(xinhe_gemm_run(nullptr, stream_->handle, &args_));
  XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, nullptr, &args_));
  XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, stream_->handle, nullptr));
  xinhe_gemm_args_t args = args_;
  args.struct_size = sizeof(args) - 4;
  expect_run_invalid(args, "struct_size");
  args = args_;
  args.a = nullptr;
  expect_run_invalid(args, "A NULL");
  args = args_;
  args.c = nullptr;
  XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, stream_->handle, &args));
}

TEST_P(BadGemmRun, ForeignStreamAndBuffers) {
  Stream foreign_stream(other_);
  expect_run_invalid(args_, "stream of another device", foreign_stream.handle);
  Buffer foreign(other_, 64);
  xinhe_gemm_args_t args = args_;
  args.a = foreign.handle;
  expect_run_invalid(args, "A of another device");
  args = args_;
  args.b = foreign.handle;
  expect_run_invalid(args, "B of another device");
  // C on the other device: the run must fail and neither C be written.
  std::vector<uint8_t> poison(64, xinhe_test::kPoisonByte);
  Stream other_stream(other_);
  xinhe_test::upload(other_stream.handle, foreign.handle, poison.data(), 64);
  args = args_;
  args.c = foreign.handle;
  expect_run_invalid(args, "C of another device");
  EXPECT_EQ(xinhe_test::download(other_stream.handle, foreign.handle), poison);
}

TEST_P(BadGemmRun, BuffersTooSmallOrMisaligned) {
  Buffer small(device_, 60);
  xinhe_gemm_args_t args = args_;
  args.a = small.handle;
  expect_run_invalid(args, "A buffer too small");
  args = args_;
  args.b_offset = 4;
  expect_run_invalid(args, "B offset pushes it past the end");
  args = args_;
  args.a_offset = kMax - 8;
  expect_run_invalid(args, "A offset overflows");
  Buffer big(device_, 256);
  args = args_;
  args.a = big.handle;
  args.a_offset = 2;  // not a multiple of 4
  expect_run_invalid(args, "A offset misaligned");
}

TEST_P(BadGemmRun, COverlapsAOrB) {
  // A and C in one buffer: overlapping ranges are rejected, disjoint ones accepted.
  Buffer shared(device_, 256);
  const std::vector<float> values = xinhe_test::random_floats(64, 13);
  xinhe_test::upload(stream_->handle, shared.handle, values.data(), 256);
  xinhe_gemm_args_t args = args_;
  args.a = shared.handle;
  args.a_offset = 0;
  args.c = shared.handle;
  args.c_offset = 32;
  XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, stream_->handle, &args));
  args.b = shared.handle;
  args.b_offset = 64;
  args.c_offset = 124;  // C [124, 188) overlaps B [64, 128)
  XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, stream_->handle, &args));
  const std::vector<uint8_t> after = xinhe_test::download(stream_->handle, shared.handle);
  EXPECT_EQ(std::memcmp(after.data(), values.data(), 256), 0);  // nothing written
  args.c_offset = 128;                                          // disjoint: [128, 192)
  XH_ASSERT_OK(xinhe_gemm_run(gemm_, stream_->handle, &args));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream_->handle));
  // A and B sharing a range is fine (both are read-only).
  args = args_;
  args.b = args.a;
  XH_ASSERT_OK(xinhe_gemm_run(gemm_, stream_->handle, &args));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream_->handle));
}

TEST_P(BadGemmRun, Workspace) {
  if (workspace_bytes_ == 0) {
    // Without a workspace requirement any workspace argument is ignored apart from ownership.
    xinhe_gemm_args_t args = args_;
    Buffer foreign(other_, 64);
    args.workspace = foreign.handle;
    expect_run_invalid(args, "workspace of another device");
    return;
  }
  xinhe_gemm_args_t args = args_;
  args.workspace = nullptr;
  expect_run_invalid(args, "workspace missing");
  Buffer small(device_, workspace_bytes_ - 1);
  args.workspace = small.handle;
  expect_run_invalid(args, "workspace too small");
  args.workspace = ws_->handle;
  args.workspace_offset = 65;
  expect_run_invalid(args, "workspace offset past the end");
  // Workspace and C in one buffer, overlapping by 4 bytes.
  Buffer shared(device_, 64 + workspace_bytes_);
  xinhe_test::upload(stream_->handle, shared.handle,
                     std::vector<uint8_t>(64 + workspace_bytes_, xinhe_test::kPoisonByte).data(),
                     64 + workspace_bytes_);
  args = args_;
  args.c = shared.handle;
  args.workspace = shared.handle;
  args.workspace_offset = 60;
  XH_EXPECT_INVALID(xinhe_gemm_run(gemm_, stream_->handle, &args));
  EXPECT_EQ(xinhe_test::download(stream_->handle, shared.handle),
            std::vector<uint8_t>(64 + workspace_bytes_, xinhe_test::kPoisonByte));
}

INSTANTIATE_TEST_SUITE_P(Devices, BadGemmRun, ::testing::Values("cpu:0", "fake:0"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find(':'));
                         });

// ---- Attention ----------------------------------------------------------------------------------

xinhe_attention_desc_t attention_desc(int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                                      int64_t d) {
  xinhe_attention_desc_t desc;
  std::memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.dtype = XINHE_DTYPE_F32;
  desc.batch = b;
  desc.heads_q = hq;
  desc.heads_kv = hkv;
  desc.seq_q = sq;
  desc.seq_kv = skv;
  desc.head_dim = d;
  xinhe_attention_strides_bhsd(hq, sq, d, desc.q_strides);
  xinhe_attention_strides_bhsd(hkv, skv, d, desc.k_strides);
  xinhe_attention_strides_bhsd(hkv, skv, d, desc.v_strides);
  xinhe_attention_strides_bhsd(hq, sq, d, desc.o_strides);
  desc.scale = 1.0f / std::sqrt(static_cast<float>(d));
  desc.mask = XINHE_ATTENTION_MASK_NONE;
  desc.with_lse = 0;
  return desc;
}

class BadAttention : public BadInput {
 protected:
  void expect_create_invalid(const xinhe_attention_desc_t& d, const char* what) {
    SCOPED_TRACE(what);
    xinhe_attention_t attention = nullptr;
    XH_EXPECT_INVALID(xinhe_attention_create(cpu_, &d, &attention));
    EXPECT_EQ(attention, nullptr);
  }
};

TEST_F(BadAttention, Description) {
  const xinhe_attention_desc_t good = attention_desc(2, 4, 2, 3, 5, 16);
  xinhe_attention_t attention = nullptr;
  XH_EXPECT_INVALID(xinhe_attention_create(nullptr, &good, &attention));
  XH_EXPECT_INVALID(xinhe_attention_create(cpu_, nullptr, &attention));
  XH_EXPECT_INVALID(xinhe_attention_create(cpu_, &good, nullptr));
  XH_EXPECT_INVALID(xinhe_attention_check(nullptr));
  uint64_t bytes = 0;
  XH_EXPECT_INVALID(xinhe_attention_workspace_size(nullptr, &bytes));
  EXPECT_STREQ(xinhe_attention_impl_name(nullptr), "");
  xinhe_attention_destroy(nullptr);

  xinhe_attention_desc_t d = good;
  d.struct_size = 8;
  expect_create_invalid(d, "struct_size");
  d = good;
  d.dtype = static_cast<xinhe_dtype_t>(9);
  expect_create_invalid(d, "dtype");
  d = good;
  d.heads_kv = 3;
  expect_create_invalid(d, "Hq % Hkv != 0");
  d = good;
  d.heads_kv = 0;
  expect_create_invalid(d, "Hkv 0 with Hq > 0");
  d = good;
  d.head_dim = 0;
  expect_create_invalid(d, "head_dim 0");
  d = good;
  d.head_dim = 257;
  expect_create_invalid(d, "head_dim 257");
  d = good;
  d.seq_q = -1;
  expect_create_invalid(d, "seq_q < 0");
  d = good;
  d.scale = std::numeric_limits<float>::infinity();
  expect_create_invalid(d, "scale inf");
  d = good;
  d.scale = std::numeric_limits<float>::quiet_NaN();
  expect_create_invalid(d, "scale NaN");
  d = good;
  d.mask = static_cast<xinhe_attention_mask_t>(5);
  expect_create_invalid(d, "mask");
  d = good;
  d.with_lse = 2;
  expect_create_invalid(d, "with_lse 2");
  d = good;
  d.k_strides[2] = -16;
  expect_create_invalid(d, "negative K stride");
  d = good;
  d.o_strides[1] = 0;  // heads of O collapse onto each other
  expect_create_invalid(d, "O aliases itself");
  d = good;
  d.o_strides[2] = 8;  // rows of 16 elements 8 apart
  expect_create_invalid(d, "O rows overlap");
  d = good;
  d.with_lse = 1;
  d.lse_strides[0] = 12;
  d.lse_strides[1] = 3;
  d.lse_strides[2] = 0;  // seq positions alias
  expect_create_invalid(d, "LSE aliases itself");
  d = good;
  d.q_strides[0] = int64_t{1} << 62;
  expect_create_invalid(d, "Q extent overflows");
}

TEST_F(BadAttention, Run) {
  xinhe_attention_desc_t d = attention_desc(1, 2, 1, 3, 4, 8);
  d.with_lse = 1;
  d.lse_strides[0] = 6;
  d.lse_strides[1] = 3;
  d.lse_strides[2] = 1;
  xinhe_attention_t attention = nullptr;
  XH_ASSERT_OK(xinhe_attention_create(cpu_, &d, &attention));
  uint64_t workspace_bytes = 0;
  XH_ASSERT_OK(xinhe_attention_workspace_size(attention, &workspace_bytes));
  Stream stream(cpu_);
  const uint64_t q_bytes = 2 * 3 * 8 * 4, kv_bytes = 4 * 8 * 4, lse_bytes = 6 * 4;
  Buffer q(cpu_, q_bytes), k(cpu_, kv_bytes), v(cpu_, kv_bytes), o(cpu_, q_bytes),
      lse(cpu_, lse_bytes), ws(cpu_, workspace_bytes);
  const std::vector<uint8_t> poison_o(q_bytes, xinhe_test::kPoisonByte);
  const std::vector<uint8_t> poison_lse(lse_bytes, xinhe_test::kPoisonByte);
  xinhe_test::upload(stream.handle, o.handle, poison_o.data(), q_bytes);
  xinhe_test::upload(stream.handle, lse.handle, poison_lse.data(), lse_bytes);
  xinhe_attention_args_t good;
  std::memset(&good, 0, sizeof(good));
  good.struct_size = sizeof(good);
  good.q = q.handle;
  good.k = k.handle;
  good.v = v.handle;
  good.o = o.handle;
  good.lse = lse.handle;
  good.workspace = workspace_bytes > 0 ? ws.handle : nullptr;

  auto expect_invalid = [&](const xinhe_attention_args_t& args, const char* what) {
    SCOPED_TRACE(what);
    XH_EXPECT_INVALID(xinhe_attention_run(attention, stream.handle, &args));
    EXPECT_EQ(xinhe_test::download(stream.handle, o.handle), poison_o);
    EXPECT_EQ(xinhe_test::download(stream.handle, lse.handle), poison_lse);
  };
  XH_EXPECT_INVALID(xinhe_attention_run(nullptr, stream.handle, &good));
  XH_EXPECT_INVALID(xinhe_attention_run(attention, nullptr, &good));
  XH_EXPECT_INVALID(xinhe_attention_run(attention, stream.handle, nullptr));
  xinhe_attention_args_t args = good;
  args.struct_size = 16;
  expect_invalid(args, "struct_size");
  args = good;
  args.lse = nullptr;
  expect_invalid(args, "LSE missing with with_lse = 1");
  args = good;
  args.v = nullptr;
  expect_invalid(args, "V missing");
  Buffer small(cpu_, kv_bytes - 4);
  args = good;
  args.k = small.handle;
  expect_invalid(args, "K too small");
  Buffer foreign(fake_, kv_bytes);
  args = good;
  args.v = foreign.handle;
  expect_invalid(args, "V of another device");
  Stream foreign_stream(fake_);
  {
    SCOPED_TRACE("stream of another device");
    XH_EXPECT_INVALID(xinhe_attention_run(attention, foreign_stream.handle, &good));
  }
  // O and Q in one buffer, overlapping.
  Buffer shared(cpu_, 2 * q_bytes);
  args = good;
  args.q = shared.handle;
  args.o = shared.handle;
  args.o_offset = q_bytes - 4;
  XH_EXPECT_INVALID(xinhe_attention_run(attention, stream.handle, &args));
  // O and LSE overlapping.
  Buffer shared2(cpu_, q_bytes + lse_bytes);
  args = good;
  args.o = shared2.handle;
  args.lse = shared2.handle;
  args.lse_offset = q_bytes - 4;
  XH_EXPECT_INVALID(xinhe_attention_run(attention, stream.handle, &args));
  xinhe_attention_destroy(attention);

  // LSE given to an op without with_lse.
  d.with_lse = 0;
  XH_ASSERT_OK(xinhe_attention_create(cpu_, &d, &attention));
  expect_invalid(good, "LSE given with with_lse = 0");
  xinhe_attention_destroy(attention);
}

}  // namespace
