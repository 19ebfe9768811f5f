#!/bin/bash
# session 31, issue 9: MoD / dense forward on 16 Xeon cores under bench/run.sh's own convention, weights copied
# into memory (WEIGHTS_LOAD=copy), beside the mapped weights that calls 1 and 2 used (device-run.sh).  Call 2
# gave, mapped, t8 0.703 and 1/1.395 = 0.717 where the goal is <= 0.70.  On the 2-core Zen 5, --profile put
# the routed blocks' 64-row matmul_norm_gather at 27 ms in 6 forwards with copied weights and 67-128 ms with
# mapped ones (page-cache 4 KiB pages: a TLB walk per 4 KiB of weights, which 64 rows amortise 8x less than
# dense's 512).  Carry [.dev/b30s] (the same bundle as device-run.sh: runtime code of 89d44e4 = HEAD's).
# It measures:
#  (1) modc bench mod12 --vs dense12, both orders, 9 rounds each, at 4, 8, 16 and 1 threads, copy then map
#      (1 thread: copy only; calls 1 and 2 have it mapped)
#  (2) --profile of mod12 at 8 threads, copy and map: where the routed blocks' time goes
R=$PWD; W=/tmp/w; B=$W/b; mkdir -p $B
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/b30s/modc.xz'), open('$B/modc','wb'))"; chmod +x $B/modc
tar xJf $R/.dev/b30s/rest.tar.xz -C $B
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$B/modc; uptime; lscpu | grep -E "Model name|^CPU\(s\)|^Model:"
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null; $M compile $m.yaml -o l/$m/lib$m.so -q; done
L() { echo l/$1/lib$1.so; }
{ for t in 4 8 16 1; do for w in copy map; do [ $t = 1 ] && [ $w = map ] && continue
  for o in "mod12 dense12" "dense12 mod12"; do set -- $o
  echo "t$t $w A=$1 B=$2 $(timeout 150 $M bench $(L $1) --vs $(L $2) --threads $t --repeats 9 --no-session --weights-load $w -q --peak-gflops 1 --dram-gbs 1 2>&1 | grep -E 'B/A' | tr -s ' ')"
done; done; done; } > $OUT/mod_dense_load.txt 2>&1; cat $OUT/mod_dense_load.txt
for w in copy map; do echo "== $w"; timeout 60 $M bench $(L mod12) --threads 8 --repeats 5 --no-session --weights-load $w --profile -q --peak-gflops 1 --dram-gbs 1 2>&1 | grep -E "1x512|wall ms|k_" | grep -v "gemm$"; done > $OUT/profile8.txt 2>&1; cat $OUT/profile8.txt
