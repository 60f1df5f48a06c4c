// libFuzzer target: attention descriptions and runs through the public API on cpu:0.
//
// Each input becomes a description (layouts BHSD or BSHD with padding, or arbitrary strides
// including 0; sizes mostly small, sometimes values chosen to break size arithmetic), an
// implementation filter (XINHE_ATTENTION_IMPL: flash or reference) and run arguments. create
// must succeed or say INVALID_ARGUMENT; check must succeed or say UNIMPLEMENTED. When the
// operands are small, the op runs with canaries around every operand and NaN in O and LSE, and
// every element of O (and LSE) is compared with a float64 softmax reference.
#include <algorithm>
#include <limits>

#include "fuzz_common.h"

namespace {

using namespace xinhe_fuzz;

// Elements spanned by sizes[i] with strides[i]; false on overflow or a negative value.
bool span(const int64_t* sizes, const int64_t* strides, int rank, uint64_t* out) {
  for (int i = 0; i < rank; ++i) {
    if (sizes[i] < 0 || strides[i] < 0) return false;
    if (sizes[i] == 0) {
      *out = 0;
      return true;
    }
  }
  uint64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    uint64_t term = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(sizes[i] - 1),
                               static_cast<uint64_t>(strides[i]), &term) ||
        __builtin_add_overflow(total, term, &total)) {
      return false;
    }
  }
  *out = total;
  return true;
}

int64_t mul_or(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

// Strides (b, h, s, d) of a [B, H, S, D] tensor: contiguous BHSD or BSHD with some padding of
// the row, or (rarely) arbitrary small or hostile values.
void make_strides(FuzzedDataProvider& in, int64_t heads, int64_t seq, int64_t dim, int64_t out[4]) {
  const int64_t pad = in.ConsumeIntegralInRange<int64_t>(0, 3);
  const int64_t row = dim + pad;
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:  // BHSD
      out[3] = 1, out[2] = row, out[1] = mul_or(seq, row), out[0] = mul_or(heads, out[1]);
      break;
    case 1:  // BSHD
      out[3] = 1, out[1] = row, out[2] = mul_or(heads, row), out[0] = mul_or(seq, out[2]);
      break;
    case 2:  // d not contiguous
      out[3] = 2, out[2] = 2 * row, out[1] = mul_or(seq, out[2]), out[0] = mul_or(heads, out[1]);
      break;
    default:
      for (int i = 0; i < 4; ++i) out[i] = size_value(in, 0, 40);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const char* const kImpls[] = {"",      "",         "reference", "flash",
                                       "_avx2", "_avx512f", "_portable", "nothing"};
  setenv("XINHE_ATTENTION_IMPL", in.PickValueInArray(kImpls), 1);

  xinhe_attention_desc_t d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  static const int32_t kDtypes[] = {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16,
                                    XINHE_DTYPE_F32, XINHE_DTYPE_F64, 9};
  const int32_t dtype = in.PickValueInArray(kDtypes);
  std::memcpy(&d.dtype, &dtype, sizeof(dtype));
  d.batch = size_value(in, 0, 2);
  d.heads_kv = size_value(in, 1, 3);
  d.heads_q = in.ConsumeIntegralInRange<int>(0, 15) == 0
                  ? size_value(in, 0, 7)
                  : mul_or(d.heads_kv, in.ConsumeIntegralInRange<int64_t>(0, 3));
  d.seq_q = size_value(in, 0, 9);
  d.seq_kv = size_value(in, 0, 13);
  static const int64_t kDims[] = {1, 2, 3, 7, 8, 16, 24, 64, 65, 128, 256, 257, 0};
  d.head_dim = in.PickValueInArray(kDims);
  make_strides(in, d.heads_q, d.seq_q, d.head_dim, d.q_strides);
  make_strides(in, d.heads_kv, d.seq_kv, d.head_dim, d.k_strides);
  make_strides(in, d.heads_kv, d.seq_kv, d.head_dim, d.v_strides);
  make_strides(in, d.heads_q, d.seq_q, d.head_dim, d.o_strides);
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) {
    d.k_strides[2] = 0;  // every key the same row: Skv is then bounded by nothing
    d.v_strides[2] = 0;
  }
  static const float kScales[] = {
      0.125f, 1.0f, 0.0f, -0.5f, 3.0f, 1e-3f, std::numeric_limits<float>::infinity()};
  d.scale = in.PickValueInArray(kScales);
  const int32_t mask = in.ConsumeIntegralInRange<int>(0, 10) == 0 ? 5 : in.ConsumeBool();
  std::memcpy(&d.mask, &mask, sizeof(mask));
  d.with_lse = in.ConsumeBool();
  d.lse_strides[2] = 1;
  d.lse_strides[1] =
      d.seq_q < INT64_MAX - 2 ? d.seq_q + in.ConsumeIntegralInRange<int64_t>(0, 2) : d.seq_q;
  d.lse_strides[0] = mul_or(d.heads_q, d.lse_strides[1]);
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();

  if (std::getenv("XINHE_FUZZ_PRINT") != nullptr) {
    std::fprintf(stderr,
                 "attention dtype %d B=%lld Hq=%lld Hkv=%lld Sq=%lld Skv=%lld D=%lld scale=%g "
                 "mask=%d lse=%d q(%lld,%lld,%lld,%lld) k(%lld,%lld,%lld,%lld) "
                 "v(%lld,%lld,%lld,%lld) o(%lld,%lld,%lld,%lld)\n",
                 dtype, (long long)d.batch, (long long)d.heads_q, (long long)d.heads_kv,
                 (long long)d.seq_q, (long long)d.seq_kv, (long long)d.head_dim, d.scale, mask,
                 d.with_lse, (long long)d.q_strides[0], (long long)d.q_strides[1],
                 (long long)d.q_strides[2], (long long)d.q_strides[3], (long long)d.k_strides[0],
                 (long long)d.k_strides[1], (long long)d.k_strides[2], (long long)d.k_strides[3],
                 (long long)d.v_strides[0], (long long)d.v_strides[1], (long long)d.v_strides[2],
                 (long long)d.v_strides[3], (long long)d.o_strides[0], (long long)d.o_strides[1],
                 (long long)d.o_strides[2], (long long)d.o_strides[3]);
  }
  Cpu& dev = cpu();
  xinhe_attention_t op = nullptr;
  if (expect_code(xinhe_attention_create(dev.device, &d, &op), "xinhe_attention_create",
                  {XINHE_STATUS_OK, XINHE_STATUS_INVALID_ARGUMENT}) != XINHE_STATUS_OK) {
    return 0;
  }
  const xinhe_status_code_t check = expect_code(xinhe_attention_check(op), "xinhe_attention_check",
                                                {XINHE_STATUS_OK, XINHE_STATUS_UNIMPLEMENTED});
  uint64_t workspace = 0;
  expect_code(xinhe_attention_workspace_size(op, &workspace), "xinhe_attention_workspace_size",
              {XINHE_STATUS_OK});
  const int64_t q_sizes[4] = {d.batch, d.heads_q, d.seq_q, d.head_dim};
  const int64_t kv_sizes[4] = {d.batch, d.heads_kv, d.seq_kv, d.head_dim};
  const int64_t lse_sizes[3] = {d.batch, d.heads_q, d.seq_q};
  uint64_t q_el = 0, k_el = 0, v_el = 0, o_el = 0, lse_el = 0;
  const bool small = check == XINHE_STATUS_OK && span(q_sizes, d.q_strides, 4, &q_el) &&
                     span(kv_sizes, d.k_strides, 4, &k_el) &&
                     span(kv_sizes, d.v_strides, 4, &v_el) &&
                     span(q_sizes, d.o_strides, 4, &o_el) &&
                     (!d.with_lse || span(lse_sizes, d.lse_strides, 3, &lse_el)) &&
                     std::max({q_el, k_el, v_el, o_el, lse_el}) <= kMaxRunBytes / 8 &&
                     d.seq_kv <= 4096 && workspace <= 8 * kMaxRunBytes &&
                     o_el > 0;  // an empty O: nothing to compare (and B may then be 2^60)
  if (!small) {
    xinhe_attention_destroy(op);
    return 0;
  }
  const xinhe_dtype_t dt = d.dtype;
  const size_t es = xinhe_dtype_size(dt);
  std::vector<unsigned char> values(std::max({q_el, k_el, v_el}) * 8 + 8);
  Operand q, k, v, o, lse, ws;
  fill_values(dt, values.data(), q_el, seed);
  q.make(q_el * es, [&](uint64_t i) { return values[i]; });
  fill_values(dt, values.data(), k_el, seed + 1);
  k.make(k_el * es, [&](uint64_t i) { return values[i]; });
  fill_values(dt, values.data(), v_el, seed + 2);
  v.make(v_el * es, [&](uint64_t i) { return values[i]; });
  o.make(o_el * es, [](uint64_t) { return static_cast<unsigned char>(0xff); });  // NaN
  lse.make(lse_el * 4, [](uint64_t) { return static_cast<unsigned char>(0xff); });
  ws.make(workspace, [](uint64_t) { return static_cast<unsigned char>(0x5c); });

  xinhe_attention_args_t args;
  std::memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.q = q.buffer, args.q_offset = q.offset();
  args.k = k.buffer, args.k_offset = k.offset();
  args.v = v.buffer, args.v_offset = v.offset();
  args.o = o.buffer, args.o_offset = o.offset();
  if (d.with_lse) args.lse = lse.buffer, args.lse_offset = lse.offset();
  args.workspace = ws.buffer, args.workspace_offset = ws.offset();
  expect_code(xinhe_attention_run(op, dev.stream, &args), "xinhe_attention_run", {XINHE_STATUS_OK});
  const std::vector<unsigned char> o_after = download(o), lse_after = download(lse);
  check_canaries(o_after, "O");
  check_canaries(lse_after, "LSE");
  check_canaries(download(ws), "the workspace");
  check_canaries(download(q), "Q");
  check_canaries(download(k), "K");
  check_canaries(download(v), "V");

  const double tol = dt == XINHE_DTYPE_F32 || dt == XINHE_DTYPE_F64 ? 2e-5
                     : dt == XINHE_DTYPE_F16                        ? 4e-3
                                                                    : 3e-2;
  const bool causal = d.mask == XINHE_ATTENTION_MASK_CAUSAL;
  const int64_t group = d.heads_q / d.heads_kv;
  std::vector<double> scores(static_cast<size_t>(d.seq_kv) + 1);
  std::vector<bool> o_element(o_el, false);
  const unsigned char* o_got = o_after.data() + kCanaryBytes;
  const unsigned char* lse_got = lse_after.data() + kCanaryBytes;
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t h = 0; h < d.heads_q; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < d.seq_q; ++i) {
        int64_t visible = d.seq_kv;
        if (causal) visible = std::clamp<int64_t>(i + d.seq_kv - d.seq_q + 1, 0, d.seq_kv);
        double max_score = -std::numeric_limits<double>::infinity();
        // Kernels accumulate Q.K in f32: each logit may be off by about D * 2^-23 times the
        // sum of |q_x k_x| (times |scale|), and O inherits up to twice that times max |V|.
        double logit_error = 0.0;
        for (int64_t j = 0; j < visible; ++j) {
          double dot = 0.0, magnitude = 0.0;
          for (int64_t x = 0; x < d.head_dim; ++x) {
            const double product = load(dt, q.data(),
                                        b * d.q_strides[0] + h * d.q_strides[1] +
                                            i * d.q_strides[2] + x * d.q_strides[3]) *
                                   load(dt, k.data(),
                                        b * d.k_strides[0] + hk * d.k_strides[1] +
                                            j * d.k_strides[2] + x * d.k_strides[3]);
            dot += product;
            magnitude += std::fabs(product);
          }
          scores[j] = dot * static_cast<double>(d.scale);
          max_score = std::max(max_score, scores[j]);
          logit_error = std::max(logit_error, 2.0 * (d.head_dim + 2) * 1.1920928955078125e-07 *
                                                  std::fabs(d.scale) * magnitude);
        }
        double denom = 0.0;
        for (int64_t j = 0; j < visible; ++j) denom += std::exp(scores[j] - max_score);
        double v_max = 0.0;
        for (int64_t x = 0; x < d.head_dim; ++x) {
          double acc = 0.0;
          for (int64_t j = 0; j < visible; ++j) {
            const double vv = load(
                dt, v.data(),
                b * d.v_strides[0] + hk * d.v_strides[1] + j * d.v_strides[2] + x * d.v_strides[3]);
            v_max = std::max(v_max, std::fabs(vv));
            acc += std::exp(scores[j] - max_score) * vv;
          }
          const double want = visible > 0 ? acc / denom : 0.0;
          const uint64_t oi =
              b * d.o_strides[0] + h * d.o_strides[1] + i * d.o_strides[2] + x * d.o_strides[3];
          o_element[oi] = true;
          const double got = load(dt, o_got, oi);
          if (!(std::fabs(got - want) <= tol * (1.0 + v_max) + 2.0 * logit_error * v_max)) {
            char text[256];
            std::snprintf(
                text, sizeof(text), "%s: O[%lld][%lld][%lld][%lld] = %.9g, float64 reference %.9g",
                xinhe_attention_impl_name(op), static_cast<long long>(b), static_cast<long long>(h),
                static_cast<long long>(i), static_cast<long long>(x), got, want);
            finding(text);
          }
        }
        if (d.with_lse) {
          const uint64_t li = b * d.lse_strides[0] + h * d.lse_strides[1] + i * d.lse_strides[2];
          float got = 0.0f;
          std::memcpy(&got, lse_got + li * 4, 4);
          if (visible == 0) {
            if (!(std::isinf(got) && got < 0)) finding("LSE of a row without keys is not -inf");
          } else {
            const double want = max_score + std::log(denom);
            if (!(std::fabs(got - want) <= 1e-4 * (1.0 + std::fabs(want)) + logit_error)) {
              finding(std::string(xinhe_attention_impl_name(op)) + ": LSE differs from float64");
            }
          }
        }
      }
    }
  }
  for (uint64_t e = 0; e < o_el; ++e) {
    if (!o_element[e] && std::memcmp(o_got + e * es, o.data() + e * es, es) != 0) {
      finding(std::string(xinhe_attention_impl_name(op)) + ": O's buffer written between elements");
    }
  }
  xinhe_attention_destroy(op);
  return 0;
}
