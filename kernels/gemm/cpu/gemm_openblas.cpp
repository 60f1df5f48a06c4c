// dlopen("libopenblas.so.0") and its cblas_sgemm: the vendor path, with no link-time
// dependency. libblas.so.3 is deliberately not tried: it may be the reference BLAS.
#include "gemm_openblas.h"

#include <dlfcn.h>

#include <cassert>
#include <climits>
#include <mutex>

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

struct OpenBlas {
  const char* unavailable_reason = nullptr;
  CblasSgemmFn sgemm = nullptr;
  SetNumThreadsFn set_num_threads = nullptr;  // optional
  GetNumThreadsFn get_num_threads = nullptr;  // optional
  std::mutex threads_mutex;                   // openblas_set_num_threads is process-global
};

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
