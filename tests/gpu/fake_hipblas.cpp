// A stand-in for libhipblas, for tests on machines without ROCm: exports the four entry points
// the HIP plugin's vendor GEMM resolves (hipblasCreate, hipblasDestroy, hipblasSetStream,
// hipblasGemmStridedBatchedEx) with hipBLAS's C ABI, and computes on HOST memory what the real
// library computes on the device: the column-major strided-batched GEMM of the BLAS definition,
//   C_i = alpha op(A_i) op(B_i) + beta C_i  (C not read when beta == 0),
// accumulated in double and rounded to C's type. It validates what hipBLAS validates (enum
// values, leading dimensions against the column-major shapes, a live handle), so a wrong
// operand swap, transpose or enum value in the plugin's table fails the test instead of passing.
// Written from the BLAS definition only; shares no code with the row-major reference it is
// compared against (tests/gpu/vendor_blas_test.cpp).
//
// Streams: rocBLAS requires the old stream to be synchronized before a handle is switched to
// another one (GEMMs still queued there share the handle's workspace). This library runs
// everything at once and cannot see synchronizations, so it counts every switch of a handle
// that has run a GEMM to another stream as unsafe (xinhe_fake_hipblas_unsafe_switches), and
// records the handle and stream of each GEMM.
#include <cstdint>
#include <cstdlib>

#include "reference.h"

namespace {

enum Status : int { kSuccess = 0, kInvalidValue = 3, kHandleIsNullptr = 9, kInvalidEnum = 10 };

struct FakeHandle {
  void* stream = nullptr;
  bool ran_gemm = false;  // a GEMM was enqueued on `stream`
};

int g_live_handles = 0;
void* g_last_stream = nullptr;
void* g_last_handle = nullptr;
int g_gemm_calls = 0;
int g_unsafe_switches = 0;

bool dtype_of(int hipblas_type, xinhe_dtype_t* out) {
  switch (hipblas_type) {
    case 150:  // HIPBLAS_R_16F
      *out = XINHE_DTYPE_F16;
      return true;
    case 151:  // HIPBLAS_R_32F
      *out = XINHE_DTYPE_F32;
      return true;
    case 168:  // HIPBLAS_R_16B
      *out = XINHE_DTYPE_BF16;
      return true;
    default:
      return false;
  }
}

int64_t at_least_one(int64_t v) { return v > 1 ? v : 1; }

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int hipblasCreate(void** handle) {
  if (handle == nullptr) return kHandleIsNullptr;
  *handle = new FakeHandle;
  ++g_live_handles;
  return kSuccess;
}

__attribute__((visibility("default"))) int hipblasDestroy(void* handle) {
  if (handle == nullptr) return kHandleIsNullptr;
  delete static_cast<FakeHandle*>(handle);
  --g_live_handles;
  return kSuccess;
}

__attribute__((visibility("default"))) int hipblasSetStream(void* handle, void* stream) {
  if (handle == nullptr) return kHandleIsNullptr;
  FakeHandle* h = static_cast<FakeHandle*>(handle);
  if (h->ran_gemm && h->stream != stream) ++g_unsafe_switches;
  if (h->stream != stream) h->ran_gemm = false;
  h->stream = stream;
  return kSuccess;
}

__attribute__((visibility("default"))) int hipblasGemmStridedBatchedEx(
    void* handle, int trans_a, int trans_b, int m, int n, int k, const void* alpha, const void* a,
    int a_type, int lda, int64_t stride_a, const void* b, int b_type, int ldb, int64_t stride_b,
    const void* beta, void* c, int c_type, int ldc, int64_t stride_c, int batch, int compute_type,
    int algo) {
  if (handle == nullptr) return kHandleIsNullptr;
  xinhe_dtype_t ta, tb, tc;
  if ((trans_a != 111 && trans_a != 112) || (trans_b != 111 && trans_b != 112) ||
      !dtype_of(a_type, &ta) || !dtype_of(b_type, &tb) || !dtype_of(c_type, &tc) ||
      compute_type != 151 || algo != 160 || a_type != b_type) {
    return kInvalidEnum;
  }
  const bool ta_t = trans_a == 112, tb_t = trans_b == 112;
  // Column-major shapes: op(A) m x k, op(B) k x n, C m x n.
  if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < at_least_one(ta_t ? k : m) ||
      ldb < at_least_one(tb_t ? n : k) || ldc < at_least_one(m)) {
    return kInvalidValue;
  }
  g_last_stream = static_cast<FakeHandle*>(handle)->stream;
  g_last_handle = handle;
  static_cast<FakeHandle*>(handle)->ran_gemm = true;
  ++g_gemm_calls;
  const double al = *static_cast<const float*>(alpha);  // compute type f32: host float scalars
  const double be = *static_cast<const float*>(beta);
  for (int64_t bi = 0; bi < batch; ++bi) {
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < m; ++i) {
        double sum = 0.0;
        for (int64_t l = 0; l < k; ++l) {
          const int64_t ai = bi * stride_a + (ta_t ? l + i * lda : i + l * lda);
          const int64_t bj = bi * stride_b + (tb_t ? j + l * ldb : l + j * ldb);
          sum += xinhe::reference::load(ta, a, ai) * xinhe::reference::load(tb, b, bj);
        }
        const int64_t ci = bi * stride_c + i + j * ldc;
        const double old = be != 0.0 ? be * xinhe::reference::load(tc, c, ci) : 0.0;
        xinhe::reference::store(tc, c, ci, al * sum + old);
      }
    }
  }
  return kSuccess;
}

// Test hooks, not part of hipBLAS.
__attribute__((visibility("default"))) int xinhe_fake_hipblas_live_handles() {
  return g_live_handles;
}
__attribute__((visibility("default"))) void* xinhe_fake_hipblas_last_stream() {
  return g_last_stream;
}
__attribute__((visibility("default"))) int xinhe_fake_hipblas_gemm_calls() { return g_gemm_calls; }
__attribute__((visibility("default"))) void* xinhe_fake_hipblas_last_handle() {
  return g_last_handle;
}
__attribute__((visibility("default"))) int xinhe_fake_hipblas_unsafe_switches() {
  return g_unsafe_switches;
}

}  // extern "C"
