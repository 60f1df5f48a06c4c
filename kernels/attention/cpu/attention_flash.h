// Internal: the fused flash-attention forward, compiled once per instruction-set target from
// attention_flash.inc (attention_flash_avx2.cpp with AVX2+FMA, attention_flash_generic.cpp for
// the baseline ISA). attention_cpu.cpp lists them; nothing else includes this header.
#pragma once

#include <cstdint>

#include "attention_cpu.h"

namespace xinhe::kernels::cpu {

#define XINHE_DECLARE_FLASH_TARGET(ns)                                                      \
  namespace ns {                                                                            \
  uint64_t workspace_size(const xinhe_attention_desc_t& desc, int threads);                 \
  void run(const AttentionProblem& problem, Parallel& parallel);                            \
  }

XINHE_DECLARE_FLASH_TARGET(flash_avx2)
XINHE_DECLARE_FLASH_TARGET(flash_generic)

#undef XINHE_DECLARE_FLASH_TARGET

}  // namespace xinhe::kernels::cpu
