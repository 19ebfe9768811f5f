# reliability.cmake: issue 4's concurrency, reproducibility and resource tests
# (tests/reliability/).  Each compiles its model with the real `modc compile`.
#
#   reliability_threads    one model, 8 threads each with its own session (prefill, decodes,
#                          routing) plus concurrent modc_forward calls, bit-identical to the
#                          same jobs run one after another (test_threads.c)
#   reliability_nthreads   logits and routing bit-identical for n_threads 1, 2, 3, 5, 8, on
#                          rel.yaml and on the trained example model (test_nthreads.c)
#   reliability_repro      two compiles give identical bytes: .so/.h/.weights, obj, asm,
#                          llvm, ir, bf16, embedded weights, -O0, a foreign target; not in
#                          sanitizer builds (it compiles twice what they test elsewhere)
#   reliability_noalloc    no allocation in modc_forward, prefill, decode or reset once a
#                          model and a session are open (test_noalloc.c; issue 3 item 4);
#                          not in sanitizer builds, whose malloc the test's wrappers bypass
#   reliability_memory     peak RSS within weights + arenas + KV caches + slack, f32 and
#                          bf16 packing (test_memory.c); not in sanitizer builds, whose
#                          shadow memory and quarantine make RSS meaningless
#
# With -DMODC_TSAN=ON only test_threads (and runtime.cmake's test_pool) is meant to be built
# and run (scripts/test.sh):
#   cmake --build B --target modc modc-randweights test_threads test_pool
#   ctest --test-dir B -R '^(reliability_threads|runtime_pool)$'
set(REL_SRC ${CMAKE_CURRENT_SOURCE_DIR}/reliability)
set(REL_BIN ${CMAKE_CURRENT_BINARY_DIR}/reliability)

function(rel_program name)
  add_executable(${name} ${REL_SRC}/${name}.c)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${CMAKE_DL_LIBS} pthread m)
endfunction()
rel_program(test_threads)
rel_program(test_nthreads)
rel_program(test_memory)

# rel_model(fixture spec dir flags...): compile spec into REL_BIN/dir before the tests that
# require the fixture.
function(rel_model fixture spec dir)
  add_test(NAME ${fixture}
           COMMAND bash ${REL_SRC}/make_model.sh ${CMAKE_BINARY_DIR} ${REL_SRC}/${spec}
                   ${REL_BIN}/${dir} ${ARGN})
  set_tests_properties(${fixture} PROPERTIES FIXTURES_SETUP ${fixture})
endfunction()

rel_model(reliability_model rel.yaml rel)
set(REL_LIB ${REL_BIN}/rel/librel.so)

# Each call's kernels may use 2 threads: the model's pool (runtime/pool.c) for whichever call
# has it, an OpenMP region for the others.  Under ThreadSanitizer too: there the busy-pool
# fallback runs serially (runtime/parallel.c), because libgomp is not instrumented and TSan
# would report races between the threads of every parallel region; so TSan sees the eight
# application threads and the pool's worker, which are what this test is about.
add_test(NAME reliability_threads COMMAND test_threads ${REL_LIB} 2 8 2)
set_tests_properties(reliability_threads PROPERTIES FIXTURES_REQUIRED reliability_model
                     TIMEOUT 600)

add_test(NAME reliability_nthreads COMMAND test_nthreads ${REL_LIB} 1 2 3 5 8)
set_tests_properties(reliability_nthreads PROPERTIES FIXTURES_REQUIRED reliability_model)
# The trained example (trained.cmake compiles it as the fixture trained_f32).
add_test(NAME reliability_nthreads_trained
         COMMAND test_nthreads ${CMAKE_CURRENT_BINARY_DIR}/trained_f32/libbytes_mod.so 1 2 3 5 8)
set_tests_properties(reliability_nthreads_trained PROPERTIES FIXTURES_REQUIRED trained_f32)

# Not in the sanitizer builds: it compiles what other tests compile there, only twice more
# (two minutes of CI under ASan), and a nondeterministic compile shows in the normal build.
if(NOT MODC_SANITIZE AND NOT MODC_TSAN)
  add_test(NAME reliability_repro
           COMMAND bash ${REL_SRC}/test_repro.sh ${CMAKE_BINARY_DIR} ${REL_BIN}/repro
                   ${REL_SRC}/rel.yaml)
  set_tests_properties(reliability_repro PROPERTIES TIMEOUT 600)
endif()

if(NOT MODC_SANITIZE AND NOT MODC_TSAN)
  rel_program(test_noalloc)
  target_link_options(test_noalloc PRIVATE -rdynamic)
  add_test(NAME reliability_noalloc COMMAND test_noalloc ${REL_LIB} 2)
  set_tests_properties(reliability_noalloc PROPERTIES FIXTURES_REQUIRED reliability_model)
  # mem.yaml: kv_dim = n_kv_heads * head_dim = 4 * 64; packed weights 160 MB (f32), 80 MB (bf16).
  foreach(dt f32 bf16)
    rel_model(reliability_memory_model_${dt} mem.yaml mem_${dt} --weights-dtype ${dt})
    add_test(NAME reliability_memory_${dt}
             COMMAND test_memory ${REL_BIN}/mem_${dt}/libmem.so ${REL_BIN}/mem_${dt}/mem.weights
                     ${REL_BIN}/mem_${dt}/mem.mir 256 32)
    set_tests_properties(reliability_memory_${dt} PROPERTIES
                         FIXTURES_REQUIRED reliability_memory_model_${dt})
  endforeach()
endif()
