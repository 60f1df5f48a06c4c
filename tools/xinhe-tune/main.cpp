// xinhe-tune: the OpenCL autotuner. For each requested op and dtype it walks a small
// candidate space of kernel parameters on one device, verifies every candidate against the
// float64 reference on a ragged shape (a wrong-but-fast candidate is rejected, never chosen),
// times the survivors on a representative shape (median of several runs after a warm-up),
// and writes the fastest into a tuning database keyed by device name, driver version, dtype
// and op. Dispatch reads the database from XINHE_TUNING_DB (see docs/opencl.md).
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli_parse.h"
#include "op_common.h"
#include "output_path.h"
#include "testing/opencl_op_timer.h"

namespace {

using namespace xinhe::opencl;
using namespace xinhe::opencl::testing;

std::vector<GemmParams> gemm_candidates(const DeviceInfo& info, bool full) {
  std::vector<GemmParams> out;
  auto add = [&](int mwi, int nwi, int vw, int kwi, int wgy, int wgx, int use_local, int kwg,
                 int pack = 0) {
    GemmParams p;
    p.pack = pack;
    p.mwi = mwi;
    p.nwi = nwi;
    p.vw = vw;
    p.kwi = kwi;
    p.mwg = mwi * wgy;
    p.nwg = nwi * wgx;
    p.kwg = kwg;
    p.use_local = use_local;
    if (p.validate(info.tuning_limits()).empty()) out.push_back(p);
  };
  if (info.cpu_like) {
    // Register tiles that fit the 16 AVX2 registers (or a few more). Work-groups are tall
    // (WGY x 1): PoCL runs a group's work-items in order, so neighbours share a B panel.
    const int tiles[][4] = {{8, 8, 8, 2},  {12, 8, 8, 1}, {6, 16, 8, 2}, {4, 16, 8, 4},
                            {4, 32, 8, 2}, {16, 8, 8, 1}, {8, 16, 8, 1}, {4, 16, 4, 4}};
    const int groups[][2] = {{16, 1}, {32, 1}, {4, 4}};  // (WGY, WGX)
    // Packed panels first: they won every search on PoCL so far.
    for (int pack : {1, 0})
      for (const auto& t : tiles)
        for (const auto& g : groups) {
          add(t[0], t[1], t[2], t[3], g[0], g[1], 0, 16, pack);
          if (!full) break;  // small space: one work-group shape per tile
        }
    // Local-memory staging with deep K steps: barriers are few, so PoCL's per-barrier
    // save/restore of the accumulators is amortized over KWG * MWI * NWI FMAs.
    add(6, 16, 8, 1, 4, 4, 1, 64);
    add(8, 8, 8, 1, 8, 8, 1, 64);
  } else {
    const int tiles[][3] = {{4, 4, 4}, {8, 4, 4}, {4, 8, 4}, {2, 2, 2}, {8, 8, 4}};
    const int groups[][2] = {{16, 16}, {8, 8}, {8, 16}};
    for (const auto& t : tiles)
      for (const auto& g : groups)
        for (int kwg : {8, 16, 32}) {
          add(t[0], t[1], t[2], 1, g[0], g[1], 1, kwg);
          if (!full && kwg == 16) break;
        }
  }
  return out;
}

std::vector<AttentionParams> attention_candidates(const DeviceInfo& info, bool full) {
  std::vector<AttentionParams> out;
  const int qwis[] = {1, 2, 4};
  const int bkvs[] = {8, 16, 32};
  const int wgs_cpu[] = {4, 8, 16};
  const int wgs_gpu[] = {32, 64, 128};
  for (int qwi : qwis)
    for (int bkv : bkvs)
      for (int wg : info.cpu_like ? wgs_cpu : wgs_gpu) {
        AttentionParams p;
        p.qwi = qwi;
        p.bkv = bkv;
        p.wg = wg;
        if (!full && !(bkv == 16 || wg == (info.cpu_like ? 8 : 64))) continue;
        if (p.validate(info.tuning_limits()).empty()) out.push_back(p);
      }
  return out;
}

// "--device 1" or "--device opencl:1": the OpenCL device of that index, numbered as the
// runtime numbers opencl:N (all platforms, in order). Another backend's name is refused: only
// the OpenCL backend reads a tuning database.
std::optional<uint32_t> parse_device(const std::string& s, std::string* why) {
  std::string index = s;
  if (const size_t colon = s.find(':'); colon != std::string::npos) {
    const std::string backend = s.substr(0, colon);
    if (backend != "opencl") {
      *why = "'" + s +
             "' is not an OpenCL device: xinhe-tune tunes the OpenCL backend's kernels "
             "only (the " +
             backend + " backend has no tuning database); give opencl:N or N";
      return std::nullopt;
    }
    index = s.substr(colon + 1);
  }
  if (index.empty() || index.size() > 9 ||
      index.find_first_not_of("0123456789") != std::string::npos) {
    *why = "'" + s + "' is not an OpenCL device index: give opencl:N or N (N = 0, 1, ...)";
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::stoul(index));
}

xinhe_dtype_t parse_dtype(const std::string& s) {
  if (s == "f32") return XINHE_DTYPE_F32;
  if (s == "f16") return XINHE_DTYPE_F16;
  if (s == "bf16") return XINHE_DTYPE_BF16;
  throw CLI::ValidationError("--dtype", "unknown dtype '" + s + "' (f32, f16, bf16)");
}

struct Budget {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds;
  bool spent() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
           seconds;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xinhe-tune: search OpenCL kernel parameters and write a tuning database"};
  std::string device = "0";
  std::string ops = "all";
  std::vector<std::string> dtypes = {"f32", "f16", "bf16"};
  std::string output;
  int gemm_size = 1024;
  int attention_seq = 512;
  int reps = 3;
  double budget_s = 120.0;
  bool full_space = false;
  app.add_option("--device", device,
                 "OpenCL device to tune: opencl:N or N, numbered as xinhe numbers opencl:N (all "
                 "platforms, in order)")
      ->capture_default_str();
  app.add_option("--op", ops, "gemm, attention or all")
      ->check(CLI::IsMember({"gemm", "attention", "all"}))
      ->capture_default_str();
  app.add_option("--dtype", dtypes, "dtypes to tune (f32 f16 bf16)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--output,-o", output,
                 "tuning database to update (created if missing); default: print to stdout");
  app.add_option("--gemm-size", gemm_size, "M = N = K of the timed GEMM")
      ->check(CLI::Range(64, 8192))
      ->capture_default_str();
  app.add_option("--attention-seq", attention_seq,
                 "Sq = Skv of the timed attention (B*H = 8, D = 64)")
      ->check(CLI::Range(16, 16384))
      ->capture_default_str();
  app.add_option("--reps", reps, "timed runs per candidate (median)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--budget-seconds", budget_s, "time limit per (op, dtype) search (> 0)")
      ->capture_default_str();
  app.add_flag("--full", full_space, "search the full candidate space (default: a small one)");
  XINHE_TOOL_PARSE(app, argc, argv);

  std::string device_problem;
  const std::optional<uint32_t> parsed_device = parse_device(device, &device_problem);
  if (!parsed_device) {
    std::fprintf(stderr, "xinhe-tune: --device: %s\n", device_problem.c_str());
    return xinhe::tools::kExitBadCommandLine;
  }
  const uint32_t device_index = *parsed_device;

  std::vector<xinhe_dtype_t> dts;
  try {
    for (const std::string& s : dtypes) dts.push_back(parse_dtype(s));
  } catch (const CLI::Error& e) {
    std::fprintf(stderr, "xinhe-tune: %s\n", e.what());
    return xinhe::tools::kExitBadCommandLine;
  }
  if (!(budget_s > 0.0 && budget_s <= 1e7)) {  // also refuses NaN
    std::fprintf(stderr, "xinhe-tune: --budget-seconds %g is not a number of seconds in (0, 1e7]\n",
                 budget_s);
    return xinhe::tools::kExitBadCommandLine;
  }
  // The search takes minutes: an output that cannot be written is said before it.
  if (app.count("--output") > 0) {
    if (const std::string why = xinhe::tools::output_path_problem(output); !why.empty()) {
      std::fprintf(stderr, "xinhe-tune: --output: %s\n", why.c_str());
      return xinhe::tools::kExitBadCommandLine;
    }
  }

  // An existing output database is merged into, so it must parse. Only a regular file is
  // opened: opening a FIFO for reading blocks until a writer comes, before any tuning (and
  // output_path_problem, shared with xinhe-bench, accepts FIFOs and devices on purpose).
  TuningDb db;
  if (!output.empty()) {
    struct stat st {};
    if (::stat(output.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      const char* kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                         : S_ISCHR(st.st_mode)  ? "a character device"
                         : S_ISBLK(st.st_mode)  ? "a block device"
                         : S_ISSOCK(st.st_mode) ? "a socket"
                                                : "not a plain file";
      std::fprintf(stderr,
                   "xinhe-tune: --output: '%s' is %s, not a regular file; not overwriting it\n",
                   output.c_str(), kind);
      return xinhe::tools::kExitBadCommandLine;
    }
    std::ifstream probe(output);
    std::string error;
    if (probe && !db.load_file(output, &error)) {
      std::fprintf(stderr, "xinhe-tune: %s; not overwriting it\n", error.c_str());
      return 2;
    }
    for (const std::string& w : db.warnings())
      std::fprintf(stderr, "xinhe-tune: %s: warning: %s\n", output.c_str(), w.c_str());
  }

  // Open the requested device through the plugin table.
  const xinhe_backend_api_t* api = backend_api();
  xinhe_be_backend_t backend = nullptr;
  Status st(api->backend_create(TestHost::get().api(), &backend));
  if (!st.ok()) {
    std::fprintf(stderr, "xinhe-tune: OpenCL unavailable: %s\n", st.message().c_str());
    return 2;
  }
  uint32_t count = 0;
  Status(api->device_count(backend, &count));
  if (device_index >= count) {
    std::fprintf(stderr, "xinhe-tune: device opencl:%u does not exist (%u OpenCL devices)\n",
                 device_index, count);
    api->backend_destroy(backend);
    return 2;
  }
  int rc = 0;
  {
    // Session opens device 0; for another index, open it the same way.
    xinhe_be_device_t dev = nullptr;
    xinhe_be_stream_t stream = nullptr;
    Status open(api->device_open(backend, device_index, &dev));
    if (open.ok()) open = Status(api->stream_create(dev, &stream));
    if (!open.ok()) {
      std::fprintf(stderr, "xinhe-tune: %s\n", open.message().c_str());
      if (dev) api->device_close(dev);
      api->backend_destroy(backend);
      return 2;
    }
    Session session(dev, stream);
    const DeviceInfo& info = session.device()->info;
    std::fprintf(stderr, "xinhe-tune: device '%s', driver '%s'%s\n", info.name.c_str(),
                 info.driver_version.c_str(), info.cpu_like ? " (CPU-like)" : "");

    for (xinhe_dtype_t dt : dts) {
      const std::string dname = dtype_tag(dt);
      if (ops == "gemm" || ops == "all") {
        Budget budget{std::chrono::steady_clock::now(), budget_s};
        const xinhe_gemm_desc_t timed = square_gemm_case(dt, gemm_size).desc();
        const xinhe_be_op_desc_t desc{sizeof(xinhe_be_op_desc_t), XINHE_OP_GEMM, &timed, nullptr};
        const double flops = 2.0 * gemm_size * gemm_size * static_cast<double>(gemm_size);
        GemmParams best;
        double best_s = 0;
        for (const GemmParams& p : gemm_candidates(info, full_space)) {
          if (budget.spent()) {
            std::fprintf(stderr, "  gemm %s: budget spent, stopping\n", dname.c_str());
            break;
          }
          OpOverrides ov;
          ov.gemm = &p;
          ov.impl_filter = "tiled";
          GemmCase check;
          // Ragged and large enough (M*N*K >= 128^3) to take the packed path when PACK=1.
          check.ab = dt;
          check.c = dt;
          check.m = 133;
          check.n = 129;
          check.k = 130;
          check.batch = 2;
          check.beta = 0.5f;
          const CheckResult verified = check_gemm(session, check, ov);
          if (!verified.ok) {
            std::fprintf(stderr, "  gemm %s %s: REJECTED (%s)\n", dname.c_str(),
                         p.to_string().c_str(), verified.error.c_str());
            continue;
          }
          const Timing t = time_op(session, desc, ov, reps);
          if (!t.ok) {
            std::fprintf(stderr, "  gemm %s %s: failed (%s)\n", dname.c_str(),
                         p.to_string().c_str(), t.error.c_str());
            continue;
          }
          std::fprintf(stderr, "  gemm %s %s: %.1f GFLOP/s\n", dname.c_str(), p.to_string().c_str(),
                       flops / t.median_s * 1e-9);
          if (best_s == 0 || t.median_s < best_s) {
            best_s = t.median_s;
            best = p;
          }
        }
        if (best_s > 0) {
          std::fprintf(stderr, "xinhe-tune: gemm %s best %s: %.1f GFLOP/s at %d^3\n", dname.c_str(),
                       best.to_string().c_str(), flops / best_s * 1e-9, gemm_size);
          db.set(info.name, info.driver_version, dname, "gemm", best.to_string());
        } else {
          rc = 1;
        }
      }
      if (ops == "attention" || ops == "all") {
        Budget budget{std::chrono::steady_clock::now(), budget_s};
        const xinhe_attention_desc_t timed =
            bhsd_attention_case(dt, 1, 8, attention_seq, 64, false).desc();
        const xinhe_be_op_desc_t desc{sizeof(xinhe_be_op_desc_t), XINHE_OP_ATTENTION, nullptr,
                                      &timed};
        const double flops = 4.0 * 8 * attention_seq * static_cast<double>(attention_seq) * 64;
        AttentionParams best;
        double best_s = 0;
        for (const AttentionParams& p : attention_candidates(info, full_space)) {
          if (budget.spent()) {
            std::fprintf(stderr, "  attention %s: budget spent, stopping\n", dname.c_str());
            break;
          }
          OpOverrides ov;
          ov.attention = &p;
          ov.impl_filter = "flash";
          AttentionCase check;
          check.dtype = dt;
          check.heads_q = 4;
          check.heads_kv = 2;
          check.seq_q = 21;
          check.seq_kv = 45;
          check.head_dim = 64;
          check.causal = true;
          check.lse = true;
          const CheckResult verified = check_attention(session, check, ov);
          if (!verified.ok) {
            std::fprintf(stderr, "  attention %s %s: REJECTED (%s)\n", dname.c_str(),
                         p.to_string().c_str(), verified.error.c_str());
            continue;
          }
          const Timing t = time_op(session, desc, ov, reps);
          if (!t.ok) {
            std::fprintf(stderr, "  attention %s %s: failed (%s)\n", dname.c_str(),
                         p.to_string().c_str(), t.error.c_str());
            continue;
          }
          std::fprintf(stderr, "  attention %s %s: %.2f GFLOP/s\n", dname.c_str(),
                       p.to_string().c_str(), flops / t.median_s * 1e-9);
          if (best_s == 0 || t.median_s < best_s) {
            best_s = t.median_s;
            best = p;
          }
        }
        if (best_s > 0) {
          std::fprintf(stderr, "xinhe-tune: attention %s best %s: %.2f GFLOP/s\n", dname.c_str(),
                       best.to_string().c_str(), flops / best_s * 1e-9);
          db.set(info.name, info.driver_version, dname, "attention", best.to_string());
        } else {
          rc = 1;
        }
      }
    }

    const std::string text = db.serialize();
    if (output.empty()) {
      std::fputs(text.c_str(), stdout);
    } else {
      // Temporary file + rename, so a reader never sees half a database.
      const std::string temp = output + ".tmp";
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << text;
      out.close();
      if (!out || std::rename(temp.c_str(), output.c_str()) != 0) {
        std::fprintf(stderr, "xinhe-tune: cannot write '%s'\n", output.c_str());
        std::remove(temp.c_str());
        rc = 2;
      } else {
        std::fprintf(stderr, "xinhe-tune: wrote %zu entries to %s\n", db.size(), output.c_str());
      }
    }
  }
  api->backend_destroy(backend);
  return rc;
}
