/* The kernel images the GPU backend embeds, for the fakegpu test plugin: its vendor layer
 * (fake_gpu_driver.h) never reads them. */
const unsigned char xinhe_gpu_gemm_image[] = {0};
const unsigned char xinhe_gpu_attention_image[] = {0};
