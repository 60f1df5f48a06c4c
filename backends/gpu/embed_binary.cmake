# Script mode (cmake -P): writes INPUT's bytes as a C array named SYMBOL into OUTPUT, so a plugin
# carries its kernel image (CUDA fat binary, HIP code-object bundle) inside the .so.
#   cmake -DINPUT=gemm.fatbin -DOUTPUT=gemm_image.c -DSYMBOL=xinhe_gpu_gemm_image -P embed_binary.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# One line per 32 bytes keeps the generated file readable for diff tools and compilers.
string(REGEX REPLACE "((0x..,){32})" "\\1\n  " bytes "${bytes}")
file(WRITE "${OUTPUT}"
  "/* Generated from ${INPUT} by embed_binary.cmake; do not edit. */\n"
  "#include <stddef.h>\n"
  "/* Driver loaders read the image in place; 64-byte alignment satisfies all of them. */\n"
  "__attribute__((aligned(64))) const unsigned char ${SYMBOL}[] = {\n  ${bytes}0x00};\n"
  "const size_t ${SYMBOL}_size = ${size};\n")
