// Benchmark cases: GEMM and attention shapes (tests/support's op-case types, dense, in the
// dtypes a case lists), the text forms used on the command line and in shape files
// ("1024x1024x1024x1:nt", "2x4x4x1024x1024x64:causal"), and the named presets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op_case.h"
#include "xinhe/xinhe.hpp"

namespace xinhe::bench {

enum class Op { kGemm, kAttention };

const char* op_name(Op op);

// The shapes are dense (no padding, offsets or broadcast; attention BHSD): the text forms
// name nothing else. Their dtype fields are set per run (with_dtype).
using GemmShape = test::GemmCase;
using AttentionShape = test::AttentionCase;

// One shape and the dtypes to run it in. A preset can restrict a case to one backend (the
// larger CPU-only shapes of "default"); empty means every device.
struct BenchCase {
  Op op = Op::kGemm;
  GemmShape gemm;
  AttentionShape attention;
  std::vector<xinhe_dtype_t> dtypes;
  std::string only_backend;
  std::string origin;  // "FILE:LINE" for a shape-file case (for messages); empty otherwise
};

// Floating-point operations of one run: GEMM 2*M*N*K*batch; attention 4*B*Hq*D*(unmasked
// query-key pairs), i.e. Sq*Skv without a mask and only the pairs a causal mask keeps.
double flop_count(const BenchCase& c);

// The case's shape in dtype: A, B and C (Q, K, V and O) all in it, as frameworks run them.
GemmShape with_dtype(const GemmShape& g, xinhe_dtype_t dtype);
AttentionShape with_dtype(const AttentionShape& a, xinhe_dtype_t dtype);

// "1024x1024x1024", "64x4096x4096x8:nt". Throws std::invalid_argument with the reason.
GemmShape parse_gemm(const std::string& text);
// "2x8x8x1024x1024x64", "...:causal".
AttentionShape parse_attention(const std::string& text);
std::string to_string(const GemmShape& s);
std::string to_string(const AttentionShape& s);
std::string shape_string(const BenchCase& c);

xinhe_dtype_t parse_dtype(const std::string& name);

// Names accepted by preset(): "default", "issue5", "cpu-ai", "opencl", "gpu", "quick".
std::vector<std::string> preset_names();
// Throws std::invalid_argument for an unknown name.
std::vector<BenchCase> preset(const std::string& name);

// Shape files: one case per line, '#' starts a comment:
//   gemm 1024x1024x1024 f32,f16     (dtypes optional: defaults to default_dtypes)
//   attention 2x8x8x1024x1024x64:causal f32
//   gemm 2048x2048x2048 f32 @cpu     (optional: only devices of that backend; one per line)
std::vector<BenchCase> load_shape_file(const std::string& path,
                                       const std::vector<xinhe_dtype_t>& default_dtypes);
// Writes cases in the same format (used to hand the resolved case list to child processes).
void save_shape_file(const std::string& path, const std::vector<BenchCase>& cases);

}  // namespace xinhe::bench
