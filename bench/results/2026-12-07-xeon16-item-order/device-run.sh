#!/bin/bash
# session 29, issue 9: the matmul's compact item order (fine items in blocks of mc rows x mc/nr panels) against the
# row-tile-major order, at 8, 16 and 32 items per core, 16 threads; one dev bundle (.dev/b29n) with two knobs read at
# compile time: MODC_DEV_GROUP=0 (row-tile-major, as HEAD) and MODC_DEV_IPC (items per core, default 8).
R=$PWD; W=/tmp/w; B=$R/.dev/b29; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$W/b/modc; uptime; lscpu | grep -E "Model name|^CPU\(s\)"
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
V="old8:MODC_DEV_GROUP=0 new8:X=1 new16:MODC_DEV_IPC=16 new32:MODC_DEV_IPC=32 old32:MODC_DEV_GROUP=0,MODC_DEV_IPC=32"
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null
  for v in $V; do env ${v#*:} X=1 $M compile $m.yaml -o $m/${v%%:*}/lib.so -q || echo "compile $m $v failed"; done; done
L() { echo $1/$2/lib.so; }
# logits: every variant at 16 threads, and new32 at 1 and 5 threads, byte-identical to old8 at 16
{ for m in dense12 mod12; do $M bench $(L $m old8) --threads 16 --repeats 1 --no-session -q --peak-gflops 1 --dram-gbs 1 --dump d-$m-old8 > /dev/null 2>&1
  for v in new8 new16 new32 old32; do $M bench $(L $m $v) --threads 16 --repeats 1 --no-session -q --peak-gflops 1 --dram-gbs 1 --dump d-$m-$v > /dev/null 2>&1; cmp d-$m-old8.logits d-$m-$v.logits && echo "$m $v t16 logits identical"; done
  for t in 1 5; do $M bench $(L $m new32) --threads $t --repeats 1 --no-session -q --peak-gflops 1 --dram-gbs 1 --dump d-$m-t$t > /dev/null 2>&1; cmp d-$m-old8.logits d-$m-t$t.logits && echo "$m new32 t$t logits identical"; done; done; } > $OUT/identical.txt 2>&1; cat $OUT/identical.txt
# A/B at 16 threads, both orders, 2 rounds
{ for r in 1 2; do echo "== round $r $(uptime)"; ./fma_pairs --ms 20 --cpus 16 2>&1 | grep -E "threads=16"
  for m in dense12 mod12; do for v in new8 new16 new32 old32; do
    for o in "$v old8" "old8 $v"; do set -- $o
      echo "$m A=$1 B=$2 $(timeout 60 $M bench $(L $m $1) --vs $(L $m $2) --threads 16 --repeats 7 --no-session --weights-load map -q --peak-gflops 1 --dram-gbs 1 2>&1 | grep -E 'B/A' | tr -s ' ' | head -2 | tr '\n' ' ')"; done; done; done; done; } > $OUT/ab.txt 2>&1; cat $OUT/ab.txt
{ for r in 1 2; do for v in old8 new32; do echo "dense12 $v $(timeout 150 bash $R/bench/parallel_ceiling.sh -m $M -n 16 -r 3 $(L dense12 $v) | tr '\n' ' ')"; done; done; } > $OUT/ceiling.txt 2>&1; cat $OUT/ceiling.txt
{ for v in old8 new32; do echo "== dense12 $v t16"; timeout 60 $M bench $(L dense12 $v) --threads 16 --repeats 3 --no-session --weights-load map --profile -q 2>&1 | sed -n '/profile/,/top kernels/p'; done; } > $OUT/prof.txt 2>&1; cat $OUT/prof.txt
# the PyTorch (MKL) peer: the same forward's GEMMs and its eager forward at 1 and 16 threads, 2 rounds
{ timeout 240 python3 $R/bench/peer_scaling.py dense12.yaml --threads 16 --rounds 2 --repeats 3 --forward --kv peer.kv; } > $OUT/peer.txt 2>&1; cat $OUT/peer.txt
