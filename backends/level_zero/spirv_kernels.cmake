# The Level Zero backend's kernels: the OpenCL backend's OpenCL C sources (kernels/gemm/opencl,
# kernels/attention/opencl), compiled at build time to SPIR-V and embedded into the plugin.
# Which variants exist is C++ (spirv_variants.cpp, through the option builders the backend
# itself calls at run time); a small host tool enumerates them, runs clang-15, opt-15,
# llvm-spirv-15 and spirv-val on each (spirv_compiler.cpp says how and why) and writes the embedding file.
#
# xinhe_level_zero_spirv_kernels(<target>): adds the generated spirv_table.cpp to <target>.
function(xinhe_level_zero_spirv_kernels target)
  set(kernel_root ${PROJECT_SOURCE_DIR}/kernels)
  add_executable(xinhe-level-zero-spirv-compiler spirv_compiler.cpp spirv_variants.cpp)
  target_include_directories(xinhe-level-zero-spirv-compiler PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(xinhe-level-zero-spirv-compiler PRIVATE xinhe_opencl_c_kernels
    Threads::Threads xinhe_compile_options)
  # A build tool: it runs during the build, not from the install tree or the tests.
  set_target_properties(xinhe-level-zero-spirv-compiler PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})

  set(work ${CMAKE_CURRENT_BINARY_DIR}/spirv)
  set(table ${work}/spirv_table.cpp)
  file(MAKE_DIRECTORY ${work})
  file(GLOB kernel_sources ${kernel_root}/gemm/opencl/*.cl ${kernel_root}/attention/opencl/*.cl)
  add_custom_command(
    OUTPUT ${table}
    # Sanitized builds: the tool's leak report is not this build's business.
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
            $<TARGET_FILE:xinhe-level-zero-spirv-compiler>
            --clang ${XINHE_SPIRV_CLANG} --opt ${XINHE_SPIRV_OPT} --llvm-spirv ${XINHE_LLVM_SPIRV}
            --spirv-val ${XINHE_SPIRV_VAL} --prelude ${kernel_root}/gemm/opencl/xinhe_dtype.cl
            --kernels ${kernel_root} --work ${work} --output ${table}
    DEPENDS xinhe-level-zero-spirv-compiler ${kernel_sources}
    COMMENT "Compiling the OpenCL C kernels to SPIR-V for Level Zero"
    VERBATIM)
  target_sources(${target} PRIVATE ${table} spirv_variants.cpp)
endfunction()
