# fuzz.cmake: the fuzz harnesses (tests/fuzz/), included by tests/CMakeLists.txt.
#
#   fuzz/replay_NAME   every build: the harness's LLVMFuzzerTestOneInput, linked with
#                      tests/fuzz/replay.c instead of libFuzzer, run on the crashers kept in
#                      tests/fuzz/regressions/NAME/ and on the seed corpus
#                      tests/fuzz/corpus/NAME/
#   fuzz_NAME          with -DMODC_FUZZ=ON (clang only; see the top-level CMakeLists.txt and
#                      scripts/fuzz-smoke.sh): the libFuzzer binaries, not run by ctest
# NAME is spec, safetensors, ir or records.  FUZZ_SRC_NAME / FUZZ_LIB_NAME: what a harness
# needs besides modc_core (the records reader is the tools' file, over jansson, not core's).
set(FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR}/fuzz)
set(FUZZ_SRC_records ${CMAKE_SOURCE_DIR}/tools/records.c ${CMAKE_SOURCE_DIR}/tools/cli.c)
set(FUZZ_LIB_records PkgConfig::JANSSON)

foreach(h spec safetensors ir records)
  add_executable(fuzz_replay_${h} ${FUZZ_DIR}/fuzz_${h}.c ${FUZZ_DIR}/replay.c ${FUZZ_SRC_${h}})
  target_include_directories(fuzz_replay_${h} PRIVATE ${FUZZ_DIR})
  target_link_libraries(fuzz_replay_${h} PRIVATE modc_core ${FUZZ_LIB_${h}})
  add_test(NAME fuzz/replay_${h}
           COMMAND fuzz_replay_${h} ${FUZZ_DIR}/regressions/${h} ${FUZZ_DIR}/corpus/${h})
  if(MODC_FUZZ)
    add_executable(fuzz_${h} ${FUZZ_DIR}/fuzz_${h}.c ${FUZZ_SRC_${h}})
    target_include_directories(fuzz_${h} PRIVATE ${FUZZ_DIR})
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${h} PRIVATE modc_core ${FUZZ_LIB_${h}})
  endif()
endforeach()
