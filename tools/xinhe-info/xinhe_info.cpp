// xinhe-info: what this installation can see. Prints the library version, every backend the
// registry considered (loaded, or skipped with the reason), and every device with all of its
// properties; "unknown" (JSON null) where a device does not report a value. With --json the
// same content is written to stdout as one JSON object. Skipped plugins are information, not
// errors: the exit code is 0 unless the registry itself cannot be queried. The plugin folders
// searched are listed too, each with what is wrong with it (missing, not a folder), so that a
// mistyped XINHE_BACKEND_PATH shows without XINHE_VERBOSE=load.
//
// Names, paths and reasons come from plugins and the file system, so they may hold any bytes:
// the text output shows control characters and invalid UTF-8 as escapes (no byte can move the
// cursor or start a line), and the JSON output replaces invalid UTF-8 with U+FFFD.
#include <dlfcn.h>
#include <fmt/format.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_parse.h"
#include "text_escape.h"
#include "xinhe/xinhe.hpp"

namespace {

using json = nlohmann::ordered_json;

constexpr xinhe_dtype_t kAllDtypes[] = {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16,
                                        XINHE_DTYPE_F64};

struct FlagName {
  uint32_t bit;
  const char* name;
};
constexpr FlagName kDeviceFlags[] = {
    {XINHE_DEVICE_FLAG_TIMING, "timing"},
    {XINHE_DEVICE_FLAG_HOST_MEMORY, "host_memory"},
    {XINHE_DEVICE_FLAG_FP64, "fp64"},
};

// Bits this tool does not know about are shown rather than dropped.
std::vector<std::string> flag_names(uint32_t flags) {
  std::vector<std::string> names;
  for (const FlagName& f : kDeviceFlags) {
    if (flags & f.bit) names.emplace_back(f.name);
    flags &= ~f.bit;
  }
  if (flags) names.push_back(fmt::format("0x{:x}", flags));
  return names;
}

std::vector<std::string> dtype_names(uint32_t caps) {
  std::vector<std::string> names;
  for (xinhe_dtype_t d : kAllDtypes)
    if (caps & XINHE_DTYPE_CAP(d)) names.emplace_back(xinhe_dtype_name(d));
  return names;
}

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "none";
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

std::string bytes_text(uint64_t bytes) {
  if (bytes == 0) return "unknown";
  return fmt::format("{:.2f} GiB ({} bytes)", static_cast<double>(bytes) / (1ull << 30), bytes);
}

// The registry's search order (runtime/registry.cpp): each XINHE_BACKEND_PATH entry, then
// <folder of libxinhe.so>/xinhe. The registry has no API for it, so it is worked out here
// the same way.
std::string folder_problem(const std::string& folder) {
  struct stat st;
  if (stat(folder.c_str(), &st) != 0) {
    const int error = errno;
    return error == ENOENT ? "does not exist"
                           : std::string("cannot be examined: ") + std::strerror(error);
  }
  if (!S_ISDIR(st.st_mode))
    return S_ISREG(st.st_mode) ? "is a file, not a folder" : "is not a folder";
  if (access(folder.c_str(), R_OK | X_OK) != 0) {
    return std::string("cannot be read: ") + std::strerror(errno);
  }
  return "";
}

json plugin_folders_json() {
  json folders = json::array();
  auto add = [&](const std::string& path, const char* source) {
    const std::string problem = folder_problem(path);
    folders.push_back(json{{"path", path},
                           {"source", source},
                           {"problem", problem.empty() ? json(nullptr) : json(problem)}});
  };
  if (const char* env = std::getenv("XINHE_BACKEND_PATH")) {
    const std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      if (colon == std::string::npos) colon = list.size();
      const std::string entry = list.substr(start, colon - start);
      start = colon + 1;
      if (!entry.empty()) add(entry, "XINHE_BACKEND_PATH");
    }
  }
  Dl_info info;
  std::memset(&info, 0, sizeof(info));
  char real[PATH_MAX];
  if (dladdr(reinterpret_cast<const void*>(&xinhe_backend_count), &info) != 0 &&
      info.dli_fname != nullptr && realpath(info.dli_fname, real) != nullptr) {
    std::string library = real;
    add(library.substr(0, library.find_last_of('/')) + "/xinhe", "installed");
  }
  return folders;
}

json nonzero_or_null(double v) { return v > 0 ? json(v) : json(nullptr); }
json nonzero_or_null(uint64_t v) { return v > 0 ? json(v) : json(nullptr); }

json backend_json(const xinhe::BackendInfo& b) {
  return json{{"name", b.name},
              {"path", b.path},
              {"loaded", b.loaded},
              {"reason", b.reason},
              {"code", xinhe_status_code_name(b.code)},
              {"abi_version", b.abi_major || b.abi_minor
                                  ? json(fmt::format("{}.{}", b.abi_major, b.abi_minor))
                                  : json(nullptr)},
              {"device_count", b.device_count}};
}

json device_json(const xinhe_device_properties_t& p) {
  json peak = json::object();
  for (xinhe_dtype_t d : kAllDtypes) peak[xinhe_dtype_name(d)] = nonzero_or_null(p.peak_flops[d]);
  return json{{"name", p.name},
              {"type", xinhe_device_type_name(static_cast<xinhe_device_type_t>(p.device_type))},
              {"description", p.description},
              {"vendor", p.vendor},
              {"backend", p.backend},
              {"driver_version", p.driver_version},
              {"total_memory", nonzero_or_null(p.total_memory)},
              {"free_memory", nonzero_or_null(p.free_memory)},
              {"compute_units", p.compute_units ? json(p.compute_units) : json(nullptr)},
              {"flags", flag_names(p.flags)},
              {"dtypes", dtype_names(p.dtype_caps)},
              {"min_alignment", p.min_alignment},
              {"peak_flops", peak},
              {"memory_bandwidth", nonzero_or_null(p.memory_bandwidth)}};
}

// A string of the report, safe to print on a terminal.
std::string shown(const json& value) {
  return xinhe::util::escape_for_display(value.get<std::string>());
}

void print_text(const json& report) {
  fmt::print("xinhe {}\n\nBackends ({}):\n", shown(report["xinhe_version"]),
             report["backends"].size());
  for (const json& b : report["backends"]) {
    const std::string path =
        b["path"].get<std::string>().empty() ? std::string("built-in") : shown(b["path"]);
    const std::string abi = b["abi_version"].is_null() ? "unknown" : b["abi_version"].get<std::string>();
    if (b["loaded"].get<bool>()) {
      fmt::print("  {:<12} loaded   abi {:<8} devices {}  ({})\n", shown(b["name"]), abi,
                 b["device_count"].get<uint32_t>(), path);
    } else {
      fmt::print("  {:<12} skipped  abi {:<8} {}: {}  ({})\n", shown(b["name"]), abi,
                 b["code"].get<std::string>(), shown(b["reason"]), path);
    }
  }
  fmt::print("\nPlugin folders (searched in this order):\n");
  for (const json& f : report["plugin_folders"]) {
    fmt::print("  {}  ({}){}\n", shown(f["path"]), f["source"].get<std::string>(),
               f["problem"].is_null() ? std::string() : ": " + shown(f["problem"]));
  }
  fmt::print("\nDevices ({}):\n", report["devices"].size());
  for (const json& d : report["devices"]) {
    fmt::print("  {}\n", shown(d["name"]));
    if (d.contains("error")) {
      fmt::print("    error            {}\n", shown(d["error"]));
      continue;
    }
    auto text_or_unknown = [](const json& v) {
      return v.get<std::string>().empty() ? std::string("unknown") : shown(v);
    };
    fmt::print("    type             {}\n", d["type"].get<std::string>());
    fmt::print("    description      {}\n", text_or_unknown(d["description"]));
    fmt::print("    vendor           {}\n", text_or_unknown(d["vendor"]));
    fmt::print("    backend          {}\n", text_or_unknown(d["backend"]));
    fmt::print("    driver           {}\n", text_or_unknown(d["driver_version"]));
    fmt::print("    total memory     {}\n",
               bytes_text(d["total_memory"].is_null() ? 0 : d["total_memory"].get<uint64_t>()));
    fmt::print("    free memory      {}\n",
               bytes_text(d["free_memory"].is_null() ? 0 : d["free_memory"].get<uint64_t>()));
    fmt::print("    compute units    {}\n",
               d["compute_units"].is_null() ? std::string("unknown")
                                            : std::to_string(d["compute_units"].get<uint32_t>()));
    fmt::print("    flags            {}\n", join(d["flags"].get<std::vector<std::string>>()));
    fmt::print("    dtypes           {}\n", join(d["dtypes"].get<std::vector<std::string>>()));
    fmt::print("    min alignment    {} bytes\n", d["min_alignment"].get<uint64_t>());
    for (xinhe_dtype_t dtype : kAllDtypes) {
      const json& v = d["peak_flops"][xinhe_dtype_name(dtype)];
      fmt::print("    peak {:<11} {}\n", xinhe_dtype_name(dtype),
                 v.is_null() ? std::string("unknown")
                             : fmt::format("{:.1f} GFLOP/s", v.get<double>() / 1e9));
    }
    const json& bw = d["memory_bandwidth"];
    fmt::print("    bandwidth        {}\n",
               bw.is_null() ? std::string("unknown")
                            : fmt::format("{:.1f} GB/s", bw.get<double>() / 1e9));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xinhe-info: backends, devices and their properties"};
  bool as_json = false;
  app.add_flag("--json", as_json, "Write one JSON object to stdout instead of text");
  XINHE_TOOL_PARSE(app, argc, argv);

  json report;
  try {
    report["xinhe_version"] = xinhe_version_string();
    report["backends"] = json::array();
    for (const xinhe::BackendInfo& b : xinhe::backends()) report["backends"].push_back(backend_json(b));
    report["plugin_folders"] = plugin_folders_json();
    report["devices"] = json::array();
    for (const xinhe::Device& device : xinhe::Device::all()) {
      // One device that cannot answer does not hide the others.
      try {
        report["devices"].push_back(device_json(device.properties()));
      } catch (const xinhe::Error& e) {
        report["devices"].push_back(json{{"name", device.name()}, {"error", e.what()}});
      }
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "xinhe-info: {}\n", e.what());
    return 1;
  }

  if (as_json) {
    // Invalid UTF-8 (a plugin name, a path) becomes U+FFFD instead of an exception.
    fmt::print("{}\n", report.dump(2, ' ', false, json::error_handler_t::replace));
  } else {
    print_text(report);
  }
  return 0;
}
