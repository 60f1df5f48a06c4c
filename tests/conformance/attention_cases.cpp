// Attention numerics cases: dtypes f32/f16/bf16; MHA, GQA (ratios 4 and 8) and MQA; causal
// masking with Sq == Skv, decode (Sq = 1), Sq < Skv and Sq > Skv (rows that see no key);
// head dims 64, 80, 128, 256; BHSD, BSHD and padded strides; LSE; batch > 1; empty sequences.
// Each case checks O (and LSE) against the float64 reference with O and LSE NaN-poisoned
// first, and that nothing outside their logical elements was written.
#include <cmath>
#include <cstring>
#include <sstream>

#include "op_case.h"
#include "op_check.h"
#include "reference.h"

namespace xinhe::conformance {

using namespace detail;

namespace {

using test::AttentionCase;  // tests/support/op_case.h
using Layout = test::AttentionLayout;

CaseResult run_attention(const Device& device, const AttentionCase& spec) {
  const std::string full_name = "attention." + spec.name();
  Rng rng(full_name);

  const xinhe_attention_desc_t desc = spec.desc();
  HostArray q(spec.dtype, spec.q_span());
  HostArray k(spec.dtype, spec.kv_span());
  HostArray v(spec.dtype, spec.kv_span());
  HostArray o(spec.dtype, spec.o_span());
  HostArray lse(XINHE_DTYPE_F32, spec.lse_span());
  q.randomize(rng);
  k.randomize(rng);
  v.randomize(rng);

  Stream stream = device.create_stream();
  Attention op;
  {
    xinhe_attention_t handle = nullptr;
    std::string message;
    const xinhe_status_code_t code =
        take_status(xinhe_attention_create(device.get(), &desc, &handle), &message);
    if (code != XINHE_STATUS_OK)
      return fail(std::string("attention_create rejected a valid description: ") +
                  xinhe_status_code_name(code) + ": " + message);
    op.reset(handle);
  }
  const CheckOutcome check = classify_check(xinhe_attention_check(op.get()), "attention");

  Buffer q_buf = alloc_poisoned(device, stream, q.bytes.size(), spec.dtype);
  Buffer k_buf = alloc_poisoned(device, stream, k.bytes.size(), spec.dtype);
  Buffer v_buf = alloc_poisoned(device, stream, v.bytes.size(), spec.dtype);
  Buffer o_buf = alloc_poisoned(device, stream, o.bytes.size(), spec.dtype);
  Buffer lse_buf;
  if (spec.lse) lse_buf = alloc_poisoned(device, stream, lse.bytes.size(), XINHE_DTYPE_F32);
  if (!q.bytes.empty()) stream.copy_from_host(q_buf, q.data(), q.bytes.size());
  if (!k.bytes.empty()) stream.copy_from_host(k_buf, k.data(), k.bytes.size());
  if (!v.bytes.empty()) stream.copy_from_host(v_buf, v.data(), v.bytes.size());
  const std::vector<uint8_t> o_before = read_all(stream, o_buf);
  const std::vector<uint8_t> lse_before =
      spec.lse ? read_all(stream, lse_buf) : std::vector<uint8_t>{};

  Buffer workspace;
  if (check.supported) {
    uint64_t bytes = 0;
    xinhe::detail::check(xinhe_attention_workspace_size(op.get(), &bytes));
    if (bytes) workspace = device.alloc(bytes);
  }
  xinhe_attention_args_t args{};
  args.struct_size = sizeof(args);
  args.q = q_buf.get();
  args.k = k_buf.get();
  args.v = v_buf.get();
  args.o = o_buf.get();
  args.lse = spec.lse ? lse_buf.get() : nullptr;
  args.workspace = workspace.get();
  xinhe_status_t run_status = xinhe_attention_run(op.get(), stream.get(), &args);

  if (!check.supported) {
    CaseResult r = judge_unsupported(device, full_name, {spec.dtype}, check.reason, run_status);
    const std::vector<uint8_t> o_after = read_all(stream, o_buf);
    const std::vector<uint8_t> lse_after =
        spec.lse ? read_all(stream, lse_buf) : std::vector<uint8_t>{};
    if (o_after != o_before || lse_after != lse_before)
      return fail("declined run wrote O or LSE (" + check.reason + ")");
    return r;
  }
  {
    std::string message;
    const xinhe_status_code_t code = take_status(run_status, &message);
    if (code != XINHE_STATUS_OK)
      return fail("check passed but run returned " + std::string(xinhe_status_code_name(code)) +
                  ": " + message);
  }
  const std::vector<uint8_t> o_after = read_all(stream, o_buf);
  const std::vector<uint8_t> lse_after =
      spec.lse ? read_all(stream, lse_buf) : std::vector<uint8_t>{};
  const std::string impl = op.impl_name();

  const int64_t rows = spec.batch * spec.heads_q * spec.seq_q;
  std::vector<double> o_ref(static_cast<size_t>(rows * spec.head_dim));
  std::vector<double> lse_ref(static_cast<size_t>(rows));
  reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(),
                       spec.lse ? lse_ref.data() : nullptr);

  HostArray o_got(spec.dtype, o.count), lse_got(XINHE_DTYPE_F32, lse.count);
  if (!o_after.empty()) std::memcpy(o_got.data(), o_after.data(), o_got.bytes.size());
  if (!lse_after.empty()) std::memcpy(lse_got.data(), lse_after.data(), lse_got.bytes.size());
  std::vector<bool> o_logical(static_cast<size_t>(o.count), false);
  std::vector<bool> lse_logical(static_cast<size_t>(lse.count), false);
  ErrorStats o_stats, lse_stats;
  int64_t row = 0;
  for (int64_t b = 0; b < spec.batch; ++b)
    for (int64_t h = 0; h < spec.heads_q; ++h)
      for (int64_t s = 0; s < spec.seq_q; ++s, ++row) {
        for (int64_t d = 0; d < spec.head_dim; ++d) {
          const int64_t at = b * desc.o_strides[0] + h * desc.o_strides[1] + s * desc.o_strides[2] +
                             d * desc.o_strides[3];
          o_logical[static_cast<size_t>(at)] = true;
          accumulate_error(o_stats, o_got.get(at),
                           o_ref[static_cast<size_t>(row * spec.head_dim + d)],
                           row * spec.head_dim + d);
        }
        if (spec.lse) {
          const int64_t at =
              b * desc.lse_strides[0] + h * desc.lse_strides[1] + s * desc.lse_strides[2];
          lse_logical[static_cast<size_t>(at)] = true;
          accumulate_error(lse_stats, lse_got.get(at), lse_ref[static_cast<size_t>(row)], row);
        }
      }
  auto untouched = [](const std::vector<uint8_t>& before, const std::vector<uint8_t>& after,
                      const std::vector<bool>& logical, size_t esize) -> int64_t {
    for (size_t byte = 0; byte < after.size(); ++byte) {
      const size_t elem = byte / esize;
      const bool inside = elem < logical.size() && logical[elem];
      if (!inside && after[byte] != before[byte]) return static_cast<int64_t>(byte);
    }
    return -1;
  };
  if (int64_t at = untouched(o_before, o_after, o_logical, xinhe_dtype_size(spec.dtype)); at >= 0)
    return fail("wrote O outside its logical elements (byte " + std::to_string(at) + "), impl " +
                impl);
  if (int64_t at = untouched(lse_before, lse_after, lse_logical, 4); at >= 0)
    return fail("wrote LSE outside its logical elements (byte " + std::to_string(at) + "), impl " +
                impl);

  CaseResult r;
  const double o_error = o_stats.normalized();
  const double lse_error = spec.lse ? lse_stats.normalized() : 0.0;
  r.max_error = std::max(o_error, lse_error);
  if (std::isnan(o_error) || std::isnan(lse_error)) r.max_error = o_error + lse_error;
  r.tolerance = tolerance(spec.dtype, std::max(spec.head_dim, spec.seq_kv));
  std::ostringstream detail;
  detail << "impl " << impl << ", seed " << base_seed() << ", O error " << o_error;
  if (spec.lse) detail << ", LSE error " << lse_error;
  detail << " (tol " << r.tolerance << ")";
  if (!(r.max_error <= r.tolerance)) {
    const bool o_worse = o_error >= lse_error;
    const int64_t w = o_worse ? o_stats.worst_index : lse_stats.worst_index;
    const int64_t w_row = o_worse ? w / spec.head_dim : w;
    if (w >= 0) {
      detail << ", worst in " << (o_worse ? "O" : "LSE") << " at batch "
             << w_row / (spec.heads_q * spec.seq_q) << " head "
             << (w_row / spec.seq_q) % spec.heads_q << " query " << w_row % spec.seq_q;
    }
    r.outcome = Outcome::kFail;
  }
  r.detail = detail.str();
  return r;
}

AttentionCase spec(xinhe_dtype_t dtype, int64_t batch, int64_t heads_q, int64_t heads_kv,
                   int64_t seq_q, int64_t seq_kv, int64_t head_dim, bool causal, bool lse,
                   Layout layout) {
  AttentionCase s;
  s.dtype = dtype;
  s.batch = batch;
  s.heads_q = heads_q;
  s.heads_kv = heads_kv;
  s.seq_q = seq_q;
  s.seq_kv = seq_kv;
  s.head_dim = head_dim;
  s.causal = causal;
  s.lse = lse;
  s.layout = layout;
  return s;
}

}  // namespace

void add_attention_cases(std::vector<Case>& cases) {
  constexpr bool causal = true, lse = true;
  const Layout bhsd = Layout::kBhsd, bshd = Layout::kBshd, padded = Layout::kPadded;
  std::vector<AttentionCase> grid;
  for (xinhe_dtype_t dt : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    grid.push_back(spec(dt, 2, 4, 4, 33, 33, 64, false, false, bhsd));   // MHA, batch 2
    grid.push_back(spec(dt, 2, 4, 4, 33, 33, 64, causal, lse, bshd));    // causal, Sq == Skv
    grid.push_back(spec(dt, 1, 8, 2, 17, 45, 128, causal, lse, bshd));   // GQA 4, Sq < Skv
    grid.push_back(spec(dt, 1, 16, 2, 9, 40, 64, false, lse, bhsd));     // GQA 8
    grid.push_back(spec(dt, 1, 4, 1, 16, 33, 128, false, false, bshd));  // MQA
    grid.push_back(spec(dt, 2, 8, 2, 1, 77, 128, causal, lse, bshd));    // decode
    grid.push_back(spec(dt, 1, 4, 4, 40, 24, 64, causal, lse, bhsd));    // Sq > Skv
    grid.push_back(spec(dt, 1, 4, 2, 33, 50, 80, causal, false, bhsd));  // odd head dim
    grid.push_back(spec(dt, 1, 2, 1, 16, 40, 256, false, lse, bshd));    // largest head dim
    grid.push_back(spec(dt, 1, 2, 1, 16, 40, 256, causal, false, bhsd));
    AttentionCase strided = spec(dt, 2, 4, 2, 20, 31, 64, causal, lse, padded);
    strided.scale = 0.3f;  // not 1/sqrt(D): the scale must be applied as given
    grid.push_back(strided);
    grid.push_back(spec(dt, 1, 2, 1, 5, 0, 64, false, lse, bhsd));    // no keys: O 0, LSE -inf
    grid.push_back(spec(dt, 1, 2, 1, 0, 16, 64, causal, lse, bhsd));  // no queries: no-op
  }
  // Longer sequences, so that kv tiling (and its masked edges) runs; and an empty batch.
  grid.push_back(spec(XINHE_DTYPE_F32, 1, 4, 2, 128, 256, 64, causal, lse, bhsd));
  grid.push_back(spec(XINHE_DTYPE_F16, 1, 4, 2, 100, 300, 128, causal, lse, bshd));
  grid.push_back(spec(XINHE_DTYPE_BF16, 1, 2, 2, 130, 130, 64, causal, false, bhsd));
  grid.push_back(spec(XINHE_DTYPE_F32, 0, 4, 2, 16, 16, 64, false, lse, bhsd));

  for (const AttentionCase& s : grid)
    cases.push_back(
        Case{"attention", s.name(), [s](const Device& d) { return run_attention(d, s); }});
}

}  // namespace xinhe::conformance
