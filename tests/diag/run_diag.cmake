# run_diag.cmake: one golden diagnostic test.  Runs `modc check CASE.yaml [ARGS]` in this
# directory (so paths print as `CASE.yaml`), where ARGS come from a first line
# `# args: ...` of the case, and compares stderr with CASE.err exactly (and stdout with
# CASE.out when there is one).  An empty or absent CASE.err means the check must pass.
#
#   cmake -DMODC=path/to/modc -DDIR=tests/diag -DCASE=name [-DUPDATE=1] -P run_diag.cmake
#
# UPDATE=1 rewrites CASE.err from what modc printed (review the diff before committing).
file(READ ${DIR}/${CASE}.yaml text)
set(args)
if(text MATCHES "^# args: ([^\n]*)")
  separate_arguments(args UNIX_COMMAND "${CMAKE_MATCH_1}")
endif()
execute_process(COMMAND ${MODC} check ${CASE}.yaml ${args}
                WORKING_DIRECTORY ${DIR}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(UPDATE)
  file(WRITE ${DIR}/${CASE}.err "${err}")
  return()
endif()
set(want "")
if(EXISTS ${DIR}/${CASE}.err)
  file(READ ${DIR}/${CASE}.err want)
endif()
if(NOT "${err}" STREQUAL "${want}")
  message(FATAL_ERROR "${CASE}: stderr differs\n--- expected\n${want}--- got\n${err}---")
endif()
if(want STREQUAL "" AND NOT rc EQUAL 0)
  message(FATAL_ERROR "${CASE}: expected success, modc check exited ${rc}")
endif()
if(NOT want STREQUAL "" AND NOT rc EQUAL 1)
  message(FATAL_ERROR "${CASE}: expected exit status 1, got ${rc}")
endif()
if(EXISTS ${DIR}/${CASE}.out)
  file(READ ${DIR}/${CASE}.out want_out)
  if(NOT "${out}" STREQUAL "${want_out}")
    message(FATAL_ERROR "${CASE}: stdout differs\n--- expected\n${want_out}--- got\n${out}---")
  endif()
endif()
