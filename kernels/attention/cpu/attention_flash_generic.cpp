// Flash attention for the baseline x86-64 / any ISA (see attention_flash.inc): the same
// source as the AVX2 build with 4-wide vectors: SSE2 on any x86-64, NEON on Arm.
#define XINHE_FLASH_NAMESPACE flash_generic
#define XINHE_FLASH_VECTOR_FLOATS 4
#include "attention_flash.inc"
