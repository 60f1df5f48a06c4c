// The dispatch walker of xinhe/backend.hpp on its own, driven through tests/support's recording
// host: implementation names, the filter (substring; empty, whether NULL or "", means none; no
// match makes the op unsupported naming the filter; a 1.0 host applies none), fall-through when
// a factory cannot build, fatal factory failures, the one dispatch-line grammar, and every
// status a walk creates taken back. The backends' use of it is covered end to end by
// dispatch_e2e_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "recording_host.h"
#include "xinhe/backend.hpp"

namespace {

using xinhe::backend::Built;
using xinhe::backend::DispatchRequest;
using xinhe::backend::Selection;
using xinhe::test::RecordingHost;

RecordingHost& host() { return RecordingHost::get(); }
const xinhe_host_api_t* const kHost = RecordingHost::get().api();

// A 1.0 host: its table ends before impl_filter.
xinhe_host_api_t host_1_0() {
  xinhe_host_api_t old = *kHost;
  old.struct_size = offsetof(xinhe_host_api_t, impl_filter);
  old.abi_minor = 0;
  old.impl_filter = nullptr;
  return old;
}

struct Entry {
  const char* method;
  const char* arch;
  const char* unsupported;  // NULL: eligible
  int build;                // 0 ok, 1 skip, 2 fatal
};

xinhe_gemm_desc_t gemm_f16_f32() {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof d;
  d.ab_dtype = XINHE_DTYPE_F16;
  d.c_dtype = XINHE_DTYPE_F32;
  d.trans_b = 1;
  d.m = 64;
  d.n = 32;
  d.k = 16;
  d.batch = 2;
  return d;
}

class DispatchWalker : public ::testing::Test {
 protected:
  // Only dispatch lines are wanted, and every status a walk creates must come back.
  void SetUp() override {
    host().set_impl_filter(XINHE_OP_GEMM, "");
    host().set_impl_filter(XINHE_OP_ATTENTION, "");
    host().set_verbose("dispatch");
    host().clear_logs();
    live_before_ = host().live_statuses();
  }
  void TearDown() override {
    EXPECT_EQ(host().live_statuses(), live_before_) << "a status was not taken back";
    host().set_impl_filter(XINHE_OP_GEMM, "");
    host().set_impl_filter(XINHE_OP_ATTENTION, "");
    host().set_verbose("all");
  }
  // The filter the host serves for both op kinds: "" serves an empty string, NULL none.
  void set_filter(const char* value) {
    for (xinhe_op_kind_t kind : {XINHE_OP_GEMM, XINHE_OP_ATTENTION}) {
      if (value != nullptr && value[0] == '\0') {
        host().serve_empty_impl_filter(kind);
      } else {
        host().set_impl_filter(kind, value != nullptr ? value : "");
      }
    }
  }
  Selection walk(const std::vector<Entry>& list, const xinhe_host_api_t* host = kHost,
                 const char* override_filter = nullptr) {
    DispatchRequest request(host, "chip", gemm_f16_f32());
    request.filter_override = override_filter;
    built_.clear();
    return xinhe::backend::select_impl(
        request, list, [](const Entry& e) { return e.unsupported; },
        [&](const Entry& e) {
          built_.push_back(e.method);
          if (e.build == 1) return Built::skip("kernel does not compile: line 3: error");
          if (e.build == 2) {
            return Built::fatal(
                XINHE_BE_ERROR(host, OUT_OF_MEMORY, "chip", "build", "no memory for %s", e.method));
          }
          return Built::ok(std::string("kernel of ") + e.method);
        });
  }
  std::vector<std::string> built_;
  int64_t live_before_ = 0;
};

const std::vector<Entry> kList = {
    {"wide", "x9", "needs the x9 matrix unit", 0},
    {"tiled", nullptr, nullptr, 0},
    {"reference", nullptr, nullptr, 0},
};

TEST_F(DispatchWalker, NamesFollowOnePattern) {
  EXPECT_EQ(xinhe::backend::impl_name("cuda", XINHE_OP_GEMM, "tensorop", "f16_f32", "sm80"),
            "cuda.gemm.tensorop_f16_f32_sm80");
  EXPECT_EQ(xinhe::backend::impl_name("cpu", XINHE_OP_ATTENTION, "flash", "bf16", nullptr),
            "cpu.attention.flash_bf16");
  xinhe_gemm_desc_t d = gemm_f16_f32();
  EXPECT_EQ(xinhe::backend::dtypes_tag(d), "f16_f32");
  d.c_dtype = XINHE_DTYPE_F16;
  EXPECT_EQ(xinhe::backend::dtypes_tag(d), "f16");
  xinhe_attention_desc_t a{};
  a.dtype = XINHE_DTYPE_BF16;
  EXPECT_EQ(xinhe::backend::dtypes_tag(a), "bf16");
}

TEST_F(DispatchWalker, FirstEligibleEntryWinsAndEarlierOnesSayWhy) {
  const Selection s = walk(kList);
  ASSERT_TRUE(s.selected());
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.name, "chip.gemm.tiled_f16_f32");
  EXPECT_EQ(s.detail, "kernel of tiled");
  ASSERT_EQ(s.skipped.size(), 1u);
  EXPECT_EQ(s.skipped[0].name, "chip.gemm.wide_f16_f32_x9");
  EXPECT_EQ(s.skipped[0].reason, "needs the x9 matrix unit");
  EXPECT_EQ(built_, std::vector<std::string>{"tiled"});  // ineligible entries are not built
  EXPECT_EQ(s.fatal, nullptr);
}

TEST_F(DispatchWalker, FilterIsASubstringOfTheName) {
  set_filter("ref");
  Selection s = walk(kList);
  EXPECT_EQ(s.name, "chip.gemm.reference_f16_f32");
  ASSERT_EQ(s.skipped.size(), 2u);
  EXPECT_EQ(s.skipped[1].reason, "not named like XINHE_GEMM_IMPL='ref'");
  EXPECT_EQ(built_, std::vector<std::string>{"reference"});
  set_filter("f16_f32_x9");  // matches the ineligible entry only
  s = walk(kList);
  EXPECT_FALSE(s.selected());
  EXPECT_NE(s.unsupported.find("chip.gemm.wide_f16_f32_x9: needs the x9 matrix unit"),
            std::string::npos)
      << s.unsupported;
}

TEST_F(DispatchWalker, EmptyFilterIsNoFilter) {
  set_filter("");  // the host serves "", not NULL
  ASSERT_STREQ(kHost->impl_filter(XINHE_OP_GEMM), "");
  EXPECT_EQ(xinhe::backend::host_impl_filter(kHost, XINHE_OP_GEMM), nullptr);
  EXPECT_EQ(walk(kList).name, "chip.gemm.tiled_f16_f32");
  // An empty override also means none, and an override replaces the host's filter.
  set_filter("reference");
  EXPECT_EQ(walk(kList, kHost, "").name, "chip.gemm.tiled_f16_f32");
  EXPECT_EQ(walk(kList, kHost, "tiled").name, "chip.gemm.tiled_f16_f32");
}

TEST_F(DispatchWalker, FilterMatchingNothingMakesTheOpUnsupportedNamingIt) {
  set_filter("no_such_impl");
  const Selection s = walk(kList);
  EXPECT_FALSE(s.selected());
  EXPECT_EQ(s.name, "");
  EXPECT_TRUE(built_.empty());
  EXPECT_EQ(s.unsupported.rfind("no chip implementation runs gemm f16->f32 nt m=64 n=32 k=16 "
                                "batch=2: none is named like XINHE_GEMM_IMPL='no_such_impl' (",
                                0),
            0u)
      << s.unsupported;
  EXPECT_NE(s.unsupported.find("chip.gemm.reference_f16_f32: not named like "
                               "XINHE_GEMM_IMPL='no_such_impl'"),
            std::string::npos)
      << s.unsupported;
}

TEST_F(DispatchWalker, HostWithoutTheFilterEntryAppliesNone) {
  set_filter("reference");  // what a 1.3 host would serve; an older table has no such entry
  const xinhe_host_api_t old_host = host_1_0();
  EXPECT_EQ(xinhe::backend::host_impl_filter(&old_host, XINHE_OP_GEMM), nullptr);
  EXPECT_EQ(walk(kList, &old_host).name, "chip.gemm.tiled_f16_f32");
  EXPECT_EQ(walk(kList).name, "chip.gemm.reference_f16_f32");
}

TEST_F(DispatchWalker, FactoryThatCannotBuildFallsThroughWithItsReason) {
  const std::vector<Entry> list = {{"tiled", nullptr, nullptr, 1},
                                   {"vendor", nullptr, "library not found", 0},
                                   {"reference", nullptr, nullptr, 0}};
  const Selection s = walk(list);
  EXPECT_EQ(s.name, "chip.gemm.reference_f16_f32");
  EXPECT_EQ(built_, (std::vector<std::string>{"tiled", "reference"}));
  ASSERT_EQ(s.skipped.size(), 2u);
  EXPECT_EQ(s.skipped[0].reason, "kernel does not compile: line 3: error");
  ASSERT_EQ(host().logs().size(), 1u);
  EXPECT_NE(host().logs()[0].find("; skipped chip.gemm.tiled_f16_f32: kernel does not "
                                  "compile: line 3: error"),
            std::string::npos)
      << host().logs()[0];
  // Nothing builds: the reasons become the check message.
  const Selection none = walk({{"tiled", nullptr, nullptr, 1}});
  EXPECT_FALSE(none.selected());
  EXPECT_EQ(none.unsupported,
            "no chip implementation runs gemm f16->f32 nt m=64 n=32 k=16 batch=2 "
            "(chip.gemm.tiled_f16_f32: kernel does not compile: line 3: error)");
}

TEST_F(DispatchWalker, FatalFactoryFailureEndsTheWalk) {
  const Selection s = walk({{"tiled", nullptr, nullptr, 2}, {"reference", nullptr, nullptr, 0}});
  EXPECT_FALSE(s.selected());
  ASSERT_NE(s.fatal, nullptr);
  const xinhe::test::TakenStatus fatal = host().take(s.fatal);
  EXPECT_EQ(fatal.code, XINHE_STATUS_OUT_OF_MEMORY);
  EXPECT_EQ(fatal.message, "no memory for tiled");
  EXPECT_EQ(fatal.backend, "chip");
  EXPECT_EQ(fatal.call, "build");
  EXPECT_EQ(built_, std::vector<std::string>{"tiled"});
}

// The grammar of backend.hpp's dispatch_line, on what the host receives: one line per walk.
TEST_F(DispatchWalker, DispatchLineGrammar) {
  walk(kList);
  ASSERT_EQ(host().logs().size(), 1u);
  EXPECT_EQ(
      host().logs()[0],
      "xinhe[dispatch] chip: gemm f16->f32 nt m=64 n=32 k=16 batch=2 -> chip.gemm.tiled_f16_f32 "
      "(kernel of tiled); skipped chip.gemm.wide_f16_f32_x9: needs the x9 matrix unit");
  set_filter("none_such");
  walk(kList);
  ASSERT_EQ(host().logs().size(), 2u);
  EXPECT_EQ(host().logs()[1].rfind("xinhe[dispatch] chip: gemm f16->f32 nt m=64 n=32 k=16 batch=2 "
                                   "-> none; skipped chip.gemm.wide_f16_f32_x9: not named "
                                   "like XINHE_GEMM_IMPL='none_such'; skipped ",
                                   0),
            0u)
      << host().logs()[1];

  xinhe::backend::DispatchRequest request(kHost, "chip", gemm_f16_f32());
  request.device = "Chip X1";
  EXPECT_EQ(xinhe::backend::run_swap_line(request, "chip.gemm.tiled_f16_f32",
                                          "chip.gemm.simt_f16_f32", "A not 16-byte aligned"),
            "gemm f16->f32 nt m=64 n=32 k=16 batch=2 on Chip X1 -> chip.gemm.simt_f16_f32 at run, "
            "not chip.gemm.tiled_f16_f32: A not 16-byte aligned");
}

TEST_F(DispatchWalker, AttentionOpsDescribeTheirShape) {
  xinhe_attention_desc_t a{};
  a.struct_size = sizeof a;
  a.dtype = XINHE_DTYPE_BF16;
  a.batch = 1;
  a.heads_q = 8;
  a.heads_kv = 2;
  a.seq_q = 1;
  a.seq_kv = 4096;
  a.head_dim = 128;
  a.mask = XINHE_ATTENTION_MASK_CAUSAL;
  a.with_lse = 1;
  set_filter("flash");
  const DispatchRequest request(kHost, "chip", a);
  EXPECT_EQ(request.op, "attention bf16 B=1 Hq=8 Hkv=2 Sq=1 Skv=4096 D=128 causal lse");
  const Selection s = xinhe::backend::select_impl(request, kList, [](const Entry&) { return ""; });
  EXPECT_FALSE(s.selected());
  EXPECT_NE(s.unsupported.find("XINHE_ATTENTION_IMPL='flash'"), std::string::npos) << s.unsupported;
}

TEST(BackendStatus, MacroFormatsAndAttributesTheStatus) {
  const xinhe_host_api_t* host = kHost;
  const int64_t live_before = RecordingHost::get().live_statuses();
  xinhe::test::TakenStatus taken = RecordingHost::get().take(
      XINHE_BE_ERROR(host, INVALID_ARGUMENT, "chip", "op_create", "%d of %s", 3, "four"));
  EXPECT_EQ(taken.code, XINHE_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(taken.message, "3 of four");
  EXPECT_EQ(taken.backend, "chip");
  EXPECT_EQ(taken.call, "op_create");
  EXPECT_NE(taken.file.find("dispatch_test.cpp"), std::string::npos) << taken.file;
  EXPECT_GT(taken.line, 0);
  // Longer than the formatter's stack buffer.
  const std::string long_text(2000, 'x');
  taken = RecordingHost::get().take(
      XINHE_BE_ERROR(host, INTERNAL, "chip", "op_run", "%s!", long_text.c_str()));
  EXPECT_EQ(taken.code, XINHE_STATUS_INTERNAL);
  EXPECT_EQ(taken.message, long_text + "!");
  EXPECT_EQ(xinhe::backend::make_status(host, XINHE_STATUS_OK, "chip", "x", "f", 1, "ok"), nullptr);
  auto propagate = [&](bool fail) -> xinhe_status_t {
    XINHE_BE_RETURN_IF_ERROR(fail ? XINHE_BE_ERROR(host, INTERNAL, "chip", "inner", "inner")
                                  : nullptr);
    return XINHE_BE_ERROR(host, UNIMPLEMENTED, "chip", "outer", "outer");
  };
  EXPECT_EQ(RecordingHost::get().take(propagate(true)).message, "inner");
  taken = RecordingHost::get().take(propagate(false));
  EXPECT_EQ(taken.code, XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_EQ(taken.message, "outer");
  EXPECT_EQ(RecordingHost::get().live_statuses(), live_before);
}

}  // namespace
