// The implementation filter and the dispatch line end to end, through the public API, on every
// device of every in-tree backend found in the build tree (cpu, and opencl, cuda, hip when they
// load): XINHE_GEMM_IMPL / XINHE_ATTENTION_IMPL as the core serves them and each backend
// applies them through the dispatch walker (xinhe/backend.hpp), the names the ops report, and
// the XINHE_VERBOSE=dispatch line as written to stderr.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

struct InTreeBackend {
  const char* name;
  const char* last_resort;  // the method of its list's last entry, which runs everything
};
const InTreeBackend kInTree[] = {
    {"cpu", "reference"}, {"opencl", "reference"}, {"cuda", "naive"}, {"hip", "naive"}};

// [a-z0-9]+
bool is_token(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// name is <backend>.<op>.<method>_f32[_<arch>].
bool follows_pattern(const std::string& name, const std::string& backend, const std::string& op) {
  const std::string prefix = backend + "." + op + ".";
  if (name.rfind(prefix, 0) != 0) return false;
  std::vector<std::string> parts;
  std::string rest = name.substr(prefix.size());
  for (size_t at; (at = rest.find('_')) != std::string::npos; rest = rest.substr(at + 1)) {
    parts.push_back(rest.substr(0, at));
  }
  parts.push_back(rest);
  if (parts.size() < 2 || parts.size() > 3 || parts[1] != "f32") return false;
  for (const std::string& p : parts) {
    if (!is_token(p)) return false;
  }
  return true;
}

// line is "xinhe[dispatch] <backend>: <op>[ on <device>] -> <chosen>[ (<detail>)]" followed by
// any number of "; skipped <impl>: <reason>" (backend.hpp's dispatch_line); "" or what is wrong.
std::string grammar_error(const std::string& line, const std::string& backend,
                          const std::string& op, const std::string& chosen) {
  const std::string head = "xinhe[dispatch] " + backend + ": " + op;
  if (line.rfind(head, 0) != 0) return "does not start with '" + head + "'";
  const size_t arrow = line.find(" -> ", head.size());
  if (arrow == std::string::npos) return "no ' -> '";
  const std::string device = line.substr(head.size(), arrow - head.size());
  if (!device.empty() && (device.rfind(" on ", 0) != 0 || device.find(';') != std::string::npos))
    return "'" + device + "' between the op and ' -> '";
  std::string rest = line.substr(arrow + 4);
  if (rest.rfind(chosen, 0) != 0) return "does not select " + chosen;
  rest = rest.substr(chosen.size());
  const std::string kSkipped = "; skipped ";
  const size_t first = rest.find(kSkipped);
  const std::string detail = rest.substr(0, first);
  if (!detail.empty() && (detail.rfind(" (", 0) != 0 || detail.back() != ')'))
    return "'" + detail + "' after the implementation is not ' (<detail>)'";
  for (size_t at = first; at != std::string::npos;) {
    const size_t next = rest.find(kSkipped, at + kSkipped.size());
    const std::string item = rest.substr(at + kSkipped.size(), next - at - kSkipped.size());
    const size_t colon = item.find(": ");
    if (colon == std::string::npos || colon == 0 || colon + 2 == item.size())
      return "skipped item '" + item + "' is not '<impl>: <reason>'";
    for (char c : item.substr(0, colon)) {
      if (!(is_token(std::string(1, c)) || c == '_' || c == '.'))
        return "skipped item '" + item + "' does not start with an implementation name";
    }
    at = next;
  }
  return "";
}

// Every device of an in-tree backend, with that backend's entry.
std::vector<std::pair<xinhe_device_t, InTreeBackend>> in_tree_devices() {
  std::vector<std::pair<xinhe_device_t, InTreeBackend>> devices;
  size_t count = 0;
  if (xinhe_status_t s = xinhe_device_count(&count)) {
    ADD_FAILURE() << xinhe_test::take_message(s);
    return devices;
  }
  for (size_t i = 0; i < count; ++i) {
    xinhe_device_t device = nullptr;
    if (xinhe_status_t s = xinhe_device_get(i, &device)) {
      ADD_FAILURE() << xinhe_test::take_message(s);
      continue;
    }
    const std::string name = xinhe_device_name(device);
    for (const InTreeBackend& b : kInTree) {
      if (name.rfind(std::string(b.name) + ":", 0) == 0) devices.push_back({device, b});
    }
  }
  return devices;
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

enum class Kind { kGemm, kAttention };

// What creating an op reported: its name and check (empty when it can run).
struct Outcome {
  std::string impl;
  xinhe_status_code_t check = XINHE_STATUS_OK;
  std::string check_message;
};

xinhe_gemm_desc_t small_gemm() {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof d;
  d.ab_dtype = XINHE_DTYPE_F32;
  d.c_dtype = XINHE_DTYPE_F32;
  d.m = 8;
  d.n = 8;
  d.k = 8;
  d.batch = 1;
  d.lda = d.ldb = d.ldc = 8;
  d.stride_a = d.stride_b = d.stride_c = 64;
  return d;
}

xinhe_attention_desc_t small_attention() {
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof d;
  d.dtype = XINHE_DTYPE_F32;
  d.batch = 1;
  d.heads_q = 2;
  d.heads_kv = 1;
  d.seq_q = 3;
  d.seq_kv = 5;
  d.head_dim = 16;
  xinhe_attention_strides_bhsd(2, 3, 16, d.q_strides);
  xinhe_attention_strides_bhsd(1, 5, 16, d.k_strides);
  xinhe_attention_strides_bhsd(1, 5, 16, d.v_strides);
  xinhe_attention_strides_bhsd(2, 3, 16, d.o_strides);
  d.scale = 0.25f;
  d.mask = XINHE_ATTENTION_MASK_CAUSAL;
  return d;
}

Outcome create(xinhe_device_t device, Kind kind, const char* filter) {
  Outcome out;
  if (kind == Kind::kGemm) {
    ScopedEnv env("XINHE_GEMM_IMPL", filter);
    const xinhe_gemm_desc_t d = small_gemm();
    xinhe_gemm_t op = nullptr;
    if (xinhe_status_t s = xinhe_gemm_create(device, &d, &op)) {
      ADD_FAILURE() << xinhe_test::take_message(s);
      return out;
    }
    out.impl = xinhe_gemm_impl_name(op);
    if (xinhe_status_t s = xinhe_gemm_check(op)) {
      out.check = xinhe_status_code(s);
      out.check_message = xinhe_test::take_message(s);
    }
    xinhe_gemm_destroy(op);
  } else {
    ScopedEnv env("XINHE_ATTENTION_IMPL", filter);
    const xinhe_attention_desc_t d = small_attention();
    xinhe_attention_t op = nullptr;
    if (xinhe_status_t s = xinhe_attention_create(device, &d, &op)) {
      ADD_FAILURE() << xinhe_test::take_message(s);
      return out;
    }
    out.impl = xinhe_attention_impl_name(op);
    if (xinhe_status_t s = xinhe_attention_check(op)) {
      out.check = xinhe_status_code(s);
      out.check_message = xinhe_test::take_message(s);
    }
    xinhe_attention_destroy(op);
  }
  return out;
}

// Checks the filter's semantics for one op kind on one device.
void check_filter(xinhe_device_t device, const InTreeBackend& backend, Kind kind) {
  const std::string op = kind == Kind::kGemm ? "gemm" : "attention";
  const std::string variable = kind == Kind::kGemm ? "XINHE_GEMM_IMPL" : "XINHE_ATTENTION_IMPL";
  SCOPED_TRACE(std::string(xinhe_device_name(device)) + " " + op);

  const Outcome plain = create(device, kind, nullptr);
  ASSERT_EQ(plain.check, XINHE_STATUS_OK) << plain.check_message;
  EXPECT_TRUE(follows_pattern(plain.impl, backend.name, op)) << plain.impl;

  const Outcome empty = create(device, kind, "");  // empty = no filter
  EXPECT_EQ(empty.impl, plain.impl);
  EXPECT_EQ(empty.check, XINHE_STATUS_OK) << empty.check_message;

  const Outcome exact = create(device, kind, plain.impl.c_str());
  EXPECT_EQ(exact.impl, plain.impl);

  const Outcome last = create(device, kind, backend.last_resort);  // a substring
  EXPECT_EQ(last.check, XINHE_STATUS_OK) << last.check_message;
  EXPECT_TRUE(follows_pattern(last.impl, backend.name, op)) << last.impl;
  EXPECT_NE(last.impl.find(std::string(".") + backend.last_resort + "_"), std::string::npos)
      << last.impl;

  const Outcome none = create(device, kind, "no_such_impl");
  EXPECT_EQ(none.check, XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_NE(none.check_message.find(variable + "='no_such_impl'"), std::string::npos)
      << none.check_message;
  EXPECT_EQ(none.impl, backend.name);
}

TEST(DispatchEndToEnd, FilterSemanticsOnEveryInTreeBackend) {
  const auto devices = in_tree_devices();
  ASSERT_FALSE(devices.empty());  // cpu:0 at least
  for (const auto& [device, backend] : devices) {
    check_filter(device, backend, Kind::kGemm);
    check_filter(device, backend, Kind::kAttention);
  }
}

// Backends that choose their kernel at create only report it for every run too; the query
// validates its arguments as a run does and reports the check when the op cannot run.
TEST(DispatchEndToEnd, RunImplNameIsTheSelectedImplementationOnCreateOnlyBackends) {
  for (const auto& [device, backend] : in_tree_devices()) {
    if (std::string(backend.name) != "cpu" && std::string(backend.name) != "opencl") continue;
    SCOPED_TRACE(xinhe_device_name(device));
    const xinhe_gemm_desc_t d = small_gemm();
    xinhe_gemm_t op = nullptr;
    XH_ASSERT_OK(xinhe_gemm_create(device, &d, &op));
    xinhe_buffer_t a = nullptr, b = nullptr, c = nullptr;
    XH_ASSERT_OK(xinhe_buffer_alloc(device, 256, 0, &a));
    XH_ASSERT_OK(xinhe_buffer_alloc(device, 256, 0, &b));
    XH_ASSERT_OK(xinhe_buffer_alloc(device, 256, 0, &c));
    xinhe_gemm_args_t args{};
    args.struct_size = sizeof args;
    args.a = a;
    args.b = b;
    args.c = c;
    args.alpha = 1.0f;
    const char* name = nullptr;
    XH_ASSERT_OK(xinhe_gemm_run_impl_name(op, &args, &name));
    EXPECT_STREQ(name, xinhe_gemm_impl_name(op));
    XH_EXPECT_INVALID(xinhe_gemm_run_impl_name(op, nullptr, &name));
    XH_EXPECT_INVALID(xinhe_gemm_run_impl_name(op, &args, nullptr));
    XH_EXPECT_INVALID(xinhe_gemm_run_impl_name(nullptr, &args, &name));
    args.c_offset = 4;  // C no longer fits its buffer
    XH_EXPECT_INVALID(xinhe_gemm_run_impl_name(op, &args, &name));
    xinhe_gemm_destroy(op);
    {
      ScopedEnv env("XINHE_GEMM_IMPL", "no_such_impl");
      XH_ASSERT_OK(xinhe_gemm_create(device, &d, &op));
    }
    args.c_offset = 0;
    XH_EXPECT_CODE(xinhe_gemm_run_impl_name(op, &args, &name), XINHE_STATUS_UNIMPLEMENTED);
    xinhe_gemm_destroy(op);
    for (xinhe_buffer_t buffer : {a, b, c}) xinhe_buffer_free(buffer);

    const xinhe_attention_desc_t ad = small_attention();
    xinhe_attention_t attention = nullptr;
    XH_ASSERT_OK(xinhe_attention_create(device, &ad, &attention));
    xinhe_buffer_t q = nullptr, kv = nullptr, o = nullptr, workspace = nullptr;
    uint64_t workspace_bytes = 0;
    XH_ASSERT_OK(xinhe_attention_workspace_size(attention, &workspace_bytes));
    XH_ASSERT_OK(xinhe_buffer_alloc(device, 2 * 3 * 16 * 4, 0, &q));
    XH_ASSERT_OK(xinhe_buffer_alloc(device, 5 * 16 * 4, 0, &kv));
    XH_ASSERT_OK(xinhe_buffer_alloc(device, 2 * 3 * 16 * 4, 0, &o));
    XH_ASSERT_OK(xinhe_buffer_alloc(device, workspace_bytes, 0, &workspace));
    xinhe_attention_args_t aargs{};
    aargs.struct_size = sizeof aargs;
    aargs.q = q;
    aargs.k = kv;
    aargs.v = kv;
    aargs.o = o;
    aargs.workspace = workspace;
    XH_ASSERT_OK(xinhe_attention_run_impl_name(attention, &aargs, &name));
    EXPECT_STREQ(name, xinhe_attention_impl_name(attention));
    aargs.lse = o;  // with_lse is 0
    XH_EXPECT_INVALID(xinhe_attention_run_impl_name(attention, &aargs, &name));
    xinhe_attention_destroy(attention);
    for (xinhe_buffer_t buffer : {q, kv, o, workspace}) xinhe_buffer_free(buffer);
  }
}

// Runs fn with stderr going to a file and returns what was written.
template <typename Fn>
std::string capture_stderr(Fn&& fn) {
  char path[] = "/tmp/xinhe_dispatch_e2e_XXXXXX";
  const int file = mkstemp(path);
  EXPECT_GE(file, 0);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(file, 2);
  fn();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  return text.str();
}

// One line per op in the grammar of backend.hpp's dispatch_line, the same for every backend.
TEST(DispatchEndToEnd, DispatchLineHasOneGrammar) {
  ScopedEnv verbose("XINHE_VERBOSE", "dispatch");
  for (const auto& [device, backend] : in_tree_devices()) {
    SCOPED_TRACE(xinhe_device_name(device));
    for (Kind kind : {Kind::kGemm, Kind::kAttention}) {
      for (const char* filter : {static_cast<const char*>(nullptr), "no_such_impl"}) {
        Outcome outcome;
        const std::string text = capture_stderr([&] { outcome = create(device, kind, filter); });
        const std::string op = kind == Kind::kGemm
                                   ? "gemm f32->f32 nn m=8 n=8 k=8 batch=1"
                                   : "attention f32 B=1 Hq=2 Hkv=1 Sq=3 Skv=5 D=16 causal";
        const std::string chosen = filter == nullptr ? outcome.impl : std::string("none");
        std::vector<std::string> lines;
        std::istringstream stream(text);
        for (std::string l; std::getline(stream, l);) {
          if (l.rfind("xinhe[dispatch]", 0) == 0) lines.push_back(l);
        }
        ASSERT_EQ(lines.size(), 1u) << text;
        EXPECT_EQ(grammar_error(lines[0], backend.name, op, chosen), "") << lines[0];
        if (filter != nullptr) {
          EXPECT_NE(lines[0].find("not named like"), std::string::npos) << lines[0];
        }
      }
    }
  }
}

}  // namespace
