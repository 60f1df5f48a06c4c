# Driver of the install test (see CMakeLists.txt). Every step must succeed; a failure prints
# the step's output. Inputs: BUILD_DIR, EXAMPLES_DIR, WORK_DIR, GENERATOR, MAKE_PROGRAM,
# CXX_COMPILER, CONFIG, SANITIZE (as in XINHE_SANITIZE; the consumer must use the same
# sanitizer runtime as the installed library).
foreach(var BUILD_DIR EXAMPLES_DIR WORK_DIR GENERATOR)
  if(NOT ${var})
    message(FATAL_ERROR "install_test.cmake: ${var} is not set")
  endif()
endforeach()

set(TEST_LABEL "install test")
include(${CMAKE_CURRENT_LIST_DIR}/install_steps.cmake)
set(consumer "${WORK_DIR}/examples-build")

# What a consumer relies on: the headers and the package files.
file(GLOB_RECURSE config_files "${prefix}/*/xinhe-config.cmake")
if(NOT EXISTS "${prefix}/include/xinhe/xinhe.hpp" OR NOT config_files)
  message(FATAL_ERROR "install test: ${prefix} lacks include/xinhe/xinhe.hpp or xinhe-config.cmake")
endif()

# The build folder is not a package: no half-working xinhe-config.cmake at its root for a
# -Dxinhe_DIR=<build folder> to find and fail inside.
if(EXISTS "${BUILD_DIR}/xinhe-config.cmake")
  message(FATAL_ERROR "install test: ${BUILD_DIR}/xinhe-config.cmake exists; it works only installed")
endif()

set(configure_args -S "${EXAMPLES_DIR}" -B "${consumer}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}")
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(SANITIZE)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE}"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run_step("configure examples against the install" "${CMAKE_COMMAND}" ${configure_args})
run_step("build examples" "${CMAKE_COMMAND}" --build "${consumer}" ${config_args})

find_program(example xinhe_example_gemm_attention PATHS "${consumer}" "${consumer}/${CONFIG}"
             NO_DEFAULT_PATH)
if(NOT example)
  message(FATAL_ERROR "install test: xinhe_example_gemm_attention not found in ${consumer}")
endif()
# The CPU device, so the result does not depend on which plugins the machine can load.
run_step("run the example" "${CMAKE_COMMAND}" -E env XINHE_DEVICE=cpu:0 "${example}")
message("${step_output}")
if(NOT step_output MATCHES "device: cpu:0" OR NOT step_output MATCHES "gemm .*checksum"
   OR NOT step_output MATCHES "attention .*checksum")
  message(FATAL_ERROR "install test: unexpected example output:\n${step_output}")
endif()

# The installed tools find libxinhe through their RPATH.
if(EXISTS "${prefix}/bin/xinhe-conform")
  run_step("installed xinhe-conform" "${prefix}/bin/xinhe-conform" --backend cpu
           --filter runtime.round_trip)
endif()
