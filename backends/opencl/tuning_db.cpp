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

// Applies KEY=VALUE pairs to named int fields. A key given twice is an error (which one was
// meant is unknowable); *unset (when given) receives the fields the text did not name.
bool parse_pairs(const std::string& text, const std::map<std::string, int*>& fields,
                 std::string* error, std::vector<std::string>* unset = nullptr) {
  std::map<std::string, bool> seen;
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
    if (seen[key]) {
      *error = "duplicate parameter '" + key + "'";
      return false;
    }
    seen[key] = true;
    char* end = nullptr;
    const long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < 0 || v > 4096) {
      *error = "bad value '" + value + "' for " + key;
      return false;
    }
    *it->second = static_cast<int>(v);
  }
  if (unset != nullptr) {
    unset->clear();
    for (const auto& [key, field] : fields)
      if (!seen.count(key)) unset->push_back(key);
  }
  return true;
}

std::string join(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

}  // namespace

extern const char* const kShippedTuningDb;  // generated from tuning/opencl_tuning_db.txt
const char* shipped_tuning_db_text() { return kShippedTuningDb; }

GemmParams default_gemm_params(bool cpu_like) { return opencl_c::default_gemm_tile(cpu_like); }

AttentionParams default_attention_params(bool cpu_like) {
  return opencl_c::default_flash_tile(cpu_like);
}

namespace {

// The GEMM keys of a tuning entry and the fields of p they set.
std::map<std::string, int*> gemm_fields(GemmParams& p) {
  return {{"MWI", &p.mwi},  {"NWI", &p.nwi}, {"VW", &p.vw},   {"KWI", &p.kwi},
          {"MWG", &p.mwg},  {"NWG", &p.nwg}, {"KWG", &p.kwg}, {"USE_LOCAL", &p.use_local},
          {"PACK", &p.pack}};
}

// The attention keys of a tuning entry and the fields of p they set.
std::map<std::string, int*> attention_fields(AttentionParams& p) {
  return {{"QWI", &p.qwi}, {"BKV", &p.bkv}, {"WG", &p.wg}, {"DV", &p.dv}};
}

}  // namespace

bool parse_gemm_params(const std::string& text, GemmParams* params, std::string* error) {
  GemmParams p = *params;
  if (!parse_pairs(text, gemm_fields(p), error)) return false;
  *params = p;
  return true;
}

bool parse_attention_params(const std::string& text, AttentionParams* params, std::string* error) {
  AttentionParams p = *params;
  if (!parse_pairs(text, attention_fields(p), error)) return false;
  *params = p;
  return true;
}

std::string gemm_params_not_set(const std::string& text) {
  GemmParams p;
  std::string error;
  std::vector<std::string> unset;
  return parse_pairs(text, gemm_fields(p), &error, &unset) ? join(unset) : "";
}

std::string attention_params_not_set(const std::string& text) {
  AttentionParams p;
  std::string error;
  std::vector<std::string> unset;
  return parse_pairs(text, attention_fields(p), &error, &unset) ? join(unset) : "";
}

bool TuningDb::parse(const std::string& text, std::string* error) {
  entries_.clear();
  duplicates_.clear();
  std::map<std::string, int> entry_line;  // key -> line of its (latest) entry
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
    const std::string key = trim(f[0]) + "|" + trim(f[1]) + "|" + trim(f[2]) + "|" + op;
    if (auto it = entry_line.find(key); it != entry_line.end()) {
      // Kept (the later line wins, as before), but never silently: one of them is a mistake.
      duplicates_[key] = "duplicate tuning entry for '" + key + "': line " +
                         std::to_string(line_no) + " replaces line " + std::to_string(it->second);
    }
    entry_line[key] = line_no;
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
                                  const std::string& dtype, const std::string& op,
                                  std::string* duplicate) const {
  auto it = entries_.find(device + "|" + driver + "|" + dtype + "|" + op);
  if (it == entries_.end()) it = entries_.find(device + "|*|" + dtype + "|" + op);
  if (duplicate != nullptr) {
    duplicate->clear();
    if (it != entries_.end())
      if (auto d = duplicates_.find(it->first); d != duplicates_.end()) *duplicate = d->second;
  }
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> TuningDb::warnings() const {
  std::vector<std::string> out;
  for (const auto& [key, text] : duplicates_) out.push_back(text);
  return out;
}

void TuningDb::set(const std::string& device, const std::string& driver, const std::string& dtype,
                   const std::string& op, const std::string& params) {
  const std::string key = device + "|" + driver + "|" + dtype + "|" + op;
  entries_[key] = params;
  duplicates_.erase(key);  // a value set after parsing replaces the duplicated lines
}

std::string TuningDb::serialize() const {
  std::string out = "xinhe-tuning-db 1\n# device|driver|dtype|op|parameters (see docs/opencl.md)\n";
  for (const auto& [key, params] : entries_) out += key + "|" + params + "\n";
  return out;
}

}  // namespace xinhe::opencl
