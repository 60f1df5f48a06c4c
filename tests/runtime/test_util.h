// Helpers shared by the runtime tests: owning wrappers for statuses and handles, assertions on
// status codes, and small host-side data helpers (random fill, float64 GEMM reference).
#ifndef XINHE_TESTS_RUNTIME_TEST_UTIL_H_
#define XINHE_TESTS_RUNTIME_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "xinhe/xinhe.h"

namespace xinhe_test {

struct StatusDeleter {
  void operator()(xinhe_status_s* s) const { xinhe_status_free(s); }
};
using StatusPtr = std::unique_ptr<xinhe_status_s, StatusDeleter>;

// Fails the test with the full status text when status is not OK; frees it.
#define XH_ASSERT_OK(expr)                                                                  \
  do {                                                                                      \
    ::xinhe_test::StatusPtr status_(expr);                                                  \
    ASSERT_EQ(status_, nullptr) << #expr << " -> "                                          \
                                << xinhe_status_code_name(xinhe_status_code(status_.get())) \
                                << ": " << xinhe_status_message(status_.get());             \
  } while (0)

// Asserts the exact code and a non-empty message; frees the status.
#define XH_EXPECT_CODE(expr, expected_code)                                                    \
  do {                                                                                         \
    ::xinhe_test::StatusPtr status_(expr);                                                     \
    EXPECT_EQ(xinhe_status_code(status_.get()), (expected_code))                               \
        << #expr << " -> " << xinhe_status_code_name(xinhe_status_code(status_.get())) << ": " \
        << xinhe_status_message(status_.get());                                                \
    if (status_ != nullptr) {                                                                  \
      EXPECT_STRNE(xinhe_status_message(status_.get()), "") << #expr;                          \
      EXPECT_STRNE(xinhe_status_call(status_.get()), "") << #expr;                             \
    }                                                                                          \
  } while (0)

#define XH_EXPECT_INVALID(expr) XH_EXPECT_CODE(expr, XINHE_STATUS_INVALID_ARGUMENT)

// Returns the status message (and frees the status) for checks on its text.
inline std::string take_message(xinhe_status_t status) {
  std::string message = xinhe_status_message(status);
  xinhe_status_free(status);
  return message;
}

inline xinhe_device_t device_named(const char* name) {
  xinhe_device_t device = nullptr;
  StatusPtr status(xinhe_device_get_by_name(name, &device));
  EXPECT_EQ(status, nullptr) << name << ": " << xinhe_status_message(status.get());
  return device;
}

struct Stream {
  xinhe_stream_t handle = nullptr;
  explicit Stream(xinhe_device_t device) {
    StatusPtr status(xinhe_stream_create(device, &handle));
    EXPECT_EQ(status, nullptr) << xinhe_status_message(status.get());
  }
  ~Stream() { xinhe_stream_destroy(handle); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

struct Buffer {
  xinhe_buffer_t handle = nullptr;
  Buffer(xinhe_device_t device, uint64_t size) {
    StatusPtr status(xinhe_buffer_alloc(device, size, 0, &handle));
    EXPECT_EQ(status, nullptr) << xinhe_status_message(status.get());
  }
  ~Buffer() { xinhe_buffer_free(handle); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

struct Event {
  xinhe_event_t handle = nullptr;
  explicit Event(xinhe_device_t device) {
    StatusPtr status(xinhe_event_create(device, &handle));
    EXPECT_EQ(status, nullptr) << xinhe_status_message(status.get());
  }
  ~Event() { xinhe_event_destroy(handle); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

inline std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// A byte pattern that no kernel produces by accident (a NaN for f32).
constexpr uint8_t kPoisonByte = 0xA5;

// Uploads bytes to a fresh buffer and waits.
inline void upload(xinhe_stream_t stream, xinhe_buffer_t buffer, const void* data, size_t bytes) {
  XH_ASSERT_OK(xinhe_copy_host_to_device(stream, buffer, 0, data, bytes));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream));
}

inline std::vector<uint8_t> download(xinhe_stream_t stream, xinhe_buffer_t buffer) {
  std::vector<uint8_t> bytes(xinhe_buffer_size(buffer));
  StatusPtr copy(xinhe_copy_device_to_host(stream, bytes.data(), buffer, 0, bytes.size()));
  EXPECT_EQ(copy, nullptr) << xinhe_status_message(copy.get());
  StatusPtr sync(xinhe_stream_synchronize(stream));
  EXPECT_EQ(sync, nullptr) << xinhe_status_message(sync.get());
  return bytes;
}

// A contiguous f32 GEMM description (no transposes, batch 1).
inline xinhe_gemm_desc_t gemm_desc_f32(int64_t m, int64_t n, int64_t k) {
  xinhe_gemm_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.ab_dtype = XINHE_DTYPE_F32;
  d.c_dtype = XINHE_DTYPE_F32;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = 1;
  d.lda = k > 0 ? k : 1;
  d.ldb = n > 0 ? n : 1;
  d.ldc = n > 0 ? n : 1;
  return d;
}

// float64 reference for a row-major GEMM with the same conventions as ops.h.
inline std::vector<double> gemm_reference(const xinhe_gemm_desc_t& d, const std::vector<float>& a,
                                          const std::vector<float>& b,
                                          const std::vector<float>& c_in, float alpha, float beta) {
  std::vector<double> c(c_in.begin(), c_in.end());
  for (int64_t bt = 0; bt < d.batch; ++bt) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < d.k; ++p) {
          const double av =
              d.trans_a ? a[bt * d.stride_a + p * d.lda + i] : a[bt * d.stride_a + i * d.lda + p];
          const double bv =
              d.trans_b ? b[bt * d.stride_b + j * d.ldb + p] : b[bt * d.stride_b + p * d.ldb + j];
          acc += av * bv;
        }
        double& out = c[bt * d.stride_c + i * d.ldc + j];
        out = alpha * acc + (beta == 0.0f ? 0.0 : beta * out);
      }
    }
  }
  return c;
}

// Runs an f32 GEMM op on its device with fresh buffers of a, b and c_in (and the workspace
// the op asks for) and reads C back into *c_out. Fatal failures end the caller's test through
// ASSERT_NO_FATAL_FAILURE.
inline void run_f32_gemm(xinhe_device_t device, xinhe_gemm_t gemm, const std::vector<float>& a,
                         const std::vector<float>& b, const std::vector<float>& c_in, float alpha,
                         float beta, std::vector<float>* c_out) {
  uint64_t workspace_bytes = 0;
  XH_ASSERT_OK(xinhe_gemm_workspace_size(gemm, &workspace_bytes));
  Stream stream(device);
  Buffer a_buf(device, a.size() * 4), b_buf(device, b.size() * 4), c_buf(device, c_in.size() * 4);
  Buffer ws(device, workspace_bytes > 0 ? workspace_bytes : 1);
  upload(stream.handle, a_buf.handle, a.data(), a.size() * 4);
  upload(stream.handle, b_buf.handle, b.data(), b.size() * 4);
  upload(stream.handle, c_buf.handle, c_in.data(), c_in.size() * 4);
  xinhe_gemm_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.a = a_buf.handle;
  args.b = b_buf.handle;
  args.c = c_buf.handle;
  args.workspace = workspace_bytes > 0 ? ws.handle : nullptr;
  args.alpha = alpha;
  args.beta = beta;
  XH_ASSERT_OK(xinhe_gemm_run(gemm, stream.handle, &args));
  c_out->assign(c_in.size(), 0.0f);
  XH_ASSERT_OK(
      xinhe_copy_device_to_host(stream.handle, c_out->data(), c_buf.handle, 0, c_in.size() * 4));
  XH_ASSERT_OK(xinhe_stream_synchronize(stream.handle));
}

}  // namespace xinhe_test

#endif  // XINHE_TESTS_RUNTIME_TEST_UTIL_H_
