// Shape parsing, flop counts and the named presets of xinhe-bench (see shapes.h and
// docs/bench-format.md for what each preset is for).
#include "shapes.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace xinhe::bench {
namespace {

constexpr xinhe_dtype_t F32 = XINHE_DTYPE_F32;
constexpr xinhe_dtype_t F16 = XINHE_DTYPE_F16;
constexpr xinhe_dtype_t BF16 = XINHE_DTYPE_BF16;

// Splits "AxBxC:suffix" into the numbers and the suffix; every number must be a positive integer.
std::vector<int64_t> parse_dims(const std::string& text, std::string* suffix) {
  const size_t colon = text.find(':');
  *suffix = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (colon != std::string::npos && suffix->empty())
    throw std::invalid_argument(
        fmt::format("'{}': nothing after ':' (drop it, or give the suffix)", text));
  const std::string dims = text.substr(0, colon);
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= dims.size()) {
    size_t next = dims.find('x', pos);
    if (next == std::string::npos) next = dims.size();
    const std::string item = dims.substr(pos, next - pos);
    // Digits only: stoll alone would also take "+4" and " 4".
    long long v = 0;
    const bool digits = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
    try {
      if (digits) v = std::stoll(item);
    } catch (const std::exception&) {
      v = 0;  // out of range
    }
    if (!digits || v <= 0)
      throw std::invalid_argument(fmt::format("'{}': '{}' is not a positive integer", text, item));
    out.push_back(v);
    pos = next + 1;
  }
  return out;
}

BenchCase gemm_case(int64_t m, int64_t n, int64_t k, std::vector<xinhe_dtype_t> dtypes,
                    std::string only_backend = "") {
  BenchCase c;
  c.op = Op::kGemm;
  c.gemm.m = m;
  c.gemm.n = n;
  c.gemm.k = k;
  c.dtypes = std::move(dtypes);
  c.only_backend = std::move(only_backend);
  return c;
}

AttentionShape attention_shape(int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                               int64_t d, bool causal) {
  AttentionShape a;
  a.batch = b;
  a.heads_q = hq;
  a.heads_kv = hkv;
  a.seq_q = sq;
  a.seq_kv = skv;
  a.head_dim = d;
  a.causal = causal;
  return a;
}

BenchCase attention_case(int64_t b, int64_t h, int64_t s, int64_t d, bool causal,
                         std::vector<xinhe_dtype_t> dtypes) {
  BenchCase c;
  c.op = Op::kAttention;
  c.attention = attention_shape(b, h, h, s, s, d, causal);
  c.dtypes = std::move(dtypes);
  return c;
}

}  // namespace

const char* op_name(Op op) { return op == Op::kGemm ? "gemm" : "attention"; }

GemmShape with_dtype(const GemmShape& g, xinhe_dtype_t dtype) {
  GemmShape out = g;
  out.ab = out.c = dtype;
  return out;
}

AttentionShape with_dtype(const AttentionShape& a, xinhe_dtype_t dtype) {
  AttentionShape out = a;
  out.dtype = dtype;
  return out;
}

double flop_count(const BenchCase& c) {
  if (c.op == Op::kGemm) {
    const GemmShape& g = c.gemm;
    return 2.0 * static_cast<double>(g.m) * g.n * g.k * g.batch;
  }
  const AttentionShape& a = c.attention;
  double pairs = static_cast<double>(a.seq_q) * a.seq_kv;
  if (a.causal) {
    // Query i sees keys j <= i + (Skv - Sq) (bottom-right aligned): count the kept pairs.
    pairs = 0;
    for (int64_t i = 0; i < a.seq_q; ++i) {
      const int64_t seen =
          std::min<int64_t>(a.seq_kv, std::max<int64_t>(0, i + (a.seq_kv - a.seq_q) + 1));
      pairs += static_cast<double>(seen);
    }
  }
  return 4.0 * static_cast<double>(a.batch) * a.heads_q * a.head_dim * pairs;
}

GemmShape parse_gemm(const std::string& text) {
  std::string suffix;
  const std::vector<int64_t> dims = parse_dims(text, &suffix);
  if (dims.size() != 3 && dims.size() != 4)
    throw std::invalid_argument(fmt::format("'{}': expected MxNxK[xBATCH][:tt]", text));
  GemmShape s;
  s.m = dims[0];
  s.n = dims[1];
  s.k = dims[2];
  s.batch = dims.size() == 4 ? dims[3] : 1;
  if (!suffix.empty()) {
    if (suffix.size() != 2 || (suffix[0] != 'n' && suffix[0] != 't') ||
        (suffix[1] != 'n' && suffix[1] != 't'))
      throw std::invalid_argument(
          fmt::format("'{}': the suffix is two letters n|t for op(A), op(B), e.g. ':nt'", text));
    s.trans_a = suffix[0] == 't';
    s.trans_b = suffix[1] == 't';
  }
  return s;
}

AttentionShape parse_attention(const std::string& text) {
  std::string suffix;
  const std::vector<int64_t> dims = parse_dims(text, &suffix);
  if (dims.size() != 6)
    throw std::invalid_argument(fmt::format("'{}': expected BxHqxHkvxSqxSkvxD[:causal]", text));
  if (!suffix.empty() && suffix != "causal")
    throw std::invalid_argument(fmt::format("'{}': the only suffix is ':causal'", text));
  AttentionShape s =
      attention_shape(dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], suffix == "causal");
  if (s.heads_q % s.heads_kv != 0)
    throw std::invalid_argument(fmt::format("'{}': Hq must be a multiple of Hkv", text));
  return s;
}

std::string to_string(const GemmShape& s) {
  std::string out = fmt::format("{}x{}x{}", s.m, s.n, s.k);
  if (s.batch != 1) out += fmt::format("x{}", s.batch);
  if (s.trans_a || s.trans_b) out += fmt::format(":{}{}", s.trans_a ? 't' : 'n', s.trans_b ? 't' : 'n');
  return out;
}

std::string to_string(const AttentionShape& s) {
  return fmt::format("{}x{}x{}x{}x{}x{}{}", s.batch, s.heads_q, s.heads_kv, s.seq_q, s.seq_kv,
                     s.head_dim, s.causal ? ":causal" : "");
}

std::string shape_string(const BenchCase& c) {
  return c.op == Op::kGemm ? to_string(c.gemm) : to_string(c.attention);
}

xinhe_dtype_t parse_dtype(const std::string& name) {
  for (xinhe_dtype_t d : {F32, F16, BF16})
    if (name == xinhe_dtype_name(d)) return d;
  throw std::invalid_argument(fmt::format("unknown dtype '{}' (f32, f16, bf16)", name));
}

std::vector<std::string> preset_names() {
  return {"default", "issue5", "cpu-ai", "opencl", "gpu", "quick"};
}

std::vector<BenchCase> preset(const std::string& name) {
  std::vector<BenchCase> cases;
  if (name == "default") {
    // Sized to finish in a few minutes on 2 cores for the CPU and PoCL together.
    cases.push_back(gemm_case(512, 512, 512, {F32}));
    cases.push_back(gemm_case(1024, 1024, 1024, {F32, F16, BF16}));
    cases.push_back(gemm_case(2048, 2048, 2048, {F32}, "cpu"));
    for (int64_t d : {64, 128})
      for (bool causal : {false, true}) cases.push_back(attention_case(2, 4, 1024, d, causal, {F32}));
  } else if (name == "issue5") {
    for (int64_t s : {64, 128, 256, 512, 1024, 2048}) cases.push_back(gemm_case(s, s, s, {F32}));
    cases.push_back(gemm_case(4096, 4096, 64, {F32}));
    cases.push_back(gemm_case(64, 4096, 4096, {F32}));
    for (int64_t s : {1024, 2048}) cases.push_back(gemm_case(s, s, s, {BF16, F16}));
    for (int64_t s : {1024, 2048})
      for (int64_t d : {64, 128}) cases.push_back(attention_case(1, 8, s, d, false, {F32}));
  } else if (name == "cpu-ai") {
    // Issue 12's CPU set: GEMM 256-4096 and the two skinny shapes in every dtype, and the two
    // attention shapes, causal and not, in f32 and bf16 (against PyTorch with --compare).
    for (int64_t s : {256, 512, 1024, 2048, 4096})
      cases.push_back(gemm_case(s, s, s, {F32, BF16, F16}));
    cases.push_back(gemm_case(4096, 4096, 64, {F32, BF16, F16}));
    cases.push_back(gemm_case(64, 4096, 4096, {F32, BF16, F16}));
    for (bool causal : {false, true}) {
      cases.push_back(attention_case(1, 8, 2048, 128, causal, {F32, BF16}));
      cases.push_back(attention_case(2, 4, 1024, 64, causal, {F32, BF16}));
    }
    // Decode: one query against a long cache, one head (only a key split gives a second
    // thread work) and a GQA group of 4 (K/V tiles shared by the group).
    BenchCase decode;
    decode.op = Op::kAttention;
    decode.dtypes = {F32, BF16};
    decode.attention = attention_shape(1, 1, 1, 1, 8192, 128, false);
    cases.push_back(decode);
    decode.attention = attention_shape(1, 32, 8, 1, 4096, 128, false);
    cases.push_back(decode);
  } else if (name == "opencl") {
    for (int64_t s : {1024, 2048}) cases.push_back(gemm_case(s, s, s, {F32}));
    for (int64_t s : {1024, 2048})
      for (int64_t d : {64, 128}) cases.push_back(attention_case(1, 8, s, d, false, {F32}));
  } else if (name == "gpu") {
    for (int64_t s : {4096, 8192}) cases.push_back(gemm_case(s, s, s, {BF16}));
    for (bool causal : {false, true}) cases.push_back(attention_case(4, 16, 4096, 128, causal, {BF16}));
  } else if (name == "quick") {
    // Tiny and irregular on purpose: odd sizes, batches, transposes, GQA, causal with Sq < Skv.
    cases.push_back(gemm_case(33, 47, 29, {F32, F16, BF16}));
    BenchCase batched = gemm_case(16, 24, 40, {F32, F16, BF16});
    batched.gemm.batch = 3;
    batched.gemm.trans_a = true;
    batched.gemm.trans_b = true;
    cases.push_back(batched);
    BenchCase gqa;
    gqa.op = Op::kAttention;
    gqa.attention = attention_shape(2, 4, 2, 17, 33, 32, true);
    gqa.dtypes = {F32, F16, BF16};
    cases.push_back(gqa);
    cases.push_back(attention_case(1, 2, 40, 64, false, {F32, F16, BF16}));
  } else {
    std::string known;
    for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument(
        fmt::format("'{}' is neither a shape file nor a preset ({})", name, known));
  }
  return cases;
}

std::vector<BenchCase> load_shape_file(const std::string& path,
                                       const std::vector<xinhe_dtype_t>& default_dtypes) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("cannot open shape file '{}'", path));
  std::vector<BenchCase> cases;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string op, shape, word;
    if (!(words >> op)) continue;
    try {
      if (!(words >> shape)) throw std::invalid_argument("missing shape");
      BenchCase c;
      if (op == "gemm") {
        c.op = Op::kGemm;
        c.gemm = parse_gemm(shape);
      } else if (op == "attention") {
        c.op = Op::kAttention;
        c.attention = parse_attention(shape);
      } else {
        throw std::invalid_argument(fmt::format("unknown op '{}' (gemm, attention)", op));
      }
      while (words >> word) {
        if (word[0] == '@') {
          // One backend per line: a second one used to replace the first without a word.
          if (!c.only_backend.empty())
            throw std::invalid_argument(
                fmt::format("'@{}' and '{}': a line takes one @backend; write one line per backend",
                            c.only_backend, word));
          if (word.size() == 1) throw std::invalid_argument("'@' without a backend name");
          c.only_backend = word.substr(1);
          continue;
        }
        std::istringstream list(word);
        for (std::string d; std::getline(list, d, ',');) {
          const xinhe_dtype_t dtype = parse_dtype(d);
          if (std::find(c.dtypes.begin(), c.dtypes.end(), dtype) == c.dtypes.end())
            c.dtypes.push_back(dtype);
        }
      }
      if (c.dtypes.empty()) c.dtypes = default_dtypes;
      c.origin = fmt::format("{}:{}", path, line_no);
      cases.push_back(std::move(c));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{}:{}: {}", path, line_no, e.what()));
    }
  }
  return cases;
}

void save_shape_file(const std::string& path, const std::vector<BenchCase>& cases) {
  std::ofstream out(path);
  for (const BenchCase& c : cases) {
    std::string dtypes;
    for (xinhe_dtype_t d : c.dtypes) dtypes += (dtypes.empty() ? "" : ",") + std::string(xinhe_dtype_name(d));
    out << op_name(c.op) << ' ' << shape_string(c) << ' ' << dtypes;
    if (!c.only_backend.empty()) out << " @" << c.only_backend;
    out << '\n';
  }
  if (!out) throw std::runtime_error(fmt::format("cannot write '{}'", path));
}

}  // namespace xinhe::bench
