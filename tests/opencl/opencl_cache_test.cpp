// The on-disk kernel cache across processes: a second process loads the program instead of
// building it; truncated, bit-flipped or foreign entries are detected and rebuilt (and
// overwritten); two processes building the same program at once both succeed and leave one
// valid entry; an unwritable folder degrades to the in-memory cache with a log line. Each
// case runs xinhe_opencl_cache_probe with a fresh XINHE_CACHE_DIR.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct ProbeRun {
  int exit_code = -1;
  std::string output;
  long builds = -1, disk_hits = -1, rejected = -1, writes = -1, memory_hits = -1;
};

ProbeRun run_probe(const std::string& cache_dir) {
  ProbeRun run;
  const std::string cmd = "XINHE_CACHE_DIR='" + cache_dir + "' '" XINHE_OPENCL_CACHE_PROBE "' 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), pipe)) run.output += buf;
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const size_t pos = run.output.find("cache builds=");
  if (pos != std::string::npos)
    std::sscanf(run.output.c_str() + pos,
                "cache builds=%ld disk_hits=%ld rejected=%ld writes=%ld memory_hits=%ld",
                &run.builds, &run.disk_hits, &run.rejected, &run.writes, &run.memory_hits);
  return run;
}

std::string contents_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class OpenclCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xinhe-opencl-cache-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/cache";  // not created yet: the cache must create it
    const ProbeRun probe = run_probe(dir_);
    if (probe.exit_code == 77) GTEST_SKIP() << "no OpenCL: " << probe.output;
    ASSERT_EQ(probe.exit_code, 0) << probe.output;
    first_ = probe;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path());
    return out;
  }
  std::string root_, dir_;
  ProbeRun first_;
};

TEST_F(OpenclCacheTest, SecondProcessUsesTheDiskCache) {
  EXPECT_EQ(first_.builds, 1) << first_.output;
  EXPECT_EQ(first_.disk_hits, 0) << first_.output;
  EXPECT_EQ(first_.writes, 1) << first_.output;
  EXPECT_EQ(first_.memory_hits, 1) << "second op in the same process " << first_.output;
  ASSERT_EQ(entries().size(), 1u);
  const ProbeRun second = run_probe(dir_);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.builds, 0) << second.output;
  EXPECT_EQ(second.disk_hits, 1) << second.output;
  EXPECT_NE(second.output.find("disk hit"), std::string::npos) << second.output;
}

TEST_F(OpenclCacheTest, CorruptedEntriesAreRebuiltAndOverwritten) {
  ASSERT_EQ(entries().size(), 1u);
  const fs::path entry = entries()[0];
  struct Corruption {
    const char* name;
    void (*apply)(const fs::path&, uintmax_t);
  };
  const Corruption corruptions[] = {
      {"truncated payload", [](const fs::path& p, uintmax_t n) { fs::resize_file(p, n / 2); }},
      {"truncated header", [](const fs::path& p, uintmax_t) { fs::resize_file(p, 10); }},
      {"empty file", [](const fs::path& p, uintmax_t) { fs::resize_file(p, 0); }},
      {"payload byte flipped",
       [](const fs::path& p, uintmax_t n) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekg(static_cast<std::streamoff>(n - 7));
         char c = 0;
         f.read(&c, 1);
         c = static_cast<char>(c ^ 0x5a);
         f.seekp(static_cast<std::streamoff>(n - 7));
         f.write(&c, 1);
       }},
      {"magic overwritten",
       [](const fs::path& p, uintmax_t) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.write("garbage!", 8);
       }},
      {"trailing bytes",
       [](const fs::path& p, uintmax_t) {
         std::ofstream f(p, std::ios::binary | std::ios::app);
         f << "extra";
       }},
  };
  for (const Corruption& c : corruptions) {
    c.apply(entry, fs::file_size(entry));
    const std::string corrupted = contents_of(entry);
    const ProbeRun rebuilt = run_probe(dir_);
    ASSERT_EQ(rebuilt.exit_code, 0) << c.name << ": " << rebuilt.output;
    EXPECT_EQ(rebuilt.rejected, 1) << c.name << ": " << rebuilt.output;
    EXPECT_EQ(rebuilt.builds, 1) << c.name << ": " << rebuilt.output;
    EXPECT_EQ(rebuilt.writes, 1) << c.name << ": " << rebuilt.output;
    // Rewritten through a temp file + rename. (Its size may differ from the first build:
    // PoCL's binary can carry more once its own cache is warm.)
    EXPECT_NE(contents_of(entry), corrupted) << c.name << ": entry not overwritten";
    const ProbeRun again = run_probe(dir_);  // the overwritten entry is good again
    ASSERT_EQ(again.exit_code, 0) << again.output;
    EXPECT_EQ(again.disk_hits, 1) << c.name << ": " << again.output;
    EXPECT_EQ(again.builds, 0) << c.name << ": " << again.output;
  }
}

TEST_F(OpenclCacheTest, TwoProcessesBuildingAtOnceBothSucceed) {
  const std::string fresh = root_ + "/concurrent";
  auto a = std::async(std::launch::async, [&] { return run_probe(fresh); });
  auto b = std::async(std::launch::async, [&] { return run_probe(fresh); });
  const ProbeRun ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.exit_code, 0) << ra.output;
  EXPECT_EQ(rb.exit_code, 0) << rb.output;
  size_t bins = 0, temps = 0;
  for (const auto& e : fs::directory_iterator(fresh)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos)
      ++temps;
    else if (e.path().extension() == ".bin")
      ++bins;
  }
  EXPECT_EQ(bins, 1u);
  EXPECT_EQ(temps, 0u) << "temporary files left behind";
  const ProbeRun after = run_probe(fresh);
  ASSERT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(after.disk_hits, 1) << after.output;
}

// A folder holding something, in an entry's place, is left alone (not claimed, renamed or
// removed): that entry is rebuilt and not stored, and the disk layer stays on for the rest.
// (An empty one is removed: HostileCache.DirectoryAndDevZeroEntriesAreRejected.)
TEST_F(OpenclCacheTest, AFolderAtAnEntryPathIsLeftAloneAndSkipped) {
  const std::vector<fs::path> files = entries();
  ASSERT_EQ(files.size(), 1u);
  fs::remove(files[0]);
  fs::create_directories(files[0] / "user data");
  const ProbeRun run = run_probe(dir_);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.builds, 1) << run.output;
  EXPECT_EQ(run.rejected, 1) << run.output;
  EXPECT_EQ(run.writes, 0) << run.output;
  EXPECT_NE(run.output.find("is a directory"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("disk layer kept"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("memory only"), std::string::npos) << run.output;
  EXPECT_TRUE(fs::is_directory(files[0] / "user data"));
  EXPECT_EQ(entries().size(), 1u) << "nothing renamed aside or left behind";
}

TEST_F(OpenclCacheTest, UnwritableFolderFallsBackToMemory) {
  const ProbeRun run = run_probe("/proc/xinhe-cache-cannot-exist");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.builds, 1) << run.output;
  EXPECT_EQ(run.writes, 0) << run.output;
  EXPECT_EQ(run.memory_hits, 1) << run.output;
  EXPECT_NE(run.output.find("memory only"), std::string::npos) << run.output;
}

}  // namespace
