// Parsing, lookup and serialization of the OpenCL tuning database.
#include "tuning_db.h"

#include <cstdlib>
#include <sstream>

#include "bounded_file.h"

namespace xinhe::opencl {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

// Applies KEY=VALUE pairs to named int fields.
bool parse_pairs(const std::string& text, const std::map<std::string, int*>& fields,
                 std::string* error) {
  for (const std::string& raw : split(text, ',')) {
    const std::string item = trim(raw);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      *error = "expected KEY=VALUE, got '" + item + "'";
      return false;
    }
    const std::string key = trim(item.substr(0, eq));
    const std::string value = trim(item.substr(eq + 1));
    auto it = fields.find(key);
    if (it == fields.end()) {
      *error = "unknown parameter '" + key + "'";
      return false;
    }
    char* end = nullptr;
    const long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < 0 || v > 4096) {
      *error = "bad value '" + value + "' for " + key;
      return false;
    }
    *it->second = static_cast<int>(v);
  }
  return true;
}

}  // namespace

extern const char* const kShippedTuningDb;  // generated from tuning/opencl_tuning_db.txt
const char* shipped_tuning_db_text() { return kShippedTuningDb; }

// Work-group (x, y) within the device's limits; "" or what is wrong.
std::string check_work_group(uint64_t x, uint64_t y, const TuningLimits& limits) {
  const uint64_t size = x * y;  // both <= 4096 (parse_pairs bounds every value)
  if (size > limits.max_work_group_size) {
    return "work-group of " + std::to_string(size) + " work-items, the device allows " +
           std::to_string(limits.max_work_group_size);
  }
  const uint64_t* items = limits.max_work_item_sizes;
  if ((items[0] != 0 && x > items[0]) || (items[1] != 0 && y > items[1])) {
    return "work-group (" + std::to_string(x) + ", " + std::to_string(y) +
           ") exceeds the device's work-item sizes (" + std::to_string(items[0]) + ", " +
           std::to_string(items[1]) + ")";
  }
  return "";
}

std::string check_private(uint64_t per_item, uint64_t items, const TuningLimits& limits) {
  if (!limits.cpu_like || per_item * items <= kCpuWorkGroupPrivateBytes) return "";
  return "work-group keeps " + std::to_string(per_item * items) +
         " bytes of private arrays, more than the " + std::to_string(kCpuWorkGroupPrivateBytes) +
         " allowed on a CPU device";
}

uint64_t GemmParams::local_memory_bytes() const {
  // a_tile[KWG][MWG] + b_tile[KWG][NWG] floats (gemm_tiled.cl), when USE_LOCAL.
  if (!use_local) return 0;
  return static_cast<uint64_t>(kwg) * (static_cast<uint64_t>(mwg) + nwg) * sizeof(float);
}

uint64_t GemmParams::private_bytes_per_work_item() const {
  // acc[MWI][NWI] plus one row of B vectors and the store staging row (gemm_tiled.cl).
  return (static_cast<uint64_t>(mwi) * nwi + 2u * static_cast<uint64_t>(nwi)) * sizeof(float);
}

uint64_t AttentionParams::private_bytes_per_work_item() const {
  // q and acc [QWI][D], scores [QWI][BKV], row statistics (attention_flash.cl).
  const uint64_t rows = static_cast<uint64_t>(qwi);
  return (rows * (2u * kMaxAttentionHeadDim + static_cast<uint64_t>(bkv)) + 4u * rows) *
         sizeof(float);
}

std::string GemmParams::validate(const TuningLimits& limits) const {
  if (mwi < 1 || nwi < 1 || kwi < 1 || mwi > 16 || nwi > 64 || kwi > 16)
    return "MWI, NWI, KWI out of range";
  if (vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) return "VW not in {1,2,4,8,16}";
  if (nwi % vw != 0) return "NWI % VW != 0";
  if (mwg < mwi || nwg < nwi || mwg % mwi != 0 || nwg % nwi != 0)
    return "MWG/NWG not multiples of MWI/NWI";
  const uint64_t wg_x = static_cast<uint64_t>(nwg / nwi), wg_y = static_cast<uint64_t>(mwg / mwi);
  if (std::string why = check_work_group(wg_x, wg_y, limits); !why.empty()) return why;
  if (use_local != 0 && use_local != 1) return "USE_LOCAL not 0/1";
  if (use_local && (kwg < 1 || kwg > 64)) return "KWG out of range";
  if (pack != 0 && pack != 1) return "PACK not 0/1";
  if (pack && use_local) return "PACK and USE_LOCAL exclude each other";
  if (local_memory_bytes() > limits.local_memory_bytes) {
    return "local tiles need " + std::to_string(local_memory_bytes()) + " bytes, the device has " +
           std::to_string(limits.local_memory_bytes);
  }
  return check_private(private_bytes_per_work_item(), wg_x * wg_y, limits);
}

std::string GemmParams::to_string() const {
  std::ostringstream os;
  os << "MWI=" << mwi << ",NWI=" << nwi << ",VW=" << vw << ",KWI=" << kwi << ",MWG=" << mwg
     << ",NWG=" << nwg << ",KWG=" << kwg << ",USE_LOCAL=" << use_local << ",PACK=" << pack;
  return os.str();
}

std::string AttentionParams::validate(const TuningLimits& limits) const {
  if (qwi < 1 || qwi > 8) return "QWI not in [1, 8]";
  if (bkv < 1 || bkv > 64) return "BKV not in [1, 64]";
  if (dv != 1 && dv != 4 && dv != 8) return "DV not in {1, 4, 8}";
  if (wg < 1 || !is_pow2(wg)) return "WG not a power of two";
  if (std::string why = check_work_group(static_cast<uint64_t>(wg), 1, limits); !why.empty())
    return why;
  return check_private(private_bytes_per_work_item(), static_cast<uint64_t>(wg), limits);
}

std::string AttentionParams::to_string() const {
  std::ostringstream os;
  os << "QWI=" << qwi << ",BKV=" << bkv << ",WG=" << wg << ",DV=" << dv;
  return os.str();
}

GemmParams default_gemm_params(bool cpu_like) {
  GemmParams p;
  static_cast<opencl_c::GemmTile&>(p) = opencl_c::default_gemm_tile(cpu_like);
  return p;
}

AttentionParams default_attention_params(bool cpu_like) {
  AttentionParams p;
  static_cast<opencl_c::FlashTile&>(p) = opencl_c::default_flash_tile(cpu_like);
  return p;
}

bool parse_gemm_params(const std::string& text, GemmParams* params, std::string* error) {
  GemmParams p = *params;
  const std::map<std::string, int*> fields = {
      {"MWI", &p.mwi},  {"NWI", &p.nwi}, {"VW", &p.vw},   {"KWI", &p.kwi},
      {"MWG", &p.mwg},  {"NWG", &p.nwg}, {"KWG", &p.kwg}, {"USE_LOCAL", &p.use_local},
      {"PACK", &p.pack}};
  if (!parse_pairs(text, fields, error)) return false;
  *params = p;
  return true;
}

bool parse_attention_params(const std::string& text, AttentionParams* params, std::string* error) {
  AttentionParams p = *params;
  const std::map<std::string, int*> fields = {
      {"QWI", &p.qwi}, {"BKV", &p.bkv}, {"WG", &p.wg}, {"DV", &p.dv}};
  if (!parse_pairs(text, fields, error)) return false;
  *params = p;
  return true;
}

bool TuningDb::parse(const std::string& text, std::string* error) {
  entries_.clear();
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool seen_header = false;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (!seen_header) {
      if (t != "xinhe-tuning-db 1") {
        *error = "line " + std::to_string(line_no) + ": expected header 'xinhe-tuning-db 1'";
        entries_.clear();
        return false;
      }
      seen_header = true;
      continue;
    }
    const std::vector<std::string> f = split(t, '|');
    if (f.size() != 5) {
      *error = "line " + std::to_string(line_no) + ": expected 5 '|'-separated fields";
      entries_.clear();
      return false;
    }
    const std::string op = trim(f[3]);
    std::string why;
    bool ok = true;
    if (op == "gemm") {
      GemmParams g;
      ok = parse_gemm_params(f[4], &g, &why);
    } else if (op == "attention") {
      AttentionParams a;
      ok = parse_attention_params(f[4], &a, &why);
    } else {
      ok = false;
      why = "unknown op '" + op + "'";
    }
    if (!ok) {
      *error = "line " + std::to_string(line_no) + ": " + why;
      entries_.clear();
      return false;
    }
    set(trim(f[0]), trim(f[1]), trim(f[2]), op, trim(f[4]));
  }
  if (!seen_header) {
    *error = "empty database (no 'xinhe-tuning-db 1' header)";
    return false;
  }
  return true;
}

bool TuningDb::load_file(const std::string& path, std::string* error) {
  std::string text;
  util::FileProblem problem = util::FileProblem::kNone;
  if (!util::read_regular_file(path, kMaxTuningDbBytes, &text, &problem, error)) {
    entries_.clear();
    return false;
  }
  if (!parse(text, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

const std::string* TuningDb::find(const std::string& device, const std::string& driver,
                                  const std::string& dtype, const std::string& op) const {
  auto it = entries_.find(device + "|" + driver + "|" + dtype + "|" + op);
  if (it == entries_.end()) it = entries_.find(device + "|*|" + dtype + "|" + op);
  return it == entries_.end() ? nullptr : &it->second;
}

void TuningDb::set(const std::string& device, const std::string& driver, const std::string& dtype,
                   const std::string& op, const std::string& params) {
  entries_[device + "|" + driver + "|" + dtype + "|" + op] = params;
}

std::string TuningDb::serialize() const {
  std::string out = "xinhe-tuning-db 1\n# device|driver|dtype|op|parameters (see docs/opencl.md)\n";
  for (const auto& [key, params] : entries_) out += key + "|" + params + "\n";
  return out;
}

}  // namespace xinhe::opencl
