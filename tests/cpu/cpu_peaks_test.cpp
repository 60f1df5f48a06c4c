// The CPU device's measured peaks (backends/cpu/cpu_peaks): the cache file format and its
// refusal of malformed or implausible files (a cache is never trusted blindly), the off switch,
// and one real measurement into a fresh cache folder.
#include "cpu_peaks.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "cpu_features.h"

namespace xinhe::backends::cpu {
namespace {

TEST(CpuPeaks, FormatRoundTrips) {
  CpuPeaks p;
  p.flops[XINHE_DTYPE_F32] = 1.25e11;
  p.flops[XINHE_DTYPE_F16] = 1.25e11;
  p.flops[XINHE_DTYPE_BF16] = 2.5e11;
  p.bandwidth = 3.5e10;
  CpuPeaks back;
  ASSERT_TRUE(parse_cpu_peaks(format_cpu_peaks(p), &back));
  for (int d = 0; d < XINHE_DTYPE_COUNT; ++d) EXPECT_EQ(back.flops[d], p.flops[d]) << d;
  EXPECT_EQ(back.bandwidth, p.bandwidth);
}

TEST(CpuPeaks, RefusesMalformedOrImplausibleFiles) {
  const char* bad[] = {
      "",
      "xinhe-cpu-peaks 2\nf32 1e11\nf16 1e11\nbf16 1e11\nbandwidth 1e10\n",         // other version
      "xinhe-cpu-peaks 1\nf32 1e11\nf16 1e11\nbf16 1e11\n",                         // missing field
      "xinhe-cpu-peaks 1\nf32 nan\nf16 1e11\nbf16 1e11\nbandwidth 1e10\n",          // NaN
      "xinhe-cpu-peaks 1\nf32 -1\nf16 1e11\nbf16 1e11\nbandwidth 1e10\n",           // negative
      "xinhe-cpu-peaks 1\nf32 1e300\nf16 1e11\nbf16 1e11\nbandwidth 1e10\n",        // absurd
      "xinhe-cpu-peaks 1\nf32 0\nf16 1e11\nbf16 1e11\nbandwidth 1e10\n",            // no f32 peak
      "xinhe-cpu-peaks 1\nf32 1e11\nf16 1e11\nbf16 1e11\nbandwidth 1e10\nfp8 1\n",  // unknown key
      "xinhe-cpu-peaks 1\nf32 1e11\nf16 1e11\nbf16 1e11\nbandwidth\n",              // truncated
      "garbage 1\nf32 1e11\nf16 1e11\nbf16 1e11\nbandwidth 1e10\n",
  };
  for (const char* text : bad) {
    CpuPeaks out;
    EXPECT_FALSE(parse_cpu_peaks(text, &out)) << text;
  }
}

TEST(CpuPeaks, OffSwitchReportsUnknown) {
  setenv("XINHE_CPU_PROBE", "0", 1);
  const CpuPeaks& p = cpu_peaks(97);  // a thread count nothing else asks for
  unsetenv("XINHE_CPU_PROBE");
  for (double f : p.flops) EXPECT_EQ(f, 0.0);
  EXPECT_EQ(p.bandwidth, 0.0);
  EXPECT_NE(p.source.find("XINHE_CPU_PROBE=0"), std::string::npos) << p.source;
}

// XINHE_CPU_PROBE=no ran the probes: an invalid value never probes (the backend also refuses
// to start with it; this is the peaks module's own guard).
TEST(CpuPeaks, InvalidSwitchValueNeverProbes) {
  setenv("XINHE_CPU_PROBE", "no", 1);
  const CpuPeaks& p = cpu_peaks(98);  // a thread count nothing else asks for
  unsetenv("XINHE_CPU_PROBE");
  for (double f : p.flops) EXPECT_EQ(f, 0.0);
  EXPECT_EQ(p.bandwidth, 0.0);
  EXPECT_NE(p.source.find("XINHE_CPU_PROBE='no'"), std::string::npos) << p.source;
}

TEST(CpuPeaks, MeasuresOnceIntoTheCache) {
  if (kernels::cpu_feature_unavailable(kernels::CpuFeature::kAvx2) != nullptr) {
    GTEST_SKIP() << "no probe for this CPU: "
                 << kernels::cpu_feature_unavailable(kernels::CpuFeature::kAvx2);
  }
  char dir[] = "/tmp/xinhe-cpu-peaks-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  setenv("XINHE_CACHE_DIR", dir, 1);
  const CpuPeaks& p = cpu_peaks(1);
  unsetenv("XINHE_CACHE_DIR");
  EXPECT_EQ(p.source, "measured");
  EXPECT_GT(p.flops[XINHE_DTYPE_F32], 1e9);
  EXPECT_GE(p.flops[XINHE_DTYPE_BF16], p.flops[XINHE_DTYPE_F32]);
  EXPECT_GE(p.flops[XINHE_DTYPE_F16], p.flops[XINHE_DTYPE_F32]);
  EXPECT_EQ(p.flops[XINHE_DTYPE_F64], 0.0);
  EXPECT_GT(p.bandwidth, 1e8);
  if (kernels::cpu_has(kernels::CpuFeature::kAvx512Bf16)) {
    // vdpbf16ps does two products per lane: about twice the f32 FMA wherever it is real, and
    // at most its speed if the probe fell back to f32 arithmetic. Only 1.2x is required: the two
    // probes run one after the other, and on a loaded 2-core machine (ctest -j2 under ASan) one
    // of them can lose a share of its core the other did not (seen: 1.4x).
    EXPECT_GT(p.flops[XINHE_DTYPE_BF16], 1.2 * p.flops[XINHE_DTYPE_F32]);
  }
  // The same figures are in the cache folder, in a file the parser accepts.
  std::string cached;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name).rfind("cpu-peaks-", 0) == 0)
        cached = std::string(dir) + "/" + e->d_name;
    }
    closedir(d);
  }
  ASSERT_FALSE(cached.empty()) << "no cpu-peaks-*.txt in " << dir;
  std::string text;
  {
    std::ifstream in(cached);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  CpuPeaks back;
  ASSERT_TRUE(parse_cpu_peaks(text, &back)) << text;
  EXPECT_EQ(back.flops[XINHE_DTYPE_BF16], p.flops[XINHE_DTYPE_BF16]);
  std::remove(cached.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace xinhe::backends::cpu
