// dlopen("libdnnl.so.2") and its matmul primitive (see gemm_onednn.h). The 2.x C API's types
// come from the installed headers; every function is looked up with dlsym, so the binary never
// depends on the library and starts without it.
//
// A GEMM is one matmul of 3-D tensors {batch, M, K} x {batch, K, N} -> {batch, M, N} with the
// problem's strides (a transposed operand is the same tensor with swapped strides; a batch
// stride of 0 becomes a batch dimension of 1, which oneDNN broadcasts). alpha is the output
// scale, beta a sum post-op (none when beta == 0, so C is not read). The scratchpad is in user
// mode and lives in the caller's workspace: oneDNN allocates nothing per run. Primitives are
// kept in a small cache keyed by everything they were created for (description, alpha, beta,
// threads), since creating a primitive descriptor costs tens of microseconds.
//
// Threads: this oneDNN runs on OpenMP; omp_set_num_threads (from the libgomp it loaded) sets
// the calling thread's team size before each create and run.
#include "gemm_onednn.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu_features.h"

#if defined(XINHE_HAVE_ONEDNN)
#include <oneapi/dnnl/dnnl.h>
#endif

namespace xinhe::kernels::cpu {

#if !defined(XINHE_HAVE_ONEDNN)

namespace {
constexpr const char* kNotBuilt = "built without the oneDNN 2.x headers (libdnnl-dev)";
}
const char* onednn_unavailable_reason() { return kNotBuilt; }
const char* onednn_unsupported_reason(const xinhe_gemm_desc_t&) { return kNotBuilt; }
uint64_t onednn_workspace_size(const xinhe_gemm_desc_t&, int) { return 0; }
bool onednn_gemm(const GemmProblem&, int) { return false; }
const char* onednn_version() { return kNotBuilt; }

#else

namespace {

// The functions used, resolved by name; X(name) for each.
#define XINHE_ONEDNN_FUNCTIONS(X)            \
  X(dnnl_version)                            \
  X(dnnl_engine_create)                      \
  X(dnnl_engine_destroy)                     \
  X(dnnl_stream_create)                      \
  X(dnnl_stream_destroy)                     \
  X(dnnl_stream_wait)                        \
  X(dnnl_memory_desc_init_by_strides)        \
  X(dnnl_memory_desc_get_size)               \
  X(dnnl_memory_create)                      \
  X(dnnl_memory_destroy)                     \
  X(dnnl_matmul_desc_init)                   \
  X(dnnl_primitive_attr_create)              \
  X(dnnl_primitive_attr_destroy)             \
  X(dnnl_primitive_attr_set_output_scales)   \
  X(dnnl_primitive_attr_set_post_ops)        \
  X(dnnl_primitive_attr_set_scratchpad_mode) \
  X(dnnl_post_ops_create)                    \
  X(dnnl_post_ops_destroy)                   \
  X(dnnl_post_ops_append_sum)                \
  X(dnnl_primitive_desc_create)              \
  X(dnnl_primitive_desc_destroy)             \
  X(dnnl_primitive_desc_query)               \
  X(dnnl_primitive_desc_query_md)            \
  X(dnnl_primitive_create)                   \
  X(dnnl_primitive_destroy)                  \
  X(dnnl_primitive_execute)                  \
  X(dnnl_set_max_cpu_isa)

struct OneDnn {
  const char* unavailable_reason = nullptr;
#define XINHE_DECLARE(name) decltype(&::name) name = nullptr;
  XINHE_ONEDNN_FUNCTIONS(XINHE_DECLARE)
#undef XINHE_DECLARE
  void (*omp_set_num_threads)(int) = nullptr;
  dnnl_engine_t engine = nullptr;
  std::string version;
};

// oneDNN's ISA cap for XINHE_CPU_MAX_ISA (its kernels need at least SSE4.1).
bool onednn_isa_cap(CpuIsa cap, dnnl_cpu_isa_t* isa) {
  switch (cap) {
    case CpuIsa::kBaseline:
      return false;
    case CpuIsa::kAvx2:
      *isa = dnnl_cpu_isa_avx2;
      return true;
    case CpuIsa::kAvx512:
      *isa = dnnl_cpu_isa_avx512_core;
      return true;
    case CpuIsa::kAvx512Bf16:
    case CpuIsa::kAvx512Fp16:
      *isa = dnnl_cpu_isa_avx512_core_bf16;
      return true;
    default:
      *isa = dnnl_cpu_isa_all;
      return true;
  }
}

// Loaded once and kept for the life of the process (never dlclose'd: OpenMP's threads
// outlive any one caller).
OneDnn& onednn() {
  static OneDnn* lib = [] {
    auto* l = new OneDnn();
    void* handle = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      l->unavailable_reason = "libdnnl.so.2 not found (Debian: libdnnl2)";
      return l;
    }
#define XINHE_RESOLVE(name)                                                     \
  l->name = reinterpret_cast<decltype(l->name)>(dlsym(handle, #name));          \
  if (l->name == nullptr) {                                                     \
    l->unavailable_reason = "libdnnl.so.2 lacks " #name " (not the 2.x C API)"; \
    return l;                                                                   \
  }
    XINHE_ONEDNN_FUNCTIONS(XINHE_RESOLVE)
#undef XINHE_RESOLVE
    // dlsym on the handle also searches its dependencies: the libgomp oneDNN runs on.
    l->omp_set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "omp_set_num_threads"));
    const dnnl_version_t* v = l->dnnl_version();
    char text[128];
    std::snprintf(text, sizeof text, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
                  v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other CPU runtime");
    l->version = text;
    const char* env = std::getenv("XINHE_CPU_MAX_ISA");
    dnnl_cpu_isa_t isa = dnnl_cpu_isa_all;
    if (env != nullptr && *env != '\0') {
      if (!onednn_isa_cap(cpu_max_isa(), &isa)) {
        l->unavailable_reason = "XINHE_CPU_MAX_ISA=baseline excludes oneDNN (it needs SSE4.1)";
        return l;
      }
      l->dnnl_set_max_cpu_isa(isa);  // must precede the first primitive
    }
    if (l->dnnl_engine_create(&l->engine, dnnl_cpu, 0) != dnnl_success) {
      l->unavailable_reason = "oneDNN could not create a CPU engine";
    }
    return l;
  }();
  return *lib;
}

dnnl_data_type_t dnnl_type(xinhe_dtype_t t) {
  switch (t) {
    case XINHE_DTYPE_F16:
      return dnnl_f16;
    case XINHE_DTYPE_BF16:
      return dnnl_bf16;
    default:
      return dnnl_f32;
  }
}

// A primitive for one (description, alpha, beta, threads), with its scratchpad size.
struct Matmul {
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_primitive_t primitive = nullptr;
  size_t scratchpad_bytes = 0;
  ~Matmul() {
    OneDnn& lib = onednn();
    if (primitive != nullptr) lib.dnnl_primitive_destroy(primitive);
    if (pd != nullptr) lib.dnnl_primitive_desc_destroy(pd);
  }
};

struct Key {
  xinhe_gemm_desc_t desc;
  float alpha, beta;
  int threads;
  bool operator==(const Key& o) const {
    return std::memcmp(&desc, &o.desc, sizeof desc) == 0 && alpha == o.alpha && beta == o.beta &&
           threads == o.threads;
  }
};

// Operand tensors as oneDNN memory descriptors.
struct Descs {
  dnnl_memory_desc_t src, weights, dst;
};

bool make_descs(OneDnn& lib, const xinhe_gemm_desc_t& d, Descs* out) {
  // op(A)(i, k) at a + batch*stride_a + i*a_i + k*a_k; likewise B and C.
  const dnnl_dim_t a_i = d.trans_a ? 1 : d.lda, a_k = d.trans_a ? d.lda : 1;
  const dnnl_dim_t b_k = d.trans_b ? 1 : d.ldb, b_j = d.trans_b ? d.ldb : 1;
  // A batch dimension of 1 (batch 1, or a broadcast operand) gets a dense stride: its value is
  // never used, and oneDNN checks strides for consistency.
  const bool a_one = d.stride_a == 0 || d.batch == 1, b_one = d.stride_b == 0 || d.batch == 1;
  const dnnl_dims_t src_dims = {a_one ? 1 : d.batch, d.m, d.k};
  const dnnl_dims_t src_strides = {a_one ? d.m * d.k : d.stride_a, a_i, a_k};
  const dnnl_dims_t wei_dims = {b_one ? 1 : d.batch, d.k, d.n};
  const dnnl_dims_t wei_strides = {b_one ? d.k * d.n : d.stride_b, b_k, b_j};
  const dnnl_dims_t dst_dims = {d.batch, d.m, d.n};
  const dnnl_dims_t dst_strides = {d.batch == 1 ? d.m * d.ldc : d.stride_c, d.ldc, 1};
  return lib.dnnl_memory_desc_init_by_strides(&out->src, 3, src_dims, dnnl_type(d.ab_dtype),
                                              src_strides) == dnnl_success &&
         lib.dnnl_memory_desc_init_by_strides(&out->weights, 3, wei_dims, dnnl_type(d.ab_dtype),
                                              wei_strides) == dnnl_success &&
         lib.dnnl_memory_desc_init_by_strides(&out->dst, 3, dst_dims, dnnl_type(d.c_dtype),
                                              dst_strides) == dnnl_success;
}

// Creates the primitive; nullptr with *why when oneDNN has no implementation.
std::shared_ptr<Matmul> create_matmul(const Key& key, const char** why) {
  OneDnn& lib = onednn();
  if (lib.omp_set_num_threads != nullptr) lib.omp_set_num_threads(std::max(key.threads, 1));
  Descs descs;
  if (!make_descs(lib, key.desc, &descs)) {
    *why = "oneDNN rejects the operand layout";
    return nullptr;
  }
  dnnl_matmul_desc_t op;
  if (lib.dnnl_matmul_desc_init(&op, &descs.src, &descs.weights, nullptr, &descs.dst) !=
      dnnl_success) {
    *why = "oneDNN rejects the matmul description";
    return nullptr;
  }
  dnnl_primitive_attr_t attr = nullptr;
  dnnl_post_ops_t post_ops = nullptr;
  auto matmul = std::make_shared<Matmul>();
  bool ok =
      lib.dnnl_primitive_attr_create(&attr) == dnnl_success &&
      lib.dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
  if (ok && key.alpha != 1.0f) {
    ok = lib.dnnl_primitive_attr_set_output_scales(attr, 1, 0, &key.alpha) == dnnl_success;
  }
  if (ok && key.beta != 0.0f) {
    ok = lib.dnnl_post_ops_create(&post_ops) == dnnl_success &&
         lib.dnnl_post_ops_append_sum(post_ops, key.beta) == dnnl_success &&
         lib.dnnl_primitive_attr_set_post_ops(attr, post_ops) == dnnl_success;
  }
  if (ok) {
    ok =
        lib.dnnl_primitive_desc_create(&matmul->pd, &op, attr, lib.engine, nullptr) == dnnl_success;
    if (!ok) matmul->pd = nullptr;
  }
  if (post_ops != nullptr) lib.dnnl_post_ops_destroy(post_ops);
  if (attr != nullptr) lib.dnnl_primitive_attr_destroy(attr);
  if (!ok) {
    // oneDNN 2.x runs bf16 only from AVX-512 (avx512_core) up; say so rather than blame the
    // description (XINHE_CPU_MAX_ISA caps oneDNN's ISA too).
    *why = key.desc.ab_dtype == XINHE_DTYPE_F16 ? "this oneDNN has no f16 matmul on this CPU"
           : key.desc.ab_dtype == XINHE_DTYPE_BF16 && !cpu_has(CpuFeature::kAvx512)
               ? "this oneDNN has no bf16 matmul on this CPU (oneDNN 2.x needs AVX-512 for bf16)"
               : "oneDNN has no matmul implementation for this description";
    return nullptr;
  }
  const dnnl_memory_desc_t* scratch =
      lib.dnnl_primitive_desc_query_md(matmul->pd, dnnl_query_scratchpad_md, 0);
  matmul->scratchpad_bytes = scratch != nullptr ? lib.dnnl_memory_desc_get_size(scratch) : 0;
  if (lib.dnnl_primitive_create(&matmul->primitive, matmul->pd) != dnnl_success) {
    matmul->primitive = nullptr;
    *why = "oneDNN could not create the matmul primitive";
    return nullptr;
  }
  return matmul;
}

// Most recently used first; a handful of entries covers a model's GEMM shapes per thread count.
class MatmulCache {
 public:
  std::shared_ptr<Matmul> get(const Key& key, const char** why) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].first == key) {
          auto hit = entries_[i];
          entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
          entries_.insert(entries_.begin(), hit);
          return hit.second;
        }
      }
    }
    std::shared_ptr<Matmul> made = create_matmul(key, why);
    if (made == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.insert(entries_.begin(), {key, made});
    if (entries_.size() > kCapacity) entries_.pop_back();
    return made;
  }

 private:
  static constexpr size_t kCapacity = 32;
  std::mutex mutex_;
  std::vector<std::pair<Key, std::shared_ptr<Matmul> > > entries_;
};

MatmulCache& cache() {
  static MatmulCache* c = new MatmulCache();  // never destroyed: no teardown-order hazards
  return *c;
}

Key key_of(const xinhe_gemm_desc_t& d, float alpha, float beta, int threads) {
  Key key;
  std::memset(&key, 0, sizeof key);  // padding bytes take part in the comparison
  key.desc = d;
  key.alpha = alpha;
  key.beta = beta;
  key.threads = threads;
  return key;
}

constexpr uint64_t kAlign = 64;

}  // namespace

const char* onednn_unavailable_reason() { return onednn().unavailable_reason; }

const char* onednn_version() {
  OneDnn& lib = onednn();
  return lib.version.empty() ? lib.unavailable_reason : lib.version.c_str();
}

const char* onednn_unsupported_reason(const xinhe_gemm_desc_t& d) {
  if (const char* why = onednn_unavailable_reason()) return why;
  if (d.ab_dtype == XINHE_DTYPE_F16) return "this oneDNN has no f16 matmul on x86";
  const char* why = nullptr;
  // alpha 1, beta 0 on one thread stands for the family; other values only add attributes.
  return cache().get(key_of(d, 1.0f, 0.0f, 1), &why) != nullptr ? nullptr : why;
}

uint64_t onednn_workspace_size(const xinhe_gemm_desc_t& d, int threads) {
  const char* why = nullptr;
  uint64_t bytes = 0;
  // The sum post-op (beta != 0) may change the scratchpad; take the larger of the two forms.
  for (float beta : {0.0f, 1.0f}) {
    auto m = cache().get(key_of(d, 1.0f, beta, threads), &why);
    if (m != nullptr) bytes = std::max<uint64_t>(bytes, m->scratchpad_bytes);
  }
  return bytes == 0 ? 0 : bytes + kAlign;
}

bool onednn_gemm(const GemmProblem& p, int threads) {
  OneDnn& lib = onednn();
  const char* why = nullptr;
  auto m = cache().get(key_of(p.desc, p.alpha, p.beta, threads), &why);
  if (m == nullptr) return false;
  const uint64_t workspace_bytes = onednn_workspace_size(p.desc, threads);
  if (m->scratchpad_bytes > 0 &&
      (p.workspace == nullptr || m->scratchpad_bytes + kAlign > workspace_bytes)) {
    return false;
  }
  if (lib.omp_set_num_threads != nullptr) lib.omp_set_num_threads(std::max(threads, 1));
  Descs descs;
  if (!make_descs(lib, p.desc, &descs)) return false;
  dnnl_stream_t stream = nullptr;
  if (lib.dnnl_stream_create(&stream, lib.engine, dnnl_stream_default_flags) != dnnl_success) {
    return false;
  }
  dnnl_memory_t src = nullptr, wei = nullptr, dst = nullptr, scratch = nullptr;
  bool ok = lib.dnnl_memory_create(&src, &descs.src, lib.engine, const_cast<void*>(p.a)) ==
                dnnl_success &&
            lib.dnnl_memory_create(&wei, &descs.weights, lib.engine, const_cast<void*>(p.b)) ==
                dnnl_success &&
            lib.dnnl_memory_create(&dst, &descs.dst, lib.engine, p.c) == dnnl_success;
  std::vector<dnnl_exec_arg_t> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (ok && m->scratchpad_bytes > 0) {
    const dnnl_memory_desc_t* md =
        lib.dnnl_primitive_desc_query_md(m->pd, dnnl_query_scratchpad_md, 0);
    const auto base = reinterpret_cast<uintptr_t>(p.workspace);
    void* aligned = reinterpret_cast<void*>((base + kAlign - 1) / kAlign * kAlign);
    ok = md != nullptr && lib.dnnl_memory_create(&scratch, md, lib.engine, aligned) == dnnl_success;
    args.push_back({DNNL_ARG_SCRATCHPAD, scratch});
  }
  if (ok) {
    ok = lib.dnnl_primitive_execute(m->primitive, stream, static_cast<int>(args.size()),
                                    args.data()) == dnnl_success &&
         lib.dnnl_stream_wait(stream) == dnnl_success;
  }
  for (dnnl_memory_t mem : {src, wei, dst, scratch}) {
    if (mem != nullptr) lib.dnnl_memory_destroy(mem);
  }
  lib.dnnl_stream_destroy(stream);
  return ok;
}

#endif  // XINHE_HAVE_ONEDNN

}  // namespace xinhe::kernels::cpu
