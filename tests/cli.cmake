# The command line end to end (tests/cli/test_cli.sh).
add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_cli.sh ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/cli_work)
