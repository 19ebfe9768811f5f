#!/bin/bash
# run.sh: the benchmarks of issue 3, in one run, on the benchmark model (bench/models/):
#   random weights -> `modc compile` (timed) of dense12 and mod12, f32 and bf16
#   -> modc bench on each -> the peers (oneDNN sgemm on the same GEMMs, PyTorch eager on the
#   same model, checked against modc's logits; llama.cpp's llama-bench on dense12 as GGUF,
#   f32 and bf16, beside modc benches of the same prefill and decode) -> a capacity sweep of mod12
#   -> report.md (targets as ratios with pass/fail) and capacity.png (gnuplot).
# Not part of ctest: it takes many minutes (PyTorch eager alone ~1 min per forward here).
#
# usage: bench/run.sh [-b BUILD_DIR] [-o OUT_DIR] [-w WORK_DIR] [--quick]
#   BUILD_DIR  where modc was built (default build/)
#   OUT_DIR    report.md, capacity.png, capacity.dat and the logs (default bench/out/)
#   WORK_DIR   weights, compiled libraries, raw results (default OUT_DIR/work; ~12 GB)
#   --quick    fewer repeats and steps, one round, no sweep calibration, no PyTorch eager-2t
# The modc benches of the models the targets compare run ROUNDS times, interleaved (dense,
# mod, dense bf16, mod bf16, then again; the calibrated router beside dense decode again);
# report.py takes each target's ratio round by round (the upper median of the rounds), and
# its table of figures each model's fastest round, with the spread between rounds.
# environment: THREADS (2), REPEATS (5), PREFILL (128), DECODE (64), ROUNDS (3), TORCH_REPEATS (1),
#   CAPACITIES ("0.125 0.25 0.5 1.0"), PYTHON (/usr/bin/python3: Debian's, with torch),
#   TORCH_VARIANTS ("eager,eager-2t,mkldnn-2t"), CALIBRATE_SWEEP (1),
#   LLAMA (1; 0 skips the llama.cpp peer), LLAMA_DIR (WORK_DIR/llama: bench/llama_peer.sh's
#   build, kept between runs), WEIGHTS_LOAD (copy: modc's weights copied into memory, as
#   oneDNN's and PyTorch's are, and llama-bench run with --load-mode none; map: mapped files
#   and llama.cpp's default load mode).  oneDNN runs in every round beside dense12's forward, and a
#   forward of dense12 with its weights mapped is timed each round for information.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
B=$root/build OUT=$here/out W="" QUICK=0
while [ $# -gt 0 ]; do
  case $1 in
    -b) B=$(cd "$2" && pwd); shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    -w) W=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done
THREADS=${THREADS:-2} REPEATS=${REPEATS:-5} PREFILL=${PREFILL:-128} DECODE=${DECODE:-64} ROUNDS=${ROUNDS:-3}
TORCH_REPEATS=${TORCH_REPEATS:-1} CAPACITIES=${CAPACITIES:-0.125 0.25 0.5 1.0}
PYTHON=${PYTHON:-/usr/bin/python3} TORCH_VARIANTS=${TORCH_VARIANTS:-eager,eager-2t,mkldnn-2t}
CALIBRATE_SWEEP=${CALIBRATE_SWEEP:-1} LLAMA=${LLAMA:-1} WEIGHTS_LOAD=${WEIGHTS_LOAD:-copy}
case $WEIGHTS_LOAD in map|copy) ;; *) echo "run.sh: WEIGHTS_LOAD is '$WEIGHTS_LOAD'; expected map or copy" >&2; exit 1 ;; esac
if [ "$QUICK" = 1 ]; then
  REPEATS=2 DECODE=32 ROUNDS=1 CALIBRATE_SWEEP=0 TORCH_VARIANTS=eager,mkldnn-2t
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=${W:-$OUT/work}
LLAMA_DIR=${LLAMA_DIR:-$W/llama}
mkdir -p "$W" "$OUT/kv"
rm -f "$OUT"/kv/*.kv
MODC=$B/modc
[ -x "$MODC" ] && [ -x "$B/modc-randweights" ] || { echo "run.sh: no modc in $B (build first)" >&2; exit 1; }
log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kvset() { echo "$2=$3" >> "$OUT/kv/$1.kv"; }   # kvset FILE KEY VALUE

have_torch=0
"$PYTHON" -c "import torch, numpy, yaml" 2>/dev/null && have_torch=1
[ "$have_torch" = 1 ] || log "PyTorch not found for $PYTHON: no PyTorch peer, no calibrated router (apt-get install python3-torch python3-yaml)"
[ -x "$B/bench_dnnl" ] || log "bench_dnnl not built: no oneDNN peer (apt-get install libdnnl-dev, then re-run cmake)"
command -v gnuplot >/dev/null || log "gnuplot not found: no capacity.png (apt-get install gnuplot-nox)"

kvset env date "$(date -u '+%Y-%m-%d %H:%M UTC')"
kvset env threads "$THREADS"
kvset env weights_load "$WEIGHTS_LOAD"
kvset env cpu "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores"

# ---- weights and compiles
cp "$root"/bench/models/dense12.yaml "$root"/bench/models/mod12.yaml "$W"/
for m in dense12 mod12; do
  log "random weights for $m"
  "$B/modc-randweights" "$W/$m.yaml" > /dev/null
done

# compile NAME SPEC OUTDIR [flags...]: times the whole `modc compile`, packing included
compile() {
  local name=$1 spec=$2 dir=$3 t0 t1; shift 3
  log "modc compile $name $*"
  t0=$(date +%s.%N)
  "$MODC" compile "$spec" -o "$dir/lib$(basename "$spec" .yaml).so" -q "$@"
  t1=$(date +%s.%N)
  kvset compile "compile.$name.s" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}
compile dense12 "$W/dense12.yaml" "$W/dense12"
compile mod12 "$W/mod12.yaml" "$W/mod12"
compile dense12_bf16 "$W/dense12.yaml" "$W/dense12_bf16" --weights-dtype bf16
compile mod12_bf16 "$W/mod12.yaml" "$W/mod12_bf16" --weights-dtype bf16

# Settle before a measurement: the compiles just wrote GBs of weights that the kernel is still
# writing back (measured: dense decode 12.5 ms/step right after them, 7.1 ms settled; the DRAM
# calibration 28.6 GB/s against 45-54 settled), and the previous bench's two threads still weigh
# on the 1-minute load average (up to 40 s).
settle() {
  sync
  for _ in $(seq 40); do awk '{ exit !($1 < 1.2) }' /proc/loadavg && break; sleep 1; done
}

# ---- the machine's figures against independent probes: modc bench's calibration (peak and
# DRAM read at THREADS) beside bench/fma_pairs and bench/read_bw, ROUNDS times interleaved
probe_kv() {   # probe_kv R: calib.rR.kv (modc bench) and probe.rR.kv (the probes)
  local r=$1 fma
  settle
  "$MODC" bench "$W/dense12/libdense12.so" --threads "$THREADS" --no-forward --no-session --recalibrate -q \
    --kv "$OUT/kv/calib.r$r.kv" > /dev/null
  fma=$("$B/fma_pairs" --cpus "$THREADS" --ms 50) || fma=""
  if [ "$THREADS" = 1 ]; then
    echo "$fma" | sed -n 's/.*alone_gflops=\([0-9.]*\).*/probe.fma_gflops=\1/p'
  else
    echo "$fma" | sed -n "s/^threads=$THREADS total_gflops=\([0-9.]*\).*/probe.fma_gflops=\1/p"
  fi >> "$OUT/kv/probe.r$r.kv"
  { "$B/read_bw" --threads "$THREADS" || true; } | sed -n 's/.*best_gbs=\([0-9.]*\).*/probe.read_gbs=\1/p' >> "$OUT/kv/probe.r$r.kv"
  echo "$fma" > "$OUT/fma_pairs.r$r.txt"
}
if [ -x "$B/fma_pairs" ] && [ -x "$B/read_bw" ]; then
  for r in $(seq "$ROUNDS"); do log "machine figures, round $r: modc bench's calibration, fma_pairs, read_bw"; probe_kv "$r"; done
else
  log "fma_pairs or read_bw not built in $B: modc bench's figures go unchecked"
fi

# pair R KVNAME SECTION MODLIB [flags...]: a MoD library and dense12 in one process (modc bench
# --vs: forward call by call, decode step by step), the order alternating by round.  Separate
# processes time apart by up to a third on a VM (page placement), which a goal's ratio should
# not carry.  KVNAME.rR.kv gains pair.mod_ms and pair.dense_ms (SECTION's, whichever was A).
pair() {
  local r=$1 kv=$OUT/kv/$2.r$1.kv sec=$3 mod=$4 dense=$W/dense12/libdense12.so txt=$OUT/$2.r$1.txt
  shift 4
  local a=$mod b=$dense
  [ $((r % 2)) = 0 ] && a=$dense b=$mod
  settle
  log "modc bench $a --vs $b ($sec, one process)"
  "$MODC" bench "$a" --vs "$b" "$@" --threads "$THREADS" --repeats "$REPEATS" --prefill "$PREFILL" \
    --decode "$DECODE" --weights-load "$WEIGHTS_LOAD" --peak-gflops 1 --dram-gbs 1 --kv "$kv" | tee "$txt"
  awk -F= -v sec="$sec" -v mod_is_a="$([ "$a" = "$mod" ] && echo 1 || echo 0)" '
    $1 == "ab." sec ".a_ms" { am = $2 } $1 == "ab." sec ".b_ms" { bm = $2 }
    END { if (am != "" && bm != "") { print "pair.mod_ms=" (mod_is_a ? am : bm); print "pair.dense_ms=" (mod_is_a ? bm : am) } }' \
    "$kv" >> "$kv"
}

# bench KVNAME LIB [flags...]; the first one measures the machine's peak and bandwidth afresh
# (modc bench's cache may hold figures taken while other work ran), the rest reuse them
recal=--recalibrate
bench() {
  local kv=$1 lib=$2; shift 2
  settle
  log "modc bench $lib $*"
  "$MODC" bench "$lib" --threads "$THREADS" --repeats "$REPEATS" --prefill "$PREFILL" --decode "$DECODE" \
    --weights-load "$WEIGHTS_LOAD" --kv "$OUT/kv/$kv.kv" $recal "$@" | tee "$OUT/$kv.txt"
  recal=""
}
for r in $(seq "$ROUNDS"); do   # KVNAME.rN: round N, merged by report.py
  dump=()
  [ "$r" = 1 ] && dump=(--dump "$W/dense12/dump")
  bench "dense.r$r" "$W/dense12/libdense12.so" "${dump[@]}"
  if [ -x "$B/bench_dnnl" ]; then   # the GEMM floor beside it, round by round
    log "oneDNN sgemm on the dense12 GEMMs"
    "$B/bench_dnnl" --threads "$THREADS" --repeats "$REPEATS" --kv "$OUT/kv/dnnl_dense.r$r.kv" | tee "$OUT/dnnl_dense.r$r.txt"
  fi
  bench "densemap.r$r" "$W/dense12/libdense12.so" --no-session --weights-load map
  [ "$r" = 1 ] && dump=(--dump "$W/mod12/dump")
  bench "mod.r$r" "$W/mod12/libmod12.so" "${dump[@]}"
  [ "$r" = 1 ] && dump=(--dump "$W/dense12_bf16/dump")
  bench "dense_bf16.r$r" "$W/dense12_bf16/libdense12.so" "${dump[@]}"
  bench "mod_bf16.r$r" "$W/mod12_bf16/libmod12.so"
  pair "$r" modfwd_vs forward "$W/mod12/libmod12.so" --no-session
done

# ---- calibrated router: router_bias so that ~capacity of the tokens take a routed block
# calibrated CAP DIRNAME: writes $W/DIRNAME/mod12cal.{yaml,safetensors}
calibrated() {
  local cap=$1 d=$W/$2
  mkdir -p "$d"
  sed "s/^  capacity: .*/  capacity: $cap/" "$W/mod12.yaml" > "$d/mod12c.yaml"
  sed -i "s|^weights: .*|weights: ../mod12.safetensors|" "$d/mod12c.yaml"
  log "calibrating the router of mod12 at capacity $cap"
  "$PYTHON" "$here/torch_model.py" calibrate "$d/mod12c.yaml" --name mod12cal \
    --out-spec "$d/mod12cal.yaml" --out-weights "$d/mod12cal.safetensors" | tee -a "$OUT/calibrate.txt"
}
if [ "$have_torch" = 1 ]; then
  calibrated 0.125 mod12cal
  compile mod12cal "$W/mod12cal/mod12cal.yaml" "$W/mod12cal"
  compile mod12cal_bf16 "$W/mod12cal/mod12cal.yaml" "$W/mod12cal_bf16" --weights-dtype bf16
  for r in $(seq "$ROUNDS"); do   # with dense once more each round: the goal is their ratio
    bench "modcal.r$r" "$W/mod12cal/libmod12cal.so" --no-forward
    bench "densecal.r$r" "$W/dense12/libdense12.so" --no-forward
    bench "modcal_bf16.r$r" "$W/mod12cal_bf16/libmod12cal.so" --no-forward
    pair "$r" modcal_vs decode "$W/mod12cal/libmod12cal.so" --no-forward
  done
fi

# ---- peers
if [ -x "$B/bench_dnnl" ]; then
  log "oneDNN sgemm on the mod12 GEMMs"
  "$B/bench_dnnl" --threads "$THREADS" --repeats "$REPEATS" --routed-capacity 0.125 --kv "$OUT/kv/dnnl_mod.kv" \
    | tee "$OUT/dnnl_mod.txt"
fi
# llama.cpp: llama-bench pp512 (prefill of 512 tokens) and tg128 (128 decode steps from an
# empty context), flash attention off and on, on dense12 converted to GGUF (f32, bf16), each
# round beside modc benches of the same library: a 512-token prefill, and 128 decode steps after a
# 1-token prompt (tg128's empty context).  Its logits on the
# forward's tokens are compared with modc's first (the conversion must compute modc's function).
llama_kv() {   # llama_kv JSONL KVFILE: llama-bench's tokens/s as llama.{pp512,tg128}.fa{0,1}.tps
  "$PYTHON" - "$1" >> "$2" << 'EOF'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    test = "pp%d" % d["n_prompt"] if d["n_prompt"] else "tg%d" % d["n_gen"]
    print("llama.%s.fa%d.tps=%.6g" % (test, int(d["flash_attn"]), d["avg_ts"]))
    print("llama.build_commit=%s" % d["build_commit"])
EOF
}
llama_check() {   # llama_check DT MODC_DUMP_DIR: llama.cpp's logits on modc's forward tokens, compared
  local dt=$1 dump=$2/dump
  [ -f "$dump.tokens" ] || return 0
  "$llama_bin/llama-logits" "$W/dense12-$dt.gguf" "$dump.tokens" "$W/llama-$dt.logits" "$THREADS" 2> /dev/null || return 0
  log "llama.cpp $dt logits against modc's:"
  local vocab
  vocab=$(sed -n 's/^  vocab_size: *//p' "$W/dense12.yaml")
  "$PYTHON" "$here/gguf_convert.py" check "$dump.logits" "$W/llama-$dt.logits" --vocab "$vocab" | tee -a "$OUT/llama_check.txt" \
    | sed -n 's/^kv: //p' | tr ' ' '\n' >> "$OUT/kv/llama_check_$dt.kv"
  rm -f "$W/llama-$dt.logits"
}
llama_peer() {
  local why r dt lib
  [ "$LLAMA" = 1 ] || { why="LLAMA=$LLAMA"; log "llama.cpp peer: not built ($why)"; kvset llama_env status "not built ($why)"; return; }
  log "llama.cpp peer: bench/llama_peer.sh $LLAMA_DIR (npm pack node-llama-cpp, build; cached after the first run)"
  if ! llama_bin=$("$here/llama_peer.sh" "$LLAMA_DIR" 2> "$OUT/llama_build.txt"); then
    why=$(tail -1 "$OUT/llama_build.txt" | sed 's/^llama_peer.sh: //')
    log "llama.cpp peer: not built ($why)"; kvset llama_env status "not built ($why)"; return
  fi
  kvset llama_env status built
  for dt in f32 bf16; do
    "$PYTHON" "$here/gguf_convert.py" "$W/dense12.yaml" "$W/dense12-$dt.gguf" --dtype "$dt" >&2
  done
  llama_check f32 "$W/dense12"
  llama_check bf16 "$W/dense12_bf16"
  for r in $(seq "$ROUNDS"); do
    for dt in f32 bf16; do
      lib=$W/dense12/libdense12.so
      [ "$dt" = bf16 ] && lib=$W/dense12_bf16/libdense12.so
      bench "llamaside_$dt.r$r" "$lib" --no-forward --prefill 512 --decode 8
      # tg128's conditions: 128 steps from an empty context (the KV cache read grows from 0)
      bench "llamatg_$dt.r$r" "$lib" --no-forward --prefill 1 --decode 128
      log "llama-bench $dt (pp512, tg128, -fa 0 and 1, $REPEATS repetitions)"
      if "$llama_bin/llama-bench" -m "$W/dense12-$dt.gguf" -p 512 -n 128 -t "$THREADS" -fa 0,1 -r "$REPEATS" \
           -lm "$([ "$WEIGHTS_LOAD" = copy ] && echo none || echo auto)" \
           -o jsonl 2> "$OUT/llama_$dt.r$r.err" > "$OUT/llama_$dt.r$r.jsonl"; then
        llama_kv "$OUT/llama_$dt.r$r.jsonl" "$OUT/kv/llama_$dt.r$r.kv"
      else
        log "llama-bench $dt failed (see $OUT/llama_$dt.r$r.err)"
      fi
    done
  done
}
llama_peer

if [ "$have_torch" = 1 ]; then
  for m in dense12 mod12; do
    log "PyTorch eager on $m ($TORCH_VARIANTS; the eager default takes about a minute per forward here)"
    "$PYTHON" "$here/torch_model.py" time "$W/$m.yaml" --dump "$W/$m/dump" --repeats "$TORCH_REPEATS" --warmup 0 \
      --variants "$TORCH_VARIANTS" --kv "$OUT/kv/torch_${m%12}.kv" | tee "$OUT/torch_${m%12}.txt"
  done
fi

# ---- capacity sweep (C = 0.125 is mod12 itself)
for c in $CAPACITIES; do
  if [ "$c" = 0.125 ]; then   # mod12's own capacity: the library benched above
    for f in "$OUT"/kv/mod.r*.kv; do cp "$f" "$OUT/kv/sweep_$c.${f##*/mod.}"; done
  else
    compile "mod12_c$c" "$W/mod12.yaml" "$W/sweep_$c" -D routing.capacity="$c"
    # capacity changes no weight: run on mod12's own file (already in the page cache; the
    # library checks its hash), and drop the copy the compile wrote
    rm -f "$W/sweep_$c/mod12.weights"
    bench "sweep_$c" "$W/sweep_$c/libmod12.so" --weights "$W/mod12/mod12.weights"
  fi
  if [ "$have_torch" = 1 ] && [ "$CALIBRATE_SWEEP" = 1 ]; then
    if [ "$c" = 0.125 ]; then
      for f in "$OUT"/kv/modcal.r*.kv; do cp "$f" "$OUT/kv/sweepcal_$c.${f##*/modcal.}"; done
    else
      calibrated "$c" "sweepcal_$c"
      compile "mod12cal_c$c" "$W/sweepcal_$c/mod12cal.yaml" "$W/sweepcal_$c"
      bench "sweepcal_$c" "$W/sweepcal_$c/libmod12cal.so" --no-forward
    fi
  fi
done

# ---- report and plot
log "writing $OUT/report.md"
"$PYTHON" "$here/report.py" "$OUT/kv" "$OUT/report.md" "$OUT/capacity.dat"
if command -v gnuplot >/dev/null; then
  gnuplot -e "dat='$OUT/capacity.dat'; out='$OUT/capacity.png'" "$here/capacity.gp"
  log "wrote $OUT/capacity.png"
fi
log "done: $OUT/report.md"
