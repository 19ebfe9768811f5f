# abi.cmake: the library ABI's failure paths on a real compiled model, and `modc compile`
# on bad inputs (tests/abi/test_abi_errors.c), included by tests/CMakeLists.txt.
if(TARGET modc AND TARGET modc-randweights)
  add_executable(test_abi_errors ${CMAKE_CURRENT_LIST_DIR}/abi/test_abi_errors.c)
  target_include_directories(test_abi_errors PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(test_abi_errors PRIVATE ${CMAKE_DL_LIBS})
  add_test(NAME abi/errors
           COMMAND test_abi_errors $<TARGET_FILE:modc> $<TARGET_FILE:modc-randweights>
                   ${CMAKE_CURRENT_LIST_DIR}/cli/small.yaml ${CMAKE_CURRENT_BINARY_DIR}/abi_errors)
endif()
