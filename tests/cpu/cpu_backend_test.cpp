// The CPU backend's plugin table exercised directly, with the recording test host of
// tests/support standing in for the core (statuses and log lines are recorded). Covers what the public
// conformance suite cannot see: XINHE_CPU_THREADS validation, the allocation size guard,
// dispatch with the implementation filter the host serves and its log line, and runs that outlive op_destroy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "cpu_test_util.h"
#include "recording_host.h"
#include "reference.h"
#include "xinhe/backend.h"

extern "C" const xinhe_backend_api_t* xinhe_cpu_backend_entry(uint32_t, uint32_t);

namespace xinhe::test {
namespace {

// The test host (tests/support): statuses and dispatch lines recorded.
RecordingHost& g_host = RecordingHost::get();
const xinhe_host_api_t* const kHost = g_host.api();

// Takes ownership of a status; returns its code (OK for NULL).
xinhe_status_code_t code_of(xinhe_status_t status, std::string* message = nullptr) {
  return g_host.code_of(status, message);
}

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ = xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, XINHE_BACKEND_ABI_MINOR);
    ASSERT_NE(api_, nullptr);
    unsetenv("XINHE_CPU_THREADS");
    ASSERT_EQ(code_of(api_->backend_create(kHost, &backend_)), XINHE_STATUS_OK);
    ASSERT_EQ(code_of(api_->device_open(backend_, 0, &device_)), XINHE_STATUS_OK);
  }
  void TearDown() override {
    if (device_) api_->device_close(device_);
    if (backend_) api_->backend_destroy(backend_);
  }
  xinhe_be_buffer_t alloc(uint64_t size) {
    xinhe_be_buffer_t buffer = nullptr;
    EXPECT_EQ(code_of(api_->buffer_alloc(device_, size, 64, &buffer)), XINHE_STATUS_OK);
    return buffer;
  }
  const xinhe_backend_api_t* api_ = nullptr;
  xinhe_be_backend_t backend_ = nullptr;
  xinhe_be_device_t device_ = nullptr;
};

TEST(CpuBackendEntry, TableShapeAndVersionCheck) {
  const xinhe_backend_api_t* api = xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, 0);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->struct_size, sizeof(xinhe_backend_api_t));
  EXPECT_EQ(api->abi_major, XINHE_BACKEND_ABI_MAJOR);
  EXPECT_STREQ(api->name, "cpu");
  EXPECT_NE(api->stream_query, nullptr);
  EXPECT_NE(api->event_elapsed_ms, nullptr);
  EXPECT_EQ(xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR + 1, 0), nullptr);
}

TEST(CpuBackendEntry, BadThreadCountFailsCreate) {
  const xinhe_backend_api_t* api = xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, 0);
  for (const char* bad : {"0", "two", "-1", ""}) {
    setenv("XINHE_CPU_THREADS", bad, 1);
    xinhe_be_backend_t backend = nullptr;
    std::string message;
    EXPECT_EQ(code_of(api->backend_create(kHost, &backend), &message), XINHE_STATUS_INVALID_ARGUMENT) << bad;
    EXPECT_NE(message.find("XINHE_CPU_THREADS"), std::string::npos) << message;
  }
  setenv("XINHE_CPU_THREADS", "3", 1);
  xinhe_be_backend_t backend = nullptr;
  EXPECT_EQ(code_of(api->backend_create(kHost, &backend)), XINHE_STATUS_OK);
  api->backend_destroy(backend);
  unsetenv("XINHE_CPU_THREADS");
}

TEST(CpuBackendEntry, BadBindFailsCreate) {
  const xinhe_backend_api_t* api = xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, 0);
  for (const char* bad : {"yes", "2", ""}) {
    setenv("XINHE_CPU_BIND", bad, 1);
    xinhe_be_backend_t backend = nullptr;
    std::string message;
    EXPECT_EQ(code_of(api->backend_create(kHost, &backend), &message), XINHE_STATUS_INVALID_ARGUMENT) << bad;
    EXPECT_NE(message.find("XINHE_CPU_BIND"), std::string::npos) << message;
  }
  for (const char* good : {"0", "1"}) {
    setenv("XINHE_CPU_BIND", good, 1);
    xinhe_be_backend_t backend = nullptr;
    EXPECT_EQ(code_of(api->backend_create(kHost, &backend)), XINHE_STATUS_OK) << good;
    api->backend_destroy(backend);
  }
  unsetenv("XINHE_CPU_BIND");
}

// XINHE_CPU_PROBE=no ran the probes anyway: only "0" turned them off. A value that is not 0
// or 1 is now refused like a bad XINHE_CPU_BIND.
TEST(CpuBackendEntry, BadProbeSwitchFailsCreate) {
  const xinhe_backend_api_t* api = xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, 0);
  for (const char* bad : {"no", "off", "false", "yes", "2", " 0", ""}) {
    setenv("XINHE_CPU_PROBE", bad, 1);
    xinhe_be_backend_t backend = nullptr;
    std::string message;
    EXPECT_EQ(code_of(api->backend_create(kHost, &backend), &message),
              XINHE_STATUS_INVALID_ARGUMENT)
        << "'" << bad << "'";
    EXPECT_NE(message.find(std::string("XINHE_CPU_PROBE='") + bad + "'"), std::string::npos)
        << message;
    if (backend != nullptr) api->backend_destroy(backend);
  }
  for (const char* good : {"0", "1"}) {
    setenv("XINHE_CPU_PROBE", good, 1);
    xinhe_be_backend_t backend = nullptr;
    EXPECT_EQ(code_of(api->backend_create(kHost, &backend)), XINHE_STATUS_OK) << good;
    api->backend_destroy(backend);
  }
  unsetenv("XINHE_CPU_PROBE");
}

TEST(CpuBackendEntry, BadMaxIsaFailsCreate) {
  const xinhe_backend_api_t* api = xinhe_cpu_backend_entry(XINHE_BACKEND_ABI_MAJOR, 0);
  const char* old = std::getenv("XINHE_CPU_MAX_ISA");
  const std::string saved = old != nullptr ? old : "";
  for (const char* bad : {"avx1024", "avx512f", "2"}) {
    setenv("XINHE_CPU_MAX_ISA", bad, 1);
    xinhe_be_backend_t backend = nullptr;
    std::string message;
    EXPECT_EQ(code_of(api->backend_create(kHost, &backend), &message), XINHE_STATUS_INVALID_ARGUMENT) << bad;
    EXPECT_NE(message.find("XINHE_CPU_MAX_ISA"), std::string::npos) << message;
  }
  setenv("XINHE_CPU_MAX_ISA", "avx2", 1);
  xinhe_be_backend_t backend = nullptr;
  EXPECT_EQ(code_of(api->backend_create(kHost, &backend)), XINHE_STATUS_OK);
  api->backend_destroy(backend);
  if (old != nullptr) {
    setenv("XINHE_CPU_MAX_ISA", saved.c_str(), 1);
  } else {
    unsetenv("XINHE_CPU_MAX_ISA");
  }
}

TEST_F(CpuBackendTest, Properties) {
  uint32_t count = 0;
  ASSERT_EQ(code_of(api_->device_count(backend_, &count)), XINHE_STATUS_OK);
  EXPECT_EQ(count, 1u);
  xinhe_be_device_t other = nullptr;
  EXPECT_EQ(code_of(api_->device_open(backend_, 1, &other)), XINHE_STATUS_NOT_FOUND);
  xinhe_device_properties_t p{};
  p.struct_size = sizeof(p);
  ASSERT_EQ(code_of(api_->device_properties(device_, &p)), XINHE_STATUS_OK);
  EXPECT_GT(std::strlen(p.description), 0u);
  EXPECT_GT(std::strlen(p.vendor), 0u);
  EXPECT_GT(p.total_memory, 0u);
  EXPECT_LE(p.free_memory, p.total_memory);
  EXPECT_GE(p.compute_units, 1u);
  EXPECT_EQ(p.min_alignment, 64u);
  EXPECT_EQ(p.flags, unsigned(XINHE_DEVICE_FLAG_TIMING | XINHE_DEVICE_FLAG_HOST_MEMORY | XINHE_DEVICE_FLAG_FP64));
  EXPECT_EQ(p.dtype_caps, XINHE_DTYPE_CAP(XINHE_DTYPE_F32) | XINHE_DTYPE_CAP(XINHE_DTYPE_F16) |
                              XINHE_DTYPE_CAP(XINHE_DTYPE_BF16));
}

TEST_F(CpuBackendTest, HugeAllocationIsOutOfMemory) {
  xinhe_be_buffer_t buffer = nullptr;
  std::string message;
  EXPECT_EQ(code_of(api_->buffer_alloc(device_, uint64_t{1} << 50, 64, &buffer), &message),
            XINHE_STATUS_OUT_OF_MEMORY);
  EXPECT_EQ(buffer, nullptr);
  EXPECT_NE(message.find("bytes"), std::string::npos);
}

TEST_F(CpuBackendTest, LargeAlignmentAllocationFillsAndReadsBack) {
  xinhe_be_buffer_t buffer = nullptr;
  ASSERT_EQ(code_of(api_->buffer_alloc(device_, 100, 4096, &buffer)), XINHE_STATUS_OK);
  xinhe_be_stream_t stream = nullptr;
  ASSERT_EQ(code_of(api_->stream_create(device_, &stream)), XINHE_STATUS_OK);
  const uint32_t pattern = 0xA1B2C3D4u;
  ASSERT_EQ(code_of(api_->fill(stream, {buffer, 0}, 100, &pattern, 4)), XINHE_STATUS_OK);
  std::vector<uint32_t> out(25);
  ASSERT_EQ(code_of(api_->copy_device_to_host(stream, out.data(), {buffer, 0}, 100)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->stream_synchronize(stream)), XINHE_STATUS_OK);
  for (uint32_t v : out) EXPECT_EQ(v, pattern);
  api_->stream_destroy(stream);
  api_->buffer_free(buffer);
}

TEST_F(CpuBackendTest, StreamRunsCopiesAndFillsInOrder) {
  constexpr uint64_t kBytes = 4096 + 6;
  xinhe_be_buffer_t a = alloc(kBytes), b = alloc(kBytes);
  xinhe_be_stream_t stream = nullptr;
  ASSERT_EQ(code_of(api_->stream_create(device_, &stream)), XINHE_STATUS_OK);
  std::vector<unsigned char> src(kBytes), dst(kBytes, 0);
  for (uint64_t i = 0; i < kBytes; ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
  const uint16_t pattern16 = 0xBEEF;
  const uint8_t pattern8 = 0x5A;
  // h2d, then a 2-byte fill over [2, 2+1000), then a 1-byte fill at the tail, d2d, d2h.
  ASSERT_EQ(code_of(api_->copy_host_to_device(stream, {a, 0}, src.data(), kBytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->fill(stream, {a, 2}, 1000, &pattern16, 2)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->fill(stream, {a, kBytes - 3}, 3, &pattern8, 1)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_device_to_device(stream, {b, 0}, {a, 0}, kBytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_device_to_host(stream, dst.data(), {b, 0}, kBytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->stream_synchronize(stream)), XINHE_STATUS_OK);
  int done = 0;
  ASSERT_EQ(code_of(api_->stream_query(stream, &done)), XINHE_STATUS_OK);
  EXPECT_EQ(done, 1);
  std::vector<unsigned char> want = src;
  for (uint64_t i = 2; i < 1002; i += 2) std::memcpy(&want[i], &pattern16, 2);
  for (uint64_t i = kBytes - 3; i < kBytes; ++i) want[i] = pattern8;
  EXPECT_EQ(dst, want);
  api_->stream_destroy(stream);
  api_->buffer_free(a);
  api_->buffer_free(b);
}

TEST_F(CpuBackendTest, EventsOrderTwoStreamsAndTime) {
  constexpr uint64_t kBytes = 1 << 20;
  xinhe_be_buffer_t a = alloc(kBytes), b = alloc(kBytes);
  xinhe_be_stream_t s1 = nullptr, s2 = nullptr;
  ASSERT_EQ(code_of(api_->stream_create(device_, &s1)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->stream_create(device_, &s2)), XINHE_STATUS_OK);
  xinhe_be_event_t start = nullptr, produced = nullptr;
  ASSERT_EQ(code_of(api_->event_create(device_, &start)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->event_create(device_, &produced)), XINHE_STATUS_OK);
  for (int round = 0; round < 20; ++round) {  // re-recording must keep working
    std::vector<unsigned char> src(kBytes, static_cast<unsigned char>(round + 1)), dst(kBytes, 0);
    ASSERT_EQ(code_of(api_->event_record(start, s1)), XINHE_STATUS_OK);
    ASSERT_EQ(code_of(api_->copy_host_to_device(s1, {a, 0}, src.data(), kBytes)), XINHE_STATUS_OK);
    ASSERT_EQ(code_of(api_->event_record(produced, s1)), XINHE_STATUS_OK);
    // s2 consumes what s1 produced only after the event.
    ASSERT_EQ(code_of(api_->stream_wait_event(s2, produced)), XINHE_STATUS_OK);
    ASSERT_EQ(code_of(api_->copy_device_to_device(s2, {b, 0}, {a, 0}, kBytes)), XINHE_STATUS_OK);
    ASSERT_EQ(code_of(api_->copy_device_to_host(s2, dst.data(), {b, 0}, kBytes)), XINHE_STATUS_OK);
    ASSERT_EQ(code_of(api_->stream_synchronize(s2)), XINHE_STATUS_OK);
    ASSERT_EQ(dst, src) << "round " << round;
    ASSERT_EQ(code_of(api_->event_synchronize(produced)), XINHE_STATUS_OK);
    int done = 0;
    ASSERT_EQ(code_of(api_->event_query(produced, &done)), XINHE_STATUS_OK);
    EXPECT_EQ(done, 1);
    float ms = -1.0f;
    ASSERT_EQ(code_of(api_->event_elapsed_ms(start, produced, &ms)), XINHE_STATUS_OK);
    EXPECT_GE(ms, 0.0f);
    EXPECT_LT(ms, 10000.0f);
  }
  api_->event_destroy(start);
  api_->event_destroy(produced);
  api_->stream_destroy(s1);
  api_->stream_destroy(s2);
  api_->buffer_free(a);
  api_->buffer_free(b);
}

TEST_F(CpuBackendTest, AttentionDispatchFilterAndLog) {
  const auto desc = attention_desc(XINHE_DTYPE_F32, 1, 2, 1, 17, 40, 32, true, true, Layout::kBhsd);
  xinhe_be_op_desc_t op_desc{sizeof(op_desc), XINHE_OP_ATTENTION, nullptr, &desc};
  g_host.set_verbose("dispatch");
  g_host.clear_logs();
  g_host.set_impl_filter(XINHE_OP_ATTENTION, "reference");
  xinhe_be_op_t op = nullptr;
  ASSERT_EQ(code_of(api_->op_create(device_, &op_desc, &op)), XINHE_STATUS_OK);
  EXPECT_STREQ(api_->op_impl_name(op), "cpu.attention.reference_f32");
  EXPECT_EQ(code_of(api_->op_check(op)), XINHE_STATUS_OK);
  const std::vector<std::string> log = g_host.logs();
  ASSERT_EQ(log.size(), 1u);
  // Every entry before the reference is named in list order with why it was skipped.
  EXPECT_NE(log[0].find(" -> cpu.attention.reference_f32; skipped cpu.attention.flash_f32_"),
            std::string::npos)
      << log[0];
  EXPECT_NE(
      log[0].find("; skipped cpu.attention.flash_f32_avx2: not named like "
                    "XINHE_ATTENTION_IMPL='reference'; skipped cpu.attention.fused_f32_avx2: "
                    "not named like XINHE_ATTENTION_IMPL='reference'; skipped "
                    "cpu.attention.fused_f32_portable: not named like"),
      std::string::npos)
      << log[0];
  api_->op_destroy(op);

  g_host.set_impl_filter(XINHE_OP_ATTENTION, "no_such_impl");
  ASSERT_EQ(code_of(api_->op_create(device_, &op_desc, &op)), XINHE_STATUS_OK);
  std::string message;
  EXPECT_EQ(code_of(api_->op_check(op), &message), XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_NE(message.find("none is named like XINHE_ATTENTION_IMPL='no_such_impl'"),
            std::string::npos)
      << message;
  api_->op_destroy(op);
  g_host.set_impl_filter(XINHE_OP_ATTENTION, "");
  g_host.set_verbose("all");
}

TEST_F(CpuBackendTest, AttentionRunOutlivesOpDestroy) {
  const auto desc = attention_desc(XINHE_DTYPE_F32, 2, 4, 2, 50, 70, 64, true, true, Layout::kBshd);
  xinhe_be_op_desc_t op_desc{sizeof(op_desc), XINHE_OP_ATTENTION, nullptr, &desc};
  xinhe_be_op_t op = nullptr;
  ASSERT_EQ(code_of(api_->op_create(device_, &op_desc, &op)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->op_check(op)), XINHE_STATUS_OK);
  uint64_t workspace_bytes = 0;
  ASSERT_EQ(code_of(api_->op_workspace_size(op, &workspace_bytes)), XINHE_STATUS_OK);

  HostArray q(XINHE_DTYPE_F32, q_elements(desc)), k(XINHE_DTYPE_F32, kv_elements(desc, desc.k_strides)),
      v(XINHE_DTYPE_F32, kv_elements(desc, desc.v_strides)), o(XINHE_DTYPE_F32, o_elements(desc)),
      lse(XINHE_DTYPE_F32, lse_elements(desc));
  fill_random(q, 11);
  fill_random(k, 12);
  fill_random(v, 13);
  o.poison();
  lse.poison();
  const uint64_t q_bytes = q.count * 4, k_bytes = k.count * 4, v_bytes = v.count * 4,
                 o_bytes = o.count * 4, lse_bytes = lse.count * 4;
  xinhe_be_buffer_t bq = alloc(q_bytes), bk = alloc(k_bytes), bv = alloc(v_bytes), bo = alloc(o_bytes),
                    bl = alloc(lse_bytes), bw = alloc(workspace_bytes + 12);
  xinhe_be_stream_t stream = nullptr;
  ASSERT_EQ(code_of(api_->stream_create(device_, &stream)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_host_to_device(stream, {bq, 0}, q.data(), q_bytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_host_to_device(stream, {bk, 0}, k.data(), k_bytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_host_to_device(stream, {bv, 0}, v.data(), v_bytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_host_to_device(stream, {bo, 0}, o.data(), o_bytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_host_to_device(stream, {bl, 0}, lse.data(), lse_bytes)), XINHE_STATUS_OK);
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.kind = XINHE_OP_ATTENTION;
  args.mem[XINHE_ATTENTION_ARG_Q] = {bq, 0};
  args.mem[XINHE_ATTENTION_ARG_K] = {bk, 0};
  args.mem[XINHE_ATTENTION_ARG_V] = {bv, 0};
  args.mem[XINHE_ATTENTION_ARG_O] = {bo, 0};
  args.mem[XINHE_ATTENTION_ARG_LSE] = {bl, 0};
  args.mem[XINHE_ATTENTION_ARG_WORKSPACE] = {bw, 12};  // deliberately not 64-byte aligned
  ASSERT_EQ(code_of(api_->op_run(op, stream, &args)), XINHE_STATUS_OK);
  api_->op_destroy(op);  // the queued run keeps the op state alive
  ASSERT_EQ(code_of(api_->copy_device_to_host(stream, o.data(), {bo, 0}, o_bytes)), XINHE_STATUS_OK);
  ASSERT_EQ(code_of(api_->copy_device_to_host(stream, lse.data(), {bl, 0}, lse_bytes)), XINHE_STATUS_OK);
  api_->stream_destroy(stream);  // drains first

  const int64_t rows = desc.batch * desc.heads_q * desc.seq_q;
  std::vector<double> o_ref(rows * desc.head_dim), lse_ref(rows);
  reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(), lse_ref.data());
  for (int64_t b = 0; b < desc.batch; ++b)
    for (int64_t h = 0; h < desc.heads_q; ++h)
      for (int64_t i = 0; i < desc.seq_q; ++i) {
        const int64_t row = (b * desc.heads_q + h) * desc.seq_q + i;
        for (int64_t x = 0; x < desc.head_dim; ++x) {
          const double got = o.get(b * desc.o_strides[0] + h * desc.o_strides[1] + i * desc.o_strides[2] + x);
          ASSERT_NEAR(got, o_ref[row * desc.head_dim + x], 1e-4) << row << "," << x;
        }
        const double got_lse = lse.get(b * desc.lse_strides[0] + h * desc.lse_strides[1] + i);
        ASSERT_NEAR(got_lse, lse_ref[row], 1e-4 * std::max(1.0, std::fabs(lse_ref[row])));
      }
  for (auto* buf : {bq, bk, bv, bo, bl, bw}) api_->buffer_free(buf);
}


TEST_F(CpuBackendTest, OneOpOnTwoStreamsConcurrently) {
  // Op handles are immutable and may run on several streams at once; both streams share the
  // backend's thread pool. Each stream gets its own inputs, outputs and workspace.
  const auto desc = attention_desc(XINHE_DTYPE_F16, 1, 4, 4, 100, 130, 64, false, false, Layout::kBhsd);
  xinhe_be_op_desc_t op_desc{sizeof(op_desc), XINHE_OP_ATTENTION, nullptr, &desc};
  xinhe_be_op_t op = nullptr;
  ASSERT_EQ(code_of(api_->op_create(device_, &op_desc, &op)), XINHE_STATUS_OK);
  uint64_t workspace_bytes = 0;
  ASSERT_EQ(code_of(api_->op_workspace_size(op, &workspace_bytes)), XINHE_STATUS_OK);
  struct PerStream {
    HostArray q, k, v, o;
    xinhe_be_buffer_t bq, bk, bv, bo, bw;
    xinhe_be_stream_t stream;
  };
  PerStream runs[2];
  for (int s = 0; s < 2; ++s) {
    PerStream& r = runs[s];
    r.q = HostArray(desc.dtype, q_elements(desc));
    r.k = HostArray(desc.dtype, kv_elements(desc, desc.k_strides));
    r.v = HostArray(desc.dtype, kv_elements(desc, desc.v_strides));
    r.o = HostArray(desc.dtype, o_elements(desc));
    fill_random(r.q, 20 + s);
    fill_random(r.k, 30 + s);
    fill_random(r.v, 40 + s);
    r.o.poison();
    r.bq = alloc(r.q.bytes.size());
    r.bk = alloc(r.k.bytes.size());
    r.bv = alloc(r.v.bytes.size());
    r.bo = alloc(r.o.bytes.size());
    r.bw = alloc(workspace_bytes);
    ASSERT_EQ(code_of(api_->stream_create(device_, &r.stream)), XINHE_STATUS_OK);
  }
  for (int round = 0; round < 3; ++round) {
    for (PerStream& r : runs) {
      ASSERT_EQ(code_of(api_->copy_host_to_device(r.stream, {r.bq, 0}, r.q.data(), r.q.bytes.size())), XINHE_STATUS_OK);
      ASSERT_EQ(code_of(api_->copy_host_to_device(r.stream, {r.bk, 0}, r.k.data(), r.k.bytes.size())), XINHE_STATUS_OK);
      ASSERT_EQ(code_of(api_->copy_host_to_device(r.stream, {r.bv, 0}, r.v.data(), r.v.bytes.size())), XINHE_STATUS_OK);
      ASSERT_EQ(code_of(api_->copy_host_to_device(r.stream, {r.bo, 0}, r.o.data(), r.o.bytes.size())), XINHE_STATUS_OK);
      xinhe_be_op_args_t args{};
      args.struct_size = sizeof(args);
      args.kind = XINHE_OP_ATTENTION;
      args.mem[XINHE_ATTENTION_ARG_Q] = {r.bq, 0};
      args.mem[XINHE_ATTENTION_ARG_K] = {r.bk, 0};
      args.mem[XINHE_ATTENTION_ARG_V] = {r.bv, 0};
      args.mem[XINHE_ATTENTION_ARG_O] = {r.bo, 0};
      args.mem[XINHE_ATTENTION_ARG_WORKSPACE] = {r.bw, 0};
      ASSERT_EQ(code_of(api_->op_run(op, r.stream, &args)), XINHE_STATUS_OK);
    }
    for (PerStream& r : runs) {
      HostArray out(desc.dtype, r.o.count);
      ASSERT_EQ(code_of(api_->copy_device_to_host(r.stream, out.data(), {r.bo, 0}, out.bytes.size())), XINHE_STATUS_OK);
      ASSERT_EQ(code_of(api_->stream_synchronize(r.stream)), XINHE_STATUS_OK);
      std::vector<double> o_ref(static_cast<size_t>(out.count));
      reference::attention(desc, r.q.data(), r.k.data(), r.v.data(), o_ref.data(), nullptr);
      double max_ref = 0.0;
      for (double x : o_ref) max_ref = std::max(max_ref, std::fabs(x));
      for (int64_t i = 0; i < out.count; ++i) ASSERT_NEAR(out.get(i), o_ref[i], 2e-3 * max_ref) << i;
    }
  }
  api_->op_destroy(op);
  for (PerStream& r : runs) {
    api_->stream_destroy(r.stream);
    for (auto* buf : {r.bq, r.bk, r.bv, r.bo, r.bw}) api_->buffer_free(buf);
  }
}

}  // namespace
}  // namespace xinhe::test
