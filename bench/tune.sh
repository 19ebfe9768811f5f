#!/bin/bash
# tune.sh: the benchmarks of issue 10 (modc tune), on the benchmark model (bench/models/):
#   random weights -> `modc tune` of dense12 and mod12 (timed, default budget) -> each compiled
#   untuned and with its records -> ROUNDS interleaved rounds of `modc bench` on the four
#   libraries (forward [1,512], a PREFILL-token prefill, DECODE decode steps) -> `modc bench
#   UNTUNED --vs TUNED` per model (AB_ROUNDS rounds call by call in one process: the ratio the
#   VM's drift between separate runs cannot blur) -> a second tune
#   of dense12 and both runs' records timed side by side (`modc tune --compare A --compare B`:
#   do two runs agree?) -> `modc tune --exhaustive 4 --compare` on dense12 (the four most
#   expensive GEMMs swept, the tuned records timed beside the sweep's best)
#   -> OUT/tune-report.md (bench/tune_report.py).
# Not part of ctest: ~20 minutes on 2 cores.  Timings are ratios measured side by side.
#
# usage: bench/tune.sh [-b BUILD_DIR] [-o OUT_DIR] [-w WORK_DIR]
# environment: THREADS (all CPUs), BUDGET (modc tune's default), ROUNDS (3), REPEATS (5),
#   PREFILL (128), DECODE (32), SWEEP (4: kernels of the exhaustive sweep; 0 skips it),
#   MODELS ("dense12 mod12"), AGAIN (1: the second tune; 0 skips it), AB_ROUNDS (9; 0 skips the
#   A/B), SETTLE (40: seconds at most
#   to wait before each step for the load average to fall below 1.2; a few on many cores)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
B=$root/build OUT=$here/out W=""
while [ $# -gt 0 ]; do
  case $1 in
    -b) B=$(cd "$2" && pwd); shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    -w) W=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tune.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done
THREADS=${THREADS:-$(nproc)} ROUNDS=${ROUNDS:-3} REPEATS=${REPEATS:-5} PREFILL=${PREFILL:-128}
DECODE=${DECODE:-32} SWEEP=${SWEEP:-4} MODELS=${MODELS:-dense12 mod12} BUDGET=${BUDGET:-} AGAIN=${AGAIN:-1}
AB_ROUNDS=${AB_ROUNDS:-9}
SETTLE=${SETTLE:-40}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=${W:-$OUT/work}
mkdir -p "$W" "$OUT/tkv"
rm -f "$OUT"/tkv/*
MODC=$B/modc
[ -x "$MODC" ] || { echo "tune.sh: no modc in $B (build first)" >&2; exit 1; }
log() { printf '[tune.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kvset() { echo "$2=$3" >> "$OUT/tkv/$1.kv"; }
settle() { sync; for _ in $(seq "$SETTLE"); do awk '{ exit !($1 < 1.2) }' /proc/loadavg && break; sleep 1; done; }
budget=()
[ -n "$BUDGET" ] && budget=(--budget-seconds "$BUDGET")

kvset env date "$(date -u '+%Y-%m-%d %H:%M UTC')"
kvset env threads "$THREADS"
kvset env cpu "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores"
kvset env budget "${BUDGET:-default}"

# tune NAME SPEC RECORDS: times the whole `modc tune`
tune() {
  local name=$1 spec=$2 rec=$3 t0 t1
  settle
  log "modc tune $name"
  t0=$(date +%s.%N)
  "$MODC" tune "$spec" -o "$rec" --threads "$THREADS" "${budget[@]}" -v 2> "$OUT/tune-$name.log"
  t1=$(date +%s.%N)
  tail -1 "$OUT/tune-$name.log" >&2
  kvset tune "tune.$name.s" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  kvset tune "tune.$name.summary" "$(tail -1 "$OUT/tune-$name.log")"
}

for m in $MODELS; do
  cp "$root/bench/models/$m.yaml" "$W/"
  [ -f "$W/$m.safetensors" ] || { log "random weights for $m"; "$B/modc-randweights" "$W/$m.yaml" -o "$W/$m.safetensors" > /dev/null; }
  tune "$m" "$W/$m.yaml" "$W/$m.tuning.json"
  log "compiling $m untuned and tuned"
  "$MODC" compile "$W/$m.yaml" -o "$W/$m/lib$m.so" -q
  "$MODC" compile "$W/$m.yaml" -o "$W/$m-tuned/lib$m.so" --tuning "$W/$m.tuning.json" 2> "$OUT/compile-$m-tuned.log"
done

for r in $(seq "$ROUNDS"); do
  for m in $MODELS; do
    for v in "$m" "$m-tuned"; do
      settle
      log "round $r: modc bench $v"
      "$MODC" bench "$W/$v/lib$m.so" --threads "$THREADS" --repeats "$REPEATS" --prefill "$PREFILL" \
        --decode "$DECODE" --kv "$OUT/tkv/$v.r$r.kv" > "$OUT/bench-$v.r$r.txt"
    done
  done
done

if [ "$AB_ROUNDS" -gt 0 ]; then
  for m in $MODELS; do
    settle
    log "A/B: $m untuned --vs tuned, $AB_ROUNDS rounds in one process"
    "$MODC" bench "$W/$m/lib$m.so" --vs "$W/$m-tuned/lib$m.so" --threads "$THREADS" --repeats "$AB_ROUNDS" \
      --prefill "$PREFILL" --decode "$DECODE" --kv "$OUT/tkv/$m.ab.kv" -q > "$OUT/ab-$m.txt"
    tail -3 "$OUT/ab-$m.txt" >&2
  done
fi

first=${MODELS%% *}
if [ "$AGAIN" = 1 ]; then
  tune "$first.again" "$W/$first.yaml" "$W/$first.tuning2.json"
  settle
  log "the two tunes' records side by side, kernel by kernel"
  "$MODC" tune "$W/$first.yaml" --threads "$THREADS" --compare "$W/$first.tuning.json" \
    --compare "$W/$first.tuning2.json" > "$OUT/compare.txt" 2> "$OUT/compare.log"
fi
if [ "$SWEEP" -gt 0 ]; then
  settle
  log "exhaustive sweep of the $SWEEP largest matmuls of $first (minutes)"
  "$MODC" tune "$W/$first.yaml" -o "$W/$first.sweep.json" --threads "$THREADS" --exhaustive "$SWEEP" \
    --compare "$W/$first.tuning.json" -v > "$OUT/sweep.txt" 2> "$OUT/sweep.log"
  cat "$OUT/sweep.txt" >&2
fi
python3 "$here/tune_report.py" "$OUT" "$W" $MODELS > "$OUT/tune-report.md"
log "wrote $OUT/tune-report.md"
