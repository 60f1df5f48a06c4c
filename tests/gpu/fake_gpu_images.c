/* The kernel images the GPU backend embeds, for the fakegpu test plugin: its vendor layer
 * (fake_gpu_driver.h) never reads them, only tells them apart (XINHE_FAKEGPU_FAIL_IMAGE). */
const unsigned char xinhe_gpu_gemm_image[] = {0};
const unsigned char xinhe_gpu_attention_image[] = {0};

/* The calling thread's current fake context (0: none; device i's is i + 1), as a CUDA thread has
 * a current context. Exported so that tests can set another one and read it back. */
static _Thread_local int current_context = 0;

__attribute__((visibility("default"))) int xinhe_fakegpu_current_context(void) {
  return current_context;
}

__attribute__((visibility("default"))) void xinhe_fakegpu_set_current_context(int context) {
  current_context = context;
}
