# bench/report.py on synthetic results (tests/bench/test_report.sh): no benchmark runs here.
add_test(NAME bench_report COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/test_report.sh ${CMAKE_CURRENT_BINARY_DIR}/bench_report_work)
