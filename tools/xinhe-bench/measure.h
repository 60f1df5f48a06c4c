// Measuring one configuration: inputs, one checked run against the float64 reference, warm-up,
// timed runs. Implementations measured: "xinhe" (the op as dispatched), a backend's vendor
// GEMM selected through XINHE_GEMM_IMPL ("openblas", "clblast", "cublas"...), and the
// host-side "openblas-unfused" attention.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shapes.h"

namespace xinhe::bench {

struct Settings {
  int warmup = 2;
  int runs = 10;
};

struct CheckSummary {
  // The one error measure of tests/support (max |out - ref| / max |ref|, infinite for NaN)
  // over the checked rows, and the table tolerance it is held to (the output dtype, widened
  // with the reduction length, as in the conformance suite).
  double max_error = 0;
  double tolerance = 0;
  double rel_error = 0;  // ||out - ref||_2 / ||ref||_2, reported for continuity, not checked
  int64_t rows_checked = 0;
  int64_t rows_total = 0;  // output rows (GEMM: batch*M; attention: B*Hq*Sq)
  bool passed = false;
};

struct Result {
  Op op = Op::kGemm;
  std::string device;
  std::string backend;
  std::string impl;         // "xinhe" or the peer's name
  std::string impl_detail;  // implementation actually selected
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  BenchCase shape;          // dtypes unused
  std::optional<int> threads;
  int runs = 0;
  double median_ms = 0, min_ms = 0, max_ms = 0;
  double tflops = 0;
  std::optional<double> pct_of_peak;
  std::string timing;  // "device events", "host wall" or "host wall (in the PyTorch process)"
  CheckSummary check;
};

// A configuration that did not produce a result: skipped (unsupported, not an error) or failed.
struct Problem {
  Op op = Op::kGemm;
  std::string device, impl;
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  BenchCase shape;
  std::string code;    // status code name, e.g. "UNIMPLEMENTED"
  std::string reason;
  std::optional<int> threads;  // the CPU thread count for cpu devices, as in Result
};

// One (case, dtype): host inputs generated once and the sampled float64 reference computed
// once, shared by every device and implementation that runs it.
class CaseData {
 public:
  CaseData(const BenchCase& c, xinhe_dtype_t dtype);
  ~CaseData();
  CaseData(const CaseData&) = delete;
  CaseData& operator=(const CaseData&) = delete;

  const BenchCase& bench_case() const { return case_; }
  xinhe_dtype_t dtype() const { return dtype_; }
  // Inputs in dtype: GEMM {A, B}; attention {Q, K, V} (dense BHSD).
  const std::vector<std::vector<unsigned char>>& inputs() const { return inputs_; }
  // Same inputs widened to f32 (for host peers); built on first use.
  const std::vector<std::vector<float>>& inputs_f32();
  uint64_t output_bytes() const;
  // Compares an output (dtype, dense) against the reference on the sampled rows.
  CheckSummary check(const void* output);

 private:
  struct Reference;
  BenchCase case_;
  xinhe_dtype_t dtype_;
  std::vector<std::vector<unsigned char>> inputs_;
  std::vector<std::vector<float>> inputs_f32_;
  std::unique_ptr<Reference> reference_;  // computed on the first check
};

// A configuration set up and checked once (poisoned output, one run, compared with the
// reference), ready to be timed. result holds everything but the timing figures until
// time_side_by_side() fills them.
class Measurement {
 public:
  virtual ~Measurement() = default;
  virtual void warm_up() = 0;           // one untimed run, waited for
  virtual double timed_run_ms() = 0;    // one run, waited for; its duration
  Result result;
};

// impl on device: "xinhe" (the op as dispatched) or a GEMM peer name (used as
// XINHE_GEMM_IMPL). nullptr with *problem filled when it does not run (skipped when
// problem->code is "UNIMPLEMENTED").
std::unique_ptr<Measurement> prepare_device(const Device& device, const std::string& impl,
                                            CaseData& data, Problem* problem);

// The host "openblas-unfused" attention (f32), a peer of a cpu device.
std::unique_ptr<Measurement> prepare_unfused_attention(const std::string& device_name,
                                                       CaseData& data);

// The host "openblas-f32" GEMM (f16/bf16 widened to f32, SGEMM, rounded back), the peer of a
// cpu device's half-precision GEMM where OpenBLAS has none.
std::unique_ptr<Measurement> prepare_converted_gemm(const std::string& device_name,
                                                    CaseData& data);

// Each measurement in turn as one block: its warm-up runs, then its settings.runs timed runs.
// Not one run of each in turn: a threaded library's idle threads keep spinning for a while
// after its call (OpenMP teams, OpenBLAS's and xinhe's pools), and on a machine with few cores
// they took cycles from whichever library ran next (up to 40 % of a 2-thread 1024^3 GEMM
// here). Before each block the process sleeps kSettleMs, so that every other library's
// threads have gone to sleep (OpenBLAS's spin for up to 2^28 cycles, about 0.1 s; warm-up
// runs alone did not absorb that: a 2-thread 256^3 xinhe GEMM timed after the peers' checked
// runs measured 0.33 ms, after the pause 0.19 ms); the timed runs then see the steady state an
// application calling one library repeatedly sees. Fills the timing fields.
inline constexpr int kSettleMs = 150;
void time_side_by_side(const std::vector<Measurement*>& set, const Settings& settings);

// Peer GEMM implementation for a backend ("cpu" -> "openblas"...); empty when there is none.
std::string gemm_peer_for_backend(const std::string& backend);

}  // namespace xinhe::bench
