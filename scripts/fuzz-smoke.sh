#!/bin/bash
# fuzz-smoke.sh: CI's short run of the libFuzzer harnesses (tests/fuzz/).
#
#   ./scripts/fuzz-smoke.sh [SECONDS]      default 30 seconds per harness
#
# Installs clang-19, its fuzzer/sanitizer runtimes and libomp when missing (as setup.sh
# does for the rest), configures a clang build with -DMODC_FUZZ=ON in build-fuzz/, builds
# fuzz_spec, fuzz_safetensors, fuzz_ir and fuzz_records, replays every kept crasher
# (tests/fuzz/regressions/NAME/), then fuzzes each harness for SECONDS on its seed corpus.
# New inputs go to a scratch corpus under build-fuzz/, never into the repo.  Any crash,
# sanitizer report, broken invariant, timeout (10 s per input) or leak fails the script;
# the input that did it is left in build-fuzz/artifacts/NAME/ (keep it as a regression:
# tests/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}

PKGS="clang-19 libclang-rt-19-dev libomp-19-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "fuzz-smoke: installing$missing" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

B=build-fuzz
cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang-19 -DMODC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc)" --target fuzz_spec fuzz_safetensors fuzz_ir fuzz_records

status=0
for h in spec safetensors ir records; do
  bin="$B/tests/fuzz_$h"
  work="$B/corpus/$h" art="$B/artifacts/$h/"
  mkdir -p "$work" "$art"
  regs=$(find "tests/fuzz/regressions/$h" -type f ! -name '.*' | sort)
  if [ -n "$regs" ] && ! $bin -runs=0 $regs > "$B/replay_$h.log" 2>&1; then
    echo "fuzz-smoke: $h: a kept regression input fails again:"; tail -30 "$B/replay_$h.log"
    status=1
    continue
  fi
  if $bin -max_total_time="$secs" -timeout=10 -print_final_stats=1 -dict="tests/fuzz/$h.dict" -artifact_prefix="$art" \
       "$work" "tests/fuzz/corpus/$h" > "$B/fuzz_$h.log" 2>&1; then
    echo "fuzz-smoke: $h: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/fuzz_$h.log" | grep -o '[0-9]*$') runs, $(grep -E '^#[0-9]+' "$B/fuzz_$h.log" | tail -1 | grep -o 'cov: [0-9]* ft: [0-9]*')"
  else
    echo "fuzz-smoke: $h: FAILED; input kept in $art"; grep -E -A20 'ERROR|runtime error|invariant' "$B/fuzz_$h.log" | head -40
    status=1
  fi
done
exit $status
