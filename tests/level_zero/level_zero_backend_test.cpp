// Tests of the Level Zero backend's own behaviour, driving its plugin table directly (no
// libxinhe) through Debian's real loader and the CPU test driver: the reasons it gives when the
// loader or a driver is missing or an environment variable is wrong, device properties, the
// module cache (memory, disk, corrupt entries, an unwritable folder), build flags reaching
// zeModuleCreate with the build log in the error, kernel timestamps that wrap, and that every
// embedded SPIR-V variant is the one the op layer asks for. Each test runs in its own process
// (gtest_discover_tests): the loader initializes once per process, and some tests change the
// environment before it does.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

// A folder in one entry's place makes that entry unstorable; the disk layer stays on for the
// other modules (it used to turn off for the whole process, and so in every process).
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
  fs::create_directory(entries[0]);
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
  api()->event_destroy(e0);
  api()->event_destroy(e1);
  api()->stream_destroy(stream);
}

}  // namespace
