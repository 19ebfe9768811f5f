# ir.cmake: tests of the IR core (ir/): C unit tests of the API and of the text form, and
# FileCheck tests of modc-opt, one ctest per tests/ir/*.mlir, run by tests/ir/run_filecheck.sh
# (a tiny lit: RUN lines, %s/%S/%t, `not`).  Inputs/ holds files that tests read, not tests.
foreach(t test_ir test_ir_api)
  add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/ir/${t}.c)
  target_link_libraries(${t} PRIVATE modc_core)
  add_test(NAME ir_${t} COMMAND ${t})
endforeach()

file(GLOB MODC_IR_FILECHECK_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/ir/*.mlir)
foreach(f ${MODC_IR_FILECHECK_TESTS})
  get_filename_component(n ${f} NAME_WE)
  add_test(NAME ir_filecheck_${n}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ir/run_filecheck.sh $<TARGET_FILE:modc-opt> ${FILECHECK} ${f})
endforeach()
