# codegen.cmake: kernel parity tests (codegen/kernels.c through cg_emit, linked with the
# runtime's helpers, run on 1 and 2 threads, compared with double references).
# `test_kernels DIR --bench` prints matmul GFLOP/s instead (not part of ctest).
add_executable(test_kernels codegen/test_kernels.c)
target_include_directories(test_kernels PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(test_kernels PRIVATE modc_core ${CMAKE_DL_LIBS} m)
add_dependencies(test_kernels modc_rt)
add_test(NAME codegen_kernels COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work)
set_tests_properties(codegen_kernels PROPERTIES TIMEOUT 300)
