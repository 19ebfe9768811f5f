#!/bin/bash
# device.sh: the many-core measurements of the benchmark model on a machine without LLVM (the
# GPU machine's 16 Xeon cores), with modc bundles made by scripts/device-bundle.sh.  Run from
# the repo root there:
#
#   bench/device.sh OUT NAME=BUNDLE [NAME=BUNDLE ...]
#
# For each bundle (e.g. new=.dev/new old=.dev/old, the same commit's predecessor, to compare
# side by side): the benchmark weights (modc-randweights, made once), dense12 and mod12
# compiled for the host, `modc bench` on each at THREADS (default "1 4 8 16"), interleaved
# bundle by bundle so that each comparison is run seconds apart; with HASWELL=1 also dense12
# compiled for haswell (AVX2: 16 ymm registers) and timed on 1 and 2 threads.  Every bench's
# key=value lines (as bench/run.sh's) go to OUT/results.kv under a "# NAME-MODEL-CPU-tN"
# line, its text to OUT/log; weights and libraries stay in WORK (default OUT/work).
# Environment: THREADS, REPEATS (3), PREFILL (128), DECODE (32), HASWELL (0), WORK.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,14p "$0"; exit 2; }
out=$1; shift
work=${WORK:-$out/work}
mkdir -p "$out" "$work/kv"
threads=${THREADS:-1 4 8 16} repeats=${REPEATS:-3} prefill=${PREFILL:-128} decode=${DECODE:-32}
log=$out/log
names=()

unpack() { # NAME BUNDLE: $work/NAME/modc, its runtime
  local n=$1 b=$2 d=$work/$1
  mkdir -p "$d"
  python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$b/modc.xz" "$d/modc"
  chmod +x "$d/modc"
  cp "$b/modc-randweights" "$d/" && cp "$b/libmodc_rt.a" "$d/" && cp -r "$b/runtime" "$d/"
}

compile() { # NAME MODEL CPU
  local d=$work/$1 lib=$work/$1/$2-$3/lib$2.so
  MODC_RUNTIME_LIB=$d/libmodc_rt.a MODC_RUNTIME_DIR=$d/runtime "$d/modc" compile "$work/$2.yaml" --cpu "$3" -o "$lib" -q
  echo "$lib"
}

bench() { # NAME MODEL CPU THREADS [extra modc bench options]
  local n=$1 m=$2 cpu=$3 t=$4; shift 4
  local lib=$work/$n/$m-$cpu/lib$m.so kv=$work/kv/$n-$m-$cpu-t$t.kv
  echo "== $n $m --cpu $cpu --threads $t" | tee -a "$log"
  "$work/$n/modc" bench "$lib" --threads "$t" --repeats "$repeats" --prefill "$prefill" --decode "$decode" \
    --kv "$kv" "$@" 2>&1 | tee -a "$log"
}

for nb in "$@"; do
  names+=("${nb%%=*}")
  unpack "${nb%%=*}" "${nb#*=}"
done
cp bench/models/dense12.yaml bench/models/mod12.yaml "$work/"
first=$work/${names[0]}
for m in dense12 mod12; do
  [ -f "$work/$m.safetensors" ] || "$first/modc-randweights" "$work/$m.yaml" -o "$work/$m.safetensors"
done
lscpu | sed -n '1,20p' > "$out/lscpu.txt"
for n in "${names[@]}"; do
  for m in dense12 mod12; do
    s=$(date +%s%N); compile "$n" "$m" native >/dev/null
    echo "compile $n $m native: $(( ($(date +%s%N) - s) / 1000000 )) ms" | tee -a "$log"
  done
  [ "${HASWELL:-0}" = 1 ] && compile "$n" dense12 haswell >/dev/null
done
for t in $threads; do
  for m in dense12 mod12; do
    for n in "${names[@]}"; do bench "$n" "$m" native "$t"; done
  done
done
if [ "${HASWELL:-0}" = 1 ]; then
  for t in 1 2; do
    for n in "${names[@]}"; do bench "$n" dense12 haswell "$t" --no-session; done
  done
fi
for f in "$work"/kv/*.kv; do echo "# $(basename "$f" .kv)"; cat "$f"; done > "$out/results.kv"
