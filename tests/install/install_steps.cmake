# Shared by the install tests (cmake -P drivers): run_step() runs a command and fails the test
# with its output, and the package is installed from BUILD_DIR (CONFIG for multi-config
# generators) into ${WORK_DIR}/prefix, a fresh WORK_DIR. Include after checking the variables.
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# ${TEST_LABEL} names the test in a failure; step_output holds the command's stdout.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${TEST_LABEL}: ${name} failed (${code})\n"
                        "command: ${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  message(STATUS "${name}: OK")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run_step("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
         ${config_args})
