# The GPU plugins shared by CUDA and HIP (and any further CUDA-like vendor): the shared host code
# of backends/gpu/ compiled against one vendor layer, and the CUDA-dialect kernels of
# kernels/gemm/cuda and kernels/attention/cuda compiled ahead of time into one device image per
# op, embedded into the plugin as xinhe_gpu_<op>_image (with its size, xinhe_gpu_<op>_image_size).
# The custom commands call the vendor compiler directly, so the host build needs no CUDA/HIP
# language support in CMake and no vendor runtime library.
set(XINHE_GPU_KERNEL_OPS gemm attention)
set(XINHE_GPU_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})

# xinhe_add_gpu_plugin(<plugin target> DRIVER_HEADER <vendor layer header>
#                      [VENDOR_BLAS_HEADER <header> VENDOR_BLAS_API <table struct>])
# The vendor layer (e.g. cuda_driver.h) and the vendor BLAS table (e.g. cublas_gemm.h) are found
# in the calling folder.
function(xinhe_add_gpu_plugin target)
  cmake_parse_arguments(ARG "" "DRIVER_HEADER;VENDOR_BLAS_HEADER;VENDOR_BLAS_API" "" ${ARGN})
  xinhe_add_backend_plugin(${target}
    ${XINHE_GPU_SOURCE_DIR}/gpu_runtime.cpp
    ${XINHE_GPU_SOURCE_DIR}/gpu_gemm.cpp
    ${XINHE_GPU_SOURCE_DIR}/gpu_attention.cpp)
  target_compile_definitions(${target} PRIVATE XINHE_GPU_DRIVER_HEADER="${ARG_DRIVER_HEADER}")
  if(ARG_VENDOR_BLAS_HEADER)
    target_compile_definitions(${target} PRIVATE
      XINHE_GPU_VENDOR_BLAS_HEADER="${ARG_VENDOR_BLAS_HEADER}"
      XINHE_GPU_VENDOR_BLAS_API=${ARG_VENDOR_BLAS_API})
  endif()
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${XINHE_GPU_SOURCE_DIR})
  target_link_libraries(${target} PRIVATE xinhe_gpu_kernel_families ${CMAKE_DL_LIBS})
endfunction()

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
              -P ${XINHE_GPU_SOURCE_DIR}/embed_binary.cmake
      DEPENDS ${image} ${XINHE_GPU_SOURCE_DIR}/embed_binary.cmake
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
endfunction()
