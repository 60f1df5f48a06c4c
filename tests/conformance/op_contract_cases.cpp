// Op contract cases beyond numerics: malformed descriptions fail at create with
// INVALID_ARGUMENT, bad run arguments fail with INVALID_ARGUMENT and write nothing, one op
// handle runs concurrently on two streams from two threads, and an op handle destroyed while
// its runs are queued still produces their results (ops.h).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "op_check.h"
#include "reference.h"

namespace xinhe::conformance {

using namespace detail;

namespace {

// The device declines an op a contract case needs: a FAIL when it claims the op's dtype, else
// UNSUPPORTED (a device that runs no op in that dtype, such as the template backend).
CaseResult declined(const Device& device, xinhe_dtype_t dtype, const std::string& what,
                    const std::string& why) {
  if (!claims_dtype(device, dtype))
    return unsupported(dtype_str(dtype) + " not claimed by the device: " + why);
  return fail("the device declines " + what + ": " + why);
}

// For the attention contract cases: attention_dtype found no claimed dtype that runs the
// attention and check said UNIMPLEMENTED with a reason (classify_check fails any other code),
// so the device runs none (attention is optional, a GEMM-only NPU declines it all):
// UNSUPPORTED with the claimed dtype counted as declined (its coverage drops), as
// judge_unsupported counts a declined shape of a claimed dtype, rather than a contract FAIL.
CaseResult attention_declined(const Device& device, xinhe_dtype_t dtype, const std::string& what,
                              const std::string& why) {
  if (!claims_dtype(device, dtype))
    return unsupported(dtype_str(dtype) + " not claimed by the device: " + why);
  CaseResult r = unsupported("the device runs " + what + " in no claimed dtype: " + why);
  r.declined_dtypes = dtype_str(dtype);
  return r;
}

// The first of f32, f16, bf16 the device claims.
xinhe_dtype_t claimed_dtype(const Device& device) {
  for (xinhe_dtype_t dt : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16})
    if (claims_dtype(device, dt)) return dt;
  return XINHE_DTYPE_F32;
}

// The first claimed dtype whose attention desc_for(dtype) the device runs, for contract cases
// that test the API around an op rather than a dtype (an NPU may run attention in fewer dtypes
// than it claims for GEMM); the first claimed dtype when it runs none (attention_declined).
template <typename DescFor>
xinhe_dtype_t attention_dtype(const Device& device, DescFor desc_for) {
  for (xinhe_dtype_t dt : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16})
    if (claims_dtype(device, dt) && Attention(device, desc_for(dt)).unsupported_reason().empty())
      return dt;
  return claimed_dtype(device);
}

// Expects create to reject desc with INVALID_ARGUMENT and leave *out untouched.
void expect_gemm_rejected(const Device& device, const xinhe_gemm_desc_t& desc,
                          const std::string& what) {
  xinhe_gemm_t op = nullptr;
  expect_code(xinhe_gemm_create(device.get(), &desc, &op), XINHE_STATUS_INVALID_ARGUMENT,
              "gemm_create with " + what);
  if (op) {
    xinhe_gemm_destroy(op);
    fail_now("gemm_create with " + what + " wrote its output on failure");
  }
}

void expect_attention_rejected(const Device& device, const xinhe_attention_desc_t& desc,
                               const std::string& what) {
  xinhe_attention_t op = nullptr;
  expect_code(xinhe_attention_create(device.get(), &desc, &op), XINHE_STATUS_INVALID_ARGUMENT,
              "attention_create with " + what);
  if (op) {
    xinhe_attention_destroy(op);
    fail_now("attention_create with " + what + " wrote its output on failure");
  }
}

CaseResult gemm_invalid_descriptions(const Device& device) {
  const xinhe_gemm_desc_t good = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, 16, 24, 32);
  xinhe_gemm_desc_t d = good;
  d.m = -1;
  expect_gemm_rejected(device, d, "m = -1");
  d = good;
  d.batch = 0;
  expect_gemm_rejected(device, d, "batch = 0");
  d = good;
  d.lda = good.k - 1;
  expect_gemm_rejected(device, d, "lda < K");
  d = good;
  d.trans_b = 1;  // B is then (N, K): ldb must be >= K = 32, and it is N = 24
  expect_gemm_rejected(device, d, "ldb < K for a transposed B");
  d = good;
  d.ldc = good.n - 1;
  expect_gemm_rejected(device, d, "ldc < N");
  d = good;
  d.batch = 2;
  d.stride_c = good.m * good.n - 1;
  expect_gemm_rejected(device, d, "batches of C that overlap");
  d = good;
  d.c_dtype = XINHE_DTYPE_F16;  // C must be ab_dtype or f32
  expect_gemm_rejected(device, d, "f32 A/B with f16 C");
  d = good;
  d.trans_a = 2;
  expect_gemm_rejected(device, d, "trans_a = 2");
  d = good;
  d.ab_dtype = static_cast<xinhe_dtype_t>(77);
  expect_gemm_rejected(device, d, "an unknown dtype");
  d = good;
  d.m = d.n = d.k = int64_t{1} << 40;
  d.lda = d.ldb = d.ldc = d.m;
  d.stride_a = d.stride_b = d.stride_c = 0;
  expect_gemm_rejected(device, d, "byte counts that overflow");
  return pass();
}

CaseResult attention_invalid_descriptions(const Device& device) {
  const xinhe_attention_desc_t good =
      attention_desc(XINHE_DTYPE_F32, 1, 4, 2, 8, 8, 64, false, true);
  xinhe_attention_desc_t d = good;
  d.heads_kv = 3;
  expect_attention_rejected(device, d, "heads_q not a multiple of heads_kv");
  d = good;
  d.head_dim = 257;
  expect_attention_rejected(device, d, "head_dim 257");
  d = good;
  d.head_dim = 0;
  expect_attention_rejected(device, d, "head_dim 0");
  d = good;
  d.seq_q = -1;
  expect_attention_rejected(device, d, "seq_q = -1");
  d = good;
  d.scale = std::nanf("");
  expect_attention_rejected(device, d, "a NaN scale");
  d = good;
  d.o_strides[2] = 0;  // every query row of O on the same elements
  expect_attention_rejected(device, d, "O strides that alias");
  d = good;
  d.k_strides[1] = -1;
  expect_attention_rejected(device, d, "a negative K stride");
  d = good;
  d.mask = static_cast<xinhe_attention_mask_t>(9);
  expect_attention_rejected(device, d, "an unknown mask");
  d = good;
  d.dtype = static_cast<xinhe_dtype_t>(77);
  expect_attention_rejected(device, d, "an unknown dtype");
  return pass();
}

// Bad run arguments: C too small for the description, a buffer of another size class, a
// missing operand. Each must fail with INVALID_ARGUMENT and leave C as it was.
CaseResult gemm_invalid_arguments(const Device& device) {
  const int64_t m = 16, n = 24, k = 32;
  const xinhe_gemm_desc_t desc = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k);
  Gemm op(device, desc);
  if (std::string why = op.unsupported_reason(); !why.empty())
    return declined(device, XINHE_DTYPE_F32, "a 16x24x32 f32 GEMM", why);
  Stream stream = device.create_stream();
  Buffer a = alloc_poisoned(device, stream, m * k * 4, XINHE_DTYPE_F32);
  Buffer b = alloc_poisoned(device, stream, k * n * 4, XINHE_DTYPE_F32);
  Buffer c = alloc_poisoned(device, stream, m * n * 4, XINHE_DTYPE_F32);
  Buffer small_c = alloc_poisoned(device, stream, m * n * 4 - 4, XINHE_DTYPE_F32);
  Buffer workspace;
  if (uint64_t bytes = op.workspace_size()) workspace = device.alloc(bytes);
  const std::vector<uint8_t> c_before = read_all(stream, c);
  const std::vector<uint8_t> small_before = read_all(stream, small_c);

  xinhe_gemm_args_t args{};
  args.struct_size = sizeof(args);
  args.a = a.get();
  args.b = b.get();
  args.c = c.get();
  args.workspace = workspace.get();
  args.alpha = 1.0f;

  xinhe_gemm_args_t bad = args;
  bad.c = small_c.get();
  expect_code(xinhe_gemm_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "gemm_run with C one element too small");
  bad = args;
  bad.c_offset = 4;
  expect_code(xinhe_gemm_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "gemm_run with C's offset pushing it past the end");
  bad = args;
  bad.a = nullptr;
  expect_code(xinhe_gemm_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "gemm_run with A = NULL");
  // Operand offsets must be whole elements (ops.h), even where the range would fit.
  Buffer roomy = alloc_poisoned(device, stream, m * k * 4 + 64, XINHE_DTYPE_F32);
  bad = args;
  bad.a = roomy.get();
  bad.a_offset = 2;
  expect_code(xinhe_gemm_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "gemm_run with A at a byte offset that is not a whole f32 element");
  bad = args;
  bad.c = a.get();  // A (16x32) is large enough to hold C (16x24): only the overlap is wrong
  expect_code(xinhe_gemm_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "gemm_run with C overlapping A");
  if (workspace) {
    bad = args;
    bad.workspace = nullptr;
    expect_code(xinhe_gemm_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
                "gemm_run without the workspace it asked for");
  }
  if (read_all(stream, c) != c_before || read_all(stream, small_c) != small_before)
    return fail("a rejected gemm_run wrote C");
  return pass();
}

CaseResult attention_invalid_arguments(const Device& device) {
  auto desc_for = [](xinhe_dtype_t dt) {
    return attention_desc(dt, 1, 4, 2, 8, 8, 64, false, true);
  };
  const xinhe_dtype_t dt = attention_dtype(device, desc_for);
  Attention op(device, desc_for(dt));
  if (const CheckOutcome check = classify_check(xinhe_attention_check(op.get()), "attention");
      !check.supported)
    return attention_declined(device, dt, "a small attention", check.reason);
  Stream stream = device.create_stream();
  const uint64_t es = xinhe_dtype_size(dt);
  const uint64_t q_bytes = 4 * 8 * 64 * es, kv_bytes = 2 * 8 * 64 * es, lse_bytes = 4 * 8 * 4;
  Buffer q = alloc_poisoned(device, stream, q_bytes, dt);
  Buffer k = alloc_poisoned(device, stream, kv_bytes, dt);
  Buffer v = alloc_poisoned(device, stream, kv_bytes, dt);
  Buffer o = alloc_poisoned(device, stream, q_bytes, dt);
  Buffer small_v = alloc_poisoned(device, stream, kv_bytes - es, dt);
  Buffer lse = alloc_poisoned(device, stream, lse_bytes, XINHE_DTYPE_F32);
  Buffer workspace;
  if (uint64_t bytes = op.workspace_size()) workspace = device.alloc(bytes);
  const std::vector<uint8_t> o_before = read_all(stream, o);
  const std::vector<uint8_t> lse_before = read_all(stream, lse);

  xinhe_attention_args_t args{};
  args.struct_size = sizeof(args);
  args.q = q.get();
  args.k = k.get();
  args.v = v.get();
  args.o = o.get();
  args.lse = lse.get();
  args.workspace = workspace.get();

  xinhe_attention_args_t bad = args;
  bad.v = small_v.get();
  expect_code(xinhe_attention_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "attention_run with V one element too small");
  bad = args;
  bad.lse = nullptr;
  expect_code(xinhe_attention_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "attention_run without LSE when with_lse = 1");
  bad = args;
  bad.o = q.get();
  expect_code(xinhe_attention_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "attention_run with O overlapping Q");
  // Operand offsets must be whole elements (ops.h), even where the range would fit.
  Buffer roomy_lse = alloc_poisoned(device, stream, lse_bytes + 64, XINHE_DTYPE_F32);
  bad = args;
  bad.lse = roomy_lse.get();
  bad.lse_offset = 6;
  expect_code(xinhe_attention_run(op.get(), stream.get(), &bad), XINHE_STATUS_INVALID_ARGUMENT,
              "attention_run with LSE at a byte offset that is not a whole f32 element");
  if (read_all(stream, o) != o_before || read_all(stream, lse) != lse_before)
    return fail("a rejected attention_run wrote O or LSE");
  return pass();
}

// Runs of one f32 GEMM handle: `streams` streams (each fed from its own thread when
// threaded), each with its own inputs and output; then every output is checked.
CaseResult gemm_lifetimes(const Device& device, const std::string& name, bool threaded,
                          bool destroy_while_queued) {
  Rng rng("gemm." + name);
  const int64_t m = 64, n = 48, k = 80;
  const xinhe_gemm_desc_t desc = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, m, n, k);
  auto op = std::make_unique<Gemm>(device, desc);
  if (std::string why = op->unsupported_reason(); !why.empty())
    return declined(device, XINHE_DTYPE_F32, "a 64x48x80 f32 GEMM", why);
  const uint64_t workspace_bytes = op->workspace_size();

  struct Lane {
    HostArray a, b;
    Stream stream;
    Buffer a_buf, b_buf, c_buf, workspace;
    xinhe_status_code_t run_code = XINHE_STATUS_OK;
    std::string run_message;
  };
  std::vector<Lane> lanes(2);
  for (Lane& lane : lanes) {
    lane.a = HostArray(XINHE_DTYPE_F32, m * k);
    lane.b = HostArray(XINHE_DTYPE_F32, k * n);
    lane.a.randomize(rng);
    lane.b.randomize(rng);
    lane.stream = device.create_stream();
    lane.a_buf = device.alloc(lane.a.bytes.size());
    lane.b_buf = device.alloc(lane.b.bytes.size());
    lane.c_buf = alloc_poisoned(device, lane.stream, m * n * 4, XINHE_DTYPE_F32);
    if (workspace_bytes) lane.workspace = device.alloc(workspace_bytes);
    lane.stream.copy_from_host(lane.a_buf, lane.a.data(), lane.a.bytes.size());
    lane.stream.copy_from_host(lane.b_buf, lane.b.data(), lane.b.bytes.size());
  }
  auto submit = [&](Lane& lane) {
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof(args);
    args.a = lane.a_buf.get();
    args.b = lane.b_buf.get();
    args.c = lane.c_buf.get();
    args.workspace = lane.workspace.get();
    args.alpha = 1.0f;
    lane.run_code =
        take_status(xinhe_gemm_run(op->get(), lane.stream.get(), &args), &lane.run_message);
  };
  if (threaded) {
    std::thread other([&] { submit(lanes[1]); });
    submit(lanes[0]);
    other.join();
  } else {
    for (Lane& lane : lanes) submit(lane);
  }
  if (destroy_while_queued) op.reset();  // the queued runs must still complete correctly

  double worst = 0.0;
  for (size_t i = 0; i < lanes.size(); ++i) {
    Lane& lane = lanes[i];
    if (lane.run_code != XINHE_STATUS_OK)
      return fail("run on stream " + std::to_string(i) + " returned " +
                  xinhe_status_code_name(lane.run_code) + ": " + lane.run_message);
    const std::vector<uint8_t> bytes = read_all(lane.stream, lane.c_buf);
    HostArray got(XINHE_DTYPE_F32, m * n);
    std::memcpy(got.data(), bytes.data(), got.bytes.size());
    std::vector<double> ref(static_cast<size_t>(m * n));
    reference::gemm(desc, lane.a.data(), lane.b.data(), nullptr, 1.0, 0.0, ref.data());
    ErrorStats stats;
    for (int64_t e = 0; e < m * n; ++e) accumulate_error(stats, got.get(e), ref[e], e);
    worst = std::max(worst, stats.normalized());
  }
  CaseResult r;
  r.max_error = worst;
  r.tolerance = tolerance(XINHE_DTYPE_F32, k);
  r.outcome = worst <= r.tolerance ? Outcome::kPass : Outcome::kFail;
  std::ostringstream detail;
  detail << "seed " << base_seed() << ", max_error " << worst << " (tol " << r.tolerance << ")";
  r.detail = detail.str();
  return r;
}

// Sets an environment variable for the life of the object, then restores it (cases run one
// at a time, so nothing else reads the environment meanwhile).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL restrict the implementations considered at create
// (ops.h): a value no implementation's name contains must make check (and run) decline with a
// reason, and the name of the implementation chosen without a filter must select it again.
template <typename Op, typename Handle>
CaseResult impl_filter_case(const Device& dev, const char* variable,
                            const std::function<Op()>& make, xinhe_status_t (*check)(Handle),
                            const char* (*impl_name)(Handle)) {
  std::string chosen;
  {
    Op op = make();
    if (xinhe_status_t s = check(op.get())) {
      xinhe_status_free(s);
      return unsupported("the device declines the op without a filter");
    }
    chosen = impl_name(op.get());
  }
  {
    ScopedEnv filter(variable, "xinhe-conform-matches-no-implementation");
    Op op = make();
    std::string message;
    const xinhe_status_code_t code = take_status(check(op.get()), &message);
    if (code == XINHE_STATUS_OK)
      return fail(std::string(variable) + "=xinhe-conform-matches-no-implementation, yet check " +
                  "passed and selected " + impl_name(op.get()) + ": the filter is ignored");
    if (code != XINHE_STATUS_UNIMPLEMENTED || message.empty())
      return fail(std::string("with a filter matching nothing, check returned ") +
                  xinhe_status_code_name(code) + " '" + message +
                  "' (want UNIMPLEMENTED with a reason)");
    // ops.h: the implementation name is the backend's name when check fails.
    const std::string device_name = dev.name();
    const std::string backend = device_name.substr(0, device_name.rfind(':'));
    if (impl_name(op.get()) != backend)
      return fail(std::string("with a filter matching nothing, the implementation name is '") +
                  impl_name(op.get()) + "' (want the backend's name, '" + backend + "')");
  }
  {
    ScopedEnv filter(variable, chosen.c_str());
    Op op = make();
    std::string message;
    if (take_status(check(op.get()), &message) != XINHE_STATUS_OK)
      return fail(std::string(variable) + "=" + chosen + " (the implementation chosen without a " +
                  "filter) makes check decline: " + message);
    if (std::string(impl_name(op.get())).find(chosen) == std::string::npos)
      return fail(std::string(variable) + "=" + chosen + " selected " + impl_name(op.get()));
  }
  return pass(std::string(variable) + " obeyed (" + chosen + ")");
}

// The workspace may sit at any byte offset (ops.h). It shares one buffer with A and B here, at
// odd offsets past them: a backend that ignores or rounds down the offset overwrites the
// inputs or the guard bytes around the workspace, and the result or the buffer shows it.
CaseResult gemm_workspace_offset_case(const Device& device) {
  Rng rng("gemm.workspace_offset");
  const xinhe_dtype_t dt = claimed_dtype(device);
  const int64_t m = 160, n = 144, k = 176;  // large enough that tiled and packed paths run
  const xinhe_gemm_desc_t desc = gemm_desc(dt, dt, m, n, k);
  Gemm op(device, desc);
  if (std::string why = op.unsupported_reason(); !why.empty())
    return declined(device, dt, "a " + dtype_str(dt) + " GEMM", why);
  const uint64_t ws = op.workspace_size();
  HostArray a(dt, m * k), b(dt, k * n);
  a.randomize(rng);
  b.randomize(rng);
  const uint64_t b_offset = (a.bytes.size() + 255) / 256 * 256;
  const uint64_t inputs_end = b_offset + b.bytes.size();
  std::vector<double> ref(static_cast<size_t>(m * n));
  reference::gemm(desc, a.data(), b.data(), nullptr, 1.0, 0.0, ref.data());
  std::string detail;
  for (const uint64_t gap : {uint64_t{1}, uint64_t{6}, uint64_t{4093}}) {
    const uint64_t ws_offset = inputs_end + gap;
    const uint64_t arena_size = ws_offset + ws + 77;
    Stream stream = device.create_stream();
    Buffer arena = device.alloc(arena_size);
    std::vector<uint8_t> image(arena_size);
    for (uint8_t& byte : image) byte = static_cast<uint8_t>(rng.bits32());
    std::memcpy(image.data(), a.data(), a.bytes.size());
    std::memcpy(image.data() + b_offset, b.data(), b.bytes.size());
    stream.copy_from_host(arena, image.data(), arena_size);
    Buffer c =
        alloc_poisoned(device, stream, static_cast<uint64_t>(m * n) * xinhe_dtype_size(dt), dt);
    op.run(stream, arena, arena.at(b_offset), c, 1.0f, 0.0f, arena.at(ws_offset));
    const std::vector<uint8_t> after = read_all(stream, arena);
    for (uint64_t i = 0; i < arena_size; ++i) {
      if (i >= ws_offset && i < ws_offset + ws) continue;
      if (after[i] != image[i])
        return fail("workspace at byte offset " + std::to_string(ws_offset) + " (" +
                    std::to_string(ws) + " bytes): byte " + std::to_string(i) +
                    " outside it changed" + (i < inputs_end ? " (an input)" : ""));
    }
    HostArray got(dt, m * n);
    const std::vector<uint8_t> c_after = read_all(stream, c);
    std::memcpy(got.data(), c_after.data(), got.bytes.size());
    ErrorStats stats;
    for (int64_t i = 0; i < m * n; ++i)
      accumulate_error(stats, got.get(i), ref[static_cast<size_t>(i)], i);
    if (!(stats.normalized() <= tolerance(dt, k)))
      return fail("workspace at byte offset " + std::to_string(ws_offset) + ": C error " +
                  num(stats.normalized()) + ", impl " + op.impl_name());
    detail += std::to_string(ws_offset) + " ";
  }
  if (ws == 0) return pass(op.impl_name() + " needs no workspace; inputs at offsets checked");
  return pass(op.impl_name() + ": " + std::to_string(ws) + "-byte workspace at offsets " + detail);
}

CaseResult attention_workspace_offset_case(const Device& device) {
  Rng rng("attention.workspace_offset");
  const int64_t h = 2, s = 70, d = 64;
  const xinhe_dtype_t dt = attention_dtype(
      device, [&](xinhe_dtype_t t) { return attention_desc(t, 1, h, h, s, s, d, true); });
  const xinhe_attention_desc_t desc = attention_desc(dt, 1, h, h, s, s, d, true);
  Attention op(device, desc);
  if (const CheckOutcome check = classify_check(xinhe_attention_check(op.get()), "attention");
      !check.supported)
    return attention_declined(device, dt, "this attention", check.reason);
  const uint64_t ws = op.workspace_size();
  HostArray q(dt, h * s * d), k(dt, h * s * d), v(dt, h * s * d);
  q.randomize(rng);
  k.randomize(rng);
  v.randomize(rng);
  const uint64_t bytes = q.bytes.size();
  std::vector<double> o_ref(static_cast<size_t>(h * s * d));
  reference::attention(desc, q.data(), k.data(), v.data(), o_ref.data(), nullptr);
  std::string detail;
  for (const uint64_t gap : {uint64_t{3}, uint64_t{4093}}) {
    const uint64_t ws_offset = 3 * bytes + gap, arena_size = ws_offset + ws + 61;
    Stream stream = device.create_stream();
    Buffer arena = device.alloc(arena_size);
    std::vector<uint8_t> image(arena_size);
    for (uint8_t& byte : image) byte = static_cast<uint8_t>(rng.bits32());
    std::memcpy(image.data(), q.data(), bytes);
    std::memcpy(image.data() + bytes, k.data(), bytes);
    std::memcpy(image.data() + 2 * bytes, v.data(), bytes);
    stream.copy_from_host(arena, image.data(), arena_size);
    Buffer o = alloc_poisoned(device, stream, bytes, dt);
    op.run(stream, arena, arena.at(bytes), arena.at(2 * bytes), o, nullptr, arena.at(ws_offset));
    const std::vector<uint8_t> after = read_all(stream, arena);
    for (uint64_t i = 0; i < arena_size; ++i) {
      if (i >= ws_offset && i < ws_offset + ws) continue;
      if (after[i] != image[i])
        return fail("workspace at byte offset " + std::to_string(ws_offset) + " (" +
                    std::to_string(ws) + " bytes): byte " + std::to_string(i) +
                    " outside it changed" + (i < 3 * bytes ? " (an input)" : ""));
    }
    HostArray got(dt, h * s * d);
    const std::vector<uint8_t> o_after = read_all(stream, o);
    std::memcpy(got.data(), o_after.data(), bytes);
    ErrorStats stats;
    for (int64_t i = 0; i < got.count; ++i)
      accumulate_error(stats, got.get(i), o_ref[static_cast<size_t>(i)], i);
    if (!(stats.normalized() <= tolerance(dt, std::max(d, s))))
      return fail("workspace at byte offset " + std::to_string(ws_offset) + ": O error " +
                  num(stats.normalized()) + ", impl " + op.impl_name());
    detail += std::to_string(ws_offset) + " ";
  }
  if (ws == 0) return pass(op.impl_name() + " needs no workspace; inputs at offsets checked");
  return pass(op.impl_name() + ": " + std::to_string(ws) + "-byte workspace at offsets " + detail);
}

}  // namespace

void add_gemm_contract_cases(std::vector<Case>& cases) {
  cases.push_back(Case{"gemm", "impl_filter", [](const Device& d) {
                         const xinhe_dtype_t dt = claimed_dtype(d);
                         return impl_filter_case<Gemm>(
                             d, "XINHE_GEMM_IMPL",
                             [&d, dt] { return Gemm(d, gemm_desc(dt, dt, 33, 17, 65)); },
                             xinhe_gemm_check, xinhe_gemm_impl_name);
                       }});
  cases.push_back(Case{"gemm", "workspace_offset", gemm_workspace_offset_case});
  cases.push_back(Case{"gemm", "invalid_descriptions", gemm_invalid_descriptions});
  cases.push_back(Case{"gemm", "invalid_arguments", gemm_invalid_arguments});
  cases.push_back(Case{"gemm", "one_handle_two_streams_two_threads", [](const Device& d) {
                         return gemm_lifetimes(d, "one_handle_two_streams_two_threads", true,
                                               false);
                       }});
  cases.push_back(Case{"gemm", "destroy_handle_while_queued", [](const Device& d) {
                         return gemm_lifetimes(d, "destroy_handle_while_queued", false, true);
                       }});
}

void add_attention_contract_cases(std::vector<Case>& cases) {
  cases.push_back(Case{"attention", "invalid_descriptions", attention_invalid_descriptions});
  cases.push_back(Case{"attention", "invalid_arguments", attention_invalid_arguments});
  cases.push_back(
      Case{"attention", "impl_filter", [](const Device& d) {
             // A dtype the device runs attention in: with the first claimed one (f32), a
             // device that runs attention in f16 only declined the case, and the filter went
             // untested.
             const xinhe_dtype_t dt = attention_dtype(
                 d, [](xinhe_dtype_t t) { return attention_desc(t, 1, 2, 1, 9, 17, 64, true); });
             return impl_filter_case<Attention>(
                 d, "XINHE_ATTENTION_IMPL",
                 [&d, dt] { return Attention(d, attention_desc(dt, 1, 2, 1, 9, 17, 64, true)); },
                 xinhe_attention_check, xinhe_attention_impl_name);
           }});
  cases.push_back(Case{"attention", "workspace_offset", attention_workspace_offset_case});
}

}  // namespace xinhe::conformance
