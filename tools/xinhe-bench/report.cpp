// JSON records and the text table of xinhe-bench. The table is derived from the JSON records
// only, so what is printed and what --json writes cannot disagree.
#include "report.h"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "host_peers.h"

namespace xinhe::bench {

using json = nlohmann::ordered_json;

json shape_json(const BenchCase& c) {
  if (c.op == Op::kGemm) {
    const GemmShape& g = c.gemm;
    return json{{"m", g.m},
                {"n", g.n},
                {"k", g.k},
                {"batch", g.batch},
                {"trans_a", g.trans_a},
                {"trans_b", g.trans_b}};
  }
  const AttentionShape& a = c.attention;
  return json{{"b", a.batch},    {"hq", a.heads_q}, {"hkv", a.heads_kv}, {"sq", a.seq_q},
              {"skv", a.seq_kv}, {"d", a.head_dim}, {"causal", a.causal}};
}

// A median more than twice the fastest run: something else took the CPU or the device for
// much of the runs (another process on a busy machine, spinning threads of another library, a
// frequency drop). Seen here: a 2-thread oneDNN 128^3 GEMM with a median of 7.9 ms and a
// fastest run of 0.065 ms while other builds ran, a 120x ratio against xinhe that the row
// did not question.
bool is_noisy(const Result& r) { return r.runs >= 3 && r.median_ms > 2.0 * r.min_ms; }

json result_json(const Result& r, const std::optional<double>& pct_of_peak) {
  return json{
      {"op", op_name(r.op)},
      {"device", r.device},
      {"backend", r.backend},
      {"impl", r.impl},
      {"impl_detail", r.impl_detail},
      {"dtype", xinhe_dtype_name(r.dtype)},
      {"shape", shape_json(r.shape)},
      {"shape_text", shape_string(r.shape)},
      {"threads", r.threads ? json(*r.threads) : json(nullptr)},
      {"runs", r.runs},
      {"timing", r.timing},
      {"median_ms", r.median_ms},
      {"min_ms", r.min_ms},
      {"max_ms", r.max_ms},
      {"noisy", is_noisy(r)},
      {"flops", flop_count(r.shape)},
      {"tflops", r.tflops},
      {"pct_of_peak", pct_of_peak ? json(*pct_of_peak) : json(nullptr)},
      // NaN or Inf (an output the kernel never wrote) is written as null.
      {"max_error", std::isfinite(r.check.max_error) ? json(r.check.max_error) : json(nullptr)},
      {"rel_error", std::isfinite(r.check.rel_error) ? json(r.check.rel_error) : json(nullptr)},
      {"check", json{{"passed", r.check.passed},
                     {"tolerance", r.check.tolerance},
                     {"rows_checked", r.check.rows_checked},
                     {"rows_total", r.check.rows_total}}}};
}

json problem_json(const Problem& p) {
  return json{{"op", op_name(p.op)},
              {"device", p.device},
              {"impl", p.impl},
              {"dtype", xinhe_dtype_name(p.dtype)},
              {"shape", shape_json(p.shape)},
              {"shape_text", shape_string(p.shape)},
              {"threads", p.threads ? json(*p.threads) : json(nullptr)},
              {"code", p.code},
              {"reason", p.reason}};
}

json host_json() {
  std::string model = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      if (const size_t colon = line.find(':'); colon != std::string::npos) {
        model = line.substr(colon + 1);
        model.erase(0, model.find_first_not_of(' '));
      }
      break;
    }
  }
  utsname u{};
  const std::string os =
      uname(&u) == 0 ? fmt::format("{} {} {}", u.sysname, u.release, u.machine) : "unknown";
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  return json{
      {"cpu_model", model},
      {"cores", std::thread::hardware_concurrency()},
      {"memory_bytes",
       pages > 0 && page_size > 0 ? json(static_cast<uint64_t>(pages) * page_size) : json(nullptr)},
      {"os", os},
      {"openblas", openblas_config()}};
}

namespace {

std::string fixed_or_dash(const json& v, const char* spec) {
  return v.is_number() ? fmt::format(fmt::runtime(spec), v.get<double>()) : std::string("-");
}

// Key shared by a xinhe row and its peers.
std::string pairing_key(const json& r) {
  return fmt::format("{}|{}|{}|{}|{}", r["op"].get<std::string>(), r["device"].get<std::string>(),
                     r["dtype"].get<std::string>(), r["shape_text"].get<std::string>(),
                     r["threads"].is_null() ? -1 : r["threads"].get<int>());
}

}  // namespace

void print_table(const json& report) {
  const json& host = report["host"];
  fmt::print("xinhe {}  |  {} ({} cores)  |  warm-up {}, timed runs {}\n",
             report["xinhe_version"].get<std::string>(), host["cpu_model"].get<std::string>(),
             host["cores"].get<unsigned>(), report["settings"]["warmup"].get<int>(),
             report["settings"]["runs"].get<int>());
  // Measured unit peaks per thread count; %peak of a cpu row is against its dtype's line.
  for (const auto& [threads, p] : report["peak_gflops"].items()) {
    std::string dtypes;
    for (const auto& [dtype, v] : p["dtypes"].items()) {
      dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", dtype,
                            v.is_null() ? std::string("unknown")
                                        : fmt::format("{:.1f} ({})", v["gflops"].get<double>(),
                                                      v["unit"].get<std::string>()));
    }
    fmt::print("CPU peak GFLOP/s with {} thread(s), used for %peak: {}\n", threads, dtypes);
  }
  fmt::print("\n");

  std::map<std::string, double> xinhe_ms;
  for (const json& r : report["results"])
    if (r["impl"] == "xinhe") xinhe_ms[pairing_key(r)] = r["median_ms"].get<double>();

  fmt::print(
      "{:<9} {:<4} {:<26} {:<9} {:>3} {:<16} {:>10} {:>10} {:>10} {:>8} {:>6} {:>9} {:<5} {:>7}  "
      "{}\n",
      "op", "type", "shape", "device", "thr", "impl", "median ms", "min ms", "max ms", "TFLOP/s",
      "%peak", "max_err", "check", "x/peer", "impl_detail");
  bool sampled = false, noisy = false;
  for (const json& r : report["results"]) {
    const json& check = r["check"];
    const bool is_sampled =
        check["rows_checked"].get<int64_t>() < check["rows_total"].get<int64_t>();
    sampled = sampled || is_sampled;
    std::string ratio = "";
    if (r["impl"] != "xinhe") {
      auto it = xinhe_ms.find(pairing_key(r));
      if (it != xinhe_ms.end() && it->second > 0)
        ratio = fmt::format("{:.2f}x", r["median_ms"].get<double>() / it->second);
    }
    const bool is_noisy = r.value("noisy", false);
    noisy = noisy || is_noisy;
    const std::string median =
        fmt::format("{:.3f}{}", r["median_ms"].get<double>(), is_noisy ? "~" : "");
    fmt::print(
        "{:<9} {:<4} {:<26} {:<9} {:>3} {:<16} {:>10} {:>10.3f} {:>10.3f} {:>8.4f} {:>6} "
        "{:>8}{} {:<5} {:>7}  {}\n",
        r["op"].get<std::string>(), r["dtype"].get<std::string>(),
        r["shape_text"].get<std::string>(), r["device"].get<std::string>(),
        r["threads"].is_null() ? std::string("-") : std::to_string(r["threads"].get<int>()),
        r["impl"].get<std::string>(), median, r["min_ms"].get<double>(), r["max_ms"].get<double>(),
        r["tflops"].get<double>(), fixed_or_dash(r["pct_of_peak"], "{:.1f}"),
        fixed_or_dash(r["max_error"], "{:.1e}"), is_sampled ? "*" : " ",
        check["passed"].get<bool>() ? "ok" : "FAIL", ratio, r["impl_detail"].get<std::string>());
  }
  if (noisy)
    fmt::print(
        "~ median more than twice the fastest run: the timing was disturbed (a busy machine, "
        "another library's threads); its figures and ratios are not to be trusted\n");
  if (sampled)
    fmt::print(
        "* checked against the float64 reference on an evenly spread sample of output rows "
        "(rows_checked in --json)\n");
  fmt::print(
      "x/peer: xinhe's speed over the peer's (peer median / xinhe median); > 1 means xinhe is "
      "faster\n");
  fmt::print(
      "TFLOP/s: GEMM 2*M*N*K*batch; attention 4*B*Hq*D*(unmasked query-key pairs) per run\n");
  // A record of a whole --threads child that died has no op, dtype, shape or impl (null): it
  // stands for every case of its devices ("FAILED: every case on cpu:0 threads=1: ...").
  const auto problem_line = [](const json& p) {
    std::string line = p["op"].is_string() ? "" : "every case on";
    for (const char* key : {"op", "dtype", "shape_text", "device", "impl"})
      if (p[key].is_string()) line += (line.empty() ? "" : " ") + p[key].get<std::string>();
    if (p["threads"].is_number()) line += fmt::format(" threads={}", p["threads"].get<int>());
    return fmt::format("{}: {}", line, p["reason"].get<std::string>());
  };
  for (const json& p : report["skipped"]) fmt::print("skipped: {}\n", problem_line(p));
  for (const json& p : report["errors"]) fmt::print("FAILED: {}\n", problem_line(p));
}

}  // namespace xinhe::bench
