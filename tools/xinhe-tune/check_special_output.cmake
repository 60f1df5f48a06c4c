# xinhe-tune -o <FIFO or device> is refused at once with exit status 2, before the search: opening
# a FIFO to read the database to merge into would block forever. Run by ctest with -DTUNE=<path>
# -DWORK=<scratch folder>.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(fifo ${WORK}/db.fifo)
execute_process(COMMAND mkfifo ${fifo} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mkfifo ${fifo} failed: ${rc}")
endif()
foreach(out ${fifo} /dev/null)
  execute_process(
    COMMAND ${TUNE} --op gemm --dtype f32 --gemm-size 64 --reps 1 --budget-seconds 1 -o ${out}
    TIMEOUT 30 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 2)
    message(FATAL_ERROR "xinhe-tune -o ${out} exited '${rc}', not 2 (refused): ${err}")
  endif()
  if(NOT err MATCHES "not a regular file")
    message(FATAL_ERROR "xinhe-tune -o ${out}: no reason on stderr: ${err}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
