# bench/report.py on synthetic results (tests/bench/test_report.sh): no benchmark runs here.
add_test(NAME bench_report COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/test_report.sh ${CMAKE_CURRENT_BINARY_DIR}/bench_report_work)
# modc bench's machine calibration (tools/calibrate.c): positive, finite figures, the cache
# file written, read back, re-measured when corrupted (tests/bench/test_calibrate.c).
add_executable(test_calibrate ${CMAKE_CURRENT_LIST_DIR}/bench/test_calibrate.c ${CMAKE_SOURCE_DIR}/tools/calibrate.c)
target_include_directories(test_calibrate PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/tools)
target_link_libraries(test_calibrate PRIVATE pthread m)
add_test(NAME bench_calibrate COMMAND test_calibrate ${CMAKE_CURRENT_BINARY_DIR}/bench_calibrate_work)
# bench/gguf_convert.py (the llama.cpp peer's GGUF) read back by an independent reader
# (tests/bench/test_gguf.sh); skipped without numpy.
add_test(NAME bench_gguf COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/test_gguf.sh ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/bench_gguf_work)
set_tests_properties(bench_gguf PROPERTIES SKIP_RETURN_CODE 77)
# bench/fma_pairs.c's lines for this machine's CPUs, and its refusals of bad options.
add_test(NAME bench_fma_pairs COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/test_fma_pairs.sh $<TARGET_FILE:fma_pairs>)
# bench/read_bw.c's line on small buffers, and its refusals of bad options.
add_test(NAME bench_read_bw COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/test_read_bw.sh $<TARGET_FILE:read_bw>)
# bench/parallel_ceiling.sh (N one-thread forwards at once against an N-thread forward) on a
# small model with 2 CPUs: its keys and their consistency, and its refusals of bad arguments.
add_test(NAME bench_parallel_ceiling COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/test_parallel_ceiling.sh ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/bench_parallel_ceiling_work)
