// Attention numerics cases: dtypes f32/f16/bf16; MHA, GQA (ratios 4 and 8) and MQA; causal
// masking with Sq == Skv, decode (Sq = 1), Sq < Skv and Sq > Skv (rows that see no key);
// head dims 64, 80, 128, 256; BHSD, BSHD and padded strides; LSE; batch > 1; empty sequences;
// Q, K, V and O each in a layout of its own (head-dim stride 2, dim-major "bhds", interleaved
// heads), and each at a byte offset of its own in a buffer whose prefix is poison.
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

// Where Q, K, V and O lie, when not all in spec.layout at offset 0: a layout each (the
// tensors' strides then differ, so that a kernel that indexes one tensor with another's
// strides, or assumes a unit head-dim stride, reads or writes the wrong elements) and a byte
// offset each (distinct, so that one tensor's offset used for another is caught too).
struct Placement {
  bool own_layouts = false;
  Layout q = Layout::kBhsd, k = Layout::kBhsd, v = Layout::kBhsd, o = Layout::kBhsd;
  uint64_t q_offset = 0, k_offset = 0, v_offset = 0, o_offset = 0;  // elements

  // ".q_bshd.k_dstride2.v_bhds.o_padded", ".off3_0_0_0" (elements, in the order q k v o).
  std::string suffix() const {
    std::string s;
    if (own_layouts) {
      s += std::string(".q_") + test::attention_layout_name(q) + ".k_" +
           test::attention_layout_name(k) + ".v_" + test::attention_layout_name(v) + ".o_" +
           test::attention_layout_name(o);
    }
    if (q_offset || k_offset || v_offset || o_offset)
      s += ".off" + std::to_string(q_offset) + "_" + std::to_string(k_offset) + "_" +
           std::to_string(v_offset) + "_" + std::to_string(o_offset);
    return s;
  }
};

CaseResult run_attention(const Device& device, const AttentionCase& spec,
                         const Placement& place = Placement()) {
  const std::string full_name = "attention." + spec.name() + place.suffix();
  Rng rng(full_name);

  xinhe_attention_desc_t desc = spec.desc();
  if (place.own_layouts) {
    test::attention_strides(place.q, spec.heads_q, spec.seq_q, spec.head_dim, desc.q_strides);
    test::attention_strides(place.k, spec.heads_kv, spec.seq_kv, spec.head_dim, desc.k_strides);
    test::attention_strides(place.v, spec.heads_kv, spec.seq_kv, spec.head_dim, desc.v_strides);
    test::attention_strides(place.o, spec.heads_q, spec.seq_q, spec.head_dim, desc.o_strides);
  }
  const int64_t q_ext[4] = {spec.batch, spec.heads_q, spec.seq_q, spec.head_dim};
  const int64_t kv_ext[4] = {spec.batch, spec.heads_kv, spec.seq_kv, spec.head_dim};
  const uint64_t esize = xinhe_dtype_size(spec.dtype);
  const uint64_t q_off = place.q_offset * esize, k_off = place.k_offset * esize,
                 v_off = place.v_offset * esize, o_off = place.o_offset * esize;
  HostArray q(spec.dtype, test::tensor_span(q_ext, desc.q_strides, 4));
  HostArray k(spec.dtype, test::tensor_span(kv_ext, desc.k_strides, 4));
  HostArray v(spec.dtype, test::tensor_span(kv_ext, desc.v_strides, 4));
  HostArray o(spec.dtype, test::tensor_span(q_ext, desc.o_strides, 4));
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

  // Each tensor after a poison prefix of its offset: an implementation that drops an offset
  // reads NaN, or writes where O must stay unchanged.
  Buffer q_buf = alloc_poisoned(device, stream, q_off + q.bytes.size(), spec.dtype);
  Buffer k_buf = alloc_poisoned(device, stream, k_off + k.bytes.size(), spec.dtype);
  Buffer v_buf = alloc_poisoned(device, stream, v_off + v.bytes.size(), spec.dtype);
  Buffer o_buf = alloc_poisoned(device, stream, o_off + o.bytes.size(), spec.dtype);
  Buffer lse_buf;
  if (spec.lse) lse_buf = alloc_poisoned(device, stream, lse.bytes.size(), XINHE_DTYPE_F32);
  if (!q.bytes.empty()) stream.copy_from_host(q_buf, q.data(), q.bytes.size(), q_off);
  if (!k.bytes.empty()) stream.copy_from_host(k_buf, k.data(), k.bytes.size(), k_off);
  if (!v.bytes.empty()) stream.copy_from_host(v_buf, v.data(), v.bytes.size(), v_off);
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
  args.q_offset = q_off;
  args.k = k_buf.get();
  args.k_offset = k_off;
  args.v = v_buf.get();
  args.v_offset = v_off;
  args.o = o_buf.get();
  args.o_offset = o_off;
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
  if (!o_got.bytes.empty()) std::memcpy(o_got.data(), o_after.data() + o_off, o_got.bytes.size());
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
  // Bytes outside the logical elements (the prefix before the offset, padding) are unchanged.
  auto untouched = [](const std::vector<uint8_t>& before, const std::vector<uint8_t>& after,
                      const std::vector<bool>& logical, size_t esize, size_t offset) -> int64_t {
    for (size_t byte = 0; byte < after.size(); ++byte) {
      const size_t elem = (byte - offset) / esize;
      const bool inside = byte >= offset && elem < logical.size() && logical[elem];
      if (!inside && after[byte] != before[byte]) return static_cast<int64_t>(byte);
    }
    return -1;
  };
  if (int64_t at = untouched(o_before, o_after, o_logical, esize, o_off); at >= 0)
    return fail("wrote O outside its logical elements (byte " + std::to_string(at) + "), impl " +
                impl);
  if (int64_t at = untouched(lse_before, lse_after, lse_logical, 4, 0); at >= 0)
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

  // Q, K, V and O in layouts of their own (K and V differ, Q and O differ; head-dim strides 2
  // and S, interleaved heads), and each tensor alone at an element-aligned byte offset, then
  // all four at distinct offsets. Small shapes: GQA 2, Sq != Skv, causal with LSE.
  struct Placed {
    AttentionCase spec;
    Placement place;
  };
  std::vector<Placed> placed;
  for (xinhe_dtype_t dt : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    const AttentionCase small = spec(dt, 2, 4, 2, 9, 13, 16, causal, lse, bhsd);
    Placement p;
    p.own_layouts = true;
    p.q = Layout::kBshd, p.k = Layout::kStridedDim, p.v = Layout::kDimMajor, p.o = padded;
    placed.push_back({small, p});
    p.q = Layout::kDimMajor, p.k = Layout::kBshdPadded, p.v = bshd, p.o = Layout::kStridedDim;
    placed.push_back({spec(dt, 1, 4, 4, 11, 11, 24, false, false, bhsd), p});
    Placement all;
    all.q_offset = 3, all.k_offset = 5, all.v_offset = 7, all.o_offset = 9;
    placed.push_back({small, all});
    // D 8 (one 8-wide vector per row) with O rows at odd element pitches, with LSE: PoCL's
    // build of the OpenCL flash kernel stored f16 rows with aligned 16-byte stores and crashed.
    Placement odd_o;
    odd_o.own_layouts = true;
    odd_o.q = bhsd, odd_o.k = bhsd, odd_o.v = bshd, odd_o.o = Layout::kBshdPadded;
    placed.push_back({spec(dt, 2, 2, 1, 5, 7, 8, causal, lse, bhsd), odd_o});
  }
  for (int which = 0; which < 4; ++which) {
    Placement p;
    (which == 0 ? p.q_offset : which == 1 ? p.k_offset : which == 2 ? p.v_offset : p.o_offset) = 3;
    placed.push_back({spec(XINHE_DTYPE_F32, 2, 4, 2, 9, 13, 16, causal, lse, bhsd), p});
  }
  for (const Placed& c : placed)
    cases.push_back(Case{"attention", c.spec.name() + c.place.suffix(),
                         [c](const Device& d) { return run_attention(d, c.spec, c.place); }});
}

}  // namespace xinhe::conformance
