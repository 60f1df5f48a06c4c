// CPU peak FLOP/s and bandwidth, probed once and cached on disk (see cpu_peaks.h).
#include "cpu_peaks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "cpu_features.h"
#include "cpu_probe.h"

namespace xinhe::backends::cpu {
namespace {

using kernels::CpuFeature;
using kernels::CpuUnit;

constexpr int kFormatVersion = 1;  // bump when the probes change what they measure

std::string cache_dir() {
  if (const char* dir = std::getenv("XINHE_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/xinhe";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/xinhe";
  return "";
}

bool make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 1);
  }
  return "unknown";
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string cache_path(int threads) {
  const std::string dir = cache_dir();
  if (dir.empty()) return "";
  std::ostringstream key;
  key << "v" << kFormatVersion << "|" << cpu_model() << "|" << threads << "|"
      << kernels::cpu_isa_name(kernels::cpu_max_isa());
  char name[64];
  std::snprintf(name, sizeof name, "/cpu-peaks-%016llx.txt",
                static_cast<unsigned long long>(fnv1a(key.str())));
  return dir + name;
}

// Best of the units able to multiply the dtype that the cap allows; 0 when none measured.
double best_of(const std::map<CpuUnit, double>& units, std::initializer_list<CpuUnit> which) {
  double best = 0.0;
  for (CpuUnit u : which) {
    auto it = units.find(u);
    if (it != units.end()) best = std::max(best, it->second);
  }
  return best;
}

CpuPeaks measure(int threads) {
  kernels::ProbeSettings settings;
  settings.threads = threads;
  settings.trials = 3;
  settings.seconds_per_trial = 0.01;
  std::map<CpuUnit, double> units;
  for (int u = 0; u < static_cast<int>(CpuUnit::kCount); ++u) {
    const auto unit = static_cast<CpuUnit>(u);
    if (!kernels::cpu_has(kernels::cpu_unit_feature(unit))) continue;
    std::string why;
    const double flops = kernels::measure_unit_peak(unit, settings, &why);
    if (flops > 0) units[unit] = flops;
  }
  CpuPeaks peaks;
  const double f32 = best_of(units, {CpuUnit::kFmaYmmF32, CpuUnit::kFmaZmmF32});
  peaks.flops[XINHE_DTYPE_F32] = f32;
  peaks.flops[XINHE_DTYPE_BF16] =
      std::max(f32, best_of(units, {CpuUnit::kDpbf16Zmm, CpuUnit::kAmxBf16}));
  peaks.flops[XINHE_DTYPE_F16] =
      std::max(f32, best_of(units, {CpuUnit::kFmaZmmF16, CpuUnit::kAmxFp16}));
  std::string why;
  settings.trials = 2;
  peaks.bandwidth =
      kernels::measure_read_bandwidth(settings, kernels::default_bandwidth_buffer_bytes(), &why);
  peaks.source = "measured";
  return peaks;
}

void store(const std::string& path, const CpuPeaks& peaks) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || !make_dirs(path.substr(0, slash))) return;
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp);
    out << format_cpu_peaks(peaks);
    if (!out) {
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

CpuPeaks load_or_measure(int threads) {
  if (const char* env = std::getenv("XINHE_CPU_PROBE"); env != nullptr) {
    bool probe = true;
    std::string error;
    // The backend refuses to start with an invalid value (cpu_backend_create), so this is
    // reached with one only if the environment changed since; it never probes then.
    if (!parse_cpu_probe(env, &probe, &error) || !probe) {
      CpuPeaks off;
      off.source = error.empty() ? "off (XINHE_CPU_PROBE=0)" : "off (" + error + ")";
      return off;
    }
  }
  const std::string path = cache_path(threads);
  if (!path.empty()) {
    std::ifstream in(path);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      CpuPeaks cached;
      if (parse_cpu_peaks(text.str(), &cached)) {
        cached.source = "cache " + path;
        return cached;
      }
    }
  }
  CpuPeaks peaks = measure(threads);
  if (!path.empty() && peaks.flops[XINHE_DTYPE_F32] > 0) store(path, peaks);
  return peaks;
}

bool plausible(double v) { return std::isfinite(v) && v >= 0.0 && v < 1e18; }

}  // namespace

bool parse_cpu_probe(const char* text, bool* out_probe, std::string* error) {
  if (text != nullptr && (std::strcmp(text, "0") == 0 || std::strcmp(text, "1") == 0)) {
    *out_probe = text[0] == '1';
    return true;
  }
  const std::string shown = text == nullptr ? "" : std::string(text, strnlen(text, 33));
  *error = "XINHE_CPU_PROBE='" + shown.substr(0, 32) + (shown.size() > 32 ? "..." : "") +
           "' is not 0 (no probes: peaks unknown) or 1 (probe, the default)";
  return false;
}

std::string format_cpu_peaks(const CpuPeaks& peaks) {
  std::ostringstream out;
  out.precision(17);
  out << "xinhe-cpu-peaks " << kFormatVersion << "\n"
      << "f32 " << peaks.flops[XINHE_DTYPE_F32] << "\n"
      << "f16 " << peaks.flops[XINHE_DTYPE_F16] << "\n"
      << "bf16 " << peaks.flops[XINHE_DTYPE_BF16] << "\n"
      << "bandwidth " << peaks.bandwidth << "\n";
  return out.str();
}

bool parse_cpu_peaks(const std::string& text, CpuPeaks* out) {
  std::istringstream in(text);
  std::string magic;
  int version = 0;
  if (!(in >> magic >> version) || magic != "xinhe-cpu-peaks" || version != kFormatVersion)
    return false;
  CpuPeaks peaks;
  int seen = 0;
  for (std::string key; in >> key;) {
    double value = 0.0;
    if (!(in >> value) || !plausible(value)) return false;
    if (key == "f32") {
      peaks.flops[XINHE_DTYPE_F32] = value;
    } else if (key == "f16") {
      peaks.flops[XINHE_DTYPE_F16] = value;
    } else if (key == "bf16") {
      peaks.flops[XINHE_DTYPE_BF16] = value;
    } else if (key == "bandwidth") {
      peaks.bandwidth = value;
    } else {
      return false;
    }
    ++seen;
  }
  if (seen != 4 || peaks.flops[XINHE_DTYPE_F32] <= 0) return false;
  *out = peaks;
  return true;
}

const CpuPeaks& cpu_peaks(int threads) {
  static std::mutex mutex;
  static std::map<int, CpuPeaks>* by_threads = new std::map<int, CpuPeaks>();  // never freed
  std::lock_guard<std::mutex> lock(mutex);
  auto it = by_threads->find(threads);
  if (it == by_threads->end()) it = by_threads->emplace(threads, load_or_measure(threads)).first;
  return it->second;
}

}  // namespace xinhe::backends::cpu
