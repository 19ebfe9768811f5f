# runtime.cmake: tests of runtime/ without the compiler, plus the examples' C program.
#
# The runtime archive is linked (whole, as modc compile links it) with a hand-written fake
# "generated part" (runtime/fake_model.c) into shared libraries, one per variant; the test
# driver dlopens them and checks the ABI's behaviour.  generate.c / generate.py run on the
# fake model too: its greedy continuation of "abc" is "defg...".
set(RT_TEST_SRC ${CMAKE_CURRENT_SOURCE_DIR}/runtime)
set(RT_TEST_BIN ${CMAKE_CURRENT_BINARY_DIR}/runtime)
file(MAKE_DIRECTORY ${RT_TEST_BIN}/scratch)

# modc_fake_lib(target defs...): the fake model + runtime in its own directory (so that the
# weights file "beside the library" belongs to one variant only).
function(modc_fake_lib name)
  add_library(${name} SHARED ${RT_TEST_SRC}/fake_model.c)
  target_compile_definitions(${name} PRIVATE ${ARGN})
  target_include_directories(${name} PRIVATE ${RT_TEST_SRC})
  target_link_libraries(${name} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,modc_rt>")
  set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${RT_TEST_BIN}/${name})
endfunction()

modc_fake_lib(modc_fake)
modc_fake_lib(modc_fake_embed FAKE_EMBED)
modc_fake_lib(modc_fake_badcpu "FAKE_FEATURES=\"+sse2,+amx-tile\"")
modc_fake_lib(modc_fake_badabi FAKE_ABI=99)

add_executable(test_runtime ${RT_TEST_SRC}/test_runtime.c)
target_include_directories(test_runtime PRIVATE ${CMAKE_SOURCE_DIR}/runtime ${RT_TEST_SRC})
target_link_libraries(test_runtime PRIVATE ${CMAKE_DL_LIBS} pthread m)
add_dependencies(test_runtime modc_fake modc_fake_embed modc_fake_badcpu modc_fake_badabi)
add_test(NAME runtime COMMAND test_runtime $<TARGET_FILE:modc_fake>
         $<TARGET_FILE:modc_fake_embed> $<TARGET_FILE:modc_fake_badcpu>
         $<TARGET_FILE:modc_fake_badabi> ${RT_TEST_BIN}/scratch)

# The thread pool and modc_rt_parallel_for on it, linked straight from the runtime archive.
# Also built and run (shorter) by the ThreadSanitizer build of scripts/test.sh.
add_executable(test_pool ${RT_TEST_SRC}/test_pool.c)
target_link_libraries(test_pool PRIVATE modc_rt pthread)
if(MODC_TSAN)
  add_test(NAME runtime_pool COMMAND test_pool --quick)
else()
  add_test(NAME runtime_pool COMMAND test_pool)
endif()
set_tests_properties(runtime_pool PROPERTIES TIMEOUT 300)

# The CPU check must accept every feature LLVM reports for this host (no false refusals).
add_executable(test_runtime_hostcpu ${RT_TEST_SRC}/test_hostcpu.c)
target_include_directories(test_runtime_hostcpu PRIVATE ${LLVM_INCLUDE_DIRS})
target_link_libraries(test_runtime_hostcpu PRIVATE modc_rt LLVM)
add_test(NAME runtime_hostcpu COMMAND test_runtime_hostcpu)

# The examples, run on the fake model (test_runtime --write-weights writes its weights; each
# test its own file, so that ctest -j never reads a half-written one).  Greedy output is
# exact; sampled output is the same for the same seed and stops when the session is full
# (2 prompt bytes + 15 sampled, the last one predicted at position 15); errors are printed.
add_executable(modc_generate ${CMAKE_SOURCE_DIR}/examples/generate.c)
target_include_directories(modc_generate PRIVATE ${CMAKE_SOURCE_DIR}/runtime)
target_link_libraries(modc_generate PRIVATE ${CMAKE_DL_LIBS} m)

# modc_generate_test(name, command): the same checks for either example program.
function(modc_generate_test name gen)
  set(w ${RT_TEST_BIN}/scratch/${name}.weights)
  set(sampled "${gen} $<TARGET_FILE:modc_fake_embed> --prompt xy --max-new 40 --temperature 0.7 --seed 9")
  add_test(NAME ${name} COMMAND sh -c
    "${RT_PRELUDE} $<TARGET_FILE:test_runtime> --write-weights ${w} && out=$(${gen} $<TARGET_FILE:modc_fake> --weights ${w} --prompt abc --max-new 5) && test \"$out\" = abcdefgh && test \"$(${sampled} | cksum)\" = \"$(${sampled} | cksum)\" && test $(${sampled} | wc -c) = 18 && ${gen} $<TARGET_FILE:modc_fake> --weights /nonexistent 2>&1 | grep -q 'cannot open weights file'")
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
endfunction()

set(RT_PRELUDE "")
modc_generate_test(runtime_generate_c $<TARGET_FILE:modc_generate>)
# The first python3 with numpy (a pyenv shim may lack it while Debian's has it); else skip.
set(RT_PRELUDE "for p in python3 /usr/bin/python3; do $p -c 'import numpy' 2>/dev/null && PY=$p && break; done; test -n \"$PY\" || exit 77;")
if(MODC_SANITIZE)
  # python3 is not instrumented, so the ASan runtime the library needs must come first:
  # preload it.  Leak checking is off for this one test: CPython does not free its heap
  # at exit, which LeakSanitizer would report as leaks of the interpreter, not of ours.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE RT_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(APPEND RT_PRELUDE " export LD_PRELOAD=${RT_LIBASAN} ASAN_OPTIONS=${MODC_ASAN_OPTIONS}:detect_leaks=0;")
endif()
modc_generate_test(runtime_generate_py "$PY ${CMAKE_SOURCE_DIR}/examples/generate.py")
