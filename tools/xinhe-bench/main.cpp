// xinhe-bench: GEMM and attention throughput on every selected device, each configuration
// checked once against the float64 reference, optionally beside vendor peers (--compare).
//
// Flow: resolve the cases (preset, shape file, --gemm/--attention), the devices and the thread
// counts; plan one item per (case, dtype, device, implementation); run the items, printing a
// progress line per item on stderr; print the table on stdout and write --json. With --threads
// the CPU items are run once per count in a child process (this binary re-executed with
// XINHE_CPU_THREADS=<n>, since the CPU backend sizes its pool once at start-up); the child
// writes its records to a JSON file that the parent merges. The format is described in
// docs/bench-format.md.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_parse.h"
#include "fma_probe.h"
#include "measure.h"
#include "report.h"
#include "shapes.h"
#include "host_peers.h"
#include "torch_peer.h"

namespace xinhe::bench {
namespace {

using json = nlohmann::ordered_json;

struct Options {
  std::string devices = "default";
  std::vector<std::string> ops;
  std::vector<std::string> dtypes;
  std::string shapes;
  std::vector<std::string> gemm_shapes, attention_shapes;
  Settings settings;
  std::vector<int> threads;
  bool compare = false;
  bool quick = false;
  std::string python;  // interpreter of the PyTorch peer (empty: XINHE_BENCH_PYTHON, python3)
  double peer_max_seconds = 5.0;  // the PyTorch peer's longest call that is still timed
  std::string json_path;
  // Set by the parent when it re-executes itself for one CPU thread count.
  std::string child_json;
  int child_threads = 0;
  int progress_base = 0, progress_total = 0;
};

// One planned measurement.
struct Item {
  size_t case_index = 0;
  xinhe_dtype_t dtype = XINHE_DTYPE_F32;
  Device device;
  std::string backend;
  std::string impl;  // "xinhe", a GEMM peer name, "openblas-unfused", "openblas-f32", "torch-*"
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<BenchCase> resolve_cases(const Options& o) {
  std::vector<BenchCase> cases;
  std::vector<xinhe_dtype_t> filter;
  for (const std::string& d : o.dtypes)
    for (const std::string& name : split_list(d)) filter.push_back(parse_dtype(name));
  const std::vector<xinhe_dtype_t> explicit_dtypes =
      filter.empty() ? std::vector<xinhe_dtype_t>{XINHE_DTYPE_F32} : filter;

  std::string source = o.shapes;
  if (source.empty() && o.gemm_shapes.empty() && o.attention_shapes.empty())
    source = o.quick ? "quick" : "default";
  if (!source.empty()) {
    const bool is_file = std::ifstream(source).good();
    std::vector<BenchCase> from = is_file ? load_shape_file(source, explicit_dtypes) : preset(source);
    for (BenchCase& c : from) {
      if (!filter.empty()) {
        std::vector<xinhe_dtype_t> kept;
        for (xinhe_dtype_t d : c.dtypes)
          if (std::find(filter.begin(), filter.end(), d) != filter.end()) kept.push_back(d);
        c.dtypes = kept;
      }
      if (!c.dtypes.empty()) cases.push_back(std::move(c));
    }
  }
  for (const std::string& list : o.gemm_shapes) {
    for (const std::string& text : split_list(list)) {
      BenchCase c;
      c.op = Op::kGemm;
      c.gemm = parse_gemm(text);
      c.dtypes = explicit_dtypes;
      cases.push_back(c);
    }
  }
  for (const std::string& list : o.attention_shapes) {
    for (const std::string& text : split_list(list)) {
      BenchCase c;
      c.op = Op::kAttention;
      c.attention = parse_attention(text);
      c.dtypes = explicit_dtypes;
      cases.push_back(c);
    }
  }

  std::set<std::string> ops;
  for (const std::string& list : o.ops)
    for (const std::string& op : split_list(list)) {
      if (op != "gemm" && op != "attention")
        throw std::invalid_argument(fmt::format("unknown op '{}' (gemm, attention)", op));
      ops.insert(op);
    }
  if (!ops.empty()) {
    std::vector<BenchCase> kept;
    for (BenchCase& c : cases)
      if (ops.count(op_name(c.op))) kept.push_back(std::move(c));
    cases = std::move(kept);
  }
  return cases;
}

std::string backend_of(const Device& d) { return d.properties().backend; }

// "default": every device of the cpu and opencl backends; "all": every device; else names.
std::vector<Device> resolve_devices(const std::string& spec) {
  std::vector<Device> out;
  if (spec == "all" || spec == "default") {
    for (const Device& d : Device::all()) {
      const std::string backend = backend_of(d);
      if (spec == "all" || backend == "cpu" || backend == "opencl") out.push_back(d);
    }
    return out;
  }
  for (const std::string& name : split_list(spec)) out.push_back(Device::get(name));
  return out;
}

std::vector<Item> plan(const std::vector<BenchCase>& cases, const std::vector<Device>& devices,
                       bool compare) {
  std::vector<Item> items;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const BenchCase& c = cases[ci];
    for (xinhe_dtype_t dtype : c.dtypes) {
      for (const Device& device : devices) {
        const std::string backend = backend_of(device);
        if (!c.only_backend.empty() && c.only_backend != backend) continue;
        items.push_back({ci, dtype, device, backend, "xinhe"});
        if (!compare) continue;
        if (c.op == Op::kGemm && backend == "cpu" && dtype != XINHE_DTYPE_F32) {
          items.push_back({ci, dtype, device, backend, "openblas-f32"});  // OpenBLAS has no f16/bf16
        } else if (c.op == Op::kGemm) {
          const std::string peer = gemm_peer_for_backend(backend);
          if (!peer.empty()) items.push_back({ci, dtype, device, backend, peer});
        } else if (backend == "cpu" && dtype == XINHE_DTYPE_F32) {
          items.push_back({ci, dtype, device, backend, "openblas-unfused"});
        }
        if (backend == "cpu") {
          // oneDNN's matmul (the CPU vendor path, through XINHE_GEMM_IMPL) and PyTorch.
          if (c.op == Op::kGemm) items.push_back({ci, dtype, device, backend, "onednn"});
          items.push_back(
              {ci, dtype, device, backend, c.op == Op::kGemm ? kTorchMatmul : kTorchSdpa});
        }
      }
    }
  }
  return items;
}

int default_cpu_threads() {
  if (const char* env = std::getenv("XINHE_CPU_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Everything a run accumulates; the same shape in parent and children.
struct Records {
  json results = json::array();
  json skipped = json::array();
  json errors = json::array();
  json fma_peaks = json::object();  // thread count (string) -> f32 GFLOP/s or null
  json peaks = json::object();      // thread count (string) -> per unit and per dtype
  bool failed = false;
};

// Runs the items in order. Consecutive items of one (case, dtype, device) -- xinhe and its
// peers -- are set up together and timed side by side (time_side_by_side); the inputs and the
// reference are computed once per (case, dtype).
void run_items(const std::vector<BenchCase>& cases, const std::vector<Item>& items,
               const Settings& settings, int cpu_threads, int progress_base, int progress_total,
               Records* rec) {
  std::unique_ptr<CaseData> data;
  size_t data_case = 0;
  int index = progress_base;
  for (size_t first = 0; first < items.size();) {
    const Item& lead = items[first];
    size_t last = first + 1;
    while (last < items.size() && items[last].case_index == lead.case_index &&
           items[last].dtype == lead.dtype && items[last].device.name() == lead.device.name()) {
      ++last;
    }
    const BenchCase& c = cases[lead.case_index];
    if (!data || data_case != lead.case_index || data->dtype() != lead.dtype) {
      data.reset();  // free the previous inputs first: big cases hold hundreds of MiB
      data = std::make_unique<CaseData>(c, lead.dtype);
      data_case = lead.case_index;
    }
    const bool is_cpu = lead.backend == "cpu";
    const std::string threads_note = is_cpu ? fmt::format(" threads={}", cpu_threads) : "";

    // Set up and check each; report the ones that cannot run.
    std::vector<std::unique_ptr<Measurement>> ready;
    for (size_t i = first; i < last; ++i) {
      const Item& item = items[i];
      std::unique_ptr<Measurement> m;
      Problem problem;
      try {
        if (item.impl == "openblas-unfused") {
          set_openblas_threads(cpu_threads);
          m = prepare_unfused_attention(item.device.name(), *data);
        } else if (item.impl == "openblas-f32") {
          set_openblas_threads(cpu_threads);
          m = prepare_converted_gemm(item.device.name(), *data);
        } else if (item.impl == kTorchMatmul || item.impl == kTorchSdpa) {
          m = prepare_torch(item.device.name(), *data, &problem);
        } else {
          m = prepare_device(item.device, item.impl, *data, &problem);
        }
      } catch (const std::exception& e) {
        // Anything but a status from the API (those are handled inside): host out of memory...
        m.reset();
        problem = Problem{c.op, item.device.name(), item.impl, item.dtype, c, "INTERNAL", e.what()};
      }
      if (m) {
        ready.push_back(std::move(m));
        continue;
      }
      const bool skipped = problem.code == "UNIMPLEMENTED";
      fmt::print(stderr, "[{}/{}] {} {} {} {} {}{}: {}: {}\n", ++index, progress_total,
                 op_name(c.op), xinhe_dtype_name(item.dtype), shape_string(c), item.device.name(),
                 item.impl, threads_note, skipped ? "skipped" : "FAILED", problem.reason);
      (skipped ? rec->skipped : rec->errors).push_back(problem_json(problem));
      rec->failed = rec->failed || !skipped;
    }
    if (ready.empty()) {
      first = last;
      continue;
    }
    fmt::print(stderr, "[{}-{}/{}] {} {} {} {}{}: timing {} side by side ...\n", index + 1,
               index + static_cast<int>(ready.size()), progress_total, op_name(c.op),
               xinhe_dtype_name(lead.dtype), shape_string(c), lead.device.name(), threads_note,
               ready.size());
    std::vector<Measurement*> set;
    for (auto& m : ready) set.push_back(m.get());
    try {
      time_side_by_side(set, settings);
    } catch (const std::exception& e) {
      for (auto& m : ready) {
        const Result& r = m->result;
        Problem problem{c.op, r.device, r.impl, r.dtype, c, "INTERNAL", e.what()};
        if (const auto* err = dynamic_cast<const Error*>(&e)) problem.code = xinhe_status_code_name(err->code());
        fmt::print(stderr, "  {}: FAILED: {}\n", r.impl, e.what());
        rec->errors.push_back(problem_json(problem));
      }
      rec->failed = true;
      index += static_cast<int>(ready.size());
      first = last;
      continue;
    }

    for (auto& m : ready) {
      Result& result = m->result;
      ++index;
      if (is_cpu) result.threads = cpu_threads;
      // %peak: cpu devices against the measured FMA peak of this thread count; other devices
      // against the peak they report for the dtype.
      std::optional<double> pct;
      std::string peak_unit;
      if (is_cpu) {
        const json& peak =
            rec->peaks[std::to_string(cpu_threads)]["dtypes"][xinhe_dtype_name(result.dtype)];
        if (peak.is_object() && peak["gflops"].get<double>() > 0) {
          pct = 100.0 * result.tflops * 1e3 / peak["gflops"].get<double>();
          peak_unit = peak["unit"].get<std::string>();
        }
      } else {
        const double peak = lead.device.properties().peak_flops[result.dtype];
        if (peak > 0) pct = 100.0 * result.tflops * 1e12 / peak;
      }
      const CheckSummary& check = result.check;
      fmt::print(stderr, "  {}: {:.3f} ms, {:.4f} TFLOP/s, max_err {:.1e}{} {}\n", result.impl,
                 result.median_ms, result.tflops, check.max_error,
                 check.rows_checked < check.rows_total
                     ? fmt::format(" ({} of {} rows checked)", check.rows_checked, check.rows_total)
                     : std::string(),
                 check.passed ? "ok" : fmt::format("FAILED (tolerance {:.1e})", check.tolerance));
      rec->failed = rec->failed || !check.passed;
      json record = result_json(result, pct);
      record["peak_unit"] = peak_unit.empty() ? json(nullptr) : json(peak_unit);
      rec->results.push_back(record);
    }
    first = last;
  }
}

// Probes every unit for this thread count; fma_peak_gflops keeps the f32 figure (the field
// older consumers read), peak_gflops the units and the per-dtype peaks %peak uses.
void measure_fma_peak(int threads, Records* rec) {
  const CpuPeakSet set = measure_cpu_peaks(threads);
  json units = json::object(), unavailable = json::object(), dtypes = json::object();
  std::string line;
  for (const auto& [unit, gflops] : set.unit_gflops) {
    units[unit] = gflops;
    line += fmt::format("{}{} {:.1f}", line.empty() ? "" : ", ", unit, gflops);
  }
  for (const auto& [unit, why] : set.unavailable) unavailable[unit] = why;
  for (xinhe_dtype_t d : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    dtypes[xinhe_dtype_name(d)] =
        set.dtype_gflops[d] > 0 ? json{{"gflops", set.dtype_gflops[d]}, {"unit", set.dtype_unit[d]}}
                                : json(nullptr);
  }
  const std::string key = std::to_string(threads);
  rec->peaks[key] = json{{"units", units}, {"unavailable", unavailable}, {"dtypes", dtypes}};
  const double f32 = set.dtype_gflops[XINHE_DTYPE_F32];
  rec->fma_peaks[key] = f32 > 0 ? json(f32) : json(nullptr);
  fmt::print(stderr, "CPU peaks with {} thread(s), GFLOP/s: {}\n", threads,
             line.empty() ? std::string("unknown") : line);
}

std::string temp_path(const char* stem) {
  std::string path = fmt::format("/tmp/{}-XXXXXX", stem);
  const int fd = mkstemp(path.data());
  if (fd < 0) throw std::runtime_error(fmt::format("mkstemp failed for {}", path));
  close(fd);
  return path;
}

// Re-executes this binary for the CPU items with XINHE_CPU_THREADS=threads and merges what the
// child wrote. A child that crashes or writes nothing is recorded as an error.
void run_cpu_child(const Options& o, const std::string& shapes_file, const std::string& cpu_devices,
                   int threads, int progress_base, int progress_total, Records* rec) {
  const std::string out_file = temp_path("xinhe-bench-child");
  std::vector<std::string> args = {"xinhe-bench",
                                   "--devices", cpu_devices,
                                   "--shapes", shapes_file,
                                   "--warmup", std::to_string(o.settings.warmup),
                                   "--runs", std::to_string(o.settings.runs),
                                   "--child-json", out_file,
                                   "--child-threads", std::to_string(threads),
                                   "--child-progress", fmt::format("{}/{}", progress_base, progress_total)};
  if (o.compare) args.push_back("--compare");
  if (!o.python.empty()) {
    args.push_back("--python");
    args.push_back(o.python);
  }
  args.push_back("--peer-max-seconds");
  args.push_back(fmt::format("{}", o.peer_max_seconds));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    die_with_parent(parent);
    setenv("XINHE_CPU_THREADS", std::to_string(threads).c_str(), 1);
    execv("/proc/self/exe", argv.data());
    std::perror("xinhe-bench: execv /proc/self/exe");
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);

  json child;
  try {
    std::ifstream in(out_file);
    child = json::parse(in);
  } catch (const std::exception&) {
    child = json();  // reported below as a child that wrote no results
  }
  std::remove(out_file.c_str());
  if (!child.is_object()) {
    Problem p;
    p.device = cpu_devices;
    p.impl = "*";
    p.code = "INTERNAL";
    p.reason = fmt::format("child for {} thread(s) exited with status {} and wrote no results",
                           threads, status);
    rec->errors.push_back(problem_json(p));
    rec->failed = true;
    return;
  }
  for (const json& r : child["results"]) rec->results.push_back(r);
  for (const json& r : child["skipped"]) rec->skipped.push_back(r);
  for (const json& r : child["errors"]) rec->errors.push_back(r);
  for (const auto& [k, v] : child["fma_peak_gflops"].items()) rec->fma_peaks[k] = v;
  for (const auto& [k, v] : child["peak_gflops"].items()) rec->peaks[k] = v;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rec->failed = true;
}

json records_json(const Records& rec, const Options& o) {
  return json{{"xinhe_version", xinhe_version_string()},
              {"host", host_json()},
              {"settings", json{{"warmup", o.settings.warmup}, {"runs", o.settings.runs}}},
              {"fma_peak_gflops", rec.fma_peaks},
              {"peak_gflops", rec.peaks},
              {"results", rec.results},
              {"skipped", rec.skipped},
              {"errors", rec.errors}};
}

int run(const Options& o) {
  const std::vector<BenchCase> cases = resolve_cases(o);
  const std::vector<Device> devices = resolve_devices(o.devices);
  Records rec;

  if (!o.child_json.empty()) {
    // Child: CPU items for one thread count (XINHE_CPU_THREADS is already set).
    const std::vector<Item> items = plan(cases, devices, o.compare);
    configure_torch_peer(o.python, o.child_threads, o.peer_max_seconds);
    measure_fma_peak(o.child_threads, &rec);
    run_items(cases, items, o.settings, o.child_threads, o.progress_base, o.progress_total, &rec);
    std::ofstream(o.child_json) << records_json(rec, o).dump();
    return rec.failed ? 1 : 0;
  }

  if (cases.empty()) throw std::invalid_argument("no case left after the --op/--dtypes filters");
  if (devices.empty()) throw std::invalid_argument(fmt::format("no device matches '{}'", o.devices));

  std::vector<Device> cpu_devices, other_devices;
  for (const Device& d : devices) (backend_of(d) == "cpu" ? cpu_devices : other_devices).push_back(d);

  if (o.threads.empty()) {
    const std::vector<Item> items = plan(cases, devices, o.compare);
    const int threads = default_cpu_threads();
    configure_torch_peer(o.python, threads, o.peer_max_seconds);
    if (!cpu_devices.empty()) measure_fma_peak(threads, &rec);
    run_items(cases, items, o.settings, threads, 0, static_cast<int>(items.size()), &rec);
  } else {
    const std::vector<Item> cpu_items = plan(cases, cpu_devices, o.compare);
    const std::vector<Item> other_items = plan(cases, other_devices, o.compare);
    const int total = static_cast<int>(cpu_items.size() * o.threads.size() + other_items.size());
    int base = 0;
    if (!cpu_items.empty()) {
      const std::string shapes_file = temp_path("xinhe-bench-shapes");
      save_shape_file(shapes_file, cases);
      std::string names;
      for (const Device& d : cpu_devices) names += (names.empty() ? "" : ",") + d.name();
      for (int threads : o.threads) {
        run_cpu_child(o, shapes_file, names, threads, base, total, &rec);
        base += static_cast<int>(cpu_items.size());
      }
      std::remove(shapes_file.c_str());
    }
    run_items(cases, other_items, o.settings, default_cpu_threads(), base, total, &rec);
  }

  const json report = records_json(rec, o);
  print_table(report);
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path);
    out << report.dump(2) << '\n';
    if (!out) throw std::runtime_error(fmt::format("cannot write '{}'", o.json_path));
  }
  return rec.failed ? 1 : 0;
}

}  // namespace
}  // namespace xinhe::bench

int main(int argc, char** argv) {
  using xinhe::bench::Options;
  Options o;
  CLI::App app{
      "xinhe-bench: GEMM and attention throughput per device, checked against the float64 "
      "reference. Table on stdout, progress on stderr; exit 1 when a check or a run fails."};
  std::string presets;
  for (const std::string& p : xinhe::bench::preset_names()) presets += (presets.empty() ? "" : ", ") + p;
  app.add_option("--devices", o.devices,
                 "Devices: 'default' (every cpu and opencl device), 'all', or names like cpu:0,opencl:0")
      ->capture_default_str();
  app.add_option("--op", o.ops, "Ops to run: gemm,attention (default both)")->delimiter(',');
  app.add_option("--dtypes", o.dtypes,
                 "Dtypes (f32,f16,bf16): filters preset/file cases; dtypes of --gemm/--attention (default f32)")
      ->delimiter(',');
  app.add_option("--shapes", o.shapes, "Shape file or preset (" + presets + "); default 'default'");
  app.add_option("--gemm", o.gemm_shapes, "GEMM shapes MxNxK[xBATCH][:tt], e.g. 1024x1024x1024:nt")
      ->delimiter(',');
  app.add_option("--attention", o.attention_shapes,
                 "Attention shapes BxHqxHkvxSqxSkvxD[:causal], e.g. 2x8x8x1024x1024x64:causal")
      ->delimiter(',');
  auto* warmup = app.add_option("--warmup", o.settings.warmup, "Untimed runs before timing")
                     ->check(CLI::Range(0, 1000000))
                     ->capture_default_str();
  auto* runs = app.add_option("--runs", o.settings.runs, "Timed runs")
                   ->check(CLI::Range(1, 1000000))
                   ->capture_default_str();
  app.add_option("--threads", o.threads,
                 "CPU thread counts, e.g. 1,2: CPU devices are measured once per count in a child "
                 "process with XINHE_CPU_THREADS=<n>")
      ->delimiter(',')
      ->check(CLI::Range(1, 1024));
  app.add_flag("--compare", o.compare,
               "Also measure peers: the backend's vendor GEMM (openblas, clblast, cublas); on "
               "cpu devices also oneDNN's matmul (onednn), PyTorch's torch.matmul and "
               "scaled_dot_product_attention (torch-matmul, torch-sdpa, in a child process) and, "
               "for f32 attention, unfused OpenBLAS attention");
  app.add_option("--python", o.python,
                 "Interpreter for the PyTorch peer (default: $XINHE_BENCH_PYTHON, else python3); "
                 "without torch its rows are listed as skipped with the reason");
  app.add_option("--peer-max-seconds", o.peer_max_seconds,
                 "A PyTorch peer case whose checked call takes longer is listed as skipped with "
                 "its time instead of timed (PyTorch's f16 CPU matmul can take seconds per call); "
                 "0: no limit")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--json", o.json_path, "Write the results as one JSON object to FILE");
  app.add_flag("--quick", o.quick, "Tiny shapes (preset 'quick' unless shapes are given), 1 run, no warm-up");
  // Internal: used when the bench re-executes itself per CPU thread count.
  app.add_option("--child-json", o.child_json)->group("");
  app.add_option("--child-threads", o.child_threads)->group("");
  std::string progress;
  app.add_option("--child-progress", progress)->group("");
  XINHE_TOOL_PARSE(app, argc, argv);

  if (o.quick) {
    if (warmup->count() == 0) o.settings.warmup = 0;
    if (runs->count() == 0) o.settings.runs = 1;
  }
  if (!progress.empty() && std::sscanf(progress.c_str(), "%d/%d", &o.progress_base, &o.progress_total) != 2) {
    fmt::print(stderr, "xinhe-bench: bad --child-progress '{}'\n", progress);
    return 2;
  }
  try {
    return xinhe::bench::run(o);
  } catch (const xinhe::Error& e) {
    fmt::print(stderr, "xinhe-bench: {}\n", e.what());
    const bool usage = e.code() == XINHE_STATUS_NOT_FOUND || e.code() == XINHE_STATUS_INVALID_ARGUMENT;
    return usage ? 2 : 1;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "xinhe-bench: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "xinhe-bench: {}\n", e.what());
    return 1;
  }
}
