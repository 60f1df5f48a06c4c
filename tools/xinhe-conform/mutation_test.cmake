# ctest driver of the mutation test: runs xinhe-conform on the "mutant" test backend
# (tests/plugins/mutant_backend.cpp) with one fault switched on, and checks that the suite
# notices: exit status 1, a JSON report written anyway (a crashing case must not lose it), at
# least one FAIL, and a FAIL among the cases that concern the fault. With FAULT=none the whole
# suite must pass on the mutant, which shows the failures come from the faults.
#   cmake -DCONFORM=<xinhe-conform> -DPLUGIN=<libxinhe_backend_mutant.so> -DFAULT=<name>
#         -DFILTER=<--filter, may be empty> -DEXPECT=<regex over failing case names>
#         [-DEXPECT_DETAIL=<regex over their details>] [-DREQUIRE_PASS=ON: some case must still
#         pass, i.e. the run went on after the failures] -DREPORT=<file.json> -P mutation_test.cmake
foreach(var CONFORM PLUGIN FAULT REPORT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "mutation_test.cmake: ${var} is not set")
  endif()
endforeach()

set(args --plugin "${PLUGIN}" --json "${REPORT}")
if(FILTER)
  list(APPEND args --filter "${FILTER}")
endif()
file(REMOVE "${REPORT}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env XINHE_MUTANT_FAULT=${FAULT} "${CONFORM}" ${args}
  RESULT_VARIABLE exit_code OUTPUT_VARIABLE summary ERROR_VARIABLE progress)
message("${summary}")
if(NOT EXISTS "${REPORT}")
  message("${progress}")
  message(FATAL_ERROR "fault ${FAULT}: xinhe-conform exited with ${exit_code} and wrote no report")
endif()
file(READ "${REPORT}" report)
string(JSON pass GET "${report}" summary pass)
string(JSON fail GET "${report}" summary fail)
string(JSON case_count LENGTH "${report}" cases)

if(FAULT STREQUAL "none")
  if(NOT exit_code EQUAL 0 OR fail GREATER 0 OR pass LESS 1)
    message("${progress}")
    message(FATAL_ERROR "the mutant without a fault does not pass the suite: exit ${exit_code}, "
                        "${fail} FAIL, ${pass} PASS")
  endif()
  message(STATUS "no fault: ${pass} PASS, 0 FAIL of ${case_count} cases")
  return()
endif()

if(NOT exit_code EQUAL 1)
  message("${progress}")
  message(FATAL_ERROR "fault ${FAULT}: xinhe-conform exited with ${exit_code}, expected 1")
endif()
if(fail LESS 1)
  message(FATAL_ERROR "fault ${FAULT} went unnoticed: ${pass} PASS, 0 FAIL (the suite has a hole)")
endif()
if(REQUIRE_PASS AND pass LESS 1)
  message(FATAL_ERROR "fault ${FAULT}: no case passed; the run did not go on past the failures")
endif()
set(matched "")
math(EXPR last "${case_count} - 1")
foreach(i RANGE ${last})
  string(JSON outcome GET "${report}" cases ${i} outcome)
  if(NOT outcome STREQUAL "FAIL")
    continue()
  endif()
  string(JSON suite GET "${report}" cases ${i} suite)
  string(JSON name GET "${report}" cases ${i} name)
  string(JSON detail GET "${report}" cases ${i} detail)
  if("${suite}.${name}" MATCHES "${EXPECT}" AND
     (NOT DEFINED EXPECT_DETAIL OR "${detail}" MATCHES "${EXPECT_DETAIL}"))
    list(APPEND matched "${suite}.${name}")
  endif()
endforeach()
if(NOT matched)
  message(FATAL_ERROR "fault ${FAULT}: ${fail} FAIL, but none of the cases that concern it "
                      "(${EXPECT}${EXPECT_DETAIL}) failed")
endif()
message(STATUS "fault ${FAULT} caught: ${fail} FAIL, among them ${matched}")
