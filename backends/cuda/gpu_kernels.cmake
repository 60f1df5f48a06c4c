# Ahead-of-time compilation of the CUDA-dialect kernels (kernels/gemm/cuda, kernels/attention/cuda)
# into one device image per op, embedded into a plugin as xinhe_gpu_<op>_image (with its size,
# xinhe_gpu_<op>_image_size). Shared by the
# CUDA plugin (nvcc -fatbin) and the HIP plugin (hipcc --genco, same sources via the shim in
# kernels/common/gpu/gpu_dialect.cuh). The custom commands call the vendor compiler directly, so
# the host build needs no CUDA/HIP language support in CMake and no vendor runtime library.
set(XINHE_GPU_KERNEL_OPS gemm attention)

# xinhe_gpu_embed_kernels(<plugin target> COMPILER <exe> FLAGS <flags...> SUFFIX <.fatbin|.hsaco>)
function(xinhe_gpu_embed_kernels target)
  cmake_parse_arguments(ARG "" "COMPILER;SUFFIX" "FLAGS" ${ARGN})
  set(kernel_root ${PROJECT_SOURCE_DIR}/kernels)
  set(includes -I${kernel_root}/common/gpu -I${kernel_root}/gemm/cuda -I${kernel_root}/attention/cuda)
  set(generated)
  foreach(op IN LISTS XINHE_GPU_KERNEL_OPS)
    set(source ${kernel_root}/${op}/cuda/${op}_cuda.cu)
    set(image ${CMAKE_CURRENT_BINARY_DIR}/${op}_kernels${ARG_SUFFIX})
    set(embedded ${CMAKE_CURRENT_BINARY_DIR}/${op}_kernels_image.c)
    # The op's .cu includes its folder's headers (e.g. gemm_wgmma.cuh): rebuild when any changes.
    file(GLOB op_headers CONFIGURE_DEPENDS ${kernel_root}/${op}/cuda/*.h ${kernel_root}/${op}/cuda/*.cuh)
    add_custom_command(
      OUTPUT ${image}
      COMMAND ${ARG_COMPILER} ${ARG_FLAGS} ${includes} -o ${image} ${source}
      DEPENDS ${source} ${op_headers} ${kernel_root}/common/gpu/gpu_dialect.cuh
      COMMENT "Compiling ${op} kernels for ${target}"
      VERBATIM)
    add_custom_command(
      OUTPUT ${embedded}
      COMMAND ${CMAKE_COMMAND} -DINPUT=${image} -DOUTPUT=${embedded} -DSYMBOL=xinhe_gpu_${op}_image
              -P ${PROJECT_SOURCE_DIR}/backends/cuda/embed_binary.cmake
      DEPENDS ${image} ${PROJECT_SOURCE_DIR}/backends/cuda/embed_binary.cmake
      COMMENT "Embedding ${op} kernels into ${target}"
      VERBATIM)
    list(APPEND generated ${embedded})
  endforeach()
  # The images as their own library (<target>_kernels), so tools can load the very same kernels
  # without the plugin (tools/xinhe-cuda-probe times a raw launch of them).
  add_library(${target}_kernels STATIC ${generated})
  set_target_properties(${target}_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                     C_VISIBILITY_PRESET hidden)
  target_link_libraries(${target} PRIVATE ${target}_kernels)
  target_include_directories(${target} PRIVATE ${kernel_root}/gemm/cuda ${kernel_root}/attention/cuda
                                               ${PROJECT_SOURCE_DIR}/backends/cuda)
endfunction()
