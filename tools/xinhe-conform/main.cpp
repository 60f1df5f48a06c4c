// xinhe-conform: runs the conformance suite on every device of one backend (built in, or a
// plugin loaded from a path) and reports PASS / FAIL / UNSUPPORTED per case: progress on
// stderr, a summary table on stdout, and optionally a JSON report for CI. Exit status is 0 iff
// no case failed (and 2 when the backend or device cannot be used, or no case is selected).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "conformance.h"

namespace {

namespace conf = xinhe::conformance;
using json = nlohmann::json;

struct Options {
  std::string backend;
  std::string plugin;
  std::string device;
  std::string filter;
  std::string json_path;
  bool list = false;
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
    xinhe::detail::check(xinhe_backend_count(&count));
    bool found = false;
    std::string known;
    for (size_t i = 0; i < count && !found; ++i) {
      xinhe_backend_info_t b{};
      b.struct_size = sizeof(b);
      xinhe::detail::check(xinhe_backend_info(i, &b));
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
  xinhe::detail::check(xinhe_backend_info(index, info));
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

int run(const Options& opt) {
  xinhe_backend_info_t info{};
  std::string error;
  if (!resolve_backend(opt, &info, &error)) {
    fmt::print(stderr, "xinhe-conform: {}\n", error);
    return 2;
  }
  const std::vector<xinhe::Device> devices = backend_devices(info.name, opt.device);
  if (devices.empty()) {
    fmt::print(stderr, "xinhe-conform: backend {} has no device{}\n", info.name,
               opt.device.empty() ? "" : " named " + opt.device);
    return 2;
  }
  std::vector<const conf::Case*> cases;
  for (const conf::Case& c : conf::all_cases())
    if (opt.filter.empty() || c.full_name().find(opt.filter) != std::string::npos)
      cases.push_back(&c);

  if (cases.empty()) {
    // A typo in --filter must not turn a CI job green.
    fmt::print(stderr, "xinhe-conform: no case matches --filter '{}'\n", opt.filter);
    return 2;
  }
  if (opt.list) {
    for (const xinhe::Device& d : devices)
      for (const conf::Case* c : cases) fmt::print("{} {}\n", d.name(), c->full_name());
    return 0;
  }

  json report;
  report["xinhe_version"] = xinhe_version_string();
  report["seed"] = conf::base_seed();
  report["backend"] = {{"name", info.name},
                       {"path", info.path},
                       {"abi", fmt::format("{}.{}", info.abi_major, info.abi_minor)}};
  report["devices"] = json::array();
  report["cases"] = json::array();
  fmt::print(stderr, "xinhe-conform: backend {}, {} device(s), {} case(s), seed {}\n", info.name,
             devices.size(), cases.size(), conf::base_seed());

  std::map<std::string, std::map<std::string, Counts>> table;  // device -> suite -> counts
  std::map<std::string, double> device_seconds;
  Counts total;
  for (const xinhe::Device& device : devices) {
    const xinhe_device_properties_t p = device.properties();
    report["devices"].push_back({{"name", p.name},
                                 {"description", p.description},
                                 {"vendor", p.vendor},
                                 {"driver_version", p.driver_version}});
    size_t done = 0;
    for (const conf::Case* c : cases) {
      const conf::CaseResult r = conf::run_case(*c, device);
      ++done;
      fmt::print(stderr, "[{}/{}] {} {} {} ({:.3f} s){}{}\n", done, cases.size(), device.name(),
                 c->full_name(), conf::outcome_name(r.outcome), r.seconds,
                 r.detail.empty() ? "" : ": ", r.detail);
      table[device.name()][c->suite].add(r.outcome);
      device_seconds[device.name()] += r.seconds;
      total.add(r.outcome);
      report["cases"].push_back({{"device", device.name()},
                                 {"suite", c->suite},
                                 {"name", c->name},
                                 {"outcome", conf::outcome_name(r.outcome)},
                                 {"max_error", r.max_error},
                                 {"tolerance", r.tolerance},
                                 {"seconds", r.seconds},
                                 {"detail", r.detail}});
    }
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

  if (!opt.json_path.empty()) {
    std::ofstream out(opt.json_path);
    out << report.dump(2) << "\n";
    if (!out) {
      fmt::print(stderr, "xinhe-conform: cannot write {}\n", opt.json_path);
      return 2;
    }
  }
  return total.fail == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "xinhe-conform: run the xinhe conformance suite on one backend's devices.\n"
      "Exit status: 0 when no case fails, 1 when some fail, 2 when the backend or device\n"
      "cannot be used or --filter matches nothing. XINHE_CONFORM_SEED sets the random seed."};
  auto* backend = app.add_option("--backend", opt.backend,
                                 "built-in or registered backend name (cpu, opencl...)");
  auto* plugin =
      app.add_option("--plugin", opt.plugin, "path to a libxinhe_backend_*.so to load and test");
  backend->excludes(plugin);
  plugin->excludes(backend);
  app.add_option("--device", opt.device, "only this device (cpu:0, opencl:1...)");
  app.add_option("--filter", opt.filter,
                 "only cases whose name contains this (gemm.f16, runtime.)");
  app.add_option("--json", opt.json_path, "write a JSON report to this file");
  app.add_flag("--list", opt.list, "list the cases that would run, then exit");
  CLI11_PARSE(app, argc, argv);
  if (opt.backend.empty() && opt.plugin.empty()) opt.backend = "cpu";
  try {
    return run(opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "xinhe-conform: {}\n", e.what());
    return 2;
  }
}
