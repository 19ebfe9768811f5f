# The trained example model (BF16 weights) against PyTorch's float64 reference outputs,
# packed as f32 and as bf16.
add_executable(test_trained trained/test_trained.c)
target_include_directories(test_trained PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(test_trained PRIVATE dl m)
set(MODC_TRAINED ${CMAKE_SOURCE_DIR}/examples/trained)
foreach(dt f32 bf16)
  set(lib ${CMAKE_CURRENT_BINARY_DIR}/trained_${dt}/libbytes_mod.so)
  add_test(NAME trained_compile_${dt}
           COMMAND modc compile ${MODC_TRAINED}/bytes_mod.yaml -o ${lib} --weights-dtype ${dt} -q)
  add_test(NAME trained_vs_pytorch_${dt} COMMAND test_trained ${lib} ${MODC_TRAINED})
  set_tests_properties(trained_compile_${dt} PROPERTIES FIXTURES_SETUP trained_${dt})
  set_tests_properties(trained_vs_pytorch_${dt} PROPERTIES FIXTURES_REQUIRED trained_${dt})
endforeach()
