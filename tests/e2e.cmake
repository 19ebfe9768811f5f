# End-to-end property tests: random specs compiled with the real CLI, run through the ABI,
# compared with the reference interpreter.
add_executable(test_e2e e2e/test_e2e.c e2e/randspec.c)
target_include_directories(test_e2e PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/e2e)
target_link_libraries(test_e2e PRIVATE modc_core dl m)
add_test(NAME e2e_random_specs
         COMMAND test_e2e $<TARGET_FILE:modc> ${CMAKE_CURRENT_BINARY_DIR}/e2e_work 60)
set_tests_properties(e2e_random_specs PROPERTIES TIMEOUT 1200)
