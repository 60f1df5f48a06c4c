# xinhe-conform's inputs: --perf-report earns level 5 only with xinhe rows of the device that all
# passed (a file with any "results" array earned it), bad inputs stop the run before any case
# with exit 2, and --case-timeout holds below one second. Usage:
#   cmake -DCONFORM=<xinhe-conform> -DBENCH=<xinhe-bench> -DWORK=<folder> -P inputs_test.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

execute_process(COMMAND "${BENCH}" --devices cpu:0 --op gemm --gemm 8x8x8 --quick
                        --json "${WORK}/bench.json"
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "xinhe-bench exited ${rc}")
endif()
file(READ "${WORK}/bench.json" bench)

# Level 5 of cpu:0 (levels[4]) with the given report: "met" and "why".
function(level5 report out_met out_why)
  file(WRITE "${WORK}/report.json" "${report}")
  execute_process(COMMAND "${CONFORM}" --backend cpu --filter runtime.properties
                          --perf-report "${WORK}/report.json" --json "${WORK}/conform.json"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "xinhe-conform exited ${rc}: ${err}")
  endif()
  file(READ "${WORK}/conform.json" conform)
  string(JSON met GET "${conform}" levels cpu:0 levels 4 met)
  string(JSON why GET "${conform}" levels cpu:0 levels 4 why)
  set(${out_met} "${met}" PARENT_SCOPE)
  set(${out_why} "${why}" PARENT_SCOPE)
endfunction()

level5("${bench}" met why)
if(NOT met STREQUAL "ON" AND NOT met STREQUAL "true")
  message(FATAL_ERROR "a passing cpu:0 report did not meet level 5: ${why}")
endif()

string(REPLACE "\"cpu:0\"" "\"other:0\"" other "${bench}")
level5("${other}" met why)
if(NOT why MATCHES "has no xinhe row of cpu:0")
  message(FATAL_ERROR "another device's report met level 5 (met ${met}, why '${why}')")
endif()

string(REGEX REPLACE "\"passed\": *true" "\"passed\": false" failed "${bench}")
level5("${failed}" met why)
if(NOT why MATCHES "1 failed row")
  message(FATAL_ERROR "a report with a failed check met level 5 (met ${met}, why '${why}')")
endif()

# Refused before any case runs, with exit 2 and the reason.
file(WRITE "${WORK}/junk.json" "{\"results\": [{\"junk\": 1}]}")
foreach(case
    "--perf-report|${WORK}/junk.json|not a xinhe-bench JSON report"
    "--perf-report|${WORK}/missing.json|cannot read"
    "--json|${WORK}/no/such/folder/c.json|folder .*: No such file or directory"
    "--json|<empty>|needs a file name"
    "--case-timeout|nan|not a number of seconds"
    "--case-timeout|0|not a number of seconds")
  string(REPLACE "|" ";" fields "${case}")
  list(GET fields 0 option)
  list(GET fields 1 value)
  list(GET fields 2 expected)
  if(value STREQUAL "<empty>")
    set(value "")
  endif()
  execute_process(COMMAND "${CONFORM}" --backend cpu --filter runtime.properties ${option} "${value}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "${expected}" OR out MATCHES "PASS")
    message(FATAL_ERROR "${option} '${value}': exit ${rc}, stderr '${err}', stdout '${out}'")
  endif()
endforeach()
foreach(seed abc -5 99999999999999999999999)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env XINHE_CONFORM_SEED=${seed}
                          "${CONFORM}" --backend cpu --filter runtime.properties
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "XINHE_CONFORM_SEED='${seed}' is not an unsigned")
    message(FATAL_ERROR "XINHE_CONFORM_SEED=${seed}: exit ${rc}, stderr '${err}'")
  endif()
endforeach()

# A case of about 0.1 s against a 10 ms limit: killed, not waited for to the next second.
execute_process(COMMAND "${CONFORM}" --backend cpu --filter attention.sweep.f32.d80.full
                        --case-timeout 0.01
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_QUIET)
if(NOT rc EQUAL 1 OR NOT out MATCHES "timed out after 0.01 s")
  message(FATAL_ERROR "--case-timeout 0.01: exit ${rc}: ${out}")
endif()
