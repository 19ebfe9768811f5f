# Other targets (issue 11): libraries linked for AArch64, run under qemu-aarch64 against the
# interpreter.  Needs Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross,
# libgomp1-arm64-cross and qemu-user (scripts/setup.sh installs them); without them the tests
# below are registered as ones that say so and are not run (ctest: "Not Run", exit 77).
#   cross_aarch64          random specs for neoverse-n1 on qemu's neoverse-n1 (NEON)
#   cross_aarch64_sve      random specs for a64fx (SVE, which LLVM uses for some loops) on
#                          qemu's a64fx
#   cross_aarch64_refused  an a64fx library on qemu's cortex-a72: modc_open refuses, naming sve
#   cli_cross              the command line: the library is AArch64 ELF, bad CPUs and triples,
#                          a missing cross compiler or runtime (tests/cli/test_cross.sh)
find_program(MODC_QEMU_AARCH64 qemu-aarch64)
if(MODC_AARCH64_CC AND MODC_QEMU_AARCH64 AND EXISTS /usr/aarch64-linux-gnu/lib)
  set(XRUNNER ${CMAKE_CURRENT_BINARY_DIR}/cross/runner)
  add_custom_command(OUTPUT ${XRUNNER}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/cross
    COMMAND ${MODC_AARCH64_CC} -std=c11 -O2 -Wall -D_GNU_SOURCE -I${CMAKE_SOURCE_DIR}
            ${CMAKE_CURRENT_SOURCE_DIR}/cross/runner.c -o ${XRUNNER} -ldl
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cross/runner.c ${CMAKE_SOURCE_DIR}/runtime/modc_load.h
            ${CMAKE_SOURCE_DIR}/runtime/modc.h VERBATIM)
  add_custom_target(cross_runner ALL DEPENDS ${XRUNNER})
  add_executable(test_cross cross/test_cross.c e2e/e2e_util.c e2e/randspec.c)
  target_include_directories(test_cross PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/e2e)
  target_link_libraries(test_cross PRIVATE modc_core m)
  set(XENV "MODC_QEMU=${MODC_QEMU_AARCH64} -L /usr/aarch64-linux-gnu")
  add_test(NAME cross_aarch64 COMMAND test_cross $<TARGET_FILE:modc> ${XRUNNER}
           ${CMAKE_CURRENT_BINARY_DIR}/cross_work neoverse-n1 neoverse-n1 10 0)
  add_test(NAME cross_aarch64_sve COMMAND test_cross $<TARGET_FILE:modc> ${XRUNNER}
           ${CMAKE_CURRENT_BINARY_DIR}/cross_sve_work a64fx a64fx 4 100)
  add_test(NAME cross_aarch64_refused COMMAND test_cross $<TARGET_FILE:modc> ${XRUNNER}
           ${CMAKE_CURRENT_BINARY_DIR}/cross_refused_work a64fx cortex-a72 1 200 --refused sve)
  set_tests_properties(cross_aarch64 cross_aarch64_sve cross_aarch64_refused PROPERTIES
                       ENVIRONMENT "${XENV}" TIMEOUT 300)
  add_test(NAME cli_cross COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cross.sh $<TARGET_FILE:modc>
           $<TARGET_FILE:modc-randweights> ${MODC_QEMU_AARCH64} ${XRUNNER} ${CMAKE_CURRENT_BINARY_DIR}/cli_cross_work)
else()
  foreach(t cross_aarch64 cross_aarch64_sve cross_aarch64_refused cli_cross)
    add_test(NAME ${t} COMMAND sh -c "echo '${t} DID NOT RUN: it needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, libgomp1-arm64-cross and qemu-user (scripts/setup.sh installs them)' >&2; exit 77")
    set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()

# One x86 library for several CPUs (issue 11, item 2): tests/cli/test_multicpu.sh, with the
# runner built for the host and qemu-x86_64 (qemu-user) playing CPUs without AVX and AVX-512.
find_program(MODC_QEMU_X86_64 qemu-x86_64)
add_executable(host_runner cross/runner.c)
target_include_directories(host_runner PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(host_runner PRIVATE ${CMAKE_DL_LIBS})
if(MODC_QEMU_X86_64 AND NOT MODC_SANITIZE AND NOT MODC_TSAN)
  add_test(NAME cli_multicpu COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_multicpu.sh $<TARGET_FILE:modc>
           $<TARGET_FILE:modc-randweights> $<TARGET_FILE:host_runner> ${MODC_QEMU_X86_64}
           ${CMAKE_CURRENT_BINARY_DIR}/cli_multicpu_work)
elseif(NOT MODC_QEMU_X86_64)
  add_test(NAME cli_multicpu COMMAND sh -c "echo 'cli_multicpu DID NOT RUN: it needs qemu-user (scripts/setup.sh installs it)' >&2; exit 77")
  set_tests_properties(cli_multicpu PROPERTIES SKIP_RETURN_CODE 77)
endif()
