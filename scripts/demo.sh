#!/bin/bash
# demo.sh: install what is missing, build, compile the example model, generate with it
# (the README's first command).
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
