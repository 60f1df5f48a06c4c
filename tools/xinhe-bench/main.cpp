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
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cleanup.h"
#include "cli_parse.h"
#include "fma_probe.h"
#include "host_peers.h"
#include "measure.h"
#include "output_path.h"
#include "report.h"
#include "shapes.h"
#include "torch_peer.h"

namespace xinhe::bench {
namespace {

using json = nlohmann::ordered_json;

struct Options {
  std::string devices = "default";
  std::vector<std::string> ops;
  std::vector<std::string> dtypes;
  std::string shapes;
  bool shapes_given = false;  // --shapes "" is refused, not taken as "no --shapes"
  std::vector<std::string> gemm_shapes, attention_shapes;
  Settings settings;
  std::vector<std::string> threads_text;  // as given; parsed into threads
  std::vector<int> threads;
  bool compare = false;
  bool quick = false;
  std::string python;  // interpreter of the PyTorch peer (empty: XINHE_BENCH_PYTHON, python3)
  double peer_max_seconds = 5.0;  // the PyTorch peer's longest call that is still timed
  std::string json_path;
  bool json_given = false;
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

// "a,b,c" -> {a, b, c}. An empty element ("1,,2", "", "a,") is refused: it is a typo more
// often than not, and silently dropping it hid that.
std::vector<std::string> split_list(const std::string& text, const char* option) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string item =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.empty())
      throw std::invalid_argument(fmt::format("{} '{}': empty element in the list", option, text));
    out.push_back(item);
    if (comma == std::string::npos) return out;
    pos = comma + 1;
  }
}

// Order kept, later repeats dropped: "--dtypes f32,f32" measured everything twice.
template <typename T>
std::vector<T> dedupe(const std::vector<T>& items) {
  std::vector<T> out;
  for (const T& item : items)
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  return out;
}

std::vector<int> parse_thread_counts(const std::vector<std::string>& texts) {
  std::vector<int> counts;
  for (const std::string& text : texts) {
    for (const std::string& item : split_list(text, "--threads")) {
      const bool digits = item.find_first_not_of("0123456789") == std::string::npos;
      const long value = digits && item.size() <= 5 ? std::stol(item) : 0;
      if (value < 1 || value > 1024)
        throw std::invalid_argument(
            fmt::format("--threads '{}': '{}' is not a thread count from 1 to 1024", text, item));
      counts.push_back(static_cast<int>(value));
    }
  }
  return dedupe(counts);
}

// The cases of --shapes SOURCE. A preset name always means the preset, even where a file of
// that name is in the current folder (a note says so): a file named like a preset is given as
// a path (./quick). Anything else must be a readable shape file with at least one case.
std::vector<BenchCase> cases_from_source(const std::string& source,
                                         const std::vector<xinhe_dtype_t>& default_dtypes) {
  const std::vector<std::string> presets = preset_names();
  const bool is_preset = std::find(presets.begin(), presets.end(), source) != presets.end();
  struct stat st {};
  const bool exists = stat(source.c_str(), &st) == 0;
  const int stat_errno = errno;
  if (is_preset) {
    if (exists)
      fmt::print(stderr,
                 "xinhe-bench: --shapes {0}: the preset '{0}'; the file of that name here is not "
                 "read (give it as a path, ./{0}, to use it)\n",
                 source);
    return preset(source);
  }
  if (!exists) {
    std::string known;
    for (const std::string& n : presets) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument(fmt::format("--shapes '{}': {}, and not a preset ({})", source,
                                            std::strerror(stat_errno), known));
  }
  if (S_ISDIR(st.st_mode))
    throw std::invalid_argument(
        fmt::format("--shapes '{}': is a folder; give a shape file or a preset", source));
  std::vector<BenchCase> cases = load_shape_file(source, default_dtypes);
  if (cases.empty())
    throw std::invalid_argument(fmt::format(
        "--shapes '{}': has no cases (only blank lines and comments); one per line, e.g. "
        "'gemm 1024x1024x1024 f32'",
        source));
  return cases;
}

// A case repeated (same op, shape and @backend: "--gemm 32x32x32,32x32x32", or a shape file
// line given again) is measured once, at its first place; the repeat's dtypes are added to it.
std::vector<BenchCase> merge_repeated_cases(std::vector<BenchCase> cases) {
  std::vector<BenchCase> out;
  for (BenchCase& c : cases) {
    auto same = std::find_if(out.begin(), out.end(), [&](const BenchCase& kept) {
      return kept.op == c.op && kept.only_backend == c.only_backend &&
             shape_string(kept) == shape_string(c);
    });
    if (same == out.end()) {
      out.push_back(std::move(c));
      continue;
    }
    for (xinhe_dtype_t d : c.dtypes)
      if (std::find(same->dtypes.begin(), same->dtypes.end(), d) == same->dtypes.end())
        same->dtypes.push_back(d);
  }
  return out;
}

std::vector<BenchCase> resolve_cases(const Options& o) {
  std::vector<BenchCase> cases;
  std::vector<xinhe_dtype_t> filter;
  for (const std::string& d : o.dtypes)
    for (const std::string& name : split_list(d, "--dtypes")) filter.push_back(parse_dtype(name));
  filter = dedupe(filter);
  const std::vector<xinhe_dtype_t> explicit_dtypes =
      filter.empty() ? std::vector<xinhe_dtype_t>{XINHE_DTYPE_F32} : filter;

  if (o.shapes_given && o.shapes.empty())
    throw std::invalid_argument("--shapes '': needs a shape file or a preset name");
  std::string source = o.shapes;
  if (source.empty() && o.gemm_shapes.empty() && o.attention_shapes.empty())
    source = o.quick ? "quick" : "default";
  if (!source.empty()) {
    std::vector<BenchCase> from = cases_from_source(source, explicit_dtypes);
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
    for (const std::string& text : split_list(list, "--gemm")) {
      BenchCase c;
      c.op = Op::kGemm;
      c.gemm = parse_gemm(text);
      c.dtypes = explicit_dtypes;
      cases.push_back(c);
    }
  }
  for (const std::string& list : o.attention_shapes) {
    for (const std::string& text : split_list(list, "--attention")) {
      BenchCase c;
      c.op = Op::kAttention;
      c.attention = parse_attention(text);
      c.dtypes = explicit_dtypes;
      cases.push_back(c);
    }
  }

  std::set<std::string> ops;
  for (const std::string& list : o.ops)
    for (const std::string& op : split_list(list, "--op")) {
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
  return merge_repeated_cases(std::move(cases));
}

std::string backend_of(const Device& d) { return d.properties().backend; }

// A registry entry's name; a plugin that failed before naming itself is listed by its file
// stem (libxinhe_backend_<name>).
std::string backend_name_of(const BackendInfo& b) {
  const std::string prefix = "libxinhe_backend_";
  return b.name.rfind(prefix, 0) == 0 ? b.name.substr(prefix.size()) : b.name;
}

std::string registered_backend_names() {
  std::string names;
  for (const BackendInfo& b : backends()) names += (names.empty() ? "" : ", ") + backend_name_of(b);
  return names;
}

// Why a device name resolves to nothing: its backend did not load (and why) or does not exist.
std::string why_no_device(const std::string& name) {
  const std::string backend = name.substr(0, name.find(':'));
  for (const BackendInfo& b : backends()) {
    if (backend_name_of(b) != backend) continue;
    if (!b.loaded)
      return fmt::format("{}: the {} backend is unavailable: {}", name, backend, b.reason);
    return fmt::format("{}: the {} backend has {} device(s)", name, backend, b.device_count);
  }
  return fmt::format("{}: no backend named '{}' (registered: {})", name, backend,
                     registered_backend_names());
}

// "default": every device of the cpu and opencl backends; "all": every device; else names.
// A backend in scope that did not load is reported with its reason on stderr, one line each:
// otherwise an invalid XINHE_CPU_THREADS silently dropped the cpu rows.
std::vector<Device> resolve_devices(const std::string& spec) {
  std::vector<Device> out;
  if (spec == "all" || spec == "default") {
    for (const BackendInfo& b : backends()) {
      const std::string name = backend_name_of(b);
      if (!b.loaded && (spec == "all" || name == "cpu" || name == "opencl"))
        fmt::print(stderr, "xinhe-bench: the {} backend is unavailable: {}\n", name, b.reason);
    }
    for (const Device& d : Device::all()) {
      const std::string backend = backend_of(d);
      if (spec == "all" || backend == "cpu" || backend == "opencl") out.push_back(d);
    }
    return out;
  }
  for (const std::string& name : dedupe(split_list(spec, "--devices"))) {
    try {
      out.push_back(Device::get(name));
    } catch (const Error& e) {
      if (e.code() != XINHE_STATUS_NOT_FOUND) throw;
      throw std::invalid_argument(fmt::format("{}\n  {}", e.what(), why_no_device(name)));
    }
  }
  return out;
}

// A shape-file case's @backend must name a registered backend; a device name there ("@cpu:0")
// gets a hint. (Whether a selected device has that backend: check_cases_have_devices.)
void check_case_backends(const std::vector<BenchCase>& cases) {
  for (const BenchCase& c : cases) {
    if (c.only_backend.empty()) continue;
    bool known = false;
    for (const BackendInfo& b : backends()) known = known || backend_name_of(b) == c.only_backend;
    if (known) continue;
    const std::string where = c.origin.empty() ? std::string("case") : c.origin;
    if (c.only_backend.find(':') != std::string::npos)
      throw std::invalid_argument(fmt::format(
          "{}: '@{}' is a device name; @ takes a backend name (@{}); choose devices with --devices",
          where, c.only_backend, c.only_backend.substr(0, c.only_backend.find(':'))));
    throw std::invalid_argument(fmt::format("{}: '@{}': no backend of that name (registered: {})",
                                            where, c.only_backend, registered_backend_names()));
  }
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

std::string human_bytes(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  int u = 0;
  while (bytes >= 1024 && u < 8) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} bytes", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

// MemAvailable from /proc/meminfo, else physical memory; nullopt when neither is known.
std::optional<double> host_memory_available() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    double kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %lf kB", &kib) == 1) return kib * 1024;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) return static_cast<double>(pages) * page_size;
  return std::nullopt;
}

// Host bytes one (case, dtype, device) group allocates, estimated in double so that absurd
// shapes (3e9 x 3e9) do not overflow: the inputs, the output's host copy and the sampled
// float64 reference; on a cpu device the device buffers too (host memory); host peers' f32
// copies; the PyTorch peer's files and tensors.
struct HostNeed {
  double total = 0;
  std::string detail;
};

HostNeed host_need(const BenchCase& c, xinhe_dtype_t dtype, bool on_cpu,
                   const std::vector<std::string>& impls) {
  const double esize = static_cast<double>(xinhe_dtype_size(dtype));
  double in = 0, out = 0, row_len = 0, rows = 0, macs_per_row = 0;
  if (c.op == Op::kGemm) {
    const GemmShape& g = c.gemm;
    const double batch = static_cast<double>(g.batch), m = static_cast<double>(g.m),
                 n = static_cast<double>(g.n), k = static_cast<double>(g.k);
    in = batch * (m * k + k * n);
    out = batch * m * n;
    row_len = n;
    rows = batch * m;
    macs_per_row = n * k;
  } else {
    const AttentionShape& a = c.attention;
    const double b = static_cast<double>(a.batch), d = static_cast<double>(a.head_dim);
    in = b * d * (static_cast<double>(a.heads_q) * a.seq_q + 2.0 * a.heads_kv * a.seq_kv);
    out = b * d * static_cast<double>(a.heads_q) * a.seq_q;
    row_len = d;
    rows = b * static_cast<double>(a.heads_q) * a.seq_q;
    macs_per_row = 2.0 * static_cast<double>(a.seq_kv) * d;
  }
  // As CaseData::check samples: about 64M multiply-adds, at least 4 rows.
  const double ref_rows =
      std::min(rows, std::max(4.0, std::floor(64.0 * 1024 * 1024 / std::max(1.0, macs_per_row))));
  const double inputs = in * esize, output = out * esize, reference = ref_rows * row_len * 8;
  double total = inputs + output + reference;
  std::string detail = fmt::format("inputs {}, output {}, reference {}", human_bytes(inputs),
                                   human_bytes(output), human_bytes(reference));
  if (on_cpu) {
    total += inputs + output;
    detail += fmt::format(", cpu device buffers {}", human_bytes(inputs + output));
  }
  for (const std::string& impl : impls) {
    if (impl == "openblas-unfused" || impl == "openblas-f32") {
      total += (in + out) * 4;
      detail += fmt::format(", {} {}", impl, human_bytes((in + out) * 4));
    } else if (impl == kTorchMatmul || impl == kTorchSdpa) {
      total += 2 * (inputs + output);
      detail += fmt::format(", {} {}", impl, human_bytes(2 * (inputs + output)));
    }
  }
  return {total, detail};
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
    const bool is_cpu = lead.backend == "cpu";
    const std::string threads_note = is_cpu ? fmt::format(" threads={}", cpu_threads) : "";
    const std::optional<int> record_threads =
        is_cpu ? std::optional<int>(cpu_threads) : std::nullopt;

    // Every item of the group fails together: the host data it needs cannot be had.
    const auto fail_group = [&](const std::string& code, const std::string& reason) {
      fmt::print(stderr, "[{}-{}/{}] {} {} {} {}{}: FAILED: {}\n", index + 1,
                 index + static_cast<int>(last - first), progress_total, op_name(c.op),
                 xinhe_dtype_name(lead.dtype), shape_string(c), lead.device.name(), threads_note,
                 reason);
      for (size_t i = first; i < last; ++i) {
        Problem problem{c.op,   items[i].device.name(), items[i].impl, items[i].dtype, c, code,
                        reason, record_threads};
        rec->errors.push_back(problem_json(problem));
      }
      index += static_cast<int>(last - first);
      rec->failed = true;
      first = last;
    };

    std::vector<std::string> impls;
    for (size_t i = first; i < last; ++i) impls.push_back(items[i].impl);
    const HostNeed need = host_need(c, lead.dtype, is_cpu, impls);
    const std::optional<double> available = host_memory_available();
    if (available && need.total > *available) {
      data.reset();
      fail_group(xinhe_status_code_name(XINHE_STATUS_OUT_OF_MEMORY),
                 fmt::format("not run: needs about {} of host memory ({}), more than the {} "
                             "available (MemAvailable)",
                             human_bytes(need.total), need.detail, human_bytes(*available)));
      continue;
    }
    if (!data || data_case != lead.case_index || data->dtype() != lead.dtype) {
      data.reset();  // free the previous inputs first: big cases hold hundreds of MiB
      try {
        data = std::make_unique<CaseData>(c, lead.dtype);
      } catch (const std::bad_alloc&) {
        // Past the estimate (a ulimit, other processes): this case only, not the run.
        data.reset();
        fail_group(xinhe_status_code_name(XINHE_STATUS_OUT_OF_MEMORY),
                   fmt::format("host memory ran out (std::bad_alloc) making the inputs ({})",
                               need.detail));
        continue;
      }
      data_case = lead.case_index;
    }

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
        problem = Problem{c.op, item.device.name(), item.impl, item.dtype,
                          c,    "INTERNAL",         e.what(),  record_threads};
      }
      if (m) {
        ready.push_back(std::move(m));
        continue;
      }
      problem.threads = record_threads;
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
    // Names, not a count: "timing 3 side by side" read like three timed runs.
    std::string names;
    for (const auto& m : ready) names += (names.empty() ? "" : ", ") + m->result.impl;
    fmt::print(stderr, "[{}-{}/{}] {} {} {} {}{}: timing {} {}...\n", index + 1,
               index + static_cast<int>(ready.size()), progress_total, op_name(c.op),
               xinhe_dtype_name(lead.dtype), shape_string(c), lead.device.name(), threads_note,
               names, ready.size() > 1 ? "side by side " : "");
    std::vector<Measurement*> set;
    for (auto& m : ready) set.push_back(m.get());
    try {
      time_side_by_side(set, settings);
    } catch (const std::exception& e) {
      for (auto& m : ready) {
        const Result& r = m->result;
        Problem problem{c.op, r.device, r.impl, r.dtype, c, "INTERNAL", e.what(), record_threads};
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

// "exited with status 3", "was killed by signal 9 (SIGKILL)".
std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return fmt::format("was killed by signal {} (SIG{})", sig, abbrev != nullptr ? abbrev : "?");
  }
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  return fmt::format("ended with wait status {:#x}", status);
}

// Re-executes this binary for the CPU items with XINHE_CPU_THREADS=threads and merges what the
// child wrote. A child that crashes or writes nothing is recorded as an error.
void run_cpu_child(const Options& o, const std::string& shapes_file, const std::string& cpu_devices,
                   int threads, int progress_base, int progress_total, Records* rec) {
  const std::string out_file = make_temp_file("xinhe-bench-child");
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
  if (pid < 0) throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid == 0) {
    die_with_parent(parent);
    setenv("XINHE_CPU_THREADS", std::to_string(threads).c_str(), 1);
    execv("/proc/self/exe", argv.data());
    std::perror("xinhe-bench: execv /proc/self/exe");
    _exit(127);
  }
  track_child(pid);
  int status = 0;
  waitpid(pid, &status, 0);
  forget_child(pid);

  json child;
  try {
    std::ifstream in(out_file);
    child = json::parse(in);
  } catch (const std::exception&) {
    child = json();  // reported below as a child that wrote no results
  }
  std::remove(out_file.c_str());
  forget_temp_file(out_file);
  if (!child.is_object()) {
    // Not one case: the whole child's records are lost, so op, dtype, shape and impl are null
    // rather than made up (docs/bench-format.md).
    rec->errors.push_back(json{{"op", nullptr},
                               {"device", cpu_devices},
                               {"impl", nullptr},
                               {"dtype", nullptr},
                               {"shape", nullptr},
                               {"shape_text", nullptr},
                               {"threads", threads},
                               {"code", "INTERNAL"},
                               {"reason", fmt::format("the child process measuring the cpu devices "
                                                      "with {} thread(s) {} and wrote no results",
                                                      threads, describe_wait_status(status))}});
    fmt::print(stderr, "xinhe-bench: {}\n", rec->errors.back()["reason"].get<std::string>());
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

// Refuses a --json path that cannot be written, naming why (exit 2), before anything runs.
// The file itself is created only at the end, so a refused or interrupted run leaves none.
void check_output_path(const std::string& path) {
  if (path.empty()) throw std::invalid_argument("--json '': needs a file name");
  if (const std::string why = xinhe::tools::output_path_problem(path); !why.empty())
    throw std::invalid_argument(fmt::format("--json '{}': {}", path, why));
}

// A case restricted to a backend (@backend in a shape file) that no selected device has is
// not run: said on stderr; when that leaves nothing to run, it is an error (exit 2), as an
// empty case list is.
void check_cases_have_devices(const std::vector<BenchCase>& cases,
                              const std::vector<Device>& devices) {
  std::string device_names;
  std::set<std::string> backends_selected;
  for (const Device& d : devices) {
    device_names += (device_names.empty() ? "" : ", ") + d.name();
    backends_selected.insert(backend_of(d));
  }
  size_t runnable = 0;
  std::string unmatched;
  for (const BenchCase& c : cases) {
    if (c.only_backend.empty() || backends_selected.count(c.only_backend)) {
      ++runnable;
      continue;
    }
    const std::string what = fmt::format("{}{} {} @{}", c.origin.empty() ? "" : c.origin + ": ",
                                         op_name(c.op), shape_string(c), c.only_backend);
    unmatched += "\n  " + what;
    if (!c.origin.empty())
      fmt::print(stderr, "xinhe-bench: {}: not run: no selected device ({}) is of backend '{}'\n",
                 c.origin, device_names, c.only_backend);
  }
  if (runnable == 0)
    throw std::invalid_argument(
        fmt::format("no case left for the selected devices ({}): every case is restricted to "
                    "another backend:{}",
                    device_names, unmatched));
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

// Why the run measured nothing worth an exit status of 0: an op of which every xinhe
// configuration was skipped and none measured (a typo in XINHE_GEMM_IMPL or
// XINHE_ATTENTION_IMPL, a backend that declines every case). Peer skips do not count. Empty
// when every op with xinhe configurations has at least one xinhe result.
std::string nothing_measured(const Records& rec) {
  std::string why;
  for (const char* op : {"gemm", "attention"}) {
    size_t measured = 0;
    std::vector<std::string> reasons;
    size_t skipped = 0;
    for (const json& r : rec.results)
      if (r["op"] == op && r["impl"] == "xinhe") ++measured;
    for (const json& p : rec.skipped) {
      if (p["op"] != op || p["impl"] != "xinhe") continue;
      ++skipped;
      const std::string reason = p["reason"].get<std::string>();
      if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end())
        reasons.push_back(reason);
    }
    if (measured > 0 || skipped == 0) continue;
    why += fmt::format(
        "nothing was measured for xinhe {}: all {} of its configuration(s) were "
        "skipped:",
        op, skipped);
    for (size_t i = 0; i < reasons.size() && i < 3; ++i) why += "\n  " + reasons[i];
    if (reasons.size() > 3)
      why += fmt::format("\n  ... and {} other reason(s)", reasons.size() - 3);
    const char* variable = std::string(op) == "gemm" ? "XINHE_GEMM_IMPL" : "XINHE_ATTENTION_IMPL";
    if (const char* impl = std::getenv(variable); impl != nullptr && *impl != '\0')
      why += fmt::format("\n  ({}='{}' is set: check its spelling)", variable, impl);
    why += "\n";
  }
  return why;
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
  check_case_backends(cases);
  // Before any work: a bad --json path used to fail only after every case had run.
  if (o.json_given) check_output_path(o.json_path);

  std::vector<Device> cpu_devices, other_devices;
  for (const Device& d : devices) (backend_of(d) == "cpu" ? cpu_devices : other_devices).push_back(d);
  check_cases_have_devices(cases, devices);

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
      const std::string shapes_file = make_temp_file("xinhe-bench-shapes");
      save_shape_file(shapes_file, cases);
      std::string names;
      for (const Device& d : cpu_devices) names += (names.empty() ? "" : ",") + d.name();
      for (int threads : o.threads) {
        run_cpu_child(o, shapes_file, names, threads, base, total, &rec);
        base += static_cast<int>(cpu_items.size());
      }
      std::remove(shapes_file.c_str());
      forget_temp_file(shapes_file);
    }
    run_items(cases, other_items, o.settings, default_cpu_threads(), base, total, &rec);
  }

  const json report = records_json(rec, o);
  print_table(report);
  if (o.json_given) {
    std::ofstream out(o.json_path);
    out << report.dump(2) << '\n';
    if (!out) throw std::runtime_error(fmt::format("cannot write '{}'", o.json_path));
  }
  if (const std::string why = nothing_measured(rec); !why.empty()) {
    fmt::print(stderr, "xinhe-bench: {}", why);
    return 1;
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
      "reference. Table on stdout, progress on stderr; exit 1 when a check or a run fails, or "
      "when an op measured nothing because every xinhe configuration of it was skipped."};
  std::string presets;
  for (const std::string& p : xinhe::bench::preset_names()) presets += (presets.empty() ? "" : ", ") + p;
  app.add_option("--devices", o.devices,
                 "Devices: 'default' (every cpu and opencl device), 'all', or names like cpu:0,opencl:0")
      ->capture_default_str();
  app.add_option("--op", o.ops, "Ops to run: gemm,attention (default both)");
  app.add_option(
      "--dtypes", o.dtypes,
      "Dtypes (f32,f16,bf16): filters preset/file cases; dtypes of --gemm/--attention "
      "(default f32). In every list an empty element is an error and a repeat is dropped");
  auto* shapes_option = app.add_option(
      "--shapes", o.shapes,
      "Shape file or preset (" + presets +
          "); default 'default'. A preset name always means the preset: give a file named like "
          "one as a path (./quick). A repeated case (here or in --gemm/--attention) runs once");
  app.add_option("--gemm", o.gemm_shapes, "GEMM shapes MxNxK[xBATCH][:tt], e.g. 1024x1024x1024:nt");
  app.add_option("--attention", o.attention_shapes,
                 "Attention shapes BxHqxHkvxSqxSkvxD[:causal], e.g. 2x8x8x1024x1024x64:causal");
  auto* warmup = app.add_option("--warmup", o.settings.warmup, "Untimed runs before timing")
                     ->check(CLI::Range(0, 1000000))
                     ->capture_default_str();
  auto* runs = app.add_option("--runs", o.settings.runs, "Timed runs")
                   ->check(CLI::Range(1, 1000000))
                   ->capture_default_str();
  app.add_option("--threads", o.threads_text,
                 "CPU thread counts from 1 to 1024, e.g. 1,2: CPU devices are measured once per "
                 "count in a child process with XINHE_CPU_THREADS=<n> (the bench's own "
                 "XINHE_CPU_THREADS is then replaced by the first count)");
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
                 "0: no limit; at most 86400");
  auto* json_option =
      app.add_option("--json", o.json_path,
                     "Write the results as one JSON object to FILE (checked before anything runs)");
  app.add_flag("--quick", o.quick, "Tiny shapes (preset 'quick' unless shapes are given), 1 run, no warm-up");
  // Internal: used when the bench re-executes itself per CPU thread count.
  app.add_option("--child-json", o.child_json)->group("");
  app.add_option("--child-threads", o.child_threads)->group("");
  std::string progress;
  app.add_option("--child-progress", progress)->group("");
  XINHE_TOOL_PARSE(app, argc, argv);

  o.json_given = json_option->count() > 0;
  o.shapes_given = shapes_option->count() > 0;
  // Written as a negated range so that NaN, which compares false with everything, is refused.
  if (!(o.peer_max_seconds >= 0.0 && o.peer_max_seconds <= 86400.0)) {
    fmt::print(stderr, "xinhe-bench: --peer-max-seconds {}: expected seconds from 0 to 86400\n",
               o.peer_max_seconds);
    return 2;
  }
  if (o.quick) {
    if (warmup->count() == 0) o.settings.warmup = 0;
    if (runs->count() == 0) o.settings.runs = 1;
  }
  if (!progress.empty() && std::sscanf(progress.c_str(), "%d/%d", &o.progress_base, &o.progress_total) != 2) {
    fmt::print(stderr, "xinhe-bench: bad --child-progress '{}'\n", progress);
    return 2;
  }
  int status = 0;
  try {
    o.threads = xinhe::bench::parse_thread_counts(o.threads_text);
    // The parent runs no CPU item with --threads (children do, each with its own count), so
    // an invalid XINHE_CPU_THREADS of its own must not take the cpu backend away from it.
    if (!o.threads.empty() && o.child_json.empty())
      setenv("XINHE_CPU_THREADS", std::to_string(o.threads.front()).c_str(), 1);
    status = xinhe::bench::run(o);
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
  // A table that never arrived (a full disk, a closed pipe) is a failure, not exit 0.
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  if (!flushed || std::ferror(stdout)) {
    fmt::print(stderr, "xinhe-bench: cannot write the table to stdout{}\n",
               errno != 0 ? fmt::format(": {}", std::strerror(errno)) : std::string());
    return 1;
  }
  return status;
}
