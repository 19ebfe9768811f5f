#!/bin/bash
# test_repro.sh: compiling the same spec twice gives byte-identical outputs (issue 4, item 5).
#
# Two copies of one spec and its weights, in two directories with different names; every
# variant below is compiled once from each, into output directories of different names, and
# each output compared with cmp: the library, its header and packed weights; --emit obj, asm,
# llvm and ir; bf16 packing with weights beside the library and embedded in it; -O0; and a
# foreign target's object.  Nothing a compile writes may depend on where the spec or the
# outputs live, or on anything but its inputs (time, pid, addresses, hash-table order).
# usage: test_repro.sh BUILD_DIR WORK_DIR SPEC
set -u
B=$1 W=$2 spec=$3
rm -rf "$W" && mkdir -p "$W/one" "$W/two-elsewhere" || exit 1
cp "$spec" "$W/one/m.yaml" && cp "$spec" "$W/two-elsewhere/m.yaml" || exit 1
weights=$(sed -n 's/^weights: *\([^ #]*\).*/\1/p' "$spec")
"$B/modc-randweights" "$W/one/m.yaml" --seed 9 >/dev/null || exit 1
cp "$W/one/$weights" "$W/two-elsewhere/" || exit 1
fails=0 passes=0

# same VARIANT FILES -- FLAGS: compile with FLAGS in both copies, compare FILES (relative
# to each compile's output directory; the first is the -o target).
same() {
  local variant=$1 files=() f
  shift
  while [ "$1" != "--" ]; do files+=("$1"); shift; done
  shift
  for d in one two-elsewhere; do
    if ! (cd "$W/$d" && "$B/modc" compile m.yaml -o "out-$variant-$d/${files[0]}" -q "$@") \
        > "$W/$variant-$d.log" 2>&1; then
      fails=$((fails + 1)); echo "FAIL $variant: compile in $d failed:"; sed 's/^/    /' "$W/$variant-$d.log"
      return
    fi
  done
  for f in "${files[@]}"; do
    if cmp "$W/one/out-$variant-one/$f" "$W/two-elsewhere/out-$variant-two-elsewhere/$f"; then
      passes=$((passes + 1)); echo "ok   $variant: $f identical"
    else
      fails=$((fails + 1)); echo "FAIL $variant: $f differs between two compiles"
    fi
  done
}

name=$(sed -n 's/^name: *\([a-z0-9_]*\).*/\1/p' "$spec")
same lib      "lib$name.so" "$name.h" "$name.weights" --
same obj      "$name.o"   -- --emit obj
same asm      "$name.s"   -- --emit asm
same llvm     "$name.ll"  -- --emit llvm
same ir       "$name.mir" -- --emit ir
same bf16     "lib$name.so" "$name.h" "$name.weights" -- --weights-dtype bf16
same embed    "lib$name.so" "$name.h" -- --weights-dtype bf16 --embed-weights
same O0       "$name.o"   -- --emit obj -O0
same shapes   "$name.o"   -- --emit obj --shape 1,8 --shape 3,5
same aarch64  "$name.o"   -- --emit obj --target aarch64-linux-gnu --cpu neoverse-v1

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
