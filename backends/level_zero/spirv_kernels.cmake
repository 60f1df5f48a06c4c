# The Level Zero backend's kernels: the OpenCL backend's OpenCL C sources (kernels/gemm/opencl,
# kernels/attention/opencl), compiled at build time to SPIR-V, one module per variant, and
# embedded into the plugin. A variant is the OpenCL build-options string the OpenCL backend
# would pass to clBuildProgram for the same op (dtype codes, transposes, tile parameters), so
# both backends specialise one source the same way; the backend finds a module by (program,
# options) and falls back to the reference kernels when no variant matches.
#
# Pipeline per variant: clang-15 -cc1 -triple spir64 (OpenCL C 1.2, typed pointers because
# llvm-spirv 15 needs them, -O0 without optnone because llvm-spirv 15 cannot translate the
# `freeze` instructions LLVM's optimizer inserts; the driver's compiler optimizes), then
# llvm-spirv-15, then spirv-val. Any step failing fails the build.
#
# The variant set (finite and documented in docs/level_zero.md):
#   gemm_reference       every (A/B, C) dtype pair x transpose: 5 x 4 = 20
#   gemm_tiled           the same 20 with the GPU tile parameters of the OpenCL backend's
#                        defaults for GPUs (MWI=4 NWI=4 VW=4 KWI=1 MWG=64 NWG=64 KWG=16,
#                        local-memory tiles, no packing)
#   attention_reference  dtype x causal x LSE: 3 x 2 x 2 = 12
#   attention_flash      the same 12 x head_dim in {64, 128}, contiguous d, with the OpenCL
#                        GPU defaults (QWI=1 BKV=16 DV=4; work-group 64) = 24
set(XINHE_LEVEL_ZERO_GEMM_TILED_PARAMS
  -DMWI=4 -DNWI=4 -DVW=4 -DKWI=1 -DMWG=64 -DNWG=64 -DKWG=16 -DUSE_LOCAL=1 -DPACK=0)
set(XINHE_LEVEL_ZERO_FLASH_HEAD_DIMS 64 128)
set(XINHE_LEVEL_ZERO_FLASH_PARAMS -DQWI=1 -DBKV=16 -DCONTIG_D=1 -DDV=4)

# xinhe_level_zero_spirv_kernels(<target>): compiles every variant, embeds it, and adds the
# generated sources (images and the variant table) to <target>.
function(xinhe_level_zero_spirv_kernels target)
  set(kernel_root ${PROJECT_SOURCE_DIR}/kernels)
  set(prelude ${kernel_root}/gemm/opencl/xinhe_dtype.cl)
  set(source_gemm_tiled ${kernel_root}/gemm/opencl/gemm_tiled.cl)
  set(source_gemm_reference ${kernel_root}/gemm/opencl/gemm_reference.cl)
  set(source_attention_flash ${kernel_root}/attention/opencl/attention_flash.cl)
  set(source_attention_reference ${kernel_root}/attention/opencl/attention_reference.cl)

  # "program|options" with the options space-separated, as the OpenCL backend writes them.
  list(JOIN XINHE_LEVEL_ZERO_GEMM_TILED_PARAMS " " tiled_params)
  list(JOIN XINHE_LEVEL_ZERO_FLASH_PARAMS " " flash_params)
  set(variants "")
  foreach(pair "0;0" "1;1" "1;0" "2;2" "2;0")
    list(GET pair 0 ab)
    list(GET pair 1 c)
    foreach(ta 0 1)
      foreach(tb 0 1)
        set(common "-cl-std=CL1.2 -DAB_DTYPE=${ab} -DC_DTYPE=${c} -DTRANS_A=${ta} -DTRANS_B=${tb}")
        list(APPEND variants "gemm_reference|${common}")
        list(APPEND variants "gemm_tiled|${common} ${tiled_params}")
      endforeach()
    endforeach()
  endforeach()
  foreach(dtype 0 1 2)
    foreach(causal 0 1)
      foreach(lse 0 1)
        set(common "-cl-std=CL1.2 -DDTYPE=${dtype} -DCAUSAL=${causal} -DWITH_LSE=${lse}")
        list(APPEND variants "attention_reference|${common}")
        foreach(d IN LISTS XINHE_LEVEL_ZERO_FLASH_HEAD_DIMS)
          list(APPEND variants "attention_flash|${common} -DHEAD_DIM=${d} ${flash_params}")
        endforeach()
      endforeach()
    endforeach()
  endforeach()

  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/spirv)
  file(MAKE_DIRECTORY ${out_dir})
  set(images "")
  set(table_externs "")
  set(table_rows "")
  set(index 0)
  foreach(variant IN LISTS variants)
    string(FIND "${variant}" "|" bar)
    string(SUBSTRING "${variant}" 0 ${bar} program)
    math(EXPR start "${bar} + 1")
    string(SUBSTRING "${variant}" ${start} -1 options_text)
    separate_arguments(options UNIX_COMMAND "${options_text}")
    set(name ${program}_${index})
    set(bc ${out_dir}/${name}.bc)
    set(spv ${out_dir}/${name}.spv)
    set(embedded ${out_dir}/${name}.c)
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${XINHE_SPIRV_CLANG} -cc1 -triple spir64-unknown-unknown -finclude-default-header
              -no-opaque-pointers -emit-llvm-bc -O0 -disable-O0-optnone -include ${prelude}
              ${options} -o ${bc} ${source_${program}}
      COMMAND ${XINHE_LLVM_SPIRV} ${bc} -o ${spv}
      COMMAND ${XINHE_SPIRV_VAL} ${spv}
      DEPENDS ${prelude} ${source_${program}}
      COMMENT "SPIR-V ${name}: ${options_text}"
      VERBATIM)
    add_custom_command(
      OUTPUT ${embedded}
      COMMAND ${CMAKE_COMMAND} -DINPUT=${spv} -DOUTPUT=${embedded} -DSYMBOL=xinhe_ze_spirv_${name}
              -P ${PROJECT_SOURCE_DIR}/backends/cuda/embed_binary.cmake
      DEPENDS ${spv} ${PROJECT_SOURCE_DIR}/backends/cuda/embed_binary.cmake
      VERBATIM)
    list(APPEND images ${embedded})
    string(APPEND table_externs
      "extern const unsigned char xinhe_ze_spirv_${name}[];\n"
      "extern const size_t xinhe_ze_spirv_${name}_size;\n")
    string(APPEND table_rows
      "    {\"${program}\", \"${options_text}\", xinhe_ze_spirv_${name}, &xinhe_ze_spirv_${name}_size},\n")
    math(EXPR index "${index} + 1")
  endforeach()

  set(table ${out_dir}/spirv_table.cpp)
  file(CONFIGURE OUTPUT ${table} CONTENT
"// Generated by backends/level_zero/spirv_kernels.cmake; do not edit.
#include <cstddef>
#include <cstring>
#include <string>

#include \"module_cache.h\"

extern \"C\" {
${table_externs}}

namespace xinhe::level_zero {
namespace {
const SpirvProgram kPrograms[] = {
${table_rows}};
}  // namespace

const SpirvProgram* spirv_programs(size_t* count) {
  *count = sizeof(kPrograms) / sizeof(kPrograms[0]);
  return kPrograms;
}

const SpirvProgram* find_spirv_program(const std::string& program, const std::string& options) {
  for (const SpirvProgram& p : kPrograms)
    if (program == p.program && options == p.options) return &p;
  return nullptr;
}

}  // namespace xinhe::level_zero
")
  add_library(${target}_spirv STATIC ${images})
  set_target_properties(${target}_spirv PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                   C_VISIBILITY_PRESET hidden)
  target_sources(${target} PRIVATE ${table})
  target_link_libraries(${target} PRIVATE ${target}_spirv)
endfunction()
