# frontend.cmake: tests of the frontend (spec loader, safetensors), included by
# tests/CMakeLists.txt.
#   frontend/spec, frontend/safetensors   unit tests (tests/frontend/test_*.c)
#   frontend/diag_weights                 the committed weights files of tests/diag are current
#   frontend/randweights                  modc-randweights is deterministic and checks clean
#   diag/NAME                             golden diagnostics: `modc check tests/diag/NAME.yaml`
#                                         against NAME.err (tests/diag/run_diag.cmake)
set(FE_TESTS ${CMAKE_CURRENT_LIST_DIR}/frontend)
set(FE_DIAG ${CMAKE_CURRENT_LIST_DIR}/diag)

foreach(t test_spec test_safetensors mkdiag)
  add_executable(${t} ${FE_TESTS}/${t}.c)
  target_link_libraries(${t} PRIVATE modc_core)
endforeach()
add_test(NAME frontend/spec COMMAND test_spec ${FE_TESTS})
add_test(NAME frontend/safetensors COMMAND test_safetensors)
add_test(NAME frontend/diag_weights
         COMMAND ${CMAKE_COMMAND} -DMKDIAG=$<TARGET_FILE:mkdiag> -DDIR=${FE_DIAG}
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/diag_weights -P ${FE_DIAG}/check_weights.cmake)

if(TARGET modc-randweights)
  set(fe_modc "")
  if(TARGET modc)
    set(fe_modc $<TARGET_FILE:modc>)
  endif()
  add_test(NAME frontend/randweights
           COMMAND ${CMAKE_COMMAND} -DRANDW=$<TARGET_FILE:modc-randweights> -DMODC=${fe_modc}
                   -DSPEC=${FE_TESTS}/tiny.yaml -DOUT=${CMAKE_CURRENT_BINARY_DIR}/randweights
                   -P ${FE_TESTS}/randweights.cmake)
endif()

if(TARGET modc)
  file(GLOB fe_cases CONFIGURE_DEPENDS ${FE_DIAG}/*.yaml)
  foreach(c ${fe_cases})
    get_filename_component(n ${c} NAME_WE)
    add_test(NAME diag/${n}
             COMMAND ${CMAKE_COMMAND} -DMODC=$<TARGET_FILE:modc> -DDIR=${FE_DIAG} -DCASE=${n}
                     -P ${FE_DIAG}/run_diag.cmake)
  endforeach()
endif()
