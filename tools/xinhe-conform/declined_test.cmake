# ctest driver: a backend that declines one shape of a dtype it claims (the mutant with
# XINHE_MUTANT_FAULT=declines_d80, attention head_dim 80 in f32) gets those cases UNSUPPORTED,
# not FAIL, each with declined_dtypes and the reason; the run exits 0; the report's coverage
# of f32 drops below 100% but stays above 0; levels are reported.
#   cmake -DCONFORM=<xinhe-conform> -DPLUGIN=<mutant .so> -DREPORT=<file.json> -P declined_test.cmake
foreach(var CONFORM PLUGIN REPORT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "declined_test.cmake: ${var} is not set")
  endif()
endforeach()
file(REMOVE "${REPORT}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env XINHE_MUTANT_FAULT=declines_d80 "${CONFORM}"
  --plugin "${PLUGIN}" --filter attention.f32 --json "${REPORT}"
  RESULT_VARIABLE exit_code OUTPUT_VARIABLE summary ERROR_VARIABLE progress)
message("${summary}")
if(NOT EXISTS "${REPORT}")
  message(FATAL_ERROR "xinhe-conform exited with ${exit_code} and wrote no report")
endif()
file(READ "${REPORT}" report)
if(NOT exit_code EQUAL 0)
  message("${progress}")
  message(FATAL_ERROR "a declined shape of a claimed dtype failed the run (exit ${exit_code})")
endif()
set(declined 0)
string(JSON case_count LENGTH "${report}" cases)
math(EXPR last "${case_count} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${report}" cases ${i} name)
  string(JSON outcome GET "${report}" cases ${i} outcome)
  string(JSON dtypes GET "${report}" cases ${i} declined_dtypes)
  string(JSON detail GET "${report}" cases ${i} detail)
  if(name MATCHES "[.]d80")
    if(NOT outcome STREQUAL "UNSUPPORTED" OR NOT dtypes STREQUAL "f32" OR
       NOT detail MATCHES "declines head_dim 80")
      message(FATAL_ERROR "${name}: ${outcome} [${dtypes}] ${detail}: expected UNSUPPORTED, "
                          "declined_dtypes f32 and the backend's reason")
    endif()
    math(EXPR declined "${declined} + 1")
  endif()
endforeach()
if(declined LESS 1)
  message(FATAL_ERROR "no head_dim 80 case ran: the test does not test anything")
endif()
string(JSON device GET "${report}" devices 0 name)
string(JSON ratio GET "${report}" coverage ${device} f32 ratio)
string(JSON full GET "${report}" coverage ${device} f32 full)
string(JSON reported_declined GET "${report}" coverage ${device} f32 declined)
if(NOT reported_declined EQUAL declined OR full LESS 1 OR NOT ratio LESS 1)
  message(FATAL_ERROR "coverage of f32 is ${full} full, ${reported_declined} declined, ratio "
                      "${ratio}; expected ${declined} declined and a ratio in (0, 1)")
endif()
string(JSON reached GET "${report}" levels ${device} reached)
message(STATUS "${declined} declined case(s) UNSUPPORTED; f32 coverage ${ratio}; level ${reached}")
