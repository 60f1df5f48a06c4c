// Tests of the Level Zero backend's own behaviour, driving its plugin table directly (no
// libxinhe) through Debian's real loader and the CPU test driver: the reasons it gives when the
// loader or a driver is missing or an environment variable is wrong, device properties, the
// module cache (memory, disk, corrupt entries, an unwritable folder), build flags reaching
// zeModuleCreate with the build log in the error, kernel timestamps that wrap, and that every
// embedded SPIR-V variant is the one the op layer asks for; with the test driver's hooks
// (cpu_driver/cpu_driver_hooks.h): event slots that come back, batches that recover from a
// failed submission, allocation and group-count limits, and a stream that waits for its queued
// marker before destroying its list. Each test runs in its own process
// (gtest_discover_tests): the loader initializes once per process, and some tests change the
// environment before it does.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache_claim.h"  // runtime/util
#include "cpu_driver/cpu_driver_hooks.h"
#include "level_zero_internal.h"
#include "module_cache.h"
#include "recording_host.h"
#include "spirv_variants.h"

namespace {

namespace fs = std::filesystem;
namespace lz = xinhe::level_zero;

// The recording test host of tests/support: statuses and log lines recorded.
using TestHost = xinhe::test::RecordingHost;

// Takes a status back from the host: its code and "<call>: <message>".
struct Taken {
  xinhe_status_code_t code = XINHE_STATUS_OK;
  std::string message;
};
Taken take(xinhe_status_t st) {
  const xinhe::test::TakenStatus status = TestHost::get().take(st);
  Taken t;
  t.code = status.code;
  if (!status.ok()) t.message = status.call + ": " + status.message;
  return t;
}

#define ASSERT_OK(expr)                                        \
  do {                                                         \
    const Taken taken_ = take(expr);                           \
    ASSERT_EQ(taken_.code, XINHE_STATUS_OK) << taken_.message; \
  } while (0)

const xinhe_backend_api_t* api() { return lz::backend_api(); }

// Backend and device 0, closed in reverse order.
class Session {
 public:
  Taken open() {
    Taken t = take(api()->backend_create(TestHost::get().api(), &backend_));
    if (t.code != XINHE_STATUS_OK) return t;
    return take(api()->device_open(backend_, 0, &device_));
  }
  ~Session() {
    if (device_) api()->device_close(device_);
    if (backend_) api()->backend_destroy(backend_);
  }
  xinhe_be_device_t device() const { return device_; }
  lz::Device* internal() const { return lz::to_device(device_); }

 private:
  xinhe_be_backend_t backend_ = nullptr;
  xinhe_be_device_t device_ = nullptr;
};

xinhe_gemm_desc_t gemm_desc(xinhe_dtype_t ab, xinhe_dtype_t c, bool ta, bool tb, int64_t m,
                            int64_t n, int64_t k) {
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.ab_dtype = ab;
  d.c_dtype = c;
  d.trans_a = ta;
  d.trans_b = tb;
  d.m = m;
  d.n = n;
  d.k = k;
  d.batch = 1;
  d.lda = ta ? m : k;
  d.ldb = tb ? k : n;
  d.ldc = n;
  return d;
}

// Dense [B, H, S, D] strides (libxinhe's xinhe_attention_strides_bhsd; this test does not link
// libxinhe).
void strides_bhsd(int64_t heads, int64_t seq, int64_t dim, int64_t out[4]) {
  out[3] = 1;
  out[2] = dim;
  out[1] = seq * dim;
  out[0] = heads * seq * dim;
}

xinhe_attention_desc_t attention_desc(xinhe_dtype_t dt, int64_t head_dim, bool causal, bool lse) {
  xinhe_attention_desc_t d{};
  d.struct_size = sizeof(d);
  d.dtype = dt;
  d.batch = 1;
  d.heads_q = 2;
  d.heads_kv = 1;
  d.seq_q = 4;
  d.seq_kv = 8;
  d.head_dim = head_dim;
  d.mask = causal ? XINHE_ATTENTION_MASK_CAUSAL : XINHE_ATTENTION_MASK_NONE;
  d.with_lse = lse;
  d.scale = 0.125f;
  strides_bhsd(d.heads_q, d.seq_q, head_dim, d.q_strides);
  strides_bhsd(d.heads_kv, d.seq_kv, head_dim, d.k_strides);
  strides_bhsd(d.heads_kv, d.seq_kv, head_dim, d.v_strides);
  strides_bhsd(d.heads_q, d.seq_q, head_dim, d.o_strides);
  d.lse_strides[2] = 1;
  d.lse_strides[1] = d.seq_q;
  d.lse_strides[0] = d.heads_q * d.seq_q;
  return d;
}

// Creates the op and returns its implementation name ("" and the reason on failure).
std::string impl_of(const Session& s, const xinhe_be_op_desc_t& desc, std::string* why = nullptr) {
  xinhe_be_op_t op = nullptr;
  const Taken created = take(api()->op_create(s.device(), &desc, &op));
  if (created.code != XINHE_STATUS_OK) {
    if (why) *why = created.message;
    return "";
  }
  const Taken checked = take(api()->op_check(op));
  std::string name = checked.code == XINHE_STATUS_OK ? api()->op_impl_name(op) : "";
  if (why) *why = checked.message;
  api()->op_destroy(op);
  return name;
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/xinhe-level-zero-test-XXXXXX";
  return mkdtemp(tmpl) ? tmpl : "";
}

TEST(LevelZeroBackend, MissingLoaderIsNamedInTheReason) {
  lz::ZeApi ze;
  std::string reason;
  EXPECT_FALSE(lz::ze_api_load("libze_loader_missing.so.1", &ze, &reason));
  EXPECT_NE(reason.find("libze_loader_missing.so.1 not found"), std::string::npos) << reason;
  EXPECT_EQ(ze.zeInit, nullptr);
}

TEST(LevelZeroBackend, NoDriverIsUnavailableWithAReason) {
  setenv("ZE_ENABLE_ALT_DRIVERS", "/nonexistent/libze_no_such_driver.so", 1);
  Session s;
  const Taken t = s.open();
  EXPECT_EQ(t.code, XINHE_STATUS_UNAVAILABLE) << t.message;
  EXPECT_NE(t.message.find("no Level Zero driver"), std::string::npos) << t.message;
}

TEST(LevelZeroBackend, UnknownEnvironmentValuesAreRejected) {
  setenv("XINHE_LEVEL_ZERO_COMMAND_LISTS", "batched", 1);
  Taken t = Session().open();
  EXPECT_EQ(t.code, XINHE_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(t.message.find("XINHE_LEVEL_ZERO_COMMAND_LISTS='batched'"), std::string::npos)
      << t.message;
  unsetenv("XINHE_LEVEL_ZERO_COMMAND_LISTS");
  setenv("XINHE_LEVEL_ZERO_MEMORY", "pinned", 1);
  t = Session().open();
  EXPECT_EQ(t.code, XINHE_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(t.message.find("XINHE_LEVEL_ZERO_MEMORY='pinned'"), std::string::npos) << t.message;
}

TEST(LevelZeroBackend, PropertiesComeFromTheDriver) {
  Session s;
  const Taken opened = s.open();
  ASSERT_EQ(opened.code, XINHE_STATUS_OK) << opened.message;
  xinhe_device_properties_t p{};
  p.struct_size = sizeof(p);
  ASSERT_OK(api()->device_properties(s.device(), &p));
  const lz::DeviceInfo& info = s.internal()->info;
  EXPECT_NE(std::string(p.description).find("xinhe CPU test driver"), std::string::npos);
  EXPECT_EQ(p.compute_units, info.eu_count);
  EXPECT_GT(info.eu_count, 0u);
  EXPECT_GT(info.clock_mhz, 0u);
  EXPECT_GT(p.total_memory, 0u);
  EXPECT_TRUE(p.flags & XINHE_DEVICE_FLAG_TIMING);
  EXPECT_TRUE(p.flags & XINHE_DEVICE_FLAG_HOST_MEMORY);  // the test driver is a CPU
  EXPECT_FALSE(info.fp16);                               // PoCL's CPU device: no cl_khr_fp16
  // The 1.2 property layout: 100 MHz ticks, 32 valid kernel-timestamp bits.
  EXPECT_DOUBLE_EQ(info.timer_ns_per_tick, 10.0);
  EXPECT_EQ(info.kernel_timestamp_bits, 32u);
}

// Host and shared allocations are host addresses (xinhe_buffer_host_pointer); device ones are
// not, and say how to get host-addressable buffers.
TEST(LevelZeroBackend, HostPointerOnlyForHostAddressableMemory) {
  for (const char* kind : {"device", "host", "shared"}) {
    setenv("XINHE_LEVEL_ZERO_MEMORY", kind, 1);
    Session s;
    ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
    xinhe_be_buffer_t buffer = nullptr;
    ASSERT_OK(api()->buffer_alloc(s.device(), 4096, 64, &buffer));
    void* pointer = nullptr;
    const Taken t = take(api()->buffer_host_pointer(buffer, &pointer));
    if (std::string(kind) == "device") {
      EXPECT_EQ(t.code, XINHE_STATUS_UNIMPLEMENTED);
      EXPECT_NE(t.message.find("XINHE_LEVEL_ZERO_MEMORY"), std::string::npos) << t.message;
    } else {
      EXPECT_EQ(t.code, XINHE_STATUS_OK) << kind << ": " << t.message;
      EXPECT_EQ(pointer, lz::buffer_pointer(buffer));
    }
    api()->buffer_free(buffer);
  }
}

// Every embedded variant is reachable, and the ops ask for exactly those: the tiled GEMM for
// every dtype pair and transpose, flash attention for every head_dim of the set.
TEST(LevelZeroBackend, OpsSelectTheEmbeddedVariants) {
  size_t count = 0;
  const lz::SpirvProgram* programs = lz::spirv_programs(&count);
  const std::vector<lz::SpirvVariant> variants = lz::level_zero_spirv_variants();
  ASSERT_EQ(count, variants.size());
  for (size_t i = 0; i < count; ++i) {
    EXPECT_EQ(lz::find_spirv_program(programs[i].program, programs[i].options), &programs[i]);
    EXPECT_GT(*programs[i].size, 20u);
  }
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  const std::pair<xinhe_dtype_t, xinhe_dtype_t> pairs[] = {{XINHE_DTYPE_F32, XINHE_DTYPE_F32},
                                                           {XINHE_DTYPE_F16, XINHE_DTYPE_F16},
                                                           {XINHE_DTYPE_F16, XINHE_DTYPE_F32},
                                                           {XINHE_DTYPE_BF16, XINHE_DTYPE_BF16},
                                                           {XINHE_DTYPE_BF16, XINHE_DTYPE_F32}};
  for (const auto& [ab, c] : pairs) {
    for (int t = 0; t < 4; ++t) {
      const xinhe_gemm_desc_t g = gemm_desc(ab, c, t & 2, t & 1, 8, 8, 8);
      xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
      EXPECT_NE(impl_of(s, desc).find("level_zero.gemm.tiled_"), std::string::npos)
          << "dtypes " << ab << "/" << c << " transposes " << t;
    }
  }
  for (xinhe_dtype_t dt : {XINHE_DTYPE_F32, XINHE_DTYPE_F16, XINHE_DTYPE_BF16}) {
    for (int64_t dim : {64, 128, 80}) {
      const xinhe_attention_desc_t a = attention_desc(dt, dim, dim == 64, dim != 128);
      xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_ATTENTION, nullptr, &a};
      const char* want =
          dim == 80 ? "level_zero.attention.reference_" : "level_zero.attention.flash_";
      EXPECT_NE(impl_of(s, desc).find(want), std::string::npos) << "head_dim " << dim;
    }
  }
}

// The module cache: a second device (same process, empty memory layer) loads the native
// binary the first stored; a corrupt entry is rejected, rebuilt and rewritten.
TEST(LevelZeroBackend, ModuleCacheStoresLoadsAndRejectsCorruptEntries) {
  const std::string dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  setenv("XINHE_CACHE_DIR", (dir + "/cache").c_str(), 1);  // created by the cache
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 8, 8, 8);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  const auto run = [&](lz::ModuleCacheStats* stats) {
    Session s;
    ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
    ASSERT_FALSE(impl_of(s, desc).empty());
    ASSERT_FALSE(impl_of(s, desc).empty());  // second op: memory hit
    *stats = s.internal()->modules->stats();
  };
  lz::ModuleCacheStats first, second, third;
  run(&first);
  EXPECT_EQ(first.builds, 1u);
  EXPECT_EQ(first.disk_writes, 1u);
  EXPECT_EQ(first.memory_hits, 1u);
  run(&second);
  EXPECT_EQ(second.builds, 0u);
  EXPECT_EQ(second.disk_hits, 1u);
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir + "/cache")) entries.push_back(e.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].filename().string().rfind("level_zero-", 0), 0u);
  {  // flip one payload byte
    std::fstream f(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(100);
    f.write(&c, 1);
  }
  run(&third);
  EXPECT_EQ(third.disk_rejected, 1u);
  EXPECT_EQ(third.builds, 1u);
  EXPECT_EQ(third.disk_writes, 1u);
  EXPECT_TRUE(TestHost::get().logged("checksum mismatch"));
  {  // a nonzero reserved header field (bytes 12-15): a format this build does not know
    std::fstream f(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    const char one = 1;
    f.write(&one, 1);
  }
  lz::ModuleCacheStats fourth, fifth;
  run(&fourth);
  EXPECT_EQ(fourth.disk_rejected, 1u);
  EXPECT_EQ(fourth.builds, 1u);
  EXPECT_TRUE(TestHost::get().logged("reserved 1"));
  // A FIFO in the entry's place is refused unopened (reading it would block the process).
  fs::remove(entries[0]);
  ASSERT_EQ(mkfifo(entries[0].c_str(), 0600), 0);
  run(&fifth);
  EXPECT_EQ(fifth.disk_rejected, 1u);
  EXPECT_EQ(fifth.builds, 1u);
  EXPECT_TRUE(TestHost::get().logged("FIFO"));
  fs::remove_all(dir);
}

// Run by ModuleCacheQuarantinesAnEntryThatCrashesTheDriver in a child process: loads the f32
// GEMM module from the disk cache, with a driver that dies on native binaries.
TEST(LevelZeroBackend, DISABLED_ChildLoadsTheCachedModule) {
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 8, 8, 8);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  ASSERT_FALSE(impl_of(s, desc).empty());
}

// A cached binary that kills the driver loading it is quarantined: the entry was claimed
// (renamed aside) before the driver saw it, so the next process misses, rebuilds from SPIR-V
// and stores a fresh entry instead of crashing too. The dead process's claim is deleted once it
// is older than util::kStaleClaimSeconds, when that entry is stored again.
TEST(LevelZeroBackend, ModuleCacheQuarantinesAnEntryThatCrashesTheDriver) {
  const std::string dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  setenv("XINHE_CACHE_DIR", (dir + "/cache").c_str(), 1);
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 8, 8, 8);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  const auto run = [&](lz::ModuleCacheStats* stats) {
    Session s;
    ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
    ASSERT_FALSE(impl_of(s, desc).empty());
    *stats = s.internal()->modules->stats();
  };
  const auto files = [&](const char* part) {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir + "/cache")) {
      if (e.path().filename().string().find(part) != std::string::npos) found.push_back(e.path());
    }
    return found;
  };
  lz::ModuleCacheStats first{}, second{}, third{};
  run(&first);
  ASSERT_EQ(first.disk_writes, 1u);

  // Set here, not in the child: a child of this multithreaded process may only exec.
  setenv("XINHE_ZE_CPU_CRASH_ON_NATIVE_MODULE", "1", 1);
  const pid_t child = fork();
  if (child == 0) {
    execl("/proc/self/exe", "child", "--gtest_also_run_disabled_tests",
          "--gtest_filter=LevelZeroBackend.DISABLED_ChildLoadsTheCachedModule", nullptr);
    _exit(127);
  }
  unsetenv("XINHE_ZE_CPU_CRASH_ON_NATIVE_MODULE");
  ASSERT_NE(child, -1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child did not die in the driver: status " << status;
  const std::string claim_tag = ".claimed." + std::to_string(child) + ".";
  EXPECT_EQ(files(".bin").size(), 1u);  // the claim only: no entry under the key's own name
  ASSERT_EQ(files(claim_tag.c_str()).size(), 1u);
  EXPECT_TRUE(files(".tmp.").empty());

  run(&second);  // misses, rebuilds, stores; the fresh claim stays
  EXPECT_EQ(second.disk_hits, 0u);
  EXPECT_EQ(second.disk_rejected, 0u);
  EXPECT_EQ(second.builds, 1u);
  EXPECT_EQ(second.disk_writes, 1u);
  ASSERT_EQ(files(claim_tag.c_str()).size(), 1u);
  EXPECT_EQ(files(".bin").size(), 2u);

  // Age the claim past the limit; the next store of the key deletes it.
  const fs::path claim = files(claim_tag.c_str())[0];
  const timespec old_times[2] = {{0, UTIME_OMIT},
                                 {time(nullptr) - xinhe::util::kStaleClaimSeconds - 5, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, claim.c_str(), old_times, 0), 0);
  for (const fs::path& entry : files(".bin")) {
    if (entry != claim) fs::remove(entry);
  }
  run(&third);
  EXPECT_EQ(third.builds, 1u);
  EXPECT_EQ(third.disk_writes, 1u);
  EXPECT_FALSE(fs::exists(claim));
  EXPECT_TRUE(TestHost::get().logged("stale claim"));
  EXPECT_EQ(files(".bin").size(), 1u);
  fs::remove_all(dir);
}

// A folder holding something, in one entry's place, is left alone and makes that entry
// unstorable; the disk layer stays on for the other modules (it used to turn off for the whole
// process, and so in every process).
TEST(LevelZeroBackend, AFolderAtOneEntryPathSkipsOnlyThatEntry) {
  const std::string dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  setenv("XINHE_CACHE_DIR", (dir + "/cache").c_str(), 1);
  const xinhe_gemm_desc_t g32 = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 8, 8, 8);
  const xinhe_gemm_desc_t g16 = gemm_desc(XINHE_DTYPE_F16, XINHE_DTYPE_F16, false, false, 8, 8, 8);
  const xinhe_be_op_desc_t d32{sizeof(d32), XINHE_OP_GEMM, &g32, nullptr};
  const xinhe_be_op_desc_t d16{sizeof(d16), XINHE_OP_GEMM, &g16, nullptr};
  {  // learn the f32 entry's name, then put a folder in its place
    Session s;
    ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
    ASSERT_FALSE(impl_of(s, d32).empty());
    ASSERT_EQ(s.internal()->modules->stats().disk_writes, 1u);
  }
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir + "/cache")) entries.push_back(e.path());
  ASSERT_EQ(entries.size(), 1u);
  fs::remove(entries[0]);
  fs::create_directories(entries[0] / "user data");  // not empty: left alone
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  ASSERT_FALSE(impl_of(s, d32).empty());  // rebuilt; its entry cannot be stored
  EXPECT_TRUE(TestHost::get().logged("disk layer kept"));
  EXPECT_FALSE(s.internal()->modules->disk_dir().empty());
  ASSERT_FALSE(impl_of(s, d16).empty());  // another module: still stored on disk
  const lz::ModuleCacheStats stats = s.internal()->modules->stats();
  EXPECT_EQ(stats.builds, 2u);
  EXPECT_EQ(stats.disk_writes, 1u);
  EXPECT_TRUE(fs::is_directory(entries[0]));
  fs::remove_all(dir);
}

TEST(LevelZeroBackend, UnwritableCacheFolderFallsBackToMemory) {
  // A path under a regular file cannot be created, whoever runs the test (root included).
  const std::string dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  std::ofstream(dir + "/file") << "not a folder";
  setenv("XINHE_CACHE_DIR", (dir + "/file/cache").c_str(), 1);
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  EXPECT_TRUE(s.internal()->modules->disk_dir().empty());
  EXPECT_TRUE(TestHost::get().logged("cannot be created or written"));
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F16, XINHE_DTYPE_F32, true, false, 8, 8, 8);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  EXPECT_FALSE(impl_of(s, desc).empty());  // still works, in memory
  EXPECT_EQ(s.internal()->modules->stats().builds, 1u);
  fs::remove_all(dir);
}

// XINHE_LEVEL_ZERO_BUILD_FLAGS reaches zeModuleCreate; a flag the driver rejects makes the op
// fail with the call, the flags and the driver's build log in the reason.
TEST(LevelZeroBackend, BuildFlagsReachTheDriverAndFailuresCarryTheLog) {
  setenv("XINHE_LEVEL_ZERO_BUILD_FLAGS", "-ze-opt-bogus", 1);
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, true, 8, 8, 8);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  std::string why;
  EXPECT_EQ(impl_of(s, desc, &why), "");
  EXPECT_NE(why.find("zeModuleCreate"), std::string::npos) << why;
  EXPECT_NE(why.find("-ze-opt-bogus"), std::string::npos) << why;
  EXPECT_NE(why.find("unknown build flag"), std::string::npos) << why;  // the driver's log
}

// A first implementation whose module does not build (its SPIR-V replaced by bytes the driver
// refuses, as a driver's compiler rejecting it would) does not fail op creation: the walk falls
// through to the reference, which then computes the right result, and zeModuleCreate's failure
// is the reason kept in the dispatch line. When nothing builds, check names every failure.
TEST(LevelZeroBackend, GemmWhoseModuleDoesNotBuildFallsThroughWithTheReason) {
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  lz::OpOverrides overrides;
  overrides.break_build = "tiled";
  const int64_t m = 5, n = 7, k = 3;
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, true, m, n, k);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  std::unique_ptr<lz::Op> op;
  ASSERT_OK(lz::create_op(s.internal(), desc, overrides, &op));
  ASSERT_OK(op->check());
  EXPECT_STREQ(op->impl_name(), "level_zero.gemm.reference_f32");
  EXPECT_TRUE(TestHost::get().logged(
      "-> level_zero.gemm.reference_f32; skipped level_zero.gemm.tiled_f32: zeModuleCreate failed: "
      "ZE_RESULT_ERROR_MODULE_BUILD_FAILURE"));
  EXPECT_TRUE(TestHost::get().logged("input is not SPIR-V"));  // the driver's build log

  // The fallen-through op runs: C = 1.5 A B^T - 0.5 C against a float64 reference.
  std::vector<float> a(m * k), b(n * k), c(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7 % 11) - 5) / 4.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 5 % 13) - 6) / 8.0f;
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(i % 9) - 4.0f;
  xinhe_be_stream_t stream = nullptr;
  ASSERT_OK(api()->stream_create(s.device(), &stream));
  xinhe_be_buffer_t buffers[3] = {};
  const std::vector<float>* host[3] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    const uint64_t bytes = host[i]->size() * sizeof(float);
    ASSERT_OK(api()->buffer_alloc(s.device(), bytes, 64, &buffers[i]));
    ASSERT_OK(
        api()->copy_host_to_device(stream, xinhe_be_mem_t{buffers[i], 0}, host[i]->data(), bytes));
  }
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.mem[XINHE_GEMM_ARG_A] = {buffers[0], 0};
  args.mem[XINHE_GEMM_ARG_B] = {buffers[1], 0};
  args.mem[XINHE_GEMM_ARG_C] = {buffers[2], 0};
  args.alpha = 1.5f;
  args.beta = -0.5f;
  ASSERT_OK(lz::run_op(*op, stream, args));
  std::vector<float> got(c.size(), std::nanf(""));
  ASSERT_OK(api()->copy_device_to_host(stream, got.data(), xinhe_be_mem_t{buffers[2], 0},
                                       got.size() * sizeof(float)));
  ASSERT_OK(api()->stream_synchronize(stream));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0.0;
      for (int64_t p = 0; p < k; ++p) dot += double{a[i * k + p]} * b[j * k + p];
      const double want = 1.5 * dot - 0.5 * c[i * n + j];
      EXPECT_NEAR(got[i * n + j], want, 1e-5 * (1.0 + std::fabs(want))) << i << "," << j;
    }
  }
  for (xinhe_be_buffer_t buffer : buffers) api()->buffer_free(buffer);
  api()->stream_destroy(stream);

  overrides.break_build = "_f32";  // nothing builds
  ASSERT_OK(lz::create_op(s.internal(), desc, overrides, &op));
  const Taken checked = take(op->check());
  EXPECT_EQ(checked.code, XINHE_STATUS_UNIMPLEMENTED);
  EXPECT_NE(checked.message.find("level_zero.gemm.tiled_f32: zeModuleCreate"), std::string::npos)
      << checked.message;
  EXPECT_NE(checked.message.find("level_zero.gemm.reference_f32: zeModuleCreate"),
            std::string::npos)
      << checked.message;
}

TEST(LevelZeroBackend, AttentionWhoseModuleDoesNotBuildFallsThroughToTheReference) {
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  lz::OpOverrides overrides;
  overrides.break_build = "flash";
  const xinhe_attention_desc_t a = attention_desc(XINHE_DTYPE_F16, 64, true, true);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_ATTENTION, nullptr, &a};
  EXPECT_EQ(impl_of(s, desc), "level_zero.attention.flash_f16");  // without the override
  std::unique_ptr<lz::Op> op;
  ASSERT_OK(lz::create_op(s.internal(), desc, overrides, &op));
  ASSERT_OK(op->check());
  EXPECT_STREQ(op->impl_name(), "level_zero.attention.reference_f16");
  EXPECT_TRUE(TestHost::get().logged(
      "-> level_zero.attention.reference_f16; skipped level_zero.attention.flash_f16: "
      "zeModuleCreate failed: ZE_RESULT_ERROR_MODULE_BUILD_FAILURE"));
}

// Kernel timestamps keep 32 bits: two events straddling the wrap still measure the time
// between them. The test driver is asked to wrap 1 s after zeInit; the first event is
// recorded well before that (checked on the host clock), the second well after.
TEST(LevelZeroBackend, ElapsedTimeSurvivesTimestampWrap) {
  using Clock = std::chrono::steady_clock;
  setenv("XINHE_ZE_CPU_TIMESTAMP_WRAP_MS", "1000", 1);
  const Clock::time_point before_init = Clock::now();
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  xinhe_be_stream_t stream = nullptr;
  ASSERT_OK(api()->stream_create(s.device(), &stream));
  xinhe_be_event_t e0 = nullptr, e1 = nullptr;
  ASSERT_OK(api()->event_create(s.device(), &e0));
  ASSERT_OK(api()->event_create(s.device(), &e1));
  ASSERT_OK(api()->event_record(e0, stream));
  ASSERT_OK(api()->stream_synchronize(stream));
  const auto first = std::chrono::duration<double, std::milli>(Clock::now() - before_init).count();
  ASSERT_LT(first, 900.0) << "the first event came too late to precede the wrap";
  std::this_thread::sleep_until(before_init + std::chrono::milliseconds(1500));
  ASSERT_OK(api()->event_record(e1, stream));
  ASSERT_OK(api()->stream_synchronize(stream));
  const auto second = std::chrono::duration<double, std::milli>(Clock::now() - before_init).count();
  float ms = -1.0f;
  ASSERT_OK(api()->event_elapsed_ms(e0, e1, &ms));
  EXPECT_GE(ms, 1500.0 - first - 1.0);
  EXPECT_LE(ms, second + 1.0);
  float back = 0.0f;  // the other way round: the same interval, negative, across the wrap
  ASSERT_OK(api()->event_elapsed_ms(e1, e0, &back));
  EXPECT_EQ(back, -ms);
  api()->event_destroy(e0);
  api()->event_destroy(e1);
  api()->stream_destroy(stream);
}

// Kernel timestamps of an end that completed before its start: the elapsed time is negative,
// as the OpenCL and CPU backends give it, not nearly a whole wrap of the counter (42949 ms with
// 32-bit, 10 ns ticks). The host clock, which the test driver's device clock follows, is seen
// to advance 2 ms between the records, so the interval is at least that.
TEST(LevelZeroBackend, ElapsedTimeIsNegativeWhenTheEndCompletedFirst) {
  using Clock = std::chrono::steady_clock;
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  xinhe_be_stream_t stream = nullptr;
  ASSERT_OK(api()->stream_create(s.device(), &stream));
  xinhe_be_event_t e0 = nullptr, e1 = nullptr;
  ASSERT_OK(api()->event_create(s.device(), &e0));
  ASSERT_OK(api()->event_create(s.device(), &e1));
  ASSERT_OK(api()->event_record(e0, stream));
  ASSERT_OK(api()->stream_synchronize(stream));
  const Clock::time_point first_done = Clock::now();
  while (Clock::now() < first_done + std::chrono::milliseconds(2)) {
  }
  ASSERT_OK(api()->event_record(e1, stream));
  ASSERT_OK(api()->stream_synchronize(stream));
  float forward = 0.0f, backward = 0.0f;
  ASSERT_OK(api()->event_elapsed_ms(e0, e1, &forward));
  ASSERT_OK(api()->event_elapsed_ms(e1, e0, &backward));
  EXPECT_GE(forward, 2.0f);
  EXPECT_LT(forward, 10000.0f);
  EXPECT_EQ(backward, -forward);
  api()->event_destroy(e0);
  api()->event_destroy(e1);
  api()->stream_destroy(stream);
}

// Event slots no submitted command signals come back to the free list: the marker of a stream
// that never needed one (no commands, or its work seen done through its last event record),
// and the slot of an event record whose barrier could not be appended. 256 of each used to
// leave 256 unsignalled slots retired for ever, a new pool of 64 every 64.
TEST(LevelZeroBackend, EventSlotsNothingSignalsAreReused) {
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  const xinhe::ze_cpu::Hooks hooks = xinhe::ze_cpu::loaded_driver_hooks();
  ASSERT_TRUE(hooks.loaded());
  lz::EventSlots& slots = s.internal()->events;
  for (int i = 0; i < 256; ++i) {
    xinhe_be_stream_t stream = nullptr;
    ASSERT_OK(api()->stream_create(s.device(), &stream));
    api()->stream_destroy(stream);
  }
  EXPECT_LE(slots.pool_count(), 1u) << "after 256 streams without commands";
  xinhe_be_event_t event = nullptr;
  ASSERT_OK(api()->event_create(s.device(), &event));
  for (int i = 0; i < 256; ++i) {
    xinhe_be_stream_t stream = nullptr;
    ASSERT_OK(api()->stream_create(s.device(), &stream));
    ASSERT_OK(api()->event_record(event, stream));
    ASSERT_OK(api()->event_synchronize(event));
    int done = 0;
    ASSERT_OK(api()->stream_query(stream, &done));
    EXPECT_EQ(done, 1);
    api()->stream_destroy(stream);
  }
  EXPECT_EQ(slots.pool_count(), 1u) << "after 256 streams seen done through an event record";
  xinhe_be_stream_t stream = nullptr;
  ASSERT_OK(api()->stream_create(s.device(), &stream));
  ASSERT_EQ(hooks.inject("zeCommandListAppendBarrier", ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY, 0, 256),
            0);
  for (int i = 0; i < 256; ++i) {
    const Taken t = take(api()->event_record(event, stream));
    ASSERT_EQ(t.code, XINHE_STATUS_OUT_OF_MEMORY) << t.message;
  }
  EXPECT_EQ(slots.pool_count(), 1u) << "after 256 event records that failed to append";
  ASSERT_OK(api()->event_record(event, stream));  // the fault is spent: records work again
  ASSERT_OK(api()->stream_synchronize(stream));
  api()->stream_destroy(stream);
  api()->event_destroy(event);
  EXPECT_EQ(slots.pool_count(), 1u);
}

// A regular-mode stream of n u32 elements, zeroed, for the batch tests.
struct RegularStream {
  Session session;
  xinhe::ze_cpu::Hooks hooks;
  xinhe_be_stream_t stream = nullptr;
  xinhe_be_buffer_t buffer = nullptr;
  static constexpr int kElements = 64;
  void open() {
    setenv("XINHE_LEVEL_ZERO_COMMAND_LISTS", "regular", 1);
    ASSERT_EQ(session.open().code, XINHE_STATUS_OK);
    hooks = xinhe::ze_cpu::loaded_driver_hooks();
    ASSERT_TRUE(hooks.loaded());
    ASSERT_OK(api()->stream_create(session.device(), &stream));
    ASSERT_OK(api()->buffer_alloc(session.device(), kElements * 4, 64, &buffer));
    const uint32_t zero = 0;
    ASSERT_OK(api()->fill(stream, xinhe_be_mem_t{buffer, 0}, kElements * 4, &zero, 4));
    ASSERT_OK(api()->stream_synchronize(stream));  // nothing left in a batch
  }
  // Element i = i + 1, one fill each.
  Taken fill(int i) {
    const uint32_t value = static_cast<uint32_t>(i) + 1;
    return take(
        api()->fill(stream, xinhe_be_mem_t{buffer, static_cast<uint64_t>(i) * 4}, 4, &value, 4));
  }
  std::vector<uint32_t> read() {
    std::vector<uint32_t> out(kElements, 0xdeadbeef);
    EXPECT_EQ(take(api()->copy_device_to_host(stream, out.data(), xinhe_be_mem_t{buffer, 0},
                                              kElements * 4))
                  .code,
              XINHE_STATUS_OK);
    EXPECT_EQ(take(api()->stream_synchronize(stream)).code, XINHE_STATUS_OK);
    return out;
  }
  uint64_t executions() const { return hooks.call_count("zeCommandQueueExecuteCommandLists"); }
  ~RegularStream() {
    if (buffer) api()->buffer_free(buffer);
    if (stream) api()->stream_destroy(stream);
  }
};

// A batch is submitted every 32 commands, as docs/level_zero.md says: the ordering barrier
// before each command is not counted (it used to be, which submitted every 16 or 17).
TEST(LevelZeroBackend, RegularBatchIsSubmittedEvery32Commands) {
  RegularStream r;
  ASSERT_NO_FATAL_FAILURE(r.open());
  const uint64_t before = r.executions();
  for (int i = 0; i < 31; ++i) ASSERT_EQ(r.fill(i).code, XINHE_STATUS_OK);
  EXPECT_EQ(r.executions() - before, 0u) << "after 31 commands";
  ASSERT_EQ(r.fill(31).code, XINHE_STATUS_OK);
  EXPECT_EQ(r.executions() - before, 1u) << "after 32 commands";
  for (int i = 32; i < 64; ++i) ASSERT_EQ(r.fill(i).code, XINHE_STATUS_OK);
  EXPECT_EQ(r.executions() - before, 2u) << "after 64 commands";
  const std::vector<uint32_t> got = r.read();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(got[i], static_cast<uint32_t>(i) + 1) << i;
}

// A batch whose close or submission fails: the command that made it flush reports the failure,
// the batch's commands are discarded, and the stream goes on with a reset list (it used to keep
// appending to the closed list, or to none, and fail every later command with INTERNAL).
TEST(LevelZeroBackend, RegularBatchRecoversFromAFailedSubmission) {
  for (const char* call : {"zeCommandListClose", "zeCommandQueueExecuteCommandLists"}) {
    SCOPED_TRACE(call);
    RegularStream r;
    ASSERT_NO_FATAL_FAILURE(r.open());
    ASSERT_EQ(r.hooks.inject(call, ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY, 0, 1), 0);
    for (int i = 0; i < 64; ++i) {
      const Taken t = r.fill(i);
      if (i == 31) {  // the 32nd command flushes the first batch
        EXPECT_EQ(t.code, XINHE_STATUS_OUT_OF_MEMORY) << t.message;
        EXPECT_NE(t.message.find(call), std::string::npos) << t.message;
      } else {
        EXPECT_EQ(t.code, XINHE_STATUS_OK) << i << ": " << t.message;
      }
    }
    // The caller who synchronizes for the 31 earlier commands learns they never ran, once.
    const Taken sync = take(api()->stream_synchronize(r.stream));
    EXPECT_EQ(sync.code, XINHE_STATUS_OUT_OF_MEMORY) << sync.message;
    EXPECT_NE(sync.message.find("32 command(s)"), std::string::npos) << sync.message;
    EXPECT_NE(sync.message.find("discarded"), std::string::npos) << sync.message;
    const std::vector<uint32_t> got = r.read();
    for (int i = 0; i < 64; ++i) EXPECT_EQ(got[i], i < 32 ? 0u : static_cast<uint32_t>(i) + 1) << i;
  }
}

// The list for the next batch cannot be made (no spare: the last batch has not finished; then
// out of memory): that command fails, the next one makes the list and the stream goes on (a
// NULL list used to take every later command).
TEST(LevelZeroBackend, RegularBatchWhoseNextListCannotBeMadeRecovers) {
  RegularStream r;
  ASSERT_NO_FATAL_FAILURE(r.open());
  ASSERT_EQ(r.hooks.inject("zeFenceQueryStatus", ZE_RESULT_NOT_READY, 0, 1), 0);
  ASSERT_EQ(r.hooks.inject("zeCommandListCreate", ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY, 0, 1), 0);
  const uint64_t creates = r.hooks.call_count("zeCommandListCreate");
  int failed = 0;
  for (int i = 0; i < 64; ++i) {
    const Taken t = r.fill(i);
    if (t.code == XINHE_STATUS_OK) continue;
    ++failed;
    EXPECT_EQ(t.code, XINHE_STATUS_OUT_OF_MEMORY) << i << ": " << t.message;
    EXPECT_NE(t.message.find("zeCommandListCreate"), std::string::npos) << t.message;
  }
  EXPECT_EQ(failed, 1);
  EXPECT_GE(r.hooks.call_count("zeCommandListCreate") - creates, 2u);  // the failure, the retry
  const std::vector<uint32_t> got = r.read();
  int lost = 0;
  for (int i = 0; i < 64; ++i)
    if (got[i] != static_cast<uint32_t>(i) + 1) ++lost;
  EXPECT_EQ(lost, 1);  // the command that failed, and only it
}

// A device lost seen while a command flushes its batch is that command's answer, not the next
// synchronize's.
TEST(LevelZeroBackend, RegularBatchReportsALostDeviceAtOnce) {
  RegularStream r;
  ASSERT_NO_FATAL_FAILURE(r.open());
  ASSERT_EQ(r.hooks.inject("zeFenceQueryStatus", ZE_RESULT_ERROR_DEVICE_LOST, 0, 1), 0);
  const uint64_t before = r.executions();
  bool flushed = false;
  for (int i = 0; i < 64 && !flushed; ++i) {
    const Taken t = r.fill(i);
    if (r.executions() > before) {
      flushed = true;
      EXPECT_EQ(t.code, XINHE_STATUS_DEVICE_LOST) << i << ": " << t.message;
      EXPECT_NE(t.message.find("zeFenceQueryStatus"), std::string::npos) << t.message;
    } else {
      ASSERT_EQ(t.code, XINHE_STATUS_OK) << i << ": " << t.message;
    }
  }
  EXPECT_TRUE(flushed);
  EXPECT_EQ(r.fill(0).code, XINHE_STATUS_OK);  // the injected loss was a single answer
  EXPECT_EQ(take(api()->stream_synchronize(r.stream)).code, XINHE_STATUS_OK);
}

// An alignment the driver cannot honour is UNIMPLEMENTED with the reason (backend.h), not
// INTERNAL: one Level Zero refuses (not a power of two) and one the test driver is told to.
TEST(LevelZeroBackend, AlignmentTheDriverRefusesIsUnimplemented) {
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  const xinhe::ze_cpu::Hooks hooks = xinhe::ze_cpu::loaded_driver_hooks();
  ASSERT_TRUE(hooks.loaded());
  xinhe_be_buffer_t buffer = nullptr;
  Taken t = take(api()->buffer_alloc(s.device(), 4096, 48, &buffer));
  EXPECT_EQ(t.code, XINHE_STATUS_UNIMPLEMENTED) << t.message;
  EXPECT_NE(t.message.find("ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT"), std::string::npos)
      << t.message;
  EXPECT_NE(t.message.find("multiple of 48 bytes"), std::string::npos) << t.message;
  ASSERT_EQ(hooks.inject("zeMemAllocDevice", ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT, 0, 1), 0);
  t = take(api()->buffer_alloc(s.device(), 4096, 65536, &buffer));
  EXPECT_EQ(t.code, XINHE_STATUS_UNIMPLEMENTED) << t.message;
  EXPECT_NE(t.message.find("multiple of 65536 bytes"), std::string::npos) << t.message;
  ASSERT_OK(api()->buffer_alloc(s.device(), 4096, 65536, &buffer));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(lz::buffer_pointer(buffer)) % 65536, 0u);
  api()->buffer_free(buffer);
}

// A query appends a marker barrier; the event recorded before it then shows the work done, and
// the stream is destroyed while the marker is still queued (held by the test driver). The
// stream must wait for it before destroying its immediate list (the device must not reference
// a list being destroyed); the test driver reports a list destroyed with commands queued as a
// lost device. The destroying thread is seen either to finish or to block in a host wait
// before the hold is released.
TEST(LevelZeroBackend, StreamDestroyWaitsForItsQueuedMarker) {
  Session s;
  ASSERT_EQ(s.open().code, XINHE_STATUS_OK);
  const xinhe::ze_cpu::Hooks hooks = xinhe::ze_cpu::loaded_driver_hooks();
  ASSERT_TRUE(hooks.loaded());
  xinhe_be_stream_t stream = nullptr;
  ASSERT_OK(api()->stream_create(s.device(), &stream));
  xinhe_be_buffer_t buffer = nullptr;
  ASSERT_OK(api()->buffer_alloc(s.device(), 256, 64, &buffer));
  xinhe_be_event_t event = nullptr;
  ASSERT_OK(api()->event_create(s.device(), &event));
  hooks.hold_from(hooks.submissions() + 1);  // nothing submitted from now on starts
  const uint32_t value = 7;
  ASSERT_OK(api()->fill(stream, xinhe_be_mem_t{buffer, 0}, 256, &value, 4));
  ASSERT_OK(api()->event_record(event, stream));
  const uint64_t recorded = hooks.submissions();
  int done = -1;
  ASSERT_OK(api()->stream_query(stream, &done));
  EXPECT_EQ(done, 0);
  ASSERT_EQ(hooks.submissions(), recorded + 1);  // the marker barrier
  hooks.hold_from(recorded + 1);                 // the fill and the record run, the marker not
  ASSERT_OK(api()->event_synchronize(event));
  ASSERT_OK(api()->stream_query(stream, &done));
  EXPECT_EQ(done, 1);  // seen through the event record
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    api()->stream_destroy(stream);
    destroyed = true;
  });
  while (!destroyed.load() && hooks.host_waiters() == 0) std::this_thread::yield();
  const bool waited = !destroyed.load();
  hooks.hold_from(UINT64_MAX);
  destroyer.join();
  EXPECT_TRUE(waited) << "the stream was destroyed without waiting for its marker";
  EXPECT_STREQ(hooks.lost_reason(), "");
  api()->event_destroy(event);
  api()->buffer_free(buffer);
}

// A device launching at most 4 work-groups per dimension (the test driver's
// XINHE_ZE_CPU_MAX_GROUP_COUNT): launches that need more are declined when the op is created,
// with the reason, and fall through to an implementation that fits, which computes the right
// result; an op nothing fits is UNIMPLEMENTED at check (not an invalid launch at run).
// Creates an m x n x k f32 GEMM that must select the reference kernel, runs it on small
// integers and compares exactly (defined below).
void run_reference_within_group_count(Session& s, int64_t m, int64_t n, int64_t k);

TEST(LevelZeroBackend, LaunchesBeyondMaxGroupCountAreDeclined) {
  setenv("XINHE_ZE_CPU_MAX_GROUP_COUNT", "4", 1);
  Session s;
  {
    const Taken opened = s.open();
    ASSERT_EQ(opened.code, XINHE_STATUS_OK) << opened.message;
  }
  {  // m = 4099 (prime) rows: 65 tiles or 4099 single work-items in Y either way
    const xinhe_gemm_desc_t g =
        gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, 4099, 1, 1);
    const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
    std::string why;
    EXPECT_EQ(impl_of(s, desc, &why), "");
    EXPECT_NE(why.find("level_zero.gemm.tiled_f32: the launch needs 65 work-groups in Y"),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("level_zero.gemm.reference_f32: no work-group launches 4099 work-items "
                       "in Y: it needs at least 1025 per group"),
              std::string::npos)
        << why;
    EXPECT_NE(why.find("maxGroupCountY of 4"), std::string::npos) << why;
  }
  // n = 320: the tile needs 5 groups in X; the reference runs with groups the device allows.
  // n = 2048 (m = 8): the reference's groups must be wide in X and narrow in Y to fit both the
  // group count and the total group size; an op that is created must also launch.
  for (const int64_t n : {320, 2048}) {
    SCOPED_TRACE(n);
    run_reference_within_group_count(s, 8, n, 3);
  }
}

void run_reference_within_group_count(Session& s, int64_t m, int64_t n, int64_t k) {
  const xinhe_gemm_desc_t g = gemm_desc(XINHE_DTYPE_F32, XINHE_DTYPE_F32, false, false, m, n, k);
  const xinhe_be_op_desc_t desc{sizeof(desc), XINHE_OP_GEMM, &g, nullptr};
  xinhe_be_op_t op = nullptr;
  ASSERT_OK(api()->op_create(s.device(), &desc, &op));
  ASSERT_OK(api()->op_check(op));
  EXPECT_STREQ(api()->op_impl_name(op), "level_zero.gemm.reference_f32");
  if (n == 320) {
    EXPECT_TRUE(
        TestHost::get().logged("skipped level_zero.gemm.tiled_f32: the launch needs 5 "
                               "work-groups in X"));
  }
  std::vector<float> a(m * k), b(k * n), c(m * n, std::nanf(""));
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) - 3.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) - 2.0f;
  xinhe_be_stream_t stream = nullptr;
  ASSERT_OK(api()->stream_create(s.device(), &stream));
  xinhe_be_buffer_t buffers[3] = {};
  const std::vector<float>* host[3] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    const uint64_t bytes = host[i]->size() * sizeof(float);
    ASSERT_OK(api()->buffer_alloc(s.device(), bytes, 64, &buffers[i]));
    ASSERT_OK(
        api()->copy_host_to_device(stream, xinhe_be_mem_t{buffers[i], 0}, host[i]->data(), bytes));
  }
  xinhe_be_op_args_t args{};
  args.struct_size = sizeof(args);
  args.mem[XINHE_GEMM_ARG_A] = {buffers[0], 0};
  args.mem[XINHE_GEMM_ARG_B] = {buffers[1], 0};
  args.mem[XINHE_GEMM_ARG_C] = {buffers[2], 0};
  args.alpha = 1.0f;
  args.beta = 0.0f;
  ASSERT_OK(api()->op_run(op, stream, &args));
  std::vector<float> got(c.size(), std::nanf(""));
  ASSERT_OK(api()->copy_device_to_host(stream, got.data(), xinhe_be_mem_t{buffers[2], 0},
                                       got.size() * sizeof(float)));
  ASSERT_OK(api()->stream_synchronize(stream));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float want = 0.0f;  // small integers: exact in any order
      for (int64_t p = 0; p < k; ++p) want += a[i * k + p] * b[p * n + j];
      EXPECT_EQ(got[i * n + j], want) << i << "," << j;
    }
  }
  for (xinhe_be_buffer_t buffer : buffers) api()->buffer_free(buffer);
  api()->stream_destroy(stream);
  api()->op_destroy(op);
}

}  // namespace
