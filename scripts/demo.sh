#!/bin/bash
# demo.sh: install what is missing, build, compile the example model, generate with it
# (the README's first command); then a short routing tune of the trained MoD model against
# its dense twin (examples/pair/: bench/tune_routing.sh with a 60-second search; TUNE=0 skips
# it), whose report and frontier.png land in out/tune-routing/.
set -euo pipefail
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
spec=${1:-examples/trained/bytes_mod.yaml}
name=$(sed -n 's/^name: *\([a-z0-9_]*\).*/\1/p' "$spec")
weights=$(dirname "$spec")/$(sed -n 's/^weights: *\([^ #]*\).*/\1/p' "$spec")
[ -f "$weights" ] || build/modc-randweights "$spec" -o "$weights"
build/modc compile "$spec" -o "out/lib$name.so"
build/modc run "out/lib$name.so" --prompt "${PROMPT:-def parse_args(}" --max-new 200 --temperature 0.5
if [ "${TUNE:-1}" = 1 ] && [ $# = 0 ]; then
  echo; echo "== modc tune --routing: examples/pair/pair_mod.yaml against its dense twin (about two minutes)"
  SPEC=examples/pair/pair_mod.yaml TWIN=examples/pair/pair_dense.yaml SEARCH_S=60 ROUNDS=1 RATIO=1.05 \
    bench/tune_routing.sh -b build -o out/tune-routing > /dev/null
  cat out/tune-routing/report.md
fi
