// XINHE_CPU_MAX_ISA: its parser, and that a valid cap keeps every kernel above it out of
// dispatch with a reason that names the variable. The cap is read once per process, so the
// capped checks run in their own ctest entry (xinhe_cpu_tests.max_isa_avx2, with
// XINHE_CPU_MAX_ISA=avx2); in the plain run they skip. The backend's refusal of a bad value is
// in cpu_backend_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "attention_cpu.h"
#include "cpu_features.h"
#include "gemm_cpu.h"

namespace {

using xinhe::kernels::CpuFeature;
using xinhe::kernels::CpuIsa;

TEST(CpuIsaCap, ParsesTheLevelNames) {
  CpuIsa isa{};
  std::string error;
  EXPECT_TRUE(xinhe::kernels::parse_cpu_max_isa("avx2", &isa, &error));
  EXPECT_EQ(isa, CpuIsa::kAvx2);
  EXPECT_TRUE(xinhe::kernels::parse_cpu_max_isa("AMX_BF16", &isa, &error));
  EXPECT_EQ(isa, CpuIsa::kAmxBf16);
  for (const char* bad : {"", "avx3", "avx512f", "sse4"}) {
    EXPECT_FALSE(xinhe::kernels::parse_cpu_max_isa(bad, &isa, &error)) << bad;
    EXPECT_NE(error.find("avx512_bf16"), std::string::npos) << error;
  }
}

bool names_feature_above_avx2(const char* arch) {
  return arch != nullptr && (std::strstr(arch, "avx512") != nullptr || std::strstr(arch, "amx") != nullptr);
}

TEST(CpuIsaCap, CappedKernelsStayOutWithTheReason) {
  const char* env = std::getenv("XINHE_CPU_MAX_ISA");
  if (env == nullptr || std::strcmp(env, "avx2") != 0) {
    GTEST_SKIP() << "runs in the ctest entry that sets XINHE_CPU_MAX_ISA=avx2";
  }
  EXPECT_EQ(xinhe::kernels::cpu_max_isa(), CpuIsa::kAvx2);
  for (CpuFeature f : {CpuFeature::kAvx512, CpuFeature::kAvx512Bf16, CpuFeature::kAmxBf16}) {
    const char* why = xinhe::kernels::cpu_feature_unavailable(f);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("XINHE_CPU_MAX_ISA=avx2"), std::string::npos) << why;
  }
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.m = d.n = d.k = d.lda = d.ldb = d.ldc = 64;
  d.batch = 1;
  for (xinhe_dtype_t dtype : {XINHE_DTYPE_F32, XINHE_DTYPE_BF16, XINHE_DTYPE_F16}) {
    d.ab_dtype = d.c_dtype = dtype;
    for (const auto& impl : xinhe::kernels::cpu::gemm_impls()) {
      if (!names_feature_above_avx2(impl.arch)) continue;
      EXPECT_NE(impl.unsupported_reason(d), nullptr) << impl.label();
    }
  }
  xinhe_attention_desc_t a{};
  a.struct_size = sizeof(a);
  a.dtype = XINHE_DTYPE_F32;
  a.batch = a.heads_q = a.heads_kv = 1;
  a.seq_q = a.seq_kv = 16;
  a.head_dim = 64;
  for (const auto& impl : xinhe::kernels::cpu::attention_impls()) {
    if (!names_feature_above_avx2(impl.arch)) continue;
    EXPECT_NE(impl.unsupported_reason(a), nullptr) << impl.label();
  }
  if (xinhe::kernels::cpu_has(CpuFeature::kAvx2)) {
    d.ab_dtype = d.c_dtype = XINHE_DTYPE_F32;
    for (const auto& impl : xinhe::kernels::cpu::gemm_impls()) {
      if (impl.unsupported_reason(d) == nullptr) {
        EXPECT_EQ(impl.label(), "packed_avx2");
        break;
      }
    }
  }
}

// Under a cap OpenBLAS is kept when the kernel set it reports fits (an AVX2 machine's Haswell
// or Zen set under avx2) and declined, naming the set, only when that set needs more.
TEST(CpuIsaCap, OpenBlasIsDeclinedOnlyAboveTheCap) {
  const char* env = std::getenv("XINHE_CPU_MAX_ISA");
  if (env == nullptr || std::strcmp(env, "avx2") != 0) {
    GTEST_SKIP() << "runs in the ctest entry that sets XINHE_CPU_MAX_ISA=avx2";
  }
  xinhe_gemm_desc_t d{};
  d.struct_size = sizeof(d);
  d.m = d.n = d.k = d.lda = d.ldb = d.ldc = 64;
  d.batch = 1;
  d.ab_dtype = d.c_dtype = XINHE_DTYPE_F32;
  for (const auto& impl : xinhe::kernels::cpu::gemm_impls()) {
    if (impl.label() != "openblas") continue;
    const char* why = impl.unsupported_reason(d);
    if (why == nullptr || std::strstr(why, "libopenblas.so.0") != nullptr) return;
    const std::string reason = why;
    EXPECT_NE(reason.find("XINHE_CPU_MAX_ISA=avx2 excludes OpenBLAS"), std::string::npos) << why;
    const bool above = reason.find("needs avx512") != std::string::npos ||
                       reason.find("needs amx") != std::string::npos ||
                       reason.find("is not known") != std::string::npos ||
                       reason.find("does not say") != std::string::npos;
    EXPECT_TRUE(above) << why;
    if (reason.find("needs ") != std::string::npos) {
      EXPECT_NE(reason.find("OPENBLAS_CORETYPE=Haswell"), std::string::npos) << why;
    }
    return;
  }
  ADD_FAILURE() << "no openblas entry in the CPU GEMM list";
}

}  // namespace
