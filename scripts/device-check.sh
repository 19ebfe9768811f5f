#!/bin/bash
# device-check.sh: what the self-contained modc must do on a machine without LLVM (the GPU
# machine of issues 9 and 12), with a bundle from scripts/device-bundle.sh.  From the repo root:
#
#   scripts/device-check.sh BUNDLE WORK [THREADS...]
#
# 1. unpacks modc, prints `modc --version` (the LLVM it carries) and checks it names one;
# 2. compiles the trained example and the benchmark models (weights from modc-randweights)
#    there, twice for the trained example, and checks the two libraries are byte-identical;
# 3. `modc run` greedy on the trained example;
# 4. the Python package (python/modc) opens the library and generates the same tokens;
# 5. builds tests/reliability/test_nthreads with that machine's cc and runs it on each library
#    for THREADS (default 1 2 3 4 5 8 12 16): logits and routing bit-identical.
# Prints one "ok"/"FAIL" line per check and exits 1 if any failed.
set -uo pipefail
[ $# -ge 2 ] || { sed -n 2,13p "$0"; exit 2; }
bundle=$1 W=$2; shift 2
threads=${*:-1 2 3 4 5 8 12 16}
root=$(pwd)
mkdir -p "$W" && W=$(cd "$W" && pwd)
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" \
  "$bundle/modc.xz" "$W/modc" && chmod +x "$W/modc"
export MODC_RUNTIME_LIB=$(cd "$bundle" && pwd)/libmodc_rt.a MODC_RUNTIME_DIR=$(cd "$bundle" && pwd)/runtime
M=$W/modc
v=$("$M" --version 2>&1); echo "$v"
echo "$v" | grep -q 'LLVM 19' && ok "modc --version names its LLVM" || bad "modc --version: $v"
ldd "$M" | grep -i llvm && bad "modc links a shared LLVM" || ok "no shared LLVM in ldd"

cp examples/trained/bytes_mod.yaml examples/trained/bytes_mod.safetensors "$W/"
cp bench/models/dense12.yaml bench/models/mod12.yaml "$W/"
for m in dense12 mod12; do "$bundle/modc-randweights" "$W/$m.yaml" -o "$W/$m.safetensors" > /dev/null || bad "randweights $m"; done
for m in bytes_mod dense12 mod12; do
  s=$(date +%s%N)
  "$M" compile "$W/$m.yaml" -o "$W/$m/lib$m.so" -q && ok "compile $m: $(( ($(date +%s%N) - s) / 1000000 )) ms" \
    || bad "compile $m"
done
"$M" compile "$W/bytes_mod.yaml" -o "$W/again/libbytes_mod.so" -q &&
  cmp "$W/bytes_mod/libbytes_mod.so" "$W/again/libbytes_mod.so" && ok "two compiles, identical libraries" \
  || bad "two compiles differ"

out=$("$M" run "$W/bytes_mod/libbytes_mod.so" --prompt "def main(" --max-new 48 --temperature 0 2> "$W/run.err")
echo "$out"
[ -n "$out" ] && ok "modc run" || bad "modc run"
PYTHONPATH=$root/python python3 - "$W/bytes_mod/libbytes_mod.so" "$out" <<'PY' && ok "python package, same greedy text" || bad "python package"
import sys, numpy as np, modc
with modc.load(sys.argv[1]) as m, m.session() as s:
    logits = s.prefill(np.frombuffer(b"def main(", dtype=np.uint8).astype(np.int32))
    toks = []
    for _ in range(48):
        t = int(np.argmax(logits[-1] if logits.ndim > 1 else logits))
        toks.append(t)
        logits = s.decode(t)
text = "def main(" + bytes(toks).decode("utf-8", "replace")
print(text)
sys.exit(0 if text == sys.argv[2] else 1)
PY

cc -O2 -I"$root" tests/reliability/test_nthreads.c -o "$W/test_nthreads" -ldl -lpthread -lm || bad "cc test_nthreads"
for m in bytes_mod mod12 dense12; do
  "$W/test_nthreads" "$W/$m/lib$m.so" $threads > "$W/nthreads-$m.txt" 2>&1 && ok "bit-identical $m, threads $threads" \
    || { bad "threads differ on $m"; tail -5 "$W/nthreads-$m.txt"; }
done
echo "device-check: $fails failed"
[ $fails = 0 ]
