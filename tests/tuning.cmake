# tuning.cmake: tuning records (DESIGN section 8): tools/records.c's unit test, which also
# applies records through the schedule pass, and `modc compile --tuning` end to end
# (tests/cli/test_tuning.sh, with records test_records --records-for makes for this host).
add_executable(test_records tools/test_records.c ${CMAKE_SOURCE_DIR}/tools/records.c ${CMAKE_SOURCE_DIR}/tools/cli.c)
target_include_directories(test_records PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(test_records PRIVATE modc_core PkgConfig::JANSSON)
add_test(NAME tools/records COMMAND test_records ${CMAKE_CURRENT_BINARY_DIR}/records_work)

add_test(NAME cli_tuning
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_tuning.sh $<TARGET_FILE:modc>
                 $<TARGET_FILE:modc-randweights> $<TARGET_FILE:test_records>
                 ${CMAKE_CURRENT_BINARY_DIR}/cli_tuning_work)
# The ELF symbol reader of modc bench --profile (tests/tools/test_elfsym.c): its own names,
# truncated and corrupted files.
add_executable(test_elfsym tools/test_elfsym.c ${CMAKE_SOURCE_DIR}/tools/elfsym.c)
target_include_directories(test_elfsym PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(test_elfsym PRIVATE dl)
add_test(NAME tools/elfsym COMMAND test_elfsym ${CMAKE_CURRENT_BINARY_DIR}/elfsym_work)
