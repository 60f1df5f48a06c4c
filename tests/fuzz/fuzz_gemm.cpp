// libFuzzer target: GEMM descriptions and runs through the public API on cpu:0.
//
// Each input becomes a description (sizes mostly small, sometimes values chosen to break size
// arithmetic: 2^60, INT64_MAX, -1...), an implementation filter (XINHE_GEMM_IMPL) and run
// arguments. create must succeed or say INVALID_ARGUMENT; check must succeed or say
// UNIMPLEMENTED. When the operands are small enough to allocate, the op runs with canaries
// around every operand and NaN in C when beta is 0, and every element of C is compared with a
// float64 reference; bytes of C's buffer that are not elements of C must be untouched.
#include <algorithm>

#include "fuzz_common.h"

namespace {

using namespace xinhe_fuzz;

// Elements spanned by batch matrices of rows x cols with ld and stride; false on overflow.
bool span(int64_t batch, int64_t rows, int64_t cols, int64_t ld, int64_t stride, uint64_t* out) {
  if (batch <= 0 || rows <= 0 || cols <= 0) {
    *out = 0;
    return batch >= 0 && rows >= 0 && cols >= 0;
  }
  uint64_t a = 0, b = 0, total = 0;
  if (ld < 0 || stride < 0) return false;
  if (__builtin_mul_overflow(static_cast<uint64_t>(batch - 1), static_cast<uint64_t>(stride), &a) ||
      __builtin_mul_overflow(static_cast<uint64_t>(rows - 1), static_cast<uint64_t>(ld), &b) ||
      __builtin_add_overflow(a, b, &total) ||
      __builtin_add_overflow(total, static_cast<uint64_t>(cols), &total)) {
    return false;
  }
  *out = total;
  return true;
}

int64_t mul_or(int64_t a, int64_t b, int64_t fallback) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? fallback : r;
}
int64_t add_or(int64_t a, int64_t b, int64_t fallback) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? fallback : r;
}

size_t esize(xinhe_dtype_t t) { return xinhe_dtype_size(t); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // Not onednn: the vendor library's OpenMP threads outlive the run, and LeakSanitizer's exit
  // check crashes walking them (it is not xinhe code under test either).
  static const char* const kImpls[] = {"",         "",           "reference", "_portable", "_avx2",
                                       "_avx512f", "avx512bf16", "openblas",  "no-such-impl"};
  setenv("XINHE_GEMM_IMPL", in.PickValueInArray(kImpls), 1);

  xinhe_gemm_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  static const int32_t kDtypes[] = {
      XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16, XINHE_DTYPE_F32, XINHE_DTYPE_F64, 77, -1};
  const int32_t ab = in.PickValueInArray(kDtypes);
  const int32_t c = in.ConsumeBool() ? ab : in.PickValueInArray(kDtypes);
  std::memcpy(&d.ab_dtype, &ab, sizeof(ab));  // enum fields may hold any int (C callers)
  std::memcpy(&d.c_dtype, &c, sizeof(c));
  d.trans_a = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? 2 : in.ConsumeBool();
  d.trans_b = in.ConsumeBool();
  d.m = size_value(in, 0, 24);
  d.n = size_value(in, 0, 24);
  d.k = size_value(in, 0, 40);
  d.batch = size_value(in, 1, 3);
  const int64_t a_rows = d.trans_a ? d.k : d.m, a_cols = d.trans_a ? d.m : d.k;
  const int64_t b_rows = d.trans_b ? d.n : d.k, b_cols = d.trans_b ? d.k : d.n;
  d.lda = add_or(a_cols, size_value(in, 0, 3), INT64_MAX);
  d.ldb = add_or(b_cols, size_value(in, 0, 3), INT64_MAX);
  d.ldc = add_or(d.n, size_value(in, 0, 3), INT64_MAX);
  auto batch_stride = [&](int64_t rows, int64_t ld, bool may_broadcast) -> int64_t {
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
        return may_broadcast ? 0 : mul_or(rows, ld, INT64_MAX);
      case 1:
        return add_or(mul_or(rows, ld, INT64_MAX), in.ConsumeIntegralInRange<int64_t>(0, 5),
                      INT64_MAX);
      case 2:
        return size_value(in, 0, 64);
      default:
        return mul_or(rows, ld, INT64_MAX);
    }
  };
  d.stride_a = batch_stride(a_rows, d.lda, true);
  d.stride_b = batch_stride(b_rows, d.ldb, true);
  d.stride_c = batch_stride(d.m, d.ldc, false);
  static const float kScalars[] = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f, -0.25f};
  const float alpha = in.PickValueInArray(kScalars);
  const float beta = in.PickValueInArray(kScalars);
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();

  Cpu& dev = cpu();
  xinhe_gemm_t gemm = nullptr;
  if (expect_code(xinhe_gemm_create(dev.device, &d, &gemm), "xinhe_gemm_create",
                  {XINHE_STATUS_OK, XINHE_STATUS_INVALID_ARGUMENT}) != XINHE_STATUS_OK) {
    return 0;
  }
  const xinhe_status_code_t check = expect_code(xinhe_gemm_check(gemm), "xinhe_gemm_check",
                                                {XINHE_STATUS_OK, XINHE_STATUS_UNIMPLEMENTED});
  uint64_t workspace = 0;
  expect_code(xinhe_gemm_workspace_size(gemm, &workspace), "xinhe_gemm_workspace_size",
              {XINHE_STATUS_OK});
  if (xinhe_gemm_impl_name(gemm) == nullptr) finding("gemm impl name is NULL");

  uint64_t a_elems = 0, b_elems = 0, c_elems = 0;
  const bool small =
      check == XINHE_STATUS_OK && span(d.batch, a_rows, a_cols, d.lda, d.stride_a, &a_elems) &&
      span(d.batch, b_rows, b_cols, d.ldb, d.stride_b, &b_elems) &&
      span(d.batch, d.m, d.n, d.ldc, d.stride_c, &c_elems) && a_elems <= kMaxRunBytes / 8 &&
      b_elems <= kMaxRunBytes / 8 && c_elems <= kMaxRunBytes / 8 && workspace <= 8 * kMaxRunBytes &&
      c_elems > 0;  // an empty C: nothing to compare (and batch may then be 2^60)
  if (!small) {
    xinhe_gemm_destroy(gemm);
    return 0;
  }
  const xinhe_dtype_t abt = d.ab_dtype, ct = d.c_dtype;
  Operand a, b, cbuf, ws;
  std::vector<unsigned char> values(std::max(a_elems, b_elems) * 8 + 8);
  fill_values(abt, values.data(), a_elems, seed);
  a.make(a_elems * esize(abt), [&](uint64_t i) { return values[i]; });
  fill_values(abt, values.data(), b_elems, seed + 1);
  b.make(b_elems * esize(abt), [&](uint64_t i) { return values[i]; });
  std::vector<unsigned char> c_values(c_elems * 8 + 8);
  fill_values(ct, c_values.data(), c_elems, seed + 2);
  // beta == 0: C must not be read, so it starts as NaN (0xff bytes are NaN in every dtype).
  cbuf.make(c_elems * esize(ct), [&](uint64_t i) {
    return beta == 0.0f ? static_cast<unsigned char>(0xff) : c_values[i];
  });
  ws.make(workspace, [](uint64_t) { return static_cast<unsigned char>(0x5c); });

  xinhe_gemm_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.a = a.buffer;
  args.a_offset = a.offset();
  args.b = b.buffer;
  args.b_offset = b.offset();
  args.c = cbuf.buffer;
  args.c_offset = cbuf.offset();
  args.workspace = ws.buffer;
  args.workspace_offset = ws.offset();
  args.alpha = alpha;
  args.beta = beta;
  expect_code(xinhe_gemm_run(gemm, dev.stream, &args), "xinhe_gemm_run", {XINHE_STATUS_OK});
  const std::vector<unsigned char> c_after = download(cbuf);
  const std::vector<unsigned char> ws_after = download(ws);
  check_canaries(c_after, "C");
  check_canaries(ws_after, "the workspace");
  check_canaries(download(a), "A");
  check_canaries(download(b), "B");

  // Every element of C against the float64 reference; every other byte of C's extent as it was.
  std::vector<bool> is_element(c_elems, false);
  const double eps_acc = 2.0 * 1.1920928955078125e-07;
  const double eps_out = ct == XINHE_DTYPE_F32 ? 0.0 : ct == XINHE_DTYPE_F16 ? 9.8e-4 : 7.9e-3;
  const unsigned char* c_got = c_after.data() + kCanaryBytes;
  for (int64_t batch = 0; batch < d.batch; ++batch) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        const uint64_t ci = batch * d.stride_c + i * d.ldc + j;
        is_element[ci] = true;
        double sum = 0.0, magnitude = 0.0;
        for (int64_t kk = 0; kk < d.k; ++kk) {
          const uint64_t ai = batch * d.stride_a + (d.trans_a ? kk * d.lda + i : i * d.lda + kk);
          const uint64_t bi = batch * d.stride_b + (d.trans_b ? j * d.ldb + kk : kk * d.ldb + j);
          const double av = load(abt, a.data(), ai), bv = load(abt, b.data(), bi);
          sum += av * bv;
          magnitude += std::fabs(av * bv);
        }
        double want = alpha * sum;
        double scale = std::fabs(alpha) * magnitude;
        if (beta != 0.0f) {
          const double c0 = load(ct, cbuf.data(), ci);
          want += beta * c0;
          scale += std::fabs(beta * c0);
        }
        const double got = load(ct, c_got, ci);
        const double bound = (d.k + 2) * eps_acc * scale + eps_out * std::fabs(want) + 1e-30;
        if (!(std::fabs(got - want) <= bound)) {
          char text[256];
          std::snprintf(text, sizeof(text),
                        "%s: C[%lld][%lld][%lld] = %.9g, float64 reference %.9g (bound %.3g)",
                        xinhe_gemm_impl_name(gemm), static_cast<long long>(batch),
                        static_cast<long long>(i), static_cast<long long>(j), got, want, bound);
          finding(text);
        }
      }
    }
  }
  const size_t es = esize(ct);
  for (uint64_t e = 0; e < c_elems; ++e) {
    if (is_element[e]) continue;
    if (std::memcmp(c_got + e * es, cbuf.data() + e * es, es) != 0) {
      finding(std::string(xinhe_gemm_impl_name(gemm)) + ": C's buffer written between elements");
    }
  }
  xinhe_gemm_destroy(gemm);
  return 0;
}
