// Output of xinhe-bench: result records as JSON (the --json format, docs/bench-format.md) and
// the table printed on stdout, which is built from the same records.
#pragma once

#include <nlohmann/json.hpp>

#include "measure.h"

namespace xinhe::bench {

nlohmann::ordered_json shape_json(const BenchCase& c);
nlohmann::ordered_json result_json(const Result& r, const std::optional<double>& pct_of_peak);
nlohmann::ordered_json problem_json(const Problem& p);

// Host description: cpu_model, cores, memory_bytes, os, openblas.
nlohmann::ordered_json host_json();

// Prints the header (version, host, FMA peaks) and one row per result, with xinhe/peer ratios
// on peer rows, then the skipped and failed configurations.
void print_table(const nlohmann::ordered_json& report);

}  // namespace xinhe::bench
