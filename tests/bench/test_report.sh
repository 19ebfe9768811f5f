#!/bin/bash
# test_report.sh: bench/report.py on key=value files written here (no benchmark is run):
# rounds merge into a model's fastest round per section, each target's ratio is taken round
# by round and the median round decides pass or fail, a missing peer leaves "not measured",
# the random-router row is information only, and the llama.cpp rows take llama-bench's better
# flash-attention setting, paired with the modc bench beside it, or say why the peer is missing;
# oneDNN pairs with dense round by round, the mapped forward is an info row, and tg128 pairs with
# modc's decode from a 1-token prompt when run.sh measured it.
#   test_report.sh WORKDIR
set -u
W=$1 here=$(cd "$(dirname "$0")" && pwd)
report=$here/../../bench/report.py
rm -rf "$W" && mkdir -p "$W/kv" && cd "$W" || exit 1
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
kv() { local f=$1; shift; printf '%s\n' "$@" > "kv/$f.kv"; }   # kv FILE key=value...

# three rounds of dense and mod: MoD / dense forward 0.60, 0.80 (a noisy round), 0.65
for r in 1 2 3; do
  df=(400 410 400) mf=(240 328 260) dd=(8.0 8.0 8.4) md=(6.0 6.2 6.1) bd=(4.6 4.9 4.7)
  kv "dense.r$r" model=dense12 routed_layers=0 threads=2 peak_gflops=250 dram_gbs=20 peak_source=measured \
     dram_source=cached calibration_isa=avx512f load_average=0.5 "forward.ms=${df[r-1]}" \
     "decode.ms=${dd[r-1]}" "decode.gbs=$(awk -v t="${dd[r-1]}" 'BEGIN { print 438 / t }')" decode.weight_mb=438
  kv "mod.r$r" model=mod12 routed_layers=6 load_average=0.5 "forward.ms=${mf[r-1]}" "decode.ms=${md[r-1]}" \
     decode.weight_mb=357 decode.take_rate=0.52 decode.fit_base_ms=4.6 decode.fit_block_ms=0.5 \
     decode.at_capacity_ms=5.0
  kv "dense_bf16.r$r" load_average=0.5 "decode.ms=${bd[r-1]}"
  kv "densecal.r$r" load_average=0.5 decode.ms=8.0
  kv "modcal.r$r" load_average=0.5 decode.ms=5.0 decode.take_rate=0.11
done
kv compile compile.dense12.s=4.5 compile.mod12.s=4.7
kv env date=test threads=2 cpu=test
row() { grep -F "| $1 |" report.md; }
has() { if row "$1" | grep -q -- "$2"; then ok "$3"; else bad "$3: $(row "$1")"; fi; }   # has ROW PATTERN WHAT

# the llama.cpp peer missing: its rows say why
kv llama_env "status=not built (npm pack node-llama-cpp@1.0 failed)"
python3 "$report" kv report.md capacity.dat > out.txt 2>&1 || { bad "report.py failed: $(cat out.txt)"; exit 1; }
row "dense prefill of 512 tokens vs llama.cpp pp512 (f32)" | grep -q "not measured.*not built (npm pack" \
  && ok "a missing llama.cpp says why" || bad "missing llama.cpp: $(row 'dense prefill of 512 tokens vs llama.cpp pp512 (f32)')"
row "dense decode vs llama.cpp tg128 (bf16)" | grep -q "| n/a |" && ok "missing llama.cpp decode row is n/a" \
  || bad "missing llama.cpp decode: $(row 'dense decode vs llama.cpp tg128 (bf16)')"
grep -q "^- llama.cpp: not built" report.md && ok "peers list says llama.cpp was not built" || bad "peers: llama.cpp missing note"

# three rounds of the llama.cpp peer beside modc: pp512 ratios (better fa) 1.300, 1.152, 1.400 -> 1.300;
# decode 40/36, 40/38, 40/39 -> 1.053 (median), under the f32 goal of 1.1
kv llama_env status=built
kv llama_check_f32 llama.check.rel_err=0.000126 llama.check.argmax_agree=1
for r in 1 2 3; do
  pp0=(400 500 300) pp1=(500 480 350) tg0=(36 38 39) tg1=(30 31 32) mp=(650 576 490)
  kv "llamaside_f32.r$r" load_average=0.5 prefill.n=512 "prefill.ms=$(awk -v t="${mp[r-1]}" 'BEGIN { print 512000 / t }')" \
     "prefill.tokens_per_s=${mp[r-1]}" decode.ms=25 decode.tokens_per_s=40
  kv "llama_f32.r$r" "llama.pp512.fa0.tps=${pp0[r-1]}" "llama.pp512.fa1.tps=${pp1[r-1]}" \
     "llama.tg128.fa0.tps=${tg0[r-1]}" "llama.tg128.fa1.tps=${tg1[r-1]}" llama.build_commit=abc1234
done
kv llamaside_bf16 load_average=0.5 prefill.n=512 prefill.ms=800 prefill.tokens_per_s=640 decode.ms=10 decode.tokens_per_s=100
kv llama_bf16 llama.pp512.fa0.tps=600 llama.pp512.fa1.tps=610 llama.tg128.fa0.tps=90 llama.tg128.fa1.tps=95 \
   llama.build_commit=abc1234
python3 "$report" kv report.md capacity.dat > out.txt 2>&1 || { bad "report.py failed: $(cat out.txt)"; exit 1; }
row "dense prefill of 512 tokens vs llama.cpp pp512 (f32)" | grep -q "| modc 650 tokens/s | llama.cpp 500 tokens/s | 1.300 | modc / llama.cpp >= 1.25 | pass |" \
  && ok "pp512: the better fa setting, the median round" || bad "pp512 row: $(row 'dense prefill of 512 tokens vs llama.cpp pp512 (f32)')"
row "dense prefill of 512 tokens vs llama.cpp pp512 (f32)" | grep -q "rounds: 1.152, 1.300, 1.400" \
  && ok "pp512: every round's ratio" || bad "pp512 rounds"
row "dense prefill of 512 tokens vs llama.cpp pp512 (f32)" | grep -q "rel err 1.3e-04, argmax agrees 100.0%" \
  && ok "pp512: the logits check in the note" || bad "pp512 logits check note"
row "dense decode vs llama.cpp tg128 (f32)" | grep -q "| 1.053 | modc / llama.cpp >= 1.1 | \*\*fail\*\* |" \
  && ok "tg128 f32: a median under 1.1 fails" || bad "tg128 f32 row: $(row 'dense decode vs llama.cpp tg128 (f32)')"
row "dense decode vs llama.cpp tg128 (bf16)" | grep -q "| modc 100.0 tokens/s | llama.cpp 95.0 tokens/s | 1.053 | modc / llama.cpp >= 1 | pass |" \
  && ok "tg128 bf16: one round, goal 1.0" || bad "tg128 bf16 row: $(row 'dense decode vs llama.cpp tg128 (bf16)')"
grep -q "^- llama.cpp f32 (llama-bench, build abc1234; fastest of 3 rounds), tokens/s with flash attention off / on: pp512 500.0 / 500.0, tg128 39.0 / 32.0" report.md \
  && ok "peers list llama-bench's figures" || bad "peers llama line: $(grep '^- llama' report.md)"
grep -q "^Machine figures (modc bench, " report.md && ok "the machine's figures come from the kv" || bad "machine line"
row "MoD forward vs dense forward" | grep -q "| 0.650 | MoD / dense <= 0.7 | pass |" \
  && ok "the median round's ratio decides (0.600, 0.650, 0.800)" || bad "median round: $(row 'MoD forward vs dense forward')"
row "MoD forward vs dense forward" | grep -q "rounds: 0.600, 0.650, 0.800" && ok "every round's ratio listed" || bad "rounds listed"
row "bf16 decode vs f32 decode (dense)" | grep -q "| 0.575 | bf16 / f32 <= 0.6 | pass |" \
  && ok "bf16 / f32 paired by round (0.575, 0.560, 0.612)" || bad "bf16 pairing: $(row 'bf16 decode vs f32 decode (dense)')"
row "dense forward vs oneDNN sgemm (the same GEMMs alone)" | grep -q "not measured" \
  && ok "a missing peer is not measured" || bad "missing peer"
row "MoD decode vs dense decode, random router (measured)" | grep -q "| info |" && ok "random router row is information" \
  || bad "random router row"
grep -F "| dense12 f32 |" report.md | grep -q "| 400.0 (" && ok "figures table: the fastest round" || bad "figures table"
# a failing median: make round 3 bad too, so two of three rounds exceed 0.70
kv mod.r3 model=mod12 routed_layers=6 load_average=0.5 forward.ms=300 decode.ms=6.1 decode.weight_mb=357
python3 "$report" kv report.md capacity.dat > out.txt 2>&1
row "MoD forward vs dense forward" | grep -q "**fail**" && ok "a median over the goal fails" || bad "median fail"
# oneDNN beside dense round by round (400/350, 410/330, 400/345 -> 1.159 at the upper median,
# under 1/0.85), the mapped forward an info row (its median 500/330); the weights' place named
# from env
for r in 1 2 3; do
  dn=(350 330 345) dm=(520 500 540)
  kv "dnnl_dense.r$r" "dnnl.forward.ms=${dn[r-1]}" dnnl.forward.gflops=300 dnnl.decode.ms=9 dnnl.decode.gbs=40
  kv "densemap.r$r" load_average=0.5 "forward.ms=${dm[r-1]}"
done
kv env date=test threads=2 cpu=test weights_load=copy
python3 "$report" kv report.md capacity.dat > out.txt 2>&1 || bad "report.py with oneDNN rounds: $(cat out.txt)"
has "dense forward vs oneDNN sgemm (the same GEMMs alone)" \
  "| modc 400.0 ms | oneDNN 345.0 ms | 1.159 | modc / oneDNN <= 1.176 | pass |" "oneDNN paired round by round"
has "dense forward vs oneDNN sgemm (the same GEMMs alone)" "weights copied into memory.*rounds: 1.143, 1.159, 1.242" \
  "oneDNN rounds and where the weights were"
has "dense forward, weights mapped, vs oneDNN sgemm" "| modc 500.0 ms | oneDNN 330.0 ms | 1.515 | modc / oneDNN | info |" \
  "mapped forward: an info row"
# modc's decode from a 1-token prompt (llamatg) takes the tg128 row when run.sh measured it:
# 44 tokens/s against 36, 38, 39 -> 1.158 at the median
for r in 1 2 3; do kv "llamatg_f32.r$r" load_average=0.5 prefill.n=1 decode.ms=22.7 decode.tokens_per_s=44; done
python3 "$report" kv report.md capacity.dat > out.txt 2>&1 || bad "report.py with llamatg: $(cat out.txt)"
has "dense decode vs llama.cpp tg128 (f32)" "| modc 44.0 tokens/s | llama.cpp 38.0 tokens/s | 1.158 | modc / llama.cpp >= 1.1 | pass |" \
  "tg128: modc's decode from an empty context"
has "dense decode vs llama.cpp tg128 (f32)" "both decode 128 tokens from an empty context" "tg128 note says the contexts match"
has "dense decode vs llama.cpp tg128 (bf16)" "modc decodes after its 512-token prefill" "tg128 without llamatg keeps the prefill's decode"
# the machine's figures against the probes, round by round: peak 480/500, 470/400, 490/500
# (0.960, 1.175, 0.980: the median distance from 1 is 0.960's, a pass); DRAM 50/40, 52/40,
# 60/40 (1.250, 1.300, 1.500: a fail at 1.300); no probe files: not measured
has "modc bench's f32 FMA peak vs bench/fma_pairs" "| not measured |" "no probes: the peak row is not measured"
for r in 1 2 3; do
  pk=(480 470 490) fp=(500 400 500) dr=(50 52 60)
  kv "calib.r$r" "peak_gflops=${pk[r-1]}" "dram_gbs=${dr[r-1]}"
  kv "probe.r$r" "probe.fma_gflops=${fp[r-1]}" probe.read_gbs=40
done
python3 "$report" kv report.md capacity.dat > out.txt 2>&1 || bad "report.py with probes: $(cat out.txt)"
has "modc bench's f32 FMA peak vs bench/fma_pairs" "| 480 GFLOP/s | fma_pairs 500 GFLOP/s | 0.960 | modc / probe within 1 ± 0.15 | pass |" \
  "peak within 15% of fma_pairs at the median round"
has "modc bench's f32 FMA peak vs bench/fma_pairs" "rounds: 0.960, 0.980, 1.175" "peak rounds listed"
has "modc bench's DRAM read vs bench/read_bw" "| 52.0 GB/s | read_bw 40.0 GB/s | 1.300 | modc / probe within 1 ± 0.15 | \*\*fail\*\* |" \
  "DRAM 30% over read_bw fails"
[ "$fails" = 0 ] && echo "test_report: all passed" || echo "test_report: $fails failed"
[ "$fails" = 0 ]
