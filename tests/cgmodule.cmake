# cgmodule.cmake: codegen's driver (codegen/module.c, link.c, header.c): target resolution
# (the x86 CPU feature table checked against clang when LLVM ships one), a library emitted,
# linked with the runtime and dlopened, its descriptor read back, determinism of obj/asm/ll
# output, a foreign-triple object, and the generated header compiled.
add_executable(test_cgmodule codegen/test_module.c)
target_link_libraries(test_cgmodule PRIVATE modc_core ${CMAKE_DL_LIBS})
if(MODC_SANITIZE)
  # The test dlcloses the library it built; if that unloads libgomp too, LeakSanitizer
  # reports what libgomp allocated at load time (from an "<unknown module>").  Linking
  # OpenMP keeps libgomp loaded for the whole process, as in any OpenMP program.
  target_link_libraries(test_cgmodule PRIVATE OpenMP::OpenMP_C)
endif()
add_test(NAME codegen_module
         COMMAND test_cgmodule ${CMAKE_CURRENT_BINARY_DIR}/cgmodule_work
                 ${LLVM_TOOLS_BINARY_DIR}/clang)
