#!/bin/bash
# test.sh: install what is missing, build, run every test (the README's second command).
#   build/       the normal build and the whole test suite;
#   build-asan/  the same suite again under AddressSanitizer + UBSan (-DMODC_SANITIZE=ON);
#   build-tsan/  ThreadSanitizer (-DMODC_TSAN=ON): only what tests/reliability/test_threads
#                and tests/runtime/test_pool need, and those tests (many threads, each its
#                own session, on one model; the runtime's thread pool);
#   build-fuzz/  a 20-second libFuzzer smoke per parser (scripts/fuzz-smoke.sh).
# A sanitizer report fails the test it happens in: ASan and UBSan (-fno-sanitize-recover)
# stop the process, LeakSanitizer and TSan make it exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/setup.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

# libFuzzer smoke of the spec, safetensors and IR parsers (clang-19), kept crashers replayed.
./scripts/fuzz-smoke.sh 20

export UBSAN_OPTIONS=print_stacktrace=1
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMODC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure -j"$jobs"

cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMODC_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target modc modc-randweights test_threads test_pool
ctest --test-dir build-tsan --output-on-failure -R '^(reliability_threads|runtime_pool)$'
