// CPU feature detection (see cpu_features.h). Compiled with the baseline flags: cpuid and
// xgetbv are issued through inline assembly, so nothing here needs a wider -m flag.
#include "cpu_features.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace xinhe::kernels {
namespace {

constexpr const char* kIsaNames[] = {"baseline",    "avx2",     "avx512",  "avx512_bf16",
                                     "avx512_fp16", "amx_bf16", "amx_fp16"};
constexpr int kIsaCount = static_cast<int>(sizeof(kIsaNames) / sizeof(kIsaNames[0]));

// What the hardware and OS offer, per level; the reason is static text or nullptr.
struct Hardware {
  const char* missing[kIsaCount] = {};
};

#if defined(__x86_64__)
struct CpuidRegs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(unsigned leaf, unsigned subleaf) {
  CpuidRegs r;
  if (static_cast<unsigned>(__get_cpuid_max(0, nullptr)) < leaf) return r;  // int in clang, unsigned in GCC
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

bool bit(unsigned value, int n) { return ((value >> n) & 1u) != 0; }

// Linux keeps AMX tile data disabled (XFD) until a process asks for it.
const char* request_amx_permission() {
  constexpr int kArchGetXcompPerm = 0x1022;
  constexpr int kArchReqXcompPerm = 0x1023;
  constexpr int kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
    return errno == EINVAL ? "the kernel refused AMX tile data (arch_prctl(ARCH_REQ_XCOMP_PERM, "
                             "XFEATURE_XTILEDATA): EINVAL; Linux >= 5.16 is needed)"
                           : "the kernel refused AMX tile data (arch_prctl(ARCH_REQ_XCOMP_PERM, "
                             "XFEATURE_XTILEDATA) failed)";
  }
  unsigned long long granted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &granted) != 0 ||
      ((granted >> kXfeatureXtiledata) & 1u) == 0) {
    return "the kernel did not grant AMX tile data (ARCH_GET_XCOMP_PERM)";
  }
  return nullptr;
}

Hardware detect() {
  Hardware hw;
  const CpuidRegs l1 = cpuid(1, 0);
  const CpuidRegs l7 = cpuid(7, 0);
  const CpuidRegs l71 = cpuid(7, 1);
  const bool osxsave = bit(l1.ecx, 27);
  const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;          // SSE and AVX state
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;     // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG and XTILEDATA

  const char* avx2 = nullptr;
  if (!(bit(l1.ecx, 28) && bit(l7.ebx, 5) && bit(l1.ecx, 12) && bit(l1.ecx, 29))) {
    avx2 = "CPU lacks AVX2, FMA or F16C";
  } else if (!os_avx) {
    avx2 = "the OS does not save AVX state (XCR0)";
  }
  const char* avx512 = avx2;
  if (avx512 == nullptr) {
    if (!(bit(l7.ebx, 16) && bit(l7.ebx, 17) && bit(l7.ebx, 30) && bit(l7.ebx, 31))) {
      avx512 = "CPU lacks AVX-512 F/BW/VL/DQ";
    } else if (!os_avx512) {
      avx512 = "the OS does not save AVX-512 state (XCR0)";
    }
  }
  const char* bf16 = avx512 != nullptr  ? avx512
                     : !bit(l71.eax, 5) ? "CPU lacks AVX512_BF16"
                                        : nullptr;
  const char* fp16 = avx512 != nullptr  ? avx512
                     : !bit(l7.edx, 23) ? "CPU lacks AVX512_FP16"
                                        : nullptr;
  // The AMX kernels also use AVX-512 for packing and the C epilogue.
  const char* amx = avx512;
  if (amx == nullptr) {
    if (!(bit(l7.edx, 24) && bit(l7.edx, 22))) {
      amx = "CPU lacks AMX-TILE/AMX-BF16";
    } else if (!os_amx) {
      amx = "the OS does not enable AMX tile state (XCR0)";
    } else {
      amx = request_amx_permission();
    }
  }
  const char* amx_fp16 = amx != nullptr ? amx : !bit(l71.eax, 21) ? "CPU lacks AMX-FP16" : nullptr;

  hw.missing[static_cast<int>(CpuIsa::kAvx2)] = avx2;
  hw.missing[static_cast<int>(CpuIsa::kAvx512)] = avx512;
  hw.missing[static_cast<int>(CpuIsa::kAvx512Bf16)] = bf16;
  hw.missing[static_cast<int>(CpuIsa::kAvx512Fp16)] = fp16;
  hw.missing[static_cast<int>(CpuIsa::kAmxBf16)] = amx;
  hw.missing[static_cast<int>(CpuIsa::kAmxFp16)] = amx_fp16;
  return hw;
}
#else
Hardware detect() {
  Hardware hw;
  for (int i = 1; i < kIsaCount; ++i) hw.missing[i] = "not an x86-64 CPU";
  return hw;
}
#endif

const Hardware& hardware() {
  static const Hardware hw = detect();
  return hw;
}

// "XINHE_CPU_MAX_ISA=avx2 excludes avx512_bf16": built once per level for the cap in effect.
struct CapReasons {
  std::string text[kIsaCount];
};

const CapReasons& cap_reasons() {
  static const CapReasons reasons = [] {
    CapReasons r;
    const char* env = std::getenv("XINHE_CPU_MAX_ISA");
    for (int i = 0; i < kIsaCount; ++i) {
      r.text[i] =
          std::string("XINHE_CPU_MAX_ISA=") + (env ? env : "") + " excludes " + kIsaNames[i];
    }
    return r;
  }();
  return reasons;
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount ? kIsaNames[i] : "unknown";
}

bool parse_cpu_max_isa(const char* text, CpuIsa* out_isa, std::string* error) {
  std::string lower = text != nullptr ? text : "";
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < kIsaCount; ++i) {
    if (lower == kIsaNames[i]) {
      *out_isa = static_cast<CpuIsa>(i);
      return true;
    }
  }
  std::string names;
  for (int i = 0; i < kIsaCount; ++i) names += std::string(i ? ", " : "") + kIsaNames[i];
  *error = "XINHE_CPU_MAX_ISA='" + std::string(text != nullptr ? text : "") +
           "' is not one of: " + names;
  return false;
}

CpuIsa cpu_max_isa() {
  static const CpuIsa cap = [] {
    const char* env = std::getenv("XINHE_CPU_MAX_ISA");
    if (env == nullptr || *env == '\0') return CpuIsa::kAmxFp16;
    CpuIsa isa = CpuIsa::kBaseline;
    std::string error;
    return parse_cpu_max_isa(env, &isa, &error) ? isa : CpuIsa::kBaseline;
  }();
  return cap;
}

bool cpu_hardware_has(CpuFeature feature) {
  return hardware().missing[static_cast<int>(feature)] == nullptr;
}

const char* cpu_feature_unavailable(CpuFeature feature) {
  const int level = static_cast<int>(feature);
  if (level > static_cast<int>(cpu_max_isa())) return cap_reasons().text[level].c_str();
  return hardware().missing[level];
}

bool cpu_has(CpuFeature feature) { return cpu_feature_unavailable(feature) == nullptr; }

CpuIsa cpu_best_isa() {
  int best = 0;
  for (int i = 1; i < kIsaCount; ++i) {
    if (cpu_feature_unavailable(static_cast<CpuFeature>(i)) == nullptr) best = i;
  }
  return static_cast<CpuIsa>(best);
}

}  // namespace xinhe::kernels
