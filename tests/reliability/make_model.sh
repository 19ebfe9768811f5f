#!/bin/bash
# make_model.sh: random weights for a spec, then `modc compile` it (the reliability tests'
# fixture).  Writes WORK/lib<name>.so, <name>.h, <name>.weights and <name>.mir (--emit ir),
# then removes the safetensors file (the tests only need the compiled outputs).
# usage: make_model.sh BUILD_DIR SPEC WORK_DIR [modc compile flags...]
set -eu
B=$1 spec=$2 W=$3
shift 3
name=$(sed -n 's/^name: *\([a-z0-9_]*\).*/\1/p' "$spec")
rm -rf "$W" && mkdir -p "$W"
cp "$spec" "$W/$name.yaml"
cd "$W"
"$B/modc-randweights" "$name.yaml" --seed 5 --dtype bf16 >/dev/null
"$B/modc" compile "$name.yaml" -o "lib$name.so" -q "$@"
"$B/modc" compile "$name.yaml" --emit ir -o "$name.mir" -q "$@"
rm -f "$name.safetensors"
