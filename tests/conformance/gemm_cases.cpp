// GEMM numerics cases: the grid of dtypes, transposes, sizes (aligned 2^k and odd 2^k+17,
// degenerate and skinny), padded leading dimensions and byte offsets into buffers (both for every
// dtype pair), batches with padded and broadcast strides, alpha/beta, k == 0, empty m/n. Every case
// checks the op against the float64 reference on fresh random inputs with C poisoned first, and
// that nothing outside C's logical elements was written.
#include <cstring>
#include <sstream>

#include "op_case.h"
#include "op_check.h"
#include "reference.h"

namespace xinhe::conformance {

using namespace detail;

namespace {

using test::GemmCase;  // tests/support/op_case.h

CaseResult run_gemm(const Device& device, const GemmCase& spec) {
  const std::string full_name = "gemm." + spec.name();
  Rng rng(full_name);

  const xinhe_gemm_desc_t desc = spec.desc();

  // Host images at each operand's element origin. A and B are random everywhere (padding
  // included: an implementation reading padding gets garbage, not zeros). C is poison, with
  // random values at its logical elements when beta reads them.
  HostArray a(spec.ab, spec.a_span());
  HostArray b(spec.ab, spec.b_span());
  HostArray c(spec.c, spec.c_span());
  a.randomize(rng);
  b.randomize(rng);
  c.poison();
  if (spec.beta != 0.0f) {
    for (int64_t bi = 0; bi < spec.batch; ++bi)
      for (int64_t i = 0; i < spec.m; ++i)
        for (int64_t j = 0; j < spec.n; ++j)
          c.set(bi * desc.stride_c + i * desc.ldc + j, rng.uniform());
  }

  Stream stream = device.create_stream();
  Gemm op;
  {
    xinhe_gemm_t handle = nullptr;
    std::string message;
    const xinhe_status_code_t code =
        take_status(xinhe_gemm_create(device.get(), &desc, &handle), &message);
    if (code != XINHE_STATUS_OK)
      return fail(std::string("gemm_create rejected a valid description: ") +
                  xinhe_status_code_name(code) + ": " + message);
    op.reset(handle);
  }
  const CheckOutcome check = classify_check(xinhe_gemm_check(op.get()), "gemm");

  // Operands sit at their byte offsets in buffers whose prefix is poison, so an
  // implementation that drops an offset reads NaN and fails.
  Buffer a_buf = alloc_poisoned(device, stream, spec.offset_a + a.bytes.size(), spec.ab);
  Buffer b_buf = alloc_poisoned(device, stream, spec.offset_b + b.bytes.size(), spec.ab);
  Buffer c_buf = alloc_poisoned(device, stream, spec.offset_c + c.bytes.size(), spec.c);
  if (!a.bytes.empty()) stream.copy_from_host(a_buf, a.data(), a.bytes.size(), spec.offset_a);
  if (!b.bytes.empty()) stream.copy_from_host(b_buf, b.data(), b.bytes.size(), spec.offset_b);
  if (!c.bytes.empty()) stream.copy_from_host(c_buf, c.data(), c.bytes.size(), spec.offset_c);
  const std::vector<uint8_t> c_before = read_all(stream, c_buf);

  uint64_t workspace_bytes = 0;
  Buffer workspace;
  if (check.supported) {
    xinhe::detail::check(xinhe_gemm_workspace_size(op.get(), &workspace_bytes));
    if (workspace_bytes) workspace = device.alloc(workspace_bytes);
  }
  xinhe_gemm_args_t args{};
  args.struct_size = sizeof(args);
  args.a = a_buf.get();
  args.a_offset = spec.offset_a;
  args.b = b_buf.get();
  args.b_offset = spec.offset_b;
  args.c = c_buf.get();
  args.c_offset = spec.offset_c;
  args.workspace = workspace.get();
  args.alpha = spec.alpha;
  args.beta = spec.beta;
  xinhe_status_t run_status = xinhe_gemm_run(op.get(), stream.get(), &args);

  if (!check.supported) {
    CaseResult r =
        judge_unsupported(device, full_name, {spec.ab, spec.c}, check.reason, run_status);
    const std::vector<uint8_t> c_after = read_all(stream, c_buf);
    if (c_after != c_before) return fail("declined run wrote C (" + check.reason + ")");
    return r;
  }
  {
    std::string message;
    const xinhe_status_code_t code = take_status(run_status, &message);
    if (code != XINHE_STATUS_OK)
      return fail("check passed but run returned " + std::string(xinhe_status_code_name(code)) +
                  ": " + message);
  }
  const std::vector<uint8_t> c_after = read_all(stream, c_buf);
  const std::string impl = op.impl_name();

  std::vector<double> ref(static_cast<size_t>(spec.batch * spec.m * spec.n));
  reference::gemm(desc, a.data(), b.data(), c.data(), spec.alpha, spec.beta, ref.data());

  HostArray got(spec.c, c.count);
  if (!got.bytes.empty()) std::memcpy(got.data(), c_after.data() + spec.offset_c, got.bytes.size());
  std::vector<bool> logical(static_cast<size_t>(c.count), false);
  ErrorStats stats;
  for (int64_t bi = 0; bi < spec.batch; ++bi)
    for (int64_t i = 0; i < spec.m; ++i)
      for (int64_t j = 0; j < spec.n; ++j) {
        const int64_t at = bi * desc.stride_c + i * desc.ldc + j;
        logical[static_cast<size_t>(at)] = true;
        accumulate_error(stats, got.get(at),
                         ref[static_cast<size_t>((bi * spec.m + i) * spec.n + j)],
                         (bi * spec.m + i) * spec.n + j);
      }
  // Bytes outside the logical elements (prefix, ld padding, batch gaps) must be unchanged.
  const size_t esize = xinhe_dtype_size(spec.c);
  for (size_t byte = 0; byte < c_after.size(); ++byte) {
    const bool inside = byte >= spec.offset_c && byte < spec.offset_c + c.bytes.size() &&
                        logical[(byte - spec.offset_c) / esize];
    if (!inside && c_after[byte] != c_before[byte])
      return fail("wrote C outside its logical elements (byte " + std::to_string(byte) +
                  "), impl " + impl);
  }

  CaseResult r;
  r.max_error = stats.normalized();
  r.tolerance = tolerance(spec.c, spec.k);
  std::ostringstream detail;
  detail << "impl " << impl << ", seed " << base_seed() << ", max_error " << r.max_error << " (tol "
         << r.tolerance << ")";
  if (!(r.max_error <= r.tolerance)) {
    const int64_t w = stats.worst_index;
    if (w >= 0 && spec.n > 0 && spec.m > 0) {
      detail << ", worst at batch " << w / (spec.m * spec.n) << " row " << (w / spec.n) % spec.m
             << " col " << w % spec.n;
    }
    r.outcome = Outcome::kFail;
  }
  r.detail = detail.str();
  return r;
}

GemmCase spec(xinhe_dtype_t ab, xinhe_dtype_t c, const char* trans, int64_t m, int64_t n,
              int64_t k) {
  GemmCase s;
  s.ab = ab;
  s.c = c;
  s.trans_a = trans[0] == 't';
  s.trans_b = trans[1] == 't';
  s.m = m;
  s.n = n;
  s.k = k;
  return s;
}

}  // namespace

void add_gemm_cases(std::vector<Case>& cases) {
  constexpr xinhe_dtype_t f32 = XINHE_DTYPE_F32, f16 = XINHE_DTYPE_F16, bf16 = XINHE_DTYPE_BF16;
  const std::pair<xinhe_dtype_t, xinhe_dtype_t> combos[] = {
      {f32, f32}, {f16, f16}, {f16, f32}, {bf16, bf16}, {bf16, f32}};
  const char* transposes[] = {"nn", "nt", "tn", "tt"};
  std::vector<GemmCase> grid;

  for (const auto& [ab, c] : combos) {
    for (const char* t : transposes) grid.push_back(spec(ab, c, t, 81, 145, 64));  // odd m, n
    grid.push_back(spec(ab, c, "nn", 128, 64, 128));                               // aligned
    grid.push_back(spec(ab, c, "nt", 145, 81, 145));                               // all odd
  }
  // Degenerate and skinny shapes: a single element, one row (decode-like), one column, tall
  // and thin, and a long reduction.
  for (xinhe_dtype_t dt : {f32, f16, bf16}) {
    grid.push_back(spec(dt, dt, "nn", 1, 1, 1));
    grid.push_back(spec(dt, dt, "nn", 1, 145, 81));
    grid.push_back(spec(dt, dt, "tn", 145, 1, 81));
    grid.push_back(spec(dt, dt, "tn", 513, 3, 17));
    grid.push_back(spec(dt, dt, "nt", 5, 7, 513));
  }
  // Leading dimensions larger than needed, for every dtype pair (a kernel per pair may assume
  // dense operands on its own).
  for (auto [ab, c, t] :
       {std::tuple{f32, f32, "nn"}, std::tuple{f32, f32, "tt"}, std::tuple{f16, f32, "nt"},
        std::tuple{bf16, bf16, "tn"}, std::tuple{f16, f16, "nt"}, std::tuple{bf16, f32, "tt"}}) {
    GemmCase s = spec(ab, c, t, 81, 64, 145);
    s.pad_a = 7, s.pad_b = 9, s.pad_c = 5;
    grid.push_back(s);
  }
  // Batches with gaps between matrices, and stride-0 broadcast of A or B.
  for (auto [ab, c, t] :
       {std::tuple{f32, f32, "nn"}, std::tuple{f16, f16, "tn"}, std::tuple{bf16, f32, "nt"}}) {
    GemmCase s = spec(ab, c, t, 33, 81, 40);
    s.batch = 3, s.batch_gap = 19;
    grid.push_back(s);
  }
  for (auto [ab, c, t, bcast_a] :
       {std::tuple{f32, f32, "nt", true}, std::tuple{f16, f32, "nn", true},
        std::tuple{f32, f32, "tn", false}, std::tuple{bf16, bf16, "nn", false}}) {
    GemmCase s = spec(ab, c, t, 33, 81, 40);
    s.batch = 3;
    s.broadcast_a = bcast_a;
    s.broadcast_b = !bcast_a;
    grid.push_back(s);
  }
  // alpha and beta (beta == 0 with NaN-poisoned C is every other case).
  for (auto [ab, c, t, alpha, beta] :
       {std::tuple{f32, f32, "nn", -0.75f, 0.5f}, std::tuple{f16, f16, "tt", 2.0f, 0.5f},
        std::tuple{bf16, f32, "nt", 0.5f, 1.0f}, std::tuple{f16, f32, "tn", 1.0f, -1.25f}}) {
    GemmCase s = spec(ab, c, t, 81, 64, 145);
    s.alpha = alpha, s.beta = beta;
    if (ab == f16 && c == f32) s.batch = 3;  // beta must read every batch's C
    grid.push_back(s);
  }
  // k == 0: C = beta * C (so C = 0 when beta == 0, NaN poison notwithstanding).
  for (auto [dt, beta] :
       {std::pair{f32, 0.5f}, std::pair{f32, 0.0f}, std::pair{f16, 0.5f}, std::pair{bf16, 0.0f}}) {
    GemmCase s = spec(dt, dt, "nn", 17, 33, 0);
    s.beta = beta;
    grid.push_back(s);
  }
  // Empty m or n: a no-op that must leave C untouched.
  grid.push_back(spec(f32, f32, "nn", 0, 145, 64));
  grid.push_back(spec(f32, f32, "tt", 81, 0, 64));
  {
    GemmCase s = spec(f16, f32, "nn", 0, 33, 17);
    s.batch = 3;
    grid.push_back(s);
  }
  // Operands at byte offsets inside their buffers: 256-aligned and merely element-aligned,
  // for every dtype pair.
  {
    GemmCase s = spec(f32, f32, "nt", 81, 64, 145);
    s.offset_a = 256, s.offset_b = 512, s.offset_c = 4096;
    grid.push_back(s);
    s = spec(f16, f16, "tn", 81, 64, 145);
    s.offset_a = 4, s.offset_b = 6, s.offset_c = 10;
    grid.push_back(s);
    s = spec(bf16, f32, "nn", 81, 64, 145);
    s.offset_a = 2, s.offset_b = 14, s.offset_c = 12;
    s.beta = 0.5f;
    grid.push_back(s);
    s = spec(f16, f32, "tt", 81, 64, 145);
    s.offset_a = 6, s.offset_b = 258, s.offset_c = 20;
    grid.push_back(s);
    s = spec(bf16, bf16, "nt", 81, 64, 145);
    s.offset_a = 512, s.offset_b = 10, s.offset_c = 6;
    grid.push_back(s);
  }
  // Larger problems, so that blocked and tiled paths (and their edges) run.
  grid.push_back(spec(f32, f32, "nn", 256, 256, 256));
  grid.push_back(spec(f16, f32, "nt", 273, 192, 320));
  grid.push_back(spec(bf16, bf16, "tn", 192, 273, 256));

  for (const GemmCase& s : grid)
    cases.push_back(Case{"gemm", s.name(), [s](const Device& d) { return run_gemm(d, s); }});
}

}  // namespace xinhe::conformance
