# The command line end to end (tests/cli/test_cli.sh).
add_test(NAME cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_cli.sh ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/cli_work)
# modc tune end to end (tests/cli/test_tune.sh): about 20 s of tuning on the small spec.
add_test(NAME cli_tune COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_tune.sh ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/tune_work)
set_tests_properties(cli_tune PROPERTIES TIMEOUT 450)
# modc eval end to end (tests/cli/test_eval.sh): modes, output forms, thresholds, bad input.
add_test(NAME cli_eval COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_eval.sh $<TARGET_FILE:modc>
         $<TARGET_FILE:modc-randweights> ${CMAKE_CURRENT_BINARY_DIR}/eval_work)
# modc tune --routing end to end (tests/cli/test_tune_routing.sh): both modes, outputs, bad input.
add_test(NAME cli_tune_routing COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_tune_routing.sh $<TARGET_FILE:modc>
         $<TARGET_FILE:modc-randweights> ${CMAKE_CURRENT_BINARY_DIR}/tune_routing_work)
set_tests_properties(cli_tune_routing PROPERTIES TIMEOUT 600)
# cmake --install, a moved prefix, pkg-config (tests/cli/test_install.sh).
add_test(NAME cli_install COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_install.sh ${CMAKE_BINARY_DIR}
         ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/install_work)
# The Python package python/modc (tests/python/test_modc.py): numpy and ctypes only.  The
# first python3 with numpy (a pyenv shim may lack it while Debian's has it); none is a failure.
add_test(NAME python_modc COMMAND sh -c "for p in python3 /usr/bin/python3; do $p -c 'import numpy' 2>/dev/null && exec $p \"$0\" \"$@\"; done; echo 'no python3 with numpy (scripts/setup.sh installs python3-numpy)'; exit 1"
         ${CMAKE_SOURCE_DIR}/tests/python/test_modc.py $<TARGET_FILE:modc> ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/python_work)
# Checkpoints written by transformers 5.17 itself (tests/hf/, made by tests/hf/make_fixtures.py on
# the GPU machine): import-hf, compile, transformers' float64 logits and greedy tokens.
add_test(NAME python_hf_fixtures COMMAND sh -c "for p in python3 /usr/bin/python3; do $p -c 'import numpy' 2>/dev/null && exec $p \"$0\" \"$@\"; done; echo 'no python3 with numpy (scripts/setup.sh installs python3-numpy)'; exit 1"
         ${CMAKE_SOURCE_DIR}/tests/python/test_hf_fixtures.py $<TARGET_FILE:modc> ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/hf_work)
# modc.torch (tests/python/test_torch.py): PyTorch's logits and routing against the exported,
# compiled model.  Without PyTorch it says so and ctest shows it not run (77); not in a
# sanitizer build (PyTorch under a preloaded ASan runtime is not something we test).
if(NOT MODC_SANITIZE AND NOT MODC_TSAN)
  add_test(NAME python_torch COMMAND sh -c "for p in python3 /usr/bin/python3; do $p -c 'import numpy, torch' 2>/dev/null && exec $p \"$0\" \"$@\"; done; echo 'NOT RUN: no python3 with numpy and torch (apt-get install python3-torch)'; exit 77"
           ${CMAKE_SOURCE_DIR}/tests/python/test_torch.py $<TARGET_FILE:modc> ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/torch_work)
  set_tests_properties(python_torch PROPERTIES SKIP_RETURN_CODE 77)
endif()
# Programs outside the build (python3, cc of test_install.sh) load libraries whose runtime a
# sanitizer build instrumented: they need its flags, and python3 its runtime preloaded.
if(MODC_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE CLI_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
  set_tests_properties(cli_install PROPERTIES ENVIRONMENT
    "MODC_TEST_CFLAGS=-fsanitize=address,undefined;MODC_TEST_PRELOAD=${CLI_LIBASAN};ASAN_OPTIONS=${MODC_ASAN_OPTIONS}:detect_leaks=0")
  set_tests_properties(python_modc python_hf_fixtures PROPERTIES ENVIRONMENT
    "LD_PRELOAD=${CLI_LIBASAN};ASAN_OPTIONS=${MODC_ASAN_OPTIONS}:detect_leaks=0")
endif()
# modc import-hf end to end (tests/cli/test_import_hf.sh): one file, shards, bf16, refusals.
add_test(NAME cli_import_hf COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli/test_import_hf.sh $<TARGET_FILE:modc>
         $<TARGET_FILE:modc-randweights> ${CMAKE_CURRENT_BINARY_DIR}/import_hf_work)
# A static-LLVM modc (-DMODC_STATIC_LLVM=ON): no libLLVM among its libraries, and it compiles
# and runs a model.  Only in such a build tree (CI builds the shared-LLVM one).
if(MODC_STATIC_LLVM)
  add_test(NAME cli_static_llvm COMMAND sh -c "! ldd \"$0\" | grep -q libLLVM && \"$0\" --version | grep -q 'LLVM 19' && \"$1\" \"$2\" --seed 1 -o \"$3/s.safetensors\" >/dev/null && sed 's/^weights: .*/weights: s.safetensors/' \"$2\" > \"$3/s.yaml\" && \"$0\" compile \"$3/s.yaml\" -o \"$3/out/libsmall.so\" -q && \"$0\" run \"$3/out/libsmall.so\" --prompt hi --max-new 4 --temperature 0"
           $<TARGET_FILE:modc> $<TARGET_FILE:modc-randweights> ${CMAKE_CURRENT_LIST_DIR}/cli/small.yaml ${CMAKE_CURRENT_BINARY_DIR})
endif()
