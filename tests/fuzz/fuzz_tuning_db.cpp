// libFuzzer target: the OpenCL tuning-database parser and parameter validation
// (tuning_db.h), without a device.
//
// The input is a database text. TuningDb::parse must not crash; when it accepts the text, its
// serialization must parse again to the same database, and every accepted entry's parameters
// must parse. Parameters are validated against device limits taken from the first bytes, and
// parameters that pass must be within those limits (work-group size, local memory).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "tuning_db.h"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::abort();
}

void check_params(const std::string& op, const std::string& text,
                  const xinhe::opencl::TuningLimits& limits) {
  using namespace xinhe::opencl;
  std::string error;
  if (op == "gemm") {
    GemmParams p;
    if (!parse_gemm_params(text, &p, &error)) finding("an accepted gemm entry does not parse");
    if (p.validate(limits).empty()) {
      const uint64_t wg = static_cast<uint64_t>(p.mwg / p.mwi) * (p.nwg / p.nwi);
      if (wg > limits.max_work_group_size) finding("gemm work-group over the limit accepted");
      if (p.local_memory_bytes() > limits.local_memory_bytes) finding("gemm local memory over");
      if (p.nwi % p.vw != 0) finding("NWI % VW != 0 accepted");
    }
  } else if (op == "attention") {
    AttentionParams p;
    if (!parse_attention_params(text, &p, &error))
      finding("an accepted attention entry does not parse");
    if (p.validate(limits).empty() && static_cast<uint64_t>(p.wg) > limits.max_work_group_size) {
      finding("attention work-group over the limit accepted");
    }
  } else {
    finding("an entry with op '" + op + "' was accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xinhe::opencl;
  TuningLimits limits;
  if (size >= 4) {
    limits.max_work_group_size = uint64_t{1} << (data[0] % 13);
    limits.max_work_item_sizes[0] = data[1] % 2 ? 0 : uint64_t{1} << (data[1] % 13);
    limits.max_work_item_sizes[1] = limits.max_work_item_sizes[0];
    limits.local_memory_bytes = uint64_t{data[2]} << 12;
    limits.cpu_like = data[3] % 2 != 0;
  }
  const std::string text(reinterpret_cast<const char*>(data), size);
  TuningDb db;
  std::string error;
  if (!db.parse(text, &error)) {
    if (error.empty()) finding("a refused database has no reason");
    if (db.size() != 0) finding("a refused database kept entries");
  } else {
    const std::string serialized = db.serialize();
    TuningDb again;
    if (!again.parse(serialized, &error)) finding("serialized database does not parse: " + error);
    if (again.size() != db.size() || again.serialize() != serialized) {
      finding("database does not round-trip through serialize");
    }
    std::istringstream lines(serialized);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#' || line.rfind("xinhe-tuning-db", 0) == 0) continue;
      // device|driver|dtype|op|params
      size_t bars[4], at = 0;
      for (size_t& b : bars) {
        b = line.find('|', at);
        if (b == std::string::npos) finding("serialized entry has fewer than 5 fields");
        at = b + 1;
      }
      check_params(line.substr(bars[2] + 1, bars[3] - bars[2] - 1), line.substr(bars[3] + 1),
                   limits);
    }
  }
  // The parameter parsers on the raw text too.
  GemmParams g;
  AttentionParams a;
  if (parse_gemm_params(text, &g, &error)) g.validate(limits);
  if (parse_attention_params(text, &a, &error)) a.validate(limits);
  return 0;
}
