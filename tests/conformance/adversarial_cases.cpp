// Adversarial values: inputs that break weak kernels although uniform random data passes them.
//   attention.shift.*        a large constant added to every logit (exactly, through K): softmax
//                            is shift-invariant, so O must not move and must match the float64
//                            reference; a kernel that scales or rounds before subtracting the
//                            row maximum drifts in proportion to the constant
//   attention.masked_rows.*  bottom-right causal with Sq > Skv: rows that see no key give O = 0
//                            and LSE = -inf, not NaN (Sq = 2, Skv = 1 is the smallest case)
//   attention.huge_scale.*   finite scales up to FLT_MAX: a kernel that folds log2(e) into the
//                            scale overflows it to inf above 2.36e38, and (s - max) * inf is NaN
//   gemm.alpha0.*            alpha == 0 (and K == 0) with Inf and NaN in A and B: C = beta * C
//                            bit for bit (BLAS), -0.0 and Inf in C included
//   gemm.beta0_inf_nan.*     beta == 0 with Inf and NaN in C: C is not read
//   *.denormal.*             f32 denormals and f16/bf16 subnormals in, denormals out: a kernel
//                            that flushes them to zero is off by 100%
//   *.f16_max.*              f16 values near 65504 in and out, without overflow
//   gemm.exact_cancel.*      2048 + 1 - 2048 along K in 16-bit GEMMs: exact in the f32
//                            accumulation ops.h requires, 0 when partial sums are 16-bit
//   *.rne.*                  results exactly halfway between two f16/bf16 values (and a quarter
//                            either side), compared bit for bit: round to nearest, ties to even
//   *.f64.*                  f64 descriptions: a device that claims f64 must compute in f64
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>

#include "half.h"
#include "op_check.h"
#include "reference.h"

namespace xinhe::conformance {

using namespace detail;

namespace {

constexpr uint64_t kGuardBytes = 64;  // poison before and after every output

std::string hex(uint32_t bits, int digits) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%0*x", digits, bits);
  return text;
}

// Raw bits of element i of a 2- or 4-byte array.
uint32_t bits_at(const HostArray& array, int64_t i) {
  uint32_t bits = 0;
  std::memcpy(&bits, array.bytes.data() + static_cast<size_t>(i) * array.elem_size(),
              array.elem_size());
  return bits;
}

// f32 -> stored dtype with round to nearest even, as bits (the expected output of a kernel).
uint32_t round_to(xinhe_dtype_t dtype, float value) {
  switch (dtype) {
    case XINHE_DTYPE_F16:
      return kernels::f32_to_f16(value);
    case XINHE_DTYPE_BF16:
      return kernels::f32_to_bf16(value);
    default:
      return kernels::f32_to_bits(value);
  }
}

// Buffers of one op run with guards of poison around each output, the host images, and the
// outputs read back. Ends the case (returns a result) when the device declines or misbehaves.
struct OutputImage {
  std::vector<uint8_t> before, after;
  bool guards_intact(uint64_t bytes) const {
    for (uint64_t i = 0; i < kGuardBytes; ++i) {
      if (after[i] != before[i] ||
          after[kGuardBytes + bytes + i] != before[kGuardBytes + bytes + i])
        return false;
    }
    return true;
  }
};

Buffer upload(const Device& device, const Stream& stream, const HostArray& host) {
  Buffer buffer = device.alloc(host.bytes.size());
  if (!host.bytes.empty()) stream.copy_from_host(buffer, host.data(), host.bytes.size());
  return buffer;
}

// Output buffer: guard, then the initial contents (poison when init is empty), then guard.
Buffer upload_output(const Device& device, const Stream& stream, xinhe_dtype_t dtype,
                     const HostArray& init, uint64_t bytes) {
  Buffer buffer = alloc_poisoned(device, stream, bytes + 2 * kGuardBytes, dtype);
  if (!init.bytes.empty()) stream.copy_from_host(buffer, init.data(), bytes, kGuardBytes);
  return buffer;
}

// Runs one GEMM; on success *c_out holds C after the run. c_init: C's contents before the run
// (dense, ldc = n); the description must be dense.
std::optional<CaseResult> run_gemm_once(const Device& device, const std::string& full_name,
                                        const xinhe_gemm_desc_t& desc, const HostArray& a,
                                        const HostArray& b, const HostArray& c_init, float alpha,
                                        float beta, HostArray* c_out) {
  Gemm op(device, desc);
  const CheckOutcome check = classify_check(xinhe_gemm_check(op.get()), "gemm");
  Stream stream = device.create_stream();
  Buffer a_buf = upload(device, stream, a), b_buf = upload(device, stream, b);
  const uint64_t c_bytes = c_init.bytes.size();
  Buffer c_buf = upload_output(device, stream, desc.c_dtype, c_init, c_bytes);
  OutputImage image;
  image.before = read_all(stream, c_buf);
  Buffer workspace;
  if (check.supported && op.workspace_size()) workspace = device.alloc(op.workspace_size());
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof(args);
  args.a = a_buf.get();
  args.b = b_buf.get();
  args.c = c_buf.get();
  args.c_offset = kGuardBytes;
  args.workspace = workspace.get();
  args.alpha = alpha;
  args.beta = beta;
  xinhe_status_t run_status = xinhe_gemm_run(op.get(), stream.get(), &args);
  if (!check.supported) {
    CaseResult r = judge_unsupported(device, full_name, {desc.ab_dtype, desc.c_dtype}, check.reason,
                                     run_status);
    if (read_all(stream, c_buf) != image.before) return fail("declined run wrote C");
    return r;
  }
  std::string message;
  if (const xinhe_status_code_t code = take_status(run_status, &message); code != XINHE_STATUS_OK)
    return fail("check passed but run returned " + std::string(xinhe_status_code_name(code)) +
                ": " + message);
  image.after = read_all(stream, c_buf);
  if (!image.guards_intact(c_bytes)) return fail("wrote outside C, impl " + op.impl_name());
  *c_out = HostArray(desc.c_dtype, c_init.count);
  std::memcpy(c_out->data(), image.after.data() + kGuardBytes, c_bytes);
  return std::nullopt;
}

// Normal numeric check of C against the float64 reference.
CaseResult check_gemm_numerics(const std::string& what, const xinhe_gemm_desc_t& desc,
                               const HostArray& a, const HostArray& b, const HostArray& c_init,
                               float alpha, float beta, const HostArray& got) {
  std::vector<double> ref(static_cast<size_t>(desc.m * desc.n));
  reference::gemm(desc, a.data(), b.data(), c_init.data(), alpha, beta, ref.data());
  ErrorStats stats;
  for (int64_t i = 0; i < desc.m * desc.n; ++i)
    accumulate_error(stats, got.get(i), ref[static_cast<size_t>(i)], i);
  CaseResult r;
  r.max_error = stats.normalized();
  r.tolerance = tolerance(desc.c_dtype, desc.k);
  std::ostringstream detail;
  detail << what << ": max_error " << r.max_error << " (tol " << r.tolerance << ")";
  if (!(r.max_error <= r.tolerance)) {
    detail << ", worst at row " << stats.worst_index / desc.n << " col "
           << stats.worst_index % desc.n << ": got " << got.get(stats.worst_index) << ", want "
           << ref[static_cast<size_t>(stats.worst_index)];
    r.outcome = Outcome::kFail;
  }
  r.detail = detail.str();
  return r;
}

// Runs one attention (dense BHSD, LSE on); on success fills *o_out and *lse_out.
std::optional<CaseResult> run_attention_once(const Device& device, const std::string& full_name,
                                             const xinhe_attention_desc_t& desc, const HostArray& q,
                                             const HostArray& k, const HostArray& v,
                                             HostArray* o_out, HostArray* lse_out) {
  Attention op(device, desc);
  const CheckOutcome check = classify_check(xinhe_attention_check(op.get()), "attention");
  Stream stream = device.create_stream();
  Buffer q_buf = upload(device, stream, q), k_buf = upload(device, stream, k),
         v_buf = upload(device, stream, v);
  const uint64_t o_bytes = static_cast<uint64_t>(q.count) * xinhe_dtype_size(desc.dtype);
  const uint64_t lse_bytes = static_cast<uint64_t>(desc.batch * desc.heads_q * desc.seq_q) * 4;
  Buffer o_buf = upload_output(device, stream, desc.dtype, HostArray(), o_bytes);
  Buffer lse_buf = upload_output(device, stream, XINHE_DTYPE_F32, HostArray(), lse_bytes);
  OutputImage o_image, lse_image;
  o_image.before = read_all(stream, o_buf);
  lse_image.before = read_all(stream, lse_buf);
  Buffer workspace;
  if (check.supported && op.workspace_size()) workspace = device.alloc(op.workspace_size());
  xinhe_attention_args_t args{};
  args.struct_size = sizeof(args);
  args.q = q_buf.get();
  args.k = k_buf.get();
  args.v = v_buf.get();
  args.o = o_buf.get();
  args.o_offset = kGuardBytes;
  args.lse = lse_buf.get();
  args.lse_offset = kGuardBytes;
  args.workspace = workspace.get();
  xinhe_status_t run_status = xinhe_attention_run(op.get(), stream.get(), &args);
  if (!check.supported) {
    CaseResult r = judge_unsupported(device, full_name, {desc.dtype}, check.reason, run_status);
    if (read_all(stream, o_buf) != o_image.before) return fail("declined run wrote O");
    return r;
  }
  std::string message;
  if (const xinhe_status_code_t code = take_status(run_status, &message); code != XINHE_STATUS_OK)
    return fail("check passed but run returned " + std::string(xinhe_status_code_name(code)) +
                ": " + message);
  o_image.after = read_all(stream, o_buf);
  lse_image.after = read_all(stream, lse_buf);
  if (!o_image.guards_intact(o_bytes) || !lse_image.guards_intact(lse_bytes))
    return fail("wrote outside O or LSE, impl " + op.impl_name());
  *o_out = HostArray(desc.dtype, q.count);
  *lse_out = HostArray(XINHE_DTYPE_F32, desc.batch * desc.heads_q * desc.seq_q);
  std::memcpy(o_out->data(), o_image.after.data() + kGuardBytes, o_bytes);
  std::memcpy(lse_out->data(), lse_image.after.data() + kGuardBytes, lse_bytes);
  return std::nullopt;
}

xinhe_attention_desc_t dense_attention(xinhe_dtype_t dtype, int64_t hq, int64_t hkv, int64_t sq,
                                       int64_t skv, int64_t d, bool causal, float scale) {
  xinhe_attention_desc_t desc = attention_desc(dtype, 1, hq, hkv, sq, skv, d, causal, true);
  desc.scale = scale;
  return desc;
}

struct AttentionErrors {
  double o = 0.0, lse = 0.0;
  std::string worst;
};

AttentionErrors attention_errors(const xinhe_attention_desc_t& desc, const HostArray& q,
                                 const HostArray& k, const HostArray& v, const HostArray& o,
                                 const HostArray& lse) {
  const int64_t rows = desc.batch * desc.heads_q * desc.seq_q;
  std::vector<double> o_ref(static_cast<size_t>(rows * desc.head_dim)),
      lse_ref(static_cast<size_t>(rows));
  reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(), lse_ref.data());
  ErrorStats o_stats, lse_stats;
  for (int64_t i = 0; i < rows * desc.head_dim; ++i)
    accumulate_error(o_stats, o.get(i), o_ref[static_cast<size_t>(i)], i);
  for (int64_t r = 0; r < rows; ++r)
    accumulate_error(lse_stats, lse.get(r), lse_ref[static_cast<size_t>(r)], r);
  AttentionErrors e{o_stats.normalized(), lse_stats.normalized(), ""};
  const bool o_worse = !(e.o <= e.lse);
  const int64_t w = o_worse ? o_stats.worst_index : lse_stats.worst_index;
  const int64_t row = o_worse ? w / desc.head_dim : w;
  if (w >= 0) {
    std::ostringstream text;
    text << "worst in " << (o_worse ? "O" : "LSE") << " at head " << row / desc.seq_q << " query "
         << row % desc.seq_q << ": got " << (o_worse ? o.get(w) : lse.get(w)) << ", want "
         << (o_worse ? o_ref[static_cast<size_t>(w)] : lse_ref[static_cast<size_t>(w)]);
    e.worst = text.str();
  }
  return e;
}

// ---- attention.shift --------------------------------------------------------------------------

// Q is in {-1/8, 0, 1/8} and K a multiple of 1/8 in [-1, 1] (exact in every dtype) except the
// last dim: q = 1 and k = offset for every key, so every logit of a row gains exactly
// scale * offset, and every q . k is exact in f32 whatever the summation order (at most 22
// significant bits). The scale, 4.37, is not a power of two; at the largest offset the logits
// are near 2e5, where rounding scale * q . k before subtracting the max moves a probability by
// about 1% (more than f16's tolerance), while their spread stays a few units.
CaseResult attention_shift_case(const Device& device, xinhe_dtype_t dt, int64_t sq, int64_t skv,
                                bool causal) {
  const std::string full_name = "attention.shift." + dtype_str(dt) + ".s" + std::to_string(sq) +
                                "x" + std::to_string(skv) + (causal ? ".causal" : "");
  Rng rng(full_name);
  const int64_t hq = 2, hkv = 1, d = 64;
  const float scale = 4.37f;
  const xinhe_attention_desc_t desc = dense_attention(dt, hq, hkv, sq, skv, d, causal, scale);
  HostArray q(dt, hq * sq * d), k(dt, hkv * skv * d), v(dt, hkv * skv * d);
  v.randomize(rng);
  auto eighths = [&] { return std::round(rng.uniform() * 8.0) / 8.0; };
  for (int64_t i = 0; i < q.count; ++i)
    q.set(i, i % d == d - 1 ? 1.0 : std::round(rng.uniform() * 2.0) / 8.0);
  std::vector<double> k_base(static_cast<size_t>(k.count));
  for (double& x : k_base) x = eighths();

  std::optional<HostArray> o_at_zero;
  std::ostringstream detail;
  double worst = 0.0;
  // 1.5 * 2^n: exact in f16 (<= 65504) and bf16 (2 significant bits).
  for (double offset : {0.0, 192.0, 12288.0, 49152.0}) {
    for (int64_t i = 0; i < k.count; ++i)
      k.set(i, i % d == d - 1 ? offset : k_base[static_cast<size_t>(i)]);
    HostArray o, lse;
    if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse)) return *ended;
    const AttentionErrors e = attention_errors(desc, q, k, v, o, lse);
    const double tol = tolerance(dt, std::max(d, skv));
    if (!(e.o <= tol) || !(e.lse <= tol)) {
      std::ostringstream why;
      why << "logit offset " << offset * scale << " (scale " << scale << "): O error " << e.o
          << ", LSE error " << e.lse << " (tol " << tol << "), " << e.worst;
      return fail(why.str());
    }
    // Shift invariance directly: O must be what it was without the offset.
    if (!o_at_zero) {
      o_at_zero = o;
    } else {
      ErrorStats drift;
      for (int64_t i = 0; i < o.count; ++i) accumulate_error(drift, o.get(i), o_at_zero->get(i), i);
      if (!(drift.normalized() <= tol)) {
        std::ostringstream why;
        why << "O moved by " << drift.normalized() << " (tol " << tol
            << ") when every logit gained " << offset * scale;
        return fail(why.str());
      }
      worst = std::max(worst, drift.normalized());
    }
    detail << "offset " << offset * scale << ": O error " << e.o << "; ";
  }
  CaseResult r = pass(detail.str() + "largest move of O " + std::to_string(worst));
  return r;
}

// ---- attention.huge_scale ---------------------------------------------------------------------

// Q and K are multiples of 1/16 in [-1/8, 1/8] with D = 16, so every q . k is exact and within
// [-1/4, 1/4], and distinct logits of a row differ by at least scale / 256: the softmax is one-hot
// (or an even split between tied keys), and scale * max stays below FLT_MAX for the LSE.
CaseResult attention_huge_scale_case(const Device& device, xinhe_dtype_t dt) {
  const std::string full_name = "attention.huge_scale." + dtype_str(dt);
  Rng rng(full_name);
  const int64_t hq = 2, hkv = 1, sq = 5, skv = 33, d = 16;
  std::ostringstream detail;
  for (const float scale :
       {2.5e38f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()}) {
    for (const bool causal : {false, true}) {
      const xinhe_attention_desc_t desc = dense_attention(dt, hq, hkv, sq, skv, d, causal, scale);
      HostArray q(dt, hq * sq * d), k(dt, hkv * skv * d), v(dt, hkv * skv * d);
      v.randomize(rng);
      auto sixteenths = [&] { return std::round(rng.uniform() * 2.0) / 16.0; };
      for (int64_t i = 0; i < q.count; ++i) q.set(i, sixteenths());
      for (int64_t i = 0; i < k.count; ++i) k.set(i, sixteenths());
      HostArray o, lse;
      if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse))
        return *ended;
      const AttentionErrors e = attention_errors(desc, q, k, v, o, lse);
      const double tol = tolerance(dt, std::max(d, skv));
      if (!(e.o <= tol) || !(e.lse <= tol)) {
        std::ostringstream why;
        why << "scale " << scale << (causal ? " causal" : "") << ": O error " << e.o
            << ", LSE error " << e.lse << " (tol " << tol << "), " << e.worst;
        return fail(why.str());
      }
      detail << "scale " << scale << (causal ? " causal" : "") << ": O error " << e.o << "; ";
    }
  }
  return pass(detail.str());
}

// ---- attention.masked_rows --------------------------------------------------------------------

CaseResult attention_masked_rows_case(const Device& device, xinhe_dtype_t dt) {
  const std::string full_name = "attention.masked_rows." + dtype_str(dt);
  Rng rng(full_name);
  std::ostringstream detail;
  const int64_t shapes[][2] = {{2, 1}, {3, 1}, {5, 2}, {9, 4}, {17, 3}, {40, 24}, {4, 0}};
  // Second pass: V holds +Inf at key 0 (column 3), which every row that sees a key sees (its O
  // is +Inf there, as in the reference); a row that sees no key weights it by 0 in a tiled
  // kernel, and must still be exactly 0, not 0 * Inf = NaN.
  for (const bool inf_in_v : {false, true})
    for (const auto& shape : shapes) {
      const int64_t sq = shape[0], skv = shape[1], hq = 4, hkv = 2, d = 64;
      const xinhe_attention_desc_t desc =
          dense_attention(dt, hq, hkv, sq, skv, d, true, 1.0f / 8.0f);
      HostArray q(dt, hq * sq * d), k(dt, hkv * skv * d), v(dt, hkv * skv * d);
      q.randomize(rng);
      k.randomize(rng);
      v.randomize(rng);
      if (inf_in_v && skv > 0)
        for (int64_t h = 0; h < hkv; ++h)
          v.set(h * skv * d + 3, std::numeric_limits<double>::infinity());
      const std::string pass_name = inf_in_v ? " (Inf in V)" : "";
      HostArray o, lse;
      if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse))
        return *ended;
      // Rows that see no key: exactly 0 and -inf.
      for (int64_t h = 0; h < hq; ++h) {
        for (int64_t i = 0; i < sq - skv; ++i) {
          const int64_t row = h * sq + i;
          for (int64_t x = 0; x < d; ++x) {
            if (o.get(row * d + x) != 0.0)
              return fail("Sq=" + std::to_string(sq) + " Skv=" + std::to_string(skv) + pass_name +
                          ": head " + std::to_string(h) + " query " + std::to_string(i) +
                          " sees no key, but O holds " + num(o.get(row * d + x)) + " (want 0)");
          }
          const double l = lse.get(row);
          if (!(std::isinf(l) && l < 0))
            return fail("Sq=" + std::to_string(sq) + " Skv=" + std::to_string(skv) + ": head " +
                        std::to_string(h) + " query " + std::to_string(i) +
                        " sees no key, but LSE is " + num(l) + " (want -inf)");
        }
      }
      const AttentionErrors e = attention_errors(desc, q, k, v, o, lse);
      const double tol = tolerance(dt, std::max(d, skv));
      if (!(e.o <= tol) || !(e.lse <= tol))
        return fail("Sq=" + std::to_string(sq) + " Skv=" + std::to_string(skv) + pass_name +
                    ": O error " + num(e.o) + ", LSE error " + num(e.lse) + ", " + e.worst);
      if (!inf_in_v) detail << sq << "x" << skv << " ";
    }
  return pass("shapes " + detail.str() + "each also with +Inf in V");
}

// ---- attention.nan_scores --------------------------------------------------------------------

// NaN in Q, or in a K row a query sees, makes that query's O row and LSE NaN (ops.h), as the
// float64 reference computes it; never the zeros and -inf of a row that sees no key, which an
// online softmax gives when it decides "saw keys" from its NaN sum. Rows the NaN cannot reach
// keep their values. Passes: one NaN K row (the later rows of a causal call see it), one NaN Q
// row, and NaN in every key of the first half of one KV head (in a decode that splits its keys
// between threads, a split of only NaN keys still keeps a max of -inf).
CaseResult attention_nan_scores_case(const Device& device, xinhe_dtype_t dt) {
  const std::string full_name = "attention.nan_scores." + dtype_str(dt);
  Rng rng(full_name);
  struct Shape {
    int64_t sq, skv;
    bool causal;
  };
  const Shape shapes[] = {{1, 2048, false}, {17, 23, true}, {5, 40, false}};
  const char* pass_names[] = {"NaN in K row", "NaN in Q row", "NaN in half of one KV head"};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  int nan_rows = 0;
  for (const Shape& shape : shapes) {
    for (int pass = 0; pass < 3; ++pass) {
      const int64_t sq = shape.sq, skv = shape.skv, hq = 4, hkv = 2, d = 64;
      const xinhe_attention_desc_t desc =
          dense_attention(dt, hq, hkv, sq, skv, d, shape.causal, 1.0f / 8.0f);
      HostArray q(dt, hq * sq * d), k(dt, hkv * skv * d), v(dt, hkv * skv * d);
      q.randomize(rng);
      k.randomize(rng);
      v.randomize(rng);
      if (pass == 0) k.set((skv / 2) * d + 5, nan);          // kv head 0, key Skv/2
      if (pass == 1) q.set((3 * sq + sq - 1) * d + 7, nan);  // head 3, last query
      if (pass == 2)
        for (int64_t j = 0; j < skv / 2; ++j) k.set((skv + j) * d + 11, nan);  // kv head 1
      HostArray o, lse;
      if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse))
        return *ended;
      const int64_t rows = hq * sq;
      std::vector<double> o_ref(static_cast<size_t>(rows * d)), lse_ref(static_cast<size_t>(rows));
      reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(), lse_ref.data());
      const std::string where = std::string(pass_names[pass]) + ", Sq=" + std::to_string(sq) +
                                " Skv=" + std::to_string(skv) + (shape.causal ? " causal" : "");
      ErrorStats o_stats, lse_stats;
      int pass_nan_rows = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const std::string row_name =
            "head " + std::to_string(r / sq) + " query " + std::to_string(r % sq);
        if (std::isnan(lse_ref[static_cast<size_t>(r)])) {
          ++pass_nan_rows;
          if (!std::isnan(lse.get(r)))
            return fail(where + ": " + row_name + " sees a NaN score, but LSE is " +
                        num(lse.get(r)) + " (want NaN)");
          for (int64_t x = 0; x < d; ++x)
            if (!std::isnan(o.get(r * d + x)))
              return fail(where + ": " + row_name + " sees a NaN score, but O[" +
                          std::to_string(x) + "] is " + num(o.get(r * d + x)) + " (want NaN)");
          continue;
        }
        for (int64_t x = 0; x < d; ++x)
          accumulate_error(o_stats, o.get(r * d + x), o_ref[static_cast<size_t>(r * d + x)],
                           r * d + x);
        accumulate_error(lse_stats, lse.get(r), lse_ref[static_cast<size_t>(r)], r);
      }
      // The poison must reach some rows and spare others, or the case proves nothing.
      if (pass_nan_rows == 0 || pass_nan_rows == rows)
        return fail(where + ": the reference has " + std::to_string(pass_nan_rows) + " of " +
                    std::to_string(rows) + " rows NaN (the case is wrong)");
      nan_rows += pass_nan_rows;
      const double tol = tolerance(dt, std::max(d, skv));
      if (!(o_stats.normalized() <= tol) || !(lse_stats.normalized() <= tol))
        return fail(where + ": rows the NaN does not reach: O error " + num(o_stats.normalized()) +
                    ", LSE error " + num(lse_stats.normalized()));
    }
  }
  return pass(std::to_string(nan_rows) + " NaN rows over 3 shapes x 3 passes; other rows match");
}

// ---- gemm.alpha0 / gemm.beta0_inf_nan
// -------------------------------------------------------------

// A and B full of Inf and NaN where alpha == 0 (or K == 0) must leave C = beta * C exactly.
CaseResult gemm_alpha0_case(const Device& device, xinhe_dtype_t ab, xinhe_dtype_t cdt) {
  const std::string full_name = "gemm.alpha0." + dtype_str(ab) + "_" + dtype_str(cdt);
  Rng rng(full_name);
  const int64_t m = 9, n = 13, k = 17;
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  HostArray a(ab, m * k), b(ab, k * n), c(cdt, m * n);
  a.randomize(rng);
  b.randomize(rng);
  c.randomize(rng);
  // Every other element of A and B is Inf, -Inf or NaN: 0 * (A B) would be NaN everywhere.
  for (int64_t i = 0; i < a.count; i += 2) a.set(i, i % 3 == 0 ? inf : i % 3 == 1 ? -inf : nan);
  for (int64_t i = 1; i < b.count; i += 2) b.set(i, i % 3 == 0 ? nan : i % 3 == 1 ? inf : -inf);
  // C holds -0.0 (BLAS keeps its sign for beta = 1 and scales it otherwise) and infinities.
  for (int64_t i = 0; i < c.count; i += 5) c.set(i, -0.0);
  c.set(1, inf);
  c.set(2, -inf);
  std::ostringstream detail;
  for (const bool k_zero : {false, true}) {
    xinhe_gemm_desc_t desc = gemm_desc(ab, cdt, m, n, k_zero ? 0 : k);
    const float alpha = k_zero ? 1.5f : 0.0f;
    for (const float beta : {1.0f, 0.0f, 0.5f, -2.0f}) {
      HostArray got;
      if (auto ended = run_gemm_once(device, full_name, desc, k_zero ? HostArray() : a,
                                     k_zero ? HostArray() : b, c, alpha, beta, &got))
        return *ended;
      for (int64_t i = 0; i < c.count; ++i) {
        const float c_old = static_cast<float>(c.get(i));
        const uint32_t want = beta == 0.0f ? 0u : round_to(cdt, beta * c_old);
        const uint32_t have = bits_at(got, i);
        if (have != want) {
          const int digits = static_cast<int>(got.elem_size() * 2);
          std::ostringstream why;
          why << (k_zero ? "K = 0, alpha 1.5" : "alpha = 0, Inf/NaN in A and B") << ", beta "
              << beta << ": C[" << i / n << "][" << i % n << "] is " << got.get(i) << " ("
              << hex(have, digits) << "), want beta * C = " << beta * c_old << " ("
              << hex(want, digits) << ")";
          return fail(why.str());
        }
      }
    }
  }
  return pass("alpha 0 and K 0, beta 1, 0, 0.5, -2: C = beta * C bit for bit");
}

CaseResult gemm_beta0_inf_nan_case(const Device& device, xinhe_dtype_t ab, xinhe_dtype_t cdt) {
  const std::string full_name = "gemm.beta0_inf_nan." + dtype_str(ab) + "_" + dtype_str(cdt);
  Rng rng(full_name);
  const int64_t m = 19, n = 23, k = 29;
  HostArray a(ab, m * k), b(ab, k * n), c(cdt, m * n);
  a.randomize(rng);
  b.randomize(rng);
  const double specials[] = {std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
  for (int64_t i = 0; i < c.count; ++i) c.set(i, specials[i % 3]);
  const xinhe_gemm_desc_t desc = gemm_desc(ab, cdt, m, n, k);
  HostArray got;
  if (auto ended = run_gemm_once(device, full_name, desc, a, b, c, 1.25f, 0.0f, &got))
    return *ended;
  return check_gemm_numerics("beta 0 over Inf/-Inf/NaN in C", desc, a, b, c, 1.25f, 0.0f, got);
}

// ---- denormals and the top of f16 -----------------------------------------------------------

CaseResult gemm_scaled_case(const Device& device, const std::string& full_name, xinhe_dtype_t ab,
                            xinhe_dtype_t cdt, int64_t m, int64_t n, int64_t k, double a_scale,
                            double b_scale, const std::string& what, bool trans_a = false,
                            bool trans_b = false) {
  Rng rng(full_name);
  HostArray a(ab, m * k), b(ab, k * n), c(cdt, m * n);
  for (int64_t i = 0; i < a.count; ++i) a.set(i, rng.uniform() * a_scale);
  for (int64_t i = 0; i < b.count; ++i) b.set(i, rng.uniform() * b_scale);
  const xinhe_gemm_desc_t desc = gemm_desc(ab, cdt, m, n, k, trans_a, trans_b);
  HostArray got;
  if (auto ended = run_gemm_once(device, full_name, desc, a, b, c, 1.0f, 0.0f, &got)) return *ended;
  return check_gemm_numerics(what, desc, a, b, c, 1.0f, 0.0f, got);
}

// gemm_scaled_case's run checked against bf16 units' flush-to-zero model: subnormal inputs and
// products are zero (the same random inputs, so a kernel that flushes matches this reference).
CaseResult gemm_bf16_flushed_case(const Device& device, const std::string& full_name,
                                  xinhe_dtype_t cdt, int64_t m, int64_t n, int64_t k,
                                  double a_scale, double b_scale, const std::string& what) {
  Rng rng(full_name);
  HostArray a(XINHE_DTYPE_BF16, m * k), b(XINHE_DTYPE_BF16, k * n), c(cdt, m * n);
  for (int64_t i = 0; i < a.count; ++i) a.set(i, rng.uniform() * a_scale);
  for (int64_t i = 0; i < b.count; ++i) b.set(i, rng.uniform() * b_scale);
  const xinhe_gemm_desc_t desc = gemm_desc(XINHE_DTYPE_BF16, cdt, m, n, k);
  HostArray got;
  if (auto ended = run_gemm_once(device, full_name, desc, a, b, c, 1.0f, 0.0f, &got)) return *ended;
  const double smallest_normal = std::ldexp(1.0, -126);
  const auto flush = [&](double v) { return std::fabs(v) < smallest_normal ? 0.0 : v; };
  ErrorStats stats;
  std::vector<double> ref(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p)
        sum += flush(flush(a.get(i * k + p)) * flush(b.get(p * n + j)));
      ref[static_cast<size_t>(i * n + j)] = flush(sum);
      accumulate_error(stats, got.get(i * n + j), ref[static_cast<size_t>(i * n + j)], i * n + j);
    }
  CaseResult r;
  r.max_error = stats.normalized();
  r.tolerance = tolerance(cdt, k);
  std::ostringstream detail;
  detail << what << " (bf16 subnormals flushed, as ops.h allows): max_error " << r.max_error
         << " (tol " << r.tolerance << ")";
  if (!(r.max_error <= r.tolerance)) {
    detail << ", worst at row " << stats.worst_index / n << " col " << stats.worst_index % n
           << ": got " << got.get(stats.worst_index) << ", want "
           << ref[static_cast<size_t>(stats.worst_index)];
    r.outcome = Outcome::kFail;
  }
  r.detail = detail.str();
  return r;
}

CaseResult gemm_denormal_case(const Device& device, xinhe_dtype_t ab, xinhe_dtype_t cdt) {
  const std::string full_name = "gemm.denormal." + dtype_str(ab) + "_" + dtype_str(cdt);
  std::string detail;
  struct Run {
    double a_scale, b_scale;
    const char* what;
  };
  std::vector<Run> runs;
  if (ab == XINHE_DTYPE_F16) {
    // f16 subnormals (below 2^-14) times normal values.
    runs.push_back({std::ldexp(1.0, -15), 1.0, "f16 subnormal A"});
  } else {
    // Denormal inputs (below 2^-126) times huge ones give normal products, and tiny times tiny
    // gives denormal products and sums; flushing either to zero loses everything.
    runs.push_back({std::ldexp(1.0, -128), std::ldexp(1.0, 100), "denormal A x huge B"});
    if (cdt == XINHE_DTYPE_F32)
      runs.push_back({std::ldexp(1.0, -64), std::ldexp(1.0, -64), "denormal products"});
  }
  for (const Run& run : runs) {
    CaseResult r = gemm_scaled_case(device, full_name, ab, cdt, 21, 19, 33, run.a_scale,
                                    run.b_scale, run.what);
    if (r.outcome != Outcome::kPass && ab == XINHE_DTYPE_BF16) {
      // ops.h lets bf16 units treat subnormal inputs and products as zero: accept the result
      // of that model instead, and say so.
      CaseResult flushed = gemm_bf16_flushed_case(device, full_name, cdt, 21, 19, 33, run.a_scale,
                                                  run.b_scale, run.what);
      if (flushed.outcome == Outcome::kPass) r = flushed;
    }
    if (r.outcome != Outcome::kPass) return r;
    detail += r.detail + "; ";
  }
  return pass(detail);
}

CaseResult attention_scaled_v_case(const Device& device, const std::string& full_name,
                                   xinhe_dtype_t dt, double v_scale, const std::string& what) {
  Rng rng(full_name);
  const int64_t hq = 2, hkv = 1, sq = 19, skv = 37, d = 64;
  const xinhe_attention_desc_t desc = dense_attention(dt, hq, hkv, sq, skv, d, true, 0.125f);
  HostArray q(dt, hq * sq * d), k(dt, hkv * skv * d), v(dt, hkv * skv * d);
  q.randomize(rng);
  k.randomize(rng);
  for (int64_t i = 0; i < v.count; ++i) v.set(i, rng.uniform() * v_scale);
  HostArray o, lse;
  if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse)) return *ended;
  const AttentionErrors e = attention_errors(desc, q, k, v, o, lse);
  const double tol = tolerance(dt, std::max(d, skv));
  if (!(e.o <= tol) || !(e.lse <= tol))
    return fail(what + ": O error " + num(e.o) + ", LSE error " + num(e.lse) + " (tol " + num(tol) +
                "), " + e.worst);
  return pass(what + ": O error " + num(e.o));
}

// ---- exact cancellation: f32 accumulation ---------------------------------------------------

// ops.h: 16-bit GEMMs accumulate in f32. Row i of A holds 2048 and 1 (in either order) then
// -2048 at K positions i, i + 1, i + 2, zeros elsewhere, and B is all ones: every partial sum
// (1, 2048, 2049) is exact in f32, so C = 1 exactly, in every dtype. A sum kept in f16 or bf16
// rounds 2049 to 2048 and gives 0. K = 40 puts the three values in every chunk of 16 (and
// across the chunk boundaries), so a kernel that sums K in 16-bit chunks fails too.
CaseResult gemm_exact_cancel_case(const Device& device, xinhe_dtype_t ab, xinhe_dtype_t cdt,
                                  bool trans_a) {
  const int64_t k = 40, m = k - 2, n = 5;
  const std::string full_name = "gemm.exact_cancel." + dtype_str(ab) + "_" + dtype_str(cdt) +
                                (trans_a ? ".tn." : ".nn.") + std::to_string(m) + "x" +
                                std::to_string(n) + "x" + std::to_string(k);
  HostArray a(ab, m * k), b(ab, k * n), c(cdt, m * n);
  const auto a_at = [&](int64_t i, int64_t p) { return trans_a ? p * m + i : i * k + p; };
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) a.set(a_at(i, p), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    a.set(a_at(i, i), i % 2 ? 1.0 : 2048.0);
    a.set(a_at(i, i + 1), i % 2 ? 2048.0 : 1.0);
    a.set(a_at(i, i + 2), -2048.0);
  }
  for (int64_t i = 0; i < b.count; ++i) b.set(i, 1.0);
  const xinhe_gemm_desc_t desc = gemm_desc(ab, cdt, m, n, k, trans_a, false);
  HostArray got;
  if (auto ended = run_gemm_once(device, full_name, desc, a, b, c, 1.0f, 0.0f, &got)) return *ended;
  CaseResult r = check_gemm_numerics("2048 + 1 - 2048 at every K position (exact in f32)", desc, a,
                                     b, c, 1.0f, 0.0f, got);
  if (r.outcome == Outcome::kFail)
    r.detail += " (not accumulated in f32, as ops.h requires: a 16-bit partial sum loses the 1)";
  return r;
}

// ---- round to nearest even ----------------------------------------------------------------------

// Values h (some f16/bf16 value) and delta (a quarter, half or three quarters of h's ulp), both
// exact in the dtype once delta is scaled by 2^8, so that h + delta is exact in f32.
struct RoundingTarget {
  float h, delta;
};

std::vector<RoundingTarget> rounding_targets(xinhe_dtype_t dt, Rng& rng) {
  const int mantissa_bits = dt == XINHE_DTYPE_F16 ? 10 : 7;
  const int min_exp = dt == XINHE_DTYPE_F16 ? -14 : -100,
            max_exp = dt == XINHE_DTYPE_F16 ? 15 : 100;
  std::vector<RoundingTarget> out;
  auto add = [&](float h, float ulp) {
    for (const float part : {0.25f, 0.5f, 0.75f}) out.push_back({h, ulp * part});
  };
  for (int i = 0; i < 40; ++i) {
    const int e =
        min_exp + static_cast<int>(rng.bits32() % static_cast<uint32_t>(max_exp - min_exp + 1));
    const uint32_t mantissa = rng.bits32() & ((1u << mantissa_bits) - 1);
    // Odd and even last bits both occur: ties must go to the even neighbour either way.
    float h =
        std::ldexp(1.0f + static_cast<float>(mantissa) / static_cast<float>(1 << mantissa_bits), e);
    if (i % 2) h = -h;
    add(h, std::ldexp(1.0f, e - mantissa_bits));
  }
  if (dt == XINHE_DTYPE_F16) {
    // Subnormal outputs (spacing 2^-24), and the largest value: 65504 + 16 rounds to +inf.
    for (const float h : {0.0f, 3 * std::ldexp(1.0f, -24), 1001 * std::ldexp(1.0f, -24)})
      add(h, std::ldexp(1.0f, -24));
    add(65504.0f, 32.0f);
    add(-65504.0f, 32.0f);
  }
  return out;
}

// C = A B with K = 2: A[i] = (h, delta * 2^8), B's rows are all 1 and all 2^-8, so every C[i][j]
// is h + delta exactly in f32 and the only rounding is the store to f16/bf16.
CaseResult gemm_rne_case(const Device& device, xinhe_dtype_t dt) {
  const std::string full_name = "gemm.rne." + dtype_str(dt) + "_" + dtype_str(dt);
  Rng rng(full_name);
  const std::vector<RoundingTarget> targets = rounding_targets(dt, rng);
  const int64_t m = static_cast<int64_t>(targets.size()), n = 3, k = 2;
  HostArray a(dt, m * k), b(dt, k * n), c(dt, m * n);
  for (int64_t i = 0; i < m; ++i) {
    a.set(i * k, targets[static_cast<size_t>(i)].h);
    a.set(i * k + 1, targets[static_cast<size_t>(i)].delta * 256.0);
  }
  for (int64_t j = 0; j < n; ++j) {
    b.set(j, 1.0);
    b.set(n + j, 1.0 / 256.0);
  }
  for (int64_t i = 0; i < a.count; ++i) {
    const double want = i % 2 ? targets[static_cast<size_t>(i / 2)].delta * 256.0
                              : targets[static_cast<size_t>(i / 2)].h;
    if (a.get(i) != want) return fail("test setup: an input is not exact in " + dtype_str(dt));
  }
  const xinhe_gemm_desc_t desc = gemm_desc(dt, dt, m, n, k);
  HostArray got;
  if (auto ended = run_gemm_once(device, full_name, desc, a, b, c, 1.0f, 0.0f, &got)) return *ended;
  for (int64_t i = 0; i < m; ++i) {
    const RoundingTarget t = targets[static_cast<size_t>(i)];
    const float exact = t.h + t.delta;
    const uint32_t want = round_to(dt, exact);
    for (int64_t j = 0; j < n; ++j) {
      const uint32_t have = bits_at(got, i * n + j);
      if (have != want) {
        std::ostringstream why;
        why << "C = " << t.h << " + " << t.delta << " = " << exact << " (exact in f32) stored as "
            << hex(have, 4) << " (" << got.get(i * n + j) << "), round to nearest even gives "
            << hex(want, 4);
        return fail(why.str());
      }
    }
  }
  return pass(std::to_string(m) + " results a quarter, half and three quarters of an ulp past " +
              dtype_str(dt) + " values, all rounded to nearest even");
}

// Q = 0 makes every score 0, so O is the plain mean of Skv = 4 rows of V: with rows (h, h + ulp)
// in proportions 3:1, 2:2 and 1:3 the mean is a quarter, half or three quarters of an ulp past h,
// exact in f32 until O is stored.
CaseResult attention_rne_case(const Device& device, xinhe_dtype_t dt) {
  const std::string full_name = "attention.rne." + dtype_str(dt);
  Rng rng(full_name);
  const int mantissa_bits = dt == XINHE_DTYPE_F16 ? 10 : 7;
  const int64_t sq = 3, skv = 4, d = 96;
  const xinhe_attention_desc_t desc = dense_attention(dt, 1, 1, sq, skv, d, false, 0.125f);
  HostArray q(dt, sq * d), k(dt, skv * d), v(dt, skv * d);
  for (int64_t i = 0; i < q.count; ++i) q.set(i, 0.0);
  k.randomize(rng);
  std::vector<float> expected(static_cast<size_t>(d));
  for (int64_t x = 0; x < d; ++x) {
    const int e = static_cast<int>(rng.bits32() % 20) - 8;
    const uint32_t mantissa = rng.bits32() & ((1u << mantissa_bits) - 1);
    float h =
        std::ldexp(1.0f + static_cast<float>(mantissa) / static_cast<float>(1 << mantissa_bits), e);
    if (x % 2) h = -h;
    const float ulp = std::copysign(std::ldexp(1.0f, e - mantissa_bits), h);
    const int64_t above = 1 + x % 3;  // rows holding h + ulp: 1, 2 or 3 of 4
    for (int64_t j = 0; j < skv; ++j) v.set(j * d + x, j < skv - above ? h : h + ulp);
    expected[static_cast<size_t>(x)] = h + ulp * static_cast<float>(above) / 4.0f;
  }
  HostArray o, lse;
  if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse)) return *ended;
  for (int64_t i = 0; i < sq; ++i) {
    for (int64_t x = 0; x < d; ++x) {
      const float exact = expected[static_cast<size_t>(x)];
      const uint32_t want = round_to(dt, exact), have = bits_at(o, i * d + x);
      if (have != want) {
        std::ostringstream why;
        why << "O[" << i << "][" << x << "] = mean of V = " << exact << " (exact in f32) stored as "
            << hex(have, 4) << " (" << o.get(i * d + x) << "), round to nearest even gives "
            << hex(want, 4);
        return fail(why.str());
      }
    }
  }
  return pass(std::to_string(d) + " outputs a quarter, half and three quarters of an ulp past " +
              dtype_str(dt) + " values, all rounded to nearest even");
}

// ---- f64 ---------------------------------------------------------------------------------------

CaseResult gemm_f64_case(const Device& device, bool trans_a, bool trans_b) {
  const std::string name =
      std::string("gemm.f64.") + (trans_a ? "t" : "n") + (trans_b ? "t" : "n") + ".33x47x65";
  return gemm_scaled_case(device, name, XINHE_DTYPE_F64, XINHE_DTYPE_F64, 33, 47, 65, 1.0, 1.0,
                          std::string("f64 ") + (trans_a ? "t" : "n") + (trans_b ? "t" : "n"),
                          trans_a, trans_b);
}

CaseResult attention_f64_case(const Device& device) {
  const std::string full_name = "attention.f64.causal";
  Rng rng(full_name);
  const xinhe_attention_desc_t desc =
      dense_attention(XINHE_DTYPE_F64, 2, 1, 23, 31, 64, true, 0.125f);
  HostArray q(XINHE_DTYPE_F64, 2 * 23 * 64), k(XINHE_DTYPE_F64, 31 * 64),
      v(XINHE_DTYPE_F64, 31 * 64);
  q.randomize(rng);
  k.randomize(rng);
  v.randomize(rng);
  HostArray o, lse;
  if (auto ended = run_attention_once(device, full_name, desc, q, k, v, &o, &lse)) return *ended;
  const AttentionErrors e = attention_errors(desc, q, k, v, o, lse);
  // LSE is f32 whatever the dtype (ops.h): it is held to f32's tolerance.
  const double tol = tolerance(XINHE_DTYPE_F64, 64);
  std::ostringstream detail;
  detail << "O error " << e.o << " (tol " << tol << "), LSE error " << e.lse;
  if (!(e.o <= tol) || !(e.lse <= tolerance(XINHE_DTYPE_F32, 64)))
    return fail(detail.str() + ", " + e.worst);
  return pass(detail.str());
}

}  // namespace

void add_adversarial_cases(std::vector<Case>& cases) {
  constexpr xinhe_dtype_t f32 = XINHE_DTYPE_F32, f16 = XINHE_DTYPE_F16, bf16 = XINHE_DTYPE_BF16;
  auto add = [&](const std::string& suite, const std::string& name,
                 std::function<CaseResult(const Device&)> run) {
    cases.push_back(Case{suite, name, std::move(run)});
  };
  for (xinhe_dtype_t dt : {f32, f16, bf16}) {
    const std::string t = dtype_str(dt);
    add("attention", "shift." + t + ".s40x40.causal",
        [dt](const Device& d) { return attention_shift_case(d, dt, 40, 40, true); });
    add("attention", "shift." + t + ".s1x100",
        [dt](const Device& d) { return attention_shift_case(d, dt, 1, 100, false); });
    add("attention", "masked_rows." + t,
        [dt](const Device& d) { return attention_masked_rows_case(d, dt); });
    add("attention", "huge_scale." + t,
        [dt](const Device& d) { return attention_huge_scale_case(d, dt); });
    add("attention", "nan_scores." + t,
        [dt](const Device& d) { return attention_nan_scores_case(d, dt); });
  }
  const std::pair<xinhe_dtype_t, xinhe_dtype_t> combos[] = {
      {f32, f32}, {f16, f16}, {f16, f32}, {bf16, bf16}, {bf16, f32}};
  for (const auto& [ab, c] : combos) {
    const std::string t = dtype_str(ab) + "_" + dtype_str(c);
    add("gemm", "alpha0." + t,
        [ab = ab, c = c](const Device& d) { return gemm_alpha0_case(d, ab, c); });
    add("gemm", "beta0_inf_nan." + t,
        [ab = ab, c = c](const Device& d) { return gemm_beta0_inf_nan_case(d, ab, c); });
  }
  for (const auto& [ab, c] :
       {std::pair{f16, f16}, std::pair{f16, f32}, std::pair{bf16, bf16}, std::pair{bf16, f32}}) {
    const std::string t = dtype_str(ab) + "_" + dtype_str(c);
    add("gemm", "exact_cancel." + t + ".nn.38x5x40",
        [ab = ab, c = c](const Device& d) { return gemm_exact_cancel_case(d, ab, c, false); });
    add("gemm", "exact_cancel." + t + ".tn.38x5x40",
        [ab = ab, c = c](const Device& d) { return gemm_exact_cancel_case(d, ab, c, true); });
  }
  for (const auto& [ab, c] : {std::pair{f32, f32}, std::pair{f16, f32}, std::pair{bf16, f32}}) {
    add("gemm", "denormal." + dtype_str(ab) + "_" + dtype_str(c),
        [ab = ab, c = c](const Device& d) { return gemm_denormal_case(d, ab, c); });
  }
  add("attention", "denormal.f32", [](const Device& d) {
    return attention_scaled_v_case(d, "attention.denormal.f32", XINHE_DTYPE_F32,
                                   std::ldexp(1.0, -128), "denormal V");
  });
  for (xinhe_dtype_t c : {f16, f32}) {
    const std::string name = "f16_max.f16_" + dtype_str(c);
    add("gemm", name, [c, name](const Device& d) {
      // |C| up to 4 * 60000 * 0.25 = 60000: near the top of f16, not past it.
      return gemm_scaled_case(d, "gemm." + name, XINHE_DTYPE_F16, c, 17, 23, 4, 60000.0, 0.25,
                              "f16 values near 65504");
    });
  }
  add("attention", "f16_max.f16", [](const Device& d) {
    return attention_scaled_v_case(d, "attention.f16_max.f16", XINHE_DTYPE_F16, 65000.0,
                                   "V near 65504");
  });
  for (xinhe_dtype_t dt : {f16, bf16}) {
    add("gemm", "rne." + dtype_str(dt) + "_" + dtype_str(dt),
        [dt](const Device& d) { return gemm_rne_case(d, dt); });
    add("attention", "rne." + dtype_str(dt),
        [dt](const Device& d) { return attention_rne_case(d, dt); });
  }
  for (int t = 0; t < 4; ++t) {
    const bool ta = (t & 2) != 0, tb = (t & 1) != 0;
    add("gemm", std::string("f64.") + (ta ? "t" : "n") + (tb ? "t" : "n") + ".33x47x65",
        [ta, tb](const Device& d) { return gemm_f64_case(d, ta, tb); });
  }
  add("attention", "f64.causal", attention_f64_case);
}

}  // namespace xinhe::conformance
