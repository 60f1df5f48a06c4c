// dlopen("libopenblas.so.0") and its cblas_sgemm: the vendor path, with no link-time
// dependency. libblas.so.3 is deliberately not tried: it may be the reference BLAS. Under an
// XINHE_CPU_MAX_ISA cap the path is declined unless OpenBLAS's core fits it (gemm_openblas.h).
#include "gemm_openblas.h"

#include <dlfcn.h>

#include <cassert>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>

#include "cpu_features.h"

namespace xinhe::kernels::cpu {
namespace {

// CBLAS enum values (cblas.h): fixed by the CBLAS standard.
constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;
constexpr int kCblasTrans = 112;

using CblasSgemmFn = void (*)(int order, int trans_a, int trans_b, int m, int n, int k,
                              float alpha, const float* a, int lda, const float* b, int ldb,
                              float beta, float* c, int ldc);
using SetNumThreadsFn = void (*)(int threads);
using GetNumThreadsFn = int (*)();

using GetCorenameFn = char* (*)();

struct OpenBlas {
  const char* unavailable_reason = nullptr;
  std::string cap_reason;  // backs unavailable_reason when XINHE_CPU_MAX_ISA excludes the core
  CblasSgemmFn sgemm = nullptr;
  SetNumThreadsFn set_num_threads = nullptr;  // optional
  GetNumThreadsFn get_num_threads = nullptr;  // optional
  std::mutex threads_mutex;                   // openblas_set_num_threads is process-global
};

// The XINHE_CPU_MAX_ISA level an OpenBLAS core (openblas_get_corename, any case) needs: the
// highest instruction set its kernels may use. Cores left out (the FMA4/XOP Bulldozer family,
// non-x86 cores, and Opteron, whose kernels use AMD-only instructions: SIGILL on Zen with
// OpenBLAS 0.3.21) are unknown, so never within a cap. SSE3-to-AVX cores need less than AVX2
// but more than baseline (SSE2), so they count as avx2: no core fits baseline.
bool openblas_core_level(std::string core, CpuIsa* level) {
  for (char& c : core) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const struct {
    const char* core;
    CpuIsa level;
  } kCores[] = {
      {"prescott", CpuIsa::kAvx2},
      {"core2", CpuIsa::kAvx2},
      {"penryn", CpuIsa::kAvx2},
      {"dunnington", CpuIsa::kAvx2},
      {"nehalem", CpuIsa::kAvx2},
      {"atom", CpuIsa::kAvx2},
      {"nano", CpuIsa::kAvx2},
      {"opteron_sse3", CpuIsa::kAvx2},
      {"barcelona", CpuIsa::kAvx2},
      {"bobcat", CpuIsa::kAvx2},
      {"sandybridge", CpuIsa::kAvx2},
      {"haswell", CpuIsa::kAvx2},
      {"zen", CpuIsa::kAvx2},
      {"skylakex", CpuIsa::kAvx512},
      {"cooperlake", CpuIsa::kAvx512Bf16},
      {"sapphirerapids", CpuIsa::kAmxBf16},  // AVX512_FP16 and AMX-BF16 too
  };
  for (const auto& c : kCores) {
    if (core == c.core) {
      *level = c.level;
      return true;
    }
  }
  return false;
}

// The OPENBLAS_CORETYPE that stays within a cap (x86-64); nullptr for baseline.
const char* openblas_core_for(CpuIsa cap) {
  switch (cap) {
    case CpuIsa::kBaseline:
      return nullptr;
    case CpuIsa::kAvx2:
      return "Haswell";
    case CpuIsa::kAvx512:
      return "SkylakeX";
    default:
      return "Cooperlake";
  }
}

// nullptr when XINHE_CPU_MAX_ISA allows the core OpenBLAS runs, else the reason (into *text).
const char* openblas_cap_reason(void* handle, std::string* text) {
  const char* env = std::getenv("XINHE_CPU_MAX_ISA");
  const CpuIsa cap = cpu_max_isa();
  if (env == nullptr || *env == '\0' || cap == CpuIsa::kAmxFp16) return nullptr;  // no cap
  auto corename = reinterpret_cast<GetCorenameFn>(dlsym(handle, "openblas_get_corename"));
  const char* core = corename != nullptr ? corename() : nullptr;
  CpuIsa level{};
  if (core != nullptr && openblas_core_level(core, &level) && level <= cap) return nullptr;
  *text = std::string("XINHE_CPU_MAX_ISA=") + cpu_isa_name(cap) + " excludes OpenBLAS: ";
  if (core == nullptr) {
    *text += "it does not say which kernels it runs (no openblas_get_corename)";
  } else if (!openblas_core_level(core, &level)) {
    *text += std::string("its kernel set '") + core + "' is not known to stay within the cap";
  } else {
    *text += std::string("its kernel set '") + core + "' needs " + cpu_isa_name(level);
    // A known core above the cap: the CPU has the capped level, so the hint's set can run.
    if (const char* fits = openblas_core_for(cap)) {
      *text += std::string(" (OPENBLAS_CORETYPE=") + fits +
               ", set before the process starts, selects one within it)";
    } else {
      *text += " (no OpenBLAS kernel set is limited to SSE2)";
    }
  }
  return text->c_str();
}

// Loaded once and kept for the life of the process (never dlclose'd: OpenBLAS's worker
// threads may outlive any one caller).
OpenBlas& openblas() {
  static OpenBlas* lib = [] {
    auto* l = new OpenBlas();
    void* handle = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      l->unavailable_reason = "libopenblas.so.0 not found";
      return l;
    }
    l->sgemm = reinterpret_cast<CblasSgemmFn>(dlsym(handle, "cblas_sgemm"));
    if (l->sgemm == nullptr) {
      l->unavailable_reason = "libopenblas.so.0 has no cblas_sgemm";
      return l;
    }
    l->set_num_threads = reinterpret_cast<SetNumThreadsFn>(dlsym(handle, "openblas_set_num_threads"));
    l->get_num_threads = reinterpret_cast<GetNumThreadsFn>(dlsym(handle, "openblas_get_num_threads"));
    l->unavailable_reason = openblas_cap_reason(handle, &l->cap_reason);
    return l;
  }();
  return *lib;
}

}  // namespace

const char* openblas_unavailable_reason() { return openblas().unavailable_reason; }

void openblas_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc, int threads) {
  OpenBlas& lib = openblas();
  assert(lib.sgemm != nullptr);
  assert(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
         ldc <= INT_MAX);
  if (lib.set_num_threads != nullptr &&
      (lib.get_num_threads == nullptr || lib.get_num_threads() != threads)) {
    std::lock_guard<std::mutex> lock(lib.threads_mutex);
    lib.set_num_threads(threads);
  }
  // CBLAS insists on ld >= max(1, columns) even when the matrix is empty or a single row.
  lda = lda < 1 ? 1 : lda;
  ldb = ldb < 1 ? 1 : ldb;
  ldc = ldc < 1 ? 1 : ldc;
  lib.sgemm(kCblasRowMajor, trans_a ? kCblasTrans : kCblasNoTrans,
            trans_b ? kCblasTrans : kCblasNoTrans, static_cast<int>(m), static_cast<int>(n),
            static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
            c, static_cast<int>(ldc));
}

}  // namespace xinhe::kernels::cpu
