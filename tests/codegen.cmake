# codegen.cmake: kernel parity tests (codegen/kernels.c through cg_emit, linked with the
# runtime's helpers, run on 1 and 2 threads, compared with double references), for the host
# CPU and, on x86-64, also for haswell (8-lane vectors, 16 registers: the AVX2 description)
# and baseline x86-64 (4 lanes, no FMA), which any x86-64 host with AVX2 runs; for the host
# described as a 16-core target (records that split work for 16 cores); and with every
# schedule record redrawn at random among those the verifier accepts (KERNELS_SCHED_SEED),
# for the host and for haswell: codegen must be right for any valid record.
# `test_kernels DIR --bench [R,N,K ...]` prints GFLOP/s instead (not part of ctest).
add_executable(test_kernels codegen/test_kernels.c)
target_include_directories(test_kernels PRIVATE ${CMAKE_SOURCE_DIR})
# the runtime archive too: its CPU check (modc_rt_missing_features) and AMX request
target_link_libraries(test_kernels PRIVATE modc_core modc_rt ${CMAKE_DL_LIBS} m)
add_dependencies(test_kernels modc_rt)
add_test(NAME codegen_kernels COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work)
set_tests_properties(codegen_kernels PROPERTIES TIMEOUT 300)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  foreach(cpu haswell x86-64)
    add_test(NAME codegen_kernels_${cpu}
             COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work_${cpu})
    set_tests_properties(codegen_kernels_${cpu} PROPERTIES TIMEOUT 300
                         ENVIRONMENT KERNELS_CPU=${cpu})
  endforeach()
  add_test(NAME codegen_kernels_random_sched_haswell
           COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work_rs_haswell)
  set_tests_properties(codegen_kernels_random_sched_haswell PROPERTIES TIMEOUT 300
                       ENVIRONMENT "KERNELS_CPU=haswell;KERNELS_SCHED_SEED=3")
endif()
# AMX tiles (sapphirerapids: amx-bf16): heuristic records and records redrawn at random.  On a
# CPU without AMX the binary says NOT RUN and exits 77, which ctest reports as skipped (the
# GPU machine's Xeon runs them: the issue note gives that run).
foreach(v amx amx_random_sched)
  add_test(NAME codegen_kernels_${v} COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work_${v})
  set_tests_properties(codegen_kernels_${v} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "KERNELS_CPU=sapphirerapids;KERNELS_CORES=16")
endforeach()
set_tests_properties(codegen_kernels_amx_random_sched PROPERTIES
                     ENVIRONMENT "KERNELS_CPU=sapphirerapids;KERNELS_CORES=16;KERNELS_SCHED_SEED=5")
add_test(NAME codegen_kernels_manycore COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work_16)
set_tests_properties(codegen_kernels_manycore PROPERTIES TIMEOUT 300 ENVIRONMENT KERNELS_CORES=16)
foreach(seed 1 2)
  add_test(NAME codegen_kernels_random_sched_${seed}
           COMMAND test_kernels ${CMAKE_CURRENT_BINARY_DIR}/kernels_work_rs${seed})
  set_tests_properties(codegen_kernels_random_sched_${seed} PROPERTIES TIMEOUT 300
                       ENVIRONMENT KERNELS_SCHED_SEED=${seed})
endforeach()

# em_vexp (the softmax's inline exp) against double exp, at 4, 8 and 16 lanes, for the host
# CPU and the same two smaller x86-64 targets.
add_executable(test_vexp codegen/test_vexp.c)
target_include_directories(test_vexp PRIVATE ${CMAKE_SOURCE_DIR} ${LLVM_INCLUDE_DIRS})
target_link_libraries(test_vexp PRIVATE modc_core ${CMAKE_DL_LIBS} m)
add_test(NAME codegen_vexp COMMAND test_vexp ${CMAKE_CURRENT_BINARY_DIR}/vexp_work)
set_tests_properties(codegen_vexp PROPERTIES TIMEOUT 120)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  foreach(cpu haswell x86-64)
    add_test(NAME codegen_vexp_${cpu} COMMAND test_vexp ${CMAKE_CURRENT_BINARY_DIR}/vexp_work_${cpu})
    set_tests_properties(codegen_vexp_${cpu} PROPERTIES TIMEOUT 120 ENVIRONMENT KERNELS_CPU=${cpu})
  endforeach()
endif()
