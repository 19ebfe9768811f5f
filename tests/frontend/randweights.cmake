# randweights.cmake: modc-randweights is deterministic (same seed, same bytes), changes
# with the seed, and writes a file that `modc check` accepts for the spec.
#
#   cmake -DRANDW=... -DMODC=... -DSPEC=tests/frontend/tiny.yaml -DOUT=scratch -P randweights.cmake
file(MAKE_DIRECTORY ${OUT})
foreach(run a b)
  execute_process(COMMAND ${RANDW} ${SPEC} -o ${OUT}/${run}.safetensors --seed 7 --dtype bf16
                  -D model.n_layers=4 RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "modc-randweights failed (${rc})")
  endif()
endforeach()
execute_process(COMMAND ${RANDW} ${SPEC} -o ${OUT}/c.safetensors --seed 8 --dtype bf16
                -D model.n_layers=4 OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/a.safetensors ${OUT}/b.safetensors
                RESULT_VARIABLE same)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/a.safetensors ${OUT}/c.safetensors
                RESULT_VARIABLE other)
if(NOT same EQUAL 0 OR other EQUAL 0)
  message(FATAL_ERROR "modc-randweights is not deterministic in its seed")
endif()
if(MODC)
  execute_process(COMMAND ${MODC} check ${SPEC} -D model.n_layers=4 -D weights=${OUT}/a.safetensors
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "modc check rejects modc-randweights' output: ${err}")
  endif()
endif()
