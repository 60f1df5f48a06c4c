// Flash attention compiled for AVX2 + FMA (see attention_flash.inc). Built with -mavx2 -mfma
// and -ffp-contract=fast so that acc += a * b becomes one FMA; selected only on CPUs that
// report both features.
#define XINHE_FLASH_NAMESPACE flash_avx2
#define XINHE_FLASH_VECTOR_FLOATS 8
#include "attention_flash.inc"
