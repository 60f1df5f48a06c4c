// xinhe-conform: runs the conformance suite on every device of one backend (built in, or a
// plugin loaded from a path) and reports PASS / FAIL / UNSUPPORTED per case: progress on
// stderr, a summary table on stdout, and optionally a JSON report for CI. Exit status is 0 iff
// no case failed (and 2 when the backend or device cannot be used, or no case is selected).
// The report also gives the coverage of every claimed dtype (a claim with no case run in full
// turns its declined cases into FAILs) and each device's conformance level (1 runtime, 2 f32
// GEMM, 3 all claimed dtypes, 4 attention, 5 performance report): tests/conformance/README.md.
//
// Isolation: a backend under test may crash or hang. Cases therefore run in a worker process
// (this program re-executed with --worker-fd) that reports each case to the parent over a pipe
// as it starts and ends. When the worker dies, the case it was running is a FAIL naming the
// signal or exit status, and a new worker continues with the next case; a case that runs past
// --case-timeout is killed the same way. The report is written in every case. A fresh process
// rather than fork() per case: a forked child of a process with driver threads (PoCL, the CPU
// pool) would deadlock on the first call that needs them.
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli_parse.h"
#include "conformance.h"
#include "output_path.h"

namespace {

namespace conf = xinhe::conformance;
using json = nlohmann::json;

struct Options {
  std::string backend;
  std::string plugin;
  std::string device;
  std::string filter;
  std::string json_path;
  std::string perf_report;
  bool list = false;
  bool exhaustive = false;
  bool no_isolate = false;
  double case_timeout = 900.0;
  int worker_fd = -1;       // worker mode: the pipe to the parent
  size_t worker_start = 0;  // worker mode: the first (device, case) index to run
};

struct Counts {
  int pass = 0, fail = 0, unsupported = 0;
  void add(conf::Outcome o) {
    if (o == conf::Outcome::kPass)
      ++pass;
    else if (o == conf::Outcome::kFail)
      ++fail;
    else
      ++unsupported;
  }
};

// Finds the backend to test: the plugin given by path (loaded now), or the one named.
// Returns false with a message when it cannot be used.
bool resolve_backend(const Options& opt, xinhe_backend_info_t* info, std::string* error) {
  size_t index = 0;
  if (!opt.plugin.empty()) {
    xinhe_status_t s = xinhe_backend_load(opt.plugin.c_str(), &index);
    if (s) {
      *error = fmt::format("cannot use plugin {}: {}: {}", opt.plugin,
                           xinhe_status_code_name(xinhe_status_code(s)), xinhe_status_message(s));
      xinhe_status_free(s);
      return false;
    }
  } else {
    size_t count = 0;
    xinhe::check(xinhe_backend_count(&count));
    bool found = false;
    std::string known;
    for (size_t i = 0; i < count && !found; ++i) {
      xinhe_backend_info_t b{};
      b.struct_size = sizeof(b);
      xinhe::check(xinhe_backend_info(i, &b));
      known +=
          fmt::format("{}{}{}", known.empty() ? "" : ", ", b.name, b.loaded ? "" : " (not loaded)");
      if (opt.backend == b.name) {
        index = i;
        found = true;
      }
    }
    if (!found) {
      *error = fmt::format("no backend named '{}' (known: {})", opt.backend, known);
      return false;
    }
  }
  info->struct_size = sizeof(*info);
  xinhe::check(xinhe_backend_info(index, info));
  if (!info->loaded) {
    *error = fmt::format("backend {} is not loaded: {} ({})", info->name, info->reason,
                         xinhe_status_code_name(info->code));
    return false;
  }
  return true;
}

// Devices of the backend, in registry order (device names are "<backend>:<index>").
std::vector<xinhe::Device> backend_devices(const std::string& backend, const std::string& only) {
  std::vector<xinhe::Device> out;
  for (const xinhe::Device& d : xinhe::Device::all()) {
    if (d.properties().backend != backend) continue;
    if (!only.empty() && d.name() != only) continue;
    out.push_back(d);
  }
  return out;
}

// What every process of one run agrees on: the backend, its devices and the selected cases.
// Work item i is device i / cases.size(), case i % cases.size().
struct Plan {
  xinhe_backend_info_t info{};
  std::vector<xinhe::Device> devices;
  std::vector<const conf::Case*> cases;
  size_t items() const { return devices.size() * cases.size(); }
  const xinhe::Device& device(size_t item) const { return devices[item / cases.size()]; }
  const conf::Case& the_case(size_t item) const { return *cases[item % cases.size()]; }
};

// Builds the plan; returns an exit status when the run cannot go on.
std::optional<int> make_plan(const Options& opt, Plan* plan) {
  std::string error;
  if (!resolve_backend(opt, &plan->info, &error)) {
    fmt::print(stderr, "xinhe-conform: {}\n", error);
    return 2;
  }
  plan->devices = backend_devices(plan->info.name, opt.device);
  if (plan->devices.empty()) {
    fmt::print(stderr, "xinhe-conform: backend {} has no device{}\n", plan->info.name,
               opt.device.empty() ? "" : " named " + opt.device);
    return 2;
  }
  for (const conf::Case& c : conf::all_cases())
    if (opt.filter.empty() || c.full_name().find(opt.filter) != std::string::npos)
      plan->cases.push_back(&c);
  if (plan->cases.empty()) {
    // A typo in --filter must not turn a CI job green.
    fmt::print(stderr, "xinhe-conform: no case matches --filter '{}'\n", opt.filter);
    return 2;
  }
  return std::nullopt;
}

// The dtypes an op case is about, from its name ("gemm.f16_f32.nt.81x145x64" -> f16, f32;
// "attention.sweep.bf16.d64" -> bf16). Empty for runtime cases.
std::vector<std::string> case_dtypes(const conf::Case& c) {
  std::vector<std::string> out;
  if (c.suite != "gemm" && c.suite != "attention") return out;
  std::string token;
  for (size_t i = 0; i <= c.name.size(); ++i) {
    if (i == c.name.size() || c.name[i] == '.' || c.name[i] == '_') {
      if ((token == "f32" || token == "f16" || token == "bf16" || token == "f64") &&
          std::find(out.begin(), out.end(), token) == out.end())
        out.push_back(token);
      token.clear();
    } else {
      token += c.name[i];
    }
  }
  return out;
}

std::vector<std::string> claimed_dtypes(const xinhe::Device& device) {
  const uint32_t caps = device.properties().dtype_caps;
  std::vector<std::string> out;
  const std::pair<xinhe_dtype_t, const char*> all[] = {{XINHE_DTYPE_F32, "f32"},
                                                       {XINHE_DTYPE_F16, "f16"},
                                                       {XINHE_DTYPE_BF16, "bf16"},
                                                       {XINHE_DTYPE_F64, "f64"}};
  for (const auto& [dtype, name] : all)
    if (caps & XINHE_DTYPE_CAP(dtype)) out.push_back(name);
  return out;
}

// Per claimed dtype: op cases of it, those that ran every shape, those with a declined shape.
struct Coverage {
  int cases = 0, full = 0, declined = 0;
  double ratio() const { return cases ? static_cast<double>(full) / cases : 0.0; }
};

json result_json(const conf::CaseResult& r) {
  return {{"outcome", conf::outcome_name(r.outcome)},
          {"max_error", r.max_error},
          {"tolerance", r.tolerance},
          {"seconds", r.seconds},
          {"detail", r.detail},
          {"declined_dtypes", r.declined_dtypes}};
}

// JSON has no NaN or infinity (a NaN error dumps as null): those read back as NaN.
double number_from_json(const json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

conf::CaseResult result_from_json(const json& j) {
  conf::CaseResult r;
  const std::string outcome = j.at("outcome").get<std::string>();
  r.outcome = outcome == "PASS"   ? conf::Outcome::kPass
              : outcome == "FAIL" ? conf::Outcome::kFail
                                  : conf::Outcome::kUnsupported;
  r.max_error = number_from_json(j.at("max_error"));
  r.tolerance = number_from_json(j.at("tolerance"));
  r.seconds = number_from_json(j.at("seconds"));
  r.detail = j.at("detail").get<std::string>();
  r.declined_dtypes = j.value("declined_dtypes", std::string());
  return r;
}

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Worker mode: runs items from opt.worker_start on, announcing each on the pipe before it runs
// ("begin <item>") and after ("end <item> <result json>").
int run_worker(const Options& opt) {
  Plan plan;
  if (std::optional<int> status = make_plan(opt, &plan)) return *status;
  for (size_t item = opt.worker_start; item < plan.items(); ++item) {
    if (!write_all(opt.worker_fd, fmt::format("begin {}\n", item))) return 3;
    const conf::CaseResult r = conf::run_case(plan.the_case(item), plan.device(item));
    if (!write_all(opt.worker_fd, fmt::format("end {} {}\n", item, result_json(r).dump())))
      return 3;
  }
  return 0;
}

// How a worker ended: cleanly, or dying (or killed) inside a case or between cases.
struct WorkerEnd {
  bool failed = false;   // died, was killed, or exited with a non-zero status
  bool in_case = false;  // ... while running `case_item`
  size_t case_item = 0;
  std::string why;
};

// Runs items from `start` on in a fresh worker and hands each finished result to `done`.
// Returns when the worker has exited or been killed.
template <typename Done>
WorkerEnd run_in_worker(const std::vector<std::string>& base_args, size_t start, double timeout,
                        Done done) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> args = base_args;
  args.push_back("--worker-fd=3");
  args.push_back("--worker-start=" + std::to_string(start));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    if (fds[1] != 3) {
      ::dup2(fds[1], 3);
      ::close(fds[1]);
    }
    ::execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "xinhe-conform: cannot re-execute itself: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string buffer;
  bool running = false;  // a case has begun and not ended
  size_t running_item = 0;
  auto started = std::chrono::steady_clock::now();
  bool killed = false;
  for (;;) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (running && elapsed > timeout) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    // Wake when the running case's time is up, however short --case-timeout is.
    const int wait_ms =
        running ? static_cast<int>(std::clamp((timeout - elapsed) * 1000.0 + 1.0, 1.0, 1000.0))
                : 1000;
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the worker exited (or died)
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t eol; (eol = buffer.find('\n')) != std::string::npos;) {
      const std::string line = buffer.substr(0, eol);
      buffer.erase(0, eol + 1);
      if (line.rfind("begin ", 0) == 0) {
        running = true;
        running_item = std::stoul(line.substr(6));
        started = std::chrono::steady_clock::now();
      } else if (line.rfind("end ", 0) == 0) {
        const size_t space = line.find(' ', 4);
        const size_t item = std::stoul(line.substr(4, space - 4));
        done(item, result_from_json(json::parse(line.substr(space + 1))));
        running = false;
      }
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  WorkerEnd end;
  end.failed = killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  end.in_case = end.failed && running;
  end.case_item = running_item;
  if (killed) {
    end.why =
        fmt::format("timed out after {:g} s (--case-timeout); the worker was killed", timeout);
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    end.why = fmt::format("killed by signal {} ({})", sig, strsignal(sig));
  } else if (end.failed) {
    end.why = fmt::format("exit status {}", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  if (end.in_case && !killed) end.why = "the case crashed its process: " + end.why;
  return end;
}

// A xinhe-bench JSON report (docs/bench-format.md); null with *why set when path is not one.
json read_perf_report(const std::string& path, std::string* why) {
  std::ifstream in(path);
  if (!in) {
    *why = "cannot read '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  json perf = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (perf.is_discarded()) {
    *why = "'" + path + "' is not JSON";
  } else if (!perf.is_object() || !perf.contains("xinhe_version") || !perf.contains("results") ||
             !perf["results"].is_array()) {
    *why = "'" + path + "' is not a xinhe-bench JSON report (no xinhe_version and results)";
  }
  return why->empty() ? perf : json(nullptr);
}

// Level 5 of a device: the report measured xinhe's own op on it, and every such row passed its
// check against the float64 reference. A report of another backend's devices does not count.
std::string perf_report_why(const json& perf, const std::string& path, const std::string& device) {
  if (perf.is_null()) return "no performance report given (--perf-report)";
  int rows = 0, failed = 0;
  for (const json& row : perf["results"]) {
    if (!row.is_object() || row.value("device", "") != device || row.value("impl", "") != "xinhe")
      continue;
    ++rows;
    const json check = row.value("check", json::object());
    if (!check.is_object() || !check.value("passed", false)) ++failed;
  }
  const json errors = perf.value("errors", json::array());
  for (const json& error : errors) {
    if (error.is_object() && error.value("device", "") == device) ++failed;
  }
  if (rows == 0) return path + " has no xinhe row of " + device;
  if (failed > 0) {
    return path + " has " + std::to_string(failed) + " failed row(s) or error(s) of " + device;
  }
  return "";
}

int run(const Options& opt, const std::vector<std::string>& base_args) {
  // Inputs that can be wrong are checked before the cases run, not after them.
  conf::base_seed();  // throws for an invalid XINHE_CONFORM_SEED: exit 2 with the reason
  json perf;
  if (!opt.perf_report.empty()) {
    std::string why;
    perf = read_perf_report(opt.perf_report, &why);
    if (!why.empty()) {
      fmt::print(stderr, "xinhe-conform: --perf-report {}\n", why);
      return 2;
    }
  }
  if (!opt.json_path.empty()) {
    if (const std::string why = xinhe::tools::output_path_problem(opt.json_path); !why.empty()) {
      fmt::print(stderr, "xinhe-conform: --json: {}\n", why);
      return 2;
    }
  }
  Plan plan;
  if (std::optional<int> status = make_plan(opt, &plan)) return *status;
  if (opt.list) {
    for (size_t item = 0; item < plan.items(); ++item)
      fmt::print("{} {}\n", plan.device(item).name(), plan.the_case(item).full_name());
    return 0;
  }
  const xinhe_backend_info_t& info = plan.info;

  json report;
  report["xinhe_version"] = xinhe_version_string();
  report["seed"] = conf::base_seed();
  report["exhaustive"] = conf::exhaustive();
  report["isolation"] = opt.no_isolate ? "none" : "worker process, respawned after a crash";
  report["backend"] = {{"name", info.name},
                       {"path", info.path},
                       {"abi", fmt::format("{}.{}", info.abi_major, info.abi_minor)}};
  report["devices"] = json::array();
  for (const xinhe::Device& device : plan.devices) {
    const xinhe_device_properties_t p = device.properties();
    report["devices"].push_back({{"name", p.name},
                                 {"description", p.description},
                                 {"vendor", p.vendor},
                                 {"driver_version", p.driver_version}});
  }
  fmt::print(stderr, "xinhe-conform: backend {}, {} device(s), {} case(s), seed {}{}\n", info.name,
             plan.devices.size(), plan.cases.size(), conf::base_seed(),
             conf::exhaustive() ? ", exhaustive" : "");

  std::vector<std::optional<conf::CaseResult>> results(plan.items());
  std::vector<std::string> worker_errors;
  auto record = [&](size_t item, const conf::CaseResult& r) {
    results[item] = r;
    fmt::print(stderr, "[{}/{}] {} {} {} ({:.3f} s){}{}\n", item % plan.cases.size() + 1,
               plan.cases.size(), plan.device(item).name(), plan.the_case(item).full_name(),
               conf::outcome_name(r.outcome), r.seconds, r.detail.empty() ? "" : ": ", r.detail);
  };
  if (opt.no_isolate) {
    for (size_t item = 0; item < plan.items(); ++item)
      record(item, conf::run_case(plan.the_case(item), plan.device(item)));
  } else {
    size_t next = 0;
    while (next < plan.items()) {
      const WorkerEnd end = run_in_worker(base_args, next, opt.case_timeout,
                                          [&](size_t item, const conf::CaseResult& r) {
                                            record(item, r);
                                            next = item + 1;
                                          });
      auto charge = [&](size_t item, const std::string& why) {
        conf::CaseResult r;
        r.outcome = conf::Outcome::kFail;
        r.detail = why;
        record(item, r);
        next = item + 1;
      };
      if (end.in_case) {
        charge(end.case_item, end.why);
      } else if (next < plan.items()) {
        // Died (or stopped) between cases: the next case was not run; charge it so the run
        // moves on.
        charge(next, "the worker process ended before running this case (" +
                         (end.failed ? end.why : std::string("exit status 0")) + ")");
      } else if (end.failed) {
        // Every case reported, then the process failed (a crash or a sanitizer report at exit).
        worker_errors.push_back("the worker process failed after the last case: " + end.why);
        fmt::print(stderr, "xinhe-conform: {}\n", worker_errors.back());
      }
    }
  }

  // Coverage per claimed dtype, and the claim check: a dtype the device claims but declined in
  // every case of it is a false claim, and those cases FAIL (conformance.h).
  std::map<std::string, std::map<std::string, Coverage>> coverage;  // device -> dtype
  for (const xinhe::Device& device : plan.devices)
    for (const std::string& dtype : claimed_dtypes(device)) coverage[device.name()][dtype];
  for (size_t item = 0; item < plan.items(); ++item) {
    const conf::CaseResult& r = *results[item];
    auto& per_dtype = coverage[plan.device(item).name()];
    for (const std::string& dtype : case_dtypes(plan.the_case(item))) {
      auto it = per_dtype.find(dtype);
      if (it == per_dtype.end()) continue;  // not claimed
      ++it->second.cases;
      if (!r.declined_dtypes.empty()) {
        ++it->second.declined;
      } else if (r.outcome == conf::Outcome::kPass) {
        ++it->second.full;
      }
    }
  }
  for (size_t item = 0; item < plan.items(); ++item) {
    conf::CaseResult& r = *results[item];
    if (r.declined_dtypes.empty()) continue;
    const auto& per_dtype = coverage[plan.device(item).name()];
    for (const std::string& dtype : case_dtypes(plan.the_case(item))) {
      auto it = per_dtype.find(dtype);
      if (it != per_dtype.end() && it->second.full == 0 && it->second.declined > 0) {
        r.outcome = conf::Outcome::kFail;
        r.detail = "the device claims " + dtype +
                   " in dtype_caps but declines every case of it: " + r.detail;
        break;
      }
    }
  }

  report["cases"] = json::array();
  std::map<std::string, std::map<std::string, Counts>> table;  // device -> suite -> counts
  std::map<std::string, double> device_seconds;
  Counts total;
  for (size_t item = 0; item < plan.items(); ++item) {
    const conf::CaseResult& r = *results[item];
    const conf::Case& c = plan.the_case(item);
    const std::string device = plan.device(item).name();
    table[device][c.suite].add(r.outcome);
    device_seconds[device] += r.seconds;
    total.add(r.outcome);
    json entry = result_json(r);
    entry["device"] = device;
    entry["suite"] = c.suite;
    entry["name"] = c.name;
    report["cases"].push_back(entry);
  }
  report["worker_errors"] = worker_errors;
  report["coverage"] = json::object();
  for (const auto& [device, per_dtype] : coverage) {
    json entry = json::object();
    for (const auto& [dtype, c] : per_dtype)
      entry[dtype] = {
          {"cases", c.cases}, {"full", c.full}, {"declined", c.declined}, {"ratio", c.ratio()}};
    report["coverage"][device] = entry;
  }
  // Conformance levels per device, each requiring the ones before it.
  report["levels"] = json::object();
  for (const xinhe::Device& device : plan.devices) {
    const std::string name = device.name();
    std::map<std::string, Counts> suites;
    // Cases of a suite that computed a result in some dtype (not argument checks alone).
    std::map<std::string, int> computed;
    Counts f32_gemm;
    bool f32_gemm_declined = false;
    for (size_t item = 0; item < plan.items(); ++item) {
      if (plan.device(item).name() != name) continue;
      const conf::Case& c = plan.the_case(item);
      const conf::CaseResult& r = *results[item];
      suites[c.suite].add(r.outcome);
      if (r.outcome == conf::Outcome::kPass && !case_dtypes(c).empty()) ++computed[c.suite];
      if (c.suite == "gemm" && case_dtypes(c) == std::vector<std::string>{"f32"}) {
        f32_gemm.add(r.outcome);
        f32_gemm_declined = f32_gemm_declined || !r.declined_dtypes.empty();
      }
    }
    auto suite_ok = [&](const std::string& suite) -> std::string {
      const Counts& n = suites[suite];
      if (n.fail > 0) return std::to_string(n.fail) + " " + suite + " case(s) FAIL";
      if (n.pass == 0) return "no " + suite + " case passed (filtered out?)";
      return "";
    };
    std::string f32_why;
    if (f32_gemm.pass + f32_gemm.fail + f32_gemm.unsupported == 0) {
      f32_why = "no f32 GEMM case ran";
    } else if (f32_gemm.fail > 0) {
      f32_why = std::to_string(f32_gemm.fail) + " f32 GEMM case(s) FAIL";
    } else if (f32_gemm.pass == 0) {
      f32_why = "the device runs no f32 GEMM: every f32 case UNSUPPORTED";
    } else if (f32_gemm.unsupported > 0 || f32_gemm_declined) {
      f32_why = "an f32 GEMM case was declined (UNSUPPORTED)";
    }
    std::string dtype_why;
    for (const auto& [dtype, c] : coverage[name])
      if (c.full == 0) dtype_why += (dtype_why.empty() ? "" : "; ") + dtype + " never ran fully";
    if (coverage[name].empty()) dtype_why = "the device claims no dtype";
    const std::string gemm_why = suite_ok("gemm");
    std::string attention_why = suite_ok("attention");
    if (attention_why.empty() && computed["attention"] == 0)
      attention_why = "no attention case computed a result (every one UNSUPPORTED)";
    const std::pair<const char*, std::string> levels[] = {
        {"runtime", suite_ok("runtime")},
        {"f32 GEMM", f32_why},
        {"all claimed dtypes", !gemm_why.empty() ? gemm_why : dtype_why},
        {"attention", attention_why},
        {"performance report", perf_report_why(perf, opt.perf_report, name)}};
    json list = json::array();
    int reached = 0;
    bool chain = true;
    for (size_t i = 0; i < std::size(levels); ++i) {
      const bool met = levels[i].second.empty();
      chain = chain && met;
      if (chain) reached = static_cast<int>(i) + 1;
      list.push_back(
          {{"level", i + 1}, {"name", levels[i].first}, {"met", met}, {"why", levels[i].second}});
    }
    report["levels"][name] = {{"reached", reached},
                              {"name", reached ? levels[reached - 1].first : "none"},
                              {"levels", list}};
    std::string cov;
    for (const auto& [dtype, c] : coverage[name])
      cov += fmt::format(" {} {:.0f}% ({}/{})", dtype, 100.0 * c.ratio(), c.full, c.cases);
    if (cov.empty()) cov = " none claimed";
    fmt::print("{}: conformance level {} ({}); coverage of claimed dtypes:{}\n", name, reached,
               reached ? levels[reached - 1].first : "none", cov);
  }
  report["summary"] = {{"pass", total.pass},
                       {"fail", total.fail},
                       {"unsupported", total.unsupported},
                       {"total", total.pass + total.fail + total.unsupported}};

  fmt::print("{:<16} {:<12} {:>6} {:>6} {:>12} {:>9}\n", "device", "suite", "PASS", "FAIL",
             "UNSUPPORTED", "seconds");
  for (const auto& [device, suites] : table) {
    for (const auto& [suite, n] : suites)
      fmt::print("{:<16} {:<12} {:>6} {:>6} {:>12}\n", device, suite, n.pass, n.fail,
                 n.unsupported);
    fmt::print("{:<16} {:<12} {:>6} {:>6} {:>12} {:>9.2f}\n", device, "(all)", "", "", "",
               device_seconds[device]);
  }
  fmt::print("total: {} PASS, {} FAIL, {} UNSUPPORTED\n", total.pass, total.fail,
             total.unsupported);
  for (size_t item = 0; item < plan.items(); ++item) {
    if (results[item]->outcome == conf::Outcome::kFail)
      fmt::print("FAIL {} {}: {}\n", plan.device(item).name(), plan.the_case(item).full_name(),
                 results[item]->detail);
  }

  if (!opt.json_path.empty()) {
    std::ofstream out(opt.json_path);
    out << report.dump(2) << "\n";
    if (!out) {
      fmt::print(stderr, "xinhe-conform: cannot write {}\n", opt.json_path);
      return 2;
    }
  }
  return total.fail == 0 && worker_errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "xinhe-conform: run the xinhe conformance suite on one backend's devices.\n"
      "Exit status: 0 when no case fails, 1 when some fail, 2 when the backend or device\n"
      "cannot be used or --filter matches nothing. XINHE_CONFORM_SEED sets the random seed.\n"
      "Cases run in a worker process: one that crashes or hangs is a FAIL naming the signal,\n"
      "and the run goes on with a new worker."};
  auto* backend = app.add_option("--backend", opt.backend,
                                 "built-in or registered backend name (cpu, opencl...); without "
                                 "--backend and --plugin: cpu");
  auto* plugin =
      app.add_option("--plugin", opt.plugin, "path to a libxinhe_backend_*.so to load and test");
  backend->excludes(plugin);
  plugin->excludes(backend);
  app.add_option("--device", opt.device, "only this device (cpu:0, opencl:1...)");
  app.add_option("--filter", opt.filter,
                 "only cases whose name contains this (gemm.f16, runtime.)");
  app.add_option("--json", opt.json_path, "write a JSON report to this file");
  app.add_option("--perf-report", opt.perf_report,
                 "a xinhe-bench JSON report of this backend, for conformance level 5");
  app.add_flag("--list", opt.list, "list the cases that would run, then exit");
  app.add_flag("--exhaustive", opt.exhaustive,
               "wider sweeps (sizes, head dims, dtypes) than CI runs; slow, for manual runs "
               "(same as XINHE_CONFORM_EXHAUSTIVE=1)");
  app.add_flag("--no-isolate", opt.no_isolate,
               "run every case in this process (for a debugger; a crash ends the run)");
  app.add_option("--case-timeout", opt.case_timeout,
                 "seconds a case may run before its worker is killed and it FAILs (default 900; "
                 "> 0)");
  app.add_option("--worker-fd", opt.worker_fd, "internal: run as a worker reporting to this fd")
      ->group("");
  app.add_option("--worker-start", opt.worker_start, "internal: first item a worker runs")
      ->group("");
  XINHE_TOOL_PARSE(app, argc, argv);
  if (!(opt.case_timeout > 0.0 && opt.case_timeout <= 1e9)) {  // also refuses NaN
    fmt::print(stderr, "xinhe-conform: --case-timeout {} is not a number of seconds in (0, 1e9]\n",
               opt.case_timeout);
    return 2;
  }
  for (const char* name : {"--json", "--perf-report"}) {
    if (app.count(name) > 0 && app[name]->as<std::string>().empty()) {
      fmt::print(stderr, "xinhe-conform: {} needs a file name\n", name);
      return 2;
    }
  }
  if (opt.backend.empty() && opt.plugin.empty()) opt.backend = "cpu";
  // The sweep width must be settled before the case list is first built, in every process.
  if (opt.exhaustive) ::setenv("XINHE_CONFORM_EXHAUSTIVE", "1", 1);
  try {
    if (opt.worker_fd >= 0) return run_worker(opt);
    // A worker gets the same selection: every argument but the worker options, which
    // run_in_worker appends.
    std::vector<std::string> base_args(argv, argv + argc);
    return run(opt, base_args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "xinhe-conform: {}\n", e.what());
    return 2;
  }
}
