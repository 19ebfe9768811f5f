# Reference interpreter tests: single ops on hand-built graphs, and the interpreter (both
# graph forms, forward and sessions) against the independent reference model on random specs.
add_executable(test_interp_ops ref/test_interp_ops.c)
target_include_directories(test_interp_ops PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(test_interp_ops PRIVATE modc_core m)
add_test(NAME interp_ops COMMAND test_interp_ops)

add_executable(test_interp_vs_ref ref/test_interp_vs_ref.c ref/refmodel.c)
target_include_directories(test_interp_vs_ref PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/ref)
target_link_libraries(test_interp_vs_ref PRIVATE modc_core m)
add_test(NAME interp_vs_ref COMMAND test_interp_vs_ref 200 1)
set_tests_properties(interp_vs_ref PROPERTIES TIMEOUT 600)
