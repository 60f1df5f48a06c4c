# ctest driver: xinhe-info --json loads the Cambricon plugin over the doubles (the environment
# names them) and stderr carries EXPECT_WARNINGS (0 or 1) deprecation warnings about
# XINHE_CAMBRICON_LIBRARY_PATH: one when only that variable is set, none when
# XINHE_CAMBRICON_LIBRARY_DIR is.
#   cmake -DXINHE_INFO=<xinhe-info> -DEXPECT_WARNINGS=0|1 -P check_library_env.cmake
cmake_policy(SET CMP0054 NEW)
execute_process(COMMAND "${XINHE_INFO}" --json RESULT_VARIABLE rc OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "xinhe-info exited with ${rc}: ${err}")
endif()
string(JSON count LENGTH "${out}" backends)
math(EXPR last "${count} - 1")
set(loaded "")
foreach(i RANGE ${last})
  string(JSON name GET "${out}" backends ${i} name)
  if(name STREQUAL "cambricon")
    string(JSON loaded GET "${out}" backends ${i} loaded)
    string(JSON reason GET "${out}" backends ${i} reason)
  endif()
endforeach()
if(NOT loaded)
  message(FATAL_ERROR "cambricon not loaded over the doubles: ${reason}\nstderr: ${err}")
endif()
string(REGEX MATCHALL "XINHE_CAMBRICON_LIBRARY_PATH is deprecated" warnings "${err}")
list(LENGTH warnings n)
if(NOT n EQUAL EXPECT_WARNINGS)
  message(FATAL_ERROR "expected ${EXPECT_WARNINGS} deprecation warning(s), saw ${n}:\n${err}")
endif()
message(STATUS "loaded; ${n} deprecation warning(s) as expected")
