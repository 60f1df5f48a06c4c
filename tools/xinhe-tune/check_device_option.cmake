# xinhe-tune --device takes the runtime's device names (opencl:N) as well as a bare index, and
# refuses another backend's device (cpu:0) or a malformed one with exit status 2 and a reason.
# The refusals are checked on any machine (the name is parsed before OpenCL is opened); the
# accepted names only where there is an OpenCL device (else SKIP: on the output, which ctest
# matches).
set(common --op gemm --dtype f32 --gemm-size 64 --reps 1 --budget-seconds 0.2)
foreach(case "cpu:0|not an OpenCL device" "opencl:x|not an OpenCL device index"
             "-1|not an OpenCL device index" "opencl:|not an OpenCL device index")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 device)
  list(GET parts 1 expected)
  execute_process(COMMAND ${TUNE} --device ${device} ${common}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "${expected}")
    message(FATAL_ERROR "xinhe-tune --device ${device}: exit '${rc}' (want 2), stderr '${err}' "
                        "(want '${expected}')")
  endif()
endforeach()
foreach(device opencl:0 0)
  execute_process(COMMAND ${TUNE} --device ${device} ${common}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 2 AND err MATCHES "OpenCL unavailable|does not exist \\(0 OpenCL devices\\)")
    message("SKIP: no OpenCL device: ${err}")
    return()
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "xinhe-tune --device ${device} exited '${rc}', not 0: ${err}")
  endif()
  if(NOT out MATCHES "\\|f32\\|gemm\\|MWI=")
    message(FATAL_ERROR "xinhe-tune --device ${device} wrote no gemm f32 entry: ${out}")
  endif()
endforeach()
execute_process(COMMAND ${TUNE} --device opencl:4000 ${common}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "does not exist")
  message(FATAL_ERROR "xinhe-tune --device opencl:4000: exit '${rc}' (want 2), stderr '${err}'")
endif()
