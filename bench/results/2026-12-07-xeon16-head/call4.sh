#!/bin/bash
# session 31, issue 9: do a routed block's 64-row matmuls run faster on many cores cut into fewer, fatter items?
# call 3's --profile at 8 threads: matmul_norm_gather 581 GFLOP/s, scatter_gate 582, add_gather 640, against
# 950-1054 for the same shapes at 512 rows.  The heuristic's record asks for 8 items per core (items = 128 on
# 16 cores): a routed block's 64 rows become 6 row tiles of one 12-row register tile each, so every item
# streams a whole 98 KB weight panel from L3 for 12 rows.  Here the same bundle as call3.sh (carry
# [.dev/b30s]) compiles mod12 three ways: the heuristic's records, and tuning files (modc tune's records of a
# 1-second run, items.py) whose three routed kernels ask for items = 48 (2 row tiles) or 24 (1, except
# norm_gather, whose packed rows allow 36).  It checks the logits are the same bytes, then times
#  (1) mod12 --vs m48 and --vs m24, 9 rounds both orders, at 8, 16 and 4 threads, weights copied;
#  (2) dense12 --vs m48 at 4, 8 and 16 threads, both orders; (3) --profile of m48 at 8 threads.
R=$PWD; W=/tmp/w; B=$W/b; mkdir -p $B
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/b30s/modc.xz'), open('$B/modc','wb'))"; chmod +x $B/modc
tar xJf $R/.dev/b30s/rest.tar.xz -C $B
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$B/modc; uptime; lscpu | grep -E "Model name|^CPU\(s\)|^Model:"
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null; $M compile $m.yaml -o l/$m/lib$m.so -q; done
$M tune mod12.yaml -o base.json --budget-seconds 1 --no-e2e --threads 16 -q
for i in 48 24; do python3 $R/bench/results/2026-12-07-xeon16-head/items.py base.json i$i.json $i
  $M compile mod12.yaml --tuning i$i.json -o l/m$i/libm$i.so -q; done
$M compile mod12.yaml --tuning i48.json --emit ir -o - | grep -E -m3 "norm_gather|scatter_gate|add_gather" | grep -o "= matmul_[a-z_]*\|#matmul.*"
L() { echo l/$1/lib$1.so; }
Q="-q --peak-gflops 1 --dram-gbs 1"
for v in mod12 m48 m24; do $M bench $(L $v) --threads 16 --repeats 1 --warmup 0 --prefill 64 --decode 8 $Q --dump d.$v > /dev/null; done
for f in d.mod12.*; do for v in m48 m24; do cmp -s $f ${f/mod12/$v} && echo "same bytes: $v ${f#d.mod12.}" || echo "DIFFER: $v ${f#d.mod12.}"; done; done
{ for t in 8 16 4; do for p in "mod12 m48" "m48 mod12" "mod12 m24" "m24 mod12" "dense12 m48" "m48 dense12"; do set -- $p
  echo "t$t A=$1 B=$2 $(timeout 100 $M bench $(L $1) --vs $(L $2) --threads $t --repeats 9 --no-session --weights-load copy $Q 2>&1 | grep -E 'B/A' | tr -s ' ')"
done; done; } > $OUT/items.txt 2>&1; cat $OUT/items.txt
timeout 60 $M bench $(L m48) --threads 8 --repeats 5 --no-session --weights-load copy --profile $Q 2>&1 | grep -E "1x512|wall ms|k_" | grep -v "gemm$" > $OUT/profile8_m48.txt; cat $OUT/profile8_m48.txt
