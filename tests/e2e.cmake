# End-to-end property tests: random specs compiled with the real CLI, run through the ABI,
# compared with the reference interpreter.
add_executable(test_e2e e2e/test_e2e.c e2e/e2e_eval.c e2e/e2e_util.c e2e/randspec.c)
target_include_directories(test_e2e PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/e2e)
target_link_libraries(test_e2e PRIVATE modc_core dl m)
# MODC_E2E_SPECS specs from seed MODC_E2E_FIRST_SEED.  A sanitizer build (scripts/test.sh
# runs one after the normal build) compiles and runs each spec about 3x slower: it takes 30
# other seeds, so that CI stays within its time and the two runs together cover 90 specs.
if(NOT DEFINED MODC_E2E_SPECS)
  if(MODC_SANITIZE OR MODC_TSAN)
    set(MODC_E2E_SPECS 30)
    set(MODC_E2E_FIRST_SEED 60)
  else()
    set(MODC_E2E_SPECS 60)
  endif()
endif()
if(NOT DEFINED MODC_E2E_FIRST_SEED)
  set(MODC_E2E_FIRST_SEED 0)
endif()
add_test(NAME e2e_random_specs
         COMMAND test_e2e $<TARGET_FILE:modc> ${CMAKE_CURRENT_BINARY_DIR}/e2e_work
                 ${MODC_E2E_SPECS} ${MODC_E2E_FIRST_SEED})
set_tests_properties(e2e_random_specs PROPERTIES TIMEOUT 1200)
# The same comparisons for libraries compiled with the records `modc tune` found for them
# (3 seconds of tuning each), on specs of other seeds.
add_test(NAME e2e_tuned_specs
         COMMAND test_e2e $<TARGET_FILE:modc> ${CMAKE_CURRENT_BINARY_DIR}/e2e_tuned_work 4 200)
set_tests_properties(e2e_tuned_specs PROPERTIES TIMEOUT 600 ENVIRONMENT "MODC_E2E_TUNE=3")
