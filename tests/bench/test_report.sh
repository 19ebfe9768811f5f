#!/bin/bash
# test_report.sh: bench/report.py on key=value files written here (no benchmark is run):
# rounds merge into a model's fastest round per section, each target's ratio is taken round
# by round and the median round decides pass or fail, a missing peer leaves "not measured",
# and the random-router row is information only.
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
  kv "dense.r$r" model=dense12 routed_layers=0 dram_gbs=55 load_average=0.5 "forward.ms=${df[r-1]}" \
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
python3 "$report" kv report.md capacity.dat > out.txt 2>&1 || { bad "report.py failed: $(cat out.txt)"; exit 1; }
row() { grep -F "| $1 |" report.md; }
row "MoD forward vs dense forward" | grep -q "| 0.650 | MoD / dense <= 0.72 | pass |" \
  && ok "the median round's ratio decides (0.600, 0.650, 0.800)" || bad "median round: $(row 'MoD forward vs dense forward')"
row "MoD forward vs dense forward" | grep -q "rounds: 0.600, 0.650, 0.800" && ok "every round's ratio listed" || bad "rounds listed"
row "bf16 decode vs f32 decode (dense)" | grep -q "| 0.575 | bf16 / f32 <= 0.6 | pass |" \
  && ok "bf16 / f32 paired by round (0.575, 0.560, 0.612)" || bad "bf16 pairing: $(row 'bf16 decode vs f32 decode (dense)')"
row "dense forward vs oneDNN sgemm (the same GEMMs alone)" | grep -q "not measured" \
  && ok "a missing peer is not measured" || bad "missing peer"
row "MoD decode vs dense decode, random router (measured)" | grep -q "| info |" && ok "random router row is information" \
  || bad "random router row"
grep -F "| dense12 f32 |" report.md | grep -q "| 400.0 (" && ok "figures table: the fastest round" || bad "figures table"
# a failing median: make round 3 bad too, so two of three rounds exceed 0.72
kv mod.r3 model=mod12 routed_layers=6 load_average=0.5 forward.ms=300 decode.ms=6.1 decode.weight_mb=357
python3 "$report" kv report.md capacity.dat > out.txt 2>&1
row "MoD forward vs dense forward" | grep -q "**fail**" && ok "a median over the goal fails" || bad "median fail"
[ "$fails" = 0 ] && echo "test_report: all passed" || echo "test_report: $fails failed"
[ "$fails" = 0 ]
