# Every refusal of a tool's command line exits 2 (CLI11's own codes are 100 and up) and --help
# exits 0. Run by ctest with -DTOOLS="path;path..." (the tools built).
foreach(tool ${TOOLS})
  get_filename_component(name ${tool} NAME)
  execute_process(COMMAND ${tool} --help RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} --help exited ${rc}, not 0")
  endif()
  foreach(args --no-such-option "--no-such-option value" an-unexpected-argument)
    separate_arguments(argv UNIX_COMMAND "${args}")
    execute_process(COMMAND ${tool} ${argv} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
    if(NOT rc EQUAL 2)
      message(FATAL_ERROR "${name} ${args} exited ${rc}, not 2: ${err}")
    endif()
    if(NOT err MATCHES "not expected|required|Run with --help")
      message(FATAL_ERROR "${name} ${args}: no reason on stderr: ${err}")
    endif()
  endforeach()
endforeach()
# Values refused by an option's own check (or by the tool after parsing), for the tools built.
set(value_cases
  "xinhe-bench|--runs|0" "xinhe-bench|--runs|abc" "xinhe-bench|--warmup|-1" "xinhe-bench|--runs"
  "xinhe-opencl-probe|attention|--seq|-3" "xinhe-opencl-probe|gemm|--size|0"
  "xinhe-opencl-probe|first-call|--size|-1"
  "xinhe-tune|--budget-seconds|0" "xinhe-tune|--budget-seconds|nan" "xinhe-tune|--dtype|f64"
  "xinhe-tune|-o|/nonexistent-folder/db.txt"
  "xinhe-conform|--case-timeout|-1")
foreach(case ${value_cases})
  string(REPLACE "|" ";" argv "${case}")
  list(POP_FRONT argv name)
  set(tool "")
  foreach(candidate ${TOOLS})
    get_filename_component(candidate_name ${candidate} NAME)
    if(candidate_name STREQUAL name)
      set(tool ${candidate})
    endif()
  endforeach()
  if(tool STREQUAL "")
    continue()  # not built in this configuration
  endif()
  execute_process(COMMAND ${tool} ${argv} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "${case} exited ${rc}, not 2: ${err}")
  endif()
endforeach()
