// Exhaustive small-shape sweeps: every causal and non-causal attention (Sq, Skv) up to 24, and
// every GEMM (m, n, k) up to 17 with every transpose pair, against the float64 reference.
// Hand-picked grids pass kernels that are wrong on about half of all small shapes (edge tiles,
// fully masked rows, tails of vector loops), so the CI sweep covers every small shape; the
// --exhaustive mode (XINHE_CONFORM_EXHAUSTIVE=1) goes wider in sizes, head dims and dtypes.
//
// One case runs a whole family of shapes with few transfers, so the sweep stays cheap where op
// creation and submission are not (OpenCL): the inputs are uploaded once, at the largest size,
// and every shape reads them through strides and leading dimensions of that size; each shape
// writes its own region of one NaN-poisoned output buffer, read back once. Bytes outside every
// shape's logical outputs must still be poison afterwards.
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>

#include "op_check.h"
#include "reference.h"

namespace xinhe::conformance {

using namespace detail;

namespace {

// Shapes that failed, for the report: the first few, and how many.
class FailureLog {
 public:
  void add(const std::string& what) {
    if (count_++ < 6) text_ += (text_.empty() ? "" : "; ") + what;
  }
  int count() const { return count_; }
  std::string summary() const {
    return std::to_string(count_) + " shape(s) failed: " + text_ + (count_ > 6 ? "; ..." : "");
  }

 private:
  int count_ = 0;
  std::string text_;
};

// Index of the first byte of `after` that is outside `logical` (element-granular) and differs
// from `before`, or -1.
int64_t written_outside(const std::vector<uint8_t>& before, const std::vector<uint8_t>& after,
                        const std::vector<bool>& logical, size_t element_size) {
  for (size_t byte = 0; byte < after.size(); ++byte) {
    const size_t element = byte / element_size;
    const bool inside = element < logical.size() && logical[element];
    if (!inside && after[byte] != before[byte]) return static_cast<int64_t>(byte);
  }
  return -1;
}

// ---- Attention ----------------------------------------------------------------------------------

struct AttentionSweep {
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  int64_t head_dim = 64;
  bool causal = false;
  int64_t max_seq_q = 24, max_seq_kv = 24;  // Sq in [1, max], Skv in [0, max]

  std::string name() const {
    return "sweep." + dtype_str(dtype) + ".d" + std::to_string(head_dim) +
           (causal ? ".causal" : ".full") + ".s" + std::to_string(max_seq_q) + "x" +
           std::to_string(max_seq_kv);
  }
};

CaseResult run_attention_sweep(const Device& device, const AttentionSweep& sw) {
  const std::string full_name = "attention." + sw.name();
  Rng rng(full_name);
  // GQA with two query heads per kv head, so the kv-head mapping is swept too.
  const int64_t hq = 2, hkv = 1, d = sw.head_dim;
  const int64_t sq_max = sw.max_seq_q, skv_max = sw.max_seq_kv;
  const xinhe_dtype_t dt = sw.dtype;
  const size_t es = xinhe_dtype_size(dt);

  // Inputs at the largest size, [1, H, Smax, D]; a shape reads its first S rows.
  HostArray q(dt, hq * sq_max * d), k(dt, hkv * skv_max * d), v(dt, hkv * skv_max * d);
  q.randomize(rng);
  k.randomize(rng);
  v.randomize(rng);
  const int64_t q_strides[4] = {hq * sq_max * d, sq_max * d, d, 1};
  const int64_t kv_strides[4] = {hkv * skv_max * d, skv_max * d, d, 1};

  struct Shape {
    int64_t sq, skv;
    uint64_t o_element, lse_element;  // region origins in the output buffers
    xinhe_attention_desc_t desc;
    Attention op;
  };
  std::vector<Shape> shapes;
  uint64_t o_elements = 0, lse_elements = 0, workspace_bytes = 0;
  FailureLog failures;
  std::string declined;  // the first declined shape and why
  int declined_count = 0;
  for (int64_t sq = 1; sq <= sq_max; ++sq) {
    for (int64_t skv = 0; skv <= skv_max; ++skv) {
      Shape s{sq, skv, o_elements, lse_elements, {}, {}};
      xinhe_attention_desc_t& desc = s.desc;
      desc.struct_size = sizeof(desc);
      desc.dtype = dt;
      desc.batch = 1;
      desc.heads_q = hq;
      desc.heads_kv = hkv;
      desc.seq_q = sq;
      desc.seq_kv = skv;
      desc.head_dim = d;
      std::memcpy(desc.q_strides, q_strides, sizeof(q_strides));
      std::memcpy(desc.k_strides, kv_strides, sizeof(kv_strides));
      std::memcpy(desc.v_strides, kv_strides, sizeof(kv_strides));
      xinhe_attention_strides_bhsd(hq, sq, d, desc.o_strides);  // dense [1, Hq, Sq, D]
      desc.scale = 1.0f / std::sqrt(static_cast<float>(d));
      desc.mask = sw.causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
      desc.with_lse = 1;
      desc.lse_strides[0] = hq * sq;
      desc.lse_strides[1] = sq;
      desc.lse_strides[2] = 1;
      s.op = Attention(device, desc);
      const CheckOutcome check = classify_check(xinhe_attention_check(s.op.get()), "attention");
      if (!check.supported) {
        if (declined.empty())
          declined =
              "Sq=" + std::to_string(sq) + " Skv=" + std::to_string(skv) + ": " + check.reason;
        ++declined_count;
        continue;
      }
      workspace_bytes = std::max(workspace_bytes, s.op.workspace_size());
      // Each region is followed by a gap of poison that no shape owns.
      o_elements += static_cast<uint64_t>(hq * sq * d) + 7;
      lse_elements += static_cast<uint64_t>(hq * sq) + 3;
      shapes.push_back(std::move(s));
    }
  }
  if (shapes.empty()) {
    // Declined everywhere: honest only for a dtype the device does not claim.
    if (!claims_dtype(device, dt) || find_known_gap(device, full_name))
      return unsupported(dtype_str(dt) + " not claimed by the device: " + declined);
    CaseResult r =
        unsupported("declined every shape of claimed " + dtype_str(dt) + ": " + declined);
    r.declined_dtypes = dtype_str(dt);
    return r;
  }

  Stream stream = device.create_stream();
  Buffer q_buf = device.alloc(q.bytes.size()), k_buf = device.alloc(k.bytes.size()),
         v_buf = device.alloc(v.bytes.size());
  stream.copy_from_host(q_buf, q.data(), q.bytes.size());
  stream.copy_from_host(k_buf, k.data(), k.bytes.size());
  stream.copy_from_host(v_buf, v.data(), v.bytes.size());
  Buffer o_buf = alloc_poisoned(device, stream, o_elements * es, dt);
  Buffer lse_buf = alloc_poisoned(device, stream, lse_elements * 4, XINHE_DTYPE_F32);
  const std::vector<uint8_t> o_before = read_all(stream, o_buf);
  const std::vector<uint8_t> lse_before = read_all(stream, lse_buf);
  Buffer workspace;
  if (workspace_bytes) workspace = device.alloc(workspace_bytes);
  for (const Shape& s : shapes) {
    xinhe_attention_args_t args{};
    args.struct_size = sizeof(args);
    args.q = q_buf.get();
    args.k = s.skv > 0 ? k_buf.get() : nullptr;
    args.v = s.skv > 0 ? v_buf.get() : nullptr;
    args.o = o_buf.get();
    args.o_offset = s.o_element * es;
    args.lse = lse_buf.get();
    args.lse_offset = s.lse_element * 4;
    args.workspace = workspace.get();
    std::string message;
    const xinhe_status_code_t code =
        take_status(xinhe_attention_run(s.op.get(), stream.get(), &args), &message);
    if (code != XINHE_STATUS_OK)
      return fail("Sq=" + std::to_string(s.sq) + " Skv=" + std::to_string(s.skv) +
                  ": check passed but run returned " + xinhe_status_code_name(code) + ": " +
                  message);
  }
  const std::vector<uint8_t> o_after = read_all(stream, o_buf);
  const std::vector<uint8_t> lse_after = read_all(stream, lse_buf);

  HostArray o_got(dt, static_cast<int64_t>(o_elements));
  HostArray lse_got(XINHE_DTYPE_F32, static_cast<int64_t>(lse_elements));
  std::memcpy(o_got.data(), o_after.data(), o_got.bytes.size());
  std::memcpy(lse_got.data(), lse_after.data(), lse_got.bytes.size());
  std::vector<bool> o_logical(o_elements, false), lse_logical(lse_elements, false);
  double worst = 0.0;
  std::string worst_shape;
  for (const Shape& s : shapes) {
    const int64_t rows = hq * s.sq;
    std::vector<double> o_ref(static_cast<size_t>(rows * d)), lse_ref(static_cast<size_t>(rows));
    reference::attention(s.desc, q.data(), k.data(), v.data(), o_ref.data(), lse_ref.data());
    ErrorStats o_stats, lse_stats;
    for (int64_t i = 0; i < rows * d; ++i) {
      const int64_t at = static_cast<int64_t>(s.o_element) + i;
      o_logical[static_cast<size_t>(at)] = true;
      accumulate_error(o_stats, o_got.get(at), o_ref[static_cast<size_t>(i)], i);
    }
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t at = static_cast<int64_t>(s.lse_element) + r;
      lse_logical[static_cast<size_t>(at)] = true;
      accumulate_error(lse_stats, lse_got.get(at), lse_ref[static_cast<size_t>(r)], r);
    }
    const double error = std::max(o_stats.normalized(), lse_stats.normalized());
    const double tol = tolerance(dt, std::max(d, s.skv));
    const std::string shape = "Sq=" + std::to_string(s.sq) + " Skv=" + std::to_string(s.skv);
    if (!(error <= tol)) {
      const bool o_worse = !(o_stats.normalized() <= lse_stats.normalized());
      const int64_t w = o_worse ? o_stats.worst_index / d : lse_stats.worst_index;
      std::ostringstream what;
      what << shape << ": " << (o_worse ? "O" : "LSE") << " error " << error << " at head "
           << w / s.sq << " query " << w % s.sq;
      failures.add(what.str());
    } else if (error / tol > worst) {
      worst = error / tol;
      worst_shape = shape;
    }
  }
  if (int64_t at = written_outside(o_before, o_after, o_logical, es); at >= 0)
    failures.add("O written outside every shape's elements (byte " + std::to_string(at) + ")");
  if (int64_t at = written_outside(lse_before, lse_after, lse_logical, 4); at >= 0)
    failures.add("LSE written outside every shape's elements (byte " + std::to_string(at) + ")");

  std::ostringstream detail;
  detail << shapes.size() << " shapes (Sq 1.." << sq_max << ", Skv 0.." << skv_max
         << "), impl of the last " << shapes.back().op.impl_name() << ", seed " << base_seed();
  if (failures.count() > 0) return fail(failures.summary() + " [" + detail.str() + "]");
  detail << ", worst error " << worst << " x tol at " << worst_shape;
  if (declined_count == 0) return pass(detail.str());
  CaseResult r = pass(detail.str() + "; " + std::to_string(declined_count) +
                      " shapes declined, first " + declined);
  r.declined_dtypes = dtype_str(dt);
  return r;
}

// ---- GEMM ---------------------------------------------------------------------------------------

struct GemmSweep {
  xinhe_dtype_t ab = XINHE_DTYPE_F32, c = XINHE_DTYPE_F32;
  bool trans_a = false, trans_b = false;
  int64_t max_size = 17;  // m, n, k in [1, max]

  std::string name() const {
    return "sweep." + dtype_str(ab) + "_" + dtype_str(c) + "." + (trans_a ? "t" : "n") +
           (trans_b ? "t" : "n") + ".max" + std::to_string(max_size);
  }
};

CaseResult run_gemm_sweep(const Device& device, const GemmSweep& sw) {
  const std::string full_name = "gemm." + sw.name();
  Rng rng(full_name);
  const int64_t max = sw.max_size;
  // A and B at the largest size with leading dimension max + 1 (one padding element per row),
  // so every shape reads its top-left corner of the same data.
  const int64_t ld = max + 1;
  HostArray a(sw.ab, max * ld), b(sw.ab, max * ld);
  a.randomize(rng);
  b.randomize(rng);
  const size_t cs = xinhe_dtype_size(sw.c);

  struct Shape {
    int64_t m, n, k;
    float alpha, beta;
    uint64_t c_element;  // region origin; the region is m x ldc with ldc = n + 1
    xinhe_gemm_desc_t desc;
    Gemm op;
  };
  std::vector<Shape> shapes;
  uint64_t c_elements = 0, workspace_bytes = 0;
  FailureLog failures;
  std::string declined;  // the first declined shape and why
  int declined_count = 0;
  int index = 0;
  for (int64_t m = 1; m <= max; ++m) {
    for (int64_t n = 1; n <= max; ++n) {
      for (int64_t k = 1; k <= max; ++k, ++index) {
        // Every third shape scales and accumulates into C, so beta's read of C is swept too.
        const bool accumulate = index % 3 == 2;
        Shape s{m, n, k, accumulate ? -1.5f : 1.0f, accumulate ? 0.5f : 0.0f, c_elements, {}, {}};
        xinhe_gemm_desc_t& desc = s.desc;
        desc.struct_size = sizeof(desc);
        desc.ab_dtype = sw.ab;
        desc.c_dtype = sw.c;
        desc.trans_a = sw.trans_a;
        desc.trans_b = sw.trans_b;
        desc.m = m;
        desc.n = n;
        desc.k = k;
        desc.batch = 1;
        desc.lda = ld;
        desc.ldb = ld;
        desc.ldc = n + 1;
        desc.stride_a = desc.stride_b = desc.stride_c = 0;
        s.op = Gemm(device, desc);
        const CheckOutcome check = classify_check(xinhe_gemm_check(s.op.get()), "gemm");
        if (!check.supported) {
          if (declined.empty())
            declined = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                       ": " + check.reason;
          ++declined_count;
          continue;
        }
        workspace_bytes = std::max(workspace_bytes, s.op.workspace_size());
        c_elements += static_cast<uint64_t>(m * (n + 1)) + 5;
        shapes.push_back(std::move(s));
      }
    }
  }
  if (shapes.empty()) {
    if (!claims_dtype(device, sw.ab) || !claims_dtype(device, sw.c) ||
        find_known_gap(device, full_name))
      return unsupported(dtype_str(sw.ab) + "/" + dtype_str(sw.c) +
                         " not claimed by the device: " + declined);
    CaseResult r = unsupported("declined every shape of claimed " + dtype_str(sw.ab) + "/" +
                               dtype_str(sw.c) + ": " + declined);
    r.declined_dtypes = dtype_str(sw.ab) + "/" + dtype_str(sw.c);
    return r;
  }

  // C: poison everywhere, random at the logical elements of the shapes that read it.
  HostArray c_init(sw.c, static_cast<int64_t>(c_elements));
  c_init.poison();
  for (const Shape& s : shapes) {
    if (s.beta == 0.0f) continue;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j)
        c_init.set(static_cast<int64_t>(s.c_element) + i * (s.n + 1) + j, rng.uniform());
  }
  Stream stream = device.create_stream();
  Buffer a_buf = device.alloc(a.bytes.size()), b_buf = device.alloc(b.bytes.size());
  Buffer c_buf = device.alloc(c_init.bytes.size());
  stream.copy_from_host(a_buf, a.data(), a.bytes.size());
  stream.copy_from_host(b_buf, b.data(), b.bytes.size());
  stream.copy_from_host(c_buf, c_init.data(), c_init.bytes.size());
  Buffer workspace;
  if (workspace_bytes) workspace = device.alloc(workspace_bytes);
  for (const Shape& s : shapes) {
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof(args);
    args.a = a_buf.get();
    args.b = b_buf.get();
    args.c = c_buf.get();
    args.c_offset = s.c_element * cs;
    args.workspace = workspace.get();
    args.alpha = s.alpha;
    args.beta = s.beta;
    std::string message;
    const xinhe_status_code_t code =
        take_status(xinhe_gemm_run(s.op.get(), stream.get(), &args), &message);
    if (code != XINHE_STATUS_OK)
      return fail(std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) +
                  ": check passed but run returned " + xinhe_status_code_name(code) + ": " +
                  message);
  }
  const std::vector<uint8_t> c_after = read_all(stream, c_buf);

  HostArray got(sw.c, c_init.count);
  std::memcpy(got.data(), c_after.data(), got.bytes.size());
  std::vector<bool> logical(c_elements, false);
  double worst = 0.0;
  std::string worst_shape;
  for (const Shape& s : shapes) {
    std::vector<double> ref(static_cast<size_t>(s.m * s.n));
    const void* c_in = static_cast<const uint8_t*>(c_init.data()) + s.c_element * cs;
    reference::gemm(s.desc, a.data(), b.data(), c_in, s.alpha, s.beta, ref.data());
    ErrorStats stats;
    for (int64_t i = 0; i < s.m; ++i) {
      for (int64_t j = 0; j < s.n; ++j) {
        const int64_t at = static_cast<int64_t>(s.c_element) + i * (s.n + 1) + j;
        logical[static_cast<size_t>(at)] = true;
        accumulate_error(stats, got.get(at), ref[static_cast<size_t>(i * s.n + j)], i * s.n + j);
      }
    }
    const double error = stats.normalized();
    const double tol = tolerance(sw.c, s.k);
    const std::string shape = std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
                              std::to_string(s.k) +
                              (s.beta != 0.0f ? " (alpha -1.5, beta 0.5)" : "");
    if (!(error <= tol)) {
      std::ostringstream what;
      what << shape << ": error " << error << " at row " << stats.worst_index / s.n << " col "
           << stats.worst_index % s.n;
      failures.add(what.str());
    } else if (error / tol > worst) {
      worst = error / tol;
      worst_shape = shape;
    }
  }
  if (int64_t at = written_outside(c_init.bytes, c_after, logical, cs); at >= 0)
    failures.add("C written outside every shape's elements (byte " + std::to_string(at) + ")");

  std::ostringstream detail;
  detail << shapes.size() << " shapes (m, n, k 1.." << max << "), impl of the last "
         << shapes.back().op.impl_name() << ", seed " << base_seed();
  if (failures.count() > 0) return fail(failures.summary() + " [" + detail.str() + "]");
  detail << ", worst error " << worst << " x tol at " << worst_shape;
  if (declined_count == 0) return pass(detail.str());
  CaseResult r = pass(detail.str() + "; " + std::to_string(declined_count) +
                      " shapes declined, first " + declined);
  r.declined_dtypes = dtype_str(sw.ab) + "/" + dtype_str(sw.c);
  return r;
}

}  // namespace

void add_sweep_cases(std::vector<Case>& cases) {
  constexpr xinhe_dtype_t f32 = XINHE_DTYPE_F32, f16 = XINHE_DTYPE_F16, bf16 = XINHE_DTYPE_BF16;
  const bool wide = exhaustive();

  // Attention: f32 at three head dims (a tail smaller than any vector, the common 64, and 80,
  // which is not a power of two); f16 and bf16 at 64. Exhaustive: every dtype at more head
  // dims, sequences up to 64.
  std::vector<AttentionSweep> attention;
  const int64_t seq = wide ? 64 : 24;
  const std::vector<int64_t> f32_dims =
      wide ? std::vector<int64_t>{1, 8, 33, 64, 80, 128, 256} : std::vector<int64_t>{8, 64, 80};
  const std::vector<int64_t> half_dims =
      wide ? std::vector<int64_t>{8, 64, 80, 128, 256} : std::vector<int64_t>{64};
  for (xinhe_dtype_t dt : {f32, f16, bf16}) {
    for (int64_t d : dt == f32 ? f32_dims : half_dims) {
      for (bool causal : {false, true}) attention.push_back({dt, d, causal, seq, seq});
    }
  }
  for (const AttentionSweep& s : attention)
    cases.push_back(
        Case{"attention", s.name(), [s](const Device& d) { return run_attention_sweep(d, s); }});

  // GEMM: every transpose pair for f32 and for f16 into f32 (the mixed path), and bf16 into
  // bf16 (the other storage rounding). Exhaustive: every dtype pair, sizes up to 33.
  std::vector<GemmSweep> gemm;
  const std::pair<xinhe_dtype_t, xinhe_dtype_t> ci_combos[] = {
      {f32, f32}, {f16, f32}, {bf16, bf16}};
  const std::pair<xinhe_dtype_t, xinhe_dtype_t> all_combos[] = {
      {f32, f32}, {f16, f16}, {f16, f32}, {bf16, bf16}, {bf16, f32}};
  const int64_t max = wide ? 33 : 17;
  auto add_combo = [&](xinhe_dtype_t ab, xinhe_dtype_t c) {
    for (int t = 0; t < 4; ++t) gemm.push_back({ab, c, (t & 2) != 0, (t & 1) != 0, max});
  };
  if (wide) {
    for (const auto& [ab, c] : all_combos) add_combo(ab, c);
  } else {
    for (const auto& [ab, c] : ci_combos) add_combo(ab, c);
  }
  for (const GemmSweep& s : gemm)
    cases.push_back(Case{"gemm", s.name(), [s](const Device& d) { return run_gemm_sweep(d, s); }});
}

}  // namespace xinhe::conformance
