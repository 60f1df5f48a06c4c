// The tuning database: parsing (valid, malformed, unknown keys, bad values), lookup with the
// driver wildcard, round trip through serialize, and what dispatch does with a missing,
// malformed or valid XINHE_TUNING_DB file (defaults with a logged reason, or the entry).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>

#include "testing/opencl_op_runner.h"

namespace xinhe::opencl::testing {
namespace {

TEST(OpenclTuningDbParse, ValidDatabaseAndLookup) {
  TuningDb db;
  std::string error;
  ASSERT_TRUE(
      db.parse("# comment\nxinhe-tuning-db 1\n"
               "Dev A|1.0|f32|gemm|MWI=2,NWI=8,VW=4\n"
               "Dev A|*|f16|gemm|MWI=4\n"
               "Dev A|1.0|f32|attention|QWI=2,BKV=8,WG=4\n",
               &error))
      << error;
  EXPECT_EQ(db.size(), 3u);
  ASSERT_NE(db.find("Dev A", "1.0", "f32", "gemm"), nullptr);
  EXPECT_EQ(*db.find("Dev A", "1.0", "f32", "gemm"), "MWI=2,NWI=8,VW=4");
  ASSERT_NE(db.find("Dev A", "2.5", "f16", "gemm"), nullptr) << "driver wildcard";
  EXPECT_EQ(db.find("Dev A", "2.5", "f32", "gemm"), nullptr);
  EXPECT_EQ(db.find("Dev B", "1.0", "f32", "gemm"), nullptr);
  TuningDb copy;
  ASSERT_TRUE(copy.parse(db.serialize(), &error)) << error;
  EXPECT_EQ(copy.size(), 3u);
  GemmParams p;
  ASSERT_TRUE(parse_gemm_params(*db.find("Dev A", "1.0", "f32", "gemm"), &p, &error));
  EXPECT_EQ(p.mwi, 2);
  EXPECT_EQ(p.nwi, 8);
  EXPECT_EQ(p.vw, 4);
}

TEST(OpenclTuningDbParse, MalformedInputsAreRejectedWithTheLine) {
  const char* bad[] = {
      "",                                                 // no header
      "xinhe-tuning-db 2\n",                              // unknown version
      "xinhe-tuning-db 1\nDev|1|f32|gemm\n",              // 4 fields
      "xinhe-tuning-db 1\nDev|1|f32|gemm|MWI=2|x\n",      // 6 fields
      "xinhe-tuning-db 1\nDev|1|f32|gemm|WHAT=2\n",       // unknown key
      "xinhe-tuning-db 1\nDev|1|f32|gemm|MWI=two\n",      // not a number
      "xinhe-tuning-db 1\nDev|1|f32|gemm|MWI\n",          // no '='
      "xinhe-tuning-db 1\nDev|1|f32|conv|MWI=2\n",        // unknown op
      "xinhe-tuning-db 1\nDev|1|f32|attention|QWI=-1\n",  // negative
      "xinhe-tuning-db 1\nDev|1|f32|gemm|MWI=2,MWI=4\n",  // a key twice
  };
  for (const char* text : bad) {
    TuningDb db;
    std::string error;
    EXPECT_FALSE(db.parse(text, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
    EXPECT_EQ(db.size(), 0u) << text;
  }
  TuningDb db;
  std::string error;
  EXPECT_FALSE(db.parse("xinhe-tuning-db 1\nDev|1|f32|gemm|MWI=2\nDev|1|f32|gemm\n", &error));
  EXPECT_NE(error.find("line 3"), std::string::npos) << error;
}

// A key given twice in one entry is malformed (which value was meant?); the same entry given
// twice is kept (the later line wins) with a warning naming both lines.
TEST(OpenclTuningDbParse, DuplicatesAreNotSilent) {
  TuningDb db;
  std::string error;
  EXPECT_FALSE(db.parse("xinhe-tuning-db 1\n# c\nDev|1|f32|gemm|MWI=2,NWI=4,MWI=8\n", &error));
  EXPECT_NE(error.find("line 3: duplicate parameter 'MWI'"), std::string::npos) << error;
  GemmParams p;
  EXPECT_FALSE(parse_gemm_params("MWI=2, MWI=2", &p, &error));

  ASSERT_TRUE(
      db.parse("xinhe-tuning-db 1\nDev|*|f32|gemm|MWI=2\nDev|1|f32|gemm|MWI=4\n"
               "Dev|*|f32|gemm|MWI=8\n",
               &error))
      << error;
  ASSERT_EQ(db.warnings().size(), 1u);
  EXPECT_NE(db.warnings()[0].find("line 4 replaces line 2"), std::string::npos) << db.warnings()[0];
  std::string duplicate;
  ASSERT_NE(db.find("Dev", "2", "f32", "gemm", &duplicate), nullptr);
  EXPECT_EQ(*db.find("Dev", "2", "f32", "gemm"), "MWI=8");
  EXPECT_NE(duplicate.find("line 4 replaces line 2"), std::string::npos) << duplicate;
  ASSERT_NE(db.find("Dev", "1", "f32", "gemm", &duplicate), nullptr);
  EXPECT_EQ(duplicate, "");                    // the exact-driver entry is given once
  db.set("Dev", "*", "f32", "gemm", "MWI=4");  // a new value replaces both lines
  EXPECT_TRUE(db.warnings().empty());

  EXPECT_EQ(gemm_params_not_set("MWI=4,NWI=4"), "KWG,KWI,MWG,NWG,PACK,USE_LOCAL,VW");
  EXPECT_EQ(gemm_params_not_set("MWI=4,MWI=4"), "");
}

TEST(OpenclTuningDbParse, ShippedDatabaseParses) {
  TuningDb db;
  std::string error;
  EXPECT_TRUE(db.parse(shipped_tuning_db_text(), &error)) << error;
}

// Dispatch with XINHE_TUNING_DB pointing at various files.
class OpenclTuningDbDispatch : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("XINHE_TUNING_DB");
    if (!path_.empty()) std::remove(path_.c_str());
  }
  void write_db(const std::string& text) {
    char tmpl[] = "/tmp/xinhe-tuning-db-test-XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  // Creates a session with the current environment and a GEMM op (an f32 attention op with
  // attention = true); returns the dispatch logs.
  std::vector<std::string> dispatch_logs(bool* available, bool attention = false) {
    TestHost::get().clear_logs();
    Session s;
    *available = s.available();
    if (!s.available()) return {};
    device_name_ = s.device()->info.name;
    driver_ = s.device()->info.driver_version;
    std::unique_ptr<Op> op;
    if (attention) {
      AttentionCase a;
      a.seq_q = 5;
      a.seq_kv = 7;
      a.head_dim = 16;
      Status st(create_attention_op(s.device(), a.desc(), OpOverrides{}, &op));
      EXPECT_TRUE(st.ok()) << st.message();
      return TestHost::get().logs();
    }
    GemmCase g;
    g.m = 9;
    g.n = 10;
    g.k = 11;
    const xinhe_gemm_desc_t d = g.desc();
    Status st(create_gemm_op(s.device(), d, OpOverrides{}, &op));
    EXPECT_TRUE(st.ok()) << st.message();
    return TestHost::get().logs();
  }
  static bool contains(const std::vector<std::string>& lines, const std::string& needle) {
    for (const std::string& l : lines)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
  std::string path_, device_name_, driver_;
};

TEST_F(OpenclTuningDbDispatch, MissingFileMeansDefaults) {
  setenv("XINHE_TUNING_DB", "/nonexistent/xinhe/tuning.txt", 1);
  bool available = false;
  const auto logs = dispatch_logs(&available);
  if (!available) GTEST_SKIP() << "no OpenCL";
  EXPECT_TRUE(contains(logs, "tuning database unusable")) << "missing file not reported";
  EXPECT_TRUE(contains(logs, "from defaults"));
}

TEST_F(OpenclTuningDbDispatch, MalformedFileMeansDefaults) {
  write_db("xinhe-tuning-db 1\nthis line is not an entry\n");
  setenv("XINHE_TUNING_DB", path_.c_str(), 1);
  bool available = false;
  const auto logs = dispatch_logs(&available);
  if (!available) GTEST_SKIP() << "no OpenCL";
  EXPECT_TRUE(contains(logs, "tuning database unusable"));
  EXPECT_TRUE(contains(logs, "from defaults"));
}

TEST_F(OpenclTuningDbDispatch, ValidEntryIsUsed) {
  bool available = false;
  dispatch_logs(&available);  // learn the device name and driver
  if (!available) GTEST_SKIP() << "no OpenCL";
  write_db("xinhe-tuning-db 1\n" + device_name_ + "|" + driver_ +
           "|f32|gemm|MWI=2,NWI=4,VW=4,KWI=1,MWG=2,NWG=8,KWG=16,USE_LOCAL=0,PACK=0\n");
  setenv("XINHE_TUNING_DB", path_.c_str(), 1);
  const auto logs = dispatch_logs(&available);
  EXPECT_TRUE(contains(logs,
                       "MWI=2,NWI=4,VW=4,KWI=1,MWG=2,NWG=8,KWG=16,USE_LOCAL=0,PACK=0 from "
                       "tuning database"));
}

TEST_F(OpenclTuningDbDispatch, InconsistentEntryFallsBackToDefaults) {
  bool available = false;
  dispatch_logs(&available);
  if (!available) GTEST_SKIP() << "no OpenCL";
  write_db("xinhe-tuning-db 1\n" + device_name_ + "|*|f32|gemm|NWI=6,VW=4\n");  // 6 % 4 != 0
  setenv("XINHE_TUNING_DB", path_.c_str(), 1);
  const auto logs = dispatch_logs(&available);
  EXPECT_TRUE(contains(logs, "unusable (NWI % VW != 0)"));
  // The other keys were completed from defaults: the reason says so.
  EXPECT_TRUE(contains(logs, "taken from defaults: KWG,KWI,MWG,MWI,NWG,PACK,USE_LOCAL"));
  EXPECT_TRUE(contains(logs, "from defaults"));
}

TEST_F(OpenclTuningDbDispatch, DuplicateEntryIsLogged) {
  bool available = false;
  dispatch_logs(&available);
  if (!available) GTEST_SKIP() << "no OpenCL";
  const std::string entry = device_name_ + "|" + driver_ + "|f32|gemm|";
  write_db("xinhe-tuning-db 1\n" + entry +
           "MWI=2,NWI=4,VW=4,KWI=1,MWG=2,NWG=8,KWG=16,USE_LOCAL=0,PACK=0\n" + entry +
           "MWI=4,NWI=4,VW=4,KWI=1,MWG=4,NWG=8,KWG=16,USE_LOCAL=0,PACK=0\n");
  setenv("XINHE_TUNING_DB", path_.c_str(), 1);
  const auto logs = dispatch_logs(&available);
  EXPECT_TRUE(contains(logs, "line 3 replaces line 2"));
  EXPECT_TRUE(contains(logs,
                       "MWI=4,NWI=4,VW=4,KWI=1,MWG=4,NWG=8,KWG=16,USE_LOCAL=0,PACK=0 from "
                       "tuning database"));
}

// Attention entries get the same treatment as GEMM ones: a repeated entry is logged (the later
// one is used), and an unusable partial entry names the keys that came from defaults.
TEST_F(OpenclTuningDbDispatch, DuplicateAttentionEntryIsLogged) {
  bool available = false;
  dispatch_logs(&available, true);
  if (!available) GTEST_SKIP() << "no OpenCL";
  const std::string entry = device_name_ + "|" + driver_ + "|f32|attention|";
  write_db("xinhe-tuning-db 1\n" + entry + "QWI=1,BKV=8,WG=4,DV=4\n" + entry +
           "QWI=2,BKV=16,WG=4,DV=4\n");
  setenv("XINHE_TUNING_DB", path_.c_str(), 1);
  const auto logs = dispatch_logs(&available, true);
  EXPECT_TRUE(contains(logs, "line 3 replaces line 2"));
  EXPECT_TRUE(contains(logs, "QWI=2,BKV=16,WG=4,DV=4 from tuning database"));
}

TEST_F(OpenclTuningDbDispatch, UnusableAttentionEntryNamesDefaultedKeys) {
  bool available = false;
  dispatch_logs(&available, true);
  if (!available) GTEST_SKIP() << "no OpenCL";
  write_db("xinhe-tuning-db 1\n" + device_name_ + "|*|f32|attention|WG=3\n");  // not a power of 2
  setenv("XINHE_TUNING_DB", path_.c_str(), 1);
  const auto logs = dispatch_logs(&available, true);
  EXPECT_TRUE(contains(logs, "unusable (WG not a power of two)"));
  EXPECT_TRUE(contains(logs, "taken from defaults: BKV,DV,QWI"));
  EXPECT_TRUE(contains(logs, "from defaults"));
}

}  // namespace
}  // namespace xinhe::opencl::testing
