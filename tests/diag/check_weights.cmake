# check_weights.cmake: the committed w_*.safetensors files of the diagnostics tests are
# exactly what mkdiag (tests/frontend/mkdiag.c) writes today.
#
#   cmake -DMKDIAG=path/to/mkdiag -DDIR=tests/diag -DOUT=scratch/dir -P check_weights.cmake
#
# To regenerate them after changing mkdiag.c or valid.yaml: mkdiag tests/diag/valid.yaml tests/diag
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${MKDIAG} ${DIR}/valid.yaml ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mkdiag failed (${rc})")
endif()
file(GLOB made RELATIVE ${OUT} ${OUT}/*.safetensors)
file(GLOB committed RELATIVE ${DIR} ${DIR}/*.safetensors)
if(NOT "${made}" STREQUAL "${committed}")
  message(FATAL_ERROR "mkdiag writes ${made}\nbut tests/diag holds ${committed}")
endif()
foreach(f ${made})
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/${f} ${DIR}/${f}
                  RESULT_VARIABLE diff)
  if(NOT diff EQUAL 0)
    message(FATAL_ERROR "${f}: the committed file differs from what mkdiag writes")
  endif()
endforeach()
