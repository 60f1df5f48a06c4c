// Measurement of one configuration through the public API, and its check against the float64
// reference (kernels/reference) with tests/support's random data, poison, error measure and
// tolerance table, as the conformance suite checks. The output is poisoned with NaN before the
// checked run, so a kernel that skips part of the output cannot pass. Large shapes are checked
// on an evenly spread subset of output rows (the reference is a plain float64 loop nest); the
// result says how many rows were checked.
#include "measure.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "host_peers.h"
#include "numerics.h"
#include "reference.h"

namespace xinhe::bench {
namespace {

// Multiply-adds the reference may spend per (case, dtype); beyond it rows are sampled.
constexpr double kReferenceBudgetMacs = 64.0 * 1024 * 1024;
constexpr int64_t kMinSampledRows = 4;

// The reduction length the tolerance table widens with, as the conformance suite counts it:
// K for GEMM, the longer of D and Skv for attention.
int64_t reduction_length(const BenchCase& c) {
  if (c.op == Op::kGemm) return c.gemm.k;
  return std::max(c.attention.head_dim, c.attention.seq_kv);
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// count indices spread evenly over [0, total), first and last included.
std::vector<int64_t> spread(int64_t total, int64_t count) {
  std::vector<int64_t> out;
  if (count >= total) {
    for (int64_t i = 0; i < total; ++i) out.push_back(i);
    return out;
  }
  for (int64_t s = 0; s < count; ++s) out.push_back(count == 1 ? 0 : s * (total - 1) / (count - 1));
  return out;
}

xinhe_gemm_desc_t gemm_desc_of(const GemmShape& g, xinhe_dtype_t dtype) {
  return with_dtype(g, dtype).desc();
}

xinhe_attention_desc_t attention_desc_of(const AttentionShape& a, xinhe_dtype_t dtype) {
  return with_dtype(a, dtype).desc();
}

// Element counts of the inputs (dense: the spans of the case's operands) and the output.
std::vector<int64_t> input_counts(const BenchCase& c) {
  if (c.op == Op::kGemm) return {c.gemm.a_span(), c.gemm.b_span()};
  return {c.attention.q_span(), c.attention.kv_span(), c.attention.kv_span()};
}

int64_t output_count(const BenchCase& c) {
  return c.op == Op::kGemm ? c.gemm.c_span() : c.attention.o_span();
}

// Sets an environment variable for the lifetime of the object, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value.empty()) {
      unsetenv(name);
    } else {
      setenv(name, value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

// The sampled reference rows: for each, its index in the dense output (row * row_len) and the
// float64 values.
struct CaseData::Reference {
  int64_t row_len = 0;
  int64_t rows_total = 0;
  std::vector<int64_t> rows;
  std::vector<double> values;  // rows.size() * row_len
};

CaseData::CaseData(const BenchCase& c, xinhe_dtype_t dtype) : case_(c), dtype_(dtype) {
  // One seeded stream per (case, dtype): every device and peer sees the same inputs.
  test::Rng rng(0x9e3779b97f4a7c15ull ^ (static_cast<uint64_t>(dtype) << 8));
  for (int64_t count : input_counts(c)) {
    test::HostArray input(dtype, count);
    input.randomize(rng);
    inputs_.push_back(std::move(input.bytes));
  }
}

CaseData::~CaseData() = default;

const std::vector<std::vector<float>>& CaseData::inputs_f32() {
  if (inputs_f32_.empty()) {
    for (const auto& in : inputs_) {
      const int64_t n = static_cast<int64_t>(in.size() / xinhe_dtype_size(dtype_));
      std::vector<float> f(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) f[static_cast<size_t>(i)] = static_cast<float>(reference::load(dtype_, in.data(), i));
      inputs_f32_.push_back(std::move(f));
    }
  }
  return inputs_f32_;
}

uint64_t CaseData::output_bytes() const {
  return static_cast<uint64_t>(output_count(case_)) * xinhe_dtype_size(dtype_);
}

CheckSummary CaseData::check(const void* output) {
  const size_t esize = xinhe_dtype_size(dtype_);
  if (!reference_) {
    auto ref = std::make_unique<Reference>();
    if (case_.op == Op::kGemm) {
      const GemmShape& g = case_.gemm;
      const xinhe_gemm_desc_t desc = gemm_desc_of(g, dtype_);
      ref->row_len = g.n;
      ref->rows_total = g.batch * g.m;
      const double macs_per_row = static_cast<double>(g.n) * g.k;
      const int64_t want = std::max<int64_t>(kMinSampledRows, static_cast<int64_t>(kReferenceBudgetMacs / std::max(1.0, macs_per_row)));
      ref->rows = spread(ref->rows_total, want);
      ref->values.resize(ref->rows.size() * static_cast<size_t>(g.n));
      // Row i of batch b alone: a 1 x N x K GEMM on A's row (or column, when transposed).
      xinhe_gemm_desc_t one = desc;
      one.m = 1;
      one.batch = 1;
      for (size_t s = 0; s < ref->rows.size(); ++s) {
        const int64_t b = ref->rows[s] / g.m, i = ref->rows[s] % g.m;
        const unsigned char* a = inputs_[0].data() + (b * desc.stride_a + (g.trans_a ? i : i * desc.lda)) * esize;
        const unsigned char* bm = inputs_[1].data() + b * desc.stride_b * esize;
        reference::gemm(one, a, bm, nullptr, 1.0, 0.0, ref->values.data() + s * g.n);
      }
    } else {
      const AttentionShape& at = case_.attention;
      const xinhe_attention_desc_t desc = attention_desc_of(at, dtype_);
      ref->row_len = at.head_dim;
      ref->rows_total = at.batch * at.heads_q * at.seq_q;
      const double macs_per_row = 2.0 * at.seq_kv * at.head_dim;
      const int64_t want = std::max<int64_t>(kMinSampledRows, static_cast<int64_t>(kReferenceBudgetMacs / std::max(1.0, macs_per_row)));
      ref->rows = spread(ref->rows_total, want);
      ref->values.resize(ref->rows.size() * static_cast<size_t>(at.head_dim));
      const int64_t group = at.heads_q / at.heads_kv;
      for (size_t s = 0; s < ref->rows.size(); ++s) {
        const int64_t row = ref->rows[s];
        const int64_t i = row % at.seq_q, h = (row / at.seq_q) % at.heads_q,
                      b = row / (at.seq_q * at.heads_q);
        // Query row i alone: one head, Sq = 1. Keeping only the keys it sees (bottom-right
        // causal) makes the one-row problem's own mask equal to the full problem's.
        xinhe_attention_desc_t one = desc;
        one.batch = one.heads_q = one.heads_kv = one.seq_q = 1;
        one.seq_kv = at.causal ? std::clamp<int64_t>(i + (at.seq_kv - at.seq_q) + 1, 0, at.seq_kv)
                               : at.seq_kv;
        one.mask = XINHE_ATTENTION_MASK_NONE;
        const int64_t kv = (b * at.heads_kv + h / group) * at.seq_kv * at.head_dim;
        reference::attention(one, inputs_[0].data() + row * at.head_dim * esize,
                             inputs_[1].data() + kv * esize, inputs_[2].data() + kv * esize,
                             ref->values.data() + s * at.head_dim, nullptr);
      }
    }
    reference_ = std::move(ref);
  }

  const Reference& ref = *reference_;
  test::ErrorStats stats;
  double err2 = 0, ref2 = 0;  // for rel_error, reported beside the check
  for (size_t s = 0; s < ref.rows.size(); ++s) {
    for (int64_t x = 0; x < ref.row_len; ++x) {
      const int64_t at = static_cast<int64_t>(s) * ref.row_len + x;
      const double want = ref.values[static_cast<size_t>(at)];
      const double got = reference::load(dtype_, output, ref.rows[s] * ref.row_len + x);
      stats.add(got, want, at);
      err2 += (got - want) * (got - want);
      ref2 += want * want;
    }
  }
  CheckSummary summary;
  summary.max_error = stats.normalized();
  summary.rel_error = std::sqrt(err2 / std::max(ref2, 1e-300));
  summary.tolerance = test::tolerance(dtype_, reduction_length(case_));
  summary.rows_checked = static_cast<int64_t>(ref.rows.size());
  summary.rows_total = ref.rows_total;
  summary.passed = summary.max_error <= summary.tolerance;  // false for NaN
  return summary;
}

std::string gemm_peer_for_backend(const std::string& backend) {
  if (backend == "cpu") return "openblas";
  if (backend == "opencl") return "clblast";
  if (backend == "cuda") return "cublas";
  if (backend == "hip") return "hipblas";
  return "";
}

namespace {

// A configuration on a device through the public API: buffers, stream and op, created once.
// Members are declared so that the stream is destroyed (waiting for its queued work) before
// the buffers it uses.
class DeviceMeasurement final : public Measurement {
 public:
  DeviceMeasurement(const Device& device, const BenchCase& c) : device_(device), case_(c) {}

  // Sets up and makes the checked run; false with *problem filled when the configuration
  // cannot run. Errors from the API propagate as xinhe::Error.
  bool prepare(const std::string& impl, CaseData& data, Problem* problem) {
    const xinhe_dtype_t dtype = data.dtype();
    const xinhe_device_properties_t props = device_.properties();
    result.backend = props.backend;
    if (!(props.dtype_caps & XINHE_DTYPE_CAP(dtype))) {
      problem->code = "UNIMPLEMENTED";
      problem->reason = fmt::format("{} does not support {}", device_.name(), xinhe_dtype_name(dtype));
      return false;
    }
    out_ = device_.alloc(data.output_bytes());
    stream_ = device_.create_stream();
    for (const auto& host : data.inputs()) {
      inputs_.push_back(device_.alloc(host.size()));
      stream_.copy_from_host(inputs_.back(), host.data(), host.size());
    }

    std::string unsupported;
    uint64_t workspace_bytes = 0;
    {
      // A peer is chosen by the implementation filter the backend reads at create time;
      // "xinhe" leaves the environment as the user set it.
      std::optional<ScopedEnv> filter;
      if (impl != "xinhe")
        filter.emplace(case_.op == Op::kGemm ? "XINHE_GEMM_IMPL" : "XINHE_ATTENTION_IMPL", impl);
      if (case_.op == Op::kGemm) {
        gemm_ = Gemm(device_, gemm_desc_of(case_.gemm, dtype));
        unsupported = gemm_.unsupported_reason();
        if (unsupported.empty()) {
          result.impl_detail = gemm_.impl_name();
          workspace_bytes = gemm_.workspace_size();
        }
      } else {
        attention_ = Attention(device_, attention_desc_of(case_.attention, dtype));
        unsupported = attention_.unsupported_reason();
        if (unsupported.empty()) {
          result.impl_detail = attention_.impl_name();
          workspace_bytes = attention_.workspace_size();
        }
      }
    }
    if (!unsupported.empty()) {
      problem->code = "UNIMPLEMENTED";
      problem->reason = unsupported;
      return false;
    }
    if (workspace_bytes) workspace_ = device_.alloc(workspace_bytes);

    // The checked run: poisoned output, one run, compare.
    stream_.fill(out_, test::poison_pattern(dtype), test::poison_pattern_size(dtype), 0,
                 data.output_bytes());
    submit();
    std::vector<unsigned char> host_out(data.output_bytes());
    stream_.copy_to_host(host_out.data(), out_, host_out.size());
    stream_.synchronize();
    result.check = data.check(host_out.data());

    events_ = (props.flags & XINHE_DEVICE_FLAG_TIMING) != 0;
    if (events_) {
      start_ = device_.create_event();
      end_ = device_.create_event();
    }
    result.timing = events_ ? "device events" : "host wall";
    return true;
  }

  void warm_up() override {
    submit();
    stream_.synchronize();
  }

  // Device events when the device times them, else host wall time around run + synchronize.
  double timed_run_ms() override {
    if (events_) {
      start_.record(stream_);
      submit();
      end_.record(stream_);
      end_.synchronize();
      return end_.elapsed_ms_since(start_);
    }
    const auto t0 = std::chrono::steady_clock::now();
    submit();
    stream_.synchronize();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  void submit() {
    const Buffer* ws = workspace_ ? &workspace_ : nullptr;
    if (case_.op == Op::kGemm) {
      gemm_.run(stream_, inputs_[0], inputs_[1], out_, 1.0f, 0.0f, ws);
    } else {
      attention_.run(stream_, inputs_[0], inputs_[1], inputs_[2], out_, nullptr, ws);
    }
  }

  Device device_;
  BenchCase case_;
  std::vector<Buffer> inputs_;
  Buffer out_;
  Buffer workspace_;
  Stream stream_;
  Gemm gemm_;
  Attention attention_;
  bool events_ = false;
  Event start_, end_;
};

// A peer computed by the bench on the host: run() does the whole computation; timed with the
// host wall clock.
class HostMeasurement : public Measurement {
 public:
  void warm_up() override { run(); }
  double timed_run_ms() override {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

 protected:
  virtual void run() = 0;
};

// The host "openblas-unfused" attention peer.
class UnfusedMeasurement final : public HostMeasurement {
 public:
  UnfusedMeasurement(const BenchCase& c, CaseData& data)
      : unfused_(c.attention), in_(data.inputs_f32()), out_(static_cast<size_t>(output_count(c))) {
    test::poison_bytes(XINHE_DTYPE_F32, out_.data(), out_.size() * sizeof(float));
    run();
    result.check = data.check(out_.data());
    result.timing = "host wall";
  }

 private:
  void run() override { unfused_.run(in_[0].data(), in_[1].data(), in_[2].data(), out_.data()); }
  UnfusedAttention unfused_;
  const std::vector<std::vector<float>>& in_;
  std::vector<float> out_;
};

// The host "openblas-f32" peer of f16/bf16 GEMM.
class ConvertedGemmMeasurement final : public HostMeasurement {
 public:
  ConvertedGemmMeasurement(const BenchCase& c, CaseData& data)
      : gemm_(c.gemm, data.dtype()), in_(data.inputs()), out_(data.output_bytes()) {
    test::poison_bytes(data.dtype(), out_.data(), out_.size());
    run();
    result.check = data.check(out_.data());
    result.timing = "host wall";
  }

 private:
  void run() override { gemm_.run(in_[0].data(), in_[1].data(), out_.data()); }
  ConvertedGemm gemm_;
  const std::vector<std::vector<unsigned char>>& in_;
  std::vector<unsigned char> out_;
};

Result base_result(const std::string& device_name, const std::string& impl, const CaseData& data) {
  Result r;
  r.op = data.bench_case().op;
  r.device = device_name;
  r.impl = impl;
  r.dtype = data.dtype();
  r.shape = data.bench_case();
  return r;
}

}  // namespace

std::unique_ptr<Measurement> prepare_device(const Device& device, const std::string& impl,
                                            CaseData& data, Problem* problem) {
  const BenchCase& c = data.bench_case();
  *problem = Problem{c.op, device.name(), impl, data.dtype(), c, "", "", std::nullopt};
  try {
    auto m = std::make_unique<DeviceMeasurement>(device, c);
    m->result = base_result(device.name(), impl, data);
    if (!m->prepare(impl, data, problem)) return nullptr;
    return m;
  } catch (const Error& e) {
    problem->code = xinhe_status_code_name(e.code());
    problem->reason = e.what();
    return nullptr;
  }
}

std::unique_ptr<Measurement> prepare_unfused_attention(const std::string& device_name,
                                                       CaseData& data) {
  const BenchCase& c = data.bench_case();
  if (c.op != Op::kAttention || data.dtype() != XINHE_DTYPE_F32)
    throw std::logic_error("openblas-unfused measures f32 attention only");
  auto m = std::make_unique<UnfusedMeasurement>(c, data);
  Result r = base_result(device_name, "openblas-unfused", data);
  r.backend = "cpu";
  r.impl_detail = "cblas_sgemm + row softmax + cblas_sgemm";
  r.check = m->result.check;
  r.timing = m->result.timing;
  m->result = r;
  return m;
}

std::unique_ptr<Measurement> prepare_converted_gemm(const std::string& device_name,
                                                    CaseData& data) {
  const BenchCase& c = data.bench_case();
  if (c.op != Op::kGemm || (data.dtype() != XINHE_DTYPE_F16 && data.dtype() != XINHE_DTYPE_BF16))
    throw std::logic_error("openblas-f32 measures f16/bf16 GEMM only");
  auto m = std::make_unique<ConvertedGemmMeasurement>(c, data);
  Result r = base_result(device_name, "openblas-f32", data);
  r.backend = "cpu";
  r.impl_detail = fmt::format("{0} -> f32, cblas_sgemm, f32 -> {0}", xinhe_dtype_name(data.dtype()));
  r.check = m->result.check;
  r.timing = m->result.timing;
  m->result = r;
  return m;
}

void time_side_by_side(const std::vector<Measurement*>& set, const Settings& settings) {
  std::vector<std::vector<double>> ms(set.size());
  for (size_t i = 0; i < set.size(); ++i) {
    if (set.size() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(kSettleMs));
    for (int w = 0; w < settings.warmup; ++w) set[i]->warm_up();
    for (int round = 0; round < settings.runs; ++round) ms[i].push_back(set[i]->timed_run_ms());
  }
  for (size_t i = 0; i < set.size(); ++i) {
    Result& r = set[i]->result;
    r.runs = settings.runs;
    r.median_ms = median_of(ms[i]);
    r.min_ms = *std::min_element(ms[i].begin(), ms[i].end());
    r.max_ms = *std::max_element(ms[i].begin(), ms[i].end());
    r.tflops = flop_count(r.shape) / (r.median_ms * 1e-3) / 1e12;
  }
}

}  // namespace xinhe::bench
